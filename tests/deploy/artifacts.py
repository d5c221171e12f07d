"""The deployment artifacts under deploy/, loaded the way their tools read them."""

import ast
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "touchpoint.json"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CHART = DEPLOY / "helm" / "touchpoint"
OPERATIONS_DOC = ROOT / "README.md"
METRIC_SOURCES = (ROOT / "shared", ROOT / "services")

# Grafana's variables, replaced by what a panel would send to Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$window": "90"}

_METRIC_CLASSES = {"Counter", "Gauge", "Histogram", "Summary"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_OUR_METRIC = re.compile(r"\btouchpoints?_[A-Za-z0-9_:]+")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`: apt-get install prometheus)")
    return found


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL as Prometheus receives it) for every target of every panel."""
    queries = []
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((panel["title"], expr))
    return queries


def referenced_metrics(expr: str) -> set[str]:
    """Our metric names in a PromQL expression (label values and strings are not names)."""
    return set(_OUR_METRIC.findall(_STRING.sub('""', expr)))


def _metric_definition(node: ast.Call) -> tuple[str, str] | None:
    func = node.func
    kind = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if kind not in _METRIC_CLASSES:
        return None
    name_node = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
    if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
        return kind, name_node.value
    return None


def exposed_names(kind: str, name: str) -> set[str]:
    """The series names prometheus_client exposes for a metric it was given `name` for."""
    if kind == "Counter":
        base = name.removesuffix("_total")
        return {base + "_total", base + "_created"}
    if kind == "Histogram":
        return {name + "_bucket", name + "_count", name + "_sum", name + "_created"}
    if kind == "Summary":
        return {name, name + "_count", name + "_sum", name + "_created"}
    return {name}


def defined_metrics(roots: tuple[Path, ...] = METRIC_SOURCES) -> dict[str, Path]:
    """Every series name the source defines with prometheus_client, and where."""
    defined: dict[str, Path] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and (found := _metric_definition(node)) is not None:
                    for series in exposed_names(*found):
                        defined.setdefault(series, path)
    return defined


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def doc_anchors(path: Path) -> set[str]:
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            anchors.add(github_anchor(line.lstrip("#")))
        anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
    return anchors
