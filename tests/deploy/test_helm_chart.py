"""The chart rendered offline by Helm's own engine (helm-python-sdk binds Helm v4's Go SDK)."""

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.artifacts import CHART

DATABASE = {"database": {"url": "postgresql+asyncpg://touchpoint:secret@db:5432/touchpoint"}}
COMPONENTS = {"ingest", "profile-api", "profile-consumer", "metrics-api", "metrics-consumer"}
HTTP_PORTS = {"ingest": 8001, "profile-api": 8002, "metrics-api": 8003}


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(
            {**DATABASE, **(values or {})}, name="crm", namespace="touchpoint",
            is_install=not upgrade, is_upgrade=upgrade,
        )
    return [
        doc for path, text in manifests.items() if path.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(text) if doc
    ]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render()


def test_chart_lints_clean() -> None:
    report = helm.lint(str(CHART), DATABASE, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("kubernetes", ["1.25", kubernetes_validate.latest_version()])
def test_every_manifest_follows_the_kubernetes_schema(kubernetes: str) -> None:
    docs = render({"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}})
    custom = {"ServiceMonitor", "PrometheusRule"}  # Prometheus Operator resources, not in the schemas
    for doc in docs:
        if doc["kind"] not in custom:
            kubernetes_validate.validate(doc, kubernetes, strict=True)
    assert {doc["kind"] for doc in docs} >= {
        "ConfigMap", "Secret", "ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "Job", *custom,
    }


def test_the_schema_check_catches_a_misspelt_field() -> None:
    [deployment, *_] = [doc for doc in render() if doc["kind"] == "Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGett"):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_one_deployment_per_process_with_health_probes(docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(docs, "Deployment")
    assert {component(d) for d in deployments.values()} == COMPONENTS
    for deployment in deployments.values():
        name = component(deployment)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        port = container["ports"][0]
        assert port["name"] == "http"
        assert port["containerPort"] == HTTP_PORTS.get(name, 9100), name
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        expected_ready = "/readyz" if name in HTTP_PORTS else "/healthz"
        assert container["readinessProbe"]["httpGet"] == {"path": expected_ready, "port": "http"}, name
        assert container["image"] == "touchpoint:0.1.0"
        if name in HTTP_PORTS:
            assert container["args"][-2:] == ["--port", str(HTTP_PORTS[name])]
            assert "0.0.0.0" in container["args"]


def test_pods_run_as_non_root_with_a_read_only_root(docs: list[dict[str, Any]]) -> None:
    for kind in ("Deployment", "Job"):
        for doc in by_kind(docs, kind).values():
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] != 0
            for container in pod["containers"]:
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_settings_come_from_the_configmap_and_the_database_url_from_a_secret(docs: list[dict[str, Any]]) -> None:
    [configmap] = by_kind(docs, "ConfigMap").values()
    settings = configmap["data"]
    assert settings["TOUCHPOINT_KAFKA_REPLICATION"] == "3"
    assert settings["TOUCHPOINT_KAFKA_IDEMPOTENCE"] == "true"
    assert settings["TOUCHPOINT_METRICS_PORT"] == "9100"
    assert all(isinstance(value, str) for value in settings.values())
    [secret] = by_kind(docs, "Secret").values()
    assert secret["stringData"]["database-url"] == DATABASE["database"]["url"]
    for deployment in by_kind(docs, "Deployment").values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]
        [database] = [e for e in container["env"] if e["name"] == "TOUCHPOINT_DATABASE_URL"]
        assert database["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "database-url"}


def test_an_existing_secret_replaces_the_chart_secret() -> None:
    docs = render({"database": {"url": "", "existingSecret": "touchpoint-db", "existingSecretKey": "url"}})
    assert by_kind(docs, "Secret") == {}
    for deployment in by_kind(docs, "Deployment").values():
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        references = [e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e]
        assert {"name": "touchpoint-db", "key": "url"} in references


def test_rendering_without_a_database_fails_with_a_reason() -> None:
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmError, match="database"):
        chart.render({}, name="crm", namespace="touchpoint")


def test_changing_a_setting_rolls_the_pods() -> None:
    def checksums(docs: list[dict[str, Any]]) -> set[str]:
        deployments = by_kind(docs, "Deployment").values()
        return {d["spec"]["template"]["metadata"]["annotations"]["checksum/settings"] for d in deployments}

    before, after = checksums(render()), checksums(render({"config": {"logLevel": "DEBUG"}}))
    assert len(before) == 1 and len(after) == 1 and before != after


def test_services_select_their_deployments_pods(docs: list[dict[str, Any]]) -> None:
    deployments = {component(d): d for d in by_kind(docs, "Deployment").values()}
    services = {component(s): s for s in by_kind(docs, "Service").values()}
    assert set(services) == COMPONENTS
    for name, service in services.items():
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items(), name
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        if name not in HTTP_PORTS:
            assert service["spec"]["clusterIP"] == "None"


def test_ingest_scales_on_cpu_and_keeps_a_pod_through_disruptions(docs: list[dict[str, Any]]) -> None:
    [hpa] = by_kind(docs, "HorizontalPodAutoscaler").values()
    [ingest] = [d for d in by_kind(docs, "Deployment").values() if component(d) == "ingest"]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": ingest["metadata"]["name"]}
    assert hpa["spec"]["scaleTargetRef"] == target
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in ingest["spec"], "the HPA owns the replica count"
    [pdb] = by_kind(docs, "PodDisruptionBudget").values()
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= ingest["spec"]["template"]["metadata"]["labels"].items()


def test_migrations_and_topics_run_as_hooks_before_install_and_upgrade(docs: list[dict[str, Any]]) -> None:
    jobs = {component(j): j for j in by_kind(docs, "Job").values()}
    assert set(jobs) == {"migrate", "topics"}
    weights = {}
    for name, job in jobs.items():
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        weights[name] = int(annotations["helm.sh/hook-weight"])
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == [name]
        assert "envFrom" not in container, "the ConfigMap does not exist yet when pre-install hooks run"
        names = {e["name"] for e in container["env"]}
        assert {"TOUCHPOINT_DATABASE_URL", "TOUCHPOINT_KAFKA_BOOTSTRAP", "TOUCHPOINT_KAFKA_REPLICATION"} <= names
    assert weights["migrate"] < weights["topics"]
    for prerequisite in [*by_kind(docs, "Secret").values(), *by_kind(docs, "ServiceAccount").values()]:
        assert int(prerequisite["metadata"]["annotations"]["helm.sh/hook-weight"]) < weights["migrate"]
    assert by_kind(render(upgrade=True), "Job").keys() == by_kind(docs, "Job").keys()


def test_service_monitor_and_rules_are_toggles(docs: list[dict[str, Any]]) -> None:
    assert by_kind(docs, "ServiceMonitor") == {} and by_kind(docs, "PrometheusRule") == {}
    enabled = render({"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}})
    [monitor] = by_kind(enabled, "ServiceMonitor").values()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    for service in by_kind(enabled, "Service").values():
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [rule] = by_kind(enabled, "PrometheusRule").values()
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "TouchpointConsumerLagGrowing" in alerts


def test_a_process_can_be_switched_off() -> None:
    docs = render({"metricsConsumer": {"enabled": False}})
    assert "metrics-consumer" not in {component(d) for d in by_kind(docs, "Deployment").values()}
