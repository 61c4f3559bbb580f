/* Fused multi-tensor Adam/AdamW and SGD updates: one launch updates every tensor of a
 * parameter group (the CUDA side of ember._optim_kernels). The per-element arithmetic is
 * the CPU kernel's (optim_fused.c), operation by operation and in the parameter's dtype;
 * with --fmad=false (how ember builds these sources) the results match the CPU bit for
 * bit.
 *
 * Work list: block b updates chunk b, elements [start, start + chunk) of tensor
 * chunks[2b] starting at chunks[2b+1]. ptrs holds, per tensor, the device addresses of
 * its arrays (Adam: param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq; SGD: param, grad,
 * momentum buffer); per-tensor scalars come in `scal`.
 */
#include "ember_common.cuh"

EM_DEV float em_sqrt_t(float x) { return sqrtf(x); }
EM_DEV double em_sqrt_t(double x) { return sqrt(x); }

/* scal[2t] = bias-corrected sqrt(1 - beta2^step), scal[2t+1] = -(lr / (1 - beta1^step)). */
template <typename T>
__device__ void em_adam(const uint64_t *ptrs, const int64_t *chunks, const int64_t *numels,
                        const double *scal, int64_t chunk, double w1_, double b2_,
                        double omb2_, double eps_, double gsign_, double cwd_, double decay_,
                        int32_t amsgrad, int32_t lo) {
    int64_t t = chunks[2 * blockIdx.x], s = chunks[2 * blockIdx.x + 1];
    int64_t end = s + chunk < numels[t] ? s + chunk : numels[t];
    T *p = (T *)ptrs[5 * t], *m = (T *)ptrs[5 * t + 2], *v = (T *)ptrs[5 * t + 3];
    const T *g = (const T *)ptrs[5 * t + 1];
    T *vmax = (T *)ptrs[5 * t + 4];
    T w1 = (T)w1_, b2 = (T)b2_, omb2 = (T)omb2_, eps = (T)eps_, gsign = (T)gsign_;
    T cwd = (T)cwd_, decay = (T)decay_, bc2s = (T)scal[2 * t], neg_step = (T)scal[2 * t + 1];
    for (int64_t i = s + threadIdx.x; i < end; i += blockDim.x) {
        T pi = p[i];
        T gi = g[i] * gsign;
        gi = gi + cwd * pi;
        pi = pi * decay;
        T mi = m[i];
        /* torch.lerp: the formula depends on which side of 0.5 the weight is */
        mi = lo ? mi + w1 * (gi - mi) : gi - (gi - mi) * ((T)1 - w1);
        T vi = v[i] * b2;
        vi = vi + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T use = vi;
        if (amsgrad) {
            T old = vmax[i];
            use = (old > vi || old != old) ? old : vi;
            vmax[i] = use;
        }
        T denom = em_sqrt_t(use) / bc2s + eps;
        p[i] = pi + neg_step * mi / denom;
    }
}

/* scal[t] = 1 when tensor t's momentum buffer is new (it becomes the gradient). */
template <typename T>
__device__ void em_sgd(const uint64_t *ptrs, const int64_t *chunks, const int64_t *numels,
                       const double *scal, int64_t chunk, double neg_lr_, double mom_,
                       double omd_, double wd_, int32_t use_mom, int32_t nesterov,
                       int32_t maximize) {
    int64_t t = chunks[2 * blockIdx.x], s = chunks[2 * blockIdx.x + 1];
    int64_t end = s + chunk < numels[t] ? s + chunk : numels[t];
    T *p = (T *)ptrs[3 * t], *buf = (T *)ptrs[3 * t + 2];
    const T *g = (const T *)ptrs[3 * t + 1];
    T neg_lr = (T)neg_lr_, mom = (T)mom_, omd = (T)omd_, wd = (T)wd_;
    int init = scal[t] != 0.0;
    for (int64_t i = s + threadIdx.x; i < end; i += blockDim.x) {
        T gi = maximize ? -g[i] : g[i];
        T pi = p[i];
        if (wd_ != 0.0) gi = gi + wd * pi;
        if (use_mom) {
            T b;
            if (init) {
                b = gi;
            } else {
                b = buf[i] * mom;
                b = b + omd * gi;
            }
            buf[i] = b;
            gi = nesterov ? gi + mom * b : b;
        }
        p[i] = pi + neg_lr * gi;
    }
}

#define EM_OPTIM_KERNELS(T, SFX)                                                           \
    extern "C" __global__ void ember_adam_##SFX(                                           \
        const uint64_t *ptrs, const int64_t *chunks, const int64_t *numels,                \
        const double *scal, int64_t chunk, double w1, double b2, double omb2, double eps,  \
        double gsign, double cwd, double decay, int32_t amsgrad, int32_t lo) {             \
        em_adam<T>(ptrs, chunks, numels, scal, chunk, w1, b2, omb2, eps, gsign, cwd, decay, \
                   amsgrad, lo);                                                           \
    }                                                                                      \
    extern "C" __global__ void ember_sgd_##SFX(                                            \
        const uint64_t *ptrs, const int64_t *chunks, const int64_t *numels,                \
        const double *scal, int64_t chunk, double neg_lr, double mom, double omd,          \
        double wd, int32_t use_mom, int32_t nesterov, int32_t maximize) {                  \
        em_sgd<T>(ptrs, chunks, numels, scal, chunk, neg_lr, mom, omd, wd, use_mom,        \
                  nesterov, maximize);                                                     \
    }
EM_FLOAT32_64(EM_OPTIM_KERNELS)
