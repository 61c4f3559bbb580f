"""A failing rank ends the whole job promptly with its error, never a hang."""

import pytest


@pytest.mark.parametrize("n", [2, 4])
def test_raising_rank_ends_the_job(launch, n):
    job = launch(n, "crash.py", "raise", timeout=60)
    assert job.returncode != 0, job.explain()
    assert "ValueError: boom from the failing rank" in job.stderr, job.explain()
    assert f"rank {n - 1}" in job.stderr and "finished" not in job.stdout, job.explain()
    assert job.seconds < 30, f"took {job.seconds:.1f} s\n{job.explain()}"


def test_nonzero_exit_ends_the_job(launch):
    job = launch(2, "crash.py", "exit", timeout=60)
    assert job.returncode == 3, job.explain()
    assert "exited with status 3" in job.stderr, job.explain()


def test_hung_rank_times_out(launch):
    # the survivor's all_reduce has a 2 s deadline; the job must not wait for the sleeper
    job = launch(2, "crash.py", "hang", timeout=60)
    assert job.returncode != 0, job.explain()
    assert "DistTimeoutError" in job.stderr and "did not complete within 2 s" in job.stderr
    assert job.seconds < 30, f"took {job.seconds:.1f} s\n{job.explain()}"


def test_uncaught_shape_mismatch_names_ranks_and_shapes(launch):
    job = launch(2, "crash.py", "mismatch", timeout=60)
    assert job.returncode != 0, job.explain()
    err = job.stderr
    assert "tensor shapes do not match" in err, job.explain()
    assert "rank 0: all_reduce(shape (3,)" in err and "rank 1: all_reduce(shape (4,)" in err
