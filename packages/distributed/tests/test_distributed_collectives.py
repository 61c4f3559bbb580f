"""Every collective and point-to-point operation on 2 and 4 processes against numpy
(the checks run inside scripts/check_collectives.py on every rank)."""

import pytest


@pytest.mark.parametrize("n, args", [(2, ()), (4, ("--quick",))], ids=["2-ranks", "4-ranks"])
def test_collectives_match_numpy(launch, n, args):
    job = launch(n, "check_collectives.py", *args)
    assert job.returncode == 0, job.explain()
    for r in range(n):
        assert f"collectives ok rank {r} of {n}" in job.stdout, job.explain()
