"""The ledger as a JSON-lines file: appended while the run goes, read by the checker."""

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from services.simulate.domain.ledger import LedgerEntry


class LedgerFile:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._out: IO[bytes] = path.open("ab")
        self.written = 0

    def append(self, entries: Iterable[LedgerEntry]) -> None:
        for entry in entries:
            self._out.write(entry.to_line())
            self.written += 1

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


def read_ledger(path: Path) -> Iterator[LedgerEntry]:
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield LedgerEntry.from_line(line)
