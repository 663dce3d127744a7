import numpy as np
import pytest

from course_utils.metrics import rank_correlation


def test_rank_correlation_known_cases():
    a = np.arange(10.0)
    assert rank_correlation(a, a ** 3) == pytest.approx(1.0)          # monotone: perfect by rank
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.zeros(10)) == 0.0
    # ties get their average rank: [1, 2, 2, 3] against [1, 2, 3, 4]
    assert rank_correlation([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)
    rng = np.random.default_rng(0)
    assert abs(rank_correlation(rng.random(5000), rng.random(5000))) < 0.05
    with pytest.raises(ValueError, match="same number"):
        rank_correlation(np.zeros(3), np.zeros(4))
