"""The `touchpoint metrics` subcommands."""

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sub.add_parser("metrics", help="the metrics service")
