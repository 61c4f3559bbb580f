"""The op registry is the public op list: every op has a docstring, is exercised
by at least one core test file (a grep of the test sources), and the committed
machine-readable list ``packages/core/ops.json`` matches the registry."""

import importlib.util
import json
import pathlib
import re

import ember

TESTS = pathlib.Path(__file__).resolve().parent


def _gen():
    spec = importlib.util.spec_from_file_location("gen_op_list", TESTS / "gen_op_list.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _test_sources() -> str:
    return "\n".join(
        p.read_text() for p in sorted(TESTS.glob("test_*.py")) if p.name != "test_ops_registry.py"
    )


def test_there_are_200_plus_core_ops():
    assert len(_gen().core_ops()) >= 200


def test_every_op_has_a_docstring():
    missing = [o.name for o in ember.ops() if not (o.doc or "").strip()]
    assert not missing, f"ops without a docstring: {missing}"


def _mentioned(name: str, text: str) -> bool:
    if "." in name:  # ember.linalg.<fn>: tests spell it linalg.<fn> or LA.<fn>
        short = name.split(".")[-1]
        return re.search(rf"(linalg|LA)\.{re.escape(short)}\b", text) is not None
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text) is not None


def test_every_op_appears_in_a_core_test_file():
    text = _test_sources()
    missing = [o.name for o in ember.ops() if not _mentioned(o.name, text)]
    assert not missing, f"ops that no core test file mentions: {missing}"


def test_ops_json_is_current():
    gen = _gen()
    committed = json.loads(gen.OPS_JSON.read_text())
    current = json.loads(gen.render())
    names_c = {o["name"] for o in committed["ops"]}
    names_n = {o["name"] for o in current["ops"]}
    assert committed == current, (
        "packages/core/ops.json is stale (run python packages/core/tests/gen_op_list.py): "
        f"added {sorted(names_n - names_c)}, removed {sorted(names_c - names_n)}"
    )
    assert committed["count"] == len(committed["ops"])
    for o in committed["ops"]:
        assert o["has_doc"] and o["kind"] and isinstance(o["methods"], list)
