"""Run by test_distributed_collectives.py under the launcher: every collective on every
rank, checked against numpy. Each rank can compute every rank's input (a function of
the rank), so each expected value is an independent numpy computation."""

import sys
import time

import ml_dtypes
import numpy as np

import ember
import ember.distributed as dist
from ember._tensor import _wrap

dist.init_process_group("mpi", timeout=60)
R, N = dist.get_rank(), dist.get_world_size()
Op = dist.ReduceOp
QUICK = "--quick" in sys.argv  # fewer dtypes and shapes (the 4-rank run on 2 cores)
DTYPES = (
    ["float32", "int64", "bfloat16"]
    if QUICK
    else ["float32", "float64", "int32", "int64", "float16", "bfloat16"]
)  # noqa: E501
SHAPES = [(), (3, 4)] if QUICK else [(), (5,), (3, 4), (0, 2)]


def npdt(name):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def data(rank, shape, dtype, salt=0):
    """Rank ``rank``'s input: small integers (exact in every dtype, products included)."""
    rng = np.random.default_rng(1000 * rank + 17 * salt + len(shape))
    return rng.integers(-3, 4, size=shape).astype(npdt(dtype))


def tensor(a, transposed=False):
    """A tensor holding ``a``; with ``transposed`` a non-contiguous view of the same values."""
    if transposed and a.ndim == 2:
        return _wrap(np.ascontiguousarray(a.T)).t()
    return _wrap(a.copy())


def check(got, want, what):
    got = np.asarray(got.numpy(), np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-2, atol=1e-2):
        raise AssertionError(f"rank {R}: {what}: got {got.tolist()}, want {want.tolist()}")


def reduce_np(arrays, op, dtype):
    x = np.stack([a.astype(np.float64) for a in arrays])
    out = {"SUM": x.sum(0), "PRODUCT": x.prod(0), "MIN": x.min(0), "MAX": x.max(0)}
    if op == "AVG":
        return x.sum(0) / len(arrays)
    return out[op]


def ops_for(dtype):
    ops = ["SUM", "PRODUCT", "MIN", "MAX"]
    return ops + ["AVG"] if dtype.startswith(("float", "bfloat")) else ops


def main():
    for dtype in DTYPES:
        for shape in SHAPES:
            for trans in (False, True):
                label = f"{dtype} {shape}{' non-contiguous' if trans else ''}"
                for op in ops_for(dtype):
                    t = tensor(data(R, shape, dtype), trans)
                    dist.all_reduce(t, op=getattr(Op, op))
                    want = reduce_np([data(r, shape, dtype) for r in range(N)], op, dtype)
                    check(t, want, f"all_reduce {op} {label}")
                    # reduce onto the last rank; the others keep their input
                    t = tensor(data(R, shape, dtype), trans)
                    dist.reduce(t, dst=N - 1, op=getattr(Op, op))
                    check(t, want if R == N - 1 else data(R, shape, dtype), f"reduce {op} {label}")
                for src in range(N):
                    t = tensor(data(R, shape, dtype, salt=src), trans)
                    dist.broadcast(t, src=src)
                    check(t, data(src, shape, dtype, salt=src), f"broadcast from {src} {label}")
                gathered = [tensor(np.zeros(shape, npdt(dtype)), trans) for _ in range(N)]
                dist.all_gather(gathered, tensor(data(R, shape, dtype), trans))
                for r in range(N):
                    check(gathered[r], data(r, shape, dtype), f"all_gather[{r}] {label}")
            check_gather_scatter(dtype, shape)
        check_reduce_scatter(dtype)
    check_bool()
    check_into_tensor()
    check_all_to_all()
    check_p2p()
    check_async()
    check_groups()
    check_mismatches()
    dist.barrier()
    print(f"collectives ok rank {R} of {N}", flush=True)


def check_gather_scatter(dtype, shape):
    out = [tensor(np.zeros(shape, npdt(dtype))) for _ in range(N)] if R == 0 else None
    dist.gather(tensor(data(R, shape, dtype)), out, dst=0)
    if R == 0:
        for r in range(N):
            check(out[r], data(r, shape, dtype), f"gather[{r}] {dtype} {shape}")
    pieces = [tensor(data(r, shape, dtype, salt=5)) for r in range(N)] if R == N - 1 else None
    t = tensor(np.zeros(shape, npdt(dtype)))
    dist.scatter(t, pieces, src=N - 1)
    check(t, data(R, shape, dtype, salt=5), f"scatter {dtype} {shape}")


