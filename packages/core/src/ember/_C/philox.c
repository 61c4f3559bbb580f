/* Philox 4x32-10 random numbers on the CPU (declarations in philox.h).
 *
 * Every kernel walks its counter blocks in chunks of CHUNK blocks; a chunk is generated
 * structure-of-arrays so the ten rounds vectorize, then converted. Value i depends only
 * on (seed, offset, i), never on which thread made it, so any OpenMP thread count gives
 * the same numbers. The arithmetic shared with the CUDA back end lives in philox_math.inc.
 */
/* Fused multiply-add would change the last bit of float conversions versus the GPU. */
#pragma GCC optimize("fp-contract=off")

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"
#include "philox_math.inc"

#define CHUNK 64          /* counter blocks per chunk: 256 32-bit lanes */
#define PAR_MIN_BLOCKS 4096 /* below this, threads cost more than they save */
#define MAX_VALUES (INT64_MAX / 8)

/* Runs `body` for ch = 0 .. nch-1, across threads only when there is enough work: even
 * a one-thread OpenMP region costs microseconds, more than a small draw itself. */
#define FOR_CHUNKS(nch, ...)                                               \
    do {                                                                   \
        if ((nch) * CHUNK < PAR_MIN_BLOCKS) {                              \
            for (int64_t ch = 0; ch < (nch); ch++) __VA_ARGS__;            \
        } else {                                                           \
            _Pragma("omp parallel for schedule(static)")                   \
            for (int64_t ch = 0; ch < (nch); ch++) __VA_ARGS__;            \
        }                                                                  \
    } while (0)

/* Run-time SIMD dispatch (GCC ifunc): one build runs everywhere, AVX2 where present. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define EM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define EM_CLONES
#endif

/* Blocks first .. first+nb-1 (nb <= CHUNK) into x, lane-interleaved: x[4*j + l] is lane l
 * of block j. Only what a chunk needs is computed, so tiny draws stay cheap. */
static inline void philox_chunk(uint64_t seed, uint64_t first, int nb, uint32_t x[4 * CHUNK]) {
    uint32_t c0[CHUNK], c1[CHUNK], c2[CHUNK], c3[CHUNK];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int j = 0; j < nb; j++) {
        uint64_t c = first + (uint64_t)j;
        c0[j] = (uint32_t)c;
        c1[j] = (uint32_t)(c >> 32);
        c2[j] = 0;
        c3[j] = 0;
    }
    for (int r = 0; r < 10; r++) {
        for (int j = 0; j < nb; j++) {
            uint64_t p0 = (uint64_t)EM_PHILOX_M0 * c0[j];
            uint64_t p1 = (uint64_t)EM_PHILOX_M1 * c2[j];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
            c0[j] = n0;
            c1[j] = (uint32_t)p1;
            c2[j] = n2;
            c3[j] = (uint32_t)p0;
        }
        k0 += EM_PHILOX_W0;
        k1 += EM_PHILOX_W1;
    }
    for (int j = 0; j < nb; j++) {
        x[4 * j] = c0[j];
        x[4 * j + 1] = c1[j];
        x[4 * j + 2] = c2[j];
        x[4 * j + 3] = c3[j];
    }
}

/* Values of chunk ch that exist: chunks hold `per` values, the last may be partial. */
static inline int64_t chunk_count(int64_t ch, int64_t per, int64_t n) {
    int64_t left = n - ch * per;
    return left < per ? left : per;
}

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int em_philox4x32_10(const uint32_t *ctr, const uint32_t *key, uint32_t *out) {
    if (!ctr || !key || !out) return EM_RNG_ENULL;
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    em_philox_block(c, key[0], key[1]);
    memcpy(out, c, sizeof c);
    return EM_RNG_OK;
}

/* ---- raw bits ------------------------------------------------------------------- */

EM_CLONES static void u32_chunk(uint64_t seed, uint64_t offset, int64_t ch, uint32_t *out,
                                int64_t n) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 4 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 3) / 4, x);
    memcpy(out + ch * 4 * CHUNK, x, (size_t)cnt * sizeof *out);
}

int em_philox_u32(uint64_t seed, uint64_t offset, uint32_t *out, int64_t n) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    int64_t nch = ceil_div(n, 4 * CHUNK);
    FOR_CHUNKS(nch, u32_chunk(seed, offset, ch, out, n));
    return EM_RNG_OK;
}

/* Two lanes per value, high word first. */
EM_CLONES static void u64_chunk(uint64_t seed, uint64_t offset, int64_t ch, uint64_t *out,
                                int64_t n) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 2 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 1) / 2, x);
    uint64_t *o = out + ch * 2 * CHUNK;
    for (int i = 0; i < cnt; i++) o[i] = ((uint64_t)x[2 * i] << 32) | x[2 * i + 1];
}

