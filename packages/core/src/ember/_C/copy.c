/* Casts and strided copies between every pair of ember dtypes.
 *
 * Semantics are numpy's `astype(casting="unsafe")`: integers wrap modulo 2^bits, floats
 * truncate toward zero into integers (values outside int64 and NaN become INT64_MIN and
 * then wrap, where C would leave them undefined), anything nonzero (NaN included) is
 * True, complex to real keeps the real part. float16/bfloat16 round to nearest even.
 */
#include "kernel_common.inc"

#include "copy.h"

#define LD_b(p) ((int64_t) * (const uint8_t *)(p))
#define LD_u8(p) ((int64_t) * (const uint8_t *)(p))
#define LD_i8(p) ((int64_t) * (const int8_t *)(p))
#define LD_i16(p) ((int64_t) * (const int16_t *)(p))
#define LD_i32(p) ((int64_t) * (const int32_t *)(p))
#define LD_i64(p) (*(const int64_t *)(p))
#define LD_f16(p) em_half_to_float(*(const uint16_t *)(p))
#define LD_bf16(p) em_bf16_to_float(*(const uint16_t *)(p))
#define LD_f32(p) (*(const float *)(p))
#define LD_f64(p) (*(const double *)(p))
#define LD_c64(p) (*(const float *)(p)) /* real part */

#define TOI(v) _Generic((v), int64_t: (v), default: em_f2i(v))
#define ST_b(p, v) (*(uint8_t *)(p) = (v) != 0)
#define ST_u8(p, v) (*(uint8_t *)(p) = (uint8_t)TOI(v))
#define ST_i8(p, v) (*(int8_t *)(p) = (int8_t)(uint8_t)TOI(v))
#define ST_i16(p, v) (*(int16_t *)(p) = (int16_t)(uint16_t)TOI(v))
#define ST_i32(p, v) (*(int32_t *)(p) = (int32_t)(uint32_t)TOI(v))
#define ST_i64(p, v) (*(int64_t *)(p) = TOI(v))
/* narrowing to 16-bit floats from double or int64 goes through round-to-odd float */
#define TOF_ODD(v) _Generic((v), float: (v), default: em_f32_round_odd((double)(v)))
#define ST_f16(p, v) (*(uint16_t *)(p) = em_float_to_half(TOF_ODD(v)))
#define ST_bf16(p, v) (*(uint16_t *)(p) = em_float_to_bf16(TOF_ODD(v)))
#define ST_f32(p, v) (*(float *)(p) = (float)(v))
#define ST_f64(p, v) (*(double *)(p) = (double)(v))
#define ST_c64(p, v) (((float *)(p))[0] = (float)(v), ((float *)(p))[1] = 0.0f)

#define SZ_b 1
#define SZ_u8 1
#define SZ_i8 1
#define SZ_i16 2
#define SZ_i32 4
#define SZ_i64 8
#define SZ_f16 2
#define SZ_bf16 2
#define SZ_f32 4
#define SZ_f64 8
#define SZ_c64 8

/* One loop per (source, destination); the constant-stride branch lets GCC vectorize. */
#define CAST_DEF(S, D)                                                                      \
    EM_HOT static void cast_##S##_##D(int64_t n, char **p, const int64_t *s, const void *c) { \
        (void)c;                                                                            \
        if (s[0] == SZ_##D && s[1] == SZ_##S) {                                             \
            char *o = p[0];                                                                 \
            const char *x = p[1];                                                           \
            for (int64_t i = 0; i < n; i++) ST_##D(o + i * SZ_##D, LD_##S(x + i * SZ_##S)); \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) ST_##D(p[0] + i * s[0], LD_##S(p[1] + i * s[1])); \
        }                                                                                   \
    }

#define FOR_DST(X, S)                                                                       \
    X(S, b) X(S, u8) X(S, i8) X(S, i16) X(S, i32) X(S, i64) X(S, f16) X(S, bf16) X(S, f32)  \
        X(S, f64) X(S, c64)
