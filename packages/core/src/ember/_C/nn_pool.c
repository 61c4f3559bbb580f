/* Max, average and adaptive 2-D pooling with their backward passes (see nn_pool.h).
 *
 * Forward kernels split the (plane, output row) pairs across threads; backward kernels
 * split planes, so each thread owns the gx elements it accumulates into. Window bounds
 * are clipped to the input, so no geometry can make a kernel read outside x. */
#include "nn_common.inc"

#include "nn_pool.h"

/* Largest size accepted for any dim, so products like oh * stride cannot overflow. */
#define NN_POOL_MAXDIM ((int64_t)1 << 40)

typedef struct {
    int64_t p, h, w, oh, ow, k[2], s[2], pad[2], d[2];
    int64_t plane, oplane; /* H * W and OH * OW */
} pool_geom;

static int pool_geom_parse(const int64_t *g, int n, pool_geom *pg) {
    if (!g) return NN_EARG;
    pg->p = g[0];
    pg->h = g[1];
    pg->w = g[2];
    pg->oh = g[3];
    pg->ow = g[4];
    for (int i = 0; i < 5; i++)
        if (g[i] < 0 || g[i] > NN_POOL_MAXDIM) return NN_EARG;
    for (int i = 0; i < 2; i++) {
        pg->k[i] = n > 5 ? g[5 + i] : 1;
        pg->s[i] = n > 5 ? g[7 + i] : 1;
        pg->pad[i] = n > 5 ? g[9 + i] : 0;
        pg->d[i] = n > 5 ? g[11 + i] : 1;
        if (pg->k[i] < 1 || pg->s[i] < 1 || pg->d[i] < 1 || pg->pad[i] < 0) return NN_EARG;
        if (pg->k[i] > NN_POOL_MAXDIM || pg->s[i] > NN_POOL_MAXDIM ||
            pg->d[i] > NN_POOL_MAXDIM || pg->pad[i] > NN_POOL_MAXDIM)
            return NN_EARG;
    }
    NN_TRY(nn_mul(pg->h, pg->w, &pg->plane));
    NN_TRY(nn_mul(pg->oh, pg->ow, &pg->oplane));
    return NN_OK;
}

/* x must hold P planes of H * W, out P planes of OH * OW. */
static int pool_check(const pool_geom *pg, const void *x, int64_t nx, const void *out,
                      int64_t nout) {
    int64_t need;
    NN_TRY(nn_mul(pg->p, pg->plane, &need));
    NN_TRY(nn_fits(x, nx, need));
    NN_TRY(nn_mul(pg->p, pg->oplane, &need));
    return nn_fits(out, nout, need);
}

/* Input range [lo, hi) of max-pool window o along one dim, lo moved onto the dilation
 * grid past the padding (first tap at or after 0). */
static void max_window(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t d, int64_t in,
                       int64_t *lo, int64_t *hi) {
    int64_t a = o * s - pad, b = a + (k - 1) * d + 1;
    if (a < 0) a += ((-a + d - 1) / d) * d;
    *lo = a;
    *hi = b < in ? b : in;
}

/* Average-pool window o: [lo, hi) clipped to the input, and its size counting padding
 * (the window is first clipped to the padded extent, as PyTorch does). */
static void avg_window(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t in, int64_t *lo,
                       int64_t *hi, int64_t *padded) {
    int64_t a = o * s - pad, b = a + k;
    if (b > in + pad) b = in + pad;
    *padded = b - a;
    *lo = a < 0 ? 0 : a;
    *hi = b < in ? b : in;
}

static void adaptive_window(int64_t o, int64_t out, int64_t in, int64_t *lo, int64_t *hi) {
    if (out == 1) { /* global pooling: skip the divisions, they dominate small planes */
        *lo = 0;
        *hi = in;
        return;
    }
    *lo = (o * in) / out;
    *hi = ((o + 1) * in + out - 1) / out;
}

/* Check every index of a max-pool backward before any write: returns the first bad one.
 * -1 (what the forward records for a window that covers no input) is allowed. */
static int pool_check_indices(const int64_t *idx, int64_t n, int64_t plane, int64_t *bad) {
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] < -1 || idx[i] >= plane) {
            if (bad) {
                bad[0] = i;
                bad[1] = idx[i];
            }
            return NN_EINDEX;
        }
    }
    return NN_OK;
}

#define NN_T float
#define NN_S f32
#define NN_ISNAN(v) ((v) != (v))
#include "nn_pool_t.inc"
#undef NN_T
#undef NN_S
#define NN_T double
#define NN_S f64
#include "nn_pool_t.inc"
#undef NN_T
#undef NN_S
