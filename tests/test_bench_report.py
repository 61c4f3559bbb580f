"""benchmarks/report.py: figures read from the scripts' real printed tables (samples
copied from runs of the scripts), the ratio's direction, the Markdown table, the chart,
and the ``--json`` path through ``_report.Recorder``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import _parsers  # noqa: E402
import report  # noqa: E402
from _report import Figure, Recorder  # noqa: E402

CORE = """\
ember threads=2 torch=2.13.0+cpu torch threads=2 cpus=2
figure                                 unit         ember     numpy     torch
add 16M float32                        GB/s          2.35      2.19      1.58   ember/  1.07x numpy
two-layer net, autograd, 100 steps     steps/s      18.45         -    254.66   ember/  0.07x torch
graph memory, traced bytes at 10/50/100% bytes        10640     18448     28016
"""

OVERHEAD = """\
figure                                       ember     numpy     torch  torch/ember
a + b, 1-element float32 (µs)                2.236     1.049     3.694         1.65
10-op chain fwd+bwd, per op (µs)            31.397         -    22.383         0.71
"""

DATALOADER = """\
DataLoader, 50000 items of 3x32x32 float32, batch 128, shuffle
  items/s     num_workers=2: ember      8679   torch     15587   ember/torch  0.56x
  items/CPU-s num_workers=0: ember     62016   torch     55340   ember/torch  1.12x
  shared memory  3184.9 us   pickle  9174.6 us   speed-up 2.88x
"""

VISION = """\
LeNet, Fashion-MNIST (60000 train / 10000 test), 2 epochs, Adam lr 0.001, batch 64, 1 threads
  ember  : test acc 87.08%  train 162.9 s  total 171.6 s
  torch  : test acc 87.27%  train 122.7 s  total 127.9 s
