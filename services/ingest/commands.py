"""The `touchpoint ingest` subcommands."""

import argparse


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "services.ingest.bootstrap:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        lifespan="on",
    )
    return 0


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ingest = sub.add_parser("ingest", help="the ingest service")
    commands = ingest.add_subparsers(dest="ingest_command", required=True)
    serve = commands.add_parser("serve", help="serve the native and Segment-compatible APIs")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8001, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, default=1, help="processes (each has its own producer and Prometheus registry)"
    )
    serve.set_defaults(func=_serve)
