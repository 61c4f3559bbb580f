"""From a set of requested nodes to one C translation unit.

Scheduling: every reduction is a kernel of its own (its result is a buffer that
later kernels read); every requested elementwise node joins the one kernel that
computes all requested nodes of its shape. Elementwise nodes are never stored
unless requested: each kernel inlines the whole elementwise expression below what
it stores, down to leaves (inputs, constants, computed nodes, reductions). A node
of a smaller shape inlined into a bigger kernel is recomputed per element, which
costs arithmetic but no memory traffic, the scarcer resource here.

Common subexpressions are merged before scheduling (:func:`canonicalize`), so
``x * y`` written twice is computed once; dead code never reaches this module
(only nodes reachable from requested ones are visited).

Index arithmetic: a kernel iterates its shape in C order; each leaf gets per-dim
element strides relative to that shape (0 where it broadcasts); dims that are
contiguous for every operand are merged, the last merged dim is the ``omp simd``
loop, and work is split into blocks of ``BLOCK`` inner elements for OpenMP.
"""

from __future__ import annotations

import re

import numpy as np

from ember.jit._ir import CTYPE, F64, REDUCTIONS, Node, arg_dtype, c_cast, c_literal, expr

BLOCK = 4096
PAR_MIN = 65536  # elements below which one thread is faster than waking the pool


def topo(roots: list[Node]) -> list[Node]:
    """Pending nodes reachable from ``roots``, arguments before users (iterative DFS)."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            n, done = stack.pop()
            if done:
                order.append(n)
                continue
            if id(n) in seen:
                continue
            seen.add(id(n))
            stack.append((n, True))
            if not n.is_leaf:
                for a in reversed(n.args):
                    if id(a) not in seen:
                        stack.append((a, False))
    return order


def canonicalize(order: list[Node]):
    """Merge structurally equal nodes. Returns (canonical of each node by id, the
    canonical nodes in topological order, a hashable structural signature)."""
    canon, index, nodes, sig, keys = {}, {}, [], [], {}
    for n in order:
        if n.value is not None:
            a = n.value
            key = ("in", id(a))
            desc = ("in", a.shape, tuple(s // a.itemsize for s in a.strides), a.dtype.str)
        elif n.op == "const":
            key = desc = ("c", n.dtype.str, repr(n.params))
        else:
            key = desc = (
                n.op,
                tuple(index[id(canon[id(a)])] for a in n.args),
                n.shape,
                n.dtype.str,
                n.cdt.str,
                n.params,
            )
        c = keys.get(key)
        if c is None:
            c = keys[key] = n
            index[id(n)] = len(nodes)
            nodes.append(n)
            sig.append(desc)
        canon[id(n)] = c
    return canon, nodes, tuple(sig)


def _contig(shape) -> list[int]:
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= s
    return st[::-1]


def _bstrides(shape, strides, space) -> list[int]:
    """Element strides of an operand of ``shape``/``strides`` broadcast to ``space``."""
    pad = len(space) - len(shape)
    out = [0] * pad
    for s, st in zip(shape, strides, strict=True):
        out.append(0 if s == 1 else st)
    return out


def _collapse(space, vectors):
    """Drop size-1 dims and merge dims contiguous for every stride vector."""
    dims = [d for d in range(len(space)) if space[d] != 1]
    shape, vecs = [], [[] for _ in vectors]
    for d in dims:
        if shape and all(v[-1] == vec[d] * space[d] for v, vec in zip(vecs, vectors, strict=True)):
            shape[-1] *= space[d]
            for v, vec in zip(vecs, vectors, strict=True):
                v[-1] = vec[d]
            continue
        shape.append(space[d])
        for v, vec in zip(vecs, vectors, strict=True):
            v.append(vec[d])
    if not shape:
        shape = [1]
        vecs = [[0] for _ in vectors]
    return shape, vecs


class Program:
    """The kernels for one request: ``slots`` lists what each pointer argument is
    (``("in", node)`` leaf arrays, ``("out", node)`` requested results, ``("tmp", node)``
    reduction results only later kernels read); ``source`` is the C code."""

    def __init__(self):
        self.slots: list[tuple[str, Node]] = []
        self.slot_of: dict[int, int] = {}
        self.kernels: list[str] = []
        self.groups: list[tuple[str, tuple, list[Node]]] = []
        self.source = ""

    def slot(self, kind: str, node: Node) -> int:
        i = self.slot_of.get(id(node))
        if i is None:
            i = self.slot_of[id(node)] = len(self.slots)
            self.slots.append((kind, node))
        return i


class _Kernel:
    """Emits the body of one kernel: loads, CSE'd locals, stores."""

    def __init__(self, prog: Program, canon: dict, space: tuple):
        self.prog, self.canon, self.space = prog, canon, space
        self.lines: list[str] = []
        self.local: dict[int, str] = {}
        self.loads: list[tuple[int, list[int], np.dtype]] = []  # (slot, strides, dtype)
        self.n_ops = 0

    def _load(self, slot: int, strides: list[int], dt: np.dtype) -> str:
        key = (slot, tuple(strides))
        for i, (s, st, _) in enumerate(self.loads):
            if (s, tuple(st)) == key:
                return f"l{i}[j * S{i}]"
        self.loads.append((slot, strides, dt))
        i = len(self.loads) - 1
        return f"l{i}[j * S{i}]"

    def value(self, n: Node) -> str:
        n = self.canon[id(n)]
        v = self.local.get(id(n))
        if v is not None:
            return v
        if n.op == "const":
            return c_literal(n.params, n.dtype)
        if n.value is not None or n.op in REDUCTIONS:
            kind = "in" if n.value is not None else "tmp"
            slot = self.prog.slot(kind, n)
            if n.value is not None:
                a = n.value
                st = [s // a.itemsize for s in a.strides]
            else:
                st = _contig(n.shape)
            e = self._load(slot, _bstrides(n.shape, st, self.space), n.dtype)
        else:
            args = [
                c_cast(self.value(a), self.canon[id(a)].dtype, arg_dtype(n, i))
                for i, a in enumerate(n.args)
            ]
            e = c_cast(expr(n, args), n.cdt, n.dtype)
            self.n_ops += 1
        name = f"v{len(self.local)}"
        self.lines.append(f"{CTYPE[n.dtype]} {name} = {e};")
        self.local[id(n)] = name
        return name


def _decls(k: _Kernel, stores) -> list[str]:
    out = []
    for i, (slot, _, dt) in enumerate(k.loads):
        out.append(f"const {CTYPE[dt]} *restrict L{i} = (const {CTYPE[dt]} *)P[{slot}];")
    for i, (slot, dt) in enumerate(stores):
        out.append(f"{CTYPE[dt]} *restrict O{i} = ({CTYPE[dt]} *)P[{slot}];")
    return out


def _offsets(prefix: str, counter: str, shape, vecs, names) -> list[str]:
    """C lines turning flat index ``counter`` over ``shape`` into per-operand offsets."""
    lines = [f"int64_t {prefix}rem = {counter};"]
    for nm in names:
        lines.append(f"int64_t {prefix}{nm} = 0;")
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] == 1:
            continue
        lines.append(f"{{ int64_t i = {prefix}rem % {shape[d]}; {prefix}rem /= {shape[d]};")
        for nm, v in zip(names, vecs, strict=True):
            if v[d]:
                lines.append(f"  {prefix}{nm} += i * (int64_t){v[d]};")
        lines.append("}")
    return lines


