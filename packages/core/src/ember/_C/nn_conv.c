/* im2col / col2im (see nn_conv.h): the data movement around the GEMM of a convolution.
 *
 * Every (kernel offset, output row) pair reads a strided run of one input row; the part
 * of the run that falls in the padding is computed once per kernel column, so the inner
 * loop is a branch-free strided copy (a memcpy at stride 1). */
#include "nn_common.inc"

#include "nn_conv.h"

typedef struct {
    int64_t n, c, in[3], k[3], s[3], p[3], d[3], out[3];
    int64_t kk, l, plane; /* kernel elements, output positions, input plane size */
} conv_geom;

/* floor(a / b) for b > 0 */
static int64_t nn_floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static int conv_geom_parse(const int64_t *g, conv_geom *cg) {
    if (!g) return NN_EARG;
    cg->n = g[0];
    cg->c = g[1];
    if (cg->n < 0 || cg->c < 0) return NN_EARG;
    cg->kk = 1;
    cg->l = 1;
    cg->plane = 1;
    for (int i = 0; i < 3; i++) {
        cg->in[i] = g[2 + i];
        cg->k[i] = g[5 + i];
        cg->s[i] = g[8 + i];
        cg->p[i] = g[11 + i];
        cg->d[i] = g[14 + i];
        if (cg->in[i] < 0 || cg->k[i] < 1 || cg->s[i] < 1 || cg->p[i] < 0 || cg->d[i] < 1)
            return NN_EARG;
        if (cg->in[i] > (INT64_MAX >> 4) || cg->p[i] > (INT64_MAX >> 4)) return NN_EARG;
        int64_t span;
        if (nn_mul(cg->d[i], cg->k[i] - 1, &span) || span > (INT64_MAX >> 4)) return NN_EARG;
        int64_t room = cg->in[i] + 2 * cg->p[i] - span - 1;
        if (room < 0) return NN_EARG; /* the kernel does not fit even once */
        cg->out[i] = room / cg->s[i] + 1;
        NN_TRY(nn_mul(cg->kk, cg->k[i], &cg->kk));
        NN_TRY(nn_mul(cg->l, cg->out[i], &cg->l));
        NN_TRY(nn_mul(cg->plane, cg->in[i], &cg->plane));
    }
    return NN_OK;
}

/* Sizes of x and cols for the geometry, checked against the buffers. */
static int conv_check(const conv_geom *cg, const void *x, int64_t nx, const void *cols,
                      int64_t ncols) {
    int64_t nc, need_x, need_c;
    NN_TRY(nn_mul(cg->n, cg->c, &nc));
    NN_TRY(nn_mul(nc, cg->plane, &need_x));
    NN_TRY(nn_mul(nc, cg->kk, &need_c));
    NN_TRY(nn_mul(need_c, cg->l, &need_c));
    NN_TRY(nn_fits(x, nx, need_x));
    return nn_fits(cols, ncols, need_c);
}

/* Output range [lo, hi) of one dim whose input index o * s - p + off lies in [0, in). */
static void conv_valid(int64_t in, int64_t s, int64_t p, int64_t off, int64_t out,
                       int64_t *lo, int64_t *hi) {
    int64_t a = p - off; /* o * s >= a */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t h = nn_floordiv(in - 1 + p - off, s) + 1; /* o * s <= in - 1 + p - off */
    if (h > out) h = out;
    if (h < 0) h = 0; /* the kernel offset lies past the input: empty, never [-1, -1) */
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Geometry of the width-unfolded convolution (em_convw_*, see nn_conv.h). */
typedef struct {
    int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t hp, oh, ow; /* padded height, output height and width */
    int64_t ck, urow;   /* unfolded rows C * KW and their length hp * ow */
    int64_t xs, ys;     /* elements of one sample of x and of y */
} convw_geom;

static int convw_parse(const int64_t *g, convw_geom *cg) {
    if (!g) return NN_EARG;
    int64_t *f[] = {&cg->n,  &cg->c,  &cg->h,  &cg->w,  &cg->o,  &cg->kh, &cg->kw,
                    &cg->sh, &cg->sw, &cg->ph, &cg->pw, &cg->dh, &cg->dw};
    for (int i = 0; i < 13; i++) {
        if (g[i] < 0 || g[i] > ((int64_t)1 << 40)) return NN_EARG;
        *f[i] = g[i];
    }
    /* empty channels or planes are the caller's business: BLAS refuses zero leading dims */
    if (cg->c < 1 || cg->o < 1 || cg->h < 1 || cg->w < 1 || cg->kh < 1 || cg->kw < 1 ||
        cg->sh != 1 || cg->sw < 1 || cg->dh < 1 || cg->dw < 1)
        return NN_EARG;
    cg->hp = cg->h + 2 * cg->ph;
    cg->oh = cg->hp - cg->dh * (cg->kh - 1);
    int64_t room = cg->w + 2 * cg->pw - cg->dw * (cg->kw - 1) - 1;
    if (cg->oh < 1 || room < 0) return NN_EARG;
    cg->ow = room / cg->sw + 1;
    NN_TRY(nn_mul(cg->c, cg->kw, &cg->ck));
    NN_TRY(nn_mul(cg->hp, cg->ow, &cg->urow));
    int64_t t;
    NN_TRY(nn_mul(cg->ck, cg->urow, &t));
    NN_TRY(nn_mul(cg->ck * cg->kh, cg->o, &t));
    NN_TRY(nn_mul(cg->c, cg->h * cg->w, &cg->xs));
    NN_TRY(nn_mul(cg->o, cg->oh * cg->ow, &cg->ys));
    NN_TRY(nn_mul(cg->n, cg->xs, &t));
    NN_TRY(nn_mul(cg->n, cg->ys, &t));
    return NN_OK;
}

/* x (N, C, H, W), y (N, O, OH, OW) and w (O, C, KH, KW) against their buffers. */
static int convw_check(const convw_geom *cg, const void *x, int64_t nx, const void *y,
                       int64_t ny, const void *w, int64_t nw) {
    NN_TRY(nn_fits(x, nx, cg->n * cg->xs));
    NN_TRY(nn_fits(y, ny, cg->n * cg->ys));
    return nn_fits(w, nw, cg->o * cg->ck * cg->kh);
}

enum { CB_ROW = 101, CB_NO = 111, CB_T = 112 }; /* CBLAS enums */

/* Threads for the sample loop of em_convw_*: each thread unfolds and multiplies whole
 * samples with its own scratch, and the caller makes the BLAS single-threaded meanwhile
 * (ember._nn_kernels_conv). One parallel region per call, not one threaded GEMM per
 * block: on a loaded machine every threaded GEMM waits for a descheduled helper, which
 * made a ResNet block 6-11x slower than torch at 2 threads. */
static int convw_threads(const convw_geom *g) {
    if (g->n < 2) return 1;
    int64_t work;
    if (nn_mul(g->ys, g->ck * g->kh, &work)) work = INT64_MAX / 4;
    return nn_threads(work < INT64_MAX / g->n ? work * g->n : INT64_MAX, g->n);
}

#define NN_T float
#define NN_S f32
#define NN_GEMM em_sgemm_t
#include "nn_conv_t.inc"
#undef NN_T
#undef NN_S
#undef NN_GEMM
#define NN_T double
#define NN_S f64
#define NN_GEMM em_dgemm_t
#include "nn_conv_t.inc"
#undef NN_T
#undef NN_S
#undef NN_GEMM
