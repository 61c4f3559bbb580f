/* im2col / col2im for 1-3 spatial dims (every problem is made 3-D with unit leading
 * dims, as the CPU kernels do). Layout is PyTorch's unfold, the same as
 * ember._nn_kernels_conv: cols (N, C * kd*kh*kw, od*oh*ow), row c*K + k, column = output
 * position, so conv forward is one batched GEMM (cuBLAS through CuPy) on cols.
 *
 * im2col: one thread per cols element (reads as zero in the padding).
 * col2im: one thread per *input* element, summing the columns that read it: a gather,
 * so there are no atomics and the result is deterministic.
 */
#include "ember_common.cuh"

/* Geometry (int64 fields, one kernel argument): batch, channels, then per dim (d, h, w)
 * input size, kernel, stride, padding, dilation and output size. */
struct em_conv_geom {
    int64_t n, c;
    int64_t in[3], k[3], s[3], p[3], d[3], out[3];
};

template <typename T>
__device__ void em_im2col(const em_conv_geom g, const T *x, T *cols) {
    int64_t K = g.k[0] * g.k[1] * g.k[2], L = g.out[0] * g.out[1] * g.out[2];
    int64_t total = g.n * g.c * K * L;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t l = i % L, rest = i / L;
        int64_t k = rest % K, nc = rest / K; /* nc = n * C + c */
        int64_t ow = l % g.out[2], oh = (l / g.out[2]) % g.out[1], od = l / (g.out[2] * g.out[1]);
        int64_t kw = k % g.k[2], kh = (k / g.k[2]) % g.k[1], kd = k / (g.k[2] * g.k[1]);
        int64_t z = od * g.s[0] - g.p[0] + kd * g.d[0];
        int64_t y = oh * g.s[1] - g.p[1] + kh * g.d[1];
        int64_t xx = ow * g.s[2] - g.p[2] + kw * g.d[2];
        T v = 0;
        if (z >= 0 && z < g.in[0] && y >= 0 && y < g.in[1] && xx >= 0 && xx < g.in[2])
            v = x[((nc * g.in[0] + z) * g.in[1] + y) * g.in[2] + xx];
        cols[i] = v;
    }
}

/* Output positions o with o*s - p + k*d == pos for some kernel offset k: for each k,
 * o = (pos + p - k*d) / s when that divides exactly and 0 <= o < out. */
template <typename T>
__device__ void em_col2im(const em_conv_geom g, const T *cols, T *x) {
    int64_t K = g.k[0] * g.k[1] * g.k[2], L = g.out[0] * g.out[1] * g.out[2];
    int64_t S = g.in[0] * g.in[1] * g.in[2];
    int64_t total = g.n * g.c * S;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t pos = i % S, nc = i / S;
        int64_t pw = pos % g.in[2], ph = (pos / g.in[2]) % g.in[1], pd = pos / (g.in[2] * g.in[1]);
        const T *base = cols + nc * K * L;
        T acc = 0;
        for (int64_t kd = 0; kd < g.k[0]; kd++) {
            int64_t td = pd + g.p[0] - kd * g.d[0];
            if (td < 0 || td % g.s[0]) continue;
            int64_t od = td / g.s[0];
            if (od >= g.out[0]) continue;
            for (int64_t kh = 0; kh < g.k[1]; kh++) {
                int64_t th = ph + g.p[1] - kh * g.d[1];
                if (th < 0 || th % g.s[1]) continue;
                int64_t oh = th / g.s[1];
                if (oh >= g.out[1]) continue;
                for (int64_t kw = 0; kw < g.k[2]; kw++) {
                    int64_t tw = pw + g.p[2] - kw * g.d[2];
                    if (tw < 0 || tw % g.s[2]) continue;
                    int64_t ow = tw / g.s[2];
                    if (ow >= g.out[2]) continue;
                    int64_t k = (kd * g.k[1] + kh) * g.k[2] + kw;
                    int64_t l = (od * g.out[1] + oh) * g.out[2] + ow;
                    acc += base[k * L + l];
                }
            }
        }
        x[i] = acc;
    }
}

#define EM_CONV_KERNELS(T, SFX)                                                            \
    extern "C" __global__ void ember_im2col_##SFX(const em_conv_geom g, const T *x,        \
                                                  T *cols) {                               \
        em_im2col<T>(g, x, cols);                                                          \
    }                                                                                      \
    extern "C" __global__ void ember_col2im_##SFX(const em_conv_geom g, const T *cols,     \
                                                  T *x) {                                  \
        em_col2im<T>(g, cols, x);                                                          \
    }
EM_FLOAT32_64(EM_CONV_KERNELS)
