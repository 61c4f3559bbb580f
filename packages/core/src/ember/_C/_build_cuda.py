"""Ahead-of-time compile of ember's CUDA kernels with nvcc (used by the build hook).

All ``cuda/*.cu`` sources are included into one translation unit and compiled into one
fatbin with SASS for sm_80 (A100) and sm_90 (H100/H200) plus compute_90 PTX that newer
GPUs JIT. No nvcc on PATH (or ``EMBER_CUDA_AOT=0``): nothing is built and the kernels are
compiled by NVRTC at first use instead. A failing nvcc compile raises: it must fail the
build, never ship a wheel without kernels that it claims to have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CUDA_DIR = HERE / "cuda"
# Same order as ember._cuda.loader.SOURCES (kept in sync by tests/test_cuda_kernels_compile).
SOURCES = ("elementwise", "reduce", "softmax", "conv", "pool", "norm", "optim", "philox")
ARCHS = (
    "-gencode=arch=compute_80,code=sm_80",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
)
# The flags every compile of these sources uses (the loader's NVRTC options match):
# --fmad=false keeps results equal to the CPU kernels' (Philox bit for bit).
FLAGS = ("--fmad=false", "-std=c++17", "-Werror", "all-warnings")
FATBIN_NAME = "ember_kernels.fatbin"


def nvcc() -> str | None:
    """The nvcc to use: $EMBER_NVCC, else nvcc on PATH, else CUDA_HOME's; None if none."""
    if os.environ.get("EMBER_CUDA_AOT", "1") == "0":
        return None
    for cand in (os.environ.get("EMBER_NVCC"), shutil.which("nvcc")):
        if cand and Path(cand).is_file():
            return cand
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    cand = Path(home) / "bin" / "nvcc"
    return str(cand) if cand.is_file() else None


def all_in_one(tmpdir: str | Path) -> Path:
    """A .cu file that includes every source (one module holds every kernel)."""
    path = Path(tmpdir) / "ember_kernels.cu"
    path.write_text("".join(f'#include "{CUDA_DIR / s}.cu"\n' for s in SOURCES))
    return path


def compile_cuda(tmpdir: str | Path, kind: str = "fatbin", archs=ARCHS) -> Path | None:
    """Compile all kernels into ``tmpdir`` (``kind`` 'fatbin' or 'ptx'); None without
    nvcc. Raises RuntimeError with nvcc's output when the compile fails."""
    exe = nvcc()
    if exe is None:
        return None
    src = all_in_one(tmpdir)
    out = Path(tmpdir) / (FATBIN_NAME if kind == "fatbin" else "ember_kernels.ptx")
    cmd = [exe, *FLAGS, f"-I{CUDA_DIR}", f"--{kind}", "-o", str(out), str(src)]
    cmd += list(archs) if kind == "fatbin" else ["-arch=compute_80"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"nvcc failed to compile ember's CUDA kernels ({' '.join(cmd)}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return out


if __name__ == "__main__":
    import sys

    print(compile_cuda(sys.argv[1] if len(sys.argv) > 1 else "."))
