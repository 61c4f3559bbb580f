"""The engine's array walk (a backward that records nothing and meets no hook) against
hand-derived gradients, and against the Tensor walk (the same graph differentiated with
``create_graph=True``, which runs every formula on Tensors) for the ops whose derivative
it takes on arrays: dtypes, broadcasting, 0-d, Python-number operands, mixed dtypes,
saved tensors modified in place, and graphs with fan-out."""

import numpy as np
import pytest

import ember
from ember.autograd import grad

RNG = np.random.default_rng(7)


def leaf(shape, dtype="float32", low=None):
    a = RNG.standard_normal(shape)
    if low is not None:
        a = np.abs(a) + low
    return ember.from_numpy(np.asarray(a).astype(dtype)).requires_grad_()


# name -> (function of the inputs, input shapes, lower bound of the inputs' values)
CASES = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)], None),
    "add_scalar": (lambda a: 2 + a, [(3,)], None),
    "sub": (lambda a, b: a - b, [(2, 1), (1, 3)], None),
    "rsub_scalar": (lambda a: 1.5 - a, [(3,)], None),
    "mul": (lambda a, b: a * b, [(3, 4), (4,)], None),
    "mul_int": (lambda a: a * 3, [(2, 3)], None),
    "mul_self": (lambda a: a * a, [(5,)], None),
    "div": (lambda a, b: a / b, [(3, 4), (1, 4)], 0.5),
    "rdiv_scalar": (lambda a: 2.0 / a, [(3,)], 0.5),
    "pow": (lambda a: a.pow(3), [(4,)], 0.5),
    "pow_half": (lambda a: a**0.5, [(4,)], 0.5),
    "neg": (lambda a: -a, [(3,)], None),
    "exp": (lambda a: a.exp(), [(2, 3)], None),
    "log": (lambda a: a.log(), [(2, 3)], 0.5),
    "sqrt": (lambda a: a.sqrt(), [(2, 3)], 0.5),
    "tanh": (lambda a: a.tanh(), [()], None),
    "sigmoid": (lambda a: a.sigmoid(), [(3,)], None),
    "relu": (lambda a: a.relu(), [(6,)], None),
    "clamp": (lambda a: a.clamp(-0.3, 0.4), [(6,)], None),
    "clamp_min": (lambda a: a.clamp(min=0), [(6,)], None),
    "sum_all": (lambda a: a.sum(), [(2, 3)], None),
    "sum_dim": (lambda a: a.sum(1), [(2, 3)], None),
    "sum_keepdim": (lambda a: a.sum((0, 2), keepdim=True), [(2, 3, 2)], None),
    "mean_dim": (lambda a: a.mean(-1), [(2, 3)], None),
    "mean_all": (lambda a: a.mean(), [(4,)], None),
    "mm": (lambda a, b: a.mm(b), [(3, 4), (4, 2)], None),
    "view": (lambda a: a.view(3, 2) * 2.0, [(2, 3)], None),
    "reshape": (lambda a: a.t().reshape(-1) * 2.0, [(2, 3)], None),
    "flatten_unsqueeze": (lambda a: a.flatten().unsqueeze(0) * 2.0, [(2, 3)], None),
    "transpose": (lambda a: a.transpose(0, -1) * 2.0, [(2, 3, 4)], None),
    "permute": (lambda a: a.permute(2, 0, 1) * 2.0, [(2, 3, 4)], None),
    "expand": (lambda a: a.expand(3, 4) * 2.0, [(1, 4)], None),
    "clone": (lambda a: a.clone() * 2.0, [(3,)], None),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)], None),
    "chain": (
        lambda a: ((a * 2.0 + 1.0).tanh() * a).exp().sub(a).sigmoid().pow(2) + a,
        [(3,)],
        None,
    ),
}


def _grads(fn, xs, create_graph):
    y = fn(*xs)
    gy = ember.from_numpy(np.linspace(0.5, 1.5, max(y.numel(), 1)).reshape(y.shape))
    gy = gy.to(y.dtype)
    return grad(y, xs, gy, create_graph=create_graph)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_array_walk_matches_tensor_walk(name, dtype):
    fn, shapes, low = CASES[name]
    xs = [leaf(s, dtype, low) for s in shapes]
    fast = _grads(fn, xs, create_graph=False)
    slow = _grads(fn, xs, create_graph=True)
    for f, s, x in zip(fast, slow, xs):
        assert f.dtype == x.dtype and tuple(f.shape) == tuple(x.shape)
        assert f._ag is None  # nothing recorded
        tol = 1e-6 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(f.numpy(), s.detach().numpy(), rtol=tol, atol=tol)


