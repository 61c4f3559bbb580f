/* Fused optimizer updates: Adam/AdamW and SGD in one pass over memory.
 *
 * Why: PyTorch-style updates are a chain of 6-10 elementwise ops, each one a full pass
 * over parameter-sized arrays. One fused pass reads each array once and writes it once,
 * so a memory-bound step costs about a third of the chain. The per-element arithmetic
 * follows PyTorch's single-tensor formulas operation by operation (same roundings, in the
 * parameter's dtype) so trajectories agree with PyTorch to a few ulps.
 *
 * Work split: every tensor is cut into chunks of CHUNK elements and the chunks of all the
 * tensors are shared among the OpenMP threads, so 100 small tensors use every core as
 * well as one big one does.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernel_common.inc"
#include "optim_fused.h"

#define CHUNK 16384

enum { OPT_OK = 0, OPT_ESIZE = -1, OPT_ENULL = -2, OPT_EDTYPE = -3, OPT_ENOMEM = -4 };

typedef struct {
    int64_t tensor, start, len;
} chunk_t;

/* Validate the tensor list and cut it into chunks; *out is malloc'ed (caller frees). */
static int make_chunks(int64_t nt, const int64_t *numels, chunk_t **out, int64_t *nchunks,
                       int64_t *total) {
    if (nt < 0 || (nt > 0 && !numels)) return OPT_ESIZE;
    int64_t n = 0, tot = 0;
    for (int64_t t = 0; t < nt; t++) {
        if (numels[t] < 0) return OPT_ESIZE;
        n += (numels[t] + CHUNK - 1) / CHUNK;
        tot += numels[t];
    }
    chunk_t *c = (chunk_t *)malloc(sizeof(chunk_t) * (size_t)(n > 0 ? n : 1));
    if (!c) return OPT_ENOMEM;
    int64_t k = 0;
    for (int64_t t = 0; t < nt; t++) {
        for (int64_t s = 0; s < numels[t]; s += CHUNK) {
            c[k].tensor = t;
            c[k].start = s;
            c[k].len = numels[t] - s < CHUNK ? numels[t] - s : CHUNK;
            k++;
        }
    }
    *out = c;
    *nchunks = n;
    *total = tot;
    return OPT_OK;
}

static int check_ptrs(int64_t nt, const int64_t *numels, void **a) {
    if (!a) return OPT_ENULL;
    for (int64_t t = 0; t < nt; t++)
        if (numels[t] > 0 && !a[t]) return OPT_ENULL;
    return OPT_OK;
}

/* ------------------------------------------------------------------------------ Adam */

/* Branch-free bodies (GCC vectorizes them): maximize is a multiply by -1, L2 decay adds
 * wd * p with wd = 0 when off, decoupled decay multiplies by 1 when off; amsgrad and the
 * side of torch.lerp's formula are compile-time variants. */
#define ADAM_KERNEL(T, SQRT, NAME, AMS, LO)                                                 \
    EM_HOT static void NAME(int64_t n, T *restrict p, const T *restrict g, T *restrict m,   \
                            T *restrict v, T *restrict vmax, T w1, T b2, T omb2, T bc2s,    \
                            T eps, T neg_step, T gsign, T cwd, T decay) {                   \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T pi = p[i];                                                                    \
            T gi = g[i] * gsign;                                                            \
            gi = gi + cwd * pi;                                                             \
            pi = pi * decay;                                                                \
            T mi = m[i];                                                                    \
            /* torch.lerp: the formula depends on which side of 0.5 the weight is */        \
            mi = LO ? mi + w1 * (gi - mi) : gi - (gi - mi) * ((T)1 - w1);                  \
            T vi = v[i] * b2;                                                               \
            vi = vi + omb2 * gi * gi;                                                       \
            m[i] = mi;                                                                      \
            v[i] = vi;                                                                      \
            T use = vi;                                                                     \
            if (AMS) {                                                                      \
                T old = vmax[i];                                                            \
                use = (old > vi || old != old) ? old : vi;                                  \
                vmax[i] = use;                                                              \
            }                                                                               \
            T denom = SQRT(use) / bc2s + eps;                                               \
            p[i] = pi + neg_step * mi / denom;                                              \
        }                                                                                   \
    }

ADAM_KERNEL(float, sqrtf, adam_f32_lo, 0, 1)
ADAM_KERNEL(float, sqrtf, adam_f32_hi, 0, 0)
ADAM_KERNEL(float, sqrtf, adam_f32_ams_lo, 1, 1)
ADAM_KERNEL(float, sqrtf, adam_f32_ams_hi, 1, 0)
ADAM_KERNEL(double, sqrt, adam_f64_lo, 0, 1)
ADAM_KERNEL(double, sqrt, adam_f64_hi, 0, 0)
ADAM_KERNEL(double, sqrt, adam_f64_ams_lo, 1, 1)
ADAM_KERNEL(double, sqrt, adam_f64_ams_hi, 1, 0)

typedef void (*adam_f32_fn)(int64_t, float *, const float *, float *, float *, float *, float,
                            float, float, float, float, float, float, float, float);
typedef void (*adam_f64_fn)(int64_t, double *, const double *, double *, double *, double *,
                            double, double, double, double, double, double, double, double,
                            double);

