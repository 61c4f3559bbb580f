"""Run every ``benchmarks/bench_*.py`` and write the results table and chart.

    python benchmarks/report.py                  # the whole suite (tens of minutes)
    python benchmarks/report.py --quick          # small sizes, few repeats (a few minutes)
    python benchmarks/report.py --only core,ops  # rerun some scripts, keep the other rows
    python benchmarks/report.py --args vision='--root /data/fashion-mnist'

Writes ``benchmarks/results/latest.md`` (one row per figure: ember, numpy, PyTorch,
the ratio, machine, date and command), ``latest.json`` (the same, for merging
later runs) and ``ratios.png`` (a bar chart of the ratios). The ratio is how many
times better ember is than PyTorch (numpy where PyTorch was not measured): above
1 ember is faster (or leaner), below 1 slower; it is measured side by side in one
run on one machine, so it is meaningful where absolute times on a shared machine
are not.

PyTorch is a reference peer, never an ember dependency: scripts import it when the
interpreter has it, and those that run it in a separate process get
``--torch-python`` (this interpreter when it has torch, else the option's value).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _parsers import PARSERS  # noqa: E402
from _report import Figure  # noqa: E402

# Extra arguments for --quick, by script stem (scripts with their own --quick get it).
QUICK = {
    "bench_random": ["--n", "1048576", "--repeats", "3"],
    "bench_nn_kernels": ["--repeats", "3"],
    "bench_optim": ["--repeats", "3", "--tensors", "20"],
    "bench_conv": ["--repeat", "3"],
    "bench_lstm": ["--repeat", "3"],
    "bench_lenet": ["--steps", "5", "--rounds", "2"],
    "bench_dataloader": ["--repeats", "1", "--epochs", "1"],
    "bench_vision": ["--epochs", "1", "--limit", "6000"],
}


def machine() -> str:
    """CPU model, core count and load: the context every figure depends on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{model}, {os.cpu_count()} cores, load {load:.1f}"


def torch_python(explicit: str | None) -> str | None:
    """An interpreter that has torch: the given one, else this one if it has torch."""
    if explicit:
        return explicit
    try:
        import importlib.util

        return sys.executable if importlib.util.find_spec("torch") else None
    except (ImportError, ValueError):
        return None


def command_for(
    script: Path, quick: bool, tpy: str | None, json_path: Path | None, extra: dict | None = None
) -> list[str]:
    """The command line that runs ``script`` (its flags chosen from its own source)."""
    src = script.read_text()
    cmd = [sys.executable, str(script), *(extra or {}).get(script.stem, [])]
    if quick:
        cmd += ["--quick"] if '"--quick"' in src else QUICK.get(script.stem, [])
    if tpy and '"--torch-python"' in src:
        cmd += ["--torch-python", tpy]
    if json_path is not None and '"--json"' in src:
        cmd += ["--json", str(json_path)]
    return cmd


