/* Batch and layer normalization forward/backward and embedding backward for
 * float32/float64 (the CUDA side of ember._nn_kernels_norm), same semantics as the CPU:
 * biased variance normalizes, running_var gets the unbiased one, statistics are
 * accumulated in the dtype with a two-pass (mean, then squared deviations) scheme.
 *
 * Batch norm views x as (N, C, S). Statistics: one block per channel. Apply and input
 * gradient: one thread per element. Layer norm views x as (rows, n): one block per row;
 * its weight/bias gradients are column sums, one thread per column.
 */
#include "ember_common.cuh"

EM_DEV float em_rsqrtx(float x) { return 1.0f / sqrtf(x); }
EM_DEV double em_rsqrtx(double x) { return 1.0 / sqrt(x); }

/* Channel c's mean and 1/sqrt(var + eps); updates the running estimates when given. */
template <typename T>
__device__ void em_bn_stats(const T *x, int64_t n, int64_t C, int64_t S, T *mean, T *invstd,
                            T *rmean, T *rvar, double momentum, double eps) {
    __shared__ T smem[32];
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        int64_t M = n * S;
        T s = 0;
        for (int64_t i = threadIdx.x; i < M; i += blockDim.x) s += x[((i / S) * C + c) * S + i % S];
        T mu = em_block_sum(s, smem) / (T)M;
        T q = 0;
        for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
            T d = x[((i / S) * C + c) * S + i % S] - mu;
            q += d * d;
        }
        T var = em_block_sum(q, smem) / (T)M;
        if (threadIdx.x == 0) {
            mean[c] = mu;
            invstd[c] = em_rsqrtx(var + (T)eps);
            if (rmean) rmean[c] = (T)(1.0 - momentum) * rmean[c] + (T)momentum * mu;
            if (rvar) {
                T unbiased = M > 1 ? var * (T)M / (T)(M - 1) : var;
                rvar[c] = (T)(1.0 - momentum) * rvar[c] + (T)momentum * unbiased;
            }
        }
    }
}

/* y = (x - mean[c]) * invstd[c] * w[c] + b[c]. */
template <typename T>
__device__ void em_bn_apply(const T *x, T *y, const T *mean, const T *invstd, const T *w,
                            const T *b, int64_t total, int64_t C, int64_t S) {
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t c = (i / S) % C;
        T v = (x[i] - mean[c]) * invstd[c];
        if (w) v = v * w[c];
        if (b) v = v + b[c];
        y[i] = v;
    }
}

/* Per channel: gb = sum(gy), gw = sum(gy * xhat); one block per channel. */
template <typename T>
__device__ void em_bn_bwd_reduce(const T *gy, const T *x, const T *mean, const T *invstd,
                                 int64_t n, int64_t C, int64_t S, T *gw, T *gb) {
    __shared__ T smem[32];
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        int64_t M = n * S;
        T s1 = 0, s2 = 0, mu = mean[c];
        for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
            int64_t j = ((i / S) * C + c) * S + i % S;
            s1 += gy[j];
            s2 += gy[j] * (x[j] - mu);
        }
        s1 = em_block_sum(s1, smem);
        s2 = em_block_sum(s2, smem);
        if (threadIdx.x == 0) {
            gb[c] = s1;
            gw[c] = s2 * invstd[c];
        }
    }
}

/* Training: gx = w * invstd * (gy - gb / M - xhat * gw / M); eval: gx = gy * w * invstd. */
template <typename T>
__device__ void em_bn_bwd_input(const T *gy, const T *x, const T *w, const T *mean,
                                const T *invstd, const T *gw, const T *gb, T *gx,
                                int64_t total, int64_t C, int64_t S, int32_t training) {
    T M = (T)(total / C);
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t c = (i / S) % C;
        T g = gy[i];
        if (training) {
            T xhat = (x[i] - mean[c]) * invstd[c];
            g = g - gb[c] / M - xhat * gw[c] / M;
        }
        gx[i] = g * invstd[c] * (w ? w[c] : (T)1);
    }
}

/* Layer norm of row r of x (rows, n): y = (x - mean) * rstd * w + b; saves mean, rstd. */
template <typename T>
__device__ void em_ln_fwd(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd,
                          int64_t rows, int64_t n, double eps) {
    __shared__ T smem[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *p = x + r * n;
        T s = 0;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += p[i];
        T mu = em_block_sum(s, smem) / (T)n;
        T q = 0;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) q += (p[i] - mu) * (p[i] - mu);
        T rs = em_rsqrtx(em_block_sum(q, smem) / (T)n + (T)eps);
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            T v = (p[i] - mu) * rs;
            if (w) v = v * w[i];
            if (b) v = v + b[i];
            y[r * n + i] = v;
        }
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

/* gx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * w, per row. */
template <typename T>
__device__ void em_ln_bwd(const T *gy, const T *x, const T *w, const T *mean, const T *rstd,
                          T *gx, int64_t rows, int64_t n) {
    __shared__ T smem[32];
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *g = gy + r * n, *p = x + r * n;
        T mu = mean[r], rs = rstd[r], s1 = 0, s2 = 0;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            T gi = w ? g[i] * w[i] : g[i];
            s1 += gi;
            s2 += gi * (p[i] - mu) * rs;
        }
        s1 = em_block_sum(s1, smem) / (T)n;
        s2 = em_block_sum(s2, smem) / (T)n;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            T gi = w ? g[i] * w[i] : g[i];
            gx[r * n + i] = rs * (gi - s1 - (p[i] - mu) * rs * s2);
        }
    }
}

