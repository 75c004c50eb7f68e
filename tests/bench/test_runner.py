"""bench/runner.py's command line: scenarios, sizes from flags, the environment and
--quick, the PostgreSQL URL's check, and the command as the report shows it."""

from __future__ import annotations

import shlex

import pytest

from bench.runner import QUICK, SCENARIOS, Sizes, _command, parse_args


@pytest.fixture(autouse=True)
def no_bench_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BENCH_POSTGRES_URL", "BENCH_PARKED", "BENCH_API_SECONDS", "BENCH_WORKFLOWS"):
        monkeypatch.delenv(name, raising=False)


def test_no_arguments_run_every_scenario_at_the_default_sizes() -> None:
    args, sizes = parse_args([])
    assert args.only == list(SCENARIOS)
    assert sizes == Sizes()
    assert args.postgres_url is None and not args.quick


def test_quick_takes_the_smaller_sizes_and_only_picks_scenarios() -> None:
    args, sizes = parse_args(["--quick", "--only", " pools, baseline "])
    assert args.only == ["pools", "baseline"]
    assert sizes == QUICK
    assert sizes.parked < Sizes().parked
    assert (sizes.policies, sizes.report_tasks, sizes.report_policies) == (2_000, 50_000, 10_000)
    assert {"policies", "billing", "reports"} <= set(SCENARIOS)
    assert (sizes.billing, Sizes().billing) == (1_000, 10_000)
    defaults = Sizes()
    assert (defaults.policies, defaults.report_tasks, defaults.report_policies) == (
        100_000,
        1_000_000,
        200_000,
    )


def test_a_flag_beats_the_environment_which_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_PARKED", "5000")
    monkeypatch.setenv("BENCH_API_SECONDS", "12.5")
    _, sizes = parse_args(["--quick"])
    assert (sizes.parked, sizes.api_seconds) == (5000, 12.5)  # over --quick's sizes too
    _, sizes = parse_args(["--parked", "7", "--inbox-tasks", "300"])
    assert (sizes.parked, sizes.inbox_tasks, sizes.api_seconds) == (7, 300, 12.5)


def test_an_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--only", "baseline,throughput"])
    assert "unknown scenario(s): throughput" in capsys.readouterr().err


def test_the_postgres_url_must_be_postgresql_when_a_scenario_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--only", "pools", "--postgres-url", "sqlite+aiosqlite:///x.db"])
    with pytest.raises(SystemExit):
        parse_args(["--postgres-url", "not a url"])
    url = "postgresql+asyncpg://u:p@127.0.0.1:5432/bench"
    assert parse_args(["--only", "pools", "--postgres-url", url])[0].postgres_url == url
    monkeypatch.setenv("BENCH_POSTGRES_URL", url)
    assert parse_args(["--only", "enrollment"])[0].postgres_url == url
    assert parse_args(["--only", "api", "--postgres-url", "not a url"])[0].only == ["api"]


def test_the_command_shown_hides_a_database_password() -> None:
    url = "postgresql+asyncpg://insureflow:secret@127.0.0.1:55432/bench"
    shown = _command(["--quick", f"--postgres-url={url}", "--postgres-url", url, "://x:y"])
    assert "secret" not in shown
    hidden = "postgresql+asyncpg://insureflow:***@127.0.0.1:55432/bench"
    assert shlex.split(shown) == [
        "python",
        "-m",
        "bench",
        "--quick",
        f"--postgres-url={hidden}",
        "--postgres-url",
        hidden,
        "***",  # not a database URL: nothing of it shown
    ]
    assert _command([]) == "python -m bench"
