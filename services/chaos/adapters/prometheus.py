"""Scraping /metrics of the services and the consumer processes."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

Sample = tuple[str, tuple[tuple[str, str], ...]]


async def scrape(client: httpx.AsyncClient, url: str) -> dict[Sample, float]:
    """name+labels -> value, for the counters' `_total` samples and gauges; {} when unreachable."""
    try:
        response = await client.get(url, timeout=3.0)
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    out: dict[Sample, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out


def total(samples: dict[Sample, float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))
