"""The deployment files agree with each other and with the code.

docker-compose.yml, the Dockerfile, the Makefile and .ci/run are read as text and parsed;
nothing here needs (or calls) a docker engine.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
INSUREFLOW_SERVICES = ("migrate", "api", "worker")
SECRETS = (
    "INSUREFLOW_JWT_SECRET",
    "INSUREFLOW_CODEC_KEYS",
    "INSUREFLOW_PAYMENT_GATEWAY_SECRET",
)

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
_COMPOSE_VAR = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str) -> str:
    """Resolve compose variables as an unset environment would: defaults win, required ones
    become a placeholder, ``$$`` is a literal dollar."""

    def resolve(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        return arg if op == "-" else f"<{name}>"

    parts = value.split("$$")
    return "$".join(_COMPOSE_VAR.sub(resolve, part) for part in parts)


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    svc = services[name]
    assert isinstance(svc, dict)
    return svc


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def depends_on(name: str) -> dict[str, str]:
    """Service -> condition (``service_started`` for the short list form)."""
    deps = service(name).get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in deps.items()}


def command_words(name: str) -> list[str]:
    command = service(name)["command"]
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def test_compose_has_every_service_of_the_scaled_out_deployment() -> None:
    expected = {
        "postgres",
        "temporal",
        "temporal-ui",
        "temporal-admin",
        "migrate",
        "api",
        "worker",
    }
    assert expected <= set(compose()["services"])
    assert service("postgres")["image"].startswith("postgres:16")
    assert service("temporal")["image"].startswith("temporalio/auto-setup:")
    assert service("temporal-ui")["image"].startswith("temporalio/ui:")
    assert service("temporal-admin")["image"].startswith("temporalio/admin-tools:")


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("migrate", ["insureflow", "db", "upgrade"]),
        ("api", ["insureflow", "api"]),
        ("worker", ["insureflow", "worker"]),
    ],
)
def test_insureflow_services_build_from_the_dockerfile_and_run_their_command(
    name: str, command: list[str]
) -> None:
    build = service(name)["build"]
    context, dockerfile = (
        (build, "Dockerfile")
        if isinstance(build, str)
        else (build.get("context", "."), build.get("dockerfile", "Dockerfile"))
    )
    assert (ROOT / context).resolve() == ROOT
    assert dockerfile == "Dockerfile"
    assert (ROOT / context / dockerfile).is_file()
    assert command_words(name) == command


@pytest.mark.parametrize("name", INSUREFLOW_SERVICES)
def test_insureflow_services_use_the_read_model_on_the_postgres_service(name: str) -> None:
    url = urlsplit(interpolate(environment(name)["INSUREFLOW_DATABASE_URL"]))
    postgres = {k: interpolate(v) for k, v in environment("postgres").items()}

    assert url.scheme == "postgresql+asyncpg"
    assert url.hostname == "postgres"
    assert url.port == 5432
    # The role and database the postgres init script creates, with the same password.
    assert url.username == postgres["INSUREFLOW_DB_USER"]
    assert url.password == postgres["INSUREFLOW_DB_PASSWORD"]
    assert url.path.lstrip("/") == postgres["INSUREFLOW_DB_NAME"]


@pytest.mark.parametrize("name", INSUREFLOW_SERVICES)
def test_insureflow_services_reach_temporal_through_the_temporal_service(name: str) -> None:
    host, _, port = environment(name)["INSUREFLOW_TEMPORAL_ADDRESS"].partition(":")
    assert (host, port) == ("temporal", "7233")


@pytest.mark.parametrize("name", ["api", "worker"])
def test_api_and_worker_start_after_migrate_temporal_and_search_attributes(name: str) -> None:
    deps = depends_on(name)
    assert deps["migrate"] == "service_completed_successfully"
    assert "temporal" in deps
    assert deps["temporal-admin"] == "service_completed_successfully"


def test_migrate_waits_for_a_healthy_postgres() -> None:
    assert depends_on("migrate")["postgres"] == "service_healthy"
    assert "healthcheck" in service("postgres")


@pytest.mark.parametrize("name", INSUREFLOW_SERVICES)
def test_production_secrets_are_required_not_defaulted(name: str) -> None:
    env = environment(name)
    assert env["INSUREFLOW_ENVIRONMENT"] == "production"
    for secret in SECRETS:
        assert re.fullmatch(rf"\$\{{{secret}:\?.+\}}", env[secret]), secret


def test_temporal_persists_in_the_postgres_service() -> None:
    env = environment("temporal")
    postgres = environment("postgres")
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgres"
    assert env["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert env["POSTGRES_PWD"] == postgres["POSTGRES_PASSWORD"]
    assert depends_on("temporal")["postgres"] == "service_healthy"


def _search_attributes_in_code() -> dict[str, str]:
    from workflows.search_attributes import ALL

    def cli_type(key: Any) -> str:
        # SearchAttributeIndexedValueType.KEYWORD_LIST -> "KeywordList", as the CLI spells it.
        return "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))

    return {key.name: cli_type(key) for key in ALL}


def test_admin_service_registers_every_search_attribute_the_workflows_use() -> None:
    script = "\n".join(command_words("temporal-admin"))
    registered: dict[str, str] = {}
    for line in script.splitlines():
        if "search-attribute create" not in line:
            continue
        words = shlex.split(line.split("||")[0])
        opts = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
        assert opts["--namespace"] == environment("api").get(
            "INSUREFLOW_TEMPORAL_NAMESPACE", "default"
        )
        assert opts["--address"] == "temporal:7233"
        registered[opts["--name"]] = opts["--type"]

    expected = {
        "InsureFlowProcess": "Keyword",
        "InsureFlowStage": "Keyword",
        "InsureFlowAgent": "Keyword",
        "InsureFlowStatus": "Keyword",
        "InsureFlowAmount": "Double",
    }
    assert registered == expected
    assert registered == _search_attributes_in_code()
    assert service("temporal-admin").get("restart", "no") == "no"


def test_temporal_ui_talks_to_temporal_and_decodes_through_the_api() -> None:
    env = environment("temporal-ui")
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    codec = urlsplit(env["TEMPORAL_CODEC_ENDPOINT"])
    assert codec.path == "/codec"
    # The browser calls the codec, so it must be the API's port as published on the host.
    assert f"{codec.port}:8000" in service("api")["ports"]
    assert "8080:8080" in service("temporal-ui")["ports"]


def test_api_listens_on_all_interfaces_of_its_container() -> None:
    env = environment("api")
    assert env["INSUREFLOW_API_HOST"] == "0.0.0.0"
    assert env["INSUREFLOW_API_PORT"] == "8000"


def test_workers_scale_out() -> None:
    worker = service("worker")
    assert worker["deploy"]["replicas"] >= 2
    # Either would stop `docker compose up --scale worker=N` from starting N replicas.
    assert "container_name" not in worker
    assert "ports" not in worker


def test_every_bind_mount_exists_in_the_repository() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} is missing"


def test_postgres_init_script_creates_the_read_model_database() -> None:
    path = ROOT / "deploy/postgres/initdb/10-insureflow.sh"
    script = path.read_text()
    assert "CREATE ROLE" in script
    assert "CREATE DATABASE" in script
    subprocess.run(["bash", "-n", str(path)], check=True)


def _final_dockerfile_stage() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)
    instructions = [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in (raw.strip() for raw in logical.splitlines())
        if line and not line.startswith("#")
    ]
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_dockerfile_runs_insureflow_api_as_a_non_root_user() -> None:
    stage = _final_dockerfile_stage()
    assert stage[0][1].split()[0] == "python:3.11-slim"
    users = [arg for op, arg in stage if op == "USER"]
    assert users, "the final stage sets no USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    cmd = [arg for op, arg in stage if op == "CMD"][-1]
    assert json.loads(cmd) == ["insureflow", "api"]


def test_dockerfile_installs_the_project_with_pip() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip install \.$", text, re.MULTILINE)
    assert "python:3.11-slim" in text


# --- Makefile -------------------------------------------------------------------------


@cache
def makefile() -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]]]:
    """Variables and rules (target -> prerequisites, recipe lines with variables expanded)."""
    variables: dict[str, str] = {}
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] | None = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t"):
            if current is not None:
                current.append(line.strip())
            continue
        current = None
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assignment = re.match(r"^([.A-Za-z_][\w.]*)\s*(\?=|:=|=)\s*(.*)$", line)
        if assignment:
            variables[assignment[1]] = assignment[3].strip()
            continue
        rule = re.match(r"^([^:=\s][^:=]*):(?!=)\s*(.*)$", line)
        if rule:
            prerequisites = rule[2].split()
            current = []
            for target in rule[1].split():
                rules[target] = (prerequisites, current)

    def expand(text: str) -> str:
        for _ in range(5):
            text = re.sub(r"\$\((\w+)\)", lambda m: variables.get(m[1], m[0]), text)
        return text

    expanded = {
        expand(target): ([expand(p) for p in prereqs], [expand(r) for r in recipe])
        for target, (prereqs, recipe) in rules.items()
    }
    return variables, expanded


def recipe(target: str) -> list[str]:
    rules = makefile()[1]
    assert target in rules, f"Makefile has no target {target!r}"
    return rules[target][1]


def test_make_test_runs_ruff_then_mypy_then_pytest() -> None:
    commands = recipe("test")
    expected = [
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy",
        ".venv/bin/pytest",
    ]
    positions = [commands.index(cmd) for cmd in expected]
    assert positions == sorted(positions)
    # Make stops at the first failing line unless it is told not to.
    assert not any(cmd.startswith("-") or "|| true" in cmd for cmd in commands)
    assert ".venv/.installed" in makefile()[1]["test"][0]


def test_make_run_starts_the_embedded_dev_stack() -> None:
    assert ".venv/bin/insureflow dev" in recipe("run")
    assert ".venv/.installed" in makefile()[1]["run"][0]


def test_make_bootstraps_the_venv_with_python3_only() -> None:
    variables, rules = makefile()
    assert variables["PYTHON"] == "python3"
    prerequisites, commands = rules[".venv/.installed"]
    assert prerequisites == ["pyproject.toml"]
    assert commands[:3] == [
        "python3 -m venv .venv",
        ".venv/bin/pip install --upgrade pip",
        ".venv/bin/pip install -e '.[dev]'",
    ]
    assert commands[-1].startswith("touch ")


def test_make_declares_its_commands_phony() -> None:
    phony = set(makefile()[1][".PHONY"][0])
    assert {"run", "test", "lint", "fmt", "bench", "clean"} <= phony
    assert recipe("bench") == [".venv/bin/python -m bench"]


# --- CI ---------------------------------------------------------------------------------


def test_ci_script_is_strict_bash_that_ends_in_make_test() -> None:
    path = ROOT / ".ci/run"
    text = path.read_text()
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert "set -euo pipefail" in text
    assert "apt-get update" in text
    assert ".ci/postgres.sh" in text
    last_command = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")][-1]
    assert last_command.strip() in ("make test", "exec make test")
