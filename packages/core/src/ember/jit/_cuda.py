"""CUDA source from the same lazy graph: the schedule and the per-op expressions of the
C generator, with a CUDA prelude and GPU loop structure.

Elementwise kernels: one thread per element of the iteration space (a grid-stride
loop), index arithmetic from the collapsed shape baked in as constants. Reductions:
one block per output element (grid-stride over outputs); the block's threads stride
over the reduced elements and combine through shared memory; float sums accumulate in
double, max/min propagate NaN as on the CPU. Few outputs over a long range (full
reductions) take two passes (:func:`split_count`): blocks reduce chunks into partials
(a ``("scratch", node)`` program slot), then one block per output combines them.
Kernels take one ``char *`` per program slot (the arrays, in ``Program.slots``
order), so every kernel of a program is launched with the same argument list.

Lazy graphs of CUDA tensors compile this source with NVRTC and launch it
(``ember.jit._gpu``); the source is also compiled with ``nvcc`` by the tests.
"""

from __future__ import annotations

import numpy as np

from ember.jit._codegen import (
    Program,
    _acc_type,
    _collapse,
    _contig,
    _Kernel,
    _offsets,
    schedule,
)
from ember.jit._ir import CTYPE, Node, c_cast, divmod_c

THREADS = 256

PRELUDE = r"""
#ifdef __CUDACC_RTC__
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
#else
#include <cstdint>
#endif
#define _Bool bool
#define restrict __restrict__
#ifndef INT64_C
#define INT64_C(c) c##LL
#endif
#ifndef INT64_MIN
#define INT64_MIN (-9223372036854775807LL - 1)
#endif
#undef INFINITY
#undef NAN
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
#define JD static __device__ __forceinline__
JD float jit_expf32(float x) { return expf(x); }
JD float jit_tanhf32(float x) { return tanhf(x); }
JD float jit_sigmoidf32(float x) {
    float e = expf(-fabsf(x));
    float s = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    return x != x ? x : s;
}
JD double jit_exp(double x) { return exp(x); }
JD double jit_sigmoid(double x) {
    double e = exp(-fabs(x));
    double s = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    return x != x ? x : s;
}
JD int64_t jit_f2i(double v) {
    if (v != v || v >= 9223372036854775808.0 || v < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
""" + divmod_c("JD")


def _params(prog: Program) -> str:
    return ", ".join(f"char *P{i}" for i in range(len(prog.slots)))


def _decl_loads(k: _Kernel) -> list[str]:
    return [
        f"const {CTYPE[dt]} *restrict L{i} = (const {CTYPE[dt]} *)P{slot};"
        for i, (slot, _, dt) in enumerate(k.loads)
    ]


def _elementwise(prog, canon, space, outs, kid) -> tuple[str, list[str]]:
    k = _Kernel(prog, canon, space)
    stores = [(prog.slot("out", n), n.dtype, k.value(n)) for n in outs]
    vectors = [st for _, st, _ in k.loads] + [_contig(space) for _ in stores]
    shape, vecs = _collapse(space, vectors)
    numel = int(np.prod(space)) if space else 1
    inner = shape[-1]
    names = [f"a{i}" for i in range(len(vectors))]
    L = len(k.loads)
    src = _decl_loads(k)
    for i, (slot, dt, _) in enumerate(stores):
        src.append(f"{CTYPE[dt]} *restrict O{i} = ({CTYPE[dt]} *)P{slot};")
    src.append(f"for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < {numel};")
    src.append("     idx += (int64_t)gridDim.x * blockDim.x) {")
    src.append(f"  int64_t row = idx / {inner}, j = idx % {inner};")
    src += ["  " + s for s in _offsets("", "row", shape[:-1], [v[:-1] for v in vecs], names)]
    for i in range(L):
        src.append(f"  const {CTYPE[k.loads[i][2]]} *restrict l{i} = L{i} + {names[i]};")
        src.append(f"  const int64_t S{i} = {vecs[i][-1]};")
    src += ["  " + s for s in k.lines]
    for i, (_, _, v) in enumerate(stores):
        src.append(f"  O{i}[{names[L + i]} + j * {vecs[L + i][-1]}] = {v};")
    src.append("}")
    return _kernel(prog, f"ember_jit_kern{kid}", src), [numel]


