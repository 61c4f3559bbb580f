/* LSTM time loops (see nn_rnn.h). Per step: one GEMM h W_hh^T added onto the input
 * projections, then one fused pass for the gates and the cell; backward mirrors it. */
#include "nn_common.inc"

#include "nn_conv.h"
#include "nn_rnn.h"

enum { RNN_ROW = 101, RNN_NO = 111, RNN_T = 112 }; /* CBLAS enums */

/* float32: exp-based sigmoid and tanh (vectorizable; a few ulp), tanh by its series
 * near 0 where 1 - 2 / (1 + e^2x) would cancel. float64: libm. */
NN_INLINE float rnn_sig_f32(float x) { return 1.0f / (1.0f + nn_expf(-x)); }
NN_INLINE float rnn_tanh_f32(float x) {
    float a = fabsf(x), z = x * x;
    float big = 1.0f - 2.0f / (1.0f + nn_expf(2.0f * a));
    float p = 21844.0f / 6081075.0f;
    p = p * z - 1382.0f / 155925.0f;
    p = p * z + 62.0f / 2835.0f;
    p = p * z - 17.0f / 315.0f;
    p = p * z + 2.0f / 15.0f;
    p = p * z - 1.0f / 3.0f;
    float small = a + a * z * p;
    return copysignf(a < 0.3f ? small : big, x);
}
NN_INLINE double rnn_sig_f64(double x) { return 1.0 / (1.0 + exp(-x)); }
NN_INLINE double rnn_tanh_f64(double x) { return tanh(x); }

static int rnn_check(const int64_t *dims, const int64_t *steps) {
    if (!dims || !steps) return NN_EARG;
    for (int i = 0; i < 4; i++)
        if (dims[i] < 0 || dims[i] > ((int64_t)1 << 40)) return NN_EARG;
    if (dims[2] < 1) return NN_EARG; /* BLAS refuses a zero leading dim */
    for (int64_t t = 0; t < dims[3]; t++) {
        int64_t s = steps[2 * t], e = steps[2 * t + 1];
        if (s < 0 || e < s || e > dims[0] || e - s > dims[1]) return NN_EARG;
    }
    return NN_OK;
}

#define NN_T float
#define NN_S f32
#define NN_GEMM em_sgemm_t
#include "nn_rnn_t.inc"
#undef NN_T
#undef NN_S
#undef NN_GEMM
#define NN_T double
#define NN_S f64
#define NN_GEMM em_dgemm_t
#include "nn_rnn_t.inc"
#undef NN_T
#undef NN_S
#undef NN_GEMM
