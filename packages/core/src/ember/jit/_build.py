"""Compile generated C with cffi into a cache of shared libraries.

Disk layout: ``<cache>/<key>/_ejit_<key>.<ext-suffix>`` where ``<cache>`` is
``$EMBER_JIT_CACHE`` or ``~/.cache/ember/jit`` and ``<key>`` hashes the source,
the flags, the compiler and the CPU (``-march=native`` code must not run on a
different CPU sharing the home directory). A build happens in a temporary
directory beside the final one, which is then renamed into place: ``rename`` is
atomic, so a concurrent process either sees no directory or a complete library;
the loser of a race discards its own build and loads the winner's.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# No -ffast-math: results must keep NaN/inf semantics and each op's rounding, as eager
# ops do (hence also no FMA contraction). -fwrapv gives integer overflow numpy's
# wrap-around instead of undefined behaviour.
CFLAGS = [
    "-std=gnu11",
    "-O3",
    "-march=native",
    "-mprefer-vector-width=512",
    "-fopenmp",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-ffp-contract=off",
    "-fwrapv",
    "-w",
]
LDFLAGS = ["-fopenmp", "-lm"]

STATS = {
    "hits": 0,  # plans found in memory by graph signature
    "misses": 0,  # plans generated (then found on disk or compiled)
    "disk_hits": 0,  # libraries loaded from the disk cache
    "compiles": 0,  # C compilations
    "cuda_modules": 0,  # CUDA modules compiled by NVRTC (or loaded from CuPy's disk cache)
    "compile_seconds": 0.0,
    "forces": 0,  # graph evaluations
    "kernels_run": 0,
    "replays": 0,  # ember.jit.compile calls that skipped graph building
}
_loaded: dict[str, object] = {}


def cache_dir() -> Path:
    """Where compiled kernels live (``EMBER_JIT_CACHE`` overrides ``~/.cache/ember/jit``)."""
    env = os.environ.get("EMBER_JIT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ember" / "jit"


def _machine_tag() -> str:
    cc = os.environ.get("CC", "gcc")
    try:
        ver = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout[:200]
    except OSError:
        ver = "?"
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    return ver + flags


_TAG: str | None = None


def source_key(source: str) -> str:
    """The cache key of a translation unit on this machine."""
    global _TAG
    if _TAG is None:
        _TAG = _machine_tag()
    h = hashlib.sha256()
    for part in (source, " ".join(CFLAGS), _TAG, sys.version):
        h.update(part.encode())
    return h.hexdigest()[:24]


def _suffix() -> str:
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def _load(path: Path, modname: str):
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def library(source: str, cdef: str):
    """The compiled module (``.lib``/``.ffi``) for ``source``: from memory, from the
    disk cache, or built now."""
    key = source_key(source)
    mod = _loaded.get(key)
    if mod is not None:
        return mod
    modname = f"_ejit_{key}"
    root = cache_dir()
    final = root / key
    path = final / (modname + _suffix())
    if path.exists():
        STATS["disk_hits"] += 1
    else:
        _build(source, cdef, modname, root, final)
    mod = _loaded[key] = _load(path, modname)
    return mod


def _build(source: str, cdef: str, modname: str, root: Path, final: Path) -> None:
    try:
        import cffi
    except ImportError as exc:  # pragma: no cover - cffi is a core dependency
        raise RuntimeError("ember.jit needs cffi to compile kernels: pip install cffi") from exc
    try:  # cffi compiles through setuptools (distutils is gone from Python 3.12)
        import setuptools  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        if sys.version_info >= (3, 12):
            raise RuntimeError(
                "ember.jit compiles kernels with cffi, which needs setuptools on Python "
                "3.12+: pip install setuptools"
            ) from None
    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        ffi.set_source(modname, source, extra_compile_args=CFLAGS, extra_link_args=LDFLAGS)
        (tmp / "kernel.c").write_text(source)  # kept beside the library for explain/debugging
        try:
            built = ffi.compile(tmpdir=str(tmp / "work"), verbose=False)
        except Exception as exc:
            failed = root / f"failed-{final.name}.c"
            failed.write_text(source)
            raise RuntimeError(
                f"ember.jit: compiling a generated kernel failed; the source is in {failed}: "
                f"{str(exc)[-300:]}"
            ) from None
        stage = tmp / "out"
        stage.mkdir()
        shutil.move(built, stage / Path(built).name)
        shutil.copy(tmp / "kernel.c", stage / "kernel.c")
        try:
            os.rename(stage, final)  # atomic: readers never see a partial directory
        except OSError:
            if not (final / (modname + _suffix())).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    STATS["compiles"] += 1
    STATS["compile_seconds"] += time.perf_counter() - t0
