"""Random number generators: ``ember.Generator``, the default generator, seeding.

Every generator is a counter-based Philox 4x32-10 stream (Salmon et al., SC'11) whose
whole state is two 64-bit integers, ``(seed, offset)``. A call that needs ``n`` values
uses the counter blocks ``offset, offset + 1, ...`` and moves ``offset`` past them, so:

- value ``i`` of a call depends only on ``(seed, offset, i)``: results are the same
  whatever the number of CPU threads, and the CUDA back end reproduces them;
- ``get_state()``/``set_state()`` are 16 bytes and exact;
- a fresh ``Generator()`` starts from PyTorch's default seed (67280421310721), so an
  unseeded program is reproducible, as in PyTorch.

Functions here mirror ``torch.random``: :func:`manual_seed`, :func:`seed`,
:func:`initial_seed`, :func:`get_rng_state`, :func:`set_rng_state`, :func:`fork_rng`.
The tensor-level functions (``ember.rand``, ``ember.randn``...) live in
``ember._ops.random_ops`` and draw from these generators.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import threading
from collections.abc import Iterator

import ml_dtypes
import numpy as np

from ember._C import ffi, lib

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "fork_rng",
]

_DEFAULT_SEED = 67280421310721
_MASK64 = (1 << 64) - 1
_STATE_BYTES = 16
_STATUS = {-1: "a null pointer", -2: "an invalid size", -3: "an invalid argument"}
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_F32_MAX = float(np.finfo(np.float32).max)
_HALF_BITS = {np.dtype(np.float16): 11, np.dtype(ml_dtypes.bfloat16): 8}


class _ArgError(ValueError, RuntimeError):
    """Invalid argument to a random function.

    Both a ``ValueError`` (Python's convention) and a ``RuntimeError`` (what PyTorch
    raises), so code written for either catches it.
    """


def _check(rc: int, what: str) -> None:
    # Python validates first; this only fires if a check was missed, never silently.
    if rc != 0:
        raise _ArgError(f"{what}: the kernel rejected {_STATUS.get(rc, f'its input ({rc})')}")


def _to_seed(seed) -> int:
    """A Python int (or numpy integer) reduced mod 2**64, negatives wrapping as in PyTorch."""
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}")
    return operator.index(seed) & _MASK64


def _device_for(device, what: str):
    """The ember.device a generator is for: 'cpu', or 'cuda[:n]' when CUDA is available
    (the same Philox stream either way: a CUDA generator gives the CPU's numbers)."""
    from ember._device import device as _dev

    kind = "cpu" if device is None else str(device).partition(":")[0]
    if kind not in ("cpu", "cuda"):
        raise RuntimeError(f"{what}: expected device 'cpu' or 'cuda', got {device!r}")
    dev = _dev("cpu" if device is None else device)
    if dev.type == "cuda":
        from ember import cuda

        cuda._require()
    return dev


def _empty(shape, np_dtype) -> np.ndarray:
    try:
        return np.empty(shape, np_dtype)
    except ValueError:  # numpy's message for a negative dimension is vaguer than this
        raise _ArgError(f"trying to create tensor with negative dimension: {shape}") from None


def _below(high: float, np_dtype: np.dtype) -> np.generic:
    """The largest value of 16-bit float ``np_dtype`` that is < ``high`` (sign-magnitude
    bit patterns: one step toward zero for positives, away from zero for negatives)."""
    h = np.asarray(high, dtype=np_dtype)
    if float(h) < high:
        return h[()]
    bits = int(h.view(np.uint16))
    if bits & 0x7FFF == 0:  # +0 or -0: the largest value below is the -tiniest subnormal
        bits = 0x8001
    elif bits & 0x8000:
        bits += 1
    else:
        bits -= 1
    return np.asarray(bits, np.uint16).view(np_dtype)[()]


class Generator:
    """A Philox 4x32-10 random number generator, like ``torch.Generator``.

    Args:
        device: ``'cpu'`` or ``'cuda[:n]'`` (which needs a GPU). Both run the same
            Philox stream, so a seed gives the same numbers on either device.

    Pass it as ``generator=`` to any random function to draw from it instead of the
    default generator. Thread-safe: concurrent calls get disjoint counter ranges.
    """

    __slots__ = ("_seed", "_offset", "_lock", "_device", "__weakref__")

    def __init__(self, device="cpu") -> None:
        self._device = _device_for(device, "Generator")
        self._seed = _DEFAULT_SEED
        self._offset = 0
        self._lock = threading.Lock()

    @property
    def device(self):
        """The device this generator was made for (``device(type='cpu')`` by default)."""
        return self._device

    def manual_seed(self, seed: int) -> Generator:
        """Seed with any Python int (taken mod 2**64; negatives wrap); returns self."""
        s = _to_seed(seed)
        with self._lock:
            self._seed, self._offset = s, 0
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the new seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with (an int in [0, 2**64))."""
        return self._seed

    def get_state(self):
        """The state as a 16-element uint8 tensor: seed then offset, little-endian."""
        from ember._tensor import _wrap

        with self._lock:
            words = np.array([self._seed, self._offset], dtype="<u8")
        return _wrap(words.view(np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        """Restore a state returned by :meth:`get_state`; returns self."""
        from ember._tensor import Tensor

        a = new_state._a if isinstance(new_state, Tensor) else new_state
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.size != _STATE_BYTES:
            got = (
                f"dtype {a.dtype}, {a.size} elements"
                if isinstance(a, np.ndarray)
                else type(new_state).__name__
            )
            raise _ArgError(
                f"set_state: expected a uint8 tensor of {_STATE_BYTES} elements from "
                f"get_state(), got {got}"
            )
        seed_, offset = (int(w) for w in np.ascontiguousarray(a).reshape(-1).view("<u8"))
        with self._lock:
            self._seed, self._offset = seed_, offset
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator device=cpu seed={self._seed} offset={self._offset}>"

    # ---- numpy-level draws used by ember's ops (value i of a call uses its own counters)

    def _reserve(self, blocks: int) -> tuple[int, int]:
        """Claim ``blocks`` counter blocks; returns the (seed, first block) to use."""
        with self._lock:
            s, off = self._seed, self._offset
            self._offset = (off + blocks) & _MASK64
        return s, off

    def _run(self, kernel, ctype: str, out: np.ndarray, lanes: int, what: str, *args) -> None:
        """Fill ``out`` with ``kernel``, one value per ``lanes`` 32-bit Philox lanes."""
        n = out.size
        with self._lock:
            s, off = self._seed, self._offset
            self._offset = (off + (n * lanes + 3) // 4) & _MASK64
        rc = kernel(s, off, ffi.from_buffer(ctype, out), n, *args)
        if rc:
            _check(rc, what)

    def _uniform(self, shape, np_dtype, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """Uniform values in [low, high) of ``shape`` and floating/complex ``np_dtype``."""
        dt = np_dtype if isinstance(np_dtype, np.dtype) else np.dtype(np_dtype)
        if dt.kind == "c":
            part = self._uniform((*shape, 2), _F32 if dt.itemsize == 8 else _F64, low, high)
            return part.view(dt).reshape(shape)
        low, high = float(low), float(high)
        if not (low <= high) or math.isinf(low) or math.isinf(high):
            raise _ArgError(
                f"uniform expects a [from, to) range with finite from <= to, got from={low}, "
                f"to={high}"
            )
        if dt == _F64:
            out = _empty(shape, _F64)
            self._run(lib.em_philox_uniform_f64, "double[]", out, 2, "uniform", low, high)
            return out
        if dt != _F32 and dt not in _HALF_BITS:
            raise TypeError(f"uniform: expected a floating point dtype, got {dt}")
        if high - low > _F32_MAX or max(-low, high) > _F32_MAX:
            raise _ArgError(f"uniform: range [{low}, {high}) overflows float32")
        out = _empty(shape, _F32)
        # 16-bit floats draw on their own grid (2^-11, 2^-8) so [0, 1) stays exact.
        bits = _HALF_BITS.get(dt, 24)
        self._run(lib.em_philox_uniform_f32, "float[]", out, 1, "uniform", low, high, bits)
        if dt == _F32:
            return out
        res = out.astype(dt)
        if low < high:  # rounding to 16 bits may reach `high`: keep the interval half-open
            np.minimum(res, max(_below(high, dt), np.asarray(low, dt)[()]), out=res)
        return res

    def _normal(self, shape, np_dtype, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
        """Normal values N(mean, std**2) (complex: independent parts of variance std**2/2)."""
        dt = np_dtype if isinstance(np_dtype, np.dtype) else np.dtype(np_dtype)
        mean, std = float(mean), float(std)
        if not (0.0 <= std < math.inf) or not math.isfinite(mean):
            raise _ArgError(
                f"normal expects finite mean and std >= 0.0, got mean={mean}, std={std}"
            )
        if dt.kind == "c":
            part = self._normal(
                (*shape, 2), _F32 if dt.itemsize == 8 else _F64, 0.0, std * math.sqrt(0.5)
            )
            res = part.view(dt).reshape(shape)
            res += mean
            return res
        if dt == _F64:
            out = _empty(shape, _F64)
            self._run(lib.em_philox_normal_f64, "double[]", out, 2, "normal", mean, std)
            return out
        if dt != _F32 and dt not in _HALF_BITS:
            raise TypeError(f"normal: expected a floating point dtype, got {dt}")
        out = _empty(shape, _F32)
        self._run(lib.em_philox_normal_f32, "float[]", out, 1, "normal", mean, std)
        return out if dt == _F32 else out.astype(dt)

    def _exponential(self, shape, np_dtype, lambd: float = 1.0) -> np.ndarray:
        """Exponential values with rate ``lambd`` (mean 1/lambd)."""
        dt = np_dtype if isinstance(np_dtype, np.dtype) else np.dtype(np_dtype)
        lambd = float(lambd)
        if not (0.0 < lambd < math.inf):
            raise _ArgError(f"exponential expects lambd > 0.0 and finite, got lambd={lambd}")
        if dt == _F64:
            out = _empty(shape, _F64)
            self._run(lib.em_philox_exponential_f64, "double[]", out, 2, "exponential",
                      1.0 / lambd)  # fmt: skip
            return out
        if dt != _F32 and dt not in _HALF_BITS:
            raise TypeError(f"exponential: expected a floating point dtype, got {dt}")
        out = _empty(shape, _F32)
        self._run(lib.em_philox_exponential_f32, "float[]", out, 1, "exponential", 1.0 / lambd)
        return out if dt == _F32 else out.astype(dt)

    def _randint(self, low: int, high: int, shape, np_dtype) -> np.ndarray:
        """Integers uniform in [low, high) stored as ``np_dtype`` (integer, bool or float)."""
        low, high = operator.index(low), operator.index(high)
        dt = np_dtype if isinstance(np_dtype, np.dtype) else np.dtype(np_dtype)
        if low >= high:
            raise _ArgError(f"random_ expects 'from' < 'to', got from={low} >= to={high}")
        if dt.kind in "iub":
            info = np.iinfo(np.uint8 if dt.kind == "b" else dt)
            lo_ok, hi_ok = (0, 1) if dt.kind == "b" else (info.min, info.max)
        elif dt.kind == "f":
            lim = 2 ** (np.finfo(dt).nmant + 1)  # integers beyond this are not exact
            lo_ok, hi_ok = -lim, lim
        else:
            raise TypeError(f"randint: unsupported dtype {dt}")
        if low < lo_ok or high - 1 > hi_ok:
            raise _ArgError(
                f"randint: range [{low}, {high}) does not fit dtype {dt} "
                f"(representable: [{lo_ok}, {hi_ok}])"
            )
        rng = high - low
        if low < -(2**63) or high - 1 > 2**63 - 1:
            raise _ArgError(f"randint: range [{low}, {high}) exceeds 64-bit integers")
        out = _empty(shape, np.int64)
        n = out.size
        s, off = self._reserve((n + 1) // 2 if rng <= 2**32 else n)
        _check(
            lib.em_philox_randint_i64(s, off, ffi.from_buffer("int64_t[]", out), n, low, rng),
            "randint",
        )
        return out if dt == np.int64 else out.astype(dt)

    def _randperm(self, n: int, np_dtype=np.int64) -> np.ndarray:
        """A random permutation of 0..n-1.

        Each index i gets a key: the top 64-k bits of a random 64-bit word, then i in the
        low k = bit_length(n-1) bits. Keys are distinct, so sorting them is one well-defined
        order that a GPU radix sort reproduces exactly. Two random prefixes tie with
        probability 2^-(64-k) per pair (< 2^-32 below n = 2^32); a tie keeps index order.
        """
        n = operator.index(n)
        dt = np_dtype if isinstance(np_dtype, np.dtype) else np.dtype(np_dtype)
        if n < 0:
            raise _ArgError(f"randperm: n must be non-negative, got {n}")
        if dt.kind in "iu":
            if n > 0 and n - 1 > np.iinfo(dt).max:
                raise _ArgError(f"randperm: n={n} is too large for dtype {dt}")
        elif dt.kind == "f":
            if n > 2 ** (np.finfo(dt).nmant + 1):
                raise _ArgError(f"randperm: n={n} is too large for dtype {dt}")
        else:
            raise TypeError(f"randperm: unsupported dtype {dt}")
        keys = np.empty(n, np.uint64)
        s, off = self._reserve((n + 1) // 2)
        _check(lib.em_philox_u64(s, off, ffi.from_buffer("uint64_t[]", keys), n), "randperm")
        low = np.uint64((1 << max(1, (n - 1).bit_length())) - 1)
        keys &= ~low
        keys |= np.arange(n, dtype=np.uint64)
        keys.sort()
        keys &= low
        return keys.view(np.int64) if dt == np.int64 else keys.astype(dt)

    def _bernoulli(self, p, shape, np_dtype) -> np.ndarray:
        """0/1 values, 1 with probability ``p`` (a float or an array broadcastable to shape)."""
        out = _empty(shape, np.uint8)
        n = out.size
        pa = np.asarray(p, dtype=np.float64)
        if pa.size and not (np.all(pa >= 0.0) and np.all(pa <= 1.0)):
            raise _ArgError("bernoulli expects all probabilities p to satisfy 0 <= p <= 1")
        if pa.size != 1:
            try:
                pa = np.broadcast_to(pa, shape)
            except ValueError:
                raise _ArgError(
                    f"bernoulli: probabilities of shape {pa.shape} do not broadcast to "
                    f"{tuple(shape)}"
                ) from None
        pa = np.ascontiguousarray(pa).reshape(-1)
        s, off = self._reserve((n + 3) // 4)
        _check(
            lib.em_philox_bernoulli(
                s,
                off,
                ffi.from_buffer("double[]", pa),
                pa.size,
                ffi.from_buffer("uint8_t[]", out),
                n,
            ),
            "bernoulli",
        )
        dt = np_dtype if isinstance(np_dtype, np.dtype) else np.dtype(np_dtype)
        return out.view(np.bool_) if dt == np.bool_ else out.astype(dt)

    def _multinomial(self, probs, num_samples: int, replacement: bool = False) -> np.ndarray:
        """Category indices (int64, shape ``(rows, num_samples)``) drawn from the rows of
        ``probs`` (non-negative weights, need not sum to 1)."""
        num_samples = operator.index(num_samples)
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 2:
            raise _ArgError(f"multinomial: expected a 2-D array of weights, got {p.ndim}-D")
        rows, k = p.shape
        if k == 0:
            raise _ArgError("multinomial: the distribution has no categories")
        if num_samples <= 0:
            raise _ArgError(f"multinomial: cannot sample num_samples={num_samples} <= 0 samples")
        if not replacement and num_samples > k:
            raise _ArgError(
                f"multinomial: cannot sample {num_samples} > {k} categories without replacement"
            )
        if replacement:
            # The kernel sums and checks each row in the same pass as it samples.
            p = np.ascontiguousarray(p)
            out = np.empty((rows, num_samples), np.int64)
            s, off = self._reserve((rows * num_samples + 1) // 2)
            rc = lib.em_philox_multinomial(
                s, off, ffi.from_buffer("double[]", p), rows, k, num_samples,
                ffi.from_buffer("int64_t[]", out),
            )  # fmt: skip
            if rc == lib.EM_RNG_EARG:
                _check_weights(p)
            _check(rc, "multinomial")
            return out
        _check_weights(p)
        if np.any(np.count_nonzero(p, axis=1) < num_samples):
            raise _ArgError(
                "multinomial: a row has fewer non-zero probabilities than num_samples "
                "(sampling without replacement)"
            )
        # Exponential race: category j finishes at E_j / p_j with E_j ~ Exp(1); the order
        # of finishing is exactly sequential sampling without replacement by weight.
        with np.errstate(divide="ignore"):
            keys = self._exponential((rows, k), _F64) / p
        return np.argsort(keys, axis=1, kind="stable")[:, :num_samples]


def _check_weights(p: np.ndarray) -> None:
    """Raise the error that explains why rows of weights ``p`` cannot be sampled."""
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise _ArgError("multinomial: probabilities contain inf, nan or an element < 0")
    sums = p.sum(axis=1)
    if np.any(sums <= 0) or not np.all(np.isfinite(sums)):
        raise _ArgError("multinomial: a row of probabilities sums to 0 (or overflows)")


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (any Python int, taken mod 2**64); returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from OS entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state (a 16-element uint8 tensor)."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state from :func:`get_rng_state`."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str = "cuda") -> Iterator[None]:
    """Context manager (and decorator) that restores the default generator's state on
    exit, so the code inside may reseed or draw without disturbing the caller's stream.

    ``devices`` and ``device_type`` are accepted for PyTorch compatibility; only the CPU
    generator exists so far. ``enabled=False`` makes it a no-op.
    """
    if not enabled:
        yield
        return
    state = default_generator.get_state()
    try:
        yield
    finally:
        default_generator.set_state(state)
