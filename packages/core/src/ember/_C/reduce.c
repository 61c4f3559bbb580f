/* Reductions over any set of dims, and argmax/argmin over one dim.
 *
 * The reduced dims and the kept dims are collapsed separately. When the reduced dims are
 * the fast-moving ones (the usual `sum(-1)` or a full reduction) each output walks its
 * elements with 32 independent accumulators (vectorized, and for float32 sums kept in
 * double, so the result is accurate to ~1e-7 relative whatever n is). When a kept dim is
 * the fast-moving one (`sum(0)` of a row-major matrix) blocks of adjacent outputs are
 * accumulated row by row instead, which reads memory in order. Threads split the outputs,
 * or, when there are few outputs, each output's elements (partial results merged in a
 * fixed order, so results do not depend on timing).
 */
#include "kernel_common.inc"

#include "reduce.h"

/* Op codes; the order is the ABI with ember/_kernels.py (REDUCE_OPS). */
enum { R_sum, R_prod, R_mean, R_amax, R_amin, R_any, R_all, R_norm2, R_lse, R_var, R_COUNT };

typedef struct {
    double f;
    int64_t i;
} racc;

typedef void (*red_run)(int64_t n, const char *p, int64_t s, double shift, racc *acc);
typedef void (*red_col)(int64_t m, const char *p, int64_t s, int64_t rs, int64_t rows,
                        void *lanes);
typedef void (*red_init)(int64_t m, void *lanes);
typedef void (*red_fold)(const void *lanes, int64_t j, racc *acc);
typedef struct {
    red_run run;
    red_col col;
    red_init init;
    red_fold fold;
    int is_int; /* result held in racc.i */
} red_impl;

#define RL 32
/* STEP: new lane value from lane `v` and element `a`; FOLD: statement merging `v` into
 * `acc`. */
#define RED_DEF(OP, S, T, A, INIT, STEP, FOLD, ISINT)                                       \
    EM_HOT static void rrun_##OP##_##S(int64_t n, const char *p, int64_t s, double shift,   \
                                       racc *acc) {                                         \
        A l[RL];                                                                            \
        for (int k = 0; k < RL; k++) l[k] = INIT;                                           \
        int64_t i = 0;                                                                      \
        if (s == sizeof(T)) {                                                               \
            const T *x = (const T *)p;                                                      \
            for (; i + RL <= n; i += RL)                                                    \
                for (int k = 0; k < RL; k++) {                                              \
                    A v = l[k];                                                             \
                    T a = x[i + k];                                                         \
                    l[k] = STEP;                                                            \
                }                                                                           \
        }                                                                                   \
        for (; i < n; i++) {                                                                \
            A v = l[0];                                                                     \
            T a = *(const T *)(p + i * s);                                                  \
            l[0] = STEP;                                                                    \
        }                                                                                   \
        for (int k = 0; k < RL; k++) {                                                      \
            A v = l[k];                                                                     \
            FOLD;                                                                           \
        }                                                                                   \
    }                                                                                       \
    /* `rows` rows `rs` bytes apart into m lanes; four rows per pass over the lanes (each \
     * lane still takes its elements in row order, so results do not change) */          \
    EM_HOT static void rcol_##OP##_##S(int64_t m, const char *p, int64_t s, int64_t rs,    \
                                       int64_t rows, void *lanes) {                         \
        A *l = (A *)lanes;                                                                  \
        const double shift = 0;                                                             \
        (void)shift;                                                                        \
        int64_t r = 0;                                                                      \
        if (s == sizeof(T)) {                                                               \
            for (; r + 4 <= rows; r += 4) {                                                 \
                const T *x0 = (const T *)(p + r * rs), *x1 = (const T *)(p + (r + 1) * rs); \
                const T *x2 = (const T *)(p + (r + 2) * rs);                                \
                const T *x3 = (const T *)(p + (r + 3) * rs);                                \
                for (int64_t j = 0; j < m; j++) {                                           \
                    A v = l[j];                                                             \
                    T a = x0[j];                                                            \
                    v = STEP;                                                               \
                    a = x1[j];                                                              \
                    v = STEP;                                                               \
                    a = x2[j];                                                              \
                    v = STEP;                                                               \
                    a = x3[j];                                                              \
                    l[j] = STEP;                                                            \
                }                                                                           \
            }                                                                               \
            for (; r < rows; r++) {                                                         \
                const T *x = (const T *)(p + r * rs);                                       \
                for (int64_t j = 0; j < m; j++) {                                           \
                    A v = l[j];                                                             \
                    T a = x[j];                                                             \
                    l[j] = STEP;                                                            \
                }                                                                           \
            }                                                                               \
        } else {                                                                            \
            for (; r < rows; r++)                                                           \
                for (int64_t j = 0; j < m; j++) {                                           \
                    A v = l[j];                                                             \
                    T a = *(const T *)(p + r * rs + j * s);                                 \
                    l[j] = STEP;                                                            \
                }                                                                           \
        }                                                                                   \
    }                                                                                       \
    static void rinit_##OP##_##S(int64_t m, void *lanes) {                                  \
        for (int64_t j = 0; j < m; j++) ((A *)lanes)[j] = INIT;                             \
    }                                                                                       \
    static void rfold_##OP##_##S(const void *lanes, int64_t j, racc *acc) {                 \
        A v = ((const A *)lanes)[j];                                                        \
        FOLD;                                                                               \
    }                                                                                       \
    static const red_impl rimpl_##OP##_##S = {rrun_##OP##_##S, rcol_##OP##_##S,            \
                                              rinit_##OP##_##S, rfold_##OP##_##S, ISINT};

