"""ember.jit's CUDA generator: the source for a graph of every fusible op (all dtypes,
broadcasting, strided inputs, reductions) compiles with nvcc for sm_80 and sm_90.
Compile-only: no GPU is needed (the test is skipped where nvcc is missing)."""

import shutil
import subprocess

import numpy as np
import pytest

import ember
from ember.jit import _cuda
from ember.jit._ir import BINARY, UNARY_FLOAT, UNARY_PRED, UNARY_SAME


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_JIT_CACHE", str(tmp_path / "jit"))


def _graph():
    rng = np.random.default_rng(0)
    f32 = ember.from_numpy(rng.standard_normal((6, 5)).astype(np.float32))
    f64 = ember.from_numpy(rng.standard_normal((5,)))
    i32 = ember.from_numpy(rng.integers(1, 9, (6, 5)).astype(np.int32))
    u8 = ember.from_numpy(rng.integers(0, 9, (5,)).astype(np.uint8))
    b = ember.from_numpy(rng.random((6, 1)) > 0.5)
    strided = ember.from_numpy(rng.standard_normal((5, 12)).astype(np.float32)).t()[::2]
    outs = []
    for name in sorted({*UNARY_FLOAT, *UNARY_SAME, *UNARY_PRED}):
        for x in (f32, f64, i32):
            try:
                outs.append(getattr(ember, name)(x))
            except (RuntimeError, TypeError):
                pass
    for name in BINARY:
        for x, y in ((f32, f64), (i32, u8), (f32, 2.5), (b, b), (strided, f32)):
            try:
                outs.append(getattr(ember, name)(x, y))
            except (RuntimeError, TypeError):
                pass
    outs += [
        ember.where(b, f32, f64),
        f32.clamp(-1, 1),
        ember.clamp(i32, u8, 7),
        f32.to(ember.int8),
        i32.to(ember.float64),
        (f32 * f64).sum(1),
        (f32.exp() + 1).mean(),
        strided.amax(0, keepdim=True),
        (i32 * 3).amin(1),
        b.sum(),
        (f32 - f32.mean(1, keepdim=True)).tanh().sum((0, 1)),
    ]
    return outs


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_cuda_source_for_every_fusible_op_compiles_with_nvcc(tmp_path):
    with np.errstate(all="ignore"), ember.jit.lazy():
        outs = _graph()
        src = _cuda.source_for(outs)
    assert src.count("__global__") >= 4
    path = tmp_path / "k.cu"
    path.write_text(src)
    for arch in ("sm_80", "sm_90"):
        r = subprocess.run(
            ["nvcc", "-std=c++17", f"-arch={arch}", "-c", str(path), "-o", str(tmp_path / "k.o")],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr[-4000:]


def test_cuda_source_structure_without_nvcc():
    x = ember.randn(3, 4)
    with ember.jit.lazy():
        y = (x * 2).tanh()
        s = y.sum(1)
        src = _cuda.source_for([y, s])
    # one reduction kernel and one elementwise kernel, each taking every program slot
    assert src.count('extern "C" __global__ void ember_jit_kern') == 2
    assert "__shared__" in src and "tanhf(" in src
    assert "ember_jit_kern0(char *P0, char *P1, char *P2)" in src
