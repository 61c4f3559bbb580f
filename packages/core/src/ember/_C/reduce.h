/* Reductions (reduce.c). ptrs = {out, x, aux}: out has x's ndim with the strides of the
 * reduced dims ignored; aux (float64, same layout as out) is the per-output shift that
 * logsumexp (the max) and var (the mean) need, else NULL. red_mask has bit d set when
 * dim d is reduced. param is var's correction. strides[3 * ndim], extents[6]. */
int em_reduce(int op, int dtype, int out_dtype, int ndim, const int64_t *shape,
              int32_t red_mask, char **ptrs, const int64_t *strides, const int64_t *extents,
              double param);
int em_reduce_supported(int op, int dtype, int out_dtype);
/* argmax/argmin (op 0/1) over dim: ptrs = {values, indices (int64), x}. */
int em_argreduce(int op, int dtype, int ndim, const int64_t *shape, int dim, char **ptrs,
                 const int64_t *strides, const int64_t *extents);
/* Full reduction of n dense elements of x into the one element at out (ops without an
 * aux operand); *_bytes: buffer sizes from the pointers. */
int em_reduce_flat(int op, int dtype, int out_dtype, int64_t n, char *out, char *x,
                   int64_t out_bytes, int64_t x_bytes, double param);