#define FMAX_FOLD acc->f = (v > acc->f || v != v) ? v : acc->f
#define FMIN_FOLD acc->f = (v < acc->f || v != v) ? v : acc->f
#define FLT_REDS(S, T, DEG)                                                                 \
    RED_DEF(sum, S, T, double, 0.0, v + a, acc->f += v, 0)                                  \
    RED_DEF(prod, S, T, double, 1.0, v *a, acc->f *= v, 0)                                  \
    RED_DEF(amax, S, T, T, (T)-INFINITY, (a > v || a != a) ? a : v, FMAX_FOLD, 0)           \
    RED_DEF(amin, S, T, T, (T)INFINITY, (a < v || a != a) ? a : v, FMIN_FOLD, 0)            \
    RED_DEF(any, S, T, uint8_t, 0, v | (a != 0), acc->i |= v, 1)                            \
    RED_DEF(all, S, T, uint8_t, 1, v &(a != 0), acc->i &= v, 1)                             \
    RED_DEF(norm2, S, T, double, 0.0, v + (double)a * a, acc->f += v, 0)                    \
    RED_DEF(lse, S, T, double, 0.0, v + em_exp_core((double)a - shift, DEG), acc->f += v, 0) \
    RED_DEF(var, S, T, double, 0.0, v + ((double)a - shift) * ((double)a - shift),          \
            acc->f += v, 0)

/* Integer sums and products wrap modulo 2^64 (in unsigned arithmetic, as numpy's int64). */
#define INT_REDS(S, T, TMIN, TMAX)                                                          \
    RED_DEF(sum, S, T, uint64_t, 0, v + (uint64_t)(int64_t)a,                              \
            acc->i = (int64_t)((uint64_t)acc->i + v), 1)                                    \
    RED_DEF(prod, S, T, uint64_t, 1, v *(uint64_t)(int64_t)a,                              \
            acc->i = (int64_t)((uint64_t)acc->i * v), 1)                                    \
    RED_DEF(amax, S, T, T, TMAX * 0 + TMIN, a > v ? a : v, acc->i = v > acc->i ? v : acc->i, 1) \
    RED_DEF(amin, S, T, T, TMIN * 0 + TMAX, a < v ? a : v, acc->i = v < acc->i ? v : acc->i, 1) \
    RED_DEF(any, S, T, uint8_t, 0, v | (a != 0), acc->i |= v, 1)                            \
    RED_DEF(all, S, T, uint8_t, 1, v &(a != 0), acc->i &= v, 1)                             \
    RED_DEF(norm2, S, T, double, 0.0, v + (double)a * (double)a, acc->f += v, 0)            \
    RED_DEF(var, S, T, double, 0.0, v + ((double)a - shift) * ((double)a - shift),          \
            acc->f += v, 0)

