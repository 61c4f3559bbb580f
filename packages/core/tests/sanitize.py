"""Run the kernel tests against an AddressSanitizer + UBSan build of ember._C.

    python packages/core/tests/sanitize.py [--examples N] [pytest args...]

Builds the C library with EMBER_SANITIZE=1 (see ember/_C/_build.py) into a temporary
overlay of the ember package (the installed one is left alone), then runs the C kernels'
test files (listed in main) with libasan preloaded (it must be the first library in the
process). Leak detection is off: CPython itself "leaks" by design.
Exits non-zero on a test failure or on any sanitizer report.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src" / "ember"
REPORT_MARKERS = (
    "ERROR: AddressSanitizer",
    "runtime error:",
    "ERROR: LeakSanitizer",
    "UndefinedBehaviorSanitizer",
)


def build_overlay(root: Path) -> Path:
    """Copy ember's Python sources to ``root`` and compile a sanitized ember._C into it."""
    pkg = root / "ember"
    shutil.copytree(SRC, pkg, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    spec = importlib.util.spec_from_file_location("_ember_cffi_build", SRC / "_C" / "_build.py")
    builder = importlib.util.module_from_spec(spec)
    os.environ["EMBER_SANITIZE"] = "1"
    spec.loader.exec_module(builder)
    so = Path(builder.build(str(root / "build")))
    shutil.copy2(so, pkg / "_C" / so.name)
    return root


def libasan() -> str:
    path = subprocess.run(
        ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        sys.exit(f"sanitize.py: gcc does not know libasan.so (got {path!r}); install libasan")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--examples",
        type=int,
        default=300,
        help="hypothesis examples per fuzz test (EMBER_FUZZ_EXAMPLES)",
    )
    args, pytest_args = ap.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="ember-asan-") as tmp:
        print("building sanitized ember._C ...", flush=True)
        overlay = build_overlay(Path(tmp))
        env = dict(os.environ)
        env.update(
            LD_PRELOAD=libasan(),
            ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1",
            UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
            PYTHONPATH=os.pathsep.join([str(overlay), env.get("PYTHONPATH", "")]),
            EMBER_FUZZ_EXAMPLES=str(args.examples),
            # OpenMP threads stay on so races on shared buffers would show up as overflows
        )
        env.pop("EMBER_SANITIZE", None)
        check = (
            "import ember._C, sys; p = ember._C.__file__; "
            f"sys.exit(0 if p.startswith({str(overlay)!r}) else 'not the overlay: ' + p)"
        )
        subprocess.run([sys.executable, "-c", check], env=env, check=True)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(HERE / "test_kernels_fuzz.py"),
            str(HERE / "test_kernels.py"),
            str(HERE / "test_kernels_paths.py"),
            str(HERE / "test_kernels_bridge.py"),
            str(HERE / "test_nn_kernels_fuzz.py"),
            str(HERE / "test_nn_kernels.py"),
            str(HERE / "test_nn_kernels_convw.py"),
            str(HERE / "test_nn_kernels_rnn.py"),
            str(HERE / "test_optim_kernels.py"),
            str(HERE / "test_random.py"),
            *pytest_args,
        ]
        proc = subprocess.run(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        sys.stdout.write(proc.stdout)
        reported = [m for m in REPORT_MARKERS if m in proc.stdout]
        if reported:
            print(f"sanitize.py: sanitizer report(s) found: {reported}", file=sys.stderr)
            return 1
        if proc.returncode:
            print(f"sanitize.py: tests failed (exit {proc.returncode})", file=sys.stderr)
        else:
            print("sanitize.py: clean (ASan + UBSan)")
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