def _combine(act: str, comb: str) -> list[str]:
    """The block's tree combination of ``acc``/``nan`` through shared memory."""
    return [
        "  sh[t] = acc; shn[t] = nan;",
        "  __syncthreads();",
        "  for (int s = blockDim.x / 2; s > 0; s >>= 1) {",
        f"    if (t < s) {{ {comb}sh[t] = acc; shn[t] = nan; }}",
        "    __syncthreads();",
        "  }",
    ]


def split_count(on: int, rn: int) -> int:
    """Chunks each output's reduced range is cut into (1: one block per output). Few
    outputs over a long range (a full reduction) would leave most of the GPU idle with
    one block each: the range is then reduced in chunks of ``SPLIT_CHUNK`` elements by
    separate blocks writing partial results, which a second kernel combines (two
    passes, no atomics: deterministic)."""
    if rn < SPLIT_MIN or on > SPLIT_MAX_OUTPUTS:
        return 1
    return min(SPLIT_MAX_CHUNKS, -(-rn // SPLIT_CHUNK))


SPLIT_MIN = 1 << 16
SPLIT_MAX_OUTPUTS = 256
SPLIT_CHUNK = 8192
SPLIT_MAX_CHUNKS = 1024


def _reduction(prog, canon, red, kid) -> list[tuple[str, str, int]]:
    """The kernels of reduction ``red``: ``[(source, name, work)]``, one kernel, or two
    (partials over chunks, then their combination) per :func:`split_count`."""
    x = red.args[0]
    space = x.shape
    dims = red.params[0]
    rdims = list(range(len(space))) if dims is None else list(dims)
    kdims = [d for d in range(len(space)) if d not in rdims]
    k = _Kernel(prog, canon, space)
    v = k.value(x)
    acc_dt = _acc_type(red)
    act, oct_ = CTYPE[acc_dt], CTYPE[red.dtype]
    slot = prog.slot("out" if red in prog._outs else "tmp", red)
    vectors = [st for _, st, _ in k.loads]
    names = [f"a{i}" for i in range(len(vectors))]
    kshape, kvecs = _collapse([space[d] for d in kdims], [[q[d] for d in kdims] for q in vectors])
    rshape, rvecs = _collapse([space[d] for d in rdims], [[q[d] for d in rdims] for q in vectors])
    on = int(np.prod([space[d] for d in kdims])) if kdims else 1
    rn = int(np.prod([space[d] for d in rdims])) if rdims else 1
    inner = rshape[-1]
    is_f = red.dtype.kind == "f"
    minmax_f = is_f and red.op in ("amax", "amin")

    def step_of(xv):
        if red.op in ("sum", "mean"):
            return f"acc += {xv};"
        sym = ">" if red.op == "amax" else "<"
        return f"{{ {act} v_ = {xv}; acc = v_ {sym} acc ? v_ : acc; nan |= v_ != v_; }}"

    if red.op in ("sum", "mean"):
        init, comb = "0", "acc += sh[t + s]; "
    else:
        sym = ">" if red.op == "amax" else "<"
        if is_f:
            init = "-INFINITY" if red.op == "amax" else "INFINITY"
        else:
            info = np.iinfo(red.dtype) if red.dtype.kind != "b" else None
            lo, hi = (info.min, info.max) if info else (0, 1)
            init = f"(({act}){lo if red.op == 'amax' else hi}LL)"
        comb = f"acc = sh[t + s] {sym} acc ? sh[t + s] : acc; nan |= shn[t + s]; "
    fin = f"(acc / (double){rn})" if red.op == "mean" else "acc"
    if minmax_f:
        fin = f"(nan ? ({act})NAN : acc)"
    chunks = split_count(on, rn)
    span = -(-rn // chunks)
    shared = f"__shared__ {act} sh[{THREADS}]; __shared__ int shn[{THREADS}];"

    # pass 1 (or the only pass): block p reduces chunk p % chunks of output p / chunks
    src = _decl_loads(k)
    if chunks == 1:
        src.append(f"{oct_} *restrict O = ({oct_} *)P{slot};")
    else:
        part = Node("partials", (), (on * chunks,), acc_dt)
        src.append(f"{act} *restrict W = ({act} *)P{prog.slot('scratch', part)};")
    src += [shared, "const int t = threadIdx.x;"]
    src.append(f"for (int64_t p = blockIdx.x; p < {on * chunks}; p += gridDim.x) {{")
    src.append(f"  const int64_t o = p / {chunks}, c = p % {chunks};")
    src.append(f"  const int64_t r1 = c * {span} + {span} < {rn} ? c * {span} + {span} : {rn};")
    src += ["  " + s for s in _offsets("k", "o", kshape, kvecs, names)]
    src.append(f"  {act} acc = {init}; int nan = 0;")
    src.append(f"  for (int64_t r = c * {span} + t; r < r1; r += blockDim.x) {{")
    src.append(f"    int64_t rr = r / {inner}, j = r % {inner};")
    src += ["    " + s for s in _offsets("r", "rr", rshape[:-1], [q[:-1] for q in rvecs], names)]
    for i, (_, _, dt) in enumerate(k.loads):
        src.append(f"    const {CTYPE[dt]} *restrict l{i} = L{i} + k{names[i]} + r{names[i]};")
        src.append(f"    const int64_t S{i} = {rvecs[i][-1]};")
    src += ["    " + s for s in k.lines]
    src.append("    " + step_of(c_cast(v, canon[id(x)].dtype, acc_dt)))
    src.append("  }")
    src += _combine(act, comb)
    if chunks == 1:
        src.append(f"  if (t == 0) O[o] = ({oct_})({fin});")
    else:  # a chunk that saw a NaN passes it on in its partial
        src.append(f"  if (t == 0) W[p] = {'nan ? NAN : acc' if minmax_f else 'acc'};")
    src.append("  __syncthreads();")
    src.append("}")
    name = f"ember_jit_kern{kid}"
    if chunks == 1:
        return [(_kernel(prog, name, src), name, on)]
    # pass 2: block o combines output o's partials
    src2 = [
        f"const {act} *restrict W = (const {act} *)P{prog.slot_of[id(part)]};",
        f"{oct_} *restrict O = ({oct_} *)P{slot};",
        shared,
        "const int t = threadIdx.x;",
        f"for (int64_t o = blockIdx.x; o < {on}; o += gridDim.x) {{",
        f"  {act} acc = {init}; int nan = 0;",
        f"  for (int64_t c = t; c < {chunks}; c += blockDim.x) {step_of(f'W[o * {chunks} + c]')}",
        *_combine(act, comb),
        f"  if (t == 0) O[o] = ({oct_})({fin});",
        "  __syncthreads();",
        "}",
    ]
    return [
        (_kernel(prog, name + "a", src), name + "a", on * chunks),
        (_kernel(prog, name + "b", src2), name + "b", on),
    ]


def _kernel(prog, name, body) -> str:
    lines = [f'extern "C" __global__ void {name}(@PARAMS@) {{']
    return "\n".join(lines + ["  " + s for s in body] + ["}"])


def generate_cuda(outputs, canon, nodes) -> tuple[str, Program, list]:
    """CUDA source for the canonical graph; also the Program (slots) and, per kernel,
    ``(name, kind, work items)`` for choosing its launch grid."""
    prog = Program()
    prog._outs = {canon[id(n)] for n in outputs}
    for n in outputs:
        prog.slot("out", canon[id(n)])
    kernels, launches = [], []
    for kid, item in enumerate(schedule(outputs, canon, nodes, merge=False)):
        if item[0] == "red":
            for src, name, work in _reduction(prog, canon, item[1], kid):
                kernels.append(src)
                launches.append((name, "red", work))
            prog.groups.append((f"ember_jit_kern{kid}", item[1].args[0].shape, [item[1]]))
        else:
            src, work = _elementwise(prog, canon, item[1], item[2], kid)
            prog.groups.append((f"ember_jit_kern{kid}", item[1], item[2]))
            kernels.append(src)
            launches.append((f"ember_jit_kern{kid}", "ew", work[0]))
    params = _params(prog)
    source = PRELUDE + "\n\n".join(s.replace("@PARAMS@", params) for s in kernels) + "\n"
    return source, prog, launches


def source_for(tensors) -> str:
    """The CUDA source computing pending lazy ``tensors`` (for inspection and the
    compile test); the tensors stay pending."""
    from ember.jit._codegen import canonicalize, topo
    from ember.jit._lazy import LazyTensor

    roots = [t._node for t in tensors if type(t) is LazyTensor and t._node is not None]
    order = topo(roots)
    canon, nodes, _ = canonicalize(order)
    return generate_cuda(roots, canon, nodes)[0]
