"""bench/stack.py without a stack: the dev server's command with and without its SQLite
pragmas, and the error lines counted in a process's JSON log."""

from __future__ import annotations

import json
from pathlib import Path

from bench.stack import OUR_PACKAGES, REPO, count_log_errors, temporal_command


def test_our_packages_are_those_pip_installs_and_each_is_here() -> None:
    assert {"core", "domain", "workflows", "services", "api", "cli"} <= set(OUR_PACKAGES)
    assert "migrations" not in OUR_PACKAGES and "bench" not in OUR_PACKAGES
    assert all((REPO / package / "__init__.py").exists() for package in OUR_PACKAGES)


def test_the_no_wal_server_is_the_dev_command_without_its_sqlite_pragmas(tmp_path: Path) -> None:
    wal = temporal_command(tmp_path, 7233, wal=True)
    bare = temporal_command(tmp_path, 7233, wal=False)
    for command in (wal, bare):  # the Web UI's port is a free one, new for each command
        command[command.index("--ui-port") + 1] = "UI"
    pragmas = [a for i, a in enumerate(wal) if i and wal[i - 1] == "--sqlite-pragma"]
    assert "journal_mode=wal" in pragmas
    assert [a for a in wal if a != "--sqlite-pragma" and a not in pragmas] == bare
    assert bare[-1] == "--headless" and "7233" in bare


def test_error_lines_are_counted_by_event_with_ids_folded(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    lines = [
        {
            "level": "error",
            "event": "request failed",
            "method": "GET",
            "path": "/v1/enrollments/EA0000001",
            "exception": "sqlite3.OperationalError: database is locked",
        },
        {
            "level": "error",
            "event": "request failed",
            "method": "GET",
            "path": "/v1/enrollments/EA0000002",
        },
        {"level": "critical", "event": "worker crashed"},
        {"level": "info", "event": "request", "path": "/v1/tasks"},
    ]
    log.write_text("\n".join([*map(json.dumps, lines), "not json", "[1, 2]"]) + "\n")
    assert count_log_errors(log) == {
        "request failed GET /v1/enrollments/{id}": 2,
        "database is locked": 1,
        "worker crashed": 1,
    }
    assert count_log_errors(tmp_path / "missing.log") == {}