int em_philox_u64(uint64_t seed, uint64_t offset, uint64_t *out, int64_t n) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    int64_t nch = ceil_div(n, 2 * CHUNK);
    FOR_CHUNKS(nch, u64_chunk(seed, offset, ch, out, n));
    return EM_RNG_OK;
}

/* ---- uniform -------------------------------------------------------------------- */

/* One lane per value: (x >> (32 - bits)) * 2^-bits, scaled to [low, high). Values that
 * round up to `high` are pulled down to `below`, the largest float32 under high. */
EM_CLONES static void uniform_f32_chunk(uint64_t seed, uint64_t offset, int64_t ch,
                                        float *out, int64_t n, float low, float high,
                                        float below, int bits) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 4 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 3) / 4, x);
    float span = high - low, grid = ldexpf(1.0f, -bits), *o = out + ch * 4 * CHUNK;
    int shift = 32 - bits;
    for (int i = 0; i < cnt; i++) {
        float y = low + span * ((float)(x[i] >> shift) * grid);
        o[i] = y < high ? y : below;
    }
}

int em_philox_uniform_f32(uint64_t seed, uint64_t offset, float *out, int64_t n, float low,
                          float high, int bits) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    if (bits < 1 || bits > 24 || !(low <= high) || !isfinite(high - low)) return EM_RNG_EARG;
    float below = nextafterf(high, low);
    int64_t nch = ceil_div(n, 4 * CHUNK);
    FOR_CHUNKS(nch, uniform_f32_chunk(seed, offset, ch, out, n, low, high, below, bits));
    return EM_RNG_OK;
}

/* Two lanes per value (53 bits). */
EM_CLONES static void uniform_f64_chunk(uint64_t seed, uint64_t offset, int64_t ch,
                                        double *out, int64_t n, double low, double high,
                                        double below) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 2 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 1) / 2, x);
    double *o = out + ch * 2 * CHUNK, span = high - low;
    for (int i = 0; i < cnt; i++) {
        double y = low + span * em_unit_f64(x[2 * i], x[2 * i + 1]);
        o[i] = y < high ? y : below;
    }
}

int em_philox_uniform_f64(uint64_t seed, uint64_t offset, double *out, int64_t n, double low,
                          double high) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    if (!(low <= high) || !isfinite(high - low)) return EM_RNG_EARG;
    double below = nextafter(high, low);
    int64_t nch = ceil_div(n, 2 * CHUNK);
    FOR_CHUNKS(nch, uniform_f64_chunk(seed, offset, ch, out, n, low, high, below));
    return EM_RNG_OK;
}

/* ---- normal --------------------------------------------------------------------- */

/* Lanes (2m, 2m+1) give values 2m (r cos) and 2m+1 (r sin): four normals per block. */
EM_CLONES static void normal_f32_chunk(uint64_t seed, uint64_t offset, int64_t ch, float *out,
                                       int64_t n, float mean, float std) {
    uint32_t x[4 * CHUNK];
    float v[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 4 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 3) / 4, x);
    for (int m = 0; m < (cnt + 1) / 2; m++) {
        float z0, z1;
        em_box_muller_f32(x[2 * m], x[2 * m + 1], &z0, &z1);
        v[2 * m] = mean + std * z0;
        v[2 * m + 1] = mean + std * z1;
    }
    memcpy(out + ch * 4 * CHUNK, v, (size_t)cnt * sizeof *out);
}

int em_philox_normal_f32(uint64_t seed, uint64_t offset, float *out, int64_t n, float mean,
                         float std) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    if (!(std >= 0.0f) || !isfinite(std) || !isfinite(mean)) return EM_RNG_EARG;
    int64_t nch = ceil_div(n, 4 * CHUNK);
    FOR_CHUNKS(nch, normal_f32_chunk(seed, offset, ch, out, n, mean, std));
    return EM_RNG_OK;
}

/* One block gives values 2j (r cos) and 2j+1 (r sin). */
EM_CLONES static void normal_f64_chunk(uint64_t seed, uint64_t offset, int64_t ch,
                                       double *out, int64_t n, double mean, double std) {
    uint32_t x[4 * CHUNK];
    double v[2 * CHUNK];
    int cnt = (int)chunk_count(ch, 2 * CHUNK, n), nb = (cnt + 1) / 2;
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), nb, x);
    for (int j = 0; j < nb; j++) {
        double z0, z1;
        em_box_muller_f64(x + 4 * j, &z0, &z1);
        v[2 * j] = mean + std * z0;
        v[2 * j + 1] = mean + std * z1;
    }
    memcpy(out + ch * 2 * CHUNK, v, (size_t)cnt * sizeof *out);
}

