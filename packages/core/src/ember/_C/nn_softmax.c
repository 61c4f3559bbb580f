/* Softmax, log-softmax, NLL and fused cross-entropy kernels (see nn_softmax.h).
 *
 * Rows are split across threads; within a row the max, the exp-sum and the scaling are
 * three simple loops GCC vectorizes (exp is nn_common.inc's branch-free polynomial). Loss
 * sums accumulate in double. Targets are all checked before anything is written. */
#include "nn_common.inc"

#include "nn_softmax.h"

enum { NN_RED_NONE = 0, NN_RED_MEAN = 1, NN_RED_SUM = 2 };

/* Common argument checks of the row kernels: rows * cols fits the buffers. */
static int rows_check(int64_t rows, int64_t cols, int64_t n) {
    int64_t need;
    NN_TRY(nn_mul(rows, cols, &need));
    return n < need ? NN_ESIZE : NN_OK;
}

/* Every target is ignore_index or in [0, classes); else bad = {row, target}. */
static int check_targets(const int64_t *t, int64_t rows, int64_t classes, int64_t ignore,
                         int64_t *bad) {
    if (rows > 0 && !t) return NN_EARG;
    for (int64_t i = 0; i < rows; i++) {
        if (t[i] != ignore && (t[i] < 0 || t[i] >= classes)) {
            if (bad) {
                bad[0] = i;
                bad[1] = t[i];
            }
            return NN_EINDEX;
        }
    }
    return NN_OK;
}

/* Loss kernels' shared checks: at least one class, and out (or gy) holds rows values for
 * reduction none, else one. */
static int loss_check(int64_t rows, int64_t classes, int64_t n, int reduction,
                      int64_t nout, const void *out) {
    if (reduction < 0 || reduction > 2 || (rows > 0 && classes < 1)) return NN_EARG;
    NN_TRY(rows_check(rows, classes, n));
    return nn_fits(out, nout, reduction == NN_RED_NONE ? rows : 1);
}

/* Per-row gradient scale of a loss: gy[i] (none), gy[0] (sum), gy[0] / total (mean). */
static double loss_scale(const void *gy, int is_f32, int64_t i, int reduction, double total) {
    int64_t k = reduction == NN_RED_NONE ? i : 0;
    double g = is_f32 ? (double)((const float *)gy)[k] : ((const double *)gy)[k];
    return reduction == NN_RED_MEAN ? g / total : g;
}

#define NN_T float
#define NN_S f32
#define NN_EXP nn_expf
#define NN_IS_F32 1
#include "nn_softmax_t.inc"
#undef NN_T
#undef NN_S
#undef NN_EXP
#undef NN_IS_F32
#define NN_T double
#define NN_S f64
#define NN_EXP nn_expd
#define NN_IS_F32 0
#include "nn_softmax_t.inc"
#undef NN_T
#undef NN_S
#undef NN_EXP
#undef NN_IS_F32
