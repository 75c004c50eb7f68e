"""Key material: parsing ``INSUREFLOW_CODEC_KEYS``, the development key file, rotation."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from core.config import Settings
from core.keys import KeyConfigError, Keyring, load_keyring, parse_keys
from tests.support import keyring_spec

OLD = b"o" * 32
NEW = b"n" * 32


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_first_key_in_the_spec_is_active_and_all_are_kept() -> None:
    ring = parse_keys(f"new:{b64(NEW)}, old:{b64(OLD)}")

    assert ring.active_id == "new"
    assert ring.keys == {"new": NEW, "old": OLD}


@pytest.mark.parametrize(
    "spec",
    [f"nocolon{b64(NEW)}", "k:" + b64(b"x" * 20), " , "],
    ids=["missing-colon", "20-byte-key", "no-keys"],
)
def test_malformed_spec_raises_key_config_error(spec: str) -> None:
    with pytest.raises(KeyConfigError):
        parse_keys(spec)


def test_key_that_is_not_base64_raises_key_config_error() -> None:
    with pytest.raises(KeyConfigError):
        parse_keys("k:abc")


def dev_settings(data_dir: Path, **overrides: object) -> Settings:
    return Settings(data_dir=data_dir, codec_keys=None, **overrides)  # type: ignore[arg-type]


def test_dev_key_file_is_created_owner_only(tmp_path: Path) -> None:
    load_keyring(dev_settings(tmp_path, environment="development"))

    key_file = tmp_path / "codec-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["codec-keys.json"]


def test_dev_key_file_is_reused_on_the_next_load(tmp_path: Path) -> None:
    first = load_keyring(dev_settings(tmp_path, environment="development"))
    second = load_keyring(dev_settings(tmp_path, environment="development"))

    assert first == second
    assert len(first.active_key) == 32


def test_production_refuses_to_run_without_configured_keys(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="INSUREFLOW_CODEC_KEYS"):
        load_keyring(dev_settings(tmp_path, environment="production"))

    assert not (tmp_path / "codec-keys.json").exists()


def test_configured_keys_win_over_the_dev_key_file(tmp_path: Path) -> None:
    ring = Keyring(active_id="cfg", keys={"cfg": NEW})

    loaded = load_keyring(Settings(data_dir=tmp_path, codec_keys=keyring_spec(ring)))

    assert loaded == ring
    assert not (tmp_path / "codec-keys.json").exists()


def test_index_key_is_stable_when_a_new_key_is_put_first() -> None:
    before = parse_keys(f"2024-01:{b64(OLD)}")
    after = parse_keys(f"2025-01:{b64(NEW)},2024-01:{b64(OLD)}")

    assert after.index_key == before.index_key


def test_index_key_is_stable_when_the_new_key_id_sorts_before_the_old_one() -> None:
    before = parse_keys(f"k9:{b64(OLD)}")
    after = parse_keys(f"k10:{b64(NEW)},k9:{b64(OLD)}")

    assert after.index_key == before.index_key
