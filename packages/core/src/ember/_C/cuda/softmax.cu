/* Softmax, log-softmax and cross-entropy over the last dim of (rows, n) C-contiguous
 * float32/float64 arrays, forward and backward: the CUDA side of ember._nn_kernels_loss.
 *
 * One block per row (grid-strided): a max pass, a sum-of-exp pass and a write pass, all
 * reading the row from global memory (it is in L2 after the first pass). A row holding a
 * NaN gives NaN, as on the CPU.
 */
#include "ember_common.cuh"

EM_DEV float em_expx(float x) { return expf(x); }
EM_DEV double em_expx(double x) { return exp(x); }
EM_DEV float em_logx(float x) { return logf(x); }
EM_DEV double em_logx(double x) { return log(x); }

/* max and log(sum(exp(x - max))) of row p; valid in every thread. */
template <typename T>
__device__ void em_row_lse(const T *p, int64_t n, T *smem, T *mx_out, T *lse_out) {
    T mx = -(T)EM_INF;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        T v = p[i];
        mx = (v > mx || v != v) ? v : mx;
    }
    mx = em_block_max(mx, smem, -(T)EM_INF);
    T s = 0;
    /* a row of -inf has max -inf: shift by 0 so exp gives 0 and the log -inf */
    T shift = (mx == -(T)EM_INF) ? (T)0 : mx;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += em_expx(p[i] - shift);
    s = em_block_sum(s, smem);
    *mx_out = shift;
    *lse_out = em_logx(s);
}

template <typename T>
__device__ void em_softmax_fwd(const T *x, T *y, int64_t rows, int64_t n, int log) {
    __shared__ T smem[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *p = x + r * n;
        T *q = y + r * n;
        T mx, lse;
        em_row_lse(p, n, smem, &mx, &lse);
        if (log) {
            for (int64_t i = threadIdx.x; i < n; i += blockDim.x) q[i] = (p[i] - mx) - lse;
        } else {
            T inv = (T)1 / em_expx(lse);
            for (int64_t i = threadIdx.x; i < n; i += blockDim.x) q[i] = em_expx(p[i] - mx) * inv;
        }
    }
}

/* softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy). */
template <typename T>
__device__ void em_softmax_bwd(const T *gy, const T *y, T *gx, int64_t rows, int64_t n, int log) {
    __shared__ T smem[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *g = gy + r * n, *p = y + r * n;
        T *q = gx + r * n;
        T s = 0;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += log ? g[i] : g[i] * p[i];
        s = em_block_sum(s, smem);
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
            q[i] = log ? g[i] - em_expx(p[i]) * s : p[i] * (g[i] - s);
    }
}

/* Per-row cross-entropy of logits x (rows, C) against targets t (rows,):
 *   loss_i = (1 - eps) * w_t * (lse - x_t) + eps / C * sum_c w_c * (lse - x_c)
 * (w = 1 without weights), rowweight_i = w_t (0 for ignored rows, whose loss is 0).
 * An out-of-range target records (row, value) in bad[0..1] (first writer wins). */
template <typename T>
__device__ void em_ce_fwd(const T *x, const int64_t *t, const T *w, int64_t rows, int64_t C,
                          int64_t ignore, double eps, T *loss, T *lse_out, T *roww,
                          unsigned long long *bad) {
    __shared__ T smem[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *p = x + r * C;
        T mx, lse;
        em_row_lse(p, C, smem, &mx, &lse);
        T full = mx + lse;
        int64_t ti = t[r];
        bool ignored = ti == ignore;
        bool ok = ignored || (ti >= 0 && ti < C);
        T smooth = 0;
        if (eps != 0.0) {
            for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
                smooth += (w ? w[c] : (T)1) * (full - p[c]);
            smooth = em_block_sum(smooth, smem);
        }
        if (threadIdx.x == 0) {
            lse_out[r] = full;
            if (!ok) {
                if (atomicCAS(bad, 0ull, (unsigned long long)r + 1ull) == 0ull)
                    bad[1] = (unsigned long long)ti;
                loss[r] = 0;
                roww[r] = 0;
            } else if (ignored) {
                loss[r] = 0;
                roww[r] = 0;
            } else {
                T wt = w ? w[ti] : (T)1;
                loss[r] = (T)(1.0 - eps) * wt * (full - p[ti]) + (T)(eps / (double)C) * smooth;
                roww[r] = wt;
            }
        }
    }
}

/* gx_i = g_i * (p * ((1 - eps) w_t + eps * W / C) - eps * w / C - (1 - eps) w_t onehot(t))
 * with p = exp(x - lse), W = sum(w), g_i = gy[i * gy_stride] * scale; 0 for ignored rows. */
template <typename T>
__device__ void em_ce_bwd(const T *gy, int64_t gy_stride, double scale, const T *x,
                          const int64_t *t, const T *w, const T *lse, int64_t rows, int64_t C,
                          int64_t ignore, double eps, T wsum, T *gx) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *p = x + r * C;
        T *q = gx + r * C;
        int64_t ti = t[r];
        if (ti == ignore || ti < 0 || ti >= C) {
            for (int64_t c = threadIdx.x; c < C; c += blockDim.x) q[c] = 0;
            continue;
        }
        T g = gy[r * gy_stride] * (T)scale;
        T wt = w ? w[ti] : (T)1;
        T e = (T)eps, ec = (T)(eps / (double)C);
        T coef = ((T)1 - e) * wt + ec * wsum;
        T l = lse[r];
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            T v = em_expx(p[c] - l) * coef - ec * (w ? w[c] : (T)1);
            if (c == ti) v -= ((T)1 - e) * wt;
            q[c] = g * v;
        }
    }
}

#define EM_SOFTMAX_KERNELS(T, SFX)                                                         \
    extern "C" __global__ void ember_softmax_fwd_##SFX(const T *x, T *y, int64_t rows,     \
                                                       int64_t n, int32_t log) {           \
        em_softmax_fwd<T>(x, y, rows, n, log);                                             \
    }                                                                                      \
    extern "C" __global__ void ember_softmax_bwd_##SFX(const T *gy, const T *y, T *gx,     \
                                                       int64_t rows, int64_t n,            \
                                                       int32_t log) {                      \
        em_softmax_bwd<T>(gy, y, gx, rows, n, log);                                        \
    }                                                                                      \
    extern "C" __global__ void ember_cross_entropy_fwd_##SFX(                              \
        const T *x, const int64_t *t, const T *w, int64_t rows, int64_t C, int64_t ignore, \
        double eps, T *loss, T *lse, T *roww, unsigned long long *bad) {                   \
        em_ce_fwd<T>(x, t, w, rows, C, ignore, eps, loss, lse, roww, bad);                 \
    }                                                                                      \
    extern "C" __global__ void ember_cross_entropy_bwd_##SFX(                              \
        const T *gy, int64_t gy_stride, double scale, const T *x, const int64_t *t,        \
        const T *w, const T *lse, int64_t rows, int64_t C, int64_t ignore, double eps,     \
        T wsum, T *gx) {                                                                   \
        em_ce_bwd<T>(gy, gy_stride, scale, x, t, w, lse, rows, C, ignore, eps, wsum, gx);  \
    }
EM_FLOAT32_64(EM_SOFTMAX_KERNELS)
