/* Cumulative ops (cumulative.c): cumsum cumprod cummax cummin logcumsumexp (op 0..4) along dim: ptrs = {out, x, indices}
 * (indices int64, cummax/cummin only, else NULL). */
int em_cumulative(int op, int dtype, int out_dtype, int ndim, const int64_t *shape, int dim,
                  char **ptrs, const int64_t *strides, const int64_t *extents);
