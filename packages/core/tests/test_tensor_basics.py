"""The Tensor itself: construction, dtypes and promotion, the numpy bridge, views
sharing memory, version counters, repr, legacy constructors, and bad input."""

import numpy as np
import pytest

import ember


# ----- construction and dtype inference -----
@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1, 2, 3], ember.int64),
        ([1.0, 2.0], ember.float32),
        ([True, False], ember.bool),
        ([[1, 2.5]], ember.float32),
        ([1 + 2j], ember.complex64),
        (3, ember.int64),
        (2.5, ember.float32),
        ([], ember.float32),
    ],
)
def test_tensor_infers_pytorch_dtype(data, dtype):
    t = ember.tensor(data)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=dtype.np))


def test_tensor_copies_its_data():
    a = np.arange(4.0)
    t = ember.tensor(a)
    a[0] = 100
    assert t[0].item() == 0.0


def test_ragged_data_is_refused():
    with pytest.raises(ValueError, match="rectangular"):
        ember.tensor([[1, 2], [3]])


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="infer dtype"):
        ember.tensor(["a", "b"])


@pytest.mark.parametrize("fn", [ember.zeros, ember.ones, ember.empty])
def test_filled_constructors_accept_sizes_both_ways(fn):
    assert fn(2, 3).shape == (2, 3)
    assert fn((2, 3)).shape == (2, 3)
    assert fn([4]).shape == (4,)
    assert fn(2, dtype=ember.int32).dtype is ember.int32


def test_negative_size_is_refused():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        ember.zeros(2, -1)


def test_full_arange_linspace_eye():
    np.testing.assert_array_equal(ember.full((2, 2), 7).numpy(), np.full((2, 2), 7))
    assert ember.full((2,), 7).dtype is ember.int64
    assert ember.full((2,), 7.0).dtype is ember.float32
    np.testing.assert_array_equal(ember.arange(5).numpy(), np.arange(5))
    assert ember.arange(5).dtype is ember.int64
    np.testing.assert_allclose(ember.arange(0, 1, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    assert ember.arange(0, 1, 0.25).dtype is ember.float32
    np.testing.assert_allclose(ember.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(ember.eye(3, 2).numpy(), np.eye(3, 2))
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ember.arange(0, 5, 0)


def test_like_constructors_keep_shape_and_dtype():
    x = ember.ones(2, 3, dtype=ember.float64)
    for fn in (ember.zeros_like, ember.ones_like, ember.empty_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype is ember.float64
    assert ember.full_like(x, 3).numpy().tolist() == [[3.0] * 3] * 2


# ----- legacy spellings used by the seed -----
def test_legacy_constructors():
    assert ember.Tensor(5, 3).shape == (5, 3)
    assert ember.Tensor(5, 3).dtype is ember.float32
    assert ember.FloatTensor([1, 2]).dtype is ember.float32
    assert ember.DoubleTensor(2).dtype is ember.float64
    assert ember.LongTensor([1, 2]).tolist() == [1, 2]
    x = ember.randn(2, 2)
    assert isinstance(x, ember.FloatTensor) and not isinstance(x, ember.DoubleTensor)
    assert x.type() == "ember.FloatTensor"
    assert x.type(ember.DoubleTensor).dtype is ember.float64
    assert x.type("ember.LongTensor").dtype is ember.int64
    assert x.new([1.0]).dtype is ember.float32
    assert x.new(4, 2).shape == (4, 2)


def test_size_is_a_tuple_with_numel():
    s = ember.zeros(5, 3).size()
    assert isinstance(s, ember.Size) and s == (5, 3) and s.numel() == 15
    assert repr(s) == "ember.Size([5, 3])"
    assert s[1:] == (3,) and isinstance(s[1:], ember.Size)
    assert ember.zeros(5, 3).size(1) == 3 and ember.zeros(5, 3).size(-1) == 3
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.zeros(5, 3).size(2)


# ----- type promotion (PyTorch's rules, written out by hand) -----
P = ember.promote_types


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (ember.int64, ember.float32, ember.float32),  # numpy would say float64
        (ember.int32, ember.float16, ember.float16),
        (ember.uint8, ember.int8, ember.int16),
        (ember.bool, ember.uint8, ember.uint8),
        (ember.float16, ember.bfloat16, ember.float32),
        (ember.float64, ember.complex64, ember.complex128),
        (ember.int16, ember.int32, ember.int32),
    ],
)
def test_promote_types(a, b, expected):
    assert P(a, b) is expected and P(b, a) is expected


def test_python_scalars_do_not_upcast():
    x = ember.ones(3)  # float32
    assert (x + 2.5).dtype is ember.float32
    assert (x * 2).dtype is ember.float32
    i = ember.ones(3, dtype=ember.int32)
    assert (i + 2).dtype is ember.int32
    assert (i + 2.5).dtype is ember.float32  # the default dtype, not float64
    assert (i / 2).dtype is ember.float32
    b = ember.tensor([True, False])
    assert (b + 1).dtype is ember.int64


@pytest.mark.parametrize("dtype", [ember.int32, ember.int64, ember.uint8, ember.bool])
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or"])
def test_predicates_with_a_float_scalar_give_bool(dtype, op):
    # an integer tensor against a Python float computes in the default float, but a
    # predicate's result is bool, as in PyTorch (it once came back as float32)
    a = np.array([0, 1, 2, 3]).astype(ember._dtype.to_numpy_dtype(dtype))
    t = ember.from_numpy(a)
    fn = getattr(ember, op)
    want = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                        "gt": "greater", "ge": "greater_equal"}.get(op, op))(a, 1.5)  # fmt: skip
    got = fn(t, 1.5)
    assert got.dtype is ember.bool
    np.testing.assert_array_equal(got.numpy(), want)
    if op in ("lt", "gt"):  # the reflected operator path
        r = (1.5 > t) if op == "lt" else (1.5 < t)
        assert r.dtype is ember.bool
        np.testing.assert_array_equal(r.numpy(), want)


