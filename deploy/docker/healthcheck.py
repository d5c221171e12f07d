#!/usr/bin/env python3
"""Container health probe: exit 0 when the URL answers 200, 1 otherwise (standard library only).

URL: the first argument, else TOUCHPOINT_HEALTHCHECK_URL, else the consumers' metrics port:
http://127.0.0.1:${TOUCHPOINT_METRICS_PORT:-9100}/healthz.
"""

import os
import sys
import urllib.error
import urllib.request


def probe_url(argv: list[str]) -> str:
    if len(argv) > 1:
        return argv[1]
    port = os.environ.get("TOUCHPOINT_METRICS_PORT", "9100")
    return os.environ.get("TOUCHPOINT_HEALTHCHECK_URL", f"http://127.0.0.1:{port}/healthz")


def main(argv: list[str]) -> int:
    url = probe_url(argv)
    timeout_s = float(os.environ.get("TOUCHPOINT_HEALTHCHECK_TIMEOUT_S", "2"))
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            healthy = answer.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if not healthy:
        print(f"unhealthy: {url} answered {answer.status}", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
