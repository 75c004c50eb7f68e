"""`insureflow dev` restarts a worker or API child that exits, a bounded number of times,
instead of stopping the whole stack (cli.main.restart_dead_children)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from cli.main import MAX_RESTARTS, restart_dead_children


def _exits(code: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    proc.wait()
    return proc


def _runs() -> subprocess.Popen[bytes]:
    """A child that keeps running until it is killed (or its stdin closes): no timer."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )


def test_a_dead_worker_is_restarted_with_a_log_line_and_the_api_left_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = _runs()
    started: list[subprocess.Popen[bytes]] = []

    def spawn_worker() -> subprocess.Popen[bytes]:
        started.append(_runs())
        return started[-1]

    children = [("worker", _exits(3)), ("api", api)]
    restarts: dict[str, int] = {}
    try:
        restart_dead_children(children, {"worker": spawn_worker, "api": _runs}, restarts)

        assert children == [("worker", started[0]), ("api", api)]
        assert restarts == {"worker": 1}
        assert f"worker exited with code 3; restarting it (1/{MAX_RESTARTS})" in (
            capsys.readouterr().err
        )
    finally:
        for proc in [api, *started]:
            proc.kill()
            proc.wait()


def test_restarts_are_bounded_and_a_dead_temporal_server_still_stops_the_stack() -> None:
    children = [("api", _exits(1))]
    restarts = {"api": MAX_RESTARTS}
    with pytest.raises(typer.Exit):
        restart_dead_children(children, {"api": lambda: _exits(1)}, restarts)

    with pytest.raises(typer.Exit):  # nothing can restart the Temporal dev server
        restart_dead_children([("temporal", _exits(1))], {"api": _runs}, {})
