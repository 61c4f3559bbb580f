/* 2-D pooling over C-contiguous planes (nn_pool.c); 1-D pooling is 2-D with H = 1.
 * x is (P, H, W) with P = N * C planes, out and indices are (P, OH, OW); indices hold
 * the flat position ih * W + iw of each maximum within its plane (PyTorch's layout).
 * g (max, avg): P, H, W, OH, OW, kH, kW, sH, sW, pH, pW, dH, dW (avg ignores dH, dW);
 * the caller computes OH, OW (ceil_mode) and any OH, OW is memory-safe.
 * g (adaptive): P, H, W, OH, OW. Window o of an adaptive pool covers
 * [floor(o * H / OH), ceil((o + 1) * H / OH)).
 * Max pooling propagates NaN (the last NaN of a window wins, as in PyTorch).
 * Backward kernels overwrite gx with zeros, then accumulate. The max backward (used by
 * the adaptive max pool too) checks every index: -3 with bad = {position, value}.
 * divisor (avg): 0 means none, else it replaces the window size. */
int em_maxpool2d_f32(const float *x, int64_t nx, float *out, int64_t *indices, int64_t nout,
                     const int64_t *g);
int em_maxpool2d_f64(const double *x, int64_t nx, double *out, int64_t *indices,
                     int64_t nout, const int64_t *g);
int em_maxpool2d_backward_f32(const float *gy, const int64_t *indices, int64_t nout,
                              float *gx, int64_t nx, const int64_t *g, int64_t *bad);
int em_maxpool2d_backward_f64(const double *gy, const int64_t *indices, int64_t nout,
                              double *gx, int64_t nx, const int64_t *g, int64_t *bad);
int em_avgpool2d_f32(const float *x, int64_t nx, float *out, int64_t nout, const int64_t *g,
                     int count_include_pad, int64_t divisor);
int em_avgpool2d_f64(const double *x, int64_t nx, double *out, int64_t nout,
                     const int64_t *g, int count_include_pad, int64_t divisor);
int em_avgpool2d_backward_f32(const float *gy, int64_t nout, float *gx, int64_t nx,
                              const int64_t *g, int count_include_pad, int64_t divisor);
int em_avgpool2d_backward_f64(const double *gy, int64_t nout, double *gx, int64_t nx,
                              const int64_t *g, int count_include_pad, int64_t divisor);
int em_adaptive_avgpool2d_f32(const float *x, int64_t nx, float *out, int64_t nout,
                              const int64_t *g);
int em_adaptive_avgpool2d_f64(const double *x, int64_t nx, double *out, int64_t nout,
                              const int64_t *g);
int em_adaptive_avgpool2d_backward_f32(const float *gy, int64_t nout, float *gx, int64_t nx,
                                       const int64_t *g);
int em_adaptive_avgpool2d_backward_f64(const double *gy, int64_t nout, double *gx,
                                       int64_t nx, const int64_t *g);
int em_adaptive_maxpool2d_f32(const float *x, int64_t nx, float *out, int64_t *indices,
                              int64_t nout, const int64_t *g);
int em_adaptive_maxpool2d_f64(const double *x, int64_t nx, double *out, int64_t *indices,
                              int64_t nout, const int64_t *g);
