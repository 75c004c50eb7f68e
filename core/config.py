"""Settings read by every InsureFlow process (env prefix ``INSUREFLOW_``).

Durations accept ISO-8601 (``PT24H``, ``P7D``) or a number of seconds, as API.md says.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator, Field, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from domain.clocks import ProcessClocks


def _seconds_or_iso(value: object) -> object:
    """Durations: ISO-8601 (``PT24H``, ``P7D``) or a plain number of seconds (``3600``)."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INSUREFLOW_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path(".data")
    database_url: str | None = None

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_address: str | None = None
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_namespace: str = "default"
    task_queue: str = "insureflow"
    # Worker tuning (the SDK's defaults; docs/benchmarks.md measures what they change).
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_local_activities: int = Field(default=100, ge=1)

    # Security: tokens, payload codec, gateway signature, keyed hashes of personal data.
    jwt_secret: str | None = None
    jwt_issuer: str = "insureflow"
    jwt_audience: str = "insureflow-api"
    token_ttl: Duration = timedelta(hours=8)
    # "id:base64key,id:base64key" — the first is used to encrypt, all decrypt.
    codec_keys: str | None = None
    payment_gateway_secret: str = "dev-gateway-secret"

    # Simulated external services.
    sanctions_file: Path | None = None
    gateway_latency: float = 0.05

    # Process clocks.
    consultation_window: Duration = timedelta(days=30)
    quote_validity: Duration = timedelta(days=30)
    underwriting_due: Duration = timedelta(hours=24)
    underwriting_escalate: Duration = timedelta(hours=48)
    underwriting_expire: Duration = timedelta(days=7)
    payment_deadline: Duration = timedelta(days=7)
    documents_deadline: Duration = timedelta(days=30)
    documents_reminder_every: Duration = timedelta(days=7)
    claim_decision_deadline: Duration = timedelta(days=30)
    payout_deadline: Duration = timedelta(days=10)
    appeal_window: Duration = timedelta(days=60)
    start_date_window: Duration = timedelta(days=90)

    # Claim approval tiers (API.md "Claims").
    claim_auto_limit: Decimal = Decimal("5000.00")
    dual_control_limit: Decimal = Decimal("1000000.00")

    # Ops: an activity failing this many attempts in a row is an incident; the incident
    # scan looks at this many of the most recently started running processes.
    incident_attempt_threshold: int = Field(default=3, ge=1)
    incident_scan_limit: int = Field(default=200, ge=1, le=1000)
    # Origin of the Temporal Web UI allowed to call the codec endpoint (/codec) from the
    # ops user's browser. Unset: the local dev server's UI (127.0.0.1 and localhost on
    # temporal_ui_port).
    ui_origin: str | None = None

    # The customer policy query: attempts per client address per minute.
    policy_query_rate_per_minute: int = Field(default=20, ge=1)

    # --- Fault handling (fix/infra): database timeouts, readiness, trusted proxies. ---
    # The API's database waits, in seconds: for a pooled connection (all in use), and for
    # SQLite's write lock (another connection holds it). Past them the request answers 503
    # `database_unavailable` with Retry-After instead of hanging. The worker keeps
    # db.session's longer defaults (its steps queue on the lock and are retried anyway).
    db_pool_timeout: float = Field(default=5.0, gt=0)
    sqlite_busy_timeout: float = Field(default=5.0, ge=0)
    # /readyz answers within this many seconds, whatever its checks are waiting on.
    readiness_timeout: float = Field(default=2.0, gt=0)
    # A worker counts as present if it polled the task queue within this long (an idle
    # worker polls again when its long poll ends, about once a minute).
    readiness_poller_age: Duration = timedelta(minutes=2)
    # Peers whose X-Forwarded-For is believed: comma-separated addresses or networks
    # ("10.0.0.5,10.1.0.0/16"). Empty: the client address is always the direct peer's.
    trusted_proxies: str = ""
    # --- end fault handling ---

    # --- Sign-in throttle (docs/api-auth.md "Sign-in throttle"). Failed sign-ins are
    # counted per attempted username and per client address within the window; at the
    # limit, that username (423 login_locked) or address (429 login_throttled) is locked
    # for the lockout, the right password included. Counts are kept in the database.
    login_user_max_failures: int = Field(default=5, ge=1)
    login_client_max_failures: int = Field(default=30, ge=1)
    login_failure_window: Duration = timedelta(minutes=15)
    login_lockout: Duration = timedelta(minutes=15)
    # --- end of the sign-in throttle.

    log_level: str = "INFO"
    # Also write log lines (JSON) to this file; `insureflow dev` puts one in the data dir.
    log_file: Path | None = None
    log_format: Literal["auto", "console", "json"] = "auto"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'insureflow.db').resolve()}"

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_ui_origins(self) -> list[str]:
        """The origins the codec endpoint answers cross-origin requests from."""
        if self.ui_origin:
            return [origin.strip() for origin in self.ui_origin.split(",") if origin.strip()]
        port = self.temporal_ui_port
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]

    @property
    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        """``trusted_proxies`` parsed (a bare address is a one-address network)."""
        return [
            ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        ]

    def resolved_jwt_secret(self) -> str:
        """The signing secret: configured, or a development secret kept in the data dir."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.environment == "production":
            raise RuntimeError("INSUREFLOW_JWT_SECRET must be set in production")
        return _dev_secret(self.data_dir / "jwt-secret")

    def timers(self) -> ProcessClocks:
        """The durations a workflow needs, handed to it in its input (workflows read no env)."""
        from domain.clocks import ProcessClocks

        return ProcessClocks(
            consultation_window=self.consultation_window,
            quote_validity=self.quote_validity,
            underwriting_due=self.underwriting_due,
            underwriting_escalate=self.underwriting_escalate,
            underwriting_expire=self.underwriting_expire,
            payment_deadline=self.payment_deadline,
            documents_deadline=self.documents_deadline,
            documents_reminder_every=self.documents_reminder_every,
            claim_decision_deadline=self.claim_decision_deadline,
            payout_deadline=self.payout_deadline,
            appeal_window=self.appeal_window,
            start_date_window=self.start_date_window,
        )


def _dev_secret(path: Path) -> str:
    import secrets

    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