def test_zero_dim_tensors_rank_below_dimensioned_ones():
    x = ember.ones(3)  # float32
    s64 = ember.tensor(2.0, dtype=ember.float64)
    assert (x + s64).dtype is ember.float32
    i = ember.ones(3, dtype=ember.int32)
    assert (i + s64).dtype is ember.float64  # higher category: the 0-d tensor's dtype
    assert (ember.ones(3, dtype=ember.int64) + ember.ones(3)).dtype is ember.float32


# ----- numpy bridge (the seed's snippets) -----
def test_numpy_aliases_tensor():
    a = ember.ones(5)
    b = a.numpy()
    a.add_(1)
    np.testing.assert_array_equal(b, np.full(5, 2.0, np.float32))
    b[0] = 7
    assert a[0].item() == 7


def test_from_numpy_aliases_array():
    a = np.ones(5)
    b = ember.from_numpy(a)
    np.add(a, 1, out=a)
    assert b.dtype is ember.float64
    np.testing.assert_array_equal(b.numpy(), np.full(5, 2.0))


def test_from_numpy_rejects_unsupported_dtypes():
    with pytest.raises(TypeError, match="no ember equivalent"):
        ember.from_numpy(np.array(["x"]))
    with pytest.raises(TypeError, match="byte order"):
        ember.from_numpy(np.ones(3, dtype=">f4"))
    with pytest.raises(TypeError, match="expected np.ndarray"):
        ember.from_numpy([1, 2])


def test_array_protocol_and_dlpack_with_numpy():
    t = ember.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(t), np.arange(6).reshape(2, 3))
    a = np.from_dlpack(t)
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    n = np.arange(4.0)
    e = ember.from_dlpack(n)
    n[1] = -1
    assert e[1].item() == -1


def test_dlpack_with_torch_when_installed():
    torch = pytest.importorskip("torch")
    tt = torch.arange(4.0)
    e = ember.from_dlpack(tt)
    tt[0] = 9
    assert e[0].item() == 9
    back = torch.from_dlpack(e)
    e.add_(1)
    assert back[0].item() == 10


# ----- views share memory; version counters -----
def test_views_share_memory_with_base():
    x = ember.arange(12.0).reshape(3, 4)
    views = [
        x.view(4, 3),
        x.t(),
        x[1],
        x[:, 1:3],
        x.transpose(0, 1),
        x.permute(1, 0),
        x.unsqueeze(0),
        x.narrow(1, 1, 2),
        x.select(0, 2),
        x.flatten(),
        x.unfold(1, 2, 2),
        x.chunk(2, 1)[0],
        x.split(1)[2],
        x.unbind(1)[3],
        x.as_strided((2, 2), (4, 1), 1),
    ]
    for v in views:
        assert np.shares_memory(v.numpy(), x.numpy()), v
        assert v._base is x._base  # x is itself a view (of arange)


def test_view_on_incompatible_strides_raises():
    x = ember.arange(12.0).reshape(3, 4).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(12)
    y = x.reshape(12)  # reshape copies instead
    np.testing.assert_array_equal(y.numpy(), np.arange(12.0).reshape(3, 4).T.reshape(12))


def test_expand_and_squeeze():
    x = ember.tensor([[1.0], [2.0]])
    e = x.expand(2, 3)
    assert e.shape == (2, 3) and e.stride() == (1, 0)
    assert x.expand(4, -1, 3).shape == (4, 2, 3)
    with pytest.raises(RuntimeError, match="must match the existing size"):
        x.expand(3, 3)
    assert ember.zeros(1, 3, 1).squeeze().shape == (3,)
    assert ember.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    with pytest.raises(RuntimeError, match="expanded view or otherwise read-only"):
        e.add_(1)


