"""Machine-readable benchmark figures, shared by the ``bench_*.py`` scripts and ``report.py``.

A benchmark script may record each figure it prints::

    from _report import Recorder          # benchmarks/ is the script's own folder

    rec = Recorder.from_argv()            # reads an optional --json PATH, leaves argv alone
    rec.add("a + b, 1-element float32", "us", ember=0.9, numpy=0.5, torch=1.2)
    rec.save()                            # writes PATH when --json was given

``report.py`` runs a script with ``--json PATH`` when its source mentions ``--json``
and reads the file; other scripts' printed tables are parsed (``_parsers.py``).

A figure is one row: a name, a unit, the values of ember, numpy and PyTorch (any may
be None), and whether lower or higher is better (from the unit unless given: rates
such as ``GB/s`` or ``images/s`` are higher-better, times lower-better).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Figure", "Recorder", "better_for", "speedup"]


def better_for(unit: str) -> str:
    """``'higher'`` for rates (a ``/`` in the unit, or ``%``), else ``'lower'``."""
    return "higher" if ("/" in unit or unit == "%") else "lower"


@dataclass
class Figure:
    """One measured figure: ember's value and the references' (None when not measured)."""

    figure: str
    unit: str
    ember: float | None
    numpy: float | None = None
    torch: float | None = None
    better: str = ""

    def __post_init__(self) -> None:
        if not self.better:
            self.better = better_for(self.unit)
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', got {self.better!r}")

    def ratio(self) -> tuple[float | None, str]:
        """ember's speed relative to PyTorch (numpy when PyTorch was not measured):
        ``> 1`` means ember is better. Returns ``(ratio, 'PyTorch' | 'numpy' | '')``."""
        for other, label in ((self.torch, "PyTorch"), (self.numpy, "numpy")):
            r = speedup(self.ember, other, self.better)
            if r is not None:
                return r, label
        return None, ""


def speedup(ember: float | None, other: float | None, better: str) -> float | None:
    """How many times better ember's value is than ``other`` (None if either is missing)."""
    if not ember or not other:
        return None
    return other / ember if better == "lower" else ember / other


@dataclass
class Recorder:
    """Collects figures; ``save()`` writes them as JSON when a path was given."""

    path: Path | None = None
    figures: list[Figure] = field(default_factory=list)

    @classmethod
    def from_argv(cls, argv: list[str] | None = None) -> Recorder:
        """Take ``--json PATH`` (or ``--json=PATH``) out of ``sys.argv`` so the script's
        own argument parser never sees it."""
        args = sys.argv if argv is None else argv
        path = None
        for i, a in enumerate(list(args)):
            if a == "--json" and i + 1 < len(args):
                path = args[i + 1]
                del args[i : i + 2]
                break
            if a.startswith("--json="):
                path = a.split("=", 1)[1]
                del args[i]
                break
        return cls(Path(path) if path else None)

    def add(
        self,
        figure: str,
        unit: str,
        ember: float | None,
        numpy: float | None = None,
        torch: float | None = None,
        better: str = "",
    ) -> Figure:
        """Record one figure and return it."""
        f = Figure(figure, unit, _num(ember), _num(numpy), _num(torch), better)
        self.figures.append(f)
        return f

    def save(self) -> None:
        """Write ``{"figures": [...]}`` to the ``--json`` path, if one was given."""
        if self.path is not None:
            self.path.write_text(json.dumps({"figures": [asdict(f) for f in self.figures]}))


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if v == v else None  # NaN (not measured) -> None
