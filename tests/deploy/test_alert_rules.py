import subprocess
from pathlib import Path

import yaml

from tests.deploy.artifacts import (
    ALERTS,
    ALERTS_TEST,
    CHART,
    OPERATIONS_DOC,
    PROMETHEUS_CONFIG,
    alert_rules,
    doc_anchors,
    load_yaml,
    promtool,
)


def _promtool(*args: str, cwd: Path = ALERTS.parent) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_alert_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    result = _promtool("test", "rules", ALERTS_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_fails_when_an_alert_is_broken(tmp_path: Path) -> None:
    lag = "touchpoint_kafka_consumergroup_lag)"
    broken = ALERTS.read_text().replace(f"{lag} > 1000", f"{lag} > 1e9")
    assert broken != ALERTS.read_text()
    (tmp_path / ALERTS.name).write_text(broken)
    (tmp_path / ALERTS_TEST.name).write_text(ALERTS_TEST.read_text())
    result = _promtool("test", "rules", ALERTS_TEST.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "TouchpointConsumerLagGrowing" in result.stdout + result.stderr


def test_compose_prometheus_config_is_valid_and_loads_the_rules() -> None:
    result = _promtool("check", "config", PROMETHEUS_CONFIG.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert load_yaml(PROMETHEUS_CONFIG)["rule_files"] == [ALERTS.name]


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never seen firing"
    assert names - quiet == set(), "alerts never seen staying quiet"
    assert (firing | quiet) - names == set(), "tests for alerts that do not exist"


def test_every_alert_has_a_severity_summary_and_a_runbook_entry() -> None:
    anchors = doc_anchors(OPERATIONS_DOC)
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "README.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"README.md has no runbook entry for {rule['alert']}"


def test_the_chart_ships_the_same_rules() -> None:
    assert yaml.safe_load((CHART / "files" / "alerts.yml").read_text()) == load_yaml(ALERTS)
