/* Embedding backward: a scatter-add of gradient rows by index (see nn_embed.h).
 *
 * Threads own disjoint ranges of embedding rows; each scans every index and adds only
 * the rows it owns, so no two threads write the same row and the result does not depend
 * on the thread count (rows are added in index order). */
#include "nn_common.inc"

#include "nn_embed.h"

#define NN_T float
#define NN_S f32
#include "nn_embed_t.inc"
#undef NN_T
#undef NN_S
#define NN_T double
#define NN_S f64
#include "nn_embed_t.inc"
#undef NN_T
#undef NN_S