FLT_REDS(f32, float, 8)
FLT_REDS(f64, double, 13)

/* float32 sums of a contiguous run: blocks of 1024 elements summed in 32 float lanes
 * (twice the SIMD width of double lanes, so memory-bound again), each block's lanes
 * then folded into double lanes. A lane adds only 32 floats before its value moves to
 * double, so the error stays near numpy's pairwise float32 sum while the total keeps
 * double's range. Strided runs use the all-double kernel. */
#define FSUM_BLOCK 1024
EM_HOT static void rrun_fsum_f32(int64_t n, const char *p, int64_t s, double shift,
                                 racc *acc) {
    (void)shift;
    if (s != sizeof(float)) {
        rrun_sum_f32(n, p, s, 0.0, acc);
        return;
    }
    const float *x = (const float *)p;
    double d[RL];
    for (int k = 0; k < RL; k++) d[k] = 0.0;
    int64_t i = 0;
    for (; i + FSUM_BLOCK <= n; i += FSUM_BLOCK) {
        float l[RL];
        for (int k = 0; k < RL; k++) l[k] = 0.0f;
        for (int64_t j = 0; j < FSUM_BLOCK; j += RL)
            for (int k = 0; k < RL; k++) l[k] += x[i + j + k];
        for (int k = 0; k < RL; k++) d[k] += (double)l[k];
    }
    for (; i < n; i++) d[0] += (double)x[i];
    for (int k = 0; k < RL; k++) acc->f += d[k];
}
static const red_impl rimpl_fsum_f32 = {rrun_fsum_f32, rcol_sum_f32, rinit_sum_f32,
                                        rfold_sum_f32, 0};
INT_REDS(b, uint8_t, 0, 1)
INT_REDS(u8, uint8_t, 0, UINT8_MAX)
INT_REDS(i8, int8_t, INT8_MIN, INT8_MAX)
INT_REDS(i16, int16_t, INT16_MIN, INT16_MAX)
INT_REDS(i32, int32_t, INT32_MIN, INT32_MAX)
INT_REDS(i64, int64_t, INT64_MIN, INT64_MAX)

