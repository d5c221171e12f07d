"""Posting requests to the ingest service the way a careful client does: retry 503 and 429
after Retry-After, retry connection errors with backoff, and always resend the same ids."""

import asyncio
import base64
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson

from services.simulate.domain.requests import Api, Item, Send

RETRYABLE = frozenset({429, 500, 502, 503, 504})
ANSWERED = frozenset({200, 202, 207, 422})


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    connection_errors: int = 0
    waited_retry_after_s: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    rejection_codes: Counter[str] = field(default_factory=Counter)
    given_up_requests: int = 0


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    item: Item
    status: str  # accepted | duplicate | rejected | unacknowledged
    code: str | None = None


def _retry_after(response: httpx.Response, fallback: float) -> float:
    try:
        return max(0.05, float(response.headers.get("retry-after", fallback)))
    except ValueError:
        return fallback


class IngestClient:
    def __init__(
        self, *, base_url: str, write_key: str, concurrency: int = 8, timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.write_key = write_key
        basic = base64.b64encode(f"{write_key}:".encode()).decode()
        self.headers = {
            Api.NATIVE: {"authorization": f"Bearer {write_key}", "content-type": "application/json"},
            Api.SEGMENT: {"authorization": f"Basic {basic}", "content-type": "application/json"},
        }
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )
        self.stats = ClientStats()

    async def close(self) -> None:
        await self.http.aclose()

    async def post(self, send: Send, *, give_up_at: float) -> list[ItemOutcome]:
        """Send until the server answers for every item, or until `give_up_at` (monotonic)."""
        content = orjson.dumps(send.body)
        delay = 0.1
        first = True
        while True:
            if not first:
                self.stats.retries += 1
            first = False
            self.stats.requests += 1
            wait = delay
            try:
                response = await self.http.post(send.api.path, content=content, headers=self.headers[send.api])
            except httpx.TransportError:
                self.stats.connection_errors += 1
                delay = min(delay * 2, 2.0)
            else:
                self.stats.statuses[response.status_code] += 1
                if response.status_code in ANSWERED:
                    return self._outcomes(send, response)
                if response.status_code not in RETRYABLE:
                    self.stats.rejection_codes[_code(response)] += len(send.items)
                    return [ItemOutcome(item, "rejected", _code(response)) for item in send.items]
                wait = _retry_after(response, delay) if response.status_code in (429, 503) else delay
                delay = min(delay * 2, 2.0)
            if time.monotonic() + wait > give_up_at:
                self.stats.given_up_requests += 1
                return [ItemOutcome(item, "unacknowledged") for item in send.items]
            self.stats.waited_retry_after_s += wait
            await asyncio.sleep(wait)

    def _outcomes(self, send: Send, response: httpx.Response) -> list[ItemOutcome]:
        body = response.json() if response.content else {}
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            status = "accepted" if response.status_code in (200, 202) else "rejected"
            return [ItemOutcome(item, status) for item in send.items]
        outcomes = []
        by_index = {r.get("index", i): r for i, r in enumerate(results) if isinstance(r, dict)}
        for index, item in enumerate(send.items):
            result = by_index.get(index, {})
            status = str(result.get("status", "rejected"))
            code = (result.get("error") or {}).get("code") if status == "rejected" else None
            if code:
                self.stats.rejection_codes[code] += 1
            outcomes.append(ItemOutcome(item, status, code))
        return outcomes


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"http_{response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else f"http_{response.status_code}"
