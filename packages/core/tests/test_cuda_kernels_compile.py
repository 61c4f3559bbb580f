"""CPU-side checks of the CUDA back end that need no GPU:

- every ``.cu`` compiles with nvcc (all warnings are errors) for sm_80 and sm_90, as the
  build hook and ``nox -s cuda-compile`` compile them;
- every kernel Python launches (``ember._cuda.loader.KERNELS``) exists in the compiled
  PTX with the parameter count and sizes its declared signature says, so a Python int
  can never be passed where the kernel reads an int32 (or a struct of the wrong size);
- NVRTC (the run-time path when no fatbin was prebuilt) compiles each source, when the
  NVRTC library is installed (``pip install nvidia-cuda-nvrtc``);
- the NVRTC source expansion inlines includes, and argument casting rejects bad input.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from ember._cuda import elementwise, loader, nn, nn_norm, optim, random, reduce  # noqa: F401

BUILD = Path(loader.CUDA_DIR).parent / "_build_cuda.py"


def _build_module():
    spec = importlib.util.spec_from_file_location("_ember_cuda_build", BUILD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_B = _build_module()
needs_nvcc = pytest.mark.skipif(_B.nvcc() is None, reason="nvcc is not installed")

_PTX_SIZES = {"u64": 8, "s64": 8, "b64": 8, "f64": 8, "u32": 4, "s32": 4, "b32": 4, "f32": 4}
_SIG_SIZES = {"p": 8, "q": 8, "Q": 8, "d": 8, "i": 4, "I": 4, "f": 4}
_STRUCTS = {
    "elementwise": loader.INDEXER.itemsize,
    "conv": loader.CONV_GEOM.itemsize,
    "pool": loader.POOL_GEOM.itemsize,
}


def _entries(ptx: str) -> dict[str, list[int]]:
    """kernel name -> parameter sizes in bytes, from PTX ``.entry`` declarations."""
    out = {}
    for m in re.finditer(r"\.entry\s+(\w+)\s*\((.*?)\)", ptx, re.S):
        sizes = []
        for p in filter(None, (s.strip() for s in m.group(2).split(","))):
            arr = re.search(r"\.b8\s+\w+\[(\d+)\]", p)
            if arr:
                sizes.append(int(arr.group(1)))
            else:
                ty = re.search(r"\.param\s+\.(\w+)", p).group(1)
                sizes.append(_PTX_SIZES[ty])
        out[m.group(1)] = sizes
    return out


@pytest.fixture(scope="module")
def ptx(tmp_path_factory) -> dict[str, list[int]]:
    if _B.nvcc() is None:
        pytest.skip("nvcc is not installed")
    path = _B.compile_cuda(tmp_path_factory.mktemp("ptx"), kind="ptx")
    return _entries(path.read_text())


def test_sources_agree_between_build_and_loader():
    assert tuple(_B.SOURCES) == tuple(loader.SOURCES)
    on_disk = sorted(p.stem for p in loader.CUDA_DIR.glob("*.cu"))
    assert on_disk == sorted(loader.SOURCES)


@needs_nvcc
def test_every_declared_kernel_matches_its_compiled_parameters(ptx):
    assert len(loader.KERNELS) > 200
    problems = []
    for name, (source, sig) in sorted(loader.KERNELS.items()):
        if name not in ptx:
            problems.append(f"{name}: not in the compiled module")
            continue
        want = [_STRUCTS[source] if c == "s" else _SIG_SIZES[c] for c in sig]
        if ptx[name] != want:
            problems.append(f"{name}: declared {sig} = {want} bytes, compiled {ptx[name]}")
    assert not problems, "\n".join(problems)


@needs_nvcc
def test_every_compiled_kernel_is_declared(ptx):
    """No dead kernels: each one compiled is launched from Python (or listed here)."""
    undeclared = sorted(set(ptx) - set(loader.KERNELS))
    assert not undeclared, f"kernels no Python code declares: {undeclared[:20]}"


@needs_nvcc
@pytest.mark.parametrize("arch", ["sm_90"])  # sm_80: nox -s cuda-compile
@pytest.mark.parametrize("source", loader.SOURCES)
def test_each_source_compiles_without_warnings(tmp_path, source, arch):
    import subprocess

    cmd = [
        _B.nvcc(),
        *_B.FLAGS,
        f"-arch={arch}",
        "-cubin",
        "-o",
        str(tmp_path / "k.cubin"),
        str(loader.CUDA_DIR / f"{source}.cu"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
        return nvrtc
    except Exception:  # no CuPy, or no libnvrtc: the JIT path cannot be checked here
        return None


@pytest.mark.skipif(_nvrtc() is None, reason="CuPy with an NVRTC library is not installed")
@pytest.mark.parametrize("source", loader.SOURCES)
def test_nvrtc_compiles_each_source(source):
    nvrtc = _nvrtc()
    code = loader.expand_source(loader.CUDA_DIR / f"{source}.cu")
    prog = nvrtc.createProgram(code, f"{source}.cu", [], [])
    try:
        nvrtc.compileProgram(prog, [*loader.NVRTC_OPTIONS, "-arch=compute_80"])
    except Exception as exc:
        pytest.fail(f"NVRTC failed on {source}.cu: {exc}\n{nvrtc.getProgramLog(prog)}")
    ptx = nvrtc.getPTX(prog)
    ptx = ptx.decode() if isinstance(ptx, bytes) else ptx
    names = {n for n, (s, _) in loader.KERNELS.items() if s == source}
    assert names <= set(_entries(ptx))


def test_expand_source_inlines_each_include_once():
    text = loader.expand_source(loader.CUDA_DIR / "philox.cu")
    assert not re.search(r'^\s*#\s*include\s+"', text, re.M)
    assert text.count("struct em_indexer {") == 1
    assert "em_philox_block" in text  # philox_math.inc, one directory up


def test_cast_args_casts_to_exact_c_types():
    class Dev:  # what a CuPy array looks like to the loader: .data.ptr
        class data:
            ptr = 0

    s = np.zeros(1, loader.POOL_GEOM)
    out = loader.cast_args("pqQiIfds", (Dev(), 5, 2**64 - 1, -3, 7, 0.1, 0.1, s))
    assert [type(v) for v in out[1:7]] == [
        np.int64,
        np.uint64,
        np.int32,
        np.uint32,
        np.float32,
        np.float64,
    ]
    assert out[5] == np.float32(0.1) and out[0] is not None and out[7] is s
    assert loader.cast_args("p", (None,)) == (None,)


@pytest.mark.parametrize(
    "sig, args, exc",
    [
        ("i", (2**31,), OverflowError),
        ("Q", (-1,), OverflowError),
        ("p", (np.zeros(3),), TypeError),  # a host array where a device pointer goes
        ("q", (np.zeros(3),), TypeError),
        ("s", (np.zeros(2, loader.POOL_GEOM),), TypeError),
        ("qq", (1,), TypeError),
        ("x", (1,), ValueError),
    ],
)
def test_cast_args_rejects(sig, args, exc):
    with pytest.raises(exc):
        loader.cast_args(sig, args)


def test_struct_layouts_match_the_c_structs():
    # em_indexer: ndim, numel, shape[8], stride[3][8]; conv: 2 + 6*3 int64; pool: 13 int64
    assert loader.INDEXER.itemsize == 8 * (2 + 8 + 24)
    assert loader.CONV_GEOM.itemsize == 8 * 20
    assert loader.POOL_GEOM.itemsize == 8 * 13
    ix = elementwise.indexer((2, 3), np.empty((3,), np.float32), np.empty((3, 2)).T)
    assert int(ix["numel"][0]) == 6 and int(ix["ndim"][0]) == 2
    assert ix["stride"][0, 0, :2].tolist() == [3, 1]  # the output, row-major
    assert ix["stride"][0, 1, :2].tolist() == [0, 1]  # broadcast along dim 0
    assert ix["stride"][0, 2, :2].tolist() == [1, 2]  # a transposed operand
