"""bench/policies.py without a Temporal server: the PolicyStart it hands each process opens
a policy in force with nothing to do but wait (no cooling-off, no return visit), the rows
it writes first are those the listing shows, and the report sets each figure beside the
bare timers'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bench.parking import disk_bytes
from bench.policies import (
    PREFIX,
    effective_policies,
    in_force_policies,
    insert_issued_policies,
    policy_start,
)
from bench.report import build
from core.config import Settings
from db.models import Policy
from db.repositories.policies import list_policies
from domain.policies import PolicyStage, PolicyStatus, policy_year_ends_at
from tests.bench.test_report import ratio_values
from tests.bench.test_smoke import migrated_stack
from workflows.policy import _opening_state


async def test_the_policies_start_in_force_and_wait_for_their_year_end(tmp_path: Path) -> None:
    batch = in_force_policies(datetime.now(UTC) - timedelta(days=10))
    async with migrated_stack(tmp_path) as stack:
        stack.settings = Settings(environment="test", data_dir=tmp_path)
        customer_id = await insert_issued_policies(stack, batch, 7)
        async with stack.sessions() as session:
            page, cursor = await list_policies(
                session, agent=None, status="issued", cursor=None, limit=5
            )
        assert [p.policy_number for p in page] == [batch.number(i) for i in (6, 5, 4, 3, 2)]
        assert cursor is not None
        assert await effective_policies(stack, PREFIX) == 0
        async with stack.sessions() as session, session.begin():
            await session.execute(
                update(Policy)
                .where(Policy.policy_number == batch.number(3))
                .values(status="effective", stage=PolicyStage.IN_FORCE.value)
            )
        assert await effective_policies(stack, PREFIX) == 1

    start = policy_start(batch, 3, customer_id, stack)
    state = _opening_state(start)
    assert (state.stage, state.status) == (PolicyStage.IN_FORCE, PolicyStatus.ISSUED)
    assert state.return_visit is None and state.cooling_off_ends_at is None
    now = datetime.now(UTC)
    assert start.effective_at < now < policy_year_ends_at(start.effective_at, 1)
    assert policy_year_ends_at(start.effective_at, 1) <= start.expires_at
    assert disk_bytes(tmp_path) >= stack.db_file.stat().st_size > 0


def test_each_policy_figure_stands_beside_the_bare_timers() -> None:
    side = {
        "parked_per_s": 10.0,
        "rss_grown_mib": {"worker": 60.0, "temporal": 30.0},
        "disk_per_workflow_kib": {"temporal": 24.0},
        "cpu_per_workflow_ms": {"worker": 36.0, "temporal": 24.0},
    }
    bare = {
        "parked_per_s": 40.0,
        "rss_grown_mib": {"worker": 20.0, "temporal": 60.0},
        "disk_per_workflow_kib": {"temporal": 12.0},
        "cpu_per_workflow_ms": {"worker": 6.0, "temporal": 12.0},
    }
    results = {"policies": {"policy": side, "bare": bare, "api": {"ops_search": {"p99_ms": 55}}}}
    assert ratio_values(results) == {
        "policies.parked_per_s_vs_bare": 0.25,
        "policies.worker_rss_grown_vs_bare": 3.0,
        "policies.server_rss_grown_vs_bare": 0.5,
        "policies.disk_per_workflow_vs_bare": 2.0,
        "policies.worker_cpu_per_workflow_vs_bare": 6.0,
        "policies.server_cpu_per_workflow_vs_bare": 2.0,
    }
    targets = {t["name"]: t["measured"] for t in build({}, results)["targets"]}
    assert targets == {"policies_ops_search_p99_ms": 55}
