/* Cumulative ops along one dim: cumsum, cumprod, cummax, cummin, logcumsumexp.
 *
 * Lines along `dim` are independent; threads split them. When `dim` is the fast-moving
 * dim each line is scanned on its own; otherwise blocks of adjacent lines advance
 * together one step at a time, which reads memory in order and vectorizes. Float sums
 * and products accumulate in double, integer ones in wrapping 64-bit arithmetic.
 * cummax/cummin follow PyTorch: ties move the index to the latest element, and a NaN
 * sticks (with the index of the latest NaN).
 */
#include "kernel_common.inc"

#include "cumulative.h"

enum { C_cumsum, C_cumprod, C_cummax, C_cummin, C_logcumsumexp, C_COUNT };

#define LINES 256
typedef void (*cum_fn)(int64_t m, int64_t L, const char *x, int64_t xl, int64_t xm, char *o,
                       int64_t ol, int64_t om, char *ix, int64_t il, int64_t im);

#define CUM_DEF(NAME, T, OT, A, INIT, STEP)                                                 \
    EM_HOT static void NAME(int64_t m, int64_t L, const char *x, int64_t xl, int64_t xm,    \
                            char *o, int64_t ol, int64_t om, char *ix, int64_t il,          \
                            int64_t im) {                                                   \
        (void)ix, (void)il, (void)im;                                                       \
        A acc[LINES];                                                                       \
        for (int64_t j = 0; j < m; j++) acc[j] = INIT;                                      \
        for (int64_t i = 0; i < L; i++) {                                                   \
            const char *xr = x + i * xl;                                                    \
            char *orow = o + i * ol;                                                        \
            for (int64_t j = 0; j < m; j++) {                                               \
                A v = acc[j];                                                               \
                T a = *(const T *)(xr + j * xm);                                            \
                v = STEP;                                                                   \
                acc[j] = v;                                                                 \
                *(OT *)(orow + j * om) = (OT)v;                                             \
            }                                                                               \
        }                                                                                   \
    }

/* cummax / cummin: values and int64 indices. */
#define CUMARG_DEF(NAME, T, CMP)                                                            \
    static void NAME(int64_t m, int64_t L, const char *x, int64_t xl, int64_t xm, char *o,  \
                     int64_t ol, int64_t om, char *ix, int64_t il, int64_t im) {            \
        T best[LINES];                                                                      \
        int64_t bi[LINES];                                                                  \
        for (int64_t i = 0; i < L; i++) {                                                   \
            for (int64_t j = 0; j < m; j++) {                                               \
                T a = *(const T *)(x + i * xl + j * xm), b = best[j];                       \
                if (i == 0 || a != a || (b == b && a CMP b)) {                              \
                    best[j] = a;                                                            \
                    bi[j] = i;                                                              \
                }                                                                           \
                *(T *)(o + i * ol + j * om) = best[j];                                      \
                *(int64_t *)(ix + i * il + j * im) = bi[j];                                 \
            }                                                                               \
        }                                                                                   \
    }

EM_INLINE double em_logaddexp(double a, double b) {
    double mx = a > b ? a : b, mn = a > b ? b : a;
    if (a != a || b != b) return a + b;
    if (mx == -INFINITY || mx == INFINITY) return mx;
    return mx + log1p(exp(mn - mx));
}

