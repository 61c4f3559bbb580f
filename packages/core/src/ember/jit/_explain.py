"""``explain(fn, *args)``: the lazy graph ``fn`` builds, its fused kernels, their C source."""

from __future__ import annotations

from ember.jit._lazy import LazyTensor, _State, force
from ember.jit._mode import lazy


class Explanation:
    """What :func:`explain` found. Attributes: ``recorded`` (ops ``fn`` recorded),
    ``computed`` (ops reachable from live results: dead code is the difference),
    ``unique`` (ops left after common-subexpression elimination), ``kernels`` (one
    ``(name, iteration shape, [stored ops])`` per generated kernel, over all graphs
    forced during the call) and ``source`` (their C code)."""

    def __init__(self, recorded, forces):
        self.recorded = len(recorded)
        self.computed = sum(f["computed"] for f in forces)
        self.unique = sum(sum(1 for a in f["args"] if a is not None) for f in forces)
        self.kernels = []
        self.sources = []
        self._lines = []
        for f in forces:
            plan, nodes, node_args = f["plan"], f["nodes"], f["args"]
            names = {}
            for i, n in enumerate(nodes):
                names[id(n)] = f"%{i}"
            for n, n_args in zip(nodes, node_args, strict=True):
                if n_args is None:
                    what = f"const {n.params!r}" if n.op == "const" else "input"
                else:
                    args = ", ".join(names[id(a)] for a in n_args)
                    what = f"{n.op}({args})" + (f" {n.params}" if n.params is not None else "")
                self._lines.append(f"  {names[id(n)]} = {what}  {n.dtype}{list(n.shape)}")
            for name, space, stored in plan.groups:
                self.kernels.append((name, space, [f"%{i}" for i in stored]))
            self.sources.append(plan.source)
        self.source = "\n".join(self.sources)

    def __str__(self) -> str:
        head = (
            f"graph: {self.recorded} ops recorded, {self.computed} computed after dead-code "
            f"elimination, {self.unique} after common-subexpression elimination"
        )
        kern = [f"fused kernels ({len(self.kernels)}):"] + [
            f"  {name}: iterates {list(space)}, stores {', '.join(st)}"
            for name, space, st in self.kernels
        ]
        return "\n".join([head, *self._lines, *kern, "generated source:", self.source])

    __repr__ = __str__


def explain(fn, *args, **kwargs) -> Explanation:
    """Run ``fn(*args, **kwargs)`` lazily and describe it: the graph (after dead-code
    and common-subexpression elimination), the fused kernels and the generated C.
    Print the result for a readable report."""
    fn = getattr(fn, "__wrapped__", fn)
    trace = {"nodes": [], "forces": []}
    _State.trace = trace
    try:
        with lazy():
            result = fn(*args, **kwargs)
            outs = result if isinstance(result, tuple | list) else (result,)
            roots = [t._node for t in outs if type(t) is LazyTensor and t._node is not None]
            if roots:
                force(roots)
    finally:
        _State.trace = None
    del result, outs
    return Explanation(trace["nodes"], trace["forces"])
