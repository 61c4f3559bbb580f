/* Batch, layer and group normalization, forward and backward (see nn_norm.h).
 *
 * Batch norm splits channels across threads, group norm (sample, group) blocks, layer
 * norm rows. Statistics are two-pass (mean, then squared deviations) in double, which
 * keeps float32 variances accurate when the mean is large against the spread. Each
 * output is then one fused multiply-add per element: y = x * scale + shift. */
#include "nn_common.inc"

#include "nn_norm.h"

/* (N, C, S) fits a buffer of n elements; *m = N * S, *total = N * C * S. */
static int ncs_check(int64_t N, int64_t C, int64_t S, int64_t n, int64_t *m, int64_t *total) {
    int64_t nc;
    NN_TRY(nn_mul(N, C, &nc));
    NN_TRY(nn_mul(nc, S, total));
    NN_TRY(nn_mul(N, S, m));
    return n < *total ? NN_ESIZE : NN_OK;
}

#define NN_T float
#define NN_S f32
#include "nn_norm_t.inc"
#undef NN_T
#undef NN_S
#define NN_T double
#define NN_S f64
#include "nn_norm_t.inc"
#undef NN_T
#undef NN_S