def _row_pointers(k: _Kernel, stores, offsets: list[str], strides) -> list[str]:
    """C lines pointing each load ``l{i}`` (with its inner stride ``S{i}``) and each
    store ``o{i}`` at its row: ``offsets`` are the C offset expressions, loads first."""
    lines = []
    for i, (_, _, dt) in enumerate(k.loads):
        lines.append(f"const {CTYPE[dt]} *restrict l{i} = L{i} + {offsets[i]};")
        lines.append(f"const int64_t S{i} = {strides[i]};")
    for i, (_, dt, _) in enumerate(stores):
        lines.append(f"{CTYPE[dt]} *restrict o{i} = O{i} + {offsets[len(k.loads) + i]};")
    return lines


def _elementwise(prog: Program, canon: dict, space: tuple, outs: list[Node], kid: int) -> str:
    k = _Kernel(prog, canon, space)
    stores = []
    for n in outs:
        v = k.value(n)
        stores.append((prog.slot("out", n), n.dtype, v))
    body = list(k.lines)
    vectors = [st for _, st, _ in k.loads] + [_contig(space) for _ in stores]
    shape, vecs = _collapse(space, vectors)
    numel = int(np.prod(space)) if space else 1
    inner, outer = shape[-1], shape[:-1] + [1]
    rows = int(np.prod(outer))
    names = [f"a{i}" for i in range(len(vectors))]
    L = len(k.loads)
    src = [f"static void kern{kid}(char **P) {{"]
    src += ["  " + s for s in _decls(k, [(s, dt) for s, dt, _ in stores])]
    src.append(f"  const int64_t NB = ({inner} + {BLOCK} - 1) / {BLOCK}, T = {rows} * NB;")
    cost = max(1, k.n_ops)
    par = f"{numel}LL * {cost} >= {PAR_MIN} && !jit_forked"
    src.append(f"  int nt = ({par}) ? omp_get_max_threads() : 1;")
    src.append("  #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)")
    src.append("  for (int64_t tk = 0; tk < T; tk++) {")
    src.append(f"    int64_t row = tk / NB, j0 = (tk % NB) * {BLOCK};")
    src.append(f"    int64_t j1 = j0 + {BLOCK} < {inner} ? j0 + {BLOCK} : {inner};")
    src += ["    " + s for s in _offsets("", "row", outer[:-1], [v[:-1] for v in vecs], names)]
    src += ["    " + s for s in _row_pointers(k, stores, names, [v[-1] for v in vecs])]
    src.append("    #pragma omp simd")
    src.append("    for (int64_t j = j0; j < j1; j++) {")
    src += ["      " + s for s in body]
    for i, (_, _, v) in enumerate(stores):
        src.append(f"      o{i}[j * {vecs[L + i][-1]}] = {v};")
    src += ["    }", "  }", "}"]
    return "\n".join(src)


