/* Strided, broadcasting elementwise kernels for every dtype.
 *
 * One template per arity walks the output in row-major order and finds each operand's
 * element through its strides (a broadcast dimension has stride 0), so contiguous,
 * transposed, sliced and broadcast operands all take the same kernel. The per-dtype
 * kernels are stamped out by macros: ember_<op>_<dtype>(em_indexer, out, a[, b]).
 * 16-bit floats compute in float32 and round once on store, as the CPU kernels do.
 */
#include "ember_common.cuh"

/* Offsets of element i; 1-D problems (the contiguous case) skip the division. */
EM_DEV void em_elem_offsets(const em_indexer &ix, int64_t i, int nops, int64_t off[3]) {
    if (ix.ndim == 1) {
        for (int k = 0; k < 3; k++) off[k] = k < nops ? i * ix.stride[k][0] : 0;
        return;
    }
    if (ix.numel <= 0x7fffffff) { /* 32-bit division is several times cheaper */
        uint32_t j = (uint32_t)i;
        off[0] = off[1] = off[2] = 0;
        for (int d = (int)ix.ndim - 1; d >= 0; d--) {
            uint32_t n = (uint32_t)ix.shape[d];
            uint32_t c = j % n;
            j /= n;
            for (int k = 0; k < nops; k++) off[k] += (int64_t)c * ix.stride[k][d];
        }
        return;
    }
    em_offsets(ix, i, nops, off);
}

template <typename T, typename O, typename F>
__device__ void em_binary(const em_indexer &ix, O *out, const T *a, const T *b, F f) {
    typedef typename em_num<T>::acc A;
    for (int64_t i = em_global_id(); i < ix.numel; i += em_grid_stride()) {
        int64_t off[3];
        em_elem_offsets(ix, i, 3, off);
        out[off[0]] = f(em_num<T>::load(a[off[1]]), em_num<T>::load(b[off[2]]));
    }
}

template <typename T, typename F>
__device__ void em_unary(const em_indexer &ix, T *out, const T *a, F f) {
    for (int64_t i = em_global_id(); i < ix.numel; i += em_grid_stride()) {
        int64_t off[3];
        em_elem_offsets(ix, i, 2, off);
        out[off[0]] = em_num<T>::store(f(em_num<T>::load(a[off[1]])));
    }
}

/* ---- binary arithmetic (result in the operands' dtype) ---- */
#define EM_ARITH(NAME, EXPR)                                                               \
    template <typename T> struct op_##NAME {                                               \
        typedef typename em_num<T>::acc A;                                                 \
        EM_FN T operator()(A x, A y) const { return em_num<T>::store(EXPR); }             \
    };
EM_ARITH(add, x + y)
EM_ARITH(sub, x - y)
EM_ARITH(mul, x * y)
EM_ARITH(div, x / y)
/* NaN propagates through maximum/minimum, as in PyTorch and numpy. */
EM_ARITH(maximum, (x != x) ? x : ((y != y) ? y : (x > y ? x : y)))
EM_ARITH(minimum, (x != x) ? x : ((y != y) ? y : (x < y ? x : y)))

/* ---- comparisons (bool result) ---- */
#define EM_CMP(NAME, EXPR)                                                                 \
    template <typename T> struct op_##NAME {                                               \
        typedef typename em_num<T>::acc A;                                                 \
        EM_FN bool operator()(A x, A y) const { return EXPR; }                            \
    };
EM_CMP(eq, x == y)
EM_CMP(ne, x != y)
EM_CMP(lt, x < y)
EM_CMP(le, x <= y)
EM_CMP(gt, x > y)
EM_CMP(ge, x >= y)