#define IMPLS(S)                                                                            \
    {&rimpl_sum_##S, &rimpl_prod_##S, &rimpl_sum_##S, &rimpl_amax_##S, &rimpl_amin_##S,    \
     &rimpl_any_##S, &rimpl_all_##S, &rimpl_norm2_##S, NULL, &rimpl_var_##S}
#define FIMPLS(S)                                                                           \
    {&rimpl_sum_##S, &rimpl_prod_##S, &rimpl_sum_##S, &rimpl_amax_##S, &rimpl_amin_##S,    \
     &rimpl_any_##S, &rimpl_all_##S, &rimpl_norm2_##S, &rimpl_lse_##S, &rimpl_var_##S}
static const red_impl *const red_table[DT_COUNT][R_COUNT] = {
    [DT_b] = IMPLS(b),     [DT_u8] = IMPLS(u8),   [DT_i8] = IMPLS(i8),
    [DT_i16] = IMPLS(i16), [DT_i32] = IMPLS(i32), [DT_i64] = IMPLS(i64),
    [DT_f32] = {&rimpl_fsum_f32, &rimpl_prod_f32, &rimpl_fsum_f32, &rimpl_amax_f32,
                &rimpl_amin_f32, &rimpl_any_f32, &rimpl_all_f32, &rimpl_norm2_f32,
                &rimpl_lse_f32, &rimpl_var_f32},
    [DT_f64] = FIMPLS(f64)};

static int is_plain_dtype(int dt) { return dt >= 0 && dt < DT_COUNT && dt != DT_c64; }

int em_reduce_supported(int op, int dtype, int out_dtype) {
    if (op < 0 || op >= R_COUNT || dtype < 0 || dtype >= DT_COUNT) return 0;
    return red_table[dtype][op] != NULL && is_plain_dtype(out_dtype);
}

static racc red_identity(int op) {
    racc a = {0.0, 0};
    if (op == R_prod || op == R_all) a = (racc){1.0, 1};
    if (op == R_amax) a = (racc){-INFINITY, INT64_MIN};
    if (op == R_amin) a = (racc){INFINITY, INT64_MAX};
    return a;
}

static void red_merge(int op, int is_int, racc *a, const racc *b) {
    switch (op) {
    case R_prod: a->f *= b->f; a->i = (int64_t)((uint64_t)a->i * (uint64_t)b->i); break;
    case R_amax:
        if (is_int) a->i = b->i > a->i ? b->i : a->i;
        else a->f = (b->f > a->f || b->f != b->f) ? b->f : a->f;
        break;
    case R_amin:
        if (is_int) a->i = b->i < a->i ? b->i : a->i;
        else a->f = (b->f < a->f || b->f != b->f) ? b->f : a->f;
        break;
    case R_any: a->i |= b->i; break;
    case R_all: a->i &= b->i; break;
    default: a->f += b->f; a->i = (int64_t)((uint64_t)a->i + (uint64_t)b->i); break;
    }
}

typedef struct {
    int op, odt, is_int;
    int64_t R;
    double param;
} red_fin;

static void red_store(const red_fin *fz, char *o, racc a, double shift) {
    double f = a.f;
    switch (fz->op) {
    case R_mean: f = (fz->is_int ? (double)a.i : a.f) / (double)fz->R; break;
    case R_norm2: f = sqrt(a.f); break;
    case R_lse: f = (isinf(shift) || shift != shift) ? shift : shift + log(a.f); break;
    case R_var: {
        double dof = (double)fz->R - fz->param;
        f = a.f / (dof > 0 ? dof : 0.0);
        break;
    }
    default: em_store(fz->odt, o, a.f, a.i, fz->is_int); return;
    }
    em_store(fz->odt, o, f, 0, 0);
}

/* Pointer of operand k at flat C-order index `flat` of a plan. */
static char *plan_ptr(const em_plan *pl, int k, int64_t flat) {
    char *p = pl->base[k];
    for (int d = pl->ndim - 1; d >= 0; d--) {
        p += (flat % pl->shape[d]) * pl->st[k][d];
        flat /= pl->shape[d];
    }
    return p;
}

/* Reduce elements [start, end) of the reduced plan rooted at x into acc. */
static void red_walk(const em_plan *rp, const char *x, int64_t start, int64_t end,
                     red_run run, double shift, racc *acc) {
    /* rp->base[0] holds the offset of the walk's origin from x: dims walked backwards were
     * flipped when the plan was built */
    x += (intptr_t)rp->base[0];
    int last = rp->ndim - 1;
    int64_t inner = rp->shape[last], s = rp->st[0][last];
    if (last == 0) {
        if (end > start) run(end - start, x + start * s, s, shift, acc);
        return;
    }
    while (start < end) {
        int64_t row = start / inner, j = start % inner, n = inner - j;
        if (n > end - start) n = end - start;
        const char *p = x + j * s;
        for (int d = last - 1; d >= 0; d--) {
            p += (row % rp->shape[d]) * rp->st[0][d];
            row /= rp->shape[d];
        }
        run(n, p, s, shift, acc);
        start += n;
    }
}

typedef struct {
    const red_impl *im;
    const em_plan *rp;
    red_fin fz;
    int has_aux;
} inner_ctx;

static void red_inner_loop(int64_t n, char **p, const int64_t *s, const void *c) {
    const inner_ctx *cx = (const inner_ctx *)c;
    for (int64_t i = 0; i < n; i++) {
        double shift = cx->has_aux ? *(const double *)(p[2] + i * s[2]) : 0.0;
        racc a = red_identity(cx->fz.op);
        red_walk(cx->rp, p[1] + i * s[1], 0, cx->fz.R, cx->im->run, shift, &a);
        red_store(&cx->fz, p[0] + i * s[0], a, shift);
    }
}

/* Columns per block of the column reduction: 2048 lanes of 8 bytes stay in L1. */
#define COLS 2048
/* Row chunks each block is split into when there are few blocks; fixed by the shape
 * alone, so results do not depend on the thread count. */
#define ROW_SPLIT 8

/* Lanes of `m` adjacent outputs over reduced elements [r0, r1): whole rows of the
 * reduced plan's inner dim at a time. */
static void red_rows(const em_plan *rp, const red_impl *im, const char *x, int64_t xs,
                     int64_t m, int64_t r0, int64_t r1, void *lanes) {
    int rl = rp->ndim - 1;
    int64_t inner = rp->shape[rl], rs = rp->st[0][rl];
    while (r0 < r1) {
        int64_t row = r0 / inner, e = r0 % inner, n = inner - e;
        if (n > r1 - r0) n = r1 - r0;
        const char *pr = x + e * rs;
        for (int d = rl - 1; d >= 0; d--) {
            pr += (row % rp->shape[d]) * rp->st[0][d];
            row /= rp->shape[d];
        }
        im->col(m, pr, xs, rs, n, lanes);
        r0 += n;
    }
}

/* Reductions whose kept dim is the fast-moving one (`sum(0)` of a row-major matrix):
 * blocks of COLS adjacent outputs accumulate whole rows, reading memory in order and
 * vectorizing across the outputs. With few blocks, each block's rows are also split in
 * ROW_SPLIT chunks whose partial lanes are folded in chunk order. */
static int red_outer(const em_plan *kp, const em_plan *rp, const red_impl *im,
                     const red_fin *fz, int64_t nout, int nt) {
    int last = kp->ndim - 1;
    int64_t M = kp->shape[last], cb = M < COLS ? M : COLS, nb = (M + cb - 1) / cb;
    int64_t blocks = (nout / M) * nb, R = fz->R, S = 1;
    if (blocks < ROW_SPLIT) {
        S = ROW_SPLIT / blocks;
        if (S > R / 64) S = R / 64 > 1 ? R / 64 : 1;
    }
    int64_t tasks = blocks * S;
    if (nt > tasks) nt = (int)tasks;
    double *part = NULL; /* 8 bytes per lane covers every accumulator type */
    if (S > 1) {
        part = (double *)malloc(sizeof(double) * (size_t)tasks * (size_t)cb);
        if (!part) return EM_EARG;
    }
#pragma omp parallel num_threads(nt)
    {
        double own[COLS];
        int t0 = omp_get_thread_num(), T = omp_get_num_threads();
        for (int64_t t = tasks * t0 / T; t < tasks * (t0 + 1) / T; t++) {
            int64_t sp = t % S, blk = t / S;
            int64_t j0 = (blk % nb) * cb, m = M - j0 < cb ? M - j0 : cb;
            int64_t flat = (blk / nb) * M + j0;
            const char *x = plan_ptr(kp, 1, flat) + (intptr_t)rp->base[0];
            double *lanes = part ? part + t * cb : own;
            im->init(m, lanes);
            red_rows(rp, im, x, kp->st[1][last], m, R * sp / S, R * (sp + 1) / S, lanes);
            if (part) continue;
            char *o = plan_ptr(kp, 0, flat);
            for (int64_t j = 0; j < m; j++) {
                racc a = red_identity(fz->op);
                im->fold(lanes, j, &a);
                red_store(fz, o + j * kp->st[0][last], a, 0.0);
            }
        }
    }
    if (!part) return EM_OK;
    for (int64_t blk = 0; blk < blocks; blk++) {
        int64_t j0 = (blk % nb) * cb, m = M - j0 < cb ? M - j0 : cb;
        char *o = plan_ptr(kp, 0, (blk / nb) * M + j0);
        for (int64_t j = 0; j < m; j++) {
            racc a = red_identity(fz->op);
            for (int64_t sp = 0; sp < S; sp++) im->fold(part + (blk * S + sp) * cb, j, &a);
            red_store(fz, o + j * kp->st[0][last], a, 0.0);
        }
    }
    free(part);
    return EM_OK;
}

int em_reduce(int op, int dtype, int out_dtype, int ndim, const int64_t *shape,
              int32_t red_mask, char **ptrs, const int64_t *strides, const int64_t *extents,
              double param) {
    if (op < 0 || op >= R_COUNT) return EM_EOP;
    if (!em_reduce_supported(op, dtype, out_dtype)) return EM_EDTYPE;
    int64_t numel, nout = 1, R = 1;
    int rc = em_check_shape(ndim, shape, &numel);
    if (rc) return rc;
    if (!ptrs || !extents || (ndim > 0 && !strides)) return EM_EARG;
    if (red_mask < 0 || (red_mask >> ndim) != 0) return EM_EARG;
    int has_aux = op == R_lse || op == R_var;
    static double dummy_aux = 0.0;
    int64_t oshape[EM_MAXDIM], rshape[EM_MAXDIM], kst[3 * EM_MAXDIM];
    for (int d = 0; d < ndim; d++) {
        int red = (red_mask >> d) & 1;
        oshape[d] = red ? 1 : shape[d];
        rshape[d] = red ? shape[d] : 1;
        nout *= oshape[d];
        R *= rshape[d];
        kst[d] = red ? 0 : strides[d];
        kst[ndim + d] = strides[ndim + d];
        kst[2 * ndim + d] = (red || !has_aux) ? 0 : strides[2 * ndim + d];
    }
    rc = em_check_operand(ndim, shape, numel, ptrs[1], strides + ndim, dtype, extents[2],
                          extents[3]);
    if (rc) return rc;
    rc = em_check_operand(ndim, oshape, nout, ptrs[0], kst, out_dtype, extents[0], extents[1]);
    if (rc) return rc;
    if (has_aux) {
        rc = em_check_operand(ndim, oshape, nout, ptrs[2], kst + 2 * ndim, DT_f64, extents[4],
                              extents[5]);
        if (rc) return rc;
    }
    if (nout == 0) return EM_OK;
    for (int d = 0; d < ndim; d++)
        if (oshape[d] > 1 && kst[d] == 0) return EM_EOVERLAP;

    const red_impl *im = red_table[dtype][op];
    red_fin fz = {op, out_dtype, im->is_int, R, param};
    char *kptrs[3] = {ptrs[0], ptrs[1], has_aux ? ptrs[2] : (char *)&dummy_aux};
    em_plan kp, rp;
    em_plan_build(&kp, ndim, oshape, 3, kptrs, kst);
    em_plan_build(&rp, ndim, rshape, 1, ptrs + 1, strides + ndim);
    /* keep only the origin's offset from x (see red_walk): the walks start from each
     * output's own x pointer */
    rp.base[0] = (char *)(intptr_t)(rp.base[0] - ptrs[1]);
    inner_ctx cx = {im, &rp, fz, has_aux};
    int cost = op == R_lse ? 8 : 1;
    int nt = em_threads_for(nout * (R ? R : 1) * cost);

    int klast = kp.ndim - 1;
    int64_t ks = llabs(kp.st[1][klast]), rs = llabs(rp.st[0][rp.ndim - 1]);
    if (R > 1 && nout > 1 && !has_aux && ks < rs && kp.shape[klast] >= 16) {
        return red_outer(&kp, &rp, im, &fz, nout, nt);
    } else if (nt <= 1 || nout >= 64 * (int64_t)nt || R == 0) {
        em_plan_run(&kp, nout, red_inner_loop, &cx, (int)(R < 1 << 20 ? (R ? R : 1) : 1 << 20));
    } else {
        /* few outputs, many elements each: split every output's elements over threads */
        racc *buf = (racc *)malloc(sizeof(racc) * (size_t)nt * (size_t)nout);
        if (!buf) return EM_EARG;
        /* rows of threads the runtime did not start stay neutral */
        for (int64_t k = 0; k < (int64_t)nt * nout; k++) buf[k] = red_identity(op);
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            int64_t a = R * t / T, b = R * (t + 1) / T;
            for (int64_t o = 0; o < nout; o++) {
                double shift = has_aux ? *(const double *)plan_ptr(&kp, 2, o) : 0.0;
                racc acc = red_identity(op);
                red_walk(&rp, plan_ptr(&kp, 1, o), a, b, im->run, shift, &acc);
                buf[(size_t)t * nout + o] = acc;
            }
        }
        for (int64_t o = 0; o < nout; o++) {
            racc acc = buf[o];
            for (int t = 1; t < nt; t++) red_merge(op, im->is_int, &acc, &buf[(size_t)t * nout + o]);
            double shift = has_aux ? *(const double *)plan_ptr(&kp, 2, o) : 0.0;
            red_store(&fz, plan_ptr(&kp, 0, o), acc, shift);
        }
        free(buf);
    }
    return EM_OK;
}

int em_reduce_flat(int op, int dtype, int out_dtype, int64_t n, char *out, char *x,
                   int64_t out_bytes, int64_t x_bytes, double param) {
    if (op == R_lse || op == R_var) return EM_EARG; /* these need the aux operand */
    if (dtype < 0 || dtype >= DT_COUNT) return EM_EDTYPE;
    int64_t shape[1] = {n}, st[3] = {0, dt_size[dtype], 0};
    int64_t ext[6] = {0, out_bytes, 0, x_bytes, 0, 0};
    char *ptrs[3] = {out, x, NULL};
    return em_reduce(op, dtype, out_dtype, 1, shape, 1, ptrs, st, ext, param);
}

/* ---------------- argmax / argmin ---------------- */
typedef struct {
    double f;
    int64_t i, idx;
} aacc;
typedef void (*arg_run)(int64_t n, const char *p, int64_t s, int64_t base, aacc *acc);

/* BETTER(a, b): element a replaces the best so far b (strictly, so ties keep the first;
 * the first NaN wins and is never replaced, as in PyTorch and numpy). */
#define FBETTER_MAX(a, b) ((b) == (b) && ((a) > (b) || (a) != (a)))
#define FBETTER_MIN(a, b) ((b) == (b) && ((a) < (b) || (a) != (a)))
#define IBETTER_MAX(a, b) ((a) > (b))
#define IBETTER_MIN(a, b) ((a) < (b))
#define ARG_DEF(OP, S, T, BETTER, FIELD)                                                    \
    static void arun_##OP##_##S(int64_t n, const char *p, int64_t s, int64_t base,          \
                                aacc *acc) {                                                \
        T best = *(const T *)p;                                                             \
        int64_t bi = 0;                                                                     \
        for (int64_t i = 1; i < n; i++) {                                                   \
            T a = *(const T *)(p + i * s);                                                  \
            if (BETTER(a, best)) {                                                          \
                best = a;                                                                   \
                bi = i;                                                                     \
            }                                                                               \
        }                                                                                   \
        if (acc->idx < 0 || BETTER(best, (T)acc->FIELD)) {                                  \
            acc->FIELD = best;                                                              \
            acc->idx = base + bi;                                                           \
        }                                                                                   \
    }