"""


def test_core_rows_and_missing_values():
    figs = _parsers.core(CORE)
    assert [f.figure for f in figs] == ["add 16M float32", "two-layer net, autograd, 100 steps"]
    add, net = figs
    assert (add.unit, add.ember, add.numpy, add.torch, add.better) == (
        "GB/s", 2.35, 2.19, 1.58, "higher"
    )  # fmt: skip
    assert net.numpy is None and net.torch == 254.66
    assert net.ratio() == pytest.approx((18.45 / 254.66, "PyTorch"))


def test_overhead_is_lower_better_in_microseconds():
    add, chain = _parsers.overhead(OVERHEAD)
    assert add.figure == "a + b, 1-element float32" and add.unit == "us"
    assert add.ratio() == pytest.approx((3.694 / 2.236, "PyTorch"))  # PyTorch slower: > 1
    assert chain.numpy is None and chain.ratio()[0] == pytest.approx(22.383 / 31.397)


def test_dataloader_and_vision():
    w2, cpu0 = _parsers.dataloader(DATALOADER)
    assert (w2.figure, w2.unit, w2.ember, w2.torch) == (
        "DataLoader num_workers=2", "items/s", 8679, 15587
    )  # fmt: skip
    assert cpu0.unit == "items/CPU-s" and cpu0.ratio()[0] == pytest.approx(62016 / 55340)
    time_row, acc = _parsers.vision(VISION)
    assert time_row.ratio()[0] == pytest.approx(122.7 / 162.9)
    assert acc.unit == "%" and acc.better == "higher" and acc.torch == 87.27


def test_ratio_falls_back_to_numpy_and_handles_missing():
    assert Figure("x", "ms", 2.0, numpy=4.0).ratio() == (2.0, "numpy")
    assert Figure("x", "ms", 2.0).ratio() == (None, "")
    with pytest.raises(ValueError, match="better"):
        Figure("x", "ms", 1.0, better="faster")


def test_recorder_takes_json_out_of_argv(tmp_path):
    argv = ["bench.py", "--repeats", "3", "--json", str(tmp_path / "f.json")]
    rec = Recorder.from_argv(argv)
    assert argv == ["bench.py", "--repeats", "3"]
    rec.add("op", "ms", 1.0, numpy=float("nan"), torch=2.0)
    rec.save()
    (row,) = json.loads((tmp_path / "f.json").read_text())["figures"]
    assert row == {
        "figure": "op", "unit": "ms", "ember": 1.0, "numpy": None, "torch": 2.0,
        "better": "lower",
    }  # fmt: skip


def test_markdown_and_chart(tmp_path):
    results = [
        {
            "script": "bench_overhead",
            "command": "python benchmarks/bench_overhead.py",
            "machine": "test cpu, 2 cores, load 1.0",
            "date": "2025-01-01 00:00",
            "rows": [vars(f) for f in _parsers.overhead(OVERHEAD)],
            "error": None,
            "raw": None,
        },
        {
            "script": "bench_new",
            "command": "python benchmarks/bench_new.py",
            "machine": "m",
            "date": "d",
            "rows": [],
            "error": "exit status 1: boom",
            "raw": "some output",
        },
    ]
    md = report.render_md(results)
    assert "| a + b, 1-element float32 | us ↓ | 2.24 | 1.05 | 3.69 | 1.65 |" in md
    assert "## bench_new: failed" in md and "boom" in md and "some output" in md
    tool = report.chart(results, tmp_path / "r.png")
    if tool:
        assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if tool != "pillow":
        pytest.importorskip("PIL")
        assert report._chart_pil([("a", 2.0), ("b", 0.5)], tmp_path / "p.png") == "pillow"
        assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_flags_come_from_each_script(tmp_path):
    own = tmp_path / "bench_own.py"
    own.write_text('p.add_argument("--quick")\np.add_argument("--torch-python")\n')
    cmd = report.command_for(own, True, "/py/torch", None)
    assert cmd[2:] == ["--quick", "--torch-python", "/py/torch"]
    other = tmp_path / "bench_conv.py"
    other.write_text('p.add_argument("--repeat")\np.add_argument("--json")\n')
    cmd = report.command_for(other, True, None, tmp_path / "f.json", {"bench_conv": ["-x"]})
    assert cmd[2:] == ["-x", "--repeat", "3", "--json", str(tmp_path / "f.json")]


def test_text_and_imagefolder_rows():
    out = (
        "  ember : valid ppl    417.9       1858 tokens/s\n"
        "  torch : valid ppl    453.5       2434 tokens/s\n"
        "  ember :    41.9 sentences/s\n"
    )
    lm, ppl, st = _parsers.text(out)
    assert (lm.ember, lm.torch, lm.better) == (1858, 2434, "higher")
    assert ppl.better == "lower" and ppl.ratio()[0] == pytest.approx(453.5 / 417.9)
    assert st.torch is None and st.ratio() == (None, "")
    (folder,) = _parsers.vision(
        "  ember DataLoader, 2 workers: 149 img/s\n"
        "  PIL+numpy loop, 1 process        : 160 img/s  (ratio 0.93x)\n"
    )
    assert folder.ratio() == pytest.approx((149 / 160, "numpy"))


JIT_OUT = """torch.compile: compiled in 50.0 s

4M float32, 10-op chain, 2 thread(s), median of 5:
  ember lazy              30.00 ms    4.47 GB/s  eager/this  7.00x
  ember eager            210.00 ms    0.64 GB/s  eager/this  1.00x
  numpy                  250.00 ms    0.54 GB/s  eager/this  0.84x
  torch eager            150.00 ms    0.89 GB/s  eager/this  1.40x
  torch.compile           40.00 ms    3.36 GB/s  eager/this  5.25x
  ember lazy vs torch.compile: 1.33x

new signature: codegen + C compile 300 ms; from the disk cache 1.5 ms
cache-hit overhead on a 16-element input (per call):
  compile replay                        6.0 µs
  eager (10 ops)                       15.0 µs
"""


def test_jit_rows():
    figs = {f.figure: f for f in _parsers.jit(JIT_OUT)}
    lazy = figs["10-op chain 4M f32, 2 thr: ember.jit lazy"]
    assert (lazy.ember, lazy.numpy, lazy.torch) == (30.0, 250.0, 150.0)
    assert lazy.ratio() == (5.0, "PyTorch")
    assert figs["10-op chain 4M f32, 2 thr: ember.jit lazy vs torch.compile"].torch == 40.0
    assert figs["ember.jit: compile a new signature"].ember == 300.0
    assert figs["ember.jit 16 elements: compile replay"].unit == "us"