#define CUM_FLT(S, T)                                                                       \
    CUM_DEF(cumsum_##S##_##S, T, T, double, 0.0, v + a)                                     \
    CUM_DEF(cumprod_##S##_##S, T, T, double, 1.0, v *a)                                     \
    CUM_DEF(lcse_##S##_##S, T, T, double, -INFINITY, em_logaddexp(v, a))                    \
    CUMARG_DEF(cummax_##S, T, >=)                                                           \
    CUMARG_DEF(cummin_##S, T, <=)
#define CUM_INT(S, T)                                                                       \
    CUM_DEF(cumsum_##S##_##S, T, T, uint64_t, 0, v + (uint64_t)(int64_t)a)                  \
    CUM_DEF(cumprod_##S##_##S, T, T, uint64_t, 1, v *(uint64_t)(int64_t)a)                  \
    CUMARG_DEF(cummax_##S, T, >=)                                                           \
    CUMARG_DEF(cummin_##S, T, <=)
#define CUM_WIDE(S, T)                                                                      \
    CUM_DEF(cumsum_##S##_i64, T, int64_t, uint64_t, 0, v + (uint64_t)(int64_t)a)            \
    CUM_DEF(cumprod_##S##_i64, T, int64_t, uint64_t, 1, v *(uint64_t)(int64_t)a)
CUM_FLT(f32, float)
CUM_FLT(f64, double)
CUM_INT(u8, uint8_t)
CUM_INT(i8, int8_t)
CUM_INT(i16, int16_t)
CUM_INT(i32, int32_t)
CUM_INT(i64, int64_t)
CUM_INT(b, uint8_t)
CUM_WIDE(u8, uint8_t)
CUM_WIDE(i8, int8_t)
CUM_WIDE(i16, int16_t)
CUM_WIDE(i32, int32_t)
CUM_WIDE(b, uint8_t)

/* [op][dtype][0: out dtype == dtype, 1: out dtype int64] */
#define IENT(S)                                                                             \
    [DT_##S] = {{cumsum_##S##_##S, cumsum_##S##_i64}, {cumprod_##S##_##S, cumprod_##S##_i64}, \
                {cummax_##S, NULL}, {cummin_##S, NULL}, {NULL, NULL}}
#define FENT(S)                                                                             \
    [DT_##S] = {{cumsum_##S##_##S, NULL}, {cumprod_##S##_##S, NULL}, {cummax_##S, NULL},     \
                {cummin_##S, NULL}, {lcse_##S##_##S, NULL}}
static const cum_fn cum_table[DT_COUNT][C_COUNT][2] = {
    IENT(u8), IENT(i8), IENT(i16), IENT(i32), IENT(i64), FENT(f32), FENT(f64),
    [DT_b] = {{NULL, cumsum_b_i64}, {NULL, cumprod_b_i64}, {cummax_b, NULL}, {cummin_b, NULL},
              {NULL, NULL}}};

static cum_fn cum_lookup(int op, int dtype, int out_dtype) {
    if (op < 0 || op >= C_COUNT || dtype < 0 || dtype >= DT_COUNT) return NULL;
    if (out_dtype == dtype) return cum_table[dtype][op][0];
    if (out_dtype == DT_i64) return cum_table[dtype][op][1];
    return NULL;
}

typedef struct {
    cum_fn f;
    int64_t L, xl, ol, il;
} cum_ctx;

static void cum_loop(int64_t n, char **p, const int64_t *s, const void *c) {
    const cum_ctx *cx = (const cum_ctx *)c;
    if (llabs(cx->xl) <= llabs(s[1])) { /* dim is the fast one: one line at a time */
        for (int64_t j = 0; j < n; j++)
            cx->f(1, cx->L, p[1] + j * s[1], cx->xl, 0, p[0] + j * s[0], cx->ol, 0,
                  p[2] + j * s[2], cx->il, 0);
        return;
    }
    for (int64_t j = 0; j < n; j += LINES) {
        int64_t m = n - j < LINES ? n - j : LINES;
        cx->f(m, cx->L, p[1] + j * s[1], cx->xl, s[1], p[0] + j * s[0], cx->ol, s[0],
              p[2] + j * s[2], cx->il, s[2]);
    }
}

int em_cumulative(int op, int dtype, int out_dtype, int ndim, const int64_t *shape, int dim,
                  char **ptrs, const int64_t *strides, const int64_t *extents) {
    if (op < 0 || op >= C_COUNT) return EM_EOP;
    cum_fn f = cum_lookup(op, dtype, out_dtype);
    if (!f) return EM_EDTYPE;
    int64_t numel;
    int rc = em_check_shape(ndim, shape, &numel);
    if (rc) return rc;
    if (!ptrs || !extents || !strides) return EM_EARG;
    if (dim < 0 || dim >= ndim) return EM_EARG;
    int has_idx = op == C_cummax || op == C_cummin;
    int dts[3] = {out_dtype, dtype, DT_i64};
    for (int k = 0; k < 2 + has_idx; k++) {
        rc = em_check_operand(ndim, shape, numel, ptrs[k], strides + k * ndim, dts[k],
                              extents[2 * k], extents[2 * k + 1]);
        if (rc) return rc;
    }
    if (numel == 0) return EM_OK;
    for (int d = 0; d < ndim; d++)
        if (shape[d] > 1 && (strides[d] == 0 || (has_idx && strides[2 * ndim + d] == 0)))
            return EM_EOVERLAP;
    static int64_t dummy_idx;
    int64_t lshape[EM_MAXDIM], lst[3 * EM_MAXDIM];
    for (int d = 0; d < ndim; d++) {
        lshape[d] = d == dim ? 1 : shape[d];
        for (int k = 0; k < 3; k++)
            lst[k * ndim + d] = (d == dim || (k == 2 && !has_idx)) ? 0 : strides[k * ndim + d];
    }
    char *lp[3] = {ptrs[0], ptrs[1], has_idx ? ptrs[2] : (char *)&dummy_idx};
    em_plan pl;
    em_plan_build(&pl, ndim, lshape, 3, lp, lst);
    cum_ctx cx = {f, shape[dim], strides[ndim + dim], strides[dim],
                  has_idx ? strides[2 * ndim + dim] : 0};
    int64_t nlines = numel / shape[dim];
    em_plan_run(&pl, nlines, cum_loop, &cx, (int)(shape[dim] < 1 << 20 ? shape[dim] : 1 << 20));
    return EM_OK;
}
