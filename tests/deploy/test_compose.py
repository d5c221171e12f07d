import re
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from tests.deploy.artifacts import COMPOSE, load_yaml

SERVICES = {"ingest": 8001, "profile-api": 8002, "metrics-api": 8003}
CONSUMERS = {"profile-consumer", "metrics-consumer"}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def interpolated(text: str) -> str:
    """Compose's ${NAME:-default} interpolation with an empty environment."""
    return _VARIABLE.sub(lambda m: m.group(2) or "", text)


def validate_compose(document: dict[str, Any]) -> list[str]:
    """Checked against the Compose specification (merge keys resolved, as Compose does)."""
    plain = {key: value for key, value in document.items() if not key.startswith("x-")}
    return sorted(PyCompose.from_yaml(yaml.dump(plain, Dumper=_PlainDumper)).service_names())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolated(COMPOSE.read_text()))
    return loaded


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    names = validate_compose(compose)
    assert set(names) >= {"kafka", "postgres", "migrate", "topics", "prometheus", "grafana", *SERVICES, *CONSUMERS}


def test_the_validator_rejects_a_broken_compose_file(compose: dict[str, Any]) -> None:
    broken = yaml.safe_load(interpolated(COMPOSE.read_text()))
    broken["services"]["ingest"]["depends_on"]["migrate"]["condition"] = "service_finished"
    with pytest.raises(ValueError, match="condition"):
        validate_compose(broken)


def test_services_start_after_migrations_and_topics(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["topics"]["command"] == ["topics"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in [*SERVICES, *CONSUMERS]:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["topics"]["condition"] == "service_completed_successfully", name


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, port in SERVICES.items():
        assert services[name]["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/readyz", name
        assert f"--port {port}" in " ".join(services[name]["command"]), name
        assert "0.0.0.0" in services[name]["command"], name
    for name in CONSUMERS:
        assert services[name]["healthcheck"]["test"][-1] == "http://127.0.0.1:9100/healthz", name
        assert services[name]["environment"]["TOUCHPOINT_METRICS_PORT"] == "9100", name
    for name in ("kafka", "postgres", "prometheus", "grafana"):
        assert services[name]["healthcheck"]["test"], name


def test_kafka_runs_kraft_with_single_node_replication(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    listeners = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert listeners == {"INTERNAL": "kafka:29092", "EXTERNAL": "localhost:9092"}
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == 1
    three_nodes = COMPOSE.read_text()
    assert "KAFKA_MIN_INSYNC_REPLICAS: 2" in three_nodes and "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: 3" in three_nodes


def test_services_reach_kafka_and_postgres_on_the_compose_network(compose: dict[str, Any]) -> None:
    env = compose["services"]["ingest"]["environment"]
    assert env["TOUCHPOINT_KAFKA_BOOTSTRAP"] == "kafka:29092"
    assert "@postgres:5432/touchpoint" in env["TOUCHPOINT_DATABASE_URL"]
    assert env["TOUCHPOINT_KAFKA_REPLICATION"] == "1"
    assert compose["services"]["postgres"]["image"] == "postgres:18"


def test_prometheus_loads_the_rules_and_scrapes_every_process(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounted = {mount.split(":")[1] for mount in prometheus["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= mounted
    config = load_yaml(COMPOSE.parent.parent / "prometheus" / "prometheus.yml")
    targets = {t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    expected = {f"{name}:{port}" for name, port in SERVICES.items()} | {f"{name}:9100" for name in CONSUMERS}
    assert expected <= targets
