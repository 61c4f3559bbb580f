"""ember.jit's CUDA generator: the source for a graph of every fusible op (all dtypes,
broadcasting, strided inputs) and for every reduction (op x dtype x dims, feeding later
kernels) compiles with nvcc for sm_80 and sm_90, and with NVRTC (the compiler lazy mode
uses through CuPy) with ember's NVRTC options. Compile-only: no GPU is needed (each
test is skipped where its compiler is missing; ``EMBER_NVRTC_LIB`` may name
``libnvrtc.so``)."""

import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess
import sys

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
    zero_d = ember.from_numpy(np.asarray(np.float32(1.5)))
    empty = ember.from_numpy(np.zeros((0, 3), np.float32))
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
        zero_d.exp() * 2,  # 0-d elementwise and reductions
        zero_d.sum(),
        (zero_d + f64).amax(),
        empty.sum(1),  # reductions over an empty range write their identity
        empty.sum(0) + 1,
    ]
    return outs


def _reductions():
    """Every reduction op on every dtype it takes, over trailing, leading, middle and all
    dims, with keepdim, and reductions feeding elementwise kernels and other reductions."""
    rng = np.random.default_rng(1)
    xs = {
        "b": ember.from_numpy(rng.random((3, 4, 5)) > 0.5),
        "u8": ember.from_numpy(rng.integers(0, 9, (3, 4, 5)).astype(np.uint8)),
        "i8": ember.from_numpy(rng.integers(-9, 9, (3, 4, 5)).astype(np.int8)),
        "i16": ember.from_numpy(rng.integers(-9, 9, (3, 4, 5)).astype(np.int16)),
        "i32": ember.from_numpy(rng.integers(-9, 9, (3, 4, 5)).astype(np.int32)),
        "i64": ember.from_numpy(rng.integers(-9, 9, (3, 4, 5))),
        "f32": ember.from_numpy(rng.standard_normal((3, 4, 5)).astype(np.float32)),
        "f64": ember.from_numpy(rng.standard_normal((3, 4, 5))),
    }
    outs = []
    for name, x in xs.items():
        for op in ("sum", "mean", "amax", "amin"):
            if op == "mean" and name[0] != "f":
                continue
            for dim, keep in ((None, False), (2, False), (0, True), (1, False), ((0, 2), True)):
                outs.append(
                    getattr(x, op)(dim, keepdim=keep) if dim is not None else getattr(x, op)()
                )
    # long ranges with few outputs: two-pass (chunk partials, then their combination)
    big = {k: ember.from_numpy(_rand_big(rng, k)) for k in ("b", "i32", "f32", "f64")}
    for name, x in big.items():
        for op in ("sum", "mean", "amax", "amin"):
            if op == "mean" and name[0] != "f":
                continue
            outs += [getattr(x, op)(), getattr(x, op)(1, keepdim=True)]
    f = xs["f32"]
    outs.append(f - f.amax(2, keepdim=True))  # a reduction read by an elementwise kernel
    outs.append((f - f.mean(1, keepdim=True)).abs().amax())  # ... and by another reduction
    outs.append(ember.softmax(f, 1))
    return outs


def _rand_big(rng, kind):
    shape = (2, 70000)  # over _cuda.SPLIT_MIN elements per output
    if kind == "b":
        return rng.random(shape) > 0.5
    if kind == "i32":
        return rng.integers(-9, 9, shape).astype(np.int32)
    return rng.standard_normal(shape).astype(np.float32 if kind == "f32" else np.float64)


def _sources():
    with np.errstate(all="ignore"), ember.jit.lazy():
        ops = _cuda.source_for(_graph())
        reds = _cuda.source_for(_reductions())
    assert ops.count("__global__") >= 4 and reds.count("__global__") >= 100
    assert reds.count("__global__ void ember_jit_kern") > reds.count("a(char *P0")  # split ones
    assert reds.count("a(char *P0") >= 20
    return {"ops": ops, "reductions": reds}


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_cuda_source_for_every_fusible_op_and_reduction_compiles_with_nvcc(tmp_path):
    for label, src in _sources().items():
        path = tmp_path / f"{label}.cu"
        path.write_text(src)
        for arch in ("sm_80", "sm_90"):
            r = subprocess.run(
                ["nvcc", "-std=c++17", "--fmad=false", f"-arch={arch}", "-c", str(path)]
                + ["-o", str(tmp_path / "k.o")],
                capture_output=True,
                text=True,
            )
            assert r.returncode == 0, f"{label} {arch}: " + r.stderr[-4000:]


def _nvrtc():
    """libnvrtc through ctypes, or None: ``$EMBER_NVRTC_LIB``, the system's, or the one
    the nvidia-cuda-nvrtc wheel installs beside this interpreter's packages."""
    cands = [os.environ.get("EMBER_NVRTC_LIB"), ctypes.util.find_library("nvrtc")]
    for p in sys.path:
        cands += sorted(glob.glob(os.path.join(p, "nvidia", "*", "lib", "libnvrtc.so*")))
        cands += sorted(glob.glob(os.path.join(p, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")))
    for c in cands:
        if c and "builtins" not in c:
            try:
                return ctypes.CDLL(c)
            except OSError:
                continue
    return None


def _nvrtc_compile(lib, src: str, options: list[str]) -> tuple[int, str, int]:
    """(result code, log, cubin size) of NVRTC compiling ``src`` with ``options``."""
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"jit.cu", 0, None, None)
    assert rc == 0, f"nvrtcCreateProgram: {rc}"
    try:
        opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        rc = lib.nvrtcCompileProgram(prog, len(options), opts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        cubin = ctypes.c_size_t(0)
        if rc == 0:
            assert lib.nvrtcGetCUBINSize(prog, ctypes.byref(cubin)) == 0
        return rc, log.value.decode(errors="replace"), cubin.value
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def test_cuda_source_compiles_with_nvrtc_and_the_options_lazy_mode_uses():
    lib = _nvrtc()
    if lib is None:
        pytest.skip(
            "libnvrtc is not installed (pip install nvidia-cuda-nvrtc, or set EMBER_NVRTC_LIB)"
        )
    from ember.jit import _gpu

    opts = list(_gpu.nvrtc_options()) + ["-ftz=true"]  # CuPy's RawModule adds -ftz=true
    # an invalid source fails: the helper can tell success from failure
    assert (
        _nvrtc_compile(lib, "__global__ void k() { undefined_name(); }", opts + ["-arch=sm_90"])[0]
        != 0
    )
    for label, src in _sources().items():
        for arch in ("sm_80", "sm_90"):
            rc, log, cubin = _nvrtc_compile(lib, src, opts + [f"-arch={arch}"])
            assert rc == 0, f"{label} {arch}: {log[-4000:]}"
            assert cubin > 0


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