#define ARG_T(S, T, FB_MAX, FB_MIN, FIELD)                                                  \
    ARG_DEF(max, S, T, FB_MAX, FIELD)                                                       \
    ARG_DEF(min, S, T, FB_MIN, FIELD)
ARG_T(f32, float, FBETTER_MAX, FBETTER_MIN, f)
ARG_T(f64, double, FBETTER_MAX, FBETTER_MIN, f)
ARG_T(b, uint8_t, IBETTER_MAX, IBETTER_MIN, i)
ARG_T(u8, uint8_t, IBETTER_MAX, IBETTER_MIN, i)
ARG_T(i8, int8_t, IBETTER_MAX, IBETTER_MIN, i)
ARG_T(i16, int16_t, IBETTER_MAX, IBETTER_MIN, i)
ARG_T(i32, int32_t, IBETTER_MAX, IBETTER_MIN, i)
ARG_T(i64, int64_t, IBETTER_MAX, IBETTER_MIN, i)
static const arg_run arg_table[DT_COUNT][2] = {
    [DT_f32] = {arun_max_f32, arun_min_f32}, [DT_f64] = {arun_max_f64, arun_min_f64},
    [DT_b] = {arun_max_b, arun_min_b},       [DT_u8] = {arun_max_u8, arun_min_u8},
    [DT_i8] = {arun_max_i8, arun_min_i8},    [DT_i16] = {arun_max_i16, arun_min_i16},
    [DT_i32] = {arun_max_i32, arun_min_i32}, [DT_i64] = {arun_max_i64, arun_min_i64}};

