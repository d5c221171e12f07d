"""The simulated population: people with stable identities across channels."""

import zlib
from dataclasses import dataclass

SEGMENTS = ("consumer", "smb", "enterprise", "student")
CATEGORIES = ("books", "music", "garden", "kitchen", "toys", "outdoor", "fashion", "electronics")


@dataclass(frozen=True, slots=True)
class Person:
    number: int
    customer_id: str
    email: str
    phone: str
    segment: str


def population(run: str, size: int) -> list[Person]:
    area = zlib.crc32(run.encode()) % 1000
    return [
        Person(
            number=n,
            customer_id=f"{run}-c{n}",
            email=f"{run}.p{n}@example.test",
            phone=f"+44 7{area:03d} {n % 1_000_000:06d}",
            segment=SEGMENTS[n % len(SEGMENTS)],
        )
        for n in range(size)
    ]
