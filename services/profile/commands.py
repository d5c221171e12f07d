"""The `touchpoint profile` subcommands."""

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sub.add_parser("profile", help="the profile service")
