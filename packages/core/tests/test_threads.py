"""ember.set_num_threads sizes ember's kernel pool and numpy's BLAS together."""

import numpy as np
import pytest

import ember
from ember import _threads


def test_set_num_threads_sets_both_pools():
    before = ember.get_num_threads()
    blas_before = _threads.blas_num_threads()
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        if blas_before:
            assert set(_threads.blas_num_threads()) == {1}
        a = np.random.default_rng(0).standard_normal((64, 64))
        np.testing.assert_allclose((ember.from_numpy(a) @ ember.from_numpy(a)).numpy(), a @ a)
    finally:
        ember.set_num_threads(before)
        for (setter, _), n in zip(_threads._blas(), blas_before):
            setter(n)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="positive int"):
        ember.set_num_threads(bad)