def test_chain_gradient_by_hand():
    x = ember.tensor([0.3, -0.7], dtype=ember.float64, requires_grad=True)
    y = (x * 2.0 + 1.0).tanh() * x
    y.sum().backward()
    v = x.detach().numpy()
    t = np.tanh(2 * v + 1)
    np.testing.assert_allclose(x.grad.numpy(), t + v * 2 * (1 - t * t), rtol=1e-12)


def test_mixed_dtypes_and_0d():
    a = ember.tensor(1.5, requires_grad=True)  # float32, 0-d
    b = ember.tensor([2.0, -1.0], dtype=ember.float64, requires_grad=True)
    (a * b).sum().backward()  # float64 product: the gradient of a is cast back to float32
    assert a.grad.dtype is ember.float32 and a.grad.shape == ()
    assert a.grad.item() == pytest.approx(1.0)
    np.testing.assert_allclose(b.grad.numpy(), [1.5, 1.5])


def test_bfloat16_takes_the_formula_path():
    x = ember.tensor([0.5, 1.0], dtype=ember.bfloat16, requires_grad=True)
    (x * 3.0).exp().sum().backward()
    assert x.grad.dtype is ember.bfloat16
    expect = 3 * np.exp(3 * np.array([0.5, 1.0]))
    np.testing.assert_allclose(x.grad.float().numpy(), expect, rtol=2e-2)


def test_fan_out_and_shared_gradient_buffers():
    # add hands the same gradient to both inputs: the leaves' .grad must not alias.
    a, b = leaf((3,)), leaf((3,))
    (a + b).sum().backward()
    a.grad.add_(1.0)
    np.testing.assert_allclose(b.grad.numpy(), np.ones(3))
    # a leaf used four times sums four contributions
    x = leaf((2,), "float64")
    (x * 2.0 + x * x - x + x.exp()).sum().backward()
    v = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * v - 1 + np.exp(v), rtol=1e-12)


def test_given_gradient_is_not_aliased_by_grad():
    x = leaf((3,))
    g = ember.ones(3)
    (x + 0.0).backward(g)
    x.grad.mul_(5.0)
    np.testing.assert_allclose(g.numpy(), np.ones(3))


@pytest.mark.parametrize(
    "fn, saves_output",
    [
        (lambda y: y.tanh(), True),
        (lambda y: y.exp(), True),
        (lambda y: y * 2.0, False),
        (lambda y: y.pow(2), False),
        (lambda y: y.log(), False),
        (lambda y: y.clamp(min=0), False),
    ],
)
def test_saved_tensor_modified_in_place_raises(fn, saves_output):
    x = leaf((3,), low=0.5)
    y = x * 1.0
    z = fn(y)
    if saves_output:
        z.add_(1.0)
    else:
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_second_backward_through_freed_graph_raises():
    x = leaf((2,))
    y = (x * 2.0).tanh().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_accumulates():
    x = leaf((2,), "float64")
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.detach().numpy(), rtol=1e-12)


def test_multi_output_node_and_custom_function_in_array_walk():
    x = leaf((4,), "float64")
    vals, _ = x.sort()

    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, gy):
            (t,) = ctx.saved_tensors
            return gy * 2 * t

    (Square.apply(vals) * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", ["mm", "matmul"])
@pytest.mark.parametrize("needs", [(True, True), (False, True), (True, False)])
def test_matrix_products_compute_the_needed_gradients(op, needs):
    a = ember.from_numpy(RNG.standard_normal((4, 3))).requires_grad_(needs[0])
    b = ember.from_numpy(RNG.standard_normal((3, 5))).requires_grad_(needs[1])
    gy = RNG.standard_normal((4, 5))
    y = getattr(ember, op)(a, b)
    y.backward(ember.from_numpy(gy))
    if needs[0]:
        np.testing.assert_allclose(a.grad.numpy(), gy @ b.detach().numpy().T, rtol=1e-12)
    else:
        assert a.grad is None
    if needs[1]:
        np.testing.assert_allclose(b.grad.numpy(), a.detach().numpy().T @ gy, rtol=1e-12)
    else:
        assert b.grad is None


def test_batched_matmul_takes_the_formula_path():
    a, b = leaf((2, 4, 3), "float64"), leaf((3, 5), "float64")
    fast = _grads(ember.matmul, [a, b], create_graph=False)
    slow = _grads(ember.matmul, [a, b], create_graph=True)
    for f, s in zip(fast, slow):
        np.testing.assert_allclose(f.numpy(), s.detach().numpy(), rtol=1e-12)
