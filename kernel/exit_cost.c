#include "kernel/exit_cost.h"

static unsigned log2_bucket(uint64_t v)
{
	return v ? 63u - (unsigned)__builtin_clzll(v) : 0;
}

void exit_cost_add(struct exit_cost *e, uint64_t ticks)
{
	if (!e->count || ticks < e->min)
		e->min = ticks;
	if (ticks > e->max)
		e->max = ticks;
	e->count++;
	e->sum += ticks;
	unsigned b = log2_bucket(ticks);
	e->bucket[b < EXIT_COST_BUCKETS ? b : EXIT_COST_BUCKETS - 1]++;
}

uint64_t exit_cost_percentile(const struct exit_cost *c, unsigned p)
{
	if (!c->count)
		return 0;
	uint64_t want = (c->count * p + 99) / 100, seen = 0;
	if (!want)
		want = 1;
	for (unsigned b = 0; b < EXIT_COST_BUCKETS; b++) {
		seen += c->bucket[b];
		if (seen >= want) {
			uint64_t upper = b >= 63 ? UINT64_MAX : (2ull << b) - 1;
			return upper < c->max ? upper : c->max;
		}
	}
	return c->max;
}
