/* Philox 4x32-10 on the GPU, giving the CPU generator's numbers bit for bit.
 *
 * The block function and the bits-to-number conversions are philox_math.inc, the very
 * file philox.c uses, compiled here as __host__ __device__ code; ember builds this source
 * with --fmad=false (and CUDA's default IEEE division and sqrt), which is what identical
 * results need. The stream layout is the CPU's: value i of a call that needs L lanes per
 * value comes from counter block offset + i / (4 / L). Here thread j computes block j
 * and writes the values it holds, so every value depends only on (seed, offset, i).
 */
#include "ember_common.cuh"

#define EM_RNG_FN __host__ __device__ static __forceinline__
/* The CPU's 128-bit multiply-high; on the device the same value comes from
 * __umul64hi below, so the header's version is renamed out of the way. */
#define em_mulhi128 em_mulhi128_host_only
#include "../philox_math.inc"
#undef em_mulhi128

/* floor((x_hi * 2^64 + x_lo) * range / 2^128), exactly as em_mulhi128 on the CPU. */
EM_DEV uint64_t em_mulhi128_dev(uint64_t x_hi, uint64_t x_lo, uint64_t range) {
    uint64_t lo_hi = __umul64hi(x_lo, range);   /* high word of x_lo * range */
    uint64_t hi_lo = x_hi * range;               /* low word of x_hi * range */
    uint64_t hi_hi = __umul64hi(x_hi, range);    /* high word of x_hi * range */
    uint64_t mid = hi_lo + lo_hi;
    return hi_hi + (mid < hi_lo ? 1ull : 0ull);
}

/* Block j of the call: counter (lo32(offset + j), hi32(offset + j), 0, 0). */
EM_DEV void em_block(uint64_t seed, uint64_t offset, int64_t j, uint32_t c[4]) {
    uint64_t ctr = offset + (uint64_t)j;
    c[0] = (uint32_t)ctr;
    c[1] = (uint32_t)(ctr >> 32);
    c[2] = 0;
    c[3] = 0;
    em_philox_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

#define EM_FOR_BLOCKS(nblocks) \
    for (int64_t j = em_global_id(); j < (nblocks); j += em_grid_stride())

extern "C" __global__ void ember_philox_u32(uint64_t seed, uint64_t offset, uint32_t *out,
                                            int64_t n) {
    EM_FOR_BLOCKS((n + 3) / 4) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 4 && 4 * j + l < n; l++) out[4 * j + l] = c[l];
    }
}

/* Two lanes per value, high word first. */
extern "C" __global__ void ember_philox_u64(uint64_t seed, uint64_t offset, uint64_t *out,
                                            int64_t n) {
    EM_FOR_BLOCKS((n + 1) / 2) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 2 && 2 * j + l < n; l++)
            out[2 * j + l] = ((uint64_t)c[2 * l] << 32) | c[2 * l + 1];
    }
}

/* low + (high - low) * (x >> (32 - bits)) * 2^-bits; values reaching high become below. */
extern "C" __global__ void ember_philox_uniform_f32(uint64_t seed, uint64_t offset, float *out,
                                                    int64_t n, float low, float high,
                                                    float below, int32_t bits) {
    float span = high - low, grid = __int_as_float((127 - bits) << 23);
    int shift = 32 - bits;
    EM_FOR_BLOCKS((n + 3) / 4) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 4 && 4 * j + l < n; l++) {
            float y = low + span * ((float)(c[l] >> shift) * grid);
            out[4 * j + l] = y < high ? y : below;
        }
    }
}

extern "C" __global__ void ember_philox_uniform_f64(uint64_t seed, uint64_t offset,
                                                    double *out, int64_t n, double low,
                                                    double high, double below) {
    double span = high - low;
    EM_FOR_BLOCKS((n + 1) / 2) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 2 && 2 * j + l < n; l++) {
            double y = low + span * em_unit_f64(c[2 * l], c[2 * l + 1]);
            out[2 * j + l] = y < high ? y : below;
        }
    }
}

