/*
 * One log2 histogram of TSC ticks with count, sum, min and max: what an
 * exit costs L0 from the moment the guest exited to the moment L0 enters
 * it again (DESIGN.md principle 5).  kernel/exit_reasons.c keeps one per
 * level and raw exit reason, and three more for the split of a reflected
 * exit.  Pure, host-tested.
 */
#ifndef NESTOR_EXIT_COST_H
#define NESTOR_EXIT_COST_H
#include <stdint.h>
#include <stddef.h>
#include "kernel/hypercall.h"

#define EXIT_COST_BUCKETS 32 /* bucket b holds costs in [2^b, 2^(b+1)); bucket 0 also 0 */

struct exit_cost {
	uint64_t count, sum, min, max;
	uint32_t bucket[EXIT_COST_BUCKETS];
};

/* One more cost in the histogram. */
void exit_cost_add(struct exit_cost *e, uint64_t ticks);
/* The upper bound of the bucket holding the p-th percentile (0-100). */
uint64_t exit_cost_percentile(const struct exit_cost *c, unsigned p);
#endif
