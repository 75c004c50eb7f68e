"""The reports' aggregation: one business day's figures from the raw tables into the
report tables, replaced in one transaction (a retry or a rerun writes the same rows)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.repositories import reports
from domain import steps
from domain.policy_query import LOCK_AFTER, LOCK_WINDOW
from domain.reports import ReportDay, ReportDayAggregated


class ReportActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn(name=steps.AGGREGATE_REPORT_DAY.name)
    async def aggregate_report_day(self, request: ReportDay) -> ReportDayAggregated:
        async with self._sessions() as session, session.begin():
            return await reports.aggregate_day(
                session, day=request.day, lock_after=LOCK_AFTER, lock_window=LOCK_WINDOW
            )
