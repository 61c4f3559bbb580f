/* Reductions along one axis of a C-contiguous array viewed as (outer, n, inner).
 *
 * Three shapes of work, chosen by the caller (ember._cuda.reduce):
 *  - rows  (inner == 1): one block per row, threads stride along the row;
 *  - cols  (inner > 1):  one thread per (outer, inner) column walking n, so adjacent
 *    threads read adjacent addresses;
 *  - split (inner == 1, few long rows): blocks each reduce a slice of a row into a
 *    partial in the accumulation type, then `rows` over the partials finishes. No
 *    atomics anywhere, so results are deterministic run to run.
 * Accumulation is float for 16-bit floats, the dtype itself otherwise; mean divides the
 * sum by n_total once at the end.
 */
#include "ember_common.cuh"

template <typename A> struct red_sum {
    EM_FN A init() const { return (A)0; }
    EM_FN A combine(A x, A y) const { return x + y; }
    EM_FN A block(A v, A *smem) const { return em_block_sum(v, smem); }
};
template <typename A> struct red_max {
    EM_FN A init() const { return -(A)EM_INF; }
    EM_FN A combine(A x, A y) const { return (y > x || y != y) ? y : x; }
    EM_FN A block(A v, A *smem) const { return em_block_max(v, smem, -(A)EM_INF); }
};
template <typename A> struct red_min {
    EM_FN A init() const { return (A)EM_INF; }
    EM_FN A combine(A x, A y) const { return (y < x || y != y) ? y : x; }
    EM_FN A block(A v, A *smem) const { return -em_block_max(-v, smem, -(A)EM_INF); }
};

/* One block per row (grid-strided over rows). scale != 0 multiplies the result (mean). */
template <typename T, typename O, typename R>
__device__ void em_reduce_rows(const T *x, O *out, int64_t outer, int64_t n, double scale, R r) {
    typedef typename em_num<T>::acc A;
    __shared__ A smem[32];
    for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
        const T *p = x + row * n;
        A acc = r.init();
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
            acc = r.combine(acc, em_num<T>::load(p[i]));
        acc = r.block(acc, smem);
        if (threadIdx.x == 0) {
            if (scale != 0.0) acc = (A)(acc * (A)scale);
            out[row] = em_num<O>::store((typename em_num<O>::acc)acc);
        }
    }
}

/* One thread per (outer, inner) column. */
template <typename T, typename R>
__device__ void em_reduce_cols(const T *x, T *out, int64_t outer, int64_t n, int64_t inner,
                               double scale, R r) {
    typedef typename em_num<T>::acc A;
    int64_t total = outer * inner;
    for (int64_t k = em_global_id(); k < total; k += em_grid_stride()) {
        int64_t o = k / inner, j = k - o * inner;
        const T *p = x + o * n * inner + j;
        A acc = r.init();
        for (int64_t i = 0; i < n; i++) acc = r.combine(acc, em_num<T>::load(p[i * inner]));
        if (scale != 0.0) acc = (A)(acc * (A)scale);
        out[k] = em_num<T>::store(acc);
    }
}

/* Block (c, row) reduces elements [c * chunk, (c + 1) * chunk) of a row into
 * partial[row * gridDim.x + c], in the accumulation type. */
template <typename T, typename R>
__device__ void em_reduce_split(const T *x, typename em_num<T>::acc *partial, int64_t n,
                                int64_t chunk, R r) {
    typedef typename em_num<T>::acc A;
    __shared__ A smem[32];
    int64_t row = blockIdx.y, c = blockIdx.x;
    const T *p = x + row * n;
    int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    A acc = r.init();
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
        acc = r.combine(acc, em_num<T>::load(p[i]));
    acc = r.block(acc, smem);
    if (threadIdx.x == 0) partial[row * gridDim.x + c] = acc;
}

/* The second pass over partials: acc-typed rows in, the dtype out. */
template <typename T, typename R>
__device__ void em_reduce_finish(const typename em_num<T>::acc *partial, T *out, int64_t outer,
                                 int64_t n, double scale, R r) {
    typedef typename em_num<T>::acc A;
    __shared__ A smem[32];
    for (int64_t row = blockIdx.x; row < outer; row += gridDim.x) {
        A acc = r.init();
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
            acc = r.combine(acc, partial[row * n + i]);
        acc = r.block(acc, smem);
        if (threadIdx.x == 0) {
            if (scale != 0.0) acc = (A)(acc * (A)scale);
            out[row] = em_num<T>::store(acc);
        }
    }
}

#define EM_REDUCE_KERNELS(OP, T, SFX)                                                      \
    extern "C" __global__ void ember_##OP##_rows_##SFX(const T *x, T *out, int64_t outer,  \
                                                       int64_t n, double scale) {          \
        em_reduce_rows<T, T>(x, out, outer, n, scale, red_##OP<em_num<T>::acc>());         \
    }                                                                                      \
    extern "C" __global__ void ember_##OP##_cols_##SFX(const T *x, T *out, int64_t outer,  \
                                                       int64_t n, int64_t inner,           \
                                                       double scale) {                     \
        em_reduce_cols<T>(x, out, outer, n, inner, scale, red_##OP<em_num<T>::acc>());     \
    }                                                                                      \
    extern "C" __global__ void ember_##OP##_split_##SFX(                                   \
        const T *x, em_num<T>::acc *partial, int64_t n, int64_t chunk) {                   \
        em_reduce_split<T>(x, partial, n, chunk, red_##OP<em_num<T>::acc>());              \
    }                                                                                      \
    extern "C" __global__ void ember_##OP##_finish_##SFX(                                  \
        const em_num<T>::acc *partial, T *out, int64_t outer, int64_t n, double scale) {   \
        em_reduce_finish<T>(partial, out, outer, n, scale, red_##OP<em_num<T>::acc>());    \
    }
#define EM_REDUCE_FLOAT(T, SFX)                                                            \
    EM_REDUCE_KERNELS(sum, T, SFX) EM_REDUCE_KERNELS(max, T, SFX) EM_REDUCE_KERNELS(min, T, SFX)
EM_FLOAT_TYPES(EM_REDUCE_FLOAT)
EM_REDUCE_KERNELS(sum, int32_t, i32)
EM_REDUCE_KERNELS(sum, int64_t, i64)
