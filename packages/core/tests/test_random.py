"""Philox 4x32-10 and ember.random: known answers, exact bit layout against a pure-Python
reference, reproducibility, thread-count independence, statistics and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.random as R
from ember._C import ffi, lib
from ember._ops import random_ops as O
from ember._tensor import Tensor, _wrap

O._install(Tensor)

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK32 = 0xFFFFFFFF


def philox_ref(ctr, key):
    """Philox 4x32-10 written from the paper, in Python integers."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0, p1 = M0 * c0, M1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
        k0, k1 = (k0 + W0) & MASK32, (k1 + W1) & MASK32
    return [c0, c1, c2, c3]


def ref_lanes(seed, offset, nblocks):
    """The stream contract: block j is Philox(counter = offset + j, key = seed halves)."""
    out = []
    for j in range(nblocks):
        c = (offset + j) & ((1 << 64) - 1)
        out += philox_ref([c & MASK32, c >> 32, 0, 0], [seed & MASK32, seed >> 32])
    return np.array(out, dtype=np.uint64)


def raw_u32(seed, offset, n):
    a = np.empty(n, np.uint32)
    assert lib.em_philox_u32(seed, offset, ffi.from_buffer("uint32_t[]", a), n) == 0
    return a


@pytest.fixture
def threads():
    before = lib.em_get_num_threads()
    yield lib.em_set_num_threads
    lib.em_set_num_threads(before)


# ---- Philox itself --------------------------------------------------------------------

