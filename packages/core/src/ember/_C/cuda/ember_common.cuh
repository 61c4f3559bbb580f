/* Shared by every ember CUDA source: fixed-width integer types (NVRTC has no <stdint.h>),
 * float16/bfloat16 conversions written with bit operations (no cuda_fp16.h, so the same
 * source compiles under nvcc and NVRTC with no include path), the per-dtype load/store
 * that lets one template serve every dtype, a strided indexer and block reductions.
 *
 * The Python loader (ember._cuda.loader) inlines this file into each source for NVRTC;
 * nvcc finds it next to the .cu files. Kernels are `extern "C"` so their names are
 * `ember_<op>_<dtype>` in the module, without C++ mangling.
 */
#ifndef EMBER_COMMON_CUH
#define EMBER_COMMON_CUH

#ifdef __CUDACC_RTC__
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif

#define EM_DEV __device__ static __forceinline__
/* For member functions (operators cannot be static). */
#define EM_FN __device__ __forceinline__
#define EM_MAX_DIMS 8
/* +infinity without <math.h> (NVRTC has no INFINITY); converts exactly to double. */
#define EM_INF __int_as_float(0x7f800000)
#define EM_THREADS 256

/* Storage types of the 16-bit floats: the raw bits. Arithmetic happens in float. */
struct em_f16 { uint16_t x; };
struct em_bf16 { uint16_t x; };

EM_DEV float em_f16_to_f32(uint16_t h) {
    float f;
    asm("{ cvt.f32.f16 %0, %1; }" : "=f"(f) : "h"(h));
    return f;
}

EM_DEV uint16_t em_f32_to_f16(float f) {
    uint16_t h;
    asm("{ cvt.rn.f16.f32 %0, %1; }" : "=h"(h) : "f"(f));
    return h;
}

EM_DEV float em_bf16_to_f32(uint16_t b) { return __uint_as_float(((uint32_t)b) << 16); }

/* Round to nearest even; NaN stays a (quiet) NaN. */
EM_DEV uint16_t em_f32_to_bf16(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* em_num<T>: how a storage type T is computed with. `acc` is the accumulation type of
 * reductions and the compute type of math functions. */
template <typename T> struct em_num {
    typedef T acc;
    EM_DEV acc load(T v) { return v; }
    EM_DEV T store(acc v) { return v; }
};
template <> struct em_num<em_f16> {
    typedef float acc;
    EM_DEV float load(em_f16 v) { return em_f16_to_f32(v.x); }
    EM_DEV em_f16 store(float v) { em_f16 r; r.x = em_f32_to_f16(v); return r; }
};
template <> struct em_num<em_bf16> {
    typedef float acc;
    EM_DEV float load(em_bf16 v) { return em_bf16_to_f32(v.x); }
    EM_DEV em_bf16 store(float v) { em_bf16 r; r.x = em_f32_to_bf16(v); return r; }
};
template <> struct em_num<bool> {
    typedef int acc;
    EM_DEV int load(bool v) { return v ? 1 : 0; }
    EM_DEV bool store(int v) { return v != 0; }
};

/* Shape and per-operand strides (in elements) of an elementwise problem; passed by
 * value as one kernel argument (a 1-element numpy structured array on the Python side,
 * ember._cuda.loader.INDEXER). Operand 0 is the output. */
struct em_indexer {
    int64_t ndim;
    int64_t numel;
    int64_t shape[EM_MAX_DIMS];
    int64_t stride[3][EM_MAX_DIMS];
};

/* Offsets of linear (row-major) element i in each of the first `nops` operands. */
EM_DEV void em_offsets(const em_indexer &ix, int64_t i, int nops, int64_t off[3]) {
    off[0] = off[1] = off[2] = 0;
    for (int d = (int)ix.ndim - 1; d >= 0; d--) {
        int64_t n = ix.shape[d];
        int64_t c = i % n;
        i /= n;
        for (int k = 0; k < nops; k++) off[k] += c * ix.stride[k][d];
    }
}

EM_DEV int64_t em_global_id() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
EM_DEV int64_t em_grid_stride() { return (int64_t)gridDim.x * blockDim.x; }

/* Sum / max over a block of EM_THREADS threads (warp shuffles, then one warp). Every
 * thread of the block must call these; the result is valid in every thread. */
template <typename A> EM_DEV A em_warp_sum(A v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <typename A> EM_DEV A em_warp_max(A v) {
    for (int o = 16; o > 0; o >>= 1) {
        A w = __shfl_xor_sync(0xffffffffu, v, o);
        v = (w > v || w != w) ? w : v; /* NaN propagates */
    }
    return v;
}
template <typename A> EM_DEV A em_block_sum(A v, A *smem /* [32] */) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = em_warp_sum(v);
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    v = lane < nw ? smem[lane] : (A)0;
    return em_warp_sum(v);
}
template <typename A> EM_DEV A em_block_max(A v, A *smem /* [32] */, A lowest) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = em_warp_max(v);
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    v = lane < nw ? smem[lane] : lowest;
    return em_warp_max(v);
}

/* atomicAdd for the float types kernels scatter into (float, double are native). */
EM_DEV void em_atomic_add(float *p, float v) { atomicAdd(p, v); }
EM_DEV void em_atomic_add(double *p, double v) { atomicAdd(p, v); }

/* Expand a macro once per floating dtype: X(storage type, suffix). */
#define EM_FLOAT_TYPES(X) X(em_f16, f16) X(em_bf16, bf16) X(float, f32) X(double, f64)
/* The float types that have atomics and enough precision for scatter-add kernels. */
#define EM_FLOAT32_64(X) X(float, f32) X(double, f64)
/* Every real dtype ember has, with its suffix. */
#define EM_ALL_TYPES(X)                                                                    \
    X(bool, b8) X(uint8_t, u8) X(int8_t, i8) X(int16_t, i16) X(int32_t, i32)              \
    X(int64_t, i64) X(em_f16, f16) X(em_bf16, bf16) X(float, f32) X(double, f64)

#endif /* EMBER_COMMON_CUH */
