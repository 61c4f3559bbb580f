/* Dtype conversion and strided copy (copy.c): out = x.astype(out dtype), numpy's unsafe
 * casting. ptrs = {out, x}; strides[2 * ndim]; extents[4]; see elementwise.h. */
int em_cast(int src_dtype, int dst_dtype, int ndim, const int64_t *shape, char **ptrs,
            const int64_t *strides, const int64_t *extents);