KAT = [  # Random123 kat_vectors, philox4x32 10: counter, key, expected
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([MASK32] * 4, [MASK32] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    (
        [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
        [0xA4093822, 0x299F31D0],
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
    ),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_known_answers(ctr, key, expected):
    out = ffi.new("uint32_t[4]")
    assert lib.em_philox4x32_10(ctr, key, out) == 0
    assert list(out) == expected
    assert philox_ref(ctr, key) == expected


@pytest.mark.parametrize("seed,offset", [(0, 0), (2**64 - 1, 2**32 - 3), (123456789, 7)])
def test_stream_layout_matches_reference(seed, offset):
    # 1030 values cross chunk boundaries (256 lanes) and, for the second case, the
    # 32-bit carry of the counter into its second word.
    got = raw_u32(seed, offset, 1030)
    np.testing.assert_array_equal(got, ref_lanes(seed, offset, 258)[:1030])


def test_uniform_bits_are_exact():
    g = R.Generator().manual_seed(99)
    x = raw_u32(99, 0, 4000).astype(np.uint64)
    f32 = g._uniform((1001,), np.float32)  # blocks 0..250
    np.testing.assert_array_equal(f32, (x[:1001] >> 8).astype(np.float64) * 2.0**-24)
    f64 = g._uniform((999,), np.float64)  # starts at block 251, two lanes per value
    w = x[251 * 4 : 251 * 4 + 2 * 999].reshape(-1, 2)
    np.testing.assert_array_equal(f64, ((w[:, 0] << 32 | w[:, 1]) >> 11) * 2.0**-53)


def test_normal_matches_box_muller_reference():
    g = R.Generator().manual_seed(5)
    z = g._normal((4096,), np.float32).astype(np.float64)
    x = raw_u32(5, 0, 4096).astype(np.float64).reshape(-1, 2)
    u1 = x[:, 0] * 2.0**-32 + 2.0**-33
    theta = 2 * np.pi * (np.floor(x[:, 1] / 256) * 2.0**-24)
    r = np.sqrt(-2 * np.log(u1))
    ref = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1).reshape(-1)
    np.testing.assert_allclose(z, ref, rtol=2e-6, atol=2e-6)

    z64 = R.Generator().manual_seed(5)._normal((2000,), np.float64)
    w = raw_u32(5, 0, 4000).astype(np.uint64).reshape(-1, 4)
    u1 = ((w[:, 0] << 32 | w[:, 1]) >> 11) * 2.0**-53 + 2.0**-54
    t = 2 * np.pi * (((w[:, 2] << 32 | w[:, 3]) >> 11) * 2.0**-53)
    r = np.sqrt(-2 * np.log(u1))
    ref = np.stack([r * np.cos(t), r * np.sin(t)], axis=1).reshape(-1)
    np.testing.assert_allclose(z64, ref, rtol=1e-12, atol=1e-12)


def test_exponential_and_randint_match_reference():
    e = R.Generator().manual_seed(3)._exponential((3000,), np.float32, 2.0)
    x = raw_u32(3, 0, 3000).astype(np.float64)
    np.testing.assert_allclose(e, -np.log(x * 2.0**-32 + 2.0**-33) / 2.0, rtol=2e-6, atol=1e-7)

    w = [int(v) for v in raw_u32(8, 0, 4 * 300)]
    got = R.Generator().manual_seed(8)._randint(-5, 1000, (600,), np.int64)
    ref = [-5 + ((w[2 * i] << 32 | w[2 * i + 1]) * 1005 >> 64) for i in range(600)]
    assert got.tolist() == ref
    for rng in (2**32, 2**32 - 1, 1):  # the edges of the two-lane path
        got = R.Generator().manual_seed(8)._randint(7, 7 + rng, (600,), np.int64)
        ref = [7 + ((w[2 * i] << 32 | w[2 * i + 1]) * rng >> 64) for i in range(600)]
        assert got.tolist() == ref
    big = 2**40 + 3  # wide ranges take a whole 128-bit block per value
    got = R.Generator().manual_seed(8)._randint(0, big, (300,), np.int64)
    ref = [
        (w[4 * i] << 96 | w[4 * i + 1] << 64 | w[4 * i + 2] << 32 | w[4 * i + 3]) * big >> 128
        for i in range(300)
    ]
    assert got.tolist() == ref
    extreme = R.Generator().manual_seed(1)._randint(-(2**63), 2**63 - 1, (1000,), np.int64)
    assert extreme.min() < -(2**61) and extreme.max() > 2**61


def test_exponential_f64_and_randperm_match_reference():
    w = raw_u32(21, 0, 4000).astype(np.uint64).reshape(-1, 2)
    e = R.Generator().manual_seed(21)._exponential((2000,), np.float64, 0.5)
    u = ((w[:, 0] << 32 | w[:, 1]) >> 11) * 2.0**-53 + 2.0**-54
    np.testing.assert_allclose(e, -np.log(u) / 0.5, rtol=1e-13)
    # randperm sorts indices by the top 64 - k bits of their 64-bit key (ties by index).
    n = 1000
    perm = R.Generator().manual_seed(21)._randperm(n)
    keys = (w[:n, 0] << 32 | w[:n, 1]) >> 10  # k = bit_length(999) = 10
    np.testing.assert_array_equal(perm, np.lexsort((np.arange(n), keys)))


# ---- determinism --------------------------------------------------------------------


def test_same_seed_same_numbers_and_offsets_advance():
    a = R.Generator().manual_seed(42)
    b = R.Generator().manual_seed(42)
    np.testing.assert_array_equal(a._normal((100,), np.float32), b._normal((100,), np.float32))
    c = R.Generator().manual_seed(43)
    assert not np.array_equal(c._normal((100,), np.float32), b._normal((100,), np.float32))
    # Two draws of 8 float32 use blocks 0-1 then 2-3: together they are one draw of 16.
    g = R.Generator().manual_seed(7)
    two = np.concatenate([g._uniform((8,), np.float32), g._uniform((8,), np.float32)])
    np.testing.assert_array_equal(two, R.Generator().manual_seed(7)._uniform((16,), np.float32))


def _draw_everything(seed):
    g = R.Generator().manual_seed(seed)
    n = 300_001  # past the threads threshold, not a multiple of a chunk
    probs = np.linspace(0, 1, 7)[None].repeat(40_000, axis=0)
    return [
        g._uniform((n,), np.float32),
        g._uniform((n,), np.float64),
        g._normal((n,), np.float32),
        g._normal((n,), np.float64),
        g._exponential((n,), np.float32),
        g._exponential((n,), np.float64),
        g._randint(-3, 17, (n,), np.int64),
        g._randint(0, 2**50, (n,), np.int64),
        g._bernoulli(0.25, (n,), np.float32),
        g._randperm(n),
        g._multinomial(probs, 9, True),
        g._multinomial(probs, 3, False),
    ]


def test_results_do_not_depend_on_thread_count(threads):
    threads(1)
    one = _draw_everything(11)
    for k in (2, 3):
        threads(k)
        for x, y in zip(one, _draw_everything(11), strict=True):
            np.testing.assert_array_equal(x, y)


def test_seed_values():
    g = R.Generator()
    assert g.initial_seed() == 67280421310721  # PyTorch's default seed
    assert g.manual_seed(-1) is g and g.initial_seed() == 2**64 - 1
    a = g._uniform((8,), np.float32)
    np.testing.assert_array_equal(a, R.Generator().manual_seed(2**64 - 1)._uniform((8,), "f4"))
    assert g.manual_seed(2**70 + 5).initial_seed() == 5
    assert g.manual_seed(np.int64(9)).initial_seed() == 9
    for bad in (1.5, "3", None, True):
        with pytest.raises(TypeError, match="seed must be an int"):
            g.manual_seed(bad)
    s1, s2 = g.seed(), R.Generator().seed()
    assert isinstance(s1, int) and 0 <= s1 < 2**64 and s1 != s2 and g.initial_seed() == s1


def test_state_roundtrip_and_errors():
    g = R.Generator().manual_seed(2024)
    g._uniform((13,), np.float32)
    st = g.get_state()
    assert isinstance(st, Tensor) and st.shape == (16,) and st._a.dtype == np.uint8
    a = g._normal((50,), np.float64)
    g._uniform((1000,), np.float32)
    g.set_state(st)
    np.testing.assert_array_equal(g._normal((50,), np.float64), a)
    with pytest.raises(ValueError, match="uint8 tensor of 16"):
        g.set_state(_wrap(np.zeros(16, np.int64)))
    with pytest.raises(RuntimeError, match="uint8 tensor of 16"):  # PyTorch's exception type
        g.set_state(_wrap(np.zeros(15, np.uint8)))


def test_module_functions_and_fork_rng():
    R.manual_seed(31)
    assert R.initial_seed() == 31
    st = R.get_rng_state()
    first = O.rand(5)._a.copy()
    R.set_rng_state(st)
    np.testing.assert_array_equal(O.rand(5)._a, first)
    R.set_rng_state(st)
    with R.fork_rng():
        R.manual_seed(0)
        O.randn(100)
    np.testing.assert_array_equal(O.rand(5)._a, first)  # the stream resumed untouched
    with R.fork_rng(enabled=False):
        O.rand(3)
    assert not np.array_equal(O.rand(5)._a, first)


def test_generator_argument_leaves_default_alone():
    R.manual_seed(1)
    expected = O.rand(4)._a.copy()
    R.manual_seed(1)
    g = R.Generator().manual_seed(1)
    np.testing.assert_array_equal(O.rand(4, generator=g)._a, expected)
    np.testing.assert_array_equal(O.rand(4)._a, expected)
    with pytest.raises(TypeError, match="ember.Generator"):
        O.rand(2, generator=np.random.default_rng(0))


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_a_gpu_is_refused_clearly():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        R.Generator("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        O.randn(3, device="cuda")
    with pytest.raises(RuntimeError, match="expected device 'cpu' or 'cuda'"):
        R.Generator("tpu")
    assert R.Generator().device.type == "cpu"
