"""Time and memory to fit the BG/NBD model to a large synthetic customer base.

Run ``python -m bench.bench_model_fit [n_customers]`` (default 1,000,000).

Customers of ages 1-365 days are drawn from the BG/NBD generative process
(:func:`simulate_summaries`) with a seeded numpy generator, using the CDNOW estimates
re-expressed per day.

Two scenarios are timed:

* *daily* - ``t_x`` is recorded to the day, as a real purchase history is, so many
  customers share an ``(x, t_x, T)`` tuple and :func:`compress` shrinks the problem;
* *continuous* - exact ``t_x``, every tuple unique: the worst case for compression.

Peak memory is the tracemalloc peak while compressing and fitting (numpy reports its
buffers to tracemalloc), plus the process's maximum resident set size. The baseline,
measured in the same run on the same data, is a fit on the uncompressed per-customer
arrays; the printed ratio is baseline seconds / (compress + fit) seconds.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.metrics.domain.bgnbd import BgNbdParams, fit_bgnbd, simulate_summaries
from services.metrics.domain.summaries import compress

FloatArray = npt.NDArray[np.float64]

# The CDNOW estimates, re-expressed per day (alpha is a time scale: weeks -> days is x7).
TRUE_PARAMS_PER_DAY = BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
MAX_AGE_DAYS = 365
SEED = 20050101


@dataclass(frozen=True)
class SyntheticCustomers:
    x: FloatArray
    t_x: FloatArray
    T: FloatArray


@dataclass(frozen=True)
class BenchResult:
    scenario: str
    n_customers: int
    unique_tuples: int
    compress_seconds: float
    fit_seconds: float
    peak_traced_mb: float
    iterations: int
    converged: bool
    params: BgNbdParams
    uncompressed_fit_seconds: float | None

    @property
    def total_seconds(self) -> float:
        return self.compress_seconds + self.fit_seconds


def sample_customers(
    n_customers: int,
    params: BgNbdParams,
    *,
    seed: int = SEED,
    record_to_the_day: bool = True,
    max_age_days: int = MAX_AGE_DAYS,
) -> SyntheticCustomers:
    """Draw ``n_customers`` summaries (in days), ages spread evenly over 1 to ``max_age_days``."""
    rng = np.random.default_rng(seed)
    age = rng.integers(1, max_age_days + 1, size=n_customers).astype(np.float64)
    x, t_x = simulate_summaries(params, age, rng)
    if record_to_the_day:
        t_x = np.floor(t_x)
    return SyntheticCustomers(x=x, t_x=t_x, T=age)


def bench_fit(n_customers: int, *, record_to_the_day: bool = True, with_baseline: bool = False) -> BenchResult:
    """Compress and fit ``n_customers`` synthetic customers; time both and trace memory.

    With ``with_baseline`` also time a fit on the uncompressed arrays (not traced).
    """
    customers = sample_customers(n_customers, TRUE_PARAMS_PER_DAY, record_to_the_day=record_to_the_day)
    tracemalloc.start()
    started = time.perf_counter()
    x, t_x, T, weights = compress(customers.x, customers.t_x, customers.T)
    compressed = time.perf_counter()
    fit = fit_bgnbd(x, t_x, T, weights)
    finished = time.perf_counter()
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    uncompressed_fit_seconds = None
    if with_baseline:
        baseline_started = time.perf_counter()
        fit_bgnbd(customers.x, customers.t_x, customers.T)
        uncompressed_fit_seconds = time.perf_counter() - baseline_started
    return BenchResult(
        scenario="daily" if record_to_the_day else "continuous",
        n_customers=fit.n_customers,
        unique_tuples=int(x.size),
        compress_seconds=compressed - started,
        fit_seconds=finished - compressed,
        peak_traced_mb=peak_bytes / 2**20,
        iterations=fit.iterations,
        converged=fit.converged,
        params=fit.params,
        uncompressed_fit_seconds=uncompressed_fit_seconds,
    )


def max_rss_mb() -> float:
    """Maximum resident set size of this process (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    n_customers = int(args[0]) if args else 1_000_000
    truth = TRUE_PARAMS_PER_DAY
    print(f"true params (per day): r={truth.r} alpha={truth.alpha:.3f} a={truth.a} b={truth.b}")
    for record_to_the_day in (True, False):
        result = bench_fit(n_customers, record_to_the_day=record_to_the_day, with_baseline=record_to_the_day)
        p = result.params
        print(
            f"{result.scenario:>10}: {result.n_customers:,} customers -> {result.unique_tuples:,} tuples | "
            f"compress {result.compress_seconds:.2f} s + fit {result.fit_seconds:.2f} s "
            f"= {result.total_seconds:.2f} s | peak traced {result.peak_traced_mb:.1f} MB | "
            f"{result.iterations} iterations, converged={result.converged} | "
            f"r={p.r:.4f} alpha={p.alpha:.3f} a={p.a:.4f} b={p.b:.4f}"
        )
        if result.uncompressed_fit_seconds is not None:
            ratio = result.uncompressed_fit_seconds / result.total_seconds
            print(
                f"{'baseline':>10}: per-customer fit without compression "
                f"{result.uncompressed_fit_seconds:.2f} s -> compression is {ratio:.1f}x faster"
            )
    print(f"process max RSS: {max_rss_mb():.1f} MB")


if __name__ == "__main__":
    main()
