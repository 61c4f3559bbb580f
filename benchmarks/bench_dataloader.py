"""DataLoader throughput: ember.data vs PyTorch's torch.utils.data, same dataset logic.

A dataset of 50,000 items, each a uint8 32x32x3 image turned into a normalized
3x32x32 float32 tensor plus an int label, loaded in batches of 128 with
num_workers 0 and 2. Each measurement is one full epoch (worker start-up
included, as a non-persistent loader pays it every epoch) in a fresh child
process; frameworks and worker counts are interleaved across repeats and the
medians compared. A second section times moving one 128x3x32x32 float32 batch
from a worker to the main process through ember's shared memory vs pickling it
through a pipe.

    python benchmarks/bench_dataloader.py --torch-python /tmp/venv-torch/bin/python

The torch interpreter needs ``torch`` and ``numpy`` (ember is not imported there).
Without ``--torch-python`` only ember is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

N_ITEMS = 50_000
BATCH = 128
MEAN = np.array([0.4914, 0.4822, 0.4465], np.float32).reshape(3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], np.float32).reshape(3, 1, 1)


class ImageDataset:
    """The shared dataset logic; ``to_tensor`` is ember.from_numpy or torch.from_numpy."""

    def __init__(self, to_tensor, n: int = N_ITEMS) -> None:
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        self.labels = rng.integers(0, 10, n).tolist()
        self.to_tensor = to_tensor
        self.scale = (1.0 / (255.0 * STD)).astype(np.float32)
        self.shift = (MEAN / STD).astype(np.float32)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.images[i].transpose(2, 0, 1).astype(np.float32)
        x *= self.scale
        x -= self.shift
        return self.to_tensor(x), self.labels[i]


def _child(framework: str, num_workers: int, epochs: int) -> None:
    if framework == "torch":
        import torch
        from torch.utils.data import DataLoader

        torch.set_num_threads(1)
        dataset = ImageDataset(torch.from_numpy)
    else:
        import ember
        from ember.data import DataLoader

        dataset = ImageDataset(ember.from_numpy)
    times, cpu = [], []
    for _ in range(epochs):
        c0 = _cpu_seconds()
        t0 = time.perf_counter()
        loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=num_workers)
        n = 0
        for x, _y in loader:
            n += x.shape[0]
        times.append(time.perf_counter() - t0)
        del loader, x, _y
        cpu.append(_cpu_seconds() - c0)  # workers are joined by now: their time counts
        assert n == N_ITEMS, n
    print(
        json.dumps(
            {
                "items_per_s": [N_ITEMS / t for t in times],
                "items_per_cpu_s": [N_ITEMS / c for c in cpu],
            }
        )
    )


def _cpu_seconds() -> float:
    # Main process plus reaped workers: a figure that other load on a shared
    # machine does not distort the way wall-clock throughput is distorted.
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _run_child(python: str, framework: str, num_workers: int, epochs: int) -> dict:
    out = subprocess.run(
        [python, __file__, "--child", framework, str(num_workers), str(epochs)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _transport(repeats: int) -> dict[str, float]:
    """Seconds per 128x3x32x32 float32 batch, worker -> main, shared memory vs pickle."""
    import multiprocessing as mp

    from ember.data import _shm

    ctx = mp.get_context("fork")
    shape = (BATCH, 3, 32, 32)

    def shm_worker(conn, count):
        writer = _shm.Writer(_shm.new_prefix(0, _shm.new_token()))
        src = np.ones(shape, np.float32)
        for _ in range(count):
            out = writer.allocate(shape, np.float32)
            out[...] = src  # collate writes the batch into the segment
            conn.send(writer.pack(out))
            writer.sent()
        conn.close()

    def pickle_worker(conn, count):
        src = np.ones(shape, np.float32)
        for _ in range(count):
            out = np.empty(shape, np.float32)
            out[...] = src
            conn.send(out)
        conn.close()

    results: dict[str, list[float]] = {"shared memory": [], "pickle": []}
    for _ in range(repeats):
        for name, target in (("shared memory", shm_worker), ("pickle", pickle_worker)):
            reader, writer = ctx.Pipe(duplex=False)
            count = 200
            p = ctx.Process(target=target, args=(writer, count))
            p.start()
            writer.close()
            t0 = time.perf_counter()
            total = 0.0
            for _ in range(count):
                msg = reader.recv()
                batch = _shm.unpack(msg) if name == "shared memory" else msg
                total += float(batch[0, 0, 0, 0])  # touch it, as training would
            results[name].append((time.perf_counter() - t0) / count)
            p.join()
    return {k: statistics.median(v) for k, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-python", help="interpreter with torch installed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per child process")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), int(args.child[2]))
        return

    frameworks = {"ember": sys.executable}
    if args.torch_python:
        frameworks["torch"] = args.torch_python
    rates: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(args.repeats):
        for workers in args.workers:
            for name, python in frameworks.items():
                for key, values in _run_child(python, name, workers, args.epochs).items():
                    rates.setdefault((key, name, workers), []).extend(values)
    print(f"DataLoader, {N_ITEMS} items of 3x32x32 float32, batch {BATCH}, shuffle")
    print(f"medians over {args.repeats} x {args.epochs} epochs, interleaved")
    for key, label in (("items_per_s", "items/s"), ("items_per_cpu_s", "items/CPU-s")):
        for workers in args.workers:
            e = statistics.median(rates[key, "ember", workers])
            line = f"  {label:11s} num_workers={workers}: ember {e:9.0f}"
            if "torch" in frameworks:
                t = statistics.median(rates[key, "torch", workers])
                line += f"   torch {t:9.0f}   ember/torch {e / t:5.2f}x"
            print(line)
    tr = _transport(args.repeats)
    print("worker -> main transport of one 128x3x32x32 float32 batch (median per batch):")
    print(
        f"  shared memory {tr['shared memory'] * 1e6:7.1f} us   pickle {tr['pickle'] * 1e6:7.1f} us"
        f"   speed-up {tr['pickle'] / tr['shared memory']:4.2f}x"
    )


if __name__ == "__main__":
    main()