def test_view_inference_errors():
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        ember.zeros(2, 3).view(4, -1)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        ember.zeros(2, 3).view(-1, -1)


def test_as_strided_refuses_out_of_bounds():
    x = ember.arange(6.0)
    with pytest.raises(RuntimeError, match="outside the storage"):
        x.as_strided((4,), (2,))


def test_version_counter_shared_by_views():
    x = ember.zeros(4)
    v = x[1:3]
    assert x._version == 0
    v.add_(1)
    assert x._version == 1 and v._version == 1
    x.mul_(2)
    assert v._version == 2


def test_in_place_returns_self_and_casts_within_category():
    x = ember.ones(3)
    assert x.add_(ember.ones(3, dtype=ember.float64)) is x
    assert x.dtype is ember.float32
    i = ember.ones(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(ember.ones(3))
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mul_(1.5)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        ember.ones(3).add_(ember.ones(2, 3))


def test_fill_zero_copy_clone_contiguous():
    x = ember.empty(2, 3).fill_(5)
    assert x.numpy().tolist() == [[5.0] * 3] * 2
    x.zero_()
    assert not x.numpy().any()
    x.copy_(ember.arange(3))  # broadcast + dtype conversion
    np.testing.assert_array_equal(x.numpy(), [[0, 1, 2], [0, 1, 2]])
    c = x.clone()
    assert not np.shares_memory(c.numpy(), x.numpy())
    t = x.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert x.contiguous() is x


# ----- repr -----
def test_repr_like_pytorch():
    assert repr(ember.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(ember.tensor([0.5, 0.25])) == "tensor([0.5000, 0.2500])"
    assert repr(ember.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(ember.tensor([1, 2], dtype=ember.int32)) == "tensor([1, 2], dtype=ember.int32)"
    assert repr(ember.tensor(3.0)) == "tensor(3.)"
    assert (
        repr(ember.tensor([True, False])) == "tensor([ True, False])"
        or repr(ember.tensor([True, False])) == "tensor([True, False])"
    )
    assert repr(ember.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(ember.tensor([1e-5, 1e5])) == "tensor([1.0000e-05, 1.0000e+05])"
    assert "dtype=ember.float64" in repr(ember.zeros(2, dtype=ember.float64))
    big = repr(ember.arange(10000))
    assert "..." in big and len(big) < 200


def test_item_tolist_bool_len_iter():
    assert ember.tensor([[2.5]]).item() == 2.5
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        ember.ones(2).item()
    assert ember.arange(4).reshape(2, 2).tolist() == [[0, 1], [2, 3]]
    assert bool(ember.tensor([1]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.ones(2))
    assert len(ember.zeros(3, 2)) == 3
    assert [r.tolist() for r in ember.arange(4).reshape(2, 2)] == [[0, 1], [2, 3]]
    with pytest.raises(TypeError, match="0-d"):
        len(ember.tensor(1.0))


def test_to_dtype_and_device():
    x = ember.arange(3)
    assert x.to(ember.float64).dtype is ember.float64
    assert x.to(ember.int64) is x
    assert x.to("cpu") is x
    assert x.to("cpu", ember.float16).dtype is ember.float16
    assert x.float().dtype is ember.float32 and x.double().dtype is ember.float64
    assert x.long() is x and x.half().dtype is ember.float16
    assert x.to(ember.ones(1, dtype=ember.float64)).dtype is ember.float64
    assert x.type_as(ember.ones(1)).dtype is ember.float32
    assert x.device == ember.device("cpu") and str(x.device) == "cpu"


def test_cuda_unavailable_is_a_clear_error():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    assert ember.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        ember.zeros(2, device="cuda")


def test_device_parsing():
    assert ember.device("cuda:1").index == 1 and ember.device("cuda:1").type == "cuda"
    assert ember.device("cpu") == "cpu"
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ember.device("tpu")
    with pytest.raises(ValueError, match="invalid device string"):
        ember.device("cuda:x")


def test_all_dtypes_round_trip_through_numpy():
    for d in (
        ember.bool,
        ember.uint8,
        ember.int8,
        ember.int16,
        ember.int32,
        ember.int64,
        ember.float16,
        ember.bfloat16,
        ember.float32,
        ember.float64,
        ember.complex64,
    ):
        t = ember.ones(2, 2, dtype=d)
        assert t.dtype is d
        assert t.numpy().dtype == d.np
        assert ember.from_numpy(t.numpy()).dtype is d
        assert (t + t).dtype is d or d is ember.bool


def test_pickle_copies():
    import pickle

    x = ember.arange(5.0)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == x.tolist() and not np.shares_memory(y.numpy(), x.numpy())