/* Lanes (2m, 2m+1) give values 2m (r cos) and 2m+1 (r sin): four per block. */
extern "C" __global__ void ember_philox_normal_f32(uint64_t seed, uint64_t offset, float *out,
                                                   int64_t n, float mean, float std) {
    EM_FOR_BLOCKS((n + 3) / 4) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int m = 0; m < 2; m++) {
            float z0, z1;
            em_box_muller_f32(c[2 * m], c[2 * m + 1], &z0, &z1);
            int64_t i = 4 * j + 2 * m;
            if (i < n) out[i] = mean + std * z0;
            if (i + 1 < n) out[i + 1] = mean + std * z1;
        }
    }
}

/* One whole block gives values 2j and 2j+1. */
extern "C" __global__ void ember_philox_normal_f64(uint64_t seed, uint64_t offset,
                                                   double *out, int64_t n, double mean,
                                                   double std) {
    EM_FOR_BLOCKS((n + 1) / 2) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        double z0, z1;
        em_box_muller_f64(c, &z0, &z1);
        out[2 * j] = mean + std * z0;
        if (2 * j + 1 < n) out[2 * j + 1] = mean + std * z1;
    }
}

extern "C" __global__ void ember_philox_exponential_f32(uint64_t seed, uint64_t offset,
                                                        float *out, int64_t n, float scale) {
    EM_FOR_BLOCKS((n + 3) / 4) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 4 && 4 * j + l < n; l++)
            out[4 * j + l] = -em_log_f32(em_unit_open0_f32(c[l])) * scale;
    }
}

extern "C" __global__ void ember_philox_exponential_f64(uint64_t seed, uint64_t offset,
                                                        double *out, int64_t n, double scale) {
    EM_FOR_BLOCKS((n + 1) / 2) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 2 && 2 * j + l < n; l++)
            out[2 * j + l] = -em_log_f64(em_unit_open0_f64(c[2 * l], c[2 * l + 1])) * scale;
    }
}

/* low + [0, range): range <= 2^32 takes two lanes per value, wider ranges a block. */
extern "C" __global__ void ember_philox_randint_i64(uint64_t seed, uint64_t offset,
                                                    int64_t *out, int64_t n, int64_t low,
                                                    uint64_t range) {
    if (range > 0x100000000ull) {
        EM_FOR_BLOCKS(n) {
            uint32_t c[4];
            em_block(seed, offset, j, c);
            uint64_t hi = ((uint64_t)c[0] << 32) | c[1];
            uint64_t lo = ((uint64_t)c[2] << 32) | c[3];
            out[j] = (int64_t)((uint64_t)low + em_mulhi128_dev(hi, lo, range));
        }
        return;
    }
    EM_FOR_BLOCKS((n + 1) / 2) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 2 && 2 * j + l < n; l++) {
            uint64_t r = range == 0x100000000ull
                             ? (uint64_t)c[2 * l]
                             : em_mulhi64_r32(c[2 * l], c[2 * l + 1], (uint32_t)range);
            out[2 * j + l] = (int64_t)((uint64_t)low + r);
        }
    }
}

/* 1 where (x + 1/2) / 2^32 < p (p has 1 or n entries): one lane per value. */
extern "C" __global__ void ember_philox_bernoulli(uint64_t seed, uint64_t offset,
                                                  const double *p, int64_t np, uint8_t *out,
                                                  int64_t n) {
    EM_FOR_BLOCKS((n + 3) / 4) {
        uint32_t c[4];
        em_block(seed, offset, j, c);
        for (int l = 0; l < 4 && 4 * j + l < n; l++) {
            int64_t i = 4 * j + l;
            double u = ((double)c[l] + 0.5) * 0x1p-32;
            out[i] = u < p[np == 1 ? 0 : i];
        }
    }
}
