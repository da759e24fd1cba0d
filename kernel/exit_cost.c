#include <stdio.h>
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

void exit_cost_record(struct exit_costs *c, unsigned kind, uint64_t ticks)
{
	if (kind < EXIT_KIND_COUNT)
		exit_cost_add(&c->by_kind[kind], ticks);
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

size_t exit_cost_format(const struct exit_costs *c, const char *const *names, char *buf, size_t len)
{
	size_t n = 0;
	if (len)
		buf[0] = 0;
	for (unsigned k = 0; k < EXIT_KIND_COUNT; k++) {
		const struct exit_cost *e = &c->by_kind[k];
		if (!e->count || n >= len)
			continue;
		int w = snprintf(buf + n, len - n, "%s count=%llu mean=%llu min=%llu p50<=%llu p99<=%llu max=%llu\n",
				 names[k], (unsigned long long)e->count, (unsigned long long)(e->sum / e->count),
				 (unsigned long long)e->min, (unsigned long long)exit_cost_percentile(e, 50),
				 (unsigned long long)exit_cost_percentile(e, 99), (unsigned long long)e->max);
		if (w < 0)
			break;
		n += (size_t)w < len - n ? (size_t)w : len - n - 1;
	}
	return n;
}
