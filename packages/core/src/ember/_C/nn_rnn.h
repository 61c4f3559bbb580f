/* LSTM recurrences for one layer in one direction (nn_rnn.c), the time loop in C with
 * the per-step products through the caller's BLAS (`gemm`, as in nn_conv.h) and the
 * gate nonlinearities and cell update fused into one pass per step.
 * Rows are in PyTorch's packed order: steps[2 t], steps[2 t + 1] are the rows [s, e)
 * of the t-th step processed (reverse order already applied by the caller); e - s rows
 * of the state take part, the others keep their value.
 * fwd: pre (N, 4H) = x W_ih^T + b_ih + b_hh; whh (4H, H) = W_hh; h, c (B, H) hold
 * h0, c0 and end as the final states; act (N, 4H) receives the gate activations i, f,
 * g, o, cs (N, H) the cell states, cprev / hprev (N, H) the states each step read, and
 * y (N, H) the outputs.
 * bwd: dh, dc (B, H) hold the final-state gradients (zeros when none) and end as the
 * initial-state gradients; gy (N, H) may be NULL; whh_t (H, 4H) = W_hh^T; dgates (N, 4H)
 * receives the gradients of the gate pre-activations.
 * dims = N, B, H, T (steps). Buffer sizes follow from dims (the Python wrappers in
 * ember._nn_kernels_rnn allocate or shape-check every one); the kernels check dims and
 * every step's rows against them: 0 <= s <= e <= N, e - s <= B.
 * The per-step products are taken transposed, (4H, b) = W_hh h^T and (H, b) = W_hh^T d^T:
 * OpenBLAS runs these thin products 1.2-1.5x faster than (b, 4H) = h W_hh^T. */
int em_lstm_fwd_f32(const float *pre, const float *whh, float *h, float *c, float *act,
                    float *cs, float *cprev, float *hprev, float *y, const int64_t *dims,
                    const int64_t *steps, em_sgemm_t gemm);
int em_lstm_fwd_f64(const double *pre, const double *whh, double *h, double *c, double *act,
                    double *cs, double *cprev, double *hprev, double *y, const int64_t *dims,
                    const int64_t *steps, em_dgemm_t gemm);
int em_lstm_bwd_f32(const float *act, const float *cs, const float *cprev, const float *gy,
                    const float *whh_t, float *dh, float *dc, float *dgates, const int64_t *dims,
                    const int64_t *steps, em_sgemm_t gemm);
int em_lstm_bwd_f64(const double *act, const double *cs, const double *cprev,
                    const double *gy, const double *whh_t, double *dh, double *dc,
                    double *dgates, const int64_t *dims, const int64_t *steps,
                    em_dgemm_t gemm);
