"""A differentiable optimization layer (the seed's OptNet example).

``solve_qp`` solves a batch of convex quadratic programs

    minimize 1/2 z^T Q z + p^T z   subject to   G z <= h

with a primal-dual interior-point method written entirely in ember ops, so
autograd differentiates the solution with respect to Q, p, G and h through
the solver's iterations. The demo learns the linear term ``p`` so that the
QP's solution hits a target point that lies on the feasible set's boundary,
and checks the layer's gradient against finite differences.
Run: ``python examples/optnet_qp.py [--steps N]``.
"""

import argparse

import ember


def solve_qp(Q, p, G, h, iters: int = 30, sigma: float = 0.1):
    """Batched QP solution ``z`` of shape (B, n). Q: (B, n, n) SPD; p: (B, n);
    G: (m, n); h: (m,). Newton steps on the perturbed KKT conditions with a
    fraction-to-the-boundary rule keeping slacks and duals positive."""
    B, n = p.shape
    m = h.shape[0]
    z = ember.zeros(B, n, dtype=p.dtype)
    s = ember.ones(B, m, dtype=p.dtype)
    lam = ember.ones(B, m, dtype=p.dtype)
    Gt = G.t()
    for _ in range(iters):
        mu = (lam * s).mean(1, keepdim=True)
        rx = (Q @ z.unsqueeze(-1)).squeeze(-1) + p + lam @ G
        rp = z @ Gt + s - h
        rs = lam * s - sigma * mu
        d = lam / s
        # (Q + G^T D G) dz = -rx - G^T (D rp - rs / s)
        K = Q + Gt @ (d.unsqueeze(-1) * G)
        rhs = -rx - (d * rp - rs / s) @ G
        dz = ember.linalg.solve(K, rhs.unsqueeze(-1)).squeeze(-1)
        dlam = d * (dz @ Gt + rp) - rs / s
        ds = -(rs + s * dlam) / lam
        with ember.no_grad():  # the step length is a selection, not differentiated
            big = ember.full_like(s, 1e9)
            ratio_s = ember.where(ds < 0, -s / ember.where(ds < 0, ds, -1.0), big).amin(1)
            ratio_l = ember.where(dlam < 0, -lam / ember.where(dlam < 0, dlam, -1.0), big).amin(1)
            alpha = ember.clamp(0.99 * ember.minimum(ratio_s, ratio_l), max=1.0).unsqueeze(1)
        z = z + alpha * dz
        s = s + alpha * ds
        lam = lam + alpha * dlam
    return z


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    ember.manual_seed(0)
    dt = ember.float64
    n, m, B = 2, 4, 3
    Q = ember.eye(n, dtype=dt).expand(B, n, n).contiguous()
    # The unit box |z_i| <= 1 as four inequalities.
    G = ember.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1]], dtype=dt)
    h = ember.ones(m, dtype=dt)
    target = ember.tensor([[1.0, 0.3], [-0.5, 1.0], [0.2, -0.7]], dtype=dt)

    p = ember.zeros(B, n, dtype=dt, requires_grad=True)
    for step in range(args.steps):
        z = solve_qp(Q, p, G, h)
        loss = ((z - target) ** 2).sum()
        loss.backward()
        with ember.no_grad():
            p -= 0.5 * p.grad
            p.grad = None
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.6f}")
    print("solution:", [[round(v, 3) for v in row] for row in z.tolist()])

    # The layer's gradient against central finite differences.
    p0 = ember.randn(1, n, dtype=dt)
    pg = p0.clone().requires_grad_()
    (solve_qp(Q[:1], pg, G, h, iters=40) ** 2).sum().backward()
    eps = 1e-6
    for i in range(n):
        e = ember.zeros(1, n, dtype=dt)
        e[0, i] = eps
        fd = (
            (solve_qp(Q[:1], p0 + e, G, h, iters=40) ** 2).sum()
            - (solve_qp(Q[:1], p0 - e, G, h, iters=40) ** 2).sum()
        ) / (2 * eps)
        print(
            f"dL/dp[{i}]: autograd {pg.grad[0, i].item():+.6f}  finite differences {fd.item():+.6f}"
        )
        assert abs(pg.grad[0, i].item() - fd.item()) < 1e-4
    return loss.item()


if __name__ == "__main__":
    main()
