"""Read the figures out of each benchmark script's printed table.

One small parser per script, keyed by the script's stem. Each takes the script's
stdout and returns ``Figure``s; a script with no parser (or whose output no longer
matches) contributes its raw output to the report instead, so nothing is lost when
a script changes its format. Scripts that record figures through ``_report.Recorder``
(``--json``) need no parser.
"""

from __future__ import annotations

import re

from _report import Figure

NUM = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|-|nan)"


def _f(s: str) -> float | None:
    return None if s in ("-", "nan") else float(s)


def _columns(line: str, name_width: int, n: int) -> tuple[str, list[float | None]] | None:
    """A fixed-width name column followed by ``n`` numbers (``-`` or ``nan`` for none)."""
    name, rest = line[:name_width].strip(), line[name_width:].split()
    if not name or len(rest) < n or not all(re.fullmatch(NUM, x) for x in rest[:n]):
        return None
    return name, [_f(x) for x in rest[:n]]


def core(out: str) -> list[Figure]:
    figs = []
    for line in out.splitlines():
        if line.startswith("figure") or "graph memory" in line:
            continue
        unit = line[39:47].strip()
        m = _columns(line[:38] + line[47:], 38, 3) if unit else None
        if m:
            name, (e, n, t) = m
            figs.append(Figure(name, unit, e, n, t))
    return figs


def overhead(out: str) -> list[Figure]:
    figs = []
    for line in out.splitlines():
        m = None if line.startswith("figure") else _columns(line, 40, 3)
        if m:
            name, (e, n, t) = m
            unit = "us" if "(µs)" in name else ""
            figs.append(Figure(name.replace(" (µs)", ""), unit, e, n, t, "lower"))
    return figs


def _sectioned(out: str, header: str, width: int, unit: str, with_thr: bool) -> list[Figure]:
    figs, threads = [], None
    for line in out.splitlines():
        h = re.search(header, line)
        if h:
            threads = h.group(1)
            continue
        if threads is None and not with_thr:
            continue
        if with_thr:
            m = re.match(rf"(.{{{width}}})\s+(\d+)\s+{NUM}\s+{NUM}\s+{NUM}", line)
            if m:
                e, n, t = (_f(m.group(i)) for i in (3, 4, 5))
                figs.append(Figure(f"{m.group(1).strip()} ({m.group(2)} thr)", unit, e, n, t))
            continue
        m = _columns(line, width, 3)
        if m:
            name, (e, n, t) = m
            figs.append(Figure(f"{name} ({threads} thr)", unit, e, n, t))
    return figs


def kernels(out: str) -> list[Figure]:
    body = out.split("== crossover")[0]
    return _sectioned(body, r"^== \d+ float32 elements, (\d+) thread", 26, "GB/s", False)


def random(out: str) -> list[Figure]:
    return _sectioned(out, r"^## (\d+) thread", 34, "ms", False)


def nn_kernels(out: str) -> list[Figure]:
    return _sectioned(out, r"^$^", 44, "ms", True)


def ops(out: str) -> list[Figure]:
    figs = []
    for line in out.splitlines():
        m = None if line.startswith("op ") else _columns(line, 30, 3)
        if m:
            name, (e, n, t) = m
            figs.append(Figure(name, "ms", e, n, t))
    return figs


def optim(out: str) -> list[Figure]:
    figs, threads, label, rows = [], None, None, {}

    def flush():
        if label and rows:
            torch = next((v for k, v in rows.items() if k.startswith("torch")), None)
            figs.append(
                Figure(
                    f"{label} step ({threads} thr)",
                    "ms",
                    rows.get("ember (fused C)"),
                    rows.get("ember (numpy chain)"),
                    torch,
                )
            )

    for line in out.splitlines():
        h = re.match(r"^(\d+) thread", line)
        if h:
            flush()
            threads, label, rows = h.group(1), None, {}
            continue
        m = re.match(r"^ {4}(\S.{33})\s+([\d.]+) ms", line)
        if m:
            rows[m.group(1).strip()] = float(m.group(2))
            continue
        m = re.match(r"^ {2}(\S.*\S)\s*$", line)
        if m and threads:
            flush()
            label, rows = m.group(1), {}
    flush()
    return figs


def conv(out: str) -> list[Figure]:
    figs = []
    for line in out.splitlines():
        m = re.match(r"^(.{12}) (\S+)\s+ember\s+([\d.]+) ms(?:\s+torch\s+([\d.]+) ms)?", line)
        if m:
            t = float(m.group(4)) if m.group(4) else None
            figs.append(
                Figure(
                    f"conv2d {m.group(1).strip()} {m.group(2)}", "ms", float(m.group(3)), None, t
                )
            )
    return figs


def lstm(out: str) -> list[Figure]:
    figs = []
    for line in out.splitlines():
        m = re.match(r"^\s+(\S.*?)\s+ember\s+([\d.]+) ms(?:\s+torch\s+([\d.]+) ms)?", line)
        if m:
            t = float(m.group(3)) if m.group(3) else None
            figs.append(Figure(f"LSTM {m.group(1)}", "ms", float(m.group(2)), None, t))
    return figs