/* Column sums over rows: gw[j] = sum_r gy * xhat, gb[j] = sum_r gy (either may be NULL). */
template <typename T>
__device__ void em_ln_bwd_wb(const T *gy, const T *x, const T *mean, const T *rstd, T *gw,
                             T *gb, int64_t rows, int64_t n) {
    for (int64_t j = em_global_id(); j < n; j += em_grid_stride()) {
        T sw = 0, sb = 0;
        for (int64_t r = 0; r < rows; r++) {
            T g = gy[r * n + j];
            sb += g;
            sw += g * (x[r * n + j] - mean[r]) * rstd[r];
        }
        if (gw) gw[j] = sw;
        if (gb) gb[j] = sb;
    }
}

/* gw[idx[i], :] += gy[i, :] for i < m, skipping padding_idx rows (has_pad != 0); gw is
 * zeroed by the caller. An index outside [0, num) records (i + 1, value) in bad. */
template <typename T>
__device__ void em_embedding_bwd(const T *gy, const int64_t *idx, T *gw, int64_t m, int64_t d,
                                 int64_t num, int64_t padding_idx, int32_t has_pad,
                                 unsigned long long *bad) {
    int64_t total = m * d;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t row = i / d, col = i - row * d;
        int64_t k = idx[row];
        if (k < 0 || k >= num) {
            if (col == 0 && atomicCAS(bad, 0ull, (unsigned long long)row + 1ull) == 0ull)
                bad[1] = (unsigned long long)k;
            continue;
        }
        if (has_pad && k == padding_idx) continue;
        em_atomic_add(gw + k * d + col, gy[i]);
    }
}

#define EM_NORM_KERNELS(T, SFX)                                                            \
    extern "C" __global__ void ember_batchnorm_stats_##SFX(                                \
        const T *x, int64_t n, int64_t C, int64_t S, T *mean, T *invstd, T *rmean,         \
        T *rvar, double momentum, double eps) {                                            \
        em_bn_stats<T>(x, n, C, S, mean, invstd, rmean, rvar, momentum, eps);              \
    }                                                                                      \
    extern "C" __global__ void ember_batchnorm_apply_##SFX(                                \
        const T *x, T *y, const T *mean, const T *invstd, const T *w, const T *b,          \
        int64_t total, int64_t C, int64_t S) {                                             \
        em_bn_apply<T>(x, y, mean, invstd, w, b, total, C, S);                             \
    }                                                                                      \
    extern "C" __global__ void ember_batchnorm_bwd_reduce_##SFX(                           \
        const T *gy, const T *x, const T *mean, const T *invstd, int64_t n, int64_t C,     \
        int64_t S, T *gw, T *gb) {                                                         \
        em_bn_bwd_reduce<T>(gy, x, mean, invstd, n, C, S, gw, gb);                         \
    }                                                                                      \
    extern "C" __global__ void ember_batchnorm_bwd_input_##SFX(                            \
        const T *gy, const T *x, const T *w, const T *mean, const T *invstd, const T *gw,  \
        const T *gb, T *gx, int64_t total, int64_t C, int64_t S, int32_t training) {       \
        em_bn_bwd_input<T>(gy, x, w, mean, invstd, gw, gb, gx, total, C, S, training);     \
    }                                                                                      \
    extern "C" __global__ void ember_layernorm_fwd_##SFX(const T *x, const T *w,           \
                                                         const T *b, T *y, T *mean,        \
                                                         T *rstd, int64_t rows, int64_t n, \
                                                         double eps) {                     \
        em_ln_fwd<T>(x, w, b, y, mean, rstd, rows, n, eps);                                \
    }                                                                                      \
    extern "C" __global__ void ember_layernorm_bwd_##SFX(const T *gy, const T *x,          \
                                                         const T *w, const T *mean,        \
                                                         const T *rstd, T *gx,             \
                                                         int64_t rows, int64_t n) {        \
        em_ln_bwd<T>(gy, x, w, mean, rstd, gx, rows, n);                                   \
    }                                                                                      \
    extern "C" __global__ void ember_layernorm_bwd_wb_##SFX(                               \
        const T *gy, const T *x, const T *mean, const T *rstd, T *gw, T *gb, int64_t rows, \
        int64_t n) {                                                                       \
        em_ln_bwd_wb<T>(gy, x, mean, rstd, gw, gb, rows, n);                               \
    }                                                                                      \
    extern "C" __global__ void ember_embedding_bwd_##SFX(                                  \
        const T *gy, const int64_t *idx, T *gw, int64_t m, int64_t d, int64_t num,         \
        int64_t padding_idx, int32_t has_pad, unsigned long long *bad) {                   \
        em_embedding_bwd<T>(gy, idx, gw, m, d, num, padding_idx, has_pad, bad);            \
    }
EM_FLOAT32_64(EM_NORM_KERNELS)