int em_adam_step(int dtype, int64_t ntensors, const int64_t *numels, void **params,
                 void **grads, void **exp_avgs, void **exp_avg_sqs, void **max_sqs,
                 const double *steps, double lr, double beta1, double beta2, double eps,
                 double weight_decay, int amsgrad, int maximize, int decoupled) {
    if (dtype != 0 && dtype != 1) return OPT_EDTYPE;
    chunk_t *ch = NULL;
    int64_t nch = 0, total = 0;
    int rc = make_chunks(ntensors, numels, &ch, &nch, &total);
    if (rc) return rc;
    if (!steps || check_ptrs(ntensors, numels, params) || check_ptrs(ntensors, numels, grads) ||
        check_ptrs(ntensors, numels, exp_avgs) || check_ptrs(ntensors, numels, exp_avg_sqs) ||
        (amsgrad && check_ptrs(ntensors, numels, max_sqs))) {
        free(ch);
        return OPT_ENULL;
    }
    int lo = (1.0 - beta1) < 0.5 && (1.0 - beta1) > -0.5;
    adam_f32_fn f32 = amsgrad ? (lo ? adam_f32_ams_lo : adam_f32_ams_hi)
                              : (lo ? adam_f32_lo : adam_f32_hi);
    adam_f64_fn f64 = amsgrad ? (lo ? adam_f64_ams_lo : adam_f64_ams_hi)
                              : (lo ? adam_f64_lo : adam_f64_hi);
    double gsign = maximize ? -1.0 : 1.0;
    double cwd = decoupled ? 0.0 : weight_decay;
    double decay = (decoupled && weight_decay != 0.0) ? 1.0 - lr * weight_decay : 1.0;
    int nt = em_threads_for(total);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t k = 0; k < nch; k++) {
        int64_t t = ch[k].tensor, s = ch[k].start, n = ch[k].len;
        /* Python-side scalars of torch's Adam, in double, then cast like torch casts them */
        double step = steps[t];
        double bc1 = 1.0 - pow(beta1, step);
        double bc2s = pow(1.0 - pow(beta2, step), 0.5);
        double neg_step = -(lr / bc1);
        if (dtype == 0) {
            f32(n, (float *)params[t] + s, (const float *)grads[t] + s, (float *)exp_avgs[t] + s,
                (float *)exp_avg_sqs[t] + s, amsgrad ? (float *)max_sqs[t] + s : NULL,
                (float)(1.0 - beta1), (float)beta2, (float)(1.0 - beta2), (float)bc2s,
                (float)eps, (float)neg_step, (float)gsign, (float)cwd, (float)decay);
        } else {
            f64(n, (double *)params[t] + s, (const double *)grads[t] + s,
                (double *)exp_avgs[t] + s, (double *)exp_avg_sqs[t] + s,
                amsgrad ? (double *)max_sqs[t] + s : NULL, 1.0 - beta1, beta2, 1.0 - beta2,
                bc2s, eps, neg_step, gsign, cwd, decay);
        }
    }
    free(ch);
    return OPT_OK;
}

/* ------------------------------------------------------------------------------- SGD */

#define SGD_KERNEL(T, NAME)                                                                 \
    EM_HOT static void NAME(int64_t n, T *restrict p, const T *restrict g, T *restrict buf, \
                            int init, T neg_lr, T mom, T omd, T wd, int use_mom,            \
                            int nesterov, int maximize, int use_wd) {                       \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T gi = maximize ? -g[i] : g[i];                                                 \
            T pi = p[i];                                                                    \
            if (use_wd) gi = gi + wd * pi;                                                  \
            if (use_mom) {                                                                  \
                T b;                                                                        \
                if (init) {                                                                 \
                    b = gi;                                                                 \
                } else {                                                                    \
                    b = buf[i] * mom;                                                       \
                    b = b + omd * gi;                                                       \
                }                                                                           \
                buf[i] = b;                                                                 \
                gi = nesterov ? gi + mom * b : b;                                           \
            }                                                                               \
            p[i] = pi + neg_lr * gi;                                                        \
        }                                                                                   \
    }

SGD_KERNEL(float, sgd_f32)
SGD_KERNEL(double, sgd_f64)

int em_sgd_step(int dtype, int64_t ntensors, const int64_t *numels, void **params,
                void **grads, void **bufs, const int *init_buf, double lr, double momentum,
                double dampening, double weight_decay, int nesterov, int maximize) {
    if (dtype != 0 && dtype != 1) return OPT_EDTYPE;
    chunk_t *ch = NULL;
    int64_t nch = 0, total = 0;
    int rc = make_chunks(ntensors, numels, &ch, &nch, &total);
    if (rc) return rc;
    int use_mom = momentum != 0.0;
    if (check_ptrs(ntensors, numels, params) || check_ptrs(ntensors, numels, grads) ||
        (use_mom && (check_ptrs(ntensors, numels, bufs) || !init_buf))) {
        free(ch);
        return OPT_ENULL;
    }
    int use_wd = weight_decay != 0.0;
    int nt = em_threads_for(total);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t k = 0; k < nch; k++) {
        int64_t t = ch[k].tensor, s = ch[k].start, n = ch[k].len;
        int init = use_mom ? init_buf[t] : 0;
        if (dtype == 0) {
            sgd_f32(n, (float *)params[t] + s, (const float *)grads[t] + s,
                    use_mom ? (float *)bufs[t] + s : NULL, init, (float)(-lr), (float)momentum,
                    (float)(1.0 - dampening), (float)weight_decay, use_mom, nesterov, maximize,
                    use_wd);
        } else {
            sgd_f64(n, (double *)params[t] + s, (const double *)grads[t] + s,
                    use_mom ? (double *)bufs[t] + s : NULL, init, -lr, momentum,
                    1.0 - dampening, weight_decay, use_mom, nesterov, maximize, use_wd);
        }
    }
    free(ch);
    return OPT_OK;
}