def _acc_type(red: Node) -> np.dtype:
    if red.op in ("sum", "mean"):
        return F64 if red.dtype.kind == "f" else np.dtype(np.int64)
    return red.dtype


def _reduction(prog: Program, canon: dict, red: Node, kid: int, also=()) -> str:
    """The kernel of reduction ``red``; it also stores the elementwise results ``also``
    (of the reduction's input shape) computed along the way, sharing subexpressions."""
    x = red.args[0]
    space = x.shape
    dims, _keepdim = red.params
    rdims = list(range(len(space))) if dims is None else list(dims)
    kdims = [d for d in range(len(space)) if d not in rdims]
    k = _Kernel(prog, canon, space)
    v = k.value(x)
    stores = [(prog.slot("out", n), n.dtype, k.value(n)) for n in also]
    body = list(k.lines)
    acc_dt = _acc_type(red)
    act = CTYPE[acc_dt]
    out_slot = prog.slot("out" if red in prog._outs else "tmp", red)
    n_loads = len(k.loads)
    vectors = [st for _, st, _ in k.loads] + [_contig(space) for _ in stores]
    names = [f"a{i}" for i in range(len(vectors))]
    kshape, kvecs = _collapse([space[d] for d in kdims], [[v_[d] for d in kdims] for v_ in vectors])
    rshape, rvecs = _collapse([space[d] for d in rdims], [[v_[d] for d in rdims] for v_ in vectors])
    on = int(np.prod([space[d] for d in kdims])) if kdims else 1
    rn = int(np.prod([space[d] for d in rdims])) if rdims else 1
    inner, outer = rshape[-1], rshape[:-1] + [1]
    rrows = int(np.prod(outer))
    is_f = red.dtype.kind == "f"
    xv = c_cast(v, canon[id(x)].dtype, acc_dt)
    if red.op in ("sum", "mean"):
        init, step, clause, comb = "0", f"acc += {xv};", "reduction(+:acc)", "acc += part[t];"
    else:
        sym = ">" if red.op == "amax" else "<"
        lim = {"amax": "-INFINITY", "amin": "INFINITY"}[red.op] if is_f else None
        if not is_f:
            info = np.iinfo(red.dtype) if red.dtype.kind != "b" else None
            lo, hi = (info.min, info.max) if info else (0, 1)
            lim = str(lo if red.op == "amax" else hi) + ("LL" if info else "")
        init = lim
        mm = "max" if red.op == "amax" else "min"
        step = f"{{ {act} x_ = {xv}; acc = x_ {sym} acc ? x_ : acc;"
        step += " nan |= x_ != x_; }" if is_f else " }"
        clause = f"reduction({mm}:acc)" + (" reduction(|:nan)" if is_f else "")
        comb = f"acc = part[t] {sym} acc ? part[t] : acc; nan |= pnan[t];"
    fin = "acc"
    if red.op == "mean":
        fin = f"(acc / (double){rn})"
    elif is_f and red.op in ("amax", "amin"):
        fin = f"(nan ? ({act})NAN : acc)"
    src = [f"static void kern{kid}(char **P) {{"]
    src += ["  " + s for s in _decls(k, [(sl, dt) for sl, dt, _ in stores])]
    src.append(f"  {CTYPE[red.dtype]} *restrict O = ({CTYPE[red.dtype]} *)P[{out_slot}];")
    if (
        kshape[-1] >= 16
        and all(abs(q[-1]) <= 1 for q in kvecs)
        and any(abs(q[-1]) > 1 for q in rvecs[:n_loads])
    ):
        col = (kshape, kvecs, rshape, rvecs, names, n_loads, on, rn)
        src += _columns(k, stores, body, red, act, init, step, fin, col)
        return "\n".join(src)
    src.append(f"  const int64_t NB = ({inner} + {BLOCK} - 1) / {BLOCK}, T = {rrows} * NB;")
    src.append(f"  int nt = ({on * rn}LL >= {PAR_MIN} && !jit_forked) ? omp_get_max_threads() : 1;")
    src.append("  if (nt > 64) nt = 64;")
    task = ["for (int64_t tk = ta; tk < tb; tk++) {"]
    task.append(f"  int64_t rr = tk / NB, j0 = (tk % NB) * {BLOCK};")
    task.append(f"  int64_t j1 = j0 + {BLOCK} < {inner} ? j0 + {BLOCK} : {inner};")
    task += ["  " + s for s in _offsets("r", "rr", outer[:-1], [q[:-1] for q in rvecs], names)]
    kr = [f"k{nm} + r{nm}" for nm in names]
    task += ["  " + s for s in _row_pointers(k, stores, kr, [v[-1] for v in rvecs])]
    task.append(f"  #pragma omp simd {clause}")
    task.append("  for (int64_t j = j0; j < j1; j++) {")
    task += ["    " + s for s in body]
    task.append(f"    {step}")
    for i, (_, _, sv) in enumerate(stores):
        task.append(f"    o{i}[j * {rvecs[n_loads + i][-1]}] = {sv};")
    task += ["  }", "}"]
    kept = _offsets("k", "o", kshape, kvecs, names)
    nan_decl = "int nan = 0;" if is_f else "int nan = 0; (void)nan;"
    # many outputs: threads split the outputs; few: they split each reduction
    src.append(f"  if ({on} >= 4 * nt || nt == 1) {{")
    src.append("    #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)")
    src.append(f"    for (int64_t o = 0; o < {on}; o++) {{")
    src += ["      " + s for s in kept]
    src.append(f"      {act} acc = {init}; {nan_decl}")
    src.append("      const int64_t ta = 0, tb = T;")
    src += ["      " + s for s in task]
    src.append(f"      O[o] = ({CTYPE[red.dtype]})({fin});")
    src.append("    }")
    src.append("  } else {")
    src.append(f"    for (int64_t o = 0; o < {on}; o++) {{")
    src += ["      " + s for s in kept]
    src.append(f"      {act} part[64]; int pnan[64]; int used = 1;")
    src.append("      #pragma omp parallel num_threads(nt)")
    src.append("      {")
    src.append("        int t = omp_get_thread_num(), nth = omp_get_num_threads();")
    src.append("        const int64_t ta = T * t / nth, tb = T * (t + 1) / nth;")
    src.append(f"        {act} acc = {init}; {nan_decl}")
    src += ["        " + s for s in task]
    src.append("        part[t] = acc; pnan[t] = nan;")
    src.append("        if (t == 0) used = nth;")
    src.append("      }")
    src.append(f"      {act} acc = {init}; {nan_decl}")
    src.append(f"      for (int t = 0; t < used; t++) {{ {comb} }}")
    src.append(f"      O[o] = ({CTYPE[red.dtype]})({fin});")
    src.append("    }")
    src.append("  }")
    src.append("}")
    return "\n".join(src)


