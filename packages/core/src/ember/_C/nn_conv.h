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
/* Stride-1-in-height 2-D convolution by "width unfolding" (nn_conv.c): per sample, the
 * input is unfolded along the width only, u[(c, kw), ih, ow] = xpad[c, ih, ow * sW + kw *
 * dW] over all padded rows ih, so kernel row kh reads the plain sub-matrix of u that
 * starts at row kh * dH: KH GEMMs (through the caller's BLAS, `gemm`) with no im2col of
 * the full kernel, accumulating straight into y. g[13] = N, C, H, W, O, KH, KW, sH (must
 * be 1), sW, pH, pW, dH, dW; x (N, C, H, W), w (O, C, KH, KW), y and gy (N, O, OH, OW),
 * all C-contiguous; bias may be NULL. gemm is a row-major CBLAS ?gemm with 64-bit
 * integers (order 101, no-trans 111, trans 112). Scratch is allocated inside (-4 when it
 * cannot be). fwd writes y, igrad writes gx (N, C, H, W), wgrad writes gw (O, C, KH, KW). */
typedef void (*em_sgemm_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                           int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*em_dgemm_t)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                           int64_t, const double *, int64_t, double, double *, int64_t);
int em_convw_fwd_f32(const float *x, int64_t nx, const float *w, int64_t nw, const float *bias,
                     float *y, int64_t ny, const int64_t *g, em_sgemm_t gemm);
int em_convw_fwd_f64(const double *x, int64_t nx, const double *w, int64_t nw,
                     const double *bias, double *y, int64_t ny, const int64_t *g,
                     em_dgemm_t gemm);
int em_convw_igrad_f32(const float *gy, int64_t ngy, const float *w, int64_t nw, float *gx,
                       int64_t ngx, const int64_t *g, em_sgemm_t gemm);
int em_convw_igrad_f64(const double *gy, int64_t ngy, const double *w, int64_t nw,
                       double *gx, int64_t ngx, const int64_t *g, em_dgemm_t gemm);
int em_convw_wgrad_f32(const float *x, int64_t nx, const float *gy, int64_t ngy, float *gw,
                       int64_t ngw, const int64_t *g, em_sgemm_t gemm);
int em_convw_wgrad_f64(const double *x, int64_t nx, const double *gy, int64_t ngy,
                       double *gw, int64_t ngw, const int64_t *g, em_dgemm_t gemm);