int em_philox_normal_f64(uint64_t seed, uint64_t offset, double *out, int64_t n, double mean,
                         double std) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    if (!(std >= 0.0) || !isfinite(std) || !isfinite(mean)) return EM_RNG_EARG;
    int64_t nch = ceil_div(n, 2 * CHUNK);
    FOR_CHUNKS(nch, normal_f64_chunk(seed, offset, ch, out, n, mean, std));
    return EM_RNG_OK;
}

/* ---- exponential: -log(u) * scale with u in (0, 1] ------------------------------- */

EM_CLONES static void exponential_f32_chunk(uint64_t seed, uint64_t offset, int64_t ch,
                                            float *out, int64_t n, float scale) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 4 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 3) / 4, x);
    float *o = out + ch * 4 * CHUNK;
    for (int i = 0; i < cnt; i++) o[i] = -em_log_f32(em_unit_open0_f32(x[i])) * scale;
}

int em_philox_exponential_f32(uint64_t seed, uint64_t offset, float *out, int64_t n,
                              float scale) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    if (!(scale > 0.0f) || !isfinite(scale)) return EM_RNG_EARG;
    int64_t nch = ceil_div(n, 4 * CHUNK);
    FOR_CHUNKS(nch, exponential_f32_chunk(seed, offset, ch, out, n, scale));
    return EM_RNG_OK;
}

EM_CLONES static void exponential_f64_chunk(uint64_t seed, uint64_t offset, int64_t ch,
                                            double *out, int64_t n, double scale) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 2 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 1) / 2, x);
    double *o = out + ch * 2 * CHUNK;
    for (int i = 0; i < cnt; i++)
        o[i] = -em_log_f64(em_unit_open0_f64(x[2 * i], x[2 * i + 1])) * scale;
}

int em_philox_exponential_f64(uint64_t seed, uint64_t offset, double *out, int64_t n,
                              double scale) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    if (!(scale > 0.0) || !isfinite(scale)) return EM_RNG_EARG;
    int64_t nch = ceil_div(n, 2 * CHUNK);
    FOR_CHUNKS(nch, exponential_f64_chunk(seed, offset, ch, out, n, scale));
    return EM_RNG_OK;
}

/* ---- integers ------------------------------------------------------------------- */

/* low + [0, range) for range <= 2^32: two lanes (64 bits) per value, bias < 2^-32. */
EM_CLONES static void randint_narrow_chunk(uint64_t seed, uint64_t offset, int64_t ch,
                                           int64_t *out, int64_t n, int64_t low,
                                           uint64_t range) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, 2 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 1) / 2, x);
    int64_t *o = out + ch * 2 * CHUNK;
    if (range == 0x100000000ull) { /* the high word is the answer */
        for (int i = 0; i < cnt; i++) o[i] = (int64_t)((uint64_t)low + x[2 * i]);
        return;
    }
    uint32_t r32 = (uint32_t)range;
    for (int i = 0; i < cnt; i++) /* two's complement wrap is the intended sum */
        o[i] = (int64_t)((uint64_t)low + em_mulhi64_r32(x[2 * i], x[2 * i + 1], r32));
}

/* range > 2^32: a whole block (128 bits) per value, bias < 2^-64. */
static void randint_wide_chunk(uint64_t seed, uint64_t offset, int64_t ch, int64_t *out,
                               int64_t n, int64_t low, uint64_t range) {
    uint32_t x[4 * CHUNK];
    int cnt = (int)chunk_count(ch, CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), cnt, x);
    int64_t *o = out + ch * CHUNK;
    for (int i = 0; i < cnt; i++) {
        uint64_t hi = ((uint64_t)x[4 * i] << 32) | x[4 * i + 1];
        uint64_t lo = ((uint64_t)x[4 * i + 2] << 32) | x[4 * i + 3];
        o[i] = (int64_t)((uint64_t)low + em_mulhi128(hi, lo, range));
    }
}

int em_philox_randint_i64(uint64_t seed, uint64_t offset, int64_t *out, int64_t n, int64_t low,
                          uint64_t range) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n > 0 && !out) return EM_RNG_ENULL;
    /* The largest value, low + range - 1, must not pass INT64_MAX (unsigned arithmetic
     * makes INT64_MAX - low exact for every int64 low). */
    if (range == 0 || range - 1 > (uint64_t)INT64_MAX - (uint64_t)low) return EM_RNG_EARG;
    if (range > 0x100000000ull) {
        int64_t nch = ceil_div(n, CHUNK);
        FOR_CHUNKS(nch, randint_wide_chunk(seed, offset, ch, out, n, low, range));
    } else {
        int64_t nch = ceil_div(n, 2 * CHUNK);
        FOR_CHUNKS(nch, randint_narrow_chunk(seed, offset, ch, out, n, low, range));
    }
    return EM_RNG_OK;
}

/* ---- bernoulli: 1 where (x + 1/2) / 2^32 < p, one lane per value -------------------- */

