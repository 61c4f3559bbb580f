/* Elementwise CPU kernels (elementwise.c). Arguments shared by every entry point:
 * ndim in [0, 16] and shape[ndim]; ptrs[nops] data pointers, operand 0 is the output;
 * strides[nops * ndim] byte strides, operand-major; extents[2 * nops] the byte range
 * [lo, hi) of each operand's buffer relative to its pointer. Returns 0 or a negative
 * error code (see kernel_common.inc). Dtype and op codes: ember/_kernels.py. */
int em_binary(int op, int dtype, int ndim, const int64_t *shape, char **ptrs,
              const int64_t *strides, const int64_t *extents);
int em_unary(int op, int dtype, int ndim, const int64_t *shape, char **ptrs,
             const int64_t *strides, const int64_t *extents);
int em_clamp(int dtype, int ndim, const int64_t *shape, char **ptrs, const int64_t *strides,
             const int64_t *extents, int has_lo, double lo, int has_hi, double hi);
int em_where(int dtype, int ndim, const int64_t *shape, char **ptrs, const int64_t *strides,
             const int64_t *extents);
/* One-dimensional fast paths for dense operands (the common case, called with scalar
 * arguments to keep the Python-side cost low): n elements; xs, ys byte steps (the item
 * size, or 0 for a broadcast scalar); *_bytes each buffer's size from its pointer. */
int em_binary_flat(int op, int dtype, int64_t n, char *out, char *x, char *y, int64_t xs,
                   int64_t ys, int64_t out_bytes, int64_t x_bytes, int64_t y_bytes);
int em_unary_flat(int op, int dtype, int64_t n, char *out, char *x, int64_t out_bytes,
                  int64_t x_bytes);
int em_binary_supported(int op, int dtype);
int em_unary_supported(int op, int dtype);