def check_reduce_scatter(dtype):
    shape = (2, 3)
    for op in ops_for(dtype):
        ins = [tensor(data(R, shape, dtype, salt=j)) for j in range(N)]
        out = tensor(np.zeros(shape, npdt(dtype)))
        dist.reduce_scatter(out, ins, op=getattr(Op, op))
        want = reduce_np([data(r, shape, dtype, salt=R) for r in range(N)], op, dtype)
        check(out, want, f"reduce_scatter {op} {dtype}")
    stacked = np.concatenate([data(R, shape, dtype, salt=j) for j in range(N)])
    out = tensor(np.zeros(shape, npdt(dtype)))
    dist.reduce_scatter_tensor(out, tensor(stacked))
    want = reduce_np([data(r, shape, dtype, salt=R) for r in range(N)], "SUM", dtype)
    check(out, want, f"reduce_scatter_tensor {dtype}")


def check_bool():
    a = [np.array([r % 2 == 0, r == 1, True, False]) for r in range(N)]
    for op, fn in ((Op.SUM, np.logical_or), (Op.MIN, np.logical_and)):
        t = tensor(a[R])
        dist.all_reduce(t, op=op)
        check(t, fn.reduce(np.stack(a)), f"all_reduce bool {op.name}")
    ints = [np.array([r + 1, 6, 12], np.int64) for r in range(N)]
    t = tensor(ints[R])
    dist.all_reduce(t, op=Op.BXOR)
    check(t, np.bitwise_xor.reduce(np.stack(ints)), "all_reduce BXOR")


def check_into_tensor():
    out = ember.zeros(N * 3, 2)
    dist.all_gather_into_tensor(out, tensor(data(R, (3, 2), "float32")))
    check(out, np.concatenate([data(r, (3, 2), "float32") for r in range(N)]), "all_gather_into")


def check_all_to_all():
    # rank i sends i + j + 1 values to rank j
    ins = [tensor(np.full(R + j + 1, 10 * R + j, np.float64)) for j in range(N)]
    outs = [ember.zeros(j + R + 1, dtype=ember.float64) for j in range(N)]
    dist.all_to_all(outs, ins)
    for j in range(N):
        check(outs[j], np.full(j + R + 1, 10 * j + R), f"all_to_all from {j}")


def check_p2p():
    nxt, prv = (R + 1) % N, (R - 1) % N
    for dtype in ("float32", "int64", "bfloat16"):
        send = dist.isend(tensor(data(R, (4, 3), dtype)), nxt, tag=3)
        got = tensor(np.zeros((4, 3), npdt(dtype)), transposed=True)
        work = dist.irecv(got, prv, tag=3)
        work.wait()
        send.wait()
        check(got, data(prv, (4, 3), dtype), f"isend/irecv {dtype}")
        assert work.result() == prv
    if R == 0:
        for _ in range(N - 1):
            t = ember.zeros(2)
            src = dist.recv(t)  # from any rank
            check(t, np.full(2, src), "recv from any source")
    else:
        dist.send(ember.full((2,), float(R)), 0)
    check_p2p_order()


def check_p2p_order():
    """Two sends to one rank, received into two irecvs waited for in reverse order
    while the sender is late: each receive gets its own message."""
    if R == 0:
        time.sleep(0.2)
        works = [dist.isend(ember.full((4,), float(k)), 1, tag=4) for k in (1, 2)]
        for w in works:
            w.wait()
    elif R == 1:
        a, b = ember.zeros(4), ember.zeros(4)
        wa, wb = dist.irecv(a, 0, tag=4), dist.irecv(b, 0, tag=4)
        wb.wait()
        wa.wait()
        check(a, np.full(4, 1.0), "first of two irecvs")
        check(b, np.full(4, 2.0), "second of two irecvs")


def check_async():
    works, tensors = [], []
    for k in range(3):
        t = tensor(data(R, (6,), "float32", salt=k))
        works.append(dist.all_reduce(t, async_op=True))
        tensors.append(t)
    for k, (w, t) in enumerate(zip(works, tensors)):
        assert w.wait() is True and w.is_completed()
        check(
            t, reduce_np([data(r, (6,), "float32", salt=k) for r in range(N)], "SUM", ""), "async"
        )
    w = dist.barrier(async_op=True)
    w.wait()
    check_async_order()


