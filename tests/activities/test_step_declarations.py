"""Every step a workflow calls (domain.steps) has exactly one implementation on the worker,
registered under its name and taking and returning the declared types; a batched write
travels in the Change field its declaration names, of its argument's type."""

from __future__ import annotations

import typing
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.config import Settings
from domain import steps
from domain.activities import Change
from tests.support import TEST_KEYRING
from workers.worker import activities_for


def _registered(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> dict[str, list[typing.Any]]:
    settings = Settings(environment="test", data_dir=tmp_path)
    by_name: dict[str, list[typing.Any]] = {}
    for fn in activities_for(settings, sessions, keyring=TEST_KEYRING):
        definition = activity._Definition.must_from_callable(fn)
        assert definition.name is not None
        by_name.setdefault(definition.name, []).append(fn)
    return by_name


def test_each_called_step_has_one_implementation_of_its_signature(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    registered = _registered(sessions, tmp_path)
    called = {s.name: s for s in steps.STEPS if s.runs != "batched"}
    assert set(registered) == set(called), "registered activities and declared steps differ"
    for name, step in called.items():
        (fn,) = registered[name]
        hints = typing.get_type_hints(fn)
        (arg_type,) = [t for param, t in hints.items() if param != "return"]
        assert arg_type is step.arg, name
        assert hints["return"] is (step.result or type(None)), name


def test_each_batched_step_travels_in_its_change_field() -> None:
    batched = [s for s in steps.STEPS if s.runs == "batched"]
    assert batched
    fields = Change.model_fields
    for step in batched:
        assert step.change in fields, step.name
        assert step.result is None, step.name
        annotation = fields[step.change].annotation
        assert step.arg in typing.get_args(annotation), step.name
    assert sorted(steps.STEP_OF_CHANGE) == sorted(fields)
