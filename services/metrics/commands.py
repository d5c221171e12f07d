"""The `touchpoint metrics` subcommands: serve, consume, refit, rebuild-aggregates."""

import argparse
import asyncio
from datetime import date


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.metrics.bootstrap import build_app
    from services.metrics.config import MetricsSettings
    from shared.observability import configure_logging

    settings = MetricsSettings()
    configure_logging("metrics-api", level=settings.log_level, json=settings.log_json)
    uvicorn.run(build_app(settings), host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def _consume(_: argparse.Namespace) -> int:
    from services.metrics.config import MetricsSettings
    from services.metrics.entrypoints.consumer import run_consumer

    return run_consumer(MetricsSettings())


def _refit(args: argparse.Namespace) -> int:
    from services.metrics.config import MetricsSettings
    from services.metrics.service_layer.fold import utc_today
    from services.metrics.service_layer.refit import RefitRejected, refit
    from shared.db import create_engine

    settings = MetricsSettings()

    async def go() -> int:
        engine = create_engine(settings, pool_size=2)
        try:
            result = await refit(
                engine, today=utc_today(), time_unit_days=settings.time_unit_days,
                monthly_discount_rate=settings.monthly_discount_rate, margin=settings.margin,
                calibration_end=args.calibration_end, as_of=args.as_of,
            )
        except RefitRejected as exc:
            print(f"refit rejected ({exc.code}): {exc.message}")
            return 1
        finally:
            await engine.dispose()
        for version in (result.bgnbd, result.gamma_gamma):
            params = ", ".join(f"{k}={v:.4g}" for k, v in version.params.items())
            print(f"{version.model} v{version.id}: {params}  LL={version.log_likelihood:.1f}  n={version.n_customers}")
        print(f"{result.predictions} predictions; fit {result.fit_seconds:.1f}s, total {result.total_seconds:.1f}s")
        return 0

    return asyncio.run(go())


def _rebuild(_: argparse.Namespace) -> int:
    from services.metrics.bootstrap import policy_of
    from services.metrics.config import MetricsSettings
    from services.metrics.service_layer.rebuild import rebuild_aggregates
    from shared.db import create_engine

    settings = MetricsSettings()

    async def go() -> int:
        engine = create_engine(settings, pool_size=1)
        try:
            return await rebuild_aggregates(engine, policy=policy_of(settings))
        finally:
            await engine.dispose()

    print(f"refigured {asyncio.run(go())} customers; population and CLV rollup rebuilt")
    return 0


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("metrics", help="the metrics service")
    metrics = parser.add_subparsers(dest="metrics_command", required=True)
    serve = metrics.add_parser("serve", help="the churn / CLV API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8003)
    serve.set_defaults(func=_serve)
    metrics.add_parser("consume", help="fold customers.v1 into the metrics").set_defaults(func=_consume)
    refit = metrics.add_parser("refit", help="refit BG/NBD + Gamma-Gamma and rewrite every prediction")
    refit.add_argument("--calibration-end", type=date.fromisoformat, default=None, help="YYYY-MM-DD; default as-of")
    refit.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD; default today (UTC)")
    refit.set_defaults(func=_refit)
    metrics.add_parser(
        "rebuild-aggregates",
        help="recompute customer figures, daily population and CLV rollup (after changing inactivity_days "
        "or annual_discount_rate)",
    ).set_defaults(func=_rebuild)
