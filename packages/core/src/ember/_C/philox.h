/* Philox 4x32-10 counter-based random numbers (philox.c). Every entry point returns
 * EM_RNG_OK or a negative em_rng_status; value i of a call comes from the counter
 * block offset + i / (values per block), so results do not depend on thread count. */
enum em_rng_status {
    EM_RNG_OK = 0, EM_RNG_ENULL = -1, EM_RNG_ESIZE = -2, EM_RNG_EARG = -3, EM_RNG_ENOMEM = -4
};

int em_philox4x32_10(const uint32_t *ctr, const uint32_t *key, uint32_t *out);
int em_philox_u32(uint64_t seed, uint64_t offset, uint32_t *out, int64_t n);
int em_philox_u64(uint64_t seed, uint64_t offset, uint64_t *out, int64_t n);
int em_philox_uniform_f32(uint64_t seed, uint64_t offset, float *out, int64_t n,
                          float low, float high, int bits);
int em_philox_uniform_f64(uint64_t seed, uint64_t offset, double *out, int64_t n,
                          double low, double high);
int em_philox_normal_f32(uint64_t seed, uint64_t offset, float *out, int64_t n,
                         float mean, float std);
int em_philox_normal_f64(uint64_t seed, uint64_t offset, double *out, int64_t n,
                         double mean, double std);
int em_philox_exponential_f32(uint64_t seed, uint64_t offset, float *out, int64_t n,
                              float scale);
int em_philox_exponential_f64(uint64_t seed, uint64_t offset, double *out, int64_t n,
                              double scale);
int em_philox_randint_i64(uint64_t seed, uint64_t offset, int64_t *out, int64_t n,
                          int64_t low, uint64_t range);
int em_philox_bernoulli(uint64_t seed, uint64_t offset, const double *p, int64_t np,
                        uint8_t *out, int64_t n);
int em_philox_multinomial(uint64_t seed, uint64_t offset, const double *probs, int64_t rows,
                          int64_t k, int64_t num_samples, int64_t *out);
