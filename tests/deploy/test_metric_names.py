from tests.deploy.artifacts import alert_rules, dashboard_queries, defined_metrics, referenced_metrics


def test_the_scanner_finds_metrics_the_foundation_defines() -> None:
    defined = defined_metrics()
    assert {"touchpoint_http_requests_total", "touchpoint_http_request_duration_seconds_bucket"} <= set(defined)
    assert {"touchpoint_dlq_events_total", "touchpoint_kafka_consumergroup_lag"} <= set(defined)


def test_promql_references_skip_label_values() -> None:
    expr = 'sum(rate(touchpoint_x_total{group="touchpoint_profile_y"}[5m])) / touchpoints_z'
    assert referenced_metrics(expr) == {"touchpoint_x_total", "touchpoints_z"}


def test_every_metric_in_the_alerts_is_defined_by_a_service() -> None:
    defined = defined_metrics()
    missing = {
        (rule["alert"], name)
        for rule in alert_rules()
        for name in referenced_metrics(rule["expr"])
        if name not in defined
    }
    assert not missing, f"alerts use metrics no service defines: {sorted(missing)}"


def test_every_metric_on_the_dashboard_is_defined_by_a_service() -> None:
    defined = defined_metrics()
    missing = {
        (title, name) for title, expr in dashboard_queries() for name in referenced_metrics(expr) if name not in defined
    }
    assert not missing, f"dashboard panels use metrics no service defines: {sorted(missing)}"
