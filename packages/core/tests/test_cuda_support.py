"""The declared CUDA support table (ember._cuda.support) and the error paths of the CUDA
back end, checked on the CPU.

The dry run's ``ember._cuda.standin.StandIn`` (a numpy subclass that looks like a CuPy
array to ember: it has ``__cuda_array_interface__`` and ``.device.id``, and, like CuPy,
refuses to compute with host arrays) stands in for device storage, so the device
plumbing, the device-mismatch errors and the NotImplementedError of ops without a CUDA
path are exercised without a GPU.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import _nn_kernels
from ember._cuda import support
from ember._cuda.standin import to_standin
from ember._registry import OPS
from ember._tensor import _wrap

REPO = Path(__file__).resolve().parents[3]


def fake(a) -> ember.Tensor:
    return _wrap(to_standin(np.asarray(a)))


# ----- the table ---------------------------------------------------------------------------
def test_every_registered_op_has_one_status():
    t = support.table()
    assert set(t) == set(OPS)
    assert set(t.values()) <= {"kernel", "cupy", "cpu", "unsupported"}
    for name in support.KERNEL | set(support.UNSUPPORTED) | support.CPU_BY_DEFINITION:
        assert name in OPS, f"the table names {name!r}, which is not a registered op"


def _sources(pkg: str) -> str:
    root = REPO / "packages" / pkg / "src"
    if not root.is_dir():
        pytest.skip(f"packages/{pkg} is not in this checkout")
    return "\n".join(p.read_text() for p in sorted(root.rglob("*.py")))


def _used_ops(text: str) -> set[str]:
    """Registered ops a package's source calls: ``ember.x(``, ``E.x(``, ``.x(`` (methods
    and module-qualified calls; over-inclusive on purpose)."""
    used = set()
    for name, info in OPS.items():
        short = name.split(".")[-1]
        for n in {short, *info.methods, *([info.inplace] if info.inplace else [])}:
            if re.search(rf"\.{re.escape(n)}\(", text):
                used.add(name)
    return used


@pytest.mark.parametrize("pkg", ["autograd", "nn", "optim"])
def test_no_op_that_autograd_nn_or_optim_uses_lacks_a_cuda_path(pkg):
    used = _used_ops(_sources(pkg))
    lacking = sorted(used & set(support.UNSUPPORTED))
    assert not lacking, f"ember-{pkg} uses ops with no CUDA path: {lacking}"


def test_unsupported_ops_lacking_a_cuda_path_are_listed_with_reasons():
    # The current list, spelled out so that a change to it is a visible decision.
    assert sorted(support.UNSUPPORTED) == ["linalg.cholesky_ex", "linalg.inv_ex", "multinomial"]
    assert all(len(r) > 10 for r in support.UNSUPPORTED.values())


@pytest.mark.parametrize(
    "name, call",
    [
        ("multinomial", lambda x: ember.multinomial(x, 2)),
        ("linalg.inv_ex", lambda x: ember.linalg.inv_ex(x.reshape(2, 2))),
        ("linalg.cholesky_ex", lambda x: ember.linalg.cholesky_ex(x.reshape(2, 2))),
    ],
)
def test_unsupported_ops_raise_not_implemented_naming_op_and_device(name, call):
    x = fake(np.array([0.25, 0.25, 0.25, 0.25]))
    with pytest.raises(
        NotImplementedError,
        match=rf"{re.escape(name)} is not implemented for "
        r"device cuda:0",
    ):
        call(x)
    assert sorted(support.UNSUPPORTED) == sorted(
        n for n in support.UNSUPPORTED if support.status(n) == "unsupported"
    )


@pytest.mark.parametrize("name", sorted(support.NN_KERNELS_UNSUPPORTED))
def test_nn_kernels_without_cuda_versions_raise_not_implemented(name):
    x = to_standin(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(NotImplementedError, match=f"{name} is not implemented for device cuda"):
        getattr(_nn_kernels, name)(x, 2)


def test_every_nn_kernel_has_a_cuda_version_or_is_declared_missing():
    from ember._nn_kernels import _cuda_version

    for name in _nn_kernels.__all__:
        if name in ("pool_output_size", "conv_output_shape"):
            continue
        has = _cuda_version(name) is not None
        assert has != (name in support.NN_KERNELS_UNSUPPORTED), name


def test_nn_kernels_keep_their_cpu_behaviour_and_docs():
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    y = _nn_kernels.softmax(x)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-6)
    assert _nn_kernels.softmax.__doc__ and _nn_kernels.softmax.__wrapped__ is not None


# ----- device plumbing with fake device storage --------------------------------------------
def test_a_tensor_on_device_storage_reports_cuda():
    x = fake(np.array([1.0, 2.0], np.float32))
    assert x.device == ember.device("cuda:0") and x.is_cuda and not x.is_cpu
    assert str(x.device) == "cuda:0" and x.type() == "ember.cuda.FloatTensor"
    with pytest.raises(TypeError, match="use .cpu"):
        x.numpy()


MISMATCH = (
    "Expected all tensors to be on the same device, but found at least two devices, {} and {}!"
)


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a * b,
        lambda a, b: ember.maximum(a, b),
        lambda a, b: a.double() - b,  # the promotion path
        lambda a, b: ember.cat([a, b]),
        lambda a, b: ember.stack([a, b]),
        lambda a, b: ember.where(a > 0, a, b),
        lambda a, b: ember.matmul(a, b),
        lambda a, b: ember.dot(a, b),
    ],
)
def test_mixing_devices_in_one_op_raises_pytorchs_error(op):
    cpu, dev = ember.tensor([1.0, 2.0]), fake(np.array([3.0, 4.0], np.float32))
    with pytest.raises(RuntimeError, match=re.escape(MISMATCH.format("cpu", "cuda:0"))):
        op(cpu, dev)


def test_ember_import_does_not_import_cupy():
    code = "import sys, ember; ember.ones(2) + 1; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_device_strings():
    d = ember.device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert ember.device("cuda") == "cuda" and ember.device(0) == ember.device("cuda:0")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ember.device("tpu:0")


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the no-GPU errors")
@pytest.mark.parametrize(
    "call",
    [
        lambda: ember.ones(2).cuda(),
        lambda: ember.ones(2).to("cuda:0"),
        lambda: ember.zeros(3, device="cuda"),
        lambda: ember.randn(3, device="cuda"),
        lambda: ember.tensor([1.0], device="cuda"),
        lambda: ember.cuda.Stream(),
        lambda: ember.cuda.Event(enable_timing=True),
        lambda: ember.cuda.memory_allocated(),
        lambda: ember.cuda.synchronize(),
    ],
)
def test_without_a_gpu_cuda_requests_say_what_is_missing(call):
    with pytest.raises(RuntimeError, match="CUDA is not available.*pip install"):
        call()
    assert ember.cuda.device_count() == 0 and not ember.cuda.is_available()


def test_cuda_nn_kernels_take_the_cpu_functions_arguments():
    """Callers pass the same arguments whatever the device: same parameter names, order
    and defaults as the CPU function they stand in for."""
    import inspect

    from ember._nn_kernels import _cuda_version

    for name in _nn_kernels.__all__:
        cuda_fn = _cuda_version(name)
        if cuda_fn is None:
            continue
        cpu = inspect.signature(getattr(_nn_kernels, name).__wrapped__).parameters
        dev = inspect.signature(cuda_fn).parameters
        assert [(p.name, p.default) for p in cpu.values()] == [
            (p.name, p.default) for p in dev.values()
        ], name