def check_async_order():
    """An async all_reduce then a synchronous one, the last rank arriving late and
    polling its async op in between: each call must reduce its own tensors (posting
    the async op's data only when polled once paired one rank's first reduce with
    another's second)."""
    a = tensor(np.full(4, 1.0 + R, np.float32))
    b = tensor(np.full(4, 10.0 * (1 + R), np.float32))
    if R == N - 1:
        time.sleep(0.2)
    w = dist.all_reduce(a, async_op=True)
    if R == N - 1:
        for _ in range(2000):
            w.is_completed()
    dist.all_reduce(b)
    w.wait()
    check(a, np.full(4, sum(1.0 + r for r in range(N))), "async then sync: the async op")
    check(b, np.full(4, sum(10.0 * (1 + r) for r in range(N))), "async then sync: the sync op")


def check_groups():
    members = [0, N - 1]
    g = dist.new_group(members)
    if R in members:
        assert dist.get_rank(g) == members.index(R) and dist.get_world_size(g) == 2
        t = ember.tensor([float(R)])
        dist.all_reduce(t, group=g)
        check(t, [float(sum(members))], "subgroup all_reduce")
        t = ember.tensor([float(R)])
        dist.broadcast(t, src=N - 1, group=g)
        check(t, [float(N - 1)], "subgroup broadcast from a global rank")
    else:
        assert dist.get_rank(g) == -1
        try:
            dist.all_reduce(ember.zeros(1), group=g)
        except dist.DistError as e:
            assert "not a member" in str(e)
        else:
            raise AssertionError("a non-member used a group without an error")
    dist.destroy_process_group(g)


def expect_error(fn, *needles):
    try:
        fn()
    except dist.DistError as e:
        msg = str(e)
        for s in needles:
            assert s in msg, f"rank {R}: {s!r} not in error {msg!r}"
        return
    raise AssertionError(f"rank {R}: no error")


def expect(exc, fn, needle):
    try:
        fn()
    except exc as e:
        assert needle in str(e), f"rank {R}: {needle!r} not in {e!r}"
        return
    raise AssertionError(f"rank {R}: {exc.__name__} not raised")


def check_bad_arguments():
    ints = ember.ones(3, dtype=ember.int64)
    expect(TypeError, lambda: dist.all_reduce(ints, op=Op.AVG), "floating-point")
    expect(TypeError, lambda: dist.all_reduce(ember.ones(2), op=Op.BXOR), "integer or bool")
    expect(TypeError, lambda: dist.all_reduce(ember.ones(2), op="sum"), "ReduceOp")
    expect(ValueError, lambda: dist.broadcast(ember.ones(2), src=N), "not a member")
    expect(
        ValueError,
        lambda: dist.all_gather([ember.ones(2)] * (N + 1), ember.ones(2)),
        "one tensor per rank",
    )  # noqa: E501
    expect(ValueError, lambda: dist.all_gather([ember.ones(3)] * N, ember.ones(2)), "shape (3,)")
    expect(TypeError, lambda: dist.all_reduce(np.ones(2)), "ember.Tensor")
    expect(ValueError, lambda: dist.send(ember.ones(2), (R + 1) % N, tag=-1), "tag")


def check_mismatches():
    check_bad_arguments()
    shape = (3,) if R == 0 else (4, 2)
    expect_error(lambda: dist.all_reduce(ember.zeros(*shape)), "rank 0", "(3,)", "rank 1", "(4, 2)")
    dt = ember.float32 if R == 0 else ember.float64
    expect_error(lambda: dist.broadcast(ember.zeros(2, dtype=dt), 0), "float32", "float64")
    if R == 0:
        expect_error(lambda: dist.broadcast(ember.zeros(2), 0), "operations do not match")
    else:
        expect_error(lambda: dist.all_reduce(ember.zeros(2)), "operations do not match")
    expect_error(lambda: dist.broadcast(ember.zeros(2), src=R), "root 0", "root 1")
    # point to point: the receiver names both shapes
    if R == 0:
        dist.send(ember.ones(3), 1, tag=9)
        dist.send(ember.ones(7), 1, tag=9)  # bigger than the receiver's buffer
        dist.send(ember.full((2,), 5.0), 1, tag=9)
    elif R == 1:
        expect_error(lambda: dist.recv(ember.zeros(5), 0, tag=9), "rank 0 sent", "(3,)", "(5,)")
        # the mismatched message was consumed: the next receive gets the next message
        expect_error(lambda: dist.recv(ember.zeros(2), 0, tag=9), "rank 0 sent", "(7,)", "(2,)")
        t = ember.zeros(2)
        dist.recv(t, 0, tag=9)
        check(t, [5.0, 5.0], "recv after mismatches")
    dist.barrier()


if __name__ == "__main__":
    main()
    sys.stdout.flush()
