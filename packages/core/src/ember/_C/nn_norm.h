/* Normalization layers (nn_norm.c). x is C-contiguous (N, C, S) with S the product of
 * the spatial dims (batch and group norm) or (rows, cols) (layer norm over the trailing
 * cols). n: x's element count. weight and bias may be NULL (no affine); so may
 * running_mean / running_var, and any gradient output the caller does not want.
 * batchnorm, training: per-channel batch mean and biased variance, save_invstd =
 * 1 / sqrt(var + eps), running stats (when given) become (1 - momentum) * old +
 * momentum * stat with the unbiased variance; needs N * S >= 2. Not training: normalizes
 * with the running stats and writes them (mean, 1 / sqrt(var + eps)) to save_*, which
 * the backward then uses with training = 0. Statistics accumulate in double.
 * layernorm: mean and rstd per row (rows values). groupnorm: G divides C; mean and rstd
 * per (sample, group), N * G values. */
int em_batchnorm_f32(const float *x, int64_t n, float *y, const float *weight,
                     const float *bias, float *running_mean, float *running_var,
                     float *save_mean, float *save_invstd, int64_t N, int64_t C, int64_t S,
                     int training, double momentum, double eps);
int em_batchnorm_f64(const double *x, int64_t n, double *y, const double *weight,
                     const double *bias, double *running_mean, double *running_var,
                     double *save_mean, double *save_invstd, int64_t N, int64_t C, int64_t S,
                     int training, double momentum, double eps);
int em_batchnorm_backward_f32(const float *gy, const float *x, int64_t n, const float *weight,
                              const float *save_mean, const float *save_invstd, float *gx,
                              float *gw, float *gb, int64_t N, int64_t C, int64_t S,
                              int training);
int em_batchnorm_backward_f64(const double *gy, const double *x, int64_t n,
                              const double *weight, const double *save_mean,
                              const double *save_invstd, double *gx, double *gw, double *gb,
                              int64_t N, int64_t C, int64_t S, int training);
int em_layernorm_f32(const float *x, int64_t n, float *y, const float *weight,
                     const float *bias, float *mean, float *rstd, int64_t rows, int64_t cols,
                     double eps);
int em_layernorm_f64(const double *x, int64_t n, double *y, const double *weight,
                     const double *bias, double *mean, double *rstd, int64_t rows,
                     int64_t cols, double eps);
int em_layernorm_backward_f32(const float *gy, const float *x, int64_t n, const float *weight,
                              const float *mean, const float *rstd, float *gx, float *gw,
                              float *gb, int64_t rows, int64_t cols);
int em_layernorm_backward_f64(const double *gy, const double *x, int64_t n,
                              const double *weight, const double *mean, const double *rstd,
                              double *gx, double *gw, double *gb, int64_t rows, int64_t cols);
int em_groupnorm_f32(const float *x, int64_t n, float *y, const float *weight,
                     const float *bias, float *mean, float *rstd, int64_t N, int64_t C,
                     int64_t S, int64_t G, double eps);
int em_groupnorm_f64(const double *x, int64_t n, double *y, const double *weight,
                     const double *bias, double *mean, double *rstd, int64_t N, int64_t C,
                     int64_t S, int64_t G, double eps);
int em_groupnorm_backward_f32(const float *gy, const float *x, int64_t n, const float *weight,
                              const float *mean, const float *rstd, float *gx, float *gw,
                              float *gb, int64_t N, int64_t C, int64_t S, int64_t G);
int em_groupnorm_backward_f64(const double *gy, const double *x, int64_t n,
                              const double *weight, const double *mean, const double *rstd,
                              double *gx, double *gw, double *gb, int64_t N, int64_t C,
                              int64_t S, int64_t G);
