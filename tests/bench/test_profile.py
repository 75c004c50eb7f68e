"""bench/profile.py reads py-spy's raw output: which samples are waiting threads, which
library a sample is charged to, and which frames the profile lists."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from bench.profile import OTHER, OURS, STDLIB, Profile, area_of, parse_frame, profiled
from bench.stack import REPO

SITE = sysconfig.get_paths()["purelib"]
LIB = sysconfig.get_paths()["stdlib"]


def frame(function: str, path: str, line: int = 1) -> str:
    return f"{function} ({path}:{line})"


def test_a_frame_is_parsed_with_its_file_and_line() -> None:
    f = parse_frame(frame("Session.execute", f"{SITE}/sqlalchemy/orm/session.py", 2301))
    assert (f.function, f.line) == ("Session.execute", 2301)
    assert f.label == "sqlalchemy/orm/session.py:Session.execute"
    assert parse_frame("<unknown>").file == ""


def test_files_map_to_libraries_and_the_standard_library_to_none() -> None:
    assert area_of(f"{SITE}/sqlalchemy/engine/base.py") == "sqlalchemy"
    assert area_of(f"{SITE}/temporalio/worker/workflow_sandbox/_runner.py") == "temporal_sandbox"
    assert area_of(f"{SITE}/temporalio/converter.py") == "temporal_payloads"
    assert area_of(f"{SITE}/temporalio/worker/_activity.py") == "temporal_other"
    assert area_of(f"{SITE}/argon2/low_level.py") == "argon2"
    assert area_of(f"{SITE}/somelib/core.py") == OTHER
    assert area_of(str(REPO / "activities" / "changes.py")) == OURS
    assert area_of(str(REPO / "services" / "problems.py")) == OURS
    assert area_of(str(REPO / "bench" / "load.py")) == OTHER  # the runner is not InsureFlow
    assert area_of(f"{LIB}/json/encoder.py") is None
    assert area_of("<frozen importlib._bootstrap>") is None


def test_a_sample_is_charged_to_the_innermost_frame_outside_the_standard_library() -> None:
    ours = frame("record_changes", str(REPO / "activities" / "changes.py"))
    alchemy = frame("Connection.execute", f"{SITE}/sqlalchemy/engine/base.py")
    encoder = frame("JSONEncoder.encode", f"{LIB}/json/encoder.py")
    loop = frame("BaseEventLoop._run_once", f"{LIB}/asyncio/base_events.py")
    raw = "\n".join(
        [
            f"{loop};{ours};{alchemy};{encoder} 3",  # json called by SQLAlchemy: SQLAlchemy
            f"{loop};{ours} 1",
            f"{loop} 1",  # nothing but the standard library
            "garbage line",
        ]
    )
    profile = Profile.from_raw(raw)
    assert profile.samples == 5
    assert profile.areas == {"sqlalchemy": 3, OURS: 1, STDLIB: 1}
    assert profile.as_dict()["areas_pct"] == {"sqlalchemy": 60.0, OURS: 20.0, STDLIB: 20.0}


def _stdlib_line(path: str, text: str) -> int:
    lines = Path(path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_waiting_threads_are_left_out_by_their_innermost_line(tmp_path: Path) -> None:
    pool = f"{LIB}/concurrent/futures/thread.py"
    waiting = frame("_worker", pool, _stdlib_line(pool, "work_queue.get(block=True)"))
    working = frame("_WorkItem.run", pool, _stdlib_line(pool, "result = self.fn("))
    # A .get( in our own code (a dict, a setting) is work, not a thread waiting.
    ours = tmp_path / "settings.py"
    ours.write_text("def read(d):\n    return d.get('key')\n")
    lookup = frame("read", str(ours), 2)
    profile = Profile.from_raw(f"{waiting} 7\n{working} 2\n{lookup} 3\n")
    assert (profile.samples, profile.idle) == (5, 7)


def test_the_frame_list_keeps_heavy_frames_and_drops_entry_points_and_wrappers() -> None:
    entry = frame("<module>", str(REPO / "cli" / "main.py"))
    route = frame("submit_application", str(REPO / "api" / "routes" / "enrollments.py"))
    hasher = frame("hash_password", str(REPO / "core" / "passwords.py"))
    argon = frame("hash_secret", f"{SITE}/argon2/low_level.py")
    alchemy = frame("Session.execute", f"{SITE}/sqlalchemy/orm/session.py")
    raw = f"{entry};{route};{hasher};{argon} 6\n{entry};{route};{alchemy} 3\n{entry} 4\n"
    listed = list(Profile.from_raw(raw).as_dict()["frames_pct"])
    # The route carries 9 of 13 samples and is listed however heavy; hash_password passes
    # all of its samples on to hash_secret, which is listed for it; the CLI's module is an
    # entry point.
    assert listed == [
        "api/routes/enrollments.py:submit_application",
        "argon2/low_level.py:hash_secret",
        "sqlalchemy/orm/session.py:Session.execute",
    ]


async def test_a_profile_that_cannot_be_taken_says_why_and_the_work_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    async def work() -> str:
        ran.append("work")
        return "done"

    # py-spy is a dev dependency, so it is here; a pid that does not exist cannot be read.
    result, profiles = await profiled({"gone": 2**22 + 1}, work(), out_dir=tmp_path)
    assert result == "done"
    assert profiles["gone"]["skipped"].startswith("py-spy wrote no profile: Error: ")
    assert profiles["gone"]["command"].startswith("py-spy record --pid 4194305")

    monkeypatch.setattr("bench.profile.py_spy", lambda: None)
    result, profiles = await profiled({"worker": 1}, work(), out_dir=tmp_path)
    assert (result, profiles) == ("done", {"worker": {"skipped": "py-spy is not installed"}})
    assert ran == ["work", "work"]
