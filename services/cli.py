"""The `touchpoint` command line. Each service registers its own subcommands."""

import argparse
import asyncio
import sys
from collections.abc import Callable

from shared.settings import CommonSettings

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _dev(_: argparse.Namespace) -> int:
    from services.devstack.stack import DevSettings, run_dev

    return run_dev(DevSettings())


def _migrate(_: argparse.Namespace) -> int:
    from shared.migrate import upgrade

    upgrade(CommonSettings().database_url)
    return 0


def _topics(_: argparse.Namespace) -> int:
    from shared.kafka import ensure_topics

    created = asyncio.run(ensure_topics(CommonSettings()))
    print("created: " + (", ".join(created) or "none (all exist)"))
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from shared.auth import KeyKind, create_key
    from shared.db import create_engine

    async def go() -> str:
        engine = create_engine(CommonSettings(), pool_size=1)
        try:
            return (await create_key(engine, kind=KeyKind(args.kind), source=args.source)).key
        finally:
            await engine.dispose()

    print(asyncio.run(go()))
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from shared.auth import revoke_key, split_key
    from shared.db import create_engine

    key_id = (split_key(args.key) or (args.key, ""))[0]

    async def go() -> bool:
        engine = create_engine(CommonSettings(), pool_size=1)
        try:
            return await revoke_key(engine, key_id=key_id)
        finally:
            await engine.dispose()

    revoked = asyncio.run(go())
    print("revoked" if revoked else "no such active key")
    return 0 if revoked else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchpoint", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run the whole stack on embedded Postgres and broker").set_defaults(func=_dev)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)
    sub.add_parser("topics", help="create the Kafka topics").set_defaults(func=_topics)
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--kind", choices=["write", "read", "admin"], required=True)
    create.add_argument("--source", default="default", help="source name the key's events carry")
    create.set_defaults(func=_keys_create)
    revoke = keys.add_parser("revoke", help="revoke a key (the key or its id)")
    revoke.add_argument("key")
    revoke.set_defaults(func=_keys_revoke)

    from services.chaos.commands import register as chaos
    from services.ingest.commands import register as ingest
    from services.metrics.commands import register as metrics
    from services.profile.commands import register as profile
    from services.simulate.commands import register as simulate

    for register in (ingest, profile, metrics, simulate, chaos):
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
