/* im2col / col2im for 1-, 2- and 3-D convolution (nn_conv.c). g[17] is the geometry with
 * 1-D and 2-D problems padded to 3-D by leading unit dims:
 *   N, C, in[3], kernel[3], stride[3], padding[3], dilation[3].
 * x is (N, C, in0, in1, in2) and cols is (N, C * k0 * k1 * k2, out0 * out1 * out2), both
 * C-contiguous, with row c * K + (kd * k1 + kh) * k2 + kw and column (od * out1 + oh) *
 * out2 + ow, out = (in + 2 * pad - dil * (k - 1) - 1) / stride + 1. col2im is im2col's
 * adjoint: x = 0, then every cols entry is added to the x element it was read from.
 * nx, ncols: element counts of the buffers. Returns 0 or a negative code (nn_common.inc). */
int em_im2col_f32(const float *x, int64_t nx, float *cols, int64_t ncols, const int64_t *g);
int em_im2col_f64(const double *x, int64_t nx, double *cols, int64_t ncols,
                  const int64_t *g);
int em_col2im_f32(const float *cols, int64_t ncols, float *x, int64_t nx, const int64_t *g);
int em_col2im_f64(const double *cols, int64_t ncols, double *x, int64_t nx,
                  const int64_t *g);
