"""The `touchpoint ingest` subcommands."""

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sub.add_parser("ingest", help="the ingest service")
