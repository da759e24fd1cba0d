/* Exits by raw reason and the split of reflected exits (exit_reasons.h). */
#include <stdio.h>
#include <string.h>
#include "kernel/exit_reasons.h"

static struct exit_reason_table *table_of(struct exit_reasons *r, unsigned level)
{
	unsigned i = level == 0 ? 0 : level - 1;
	return &r->level[i < EXIT_REASON_LEVELS ? i : EXIT_REASON_LEVELS - 1];
}

/* The slot a code hashes to, or the next free one (open addressing). */
static struct exit_reason_stat *slot_of(struct exit_reason_table *t, uint32_t reason, bool add)
{
	unsigned h = (reason ^ (reason >> 5)) % EXIT_REASON_SLOTS;
	for (unsigned i = 0; i < EXIT_REASON_SLOTS; i++, h = (h + 1) % EXIT_REASON_SLOTS) {
		struct exit_reason_stat *s = &t->slot[h];
		if (s->count && s->reason == reason)
			return s;
		if (!s->count) {
			if (!add)
				return NULL;
			s->reason = reason;
			return s;
		}
	}
	return NULL;
}

void exit_reasons_on_exit(struct exit_reasons *r, unsigned level, uint32_t reason, uint64_t tsc)
{
	struct exit_reason_table *t = table_of(r, level);
	struct exit_reason_stat *s = slot_of(t, reason, true);
	if (s)
		s->count++;
	else
		t->dropped++;
	r->pending = s;
	r->pending_tsc = tsc;
	r->pending_level = level;
	/* L1 working on a reflected exit: every exit it makes multiplies it. */
	if (r->watch.open && level < r->watch.level) {
		r->watch.l1_exits++;
		r->watch.last_l1_exit = tsc;
	}
}

static uint64_t ticks_between(uint64_t from, uint64_t to)
{
	return to > from ? to - from : 0;  /* TSCs of two CPUs may disagree a little */
}

void exit_reasons_on_entry(struct exit_reasons *r, unsigned level, uint64_t tsc)
{
	if (r->pending_level == 0)  /* the first entry: nothing exited yet */
		return;
	uint64_t cost = ticks_between(r->pending_tsc, tsc);
	if (r->pending)
		exit_cost_add(&r->pending->cost, cost);
	if (r->watch.open && level >= r->watch.level) {
		/* Back at the level that exited: the round trip is complete. */
		struct exit_reason_stat *s = r->watch.stat;
		if (s && r->watch.l1_exits) {
			s->reflected++;
			s->l1_exits += r->watch.l1_exits;
			exit_cost_add(&s->before, r->watch.before);
			exit_cost_add(&s->l1, ticks_between(r->watch.l1_entry, r->watch.last_l1_exit));
			exit_cost_add(&s->after, ticks_between(r->watch.last_l1_exit, tsc));
		}
		r->watch.open = false;
	} else if (!r->watch.open && level < r->pending_level) {
		/* A lower level runs next: the exit was reflected to it. */
		r->watch.open = true;
		r->watch.stat = r->pending;
		r->watch.level = r->pending_level;
		r->watch.before = cost;
		r->watch.l1_entry = tsc;
		r->watch.last_l1_exit = tsc;
		r->watch.l1_exits = 0;
	}
	r->pending = NULL;
	r->pending_level = 0;
}

const struct exit_reason_stat *exit_reasons_find(const struct exit_reasons *r, unsigned level, uint32_t reason)
{
	return slot_of(table_of((struct exit_reasons *)r, level), reason, false);
}

static int cost_text(char *buf, size_t len, const char *what, const struct exit_cost *c)
{
	return snprintf(buf, len, "%s: mean=%llu min=%llu p50<=%llu p99<=%llu max=%llu", what,
			(unsigned long long)(c->count ? c->sum / c->count : 0), (unsigned long long)c->min,
			(unsigned long long)exit_cost_percentile(c, 50), (unsigned long long)exit_cost_percentile(c, 99),
			(unsigned long long)c->max);
}

size_t exit_reasons_format(const struct exit_reasons *r, unsigned level, exit_reason_namer name,
			   char *buf, size_t len)
{
	const struct exit_reason_table *t = table_of((struct exit_reasons *)r, level);
	bool done[EXIT_REASON_SLOTS] = { false };
	size_t n = 0;
	if (len)
		buf[0] = 0;
	for (;;) {
		/* the most frequent code not yet written */
		int best = -1;
		for (unsigned i = 0; i < EXIT_REASON_SLOTS; i++)
			if (t->slot[i].count && !done[i] && (best < 0 || t->slot[i].count > t->slot[best].count))
				best = (int)i;
		if (best < 0 || n + 1 >= len)
			break;
		done[best] = true;
		const struct exit_reason_stat *s = &t->slot[best];
		char nb[32], line[1024];
		const char *nm = name ? name(s->reason, nb, sizeof(nb)) : NULL;
		int w = snprintf(line, sizeof(line), "%s(%#x) count=%u ", nm ? nm : "?", s->reason, s->count);
		w += cost_text(line + w, sizeof(line) - (size_t)w, "cost", &s->cost);
		if (s->reflected) {
			unsigned long long per100 = s->l1_exits * 100 / s->reflected;
			w += snprintf(line + w, sizeof(line) - (size_t)w, "\n  reflected=%u l1_exits/trip=%llu.%02llu ",
				      s->reflected, per100 / 100, per100 % 100);
			w += cost_text(line + w, sizeof(line) - (size_t)w, "before", &s->before);
			w += snprintf(line + w, sizeof(line) - (size_t)w, " | ");
			w += cost_text(line + w, sizeof(line) - (size_t)w, "l1", &s->l1);
			w += snprintf(line + w, sizeof(line) - (size_t)w, " | ");
			w += cost_text(line + w, sizeof(line) - (size_t)w, "after", &s->after);
		}
		int k = snprintf(buf + n, len - n, "%s\n", line);
		if (k < 0)
			break;
		n += (size_t)k < len - n ? (size_t)k : len - n - 1;
	}
	if (t->dropped && n + 1 < len) {
		int k = snprintf(buf + n, len - n, "(%u exits of further codes not kept)\n", t->dropped);
		if (k > 0)
			n += (size_t)k < len - n ? (size_t)k : len - n - 1;
	}
	return n;
}