#define EM_BINARY_KERNEL(OP, T, SFX, O)                                                    \
    extern "C" __global__ void ember_##OP##_##SFX(const em_indexer ix, O *out, const T *a, \
                                                  const T *b) {                            \
        em_binary<T, O>(ix, out, a, b, op_##OP<T>());                                      \
    }
#define EM_ARITH_ALL(T, SFX)                                                               \
    EM_BINARY_KERNEL(add, T, SFX, T) EM_BINARY_KERNEL(sub, T, SFX, T)                      \
    EM_BINARY_KERNEL(mul, T, SFX, T) EM_BINARY_KERNEL(maximum, T, SFX, T)                  \
    EM_BINARY_KERNEL(minimum, T, SFX, T)                                                   \
    EM_BINARY_KERNEL(eq, T, SFX, bool) EM_BINARY_KERNEL(ne, T, SFX, bool)                  \
    EM_BINARY_KERNEL(lt, T, SFX, bool) EM_BINARY_KERNEL(le, T, SFX, bool)                  \
    EM_BINARY_KERNEL(gt, T, SFX, bool) EM_BINARY_KERNEL(ge, T, SFX, bool)
EM_ALL_TYPES(EM_ARITH_ALL)
#define EM_DIV_FLOAT(T, SFX) EM_BINARY_KERNEL(div, T, SFX, T)
EM_FLOAT_TYPES(EM_DIV_FLOAT)

/* ---- unary math on floating dtypes (float32 math for 16-bit floats) ---- */
EM_DEV float em_exp(float x) { return expf(x); }
EM_DEV double em_exp(double x) { return exp(x); }
EM_DEV float em_log(float x) { return logf(x); }
EM_DEV double em_log(double x) { return log(x); }
EM_DEV float em_sqrt(float x) { return sqrtf(x); }
EM_DEV double em_sqrt(double x) { return sqrt(x); }
EM_DEV float em_tanh(float x) { return tanhf(x); }
EM_DEV double em_tanh(double x) { return tanh(x); }
EM_DEV float em_erf(float x) { return erff(x); }
EM_DEV double em_erf(double x) { return erf(x); }
EM_DEV float em_erfc(float x) { return erfcf(x); }
EM_DEV double em_erfc(double x) { return erfc(x); }

#define EM_UNARY_FN(NAME, EXPR)                                                            \
    struct fn_##NAME {                                                                     \
        template <typename A> EM_FN A operator()(A x) const { return EXPR; }              \
    };
EM_UNARY_FN(neg, -x)
EM_UNARY_FN(abs, x < (A)0 ? -x : x)
EM_UNARY_FN(relu, (x > (A)0 || x != x) ? x : (A)0)
EM_UNARY_FN(exp, em_exp(x))
EM_UNARY_FN(log, em_log(x))
EM_UNARY_FN(sqrt, em_sqrt(x))
EM_UNARY_FN(tanh, em_tanh(x))
EM_UNARY_FN(erf, em_erf(x))
EM_UNARY_FN(erfc, em_erfc(x))
/* exp(-|x|) never overflows, so both branches are exact where they are used. */
EM_UNARY_FN(sigmoid, x >= (A)0 ? (A)1 / ((A)1 + em_exp(-x)) : em_exp(x) / ((A)1 + em_exp(x)))

#define EM_UNARY_KERNEL(OP, T, SFX)                                                        \
    extern "C" __global__ void ember_##OP##_##SFX(const em_indexer ix, T *out, const T *a) { \
        em_unary<T>(ix, out, a, fn_##OP());                                                \
    }
#define EM_UNARY_FLOAT(T, SFX)                                                             \
    EM_UNARY_KERNEL(neg, T, SFX) EM_UNARY_KERNEL(abs, T, SFX) EM_UNARY_KERNEL(relu, T, SFX) \
    EM_UNARY_KERNEL(exp, T, SFX) EM_UNARY_KERNEL(log, T, SFX) EM_UNARY_KERNEL(sqrt, T, SFX) \
    EM_UNARY_KERNEL(tanh, T, SFX) EM_UNARY_KERNEL(erf, T, SFX)                             \
    EM_UNARY_KERNEL(erfc, T, SFX) EM_UNARY_KERNEL(sigmoid, T, SFX)
EM_FLOAT_TYPES(EM_UNARY_FLOAT)
#define EM_UNARY_INT(T, SFX) EM_UNARY_KERNEL(neg, T, SFX) EM_UNARY_KERNEL(abs, T, SFX)
EM_UNARY_INT(int8_t, i8)
EM_UNARY_INT(int16_t, i16)
EM_UNARY_INT(int32_t, i32)
EM_UNARY_INT(int64_t, i64)
