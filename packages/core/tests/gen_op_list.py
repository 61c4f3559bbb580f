"""Write ``packages/core/ops.json``: the machine-readable list of ember-core's public ops.

One entry per registry op (name, kind, differentiable, Tensor methods, in-place
form, defining module, whether it has a docstring, and the docstring's first
line). ``test_ops_registry.py`` checks the committed file is current; after
adding an op, run ``python packages/core/tests/gen_op_list.py``.
"""

from __future__ import annotations

import json
import pathlib
import sys

OPS_JSON = pathlib.Path(__file__).resolve().parents[1] / "ops.json"


def core_ops() -> list[dict]:
    """The registry entries defined by ember-core itself (siblings may add more)."""
    import ember

    out = []
    for info in ember.ops():
        module = getattr(info.fn, "__module__", "") or ""
        if not (module.startswith("ember._ops") or module in ("ember.linalg", "ember._tensor")):
            continue
        doc = (info.doc or "").strip()
        out.append(
            {
                "name": info.name,
                "kind": info.kind,
                "differentiable": bool(info.differentiable),
                "methods": list(info.methods),
                "inplace": info.inplace,
                "module": module,
                "has_doc": bool(doc),
                "summary": doc.splitlines()[0] if doc else "",
            }
        )
    return out


def render() -> str:
    ops = core_ops()
    return json.dumps({"count": len(ops), "ops": ops}, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    OPS_JSON.write_text(render())
    print(f"wrote {OPS_JSON} ({len(core_ops())} ops)", file=sys.stderr)