def lenet(out: str) -> list[Figure]:
    vals = {}
    for line in out.splitlines():
        m = re.match(r"^\s+(ember|torch)\s+([\d.]+) images/s\s+peak RSS\s+([\d.]+|nan) MB", line)
        if m:
            vals[m.group(1)] = (float(m.group(2)), _f(m.group(3)))
    if "ember" not in vals:
        return []
    t = vals.get("torch", (None, None))
    return [
        Figure("LeNet-5 SGD training", "images/s", vals["ember"][0], None, t[0]),
        Figure("LeNet-5 SGD training, peak RSS", "MB", vals["ember"][1], None, t[1]),
    ]


def dataloader(out: str) -> list[Figure]:
    figs = []
    for line in out.splitlines():
        m = re.match(
            r"^\s+(items/s|items/CPU-s)\s+num_workers=(\d+):\s+ember\s+([\d.]+)"
            r"(?:\s+torch\s+([\d.]+))?",
            line,
        )
        if m:
            t = float(m.group(4)) if m.group(4) else None
            fig = f"DataLoader num_workers={m.group(2)}"
            figs.append(Figure(fig, m.group(1), float(m.group(3)), None, t))
    return figs


def vision(out: str) -> list[Figure]:
    figs, vals = [], {}
    m = re.search(r"ember DataLoader, (\d+) workers: ([\d.]+) img/s", out)
    p = re.search(r"PIL\+numpy loop, 1 process\s*: ([\d.]+) img/s", out)
    if m:  # the plain numpy/PIL loop is the numpy column
        figs.append(
            Figure(
                f"ImageFolder pipeline, {m.group(1)} workers",
                "img/s",
                float(m.group(2)),
                float(p.group(1)) if p else None,
            )
        )
    for line in out.splitlines():
        m = re.match(r"^\s+(ember|torch)\s+: test acc ([\d.]+)%\s+train ([\d.]+) s", line)
        if m:
            vals[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    if "ember" not in vals:
        return figs
    t = vals.get("torch", (None, None))
    return figs + [
        Figure("LeNet Fashion-MNIST, train time", "s", vals["ember"][1], None, t[1]),
        Figure("LeNet Fashion-MNIST, test accuracy", "%", vals["ember"][0], None, t[0]),
    ]


def text(out: str) -> list[Figure]:
    lm, st = {}, {}
    for line in out.splitlines():
        m = re.match(r"^\s+(ember|torch)\s*:\s+valid ppl\s+([\d.]+)\s+([\d.]+) tokens/s", line)
        if m:
            lm[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        m = re.match(r"^\s+(ember|torch)\s*:\s+([\d.]+) sentences/s", line)
        if m:
            st[m.group(1)] = float(m.group(2))
    figs = []
    if "ember" in lm:
        t = lm.get("torch", (None, None))
        figs.append(Figure("LSTM LM (Wikipedia) training", "tokens/s", lm["ember"][1], None, t[1]))
        figs.append(
            Figure("LSTM LM (Wikipedia) valid perplexity", "ppl", lm["ember"][0], None, t[0])
        )
    if "ember" in st:
        figs.append(
            Figure("MiniLM sentence embedding", "sentences/s", st["ember"], None, st.get("torch"))
        )
    return figs


def jit(out: str) -> list[Figure]:
    """bench_jit: per thread count, the fused chain against eager ember, numpy, torch
    eager and torch.compile; then compile time and the cache-hit overhead."""
    figs: list[Figure] = []
    section: dict = {}

    def flush() -> None:
        ms = section.get("ms", {})
        if "ember lazy" not in ms:
            return
        name = f"10-op chain {section['size']} f32, {section['threads']} thr"
        numpy, torch = ms.get("numpy"), ms.get("torch eager")
        figs.append(Figure(f"{name}: eager ember", "ms", ms.get("ember eager"), numpy, torch))
        figs.append(Figure(f"{name}: ember.jit lazy", "ms", ms["ember lazy"], numpy, torch))
        if "torch.compile" in ms:
            figs.append(
                Figure(f"{name}: ember.jit lazy vs torch.compile", "ms", ms["ember lazy"],
                       None, ms["torch.compile"])
            )  # fmt: skip
        section.clear()

    for line in out.splitlines():
        h = re.match(r"^(\d+M) float32, 10-op chain, (\d+) thread", line)
        if h:
            flush()
            section.update(size=h.group(1), threads=h.group(2), ms={})
            continue
        m = re.match(r"^  (\S.*?)\s+([\d.]+) ms\s", line)
        if m and "ms" in section:
            section["ms"][m.group(1)] = float(m.group(2))
        c = re.search(r"codegen \+ C compile (\d+) ms; from the disk cache ([\d.]+) ms", line)
        if c:
            flush()
            figs.append(Figure("ember.jit: compile a new signature", "ms", float(c.group(1))))
            figs.append(Figure("ember.jit: load a signature from disk", "ms", float(c.group(2))))
        r = re.match(r"^  (compile replay|eager \(10 ops\))\s+([\d.]+) µs", line)
        if r:
            figs.append(Figure(f"ember.jit 16 elements: {r.group(1)}", "us", float(r.group(2))))
    flush()
    return figs


PARSERS = {
    "bench_core": core,
    "bench_overhead": overhead,
    "bench_kernels": kernels,
    "bench_random": random,
    "bench_nn_kernels": nn_kernels,
    "bench_ops": ops,
    "bench_optim": optim,
    "bench_conv": conv,
    "bench_lstm": lstm,
    "bench_lenet": lenet,
    "bench_dataloader": dataloader,
    "bench_vision": vision,
    "bench_text": text,
    "bench_jit": jit,
}
