/* Runtime settings of the kernel library: ABI version and the OpenMP thread pool. */
#include <omp.h>

#include "runtime.h"

int em_abi_version(void) { return 1; }

int em_get_num_threads(void) { return omp_get_max_threads(); }

void em_set_num_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
}
