"""Run by test_distributed_failures.py: one rank fails while the others wait in a
collective. ``mode``: raise (an exception), exit (sys.exit(3)), hang (the rank never
joins; the others' 2-second timeout must fire), mismatch (an uncaught shape error)."""

import sys
import time

import ember
import ember.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=2.0 if mode == "hang" else 600.0)
rank, world = dist.get_rank(), dist.get_world_size()
t = ember.ones(4)
dist.all_reduce(t)  # everyone is up
if rank == world - 1:
    if mode == "raise":
        raise ValueError("boom from the failing rank")
    if mode == "exit":
        sys.exit(3)
    if mode == "hang":
        time.sleep(600)
if mode == "mismatch":
    t = ember.ones(3 + rank)
dist.all_reduce(t)  # the survivors wait here
print(f"rank {rank} finished", flush=True)