#define FOR_SRC(X)                                                                          \
    FOR_DST(X, b) FOR_DST(X, u8) FOR_DST(X, i8) FOR_DST(X, i16) FOR_DST(X, i32)            \
        FOR_DST(X, i64) FOR_DST(X, f16) FOR_DST(X, bf16) FOR_DST(X, f32) FOR_DST(X, f64)

FOR_SRC(CAST_DEF)
/* complex64 sources: to complex copies both parts, to bool tests both, else real part */
FOR_DST(CAST_DEF, c64)

static void cast_c64_to_b(int64_t n, char **p, const int64_t *s, const void *c) {
    (void)c;
    for (int64_t i = 0; i < n; i++) {
        const float *v = (const float *)(p[1] + i * s[1]);
        *(uint8_t *)(p[0] + i * s[0]) = v[0] != 0.0f || v[1] != 0.0f;
    }
}

/* Same-dtype copies move raw bytes by element size. */
#define COPY_DEF(NAME, T)                                                                   \
    EM_HOT static void NAME(int64_t n, char **p, const int64_t *s, const void *c) {         \
        (void)c;                                                                            \
        if (s[0] == sizeof(T) && s[1] == sizeof(T)) {                                       \
            memmove(p[0], p[1], (size_t)n * sizeof(T));                                     \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++)                                                 \
                *(T *)(p[0] + i * s[0]) = *(const T *)(p[1] + i * s[1]);                    \
        }                                                                                   \
    }
typedef struct {
    float re, im;
} em_c64pair; /* complex64 is only 4-byte aligned */
COPY_DEF(copy_1, uint8_t)
COPY_DEF(copy_2, uint16_t)
COPY_DEF(copy_4, uint32_t)
COPY_DEF(copy_8, uint64_t)
COPY_DEF(copy_c64, em_c64pair)

#define ENT(S, D) [DT_##S][DT_##D] = cast_##S##_##D,
static em_loop cast_table[DT_COUNT][DT_COUNT] = {FOR_SRC(ENT) FOR_DST(ENT, c64)};

int em_cast(int src_dtype, int dst_dtype, int ndim, const int64_t *shape, char **ptrs,
            const int64_t *strides, const int64_t *extents) {
    if (src_dtype < 0 || src_dtype >= DT_COUNT || dst_dtype < 0 || dst_dtype >= DT_COUNT)
        return EM_EDTYPE;
    int64_t numel;
    int rc = em_check_shape(ndim, shape, &numel);
    if (rc) return rc;
    if (!ptrs || !extents || (ndim > 0 && !strides)) return EM_EARG;
    rc = em_check_operand(ndim, shape, numel, ptrs[0], strides, dst_dtype, extents[0],
                          extents[1]);
    if (rc) return rc;
    rc = em_check_operand(ndim, shape, numel, ptrs[1], strides + ndim, src_dtype, extents[2],
                          extents[3]);
    if (rc || numel == 0) return rc;
    for (int d = 0; d < ndim; d++) /* a broadcast output would be written concurrently */
        if (shape[d] > 1 && strides[d] == 0) return EM_EOVERLAP;
    em_loop f;
    if (src_dtype == dst_dtype) {
        int64_t sz = dt_size[src_dtype];
        f = src_dtype == DT_c64 ? copy_c64
            : sz == 1          ? copy_1
            : sz == 2          ? copy_2
            : sz == 4          ? copy_4
                               : copy_8;
        if (src_dtype == DT_b) f = cast_b_b; /* normalise nonzero bytes to 1 */
    } else if (src_dtype == DT_c64 && dst_dtype == DT_b) {
        f = cast_c64_to_b;
    } else {
        f = cast_table[src_dtype][dst_dtype];
    }
    em_plan pl;
    em_plan_build(&pl, ndim, shape, 2, ptrs, strides);
    em_plan_exec(&pl, numel, f, NULL, 1);
    return EM_OK;
}
