import subprocess
from pathlib import Path

import yaml

from tests.deploy.artifacts import COMPOSE, DEPLOY, dashboard, dashboard_panels, dashboard_queries, load_yaml, promtool


def _all_exprs() -> str:
    return "\n".join(expr for _, expr in dashboard_queries())


def test_dashboard_is_a_grafana_dashboard_with_unique_panel_ids() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids))
    for panel in dashboard_panels():
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_dashboard_shows_what_operators_steer_by() -> None:
    exprs = _all_exprs()
    assert "rate(touchpoints_accepted_total" in exprs
    assert "histogram_quantile(0.5, sum by (le) (rate(touchpoint_http_request_duration_seconds_bucket" in exprs
    assert "histogram_quantile(0.99, sum by (le) (rate(touchpoint_http_request_duration_seconds_bucket" in exprs
    assert "sum by (reason) (rate(touchpoints_rejected_total" in exprs
    assert "max by (group, topic) (touchpoint_kafka_consumergroup_lag)" in exprs
    assert 'touchpoint_consumer_events_total{outcome="folded"}' in exprs
    assert "touchpoint_dlq_events_total" in exprs
    gauges = {panel["title"]: panel for panel in dashboard_panels() if panel["type"] in {"gauge", "stat"}}
    headline = "\n".join(t["expr"] for p in gauges.values() for t in p["targets"])
    assert "touchpoint_churn_rate" in headline
    assert "touchpoint_clv_average" in headline


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries)
    ]}]}
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries)} rules found" in result.stdout


def test_grafana_provisioning_points_at_the_mounted_dashboards_and_prometheus() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasource = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    provider = load_yaml(provisioning / "dashboards" / "touchpoint.yml")["providers"][0]
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in grafana["volumes"]}
    assert mounts[provider["options"]["path"]] == "../grafana/dashboards"
    assert mounts["/etc/grafana/provisioning/datasources"] == "../grafana/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "../grafana/provisioning/dashboards"
