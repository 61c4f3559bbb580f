/* Softmax family over the last dim of a C-contiguous (rows, cols) array (nn_softmax.c).
 * log != 0 selects log_softmax. n: element count of each buffer (>= rows * cols).
 * Backward: softmax gx = y * (gy - sum(gy * y)); log_softmax gx = gy - exp(y) * sum(gy),
 * with y the forward's output.
 * Losses over (rows, classes) with int64 targets (PyTorch's nll_loss / cross_entropy):
 * weight is NULL or per-class weights; a target equal to ignore_index contributes
 * nothing; any other target outside [0, classes) returns -3 with bad = {row, target}.
 * reduction: 0 none (out has rows values), 1 mean (out[0] = sum(w_t * l) / sum(w_t)),
 * 2 sum. *total_weight receives sum(w_t) over the rows not ignored.
 * cross_entropy takes logits x, applies label smoothing eps
 * (loss = (1 - eps) * nll + eps / classes * sum_c(-w_c * logp_c)) and stores each
 * row's logsumexp in lse (rows values) for the backward pass. Backward gy holds rows
 * values for reduction none, else one; gx is overwritten. */
int em_softmax_f32(const float *x, float *y, int64_t n, int64_t rows, int64_t cols, int log);
int em_softmax_f64(const double *x, double *y, int64_t n, int64_t rows, int64_t cols,
                   int log);
int em_softmax_backward_f32(const float *gy, const float *y, float *gx, int64_t n,
                            int64_t rows, int64_t cols, int log);
int em_softmax_backward_f64(const double *gy, const double *y, double *gx, int64_t n,
                            int64_t rows, int64_t cols, int log);
int em_nll_loss_f32(const float *logp, int64_t n, const int64_t *target, const float *weight,
                    int64_t rows, int64_t classes, int64_t ignore_index, int reduction,
                    float *out, int64_t nout, double *total_weight, int64_t *bad);
int em_nll_loss_f64(const double *logp, int64_t n, const int64_t *target,
                    const double *weight, int64_t rows, int64_t classes, int64_t ignore_index,
                    int reduction, double *out, int64_t nout, double *total_weight,
                    int64_t *bad);
int em_nll_loss_backward_f32(const float *gy, int64_t ngy, const int64_t *target,
                             const float *weight, int64_t rows, int64_t classes,
                             int64_t ignore_index, int reduction, double total_weight,
                             float *gx, int64_t n, int64_t *bad);
int em_nll_loss_backward_f64(const double *gy, int64_t ngy, const int64_t *target,
                             const double *weight, int64_t rows, int64_t classes,
                             int64_t ignore_index, int reduction, double total_weight,
                             double *gx, int64_t n, int64_t *bad);
int em_cross_entropy_f32(const float *x, int64_t n, const int64_t *target, const float *weight,
                         int64_t rows, int64_t classes, int64_t ignore_index, int reduction,
                         double eps, float *out, int64_t nout, float *lse,
                         double *total_weight, int64_t *bad);
int em_cross_entropy_f64(const double *x, int64_t n, const int64_t *target,
                         const double *weight, int64_t rows, int64_t classes,
                         int64_t ignore_index, int reduction, double eps, double *out,
                         int64_t nout, double *lse, double *total_weight, int64_t *bad);
int em_cross_entropy_backward_f32(const float *gy, int64_t ngy, const float *x, int64_t n,
                                  const int64_t *target, const float *weight, const float *lse,
                                  int64_t rows, int64_t classes, int64_t ignore_index,
                                  int reduction, double eps, double total_weight, float *gx,
                                  int64_t *bad);
int em_cross_entropy_backward_f64(const double *gy, int64_t ngy, const double *x, int64_t n,
                                  const int64_t *target, const double *weight,
                                  const double *lse, int64_t rows, int64_t classes,
                                  int64_t ignore_index, int reduction, double eps,
                                  double total_weight, double *gx, int64_t *bad);
