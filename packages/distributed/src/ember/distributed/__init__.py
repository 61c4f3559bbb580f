"""ember.distributed: collectives, data-parallel training and a launcher (torch.distributed).

Processes are started by ``python -m ember.distributed.run -n 4 train.py`` (which
wraps the installed ``mpiexec``); each calls ``init_process_group('mpi')`` for CPU
tensors (MPI through mpi4py) or ``init_process_group('nccl')`` for CUDA tensors
(NCCL through CuPy, imported only then). Collectives work on tensors in place;
``async_op=True`` returns a :class:`Work`. ``DistributedDataParallel`` averages
gradients in buckets while backward runs; ``DistributedSampler`` gives each rank
its share of a dataset.
"""

from ._work import DistError, DistTimeoutError, Work
from .collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all,
    barrier,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from .ddp import DistributedDataParallel
from .p2p import irecv, isend, recv, send
from .process_group import (
    ProcessGroup,
    ReduceOp,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
    new_group,
)
from .sampler import DistributedSampler

__all__ = [
    "DistError",
    "DistTimeoutError",
    "DistributedDataParallel",
    "DistributedSampler",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "all_to_all",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "irecv",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "isend",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]
