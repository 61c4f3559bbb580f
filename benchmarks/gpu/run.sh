#!/usr/bin/env bash
# The whole GPU check in one call, on a fresh GPU machine with no registry access
# (Python 3.12 with numpy, cupy-cuda13x, PyTorch, pytest and nvcc; no cffi, no hatchling):
#   1. installs ember from the wheels in .whl/ (built beforehand on a machine with
#      Python 3.12 and the registries, see "Preparing .whl/" below) into a scratch dir;
#   2. runs the CUDA test suite (every op against its CPU result, gradients included;
#      ember's kernels against the CPU kernels; device plumbing);
#   3. runs the GPU benchmarks and prints a short table last.
# Usage (repo root): bash benchmarks/gpu/run.sh      Results also go to $OUT (or /tmp).
# Stays within 8 minutes: each stage has its own time limit.
#
# Preparing .whl/ (on the build machine; .whl/ is git-ignored):
#   python3.12 -m pip wheel --no-deps -w .whl packages/*
#   python3.12 -m pip download --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --no-deps -d .whl \
#       cffi pycparser ml_dtypes pillow requests urllib3 idna charset-normalizer certifi \
#       setuptools
# With the device tool: run(command="bash benchmarks/gpu/run.sh", carry=[".whl"],
# timeout_s=540): .whl/ is git-ignored, so it travels only when carried.
set -u
T0=$SECONDS
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/ember-gpu-out}
SITE=${EMBER_SITE:-/tmp/ember-site}
mkdir -p "$OUT"
say() { echo "[run.sh $((SECONDS - T0))s] $*"; }

say "machine: $(uname -m), $($PY --version 2>&1)"
nvidia-smi -L 2>/dev/null || say "nvidia-smi: no GPU listed"
$PY -c "import numpy, sys; print('numpy', numpy.__version__)" || exit 1
$PY -c "import cupy; print('cupy', cupy.__version__)" 2>/dev/null || say "cupy is not installed"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
    2>/dev/null || say "torch is not installed (the benchmarks will have no PyTorch column)"

# ---- 1. install ------------------------------------------------------------------------
PYTAG=$($PY -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
mapfile -t WHEELS < <(ls "$ROOT"/.whl/*.whl 2>/dev/null | grep -E -- "-(${PYTAG}|py3)-" )
if [ ${#WHEELS[@]} -eq 0 ]; then
    say "no $PYTAG wheels in $ROOT/.whl: build them first (see the header of this script)"
    exit 1
fi
rm -rf "$SITE"
if ! $PY -m pip install --quiet --no-index --no-deps --target "$SITE" "${WHEELS[@]}" \
        > "$OUT/install.log" 2>&1; then
    say "pip install failed:"; tail -20 "$OUT/install.log"; exit 1
fi
export PYTHONPATH="$SITE"
if ! $PY -c "import ember" 2> "$OUT/import.log"; then
    # The wheel's ember._C does not load here (system libraries differ): build it with this
    # machine's compiler through the same cffi builder the wheel's build hook uses.
    say "ember._C from the wheel does not load ($(tail -1 "$OUT/import.log")); rebuilding it here"
    BUILD=$(mktemp -d)
    so=$($PY "$ROOT/packages/core/src/ember/_C/_build.py" "$BUILD" | tail -1) \
        && cp "$so" "$SITE/ember/_C/" && $PY -c "import ember" \
        || { say "could not build ember._C on this machine"; exit 1; }
fi
$PY -c "import ember, ember.cuda; print('ember', ember.__version__, 'from', ember.__file__)"
if ! $PY -c "import ember, sys; sys.exit(0 if ember.cuda.is_available() else 3)"; then
    say "NO GPU: ember.cuda.is_available() is False (no CUDA device, no driver, or no CuPy)."
    say "The install works; the CUDA tests and benchmarks need a GPU and were not run."
    exit 3
fi
FAT=$($PY -c "from ember._cuda import loader; print(loader.use_fatbin())")
say "GPU: $($PY -c "import ember; print(ember.cuda.get_device_name())"); prebuilt fatbin: $FAT"

# ---- 2. CUDA test suite ----------------------------------------------------------------
cd "$ROOT"
# core's op-by-op suite, then the layers above on CUDA vs the CPU (nn layers and a LeNet
# step, every optimizer, the autograd formulas that allocate; ember.jit's CUDA kernels;
# the profiler's CUDA event times): one pytest run, so CuPy's
# kernel compiles are shared. -x is off: every failure is listed.
say "CUDA tests (limit 300 s)"
timeout 300 $PY -m pytest -q -p no:cacheprovider -rfE \
    --junitxml="$OUT/cuda-tests.xml" \
    packages/core/tests/test_cuda_device.py packages/core/tests/test_cuda_kernels.py \
    packages/core/tests/test_cuda_ops.py packages/core/tests/test_cuda_support.py \
    packages/autograd/tests/test_autograd_cuda_formulas.py \
    packages/nn/tests/test_nn_cuda_layers.py \
    packages/optim/tests/test_optim_cuda_steps.py \
    packages/core/tests/test_jit_cuda_run.py packages/core/tests/test_profiler.py \
    > "$OUT/cuda-tests.log" 2>&1
TEST_RC=$?
grep -E "^(FAILED|ERROR)" "$OUT/cuda-tests.log" | head -60
TEST_LINE=$(tail -1 "$OUT/cuda-tests.log")
[ $TEST_RC -eq 124 ] && TEST_LINE="TIMED OUT after 300 s; last line: $TEST_LINE"

# ---- 3. benchmarks ---------------------------------------------------------------------
say "GPU benchmarks (limit 150 s)"
timeout 150 $PY benchmarks/gpu/bench_gpu.py --budget 100 --out "$OUT" > "$OUT/bench.log" 2>&1
BENCH_RC=$?
grep -E "failed|skipped" "$OUT/bench.log" | head -10

# ---- summary, last ---------------------------------------------------------------------
echo
say "done (tests rc=$TEST_RC, bench rc=$BENCH_RC); logs in $OUT"
echo "CUDA tests: $TEST_LINE"
if [ -f "$OUT/bench_gpu.txt" ]; then cat "$OUT/bench_gpu.txt"; else tail -15 "$OUT/bench.log"; fi
[ $TEST_RC -eq 0 ] && [ $BENCH_RC -eq 0 ]
