/* Fused optimizer updates (optim_fused.c): one pass over every element of a list of
 * tensors, OpenMP across chunks of all of them. Arrays are contiguous, all of one dtype
 * (dtype 0 = float32, 1 = float64); a pointer list entry i covers numels[i] elements.
 * Return 0, or a negative error code: -1 bad count/size, -2 null pointer, -3 bad dtype,
 * -4 out of memory.
 *
 * em_adam_step: Adam/AdamW as PyTorch's single-tensor Adam does it (lerp for exp_avg,
 * addcmul for exp_avg_sq, maximum into max_exp_avg_sqs when amsgrad, addcdiv into the
 * parameter). steps[i] is tensor i's step count after the increment. max_sqs may be NULL
 * when amsgrad is 0. decoupled=1 is AdamW's weight decay (param *= 1 - lr * wd).
 *
 * em_sgd_step: SGD with momentum/dampening/nesterov/weight decay/maximize. bufs may be NULL
 * when momentum is 0; init_buf[i] = 1 means tensor i's buffer is new (buf = grad). */
int em_adam_step(int dtype, int64_t ntensors, const int64_t *numels, void **params,
                 void **grads, void **exp_avgs, void **exp_avg_sqs, void **max_sqs,
                 const double *steps, double lr, double beta1, double beta2, double eps,
                 double weight_decay, int amsgrad, int maximize, int decoupled);
int em_sgd_step(int dtype, int64_t ntensors, const int64_t *numels, void **params,
                void **grads, void **bufs, const int *init_buf, double lr, double momentum,
                double dampening, double weight_decay, int nesterov, int maximize);
