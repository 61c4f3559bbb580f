/* Embedding backward (nn_embed.c): gw (num, dim) = 0, then row gy[i] is added to row
 * indices[i] of gw for every i with indices[i] != padding_idx (-1: none). gy is
 * (nidx, dim), C-contiguous. scale_grad_by_freq divides each added row by how often its
 * index occurs. An index outside [0, num) returns -3 with bad = {position, index}
 * before anything is written. */
int em_embedding_backward_f32(const float *gy, int64_t ngy, const int64_t *indices,
                              int64_t nidx, float *gw, int64_t nw, int64_t num, int64_t dim,
                              int64_t padding_idx, int scale_grad_by_freq, int64_t *bad);
int em_embedding_backward_f64(const double *gy, int64_t ngy, const int64_t *indices,
                              int64_t nidx, double *gw, int64_t nw, int64_t num, int64_t dim,
                              int64_t padding_idx, int scale_grad_by_freq, int64_t *bad);
