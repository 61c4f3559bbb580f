"""Running lazy graphs of CUDA tensors: ``_cuda``'s source compiled by NVRTC through
CuPy, launched on CuPy's current stream, outputs allocated from CuPy's memory pool.

Compiling goes the way ember's own kernels do without their prebuilt fatbin
(``ember._cuda.loader``): ``cupy.RawModule(code=..., backend="nvrtc")`` with the
loader's NVRTC options (no FMA contraction, so results match the CPU kernels
operation by operation). Two cache levels, as on the CPU:

- in memory, the loaded kernels per :func:`module_key`: a hash of the source, the
  NVRTC options, the device's compute capability and the CuPy, CUDA runtime and NVRTC
  versions (a module compiled for one GPU or toolkit is never used with another), and
  the device index (a loaded module belongs to one device's context);
- on disk, CuPy's kernel cache (``CUPY_CACHE_DIR``, ``~/.cupy/kernel_cache``), keyed by
  the source, options, architecture and NVRTC/CuPy versions: a later process loads the
  compiled module instead of running NVRTC again.

Launch grids come from the output sizes (:func:`grid`): elementwise kernels run one
thread per element in a grid-stride loop, capped at a few waves of blocks; reductions
run one 256-thread block per output element (grid-stride over outputs), each block
combining its threads' partial results through shared memory; few outputs over a long
range take two such passes (chunk partials, then their combination; no atomics).

Every CuPy call sits in a small function here (:func:`compute_capability`,
:func:`versions`, :func:`sm_count`, :func:`load_module`, :func:`empty`), which is what
the dry-run tests replace to run the plumbing on the CPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading

from ember.jit import _build
from ember.jit._cuda import THREADS, generate_cuda

_modules: dict = {}
_lock = threading.Lock()
WAVES = 32  # blocks per multiprocessor a grid-stride kernel is given at most


def _cupy():
    import cupy

    return cupy


def compute_capability(dev: int) -> str:
    """The compute capability of CUDA device ``dev`` as CuPy spells it (``"90"``)."""
    return str(_cupy().cuda.Device(dev).compute_capability)


def versions() -> str:
    """CuPy's, the CUDA runtime's and NVRTC's versions (part of every module key)."""
    cp = _cupy()
    try:
        nvrtc = cp.cuda.nvrtc.getVersion()
    except Exception:  # an NVRTC that cannot be queried compiles nothing either
        nvrtc = None
    return f"cupy {cp.__version__} cudart {cp.cuda.runtime.runtimeGetVersion()} nvrtc {nvrtc}"


def sm_count(dev: int) -> int:
    """The number of multiprocessors of device ``dev``."""
    return int(_cupy().cuda.Device(dev).attributes["MultiProcessorCount"])


def nvrtc_options() -> tuple:
    """NVRTC's options: ember's own kernels' (``ember._cuda.loader.NVRTC_OPTIONS``)."""
    from ember._cuda.loader import NVRTC_OPTIONS

    return tuple(NVRTC_OPTIONS)


def module_key(source: str, dev: int) -> str:
    """The cache key of ``source`` compiled for device ``dev``: the CPU key's parts
    (source, flags) plus the compute capability and the CuPy/CUDA/NVRTC versions."""
    h = hashlib.sha256()
    for part in (source, " ".join(nvrtc_options()), compute_capability(dev), versions()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def load_module(source: str, names: list[str], dev: int) -> dict:
    """``{name: kernel}`` for the kernels ``names`` of ``source`` on device ``dev``:
    from memory, or compiled by NVRTC (CuPy's disk cache may already hold it)."""
    key = (dev, module_key(source, dev))
    fns = _modules.get(key)
    if fns is not None:
        return fns
    with _lock:
        fns = _modules.get(key)
        if fns is None:
            cp = _cupy()
            with cp.cuda.Device(dev):
                mod = cp.RawModule(code=source, options=nvrtc_options(), backend="nvrtc")
                # get_function compiles: errors surface here, at the graph's first force
                fns = {n: mod.get_function(n) for n in names}
            _modules[key] = fns
            _build.STATS["cuda_modules"] += 1
    return fns


def device(dev: int):
    """Context manager making CUDA device ``dev`` current (a no-op in dry runs)."""
    from ember import cuda

    return cuda.device(dev) if dev is not None else contextlib.nullcontext()


def empty(shape, dtype, dev: int):
    """An uninitialized array on CUDA device ``dev``, from CuPy's memory pool."""
    from ember import cuda

    return cuda._empty(shape, dtype, dev)


def grid(kind: str, work: int, sms: int) -> int:
    """Blocks for a kernel of ``kind`` (``"ew"``: ``work`` elements, one per thread;
    ``"red"``: ``work`` outputs, one per block), capped at ``WAVES`` per multiprocessor:
    both kernels are grid-stride loops, so a capped grid still covers all the work."""
    per_block = THREADS if kind == "ew" else 1
    need = max(1, -(-int(work) // per_block))
    return min(need, max(1, sms) * WAVES)


def compile_plan(outs, canon, nodes, key, dev: int):
    """The plan computing ``outs`` on CUDA device ``dev`` (see ``_lazy._Plan``)."""
    from ember.jit._lazy import _Plan

    source, prog, launches = generate_cuda(outs, canon, nodes)
    fns = load_module(source, [name for name, _, _ in launches], dev)
    sms = sm_count(dev)
    index = {id(n): i for i, n in enumerate(nodes)}
    plan = _Plan()
    plan.device = dev
    plan.key = key
    plan.source = source
    plan.scratch = []  # (shape, dtype) of each scratch slot (a two-pass reduction's partials)
    plan.slots = []
    for kind, n in prog.slots:
        if kind == "scratch":
            plan.slots.append((kind, len(plan.scratch)))
            plan.scratch.append((n.shape, n.dtype))
        else:
            plan.slots.append((kind, index[id(n)]))
    plan.groups = [(name, space, [index[id(n)] for n in g]) for name, space, g in prog.groups]
    plan.launches = [(name, grid(kind, work, sms), THREADS) for name, kind, work in launches]
    calls = [(fns[name], g, b) for name, g, b in plan.launches]

    def run(arrays):
        args = tuple(arrays)  # CuPy passes each array as its data pointer (char *P<i>)
        with device(dev):
            for fn, g, b in calls:
                fn((g,), (b,), args)  # CuPy's current stream

    plan.run = run
    return plan
