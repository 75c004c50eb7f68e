"""Settings from ``INSUREFLOW_*`` environment variables."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings
from domain.clocks import ProcessClocks


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings read the process environment; start each test from none of ours."""
    for name in list(os.environ):
        if name.startswith("INSUREFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INSUREFLOW_DATA_DIR", str(tmp_path))


def test_duration_accepts_iso_8601_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSUREFLOW_UNDERWRITING_DUE", "PT24H")

    assert Settings().clocks.underwriting_due == timedelta(hours=24)


def test_duration_accepts_iso_8601_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSUREFLOW_UNDERWRITING_DUE", "P7D")

    assert Settings().clocks.underwriting_due == timedelta(days=7)


def test_duration_accepts_plain_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSUREFLOW_UNDERWRITING_DUE", "3600")

    assert Settings().clocks.underwriting_due == timedelta(seconds=3600)


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    url = Settings().effective_database_url

    assert url == f"sqlite+aiosqlite:///{(tmp_path / 'insureflow.db').resolve()}"


def test_dev_jwt_secret_is_kept_owner_only_in_the_data_dir_and_reused(tmp_path: Path) -> None:
    first = Settings().resolved_jwt_secret()

    secret_file = tmp_path / "jwt-secret"
    assert secret_file.read_text() == first
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert Settings().resolved_jwt_secret() == first


def test_production_without_jwt_secret_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("INSUREFLOW_ENVIRONMENT", "production")

    with pytest.raises(RuntimeError, match="INSUREFLOW_JWT_SECRET"):
        Settings().resolved_jwt_secret()
    assert not (tmp_path / "jwt-secret").exists()


def test_configured_jwt_secret_is_used_even_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSUREFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("INSUREFLOW_JWT_SECRET", "s3cret")

    assert Settings().resolved_jwt_secret() == "s3cret"


def test_clocks_and_claim_limits_are_read_field_by_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSUREFLOW_START_DATE_WINDOW", "P30D")
    monkeypatch.setenv("INSUREFLOW_DUAL_CONTROL_LIMIT", "200000.00")

    settings = Settings()

    assert settings.clocks.start_date_window == timedelta(days=30)
    assert settings.clocks.quote_validity == timedelta(days=30)  # untouched: the default
    assert settings.claim_limits.dual_control_limit == Decimal("200000.00")
    assert Settings(clocks=ProcessClocks()).clocks.start_date_window == timedelta(days=90)


def test_premium_reminders_are_read_from_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSUREFLOW_PREMIUM_REMINDERS", "P30D,P7D,P1D")
    monkeypatch.setenv("INSUREFLOW_REINSTATEMENT_INTEREST_RATE", "0.045")

    clocks = Settings().clocks

    assert clocks.premium_reminders == (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    assert clocks.reinstatement_interest_rate == Decimal("0.045")


def test_the_policy_year_is_unset_by_default_and_read_as_a_duration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().clocks.policy_year is None  # calendar years
    monkeypatch.setenv("INSUREFLOW_POLICY_YEAR", "PT2M")
    assert Settings().clocks.policy_year == timedelta(minutes=2)
    monkeypatch.setenv("INSUREFLOW_POLICY_YEAR", "120")
    assert Settings().clocks.policy_year == timedelta(minutes=2)
    monkeypatch.setenv("INSUREFLOW_POLICY_YEAR", "")
    assert Settings().clocks.policy_year is None


@pytest.mark.parametrize("value", ["PT30S", "P366D", "-PT2M"])
def test_a_policy_year_out_of_bounds_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("INSUREFLOW_POLICY_YEAR", value)

    with pytest.raises(ValidationError, match="policy_year"):
        Settings()


def test_production_refuses_to_start_with_a_short_policy_year(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INSUREFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("INSUREFLOW_POLICY_YEAR", "PT2M")

    with pytest.raises(ValidationError, match="INSUREFLOW_POLICY_YEAR is for development only"):
        Settings()
    monkeypatch.setenv("INSUREFLOW_POLICY_YEAR", "")
    assert Settings().clocks.policy_year is None  # set to nothing: calendar years, accepted
