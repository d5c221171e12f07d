import numpy as np

from services.metrics.domain.identification import identified


def test_a_bowl_is_identified_and_a_ridge_is_not() -> None:
    bowl = np.diag([1.0, 3.0, 0.5])
    assert identified(lambda at: bowl @ at, np.zeros(3))
    ridge = np.array([[1.0, 1.0], [1.0, 1.0]])  # flat along (1, -1)
    assert not identified(lambda at: ridge @ at, np.zeros(2))
    assert not identified(lambda at: -bowl @ at, np.zeros(3))  # a maximum of the negative likelihood