def run_script(script: Path, args) -> dict:
    """Run one benchmark; return its rows (or its raw output when none could be read)."""
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "figures.json"
        cmd = command_for(script, args.quick, args.tpy, json_path, args.extra)
        root = str(HERE.parent) + os.sep
        shown = " ".join(shlex.quote(c.removeprefix(root)) for c in cmd)
        shown = shown.replace(shlex.quote(sys.executable), "python")
        shown = shown.replace(f"--json {shlex.quote(str(json_path))}", "--json F")
        print(f"== {shown}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            out, rc = proc.stdout, proc.returncode
            err = proc.stderr
        except subprocess.TimeoutExpired as exc:
            out, rc = (exc.stdout or b"").decode(errors="replace"), "timeout"
            err = f"timed out after {args.timeout} s"
        print(out, end="", flush=True)
        figs: list[Figure] = []
        if json_path.exists():
            figs = [Figure(**f) for f in json.loads(json_path.read_text())["figures"]]
        elif script.stem in PARSERS:
            figs = PARSERS[script.stem](out)
    stamp = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    rec = {
        "script": script.stem,
        "command": shown,
        "machine": machine(),
        "date": stamp,
        "seconds": round(time.perf_counter() - t0, 1),
        "rows": [asdict(f) for f in figs],
        "error": None,
        "raw": None,
    }
    if rc != 0:
        rec["error"] = f"exit status {rc}: " + (err or "").strip()[-1500:]
    if not figs:
        rec["raw"] = out[-4000:]
    return rec


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def render_md(results: list[dict]) -> str:
    """The Markdown report: one table of every figure, then failures and unparsed output."""
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python benchmarks/report.py` (`nox -s bench`). **ratio** = how many",
        "times better ember is than PyTorch (numpy where PyTorch was not measured; `×np`",
        "marks those): above 1 ember is faster or leaner. Values are medians measured side",
        "by side in one process, so compare ratios, not absolute values, across machines.",
        "",
        "![ratios](ratios.png)",
        "",
        "| figure | unit | ember | numpy | PyTorch | ratio | machine | date | command |",
        "|---|---|--:|--:|--:|--:|---|---|---|",
    ]
    for r in results:
        for row in r["rows"]:
            f = Figure(**row)
            ratio, vs = f.ratio()
            rs = "–" if ratio is None else f"{ratio:.2f}" + (" ×np" if vs == "numpy" else "")
            unit = f.unit + (" ↑" if f.better == "higher" else " ↓")
            lines.append(
                f"| {f.figure} | {unit} | {_fmt(f.ember)} | {_fmt(f.numpy)} | "
                f"{_fmt(f.torch)} | {rs} | {r['machine']} | {r['date']} | `{r['command']}` |"
            )
    for r in results:
        if r["error"] or r["raw"]:
            lines += ["", f"## {r['script']}: " + ("failed" if r["error"] else "no figures read")]
            lines += ["", f"`{r['command']}` ({r['date']}, {r['machine']})", ""]
            if r["error"]:
                lines += ["```", r["error"], "```"]
            if r["raw"]:
                lines += ["Output:", "", "```", r["raw"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


def chart(results: list[dict], path: Path) -> str:
    """A horizontal bar chart of every ratio (log scale, 1 marked); matplotlib if present,
    else drawn with Pillow. Returns the tool used, or '' when neither is installed."""
    bars = []
    for r in results:
        for row in r["rows"]:
            ratio, vs = Figure(**row).ratio()
            if ratio:
                bars.append((f"{row['figure']}" + (" (vs numpy)" if vs == "numpy" else ""), ratio))
    if not bars:
        return ""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _chart_pil(bars, path)
    fig, ax = plt.subplots(figsize=(9, 0.22 * len(bars) + 1.2))
    names, values = zip(*bars)
    colors = ["#2a9d8f" if v >= 1 else "#e76f51" for v in values]
    ax.barh(range(len(bars)), values, color=colors)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(bars)), names, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("ember speed-up vs PyTorch (numpy where noted); > 1 is better")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return "matplotlib"


def _chart_pil(bars: list[tuple[str, float]], path: Path) -> str:
    import math

    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return ""
    row_h, left, width = 14, 330, 420
    img = Image.new("RGB", (left + width + 20, row_h * len(bars) + 40), "white")
    d = ImageDraw.Draw(img)
    lo, hi = math.log10(0.1), math.log10(10.0)

    def x(v: float) -> int:
        return left + int((min(max(math.log10(v), lo), hi) - lo) / (hi - lo) * width)

    for i, (name, v) in enumerate(bars):
        y = 10 + i * row_h
        d.text((4, y), name[:52], fill="black")
        d.rectangle([min(x(1), x(v)), y + 2, max(x(1), x(v)), y + row_h - 3],
                    fill=(42, 157, 143) if v >= 1 else (231, 111, 81))  # fmt: skip
    d.line([x(1), 5, x(1), row_h * len(bars) + 15], fill="black")
    d.text(
        (left, row_h * len(bars) + 20),
        "0.1x        ember vs PyTorch (log)        10x",
        fill="black",
    )
    img.save(path)
    return "pillow"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    ap.add_argument("--only", default="", help="comma-separated script names (core, ops, ...)")
    ap.add_argument("--torch-python", help="interpreter with torch==2.13.0, for child processes")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="extra arguments for one script, e.g. vision='--root /data/fashion-mnist'",
    )
    args = ap.parse_args(argv)
    args.extra = {}
    for item in args.args:
        name, sep, rest = item.partition("=")
        if not sep:
            ap.error(f"--args takes NAME=ARGS, got {item!r}")
        args.extra[name if name.startswith("bench_") else f"bench_{name}"] = shlex.split(rest)
    args.tpy = torch_python(args.torch_python)
    only = {s if s.startswith("bench_") else f"bench_{s}" for s in args.only.split(",") if s}
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not only or p.stem in only)
    if only - {p.stem for p in scripts}:
        ap.error(f"no such benchmark: {sorted(only - {p.stem for p in scripts})}")
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "latest.json"
    previous = json.loads(store.read_text())["results"] if store.exists() and only else []
    fresh = [run_script(s, args) for s in scripts]
    ran = {r["script"] for r in fresh}
    results = sorted([r for r in previous if r["script"] not in ran] + fresh,
                     key=lambda r: r["script"])  # fmt: skip
    store.write_text(json.dumps({"results": results}, indent=1, ensure_ascii=False) + "\n")
    (args.out / "latest.md").write_text(render_md(results))
    tool = chart(results, args.out / "ratios.png")
    n = sum(len(r["rows"]) for r in results)
    drawn = f" (chart: {tool})" if tool else " (no chart: install matplotlib or pillow)"
    print(f"\n{n} figures from {len(results)} scripts -> {args.out / 'latest.md'}{drawn}")
    failed = [r["script"] for r in fresh if r["error"]]
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
