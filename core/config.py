"""Settings read by every InsureFlow process (env prefix ``INSUREFLOW_``).

Durations accept ISO-8601 (``PT24H``, ``P7D``) or a number of seconds (docs/api.md).
The process clocks and claim limits are defined once, in ``domain.clocks``; each of their
fields is read from ``INSUREFLOW_<FIELD>`` like any other setting.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, computed_field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from domain.clocks import ClaimLimits, Duration, ProcessClocks

# Settings that group the fields of a model, each field read from its own flat variable.
_GROUPED: dict[str, type[BaseModel]] = {"clocks": ProcessClocks, "claim_limits": ClaimLimits}


class _GroupedEnvSource(PydanticBaseSettingsSource):
    """``INSUREFLOW_UNDERWRITING_DUE`` → ``clocks.underwriting_due``: the grouped models'
    fields keep the flat variable names operators set."""

    def __init__(self, settings_cls: type[BaseSettings], env: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prefix = self.config.get("env_prefix", "")
        found: dict[str, Any] = {}
        for group, model in _GROUPED.items():
            values = {
                name: self._env.env_vars[f"{prefix}{name}".lower()]
                for name in model.model_fields
                if f"{prefix}{name}".lower() in self._env.env_vars
            }
            if values:
                found[group] = values
        return found


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
    # Worker tuning (docs/benchmarks.md measures what they change). The SDK's defaults,
    # but ten workflow tasks at a time, not 100: each is CPU-bound Python, and under a
    # burst (a billing day: thousands of timers firing at once) 100 in flight share one
    # core until each takes longer than its 10 s timeout, and the worker livelocks on
    # retries. Ten bound a task's wait (Little's law); the rest wait on the server.
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=10, ge=2)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_local_activities: int = Field(default=100, ge=1)
    # Threads that run workflow activations: CPU-bound Python under one GIL, so more than
    # the cores only starve the event loop the activities run on (the SDK's default is
    # one per workflow-task slot).
    worker_workflow_threads: int = Field(default=2, ge=1, le=64)

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

    # Process clocks and claim approval tiers (domain.clocks), read field by field from
    # INSUREFLOW_<FIELD>: INSUREFLOW_UNDERWRITING_DUE, INSUREFLOW_DUAL_CONTROL_LIMIT, ...
    clocks: ProcessClocks = ProcessClocks()
    claim_limits: ClaimLimits = ClaimLimits()

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert isinstance(env_settings, EnvSettingsSource)
        grouped = _GroupedEnvSource(settings_cls, env_settings)
        return init_settings, env_settings, grouped, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _no_development_clocks_in_production(self) -> Self:
        # A short policy year would run every policy's anniversaries, premiums, term and
        # reinstatement window at a demo's pace: production counts calendar years only.
        if self.environment == "production" and self.clocks.policy_year is not None:
            raise ValueError(
                "INSUREFLOW_POLICY_YEAR is for development only; production counts policy "
                "years in calendar years: unset it"
            )
        return self

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


def _dev_secret(path: Path) -> str:
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