typedef struct {
    arg_run run;
    int dtype;
    int64_t L, ls;
} arg_ctx;

static void arg_store(int dtype, char *vo, char *io, const aacc *a) {
    em_store(dtype, vo, a->f, a->i, dtype != DT_f32 && dtype != DT_f64);
    *(int64_t *)io = a->idx;
}

static void arg_loop(int64_t n, char **p, const int64_t *s, const void *c) {
    const arg_ctx *cx = (const arg_ctx *)c;
    for (int64_t i = 0; i < n; i++) {
        aacc a = {0.0, 0, -1};
        cx->run(cx->L, p[2] + i * s[2], cx->ls, 0, &a);
        arg_store(cx->dtype, p[0] + i * s[0], p[1] + i * s[1], &a);
    }
}

int em_argreduce(int op, int dtype, int ndim, const int64_t *shape, int dim, char **ptrs,
                 const int64_t *strides, const int64_t *extents) {
    if (op < 0 || op > 1) return EM_EOP;
    if (dtype < 0 || dtype >= DT_COUNT || !arg_table[dtype][0]) return EM_EDTYPE;
    int64_t numel, nout = 1;
    int rc = em_check_shape(ndim, shape, &numel);
    if (rc) return rc;
    if (!ptrs || !extents || !strides) return EM_EARG;
    if (dim < 0 || dim >= ndim || shape[dim] == 0) return EM_EARG;
    int64_t oshape[EM_MAXDIM], kst[3 * EM_MAXDIM];
    for (int d = 0; d < ndim; d++) {
        oshape[d] = d == dim ? 1 : shape[d];
        nout *= oshape[d];
        for (int k = 0; k < 3; k++) kst[k * ndim + d] = d == dim ? 0 : strides[k * ndim + d];
    }
    int dts[3] = {dtype, DT_i64, dtype};
    for (int k = 0; k < 2; k++) {
        rc = em_check_operand(ndim, oshape, nout, ptrs[k], kst + k * ndim, dts[k],
                              extents[2 * k], extents[2 * k + 1]);
        if (rc) return rc;
    }
    rc = em_check_operand(ndim, shape, numel, ptrs[2], strides + 2 * ndim, dtype, extents[4],
                          extents[5]);
    if (rc) return rc;
    if (nout == 0) return EM_OK;
    for (int d = 0; d < ndim; d++)
        if (oshape[d] > 1 && (kst[d] == 0 || kst[ndim + d] == 0)) return EM_EOVERLAP;
    em_plan kp;
    em_plan_build(&kp, ndim, oshape, 3, ptrs, kst);
    arg_ctx cx = {arg_table[dtype][op], dtype, shape[dim], strides[2 * ndim + dim]};
    int nt = em_threads_for(numel);
    if (nt <= 1 || nout >= 64 * (int64_t)nt) {
        em_plan_run(&kp, nout, arg_loop, &cx, (int)(cx.L < 1 << 20 ? cx.L : 1 << 20));
        return EM_OK;
    }
    aacc *buf = (aacc *)malloc(sizeof(aacc) * (size_t)nt * (size_t)nout);
    if (!buf) return EM_EARG;
    for (int64_t k = 0; k < (int64_t)nt * nout; k++) buf[k] = (aacc){0.0, 0, -1};
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int64_t a = cx.L * t / T, b = cx.L * (t + 1) / T;
        for (int64_t o = 0; o < nout && a < b; o++)
            cx.run(b - a, plan_ptr(&kp, 2, o) + a * cx.ls, cx.ls, a, &buf[(size_t)t * nout + o]);
    }
    for (int64_t o = 0; o < nout; o++) {
        aacc acc = buf[o];
        /* later chunks replace earlier ones only when strictly better */
        for (int t = 1; t < nt; t++) {
            aacc *b = &buf[(size_t)t * nout + o];
            if (b->idx < 0) continue;
            int better;
            if (dtype == DT_f32 || dtype == DT_f64)
                better = op == 0 ? FBETTER_MAX(b->f, acc.f) : FBETTER_MIN(b->f, acc.f);
            else
                better = op == 0 ? IBETTER_MAX(b->i, acc.i) : IBETTER_MIN(b->i, acc.i);
            if (acc.idx < 0 || better) acc = *b;
        }
        arg_store(dtype, plan_ptr(&kp, 0, o), plan_ptr(&kp, 1, o), &acc);
    }
    free(buf);
    return EM_OK;
}