COLS = 256  # kept elements one column-reduction task accumulates side by side


def _columns(k, stores, body, red, act, init, step, fin, col) -> list[str]:
    """Reductions over outer dims of rows that are contiguous along a kept dim (``x.sum(0)``
    of a matrix, a bias gradient): a task owns ``COLS`` neighbouring outputs and walks the
    reduced rows, adding each row's slice into an accumulator array with one SIMD loop,
    instead of reading one strided column per output."""
    kshape, kvecs, rshape, rvecs, names, n_loads, on, rn = col
    ki = kshape[-1]

    def vec(text):
        return re.sub(r"\bnan\b", "nan[j - j0]", re.sub(r"\bacc\b", "acc[j - j0]", text))

    src = [f"  const int64_t KB = ({ki} + {COLS} - 1) / {COLS}, T = {on // ki} * KB;"]
    src.append(f"  int nt = ({on * rn}LL >= {PAR_MIN} && !jit_forked) ? omp_get_max_threads() : 1;")
    src.append("  #pragma omp parallel for num_threads(nt) if(nt > 1) schedule(static)")
    src.append("  for (int64_t tk = 0; tk < T; tk++) {")
    src.append(f"    int64_t ko = tk / KB, j0 = (tk % KB) * {COLS};")
    src.append(f"    int64_t j1 = j0 + {COLS} < {ki} ? j0 + {COLS} : {ki};")
    src += ["    " + s for s in _offsets("k", "ko", kshape[:-1], [q[:-1] for q in kvecs], names)]
    src.append(f"    {act} acc[{COLS}]; int nan[{COLS}];")
    src.append(
        f"    for (int64_t j = j0; j < j1; j++) {{ acc[j - j0] = {init}; nan[j - j0] = 0; }}"
    )
    src.append(f"    for (int64_t r = 0; r < {rn}; r++) {{")
    src += ["      " + s for s in _offsets("r", "r", rshape, rvecs, names)]
    kr = [f"k{nm} + r{nm}" for nm in names]
    src += ["      " + s for s in _row_pointers(k, stores, kr, [v[-1] for v in kvecs])]
    src.append("      #pragma omp simd")
    src.append("      for (int64_t j = j0; j < j1; j++) {")
    src += ["        " + s for s in body]
    src.append(f"        {vec(step)}")
    for i, (_, _, sv) in enumerate(stores):
        src.append(f"        o{i}[j * {kvecs[n_loads + i][-1]}] = {sv};")
    src += ["      }", "    }"]
    ot = CTYPE[red.dtype]
    src.append(f"    for (int64_t j = j0; j < j1; j++) O[ko * {ki} + j] = ({ot})({vec(fin)});")
    src += ["  }", "}"]
    return src


