"""The `touchpoint profile` subcommands (serve, consume, rebuild) and `touchpoint dlq replay`."""

import argparse
import asyncio


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.profile.bootstrap import build_app
    from services.profile.config import ProfileSettings
    from shared.observability import configure_logging

    settings = ProfileSettings()
    configure_logging("profile", level=settings.log_level, json=settings.log_json)
    uvicorn.run(build_app(settings), host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def _consume(_: argparse.Namespace) -> int:
    from services.profile.config import ProfileSettings
    from services.profile.entrypoints.consumer import run_consumer
    from shared.observability import configure_logging

    settings = ProfileSettings()
    configure_logging("profile-consumer", level=settings.log_level, json=settings.log_json)
    run_consumer(settings)
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.profile.bootstrap import build_engine
    from services.profile.config import ProfileSettings
    from services.profile.service_layer.rebuild import count_live_profiles, rebuild_profiles

    settings = ProfileSettings()

    async def go() -> str:
        engine = build_engine(settings)
        try:
            total = await count_live_profiles(engine)
            columns = (TextColumn("rebuilding profiles"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns) as bar:
                task = bar.add_task("rebuild", total=total)
                report = await rebuild_profiles(
                    engine, settings.lifecycle, batch_size=args.batch_size,
                    progress=lambda done: bar.update(task, completed=done),
                )
            return (
                f"rebuilt {report.profiles} profiles from {report.events} touchpoints; "
                f"{report.changed} changed, {report.without_events} without stored touchpoints"
            )
        finally:
            await engine.dispose()

    print(asyncio.run(go()))
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from services.profile.entrypoints.dlq_replay import replay_dead_letters
    from shared.settings import CommonSettings

    report = asyncio.run(replay_dead_letters(CommonSettings(), which=args.topic, limit=args.limit))
    targets = ", ".join(f"{n} to {topic}" for topic, n in sorted(report.by_target.items())) or "nothing to replay"
    print(f"replayed {report.replayed} from {report.dlq_topic}: {targets}")
    return 0


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    profile = sub.add_parser("profile", help="the profile service")
    commands = profile.add_subparsers(dest="profile_command", required=True)
    serve = commands.add_parser("serve", help="serve the profile API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8002)
    serve.set_defaults(func=_serve)
    commands.add_parser("consume", help="fold touchpoints.v1 into profiles and relay facts").set_defaults(
        func=_consume
    )
    rebuild = commands.add_parser("rebuild", help="rebuild every profile from its stored touchpoints")
    rebuild.add_argument("--batch-size", type=int, default=200)
    rebuild.set_defaults(func=_rebuild)

    dlq = sub.add_parser("dlq", help="dead-letter topics")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    replay = dlq_commands.add_parser("replay", help="re-produce dead letters to their original topic")
    replay.add_argument("--topic", choices=["touchpoints", "customers"], default="touchpoints")
    replay.add_argument("--limit", type=int, default=None)
    replay.set_defaults(func=_dlq_replay)
