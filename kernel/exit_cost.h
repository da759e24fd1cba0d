/*
 * What each exit costs L0: TSC ticks from the moment the guest exited to
 * the moment L0 enters it again, per exit kind, as a log2 histogram with
 * count, sum, min and max (DESIGN.md principle 5).  Pure: recorded by the
 * run loop, printed when a VM ends, host-tested.
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

struct exit_costs {
	struct exit_cost by_kind[EXIT_KIND_COUNT];
};

/* One more cost in one histogram. */
void exit_cost_add(struct exit_cost *e, uint64_t ticks);
void exit_cost_record(struct exit_costs *c, unsigned kind, uint64_t ticks);
/* The upper bound of the bucket holding the p-th percentile (0-100). */
uint64_t exit_cost_percentile(const struct exit_cost *c, unsigned p);
/* One line per kind seen: "NAME count=N mean=M min=A p50<=B p99<=C max=D". */
size_t exit_cost_format(const struct exit_costs *c, const char *const *names, char *buf, size_t len);
#endif
