import argparse
import json
from pathlib import Path

import pytest

from services.simulate.commands import add_arguments, options_from
from services.simulate.config import NotLoopback, require_loopback


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_stack_file_of_touchpoint_dev_provides_the_url_key_and_broker(tmp_path: Path) -> None:
    stack = tmp_path / "stack.json"
    stack.write_text(json.dumps({"ingest_url": "http://127.0.0.1:8001", "write_key": "tp_write_a_b",
                                 "kafka_bootstrap": "127.0.0.1:19092"}))
    options = options_from(parse("--stack-file", str(stack), "--seed", "9", "--rate", "50"))
    assert (options.ingest_url, options.write_key, options.kafka_bootstrap) == (
        "http://127.0.0.1:8001", "tp_write_a_b", "127.0.0.1:19092")
    assert options.ledger_path == tmp_path / "ledger-s9.jsonl" and options.rate == 50


def test_flags_win_over_the_stack_file_and_without_either_it_refuses(tmp_path: Path) -> None:
    options = options_from(parse("--stack-file", str(tmp_path / "none.json"), "--ingest-url", "http://localhost:9",
                                 "--write-key", "k", "--ledger", str(tmp_path / "l.jsonl")))
    assert (options.ingest_url, options.write_key, options.kafka_bootstrap) == ("http://localhost:9", "k", None)
    with pytest.raises(SystemExit):
        options_from(parse("--stack-file", str(tmp_path / "none.json")))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001", "http://localhost:1", "http://[::1]:80", "127.0.0.2:9092"])
def test_loopback_addresses_are_allowed(url: str) -> None:
    assert require_loopback(url) == url


@pytest.mark.parametrize("url", ["http://10.0.0.1:8001", "http://example.com", "192.168.1.2:9092"])
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(NotLoopback):
        require_loopback(url)
