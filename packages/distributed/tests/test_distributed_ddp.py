"""DistributedDataParallel on 2 and 4 processes: 20 SGD steps (half of them with a
no_sync() micro-batch) leave identical parameters on every rank, equal to
single-process training on the concatenated batch to 1e-6 in float64."""

import pytest


@pytest.mark.parametrize("n", [2, 4])
def test_ddp_matches_single_process_training(launch, n):
    job = launch(n, "check_ddp.py")
    assert job.returncode == 0, job.explain()
    assert "ddp matches single-process training" in job.stdout, job.explain()
    for r in range(n):
        assert f"ddp ok rank {r} of {n}" in job.stdout, job.explain()
