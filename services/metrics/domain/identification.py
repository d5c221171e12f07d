"""Whether a maximum-likelihood estimate is identified by the data.

An optimizer can stop with success on a flat ridge: when the data do not identify the model
(identical spend everywhere, say), the likelihood keeps rising ever more slowly as some
parameters run off towards infinity together, and where the optimizer stops depends on the
machine's floating point. At such a point the likelihood has (almost) no curvature along the
ridge. So an estimate counts as identified only if the Hessian of the mean negative
log-likelihood (in log parameters; from the exact gradient by central differences) is
positive definite with a condition number below `MAX_CONDITION`.
"""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
MAX_CONDITION = 1e6  # CDNOW fits: about 1e2; the identical-spend ridge: about 1e9
_STEP = 1e-4


def hessian(gradient: Callable[[FloatArray], FloatArray], at: FloatArray) -> FloatArray:
    n = at.size
    out = np.empty((n, n))
    for i in range(n):
        step = np.zeros(n)
        step[i] = _STEP
        out[:, i] = (gradient(at + step) - gradient(at - step)) / (2 * _STEP)
    return np.asarray((out + out.T) / 2, dtype=np.float64)


def identified(gradient: Callable[[FloatArray], FloatArray], at: FloatArray) -> bool:
    """True when the likelihood curves away from `at` in every direction."""
    eigenvalues = np.linalg.eigvalsh(hessian(gradient, at))
    largest = float(eigenvalues[-1])
    return bool(np.all(np.isfinite(eigenvalues))) and largest > 0 and float(eigenvalues[0]) > largest / MAX_CONDITION