static void bernoulli_chunk(uint64_t seed, uint64_t offset, int64_t ch, const double *p,
                            int64_t np, uint8_t *out, int64_t n) {
    uint32_t x[4 * CHUNK];
    int64_t i0 = ch * 4 * CHUNK;
    int cnt = (int)chunk_count(ch, 4 * CHUNK, n);
    philox_chunk(seed, offset + (uint64_t)(ch * CHUNK), (cnt + 3) / 4, x);
    for (int i = 0; i < cnt; i++) {
        double u = ((double)x[i] + 0.5) * 0x1p-32;
        out[i0 + i] = u < p[np == 1 ? 0 : i0 + i];
    }
}

int em_philox_bernoulli(uint64_t seed, uint64_t offset, const double *p, int64_t np,
                        uint8_t *out, int64_t n) {
    if (n < 0 || n > MAX_VALUES) return EM_RNG_ESIZE;
    if (n == 0) return EM_RNG_OK;
    if (np != 1 && np != n) return EM_RNG_ESIZE;
    if (!out || !p) return EM_RNG_ENULL;
    int64_t nch = ceil_div(n, 4 * CHUNK);
    FOR_CHUNKS(nch, bernoulli_chunk(seed, offset, ch, p, np, out, n));
    return EM_RNG_OK;
}

/* ---- multinomial with replacement: inverse-CDF search, two lanes per sample -------- */

static int64_t search_cdf(const double *cdf, int64_t k, double u) {
    /* First category whose cumulative weight exceeds u: zero-weight categories have an
     * empty interval and are never chosen. */
    int64_t lo = 0, hi = k - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    /* u rounded up to the total: step back to the last category with weight. */
    while (lo > 0 && cdf[lo] == cdf[lo - 1]) lo--;
    return lo;
}

/* Row r's weights are summed into cdf (scratch), then sample s of the row is value
 * i = r * num_samples + s, taking lanes 2(i%2), 2(i%2)+1 of block offset + i/2. */
static int multinomial_row(uint64_t seed, uint64_t offset, const double *p, int64_t k,
                           int64_t r, int64_t num_samples, double *cdf, int64_t *out) {
    double total = 0.0;
    for (int64_t j = 0; j < k; j++) {
        double w = p[j];
        if (!(w >= 0.0) || !isfinite(w)) return EM_RNG_EARG;
        total += w;
        cdf[j] = total;
    }
    if (!(total > 0.0) || !isfinite(total)) return EM_RNG_EARG;
    uint32_t c[4] = {0, 0, 0, 0};
    for (int64_t s = 0; s < num_samples; s++) {
        uint64_t i = (uint64_t)(r * num_samples + s);
        if (s == 0 || (i & 1u) == 0) {
            uint64_t b = offset + i / 2;
            c[0] = (uint32_t)b;
            c[1] = (uint32_t)(b >> 32);
            c[2] = c[3] = 0;
            em_philox_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        }
        int l = (int)(i & 1u) * 2;
        out[i] = search_cdf(cdf, k, em_unit_f64(c[l], c[l + 1]) * total);
    }
    return EM_RNG_OK;
}

static int multinomial_rows(uint64_t seed, uint64_t offset, const double *probs, int64_t k,
                            int64_t r0, int64_t r1, int64_t num_samples, int64_t *out) {
    double *cdf = malloc((size_t)k * sizeof *cdf);
    if (!cdf) return EM_RNG_ENOMEM;
    int status = EM_RNG_OK;
    for (int64_t r = r0; r < r1 && status == EM_RNG_OK; r++)
        status = multinomial_row(seed, offset, probs + r * k, k, r, num_samples, cdf, out);
    free(cdf);
    return status;
}

int em_philox_multinomial(uint64_t seed, uint64_t offset, const double *probs, int64_t rows,
                          int64_t k, int64_t num_samples, int64_t *out) {
    if (rows < 0 || k < 1 || num_samples < 0) return EM_RNG_ESIZE;
    if (num_samples > 0 && rows > MAX_VALUES / num_samples) return EM_RNG_ESIZE;
    if (rows > MAX_VALUES / k) return EM_RNG_ESIZE;
    if (rows == 0 || num_samples == 0) return EM_RNG_OK;
    if (!probs || !out) return EM_RNG_ENULL;
    if (rows * (k + num_samples) < 64 * PAR_MIN_BLOCKS)
        return multinomial_rows(seed, offset, probs, k, 0, rows, num_samples, out);
    int status = EM_RNG_OK;
#pragma omp parallel
    {
        /* Rows split evenly; each sample's counter depends only on its index. */
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int mine = multinomial_rows(seed, offset, probs, k, rows * t / nt,
                                    rows * (t + 1) / nt, num_samples, out);
        if (mine != EM_RNG_OK) {
#pragma omp critical(em_philox_status)
            status = mine;
        }
    }
    return status;
}