def _reduction_deps(n: Node, canon: dict) -> set[int]:
    """ids of the pending reductions an inlined elementwise node reads."""
    deps, stack, seen = set(), [n], set()
    while stack:
        m = canon[id(stack.pop())]
        if id(m) in seen or m.is_leaf:
            continue
        seen.add(id(m))
        if m.op in REDUCTIONS and m is not n:
            deps.add(id(m))
            continue
        stack.extend(m.args)
    return deps


def schedule(outputs: list[Node], canon: dict, nodes: list[Node], merge: bool = True):
    """The kernels, in run order: ``("red", node, [stored nodes])`` for each reduction
    (dependencies first: ``nodes`` is topological), then ``("ew", shape, [nodes])`` for
    each shape of requested elementwise results (empty shapes need no kernel). With
    ``merge``, a requested elementwise result of a reduction's input shape that does not
    depend on that reduction (or a later one) is stored by the reduction's kernel: the
    trailing reduction and the values it reduces come out of one pass."""
    reds = [n for n in nodes if n.op in REDUCTIONS and not n.is_leaf]
    pos = {id(r): i for i, r in enumerate(reds)}
    also: dict[int, list[Node]] = {id(r): [] for r in reds}
    by_shape: dict[tuple, list[Node]] = {}
    taken = set()
    for n in outputs:
        c = canon[id(n)]
        if c.op in REDUCTIONS or id(c) in taken:
            continue
        taken.add(id(c))
        host = None
        if merge and reds:
            deps = _reduction_deps(c, canon)
            after = max((pos[d] for d in deps), default=-1)
            for r in reds[after + 1 :]:
                if r.args[0].shape == c.shape:
                    host = r
                    break
        if host is not None:
            also[id(host)].append(c)
        else:
            by_shape.setdefault(c.shape, []).append(c)
    plan = [("red", r, also[id(r)]) for r in reds]
    for space, outs in by_shape.items():
        if int(np.prod(space)) if space else 1:
            plan.append(("ew", space, outs))
    return plan


def generate(outputs: list[Node], canon: dict, nodes: list[Node]) -> Program:
    """Schedule the canonical ``nodes`` computing ``outputs`` into kernels; C source."""
    from ember.jit._ir import PRELUDE

    prog = Program()
    prog._outs = {canon[id(n)] for n in outputs}
    for n in outputs:
        prog.slot("out", canon[id(n)])
    kernels = []
    for kid, item in enumerate(schedule(outputs, canon, nodes)):
        if item[0] == "red":
            kernels.append(_reduction(prog, canon, item[1], kid, item[2]))
            prog.groups.append((f"kern{kid}", item[1].args[0].shape, [item[1], *item[2]]))
        else:
            kernels.append(_elementwise(prog, canon, item[1], item[2], kid))
            prog.groups.append((f"kern{kid}", item[1], item[2]))
    calls = "\n".join(f"  kern{i}(P);" for i in range(len(kernels)))
    prog.kernels = kernels
    prog.source = PRELUDE + "\n\n".join(kernels) + f"\n\nvoid run(char **P) {{\n{calls}\n}}\n"
    return prog


__all__ = ["topo", "canonicalize", "schedule", "generate", "Program"]
