"""A simulated payment gateway with the behaviour of a real one.

It keeps its own book (``gateway_transaction``), is idempotent on the caller's key the
way real gateways are, signs its callbacks with HMAC-SHA256, and can be switched into
failure modes for tests and demos — at construction, or live through a small JSON
control file (``{"mode": "decline"}``) that every process reads on each call:

- ``decline``: the bank refuses (a business answer, recorded, not retried by us)
- ``error``: the gateway is down before doing anything (transient: retry)
- ``timeout``: the charge goes through but the reply is lost (retry must not charge twice)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories import gateway as book

if TYPE_CHECKING:
    from core.config import Settings


class GatewayMode(StrEnum):
    NORMAL = "normal"
    DECLINE = "decline"
    ERROR = "error"
    TIMEOUT = "timeout"


class GatewayUnavailable(Exception):
    """The gateway did not take the request; safe to retry."""


class GatewayTimeout(Exception):
    """No reply in time; the request may have been carried out. Retry with the same key."""


@dataclass(frozen=True)
class GatewayResult:
    gateway_ref: str
    status: str  # "succeeded" | "declined" | "pending"


class PaymentGateway:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        secret: str,
        control_file: Path | None = None,
        latency: float = 0.05,
        mode: GatewayMode | None = None,
    ) -> None:
        self._sessions = session_factory
        self._secret = secret.encode()
        self._control_file = control_file
        self._latency = latency
        self._mode = mode

    # --- failure switches ---------------------------------------------------------------

    def mode(self) -> GatewayMode:
        if self._mode is not None:
            return self._mode
        if self._control_file and self._control_file.exists():
            data = json.loads(self._control_file.read_text() or "{}")
            return GatewayMode(data.get("mode", "normal"))
        return GatewayMode.NORMAL

    def latency(self) -> float:
        if self._control_file and self._control_file.exists():
            data = json.loads(self._control_file.read_text() or "{}")
            return float(data.get("latency", self._latency))
        return self._latency

    def set_mode(self, mode: GatewayMode | None) -> None:
        self._mode = mode

    @staticmethod
    def write_control(path: Path, mode: GatewayMode, *, latency: float | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, object] = {"mode": mode.value}
        if latency is not None:
            body["latency"] = latency
        path.write_text(json.dumps(body))

    # --- operations ---------------------------------------------------------------------

    async def charge(self, *, idempotency_key: str, amount: Decimal, account: str) -> GatewayResult:
        """Debit ``account``. A repeat with the same key returns the first outcome."""
        return await self._move(idempotency_key, "charge", amount, account)

    async def _move(
        self, idempotency_key: str, kind: str, amount: Decimal, account: str
    ) -> GatewayResult:
        if (previous := await self._find(idempotency_key)) is not None:
            return previous
        mode = self.mode()
        if mode == GatewayMode.ERROR:
            raise GatewayUnavailable("payment gateway unavailable")
        status = "declined" if mode == GatewayMode.DECLINE else "succeeded"
        result = await self._book(idempotency_key, kind, amount, status, account[-4:])
        # The bank has moved the money; the reply takes time to come back, or never does.
        await asyncio.sleep(self.latency())
        if mode == GatewayMode.TIMEOUT:
            raise GatewayTimeout("payment gateway did not reply in time")
        return result

    async def payout(self, *, idempotency_key: str, amount: Decimal, account: str) -> GatewayResult:
        """Credit ``account`` (a claim payout). Same idempotency and failure modes as a
        charge: a decline means the receiving bank refused (wrong or closed account)."""
        return await self._move(idempotency_key, "payout", amount, account)

    async def refund(
        self, *, idempotency_key: str, original_key: str, amount: Decimal
    ) -> GatewayResult:
        """Give back what the request ``original_key`` collected. Nothing collected (never
        charged, or declined): status ``nothing_to_refund`` and nothing booked."""
        if (previous := await self._find(idempotency_key)) is not None:
            return previous
        original = await self._find(original_key)
        if original is None or original.status == "declined":
            return GatewayResult("", "nothing_to_refund")
        if self.mode() == GatewayMode.ERROR:
            raise GatewayUnavailable("payment gateway unavailable")
        result = await self._book(idempotency_key, "refund", amount, "succeeded", None)
        # As for a charge: the money is back, the reply takes its time (or never comes).
        await asyncio.sleep(self.latency())
        return result

    async def create_order(self, *, idempotency_key: str, amount: Decimal) -> GatewayResult:
        """Open an online payment order the customer pays on the gateway's page."""
        if (previous := await self._find(idempotency_key)) is not None:
            return previous
        if self.mode() == GatewayMode.ERROR:
            raise GatewayUnavailable("payment gateway unavailable")
        return await self._book(idempotency_key, "order", amount, "pending", None)

    def sign(self, body: bytes) -> str:
        """The ``X-Signature`` the gateway puts on its callbacks."""
        return hmac.new(self._secret, body, hashlib.sha256).hexdigest()

    def verify(self, body: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(body), signature.strip().lower())

    async def _find(self, key: str) -> GatewayResult | None:
        async with self._sessions() as session:
            row = await book.get_transaction(session, idempotency_key=key)
        return GatewayResult(row.gateway_ref, row.status) if row else None

    async def _book(
        self, key: str, kind: str, amount: Decimal, status: str, last4: str | None
    ) -> GatewayResult:
        async with self._sessions() as session, session.begin():
            row = await book.insert_transaction(
                session,
                idempotency_key=key,
                kind=kind,
                amount=amount,
                status=status,
                gateway_ref=f"GW{uuid.uuid4().hex[:16].upper()}",
                account_last4=last4,
            )
        return GatewayResult(row.gateway_ref, row.status)


def gateway_for(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> PaymentGateway:
    """The gateway as configured: the worker's activities and the API's late-payment
    refunds use the same one (same book, same live failure switch)."""
    return PaymentGateway(
        session_factory,
        secret=settings.payment_gateway_secret,
        control_file=settings.data_dir / "gateway-sim.json",
        latency=settings.gateway_latency,
    )


def sign_callback(secret: str, body: bytes) -> str:
    """HMAC-SHA256 hex of a callback body, as the gateway sends it in ``X-Signature``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
