/* 2-D max and average pooling over (planes, H, W) float32/float64 arrays, forward and
 * backward, with PyTorch's semantics (the CUDA side of ember._nn_kernels_pool):
 * padding reads as -inf (max) or 0 (avg), windows are clipped at the padded border, a
 * NaN in a window is its max, max indices are flat positions in the unpadded plane, and
 * the average divides by divisor_override, else the window size counted with or without
 * the padding (count_include_pad).
 *
 * Forward: one thread per output element. Backward: one thread per gy element adding
 * into gx with atomicAdd (windows may overlap).
 */
#include "ember_common.cuh"

/* planes, input (h, w), output (h, w), kernel, stride, padding, dilation. */
struct em_pool_geom {
    int64_t planes, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

template <typename T>
__device__ void em_maxpool_fwd(const em_pool_geom g, const T *x, T *y, int64_t *idx) {
    int64_t total = g.planes * g.oh * g.ow;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, pl = i / (g.ow * g.oh);
        const T *p = x + pl * g.ih * g.iw;
        T best = -(T)EM_INF;
        int64_t arg = -1;
        for (int64_t a = 0; a < g.kh; a++) {
            int64_t yy = oy * g.sh - g.ph + a * g.dh;
            if (yy < 0 || yy >= g.ih) continue;
            for (int64_t b = 0; b < g.kw; b++) {
                int64_t xx = ox * g.sw - g.pw + b * g.dw;
                if (xx < 0 || xx >= g.iw) continue;
                T v = p[yy * g.iw + xx];
                if (arg < 0 || v > best || v != v) { /* the last NaN wins, as on the CPU */
                    best = v;
                    arg = yy * g.iw + xx;
                }
            }
        }
        y[i] = best;
        idx[i] = arg; /* -1 for a window wholly in the padding */
    }
}

template <typename T>
__device__ void em_maxpool_bwd(const em_pool_geom g, const T *gy, const int64_t *idx, T *gx) {
    int64_t total = g.planes * g.oh * g.ow;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t pl = i / (g.ow * g.oh), j = idx[i];
        if (j >= 0 && j < g.ih * g.iw) em_atomic_add(gx + pl * g.ih * g.iw + j, gy[i]);
    }
}

/* The window of output (oy, ox) clipped to the input, and its divisor. */
__device__ static __forceinline__ double em_avg_window(const em_pool_geom &g, int64_t oy,
                                                       int64_t ox, int count_include_pad,
                                                       int64_t divisor_override, int64_t *y0,
                                                       int64_t *y1, int64_t *x0, int64_t *x1) {
    int64_t hs = oy * g.sh - g.ph, ws = ox * g.sw - g.pw;
    int64_t he = hs + g.kh < g.ih + g.ph ? hs + g.kh : g.ih + g.ph;
    int64_t we = ws + g.kw < g.iw + g.pw ? ws + g.kw : g.iw + g.pw;
    int64_t padded = (he - hs) * (we - ws);
    hs = hs > 0 ? hs : 0;
    ws = ws > 0 ? ws : 0;
    he = he < g.ih ? he : g.ih;
    we = we < g.iw ? we : g.iw;
    *y0 = hs, *y1 = he, *x0 = ws, *x1 = we;
    if (divisor_override) return (double)divisor_override;
    return (double)(count_include_pad ? padded : (he - hs) * (we - ws));
}

template <typename T>
__device__ void em_avgpool_fwd(const em_pool_geom g, const T *x, T *y, int32_t cip,
                               int64_t divisor_override) {
    int64_t total = g.planes * g.oh * g.ow;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, pl = i / (g.ow * g.oh);
        int64_t y0, y1, x0, x1;
        double div = em_avg_window(g, oy, ox, cip, divisor_override, &y0, &y1, &x0, &x1);
        const T *p = x + pl * g.ih * g.iw;
        T s = 0;
        for (int64_t a = y0; a < y1; a++)
            for (int64_t b = x0; b < x1; b++) s += p[a * g.iw + b];
        y[i] = s / (T)div;
    }
}

template <typename T>
__device__ void em_avgpool_bwd(const em_pool_geom g, const T *gy, T *gx, int32_t cip,
                               int64_t divisor_override) {
    int64_t total = g.planes * g.oh * g.ow;
    for (int64_t i = em_global_id(); i < total; i += em_grid_stride()) {
        int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, pl = i / (g.ow * g.oh);
        int64_t y0, y1, x0, x1;
        double div = em_avg_window(g, oy, ox, cip, divisor_override, &y0, &y1, &x0, &x1);
        T v = gy[i] / (T)div;
        T *q = gx + pl * g.ih * g.iw;
        for (int64_t a = y0; a < y1; a++)
            for (int64_t b = x0; b < x1; b++) em_atomic_add(q + a * g.iw + b, v);
    }
}

#define EM_POOL_KERNELS(T, SFX)                                                            \
    extern "C" __global__ void ember_maxpool2d_fwd_##SFX(const em_pool_geom g, const T *x, \
                                                         T *y, int64_t *idx) {             \
        em_maxpool_fwd<T>(g, x, y, idx);                                                   \
    }                                                                                      \
    extern "C" __global__ void ember_maxpool2d_bwd_##SFX(const em_pool_geom g, const T *gy, \
                                                         const int64_t *idx, T *gx) {      \
        em_maxpool_bwd<T>(g, gy, idx, gx);                                                 \
    }                                                                                      \
    extern "C" __global__ void ember_avgpool2d_fwd_##SFX(const em_pool_geom g, const T *x, \
                                                         T *y, int32_t cip,                \
                                                         int64_t divisor_override) {       \
        em_avgpool_fwd<T>(g, x, y, cip, divisor_override);                                 \
    }                                                                                      \
    extern "C" __global__ void ember_avgpool2d_bwd_##SFX(const em_pool_geom g, const T *gy, \
                                                         T *gx, int32_t cip,               \
                                                         int64_t divisor_override) {       \
        em_avgpool_bwd<T>(g, gy, gx, cip, divisor_override);                               \
    }
EM_FLOAT32_64(EM_POOL_KERNELS)
