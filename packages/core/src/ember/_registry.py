"""The op registry: one entry per public op.

An entry names the op, the function that implements it (its CPU path; the
CUDA backend registers per-device kernels under the same name), its kind, and
whether it is differentiable. ember-autograd attaches a derivative to each
differentiable entry; ``ember.ops()`` lists them all, so tests can check that
every op has a docstring, a test and (when differentiable) a derivative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OpInfo", "OPS", "register", "ops"]


@dataclass
class OpInfo:
    name: str
    fn: object
    kind: str
    differentiable: bool = True
    methods: tuple[str, ...] = ()
    inplace: str | None = None
    derivative: object = None
    devices: dict = field(default_factory=dict)

    @property
    def doc(self) -> str | None:
        return getattr(self.fn, "__doc__", None)


OPS: dict[str, OpInfo] = {}


def register(
    name: str, fn, kind: str, *, differentiable: bool = True, methods=(), inplace: str | None = None
) -> OpInfo:
    """Add op ``name`` implemented by ``fn``; ``methods`` are Tensor method names for it."""
    if name in OPS:
        raise ValueError(f"op {name!r} is registered twice")
    info = OPS[name] = OpInfo(name, fn, kind, differentiable, tuple(methods), inplace)
    info.devices["cpu"] = fn
    return info


def ops(kind: str | None = None) -> list[OpInfo]:
    """The registered ops (optionally only one ``kind``), sorted by name."""
    return sorted((o for o in OPS.values() if kind is None or o.kind == kind), key=lambda o: o.name)
