/* TLB tags of nested guests (nested_tags.h). */
#include <string.h>
#include "kernel/nested_tags.h"

void nested_tags_init(struct nested_tags *t, uint32_t base)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
}

/* Is slot i a better one to take than slot v?  A free slot, else the
 * least recently used. */
static bool better_victim(const struct nested_tags *t, unsigned i, unsigned v)
{
	if (!t->slot[v].live)
		return false;
	return !t->slot[i].live || t->slot[i].last_use < t->slot[v].last_use;
}

uint32_t nested_tags_get(struct nested_tags *t, uint32_t tag12, bool *fresh)
{
	unsigned victim = 0;
	t->clock++;
	for (unsigned i = 0; i < NESTED_TAG_SLOTS; i++) {
		if (t->slot[i].live && t->slot[i].tag12 == tag12) {
			t->slot[i].last_use = t->clock;
			*fresh = false;
			return t->base + i;
		}
		if (better_victim(t, i, victim))
			victim = i;
	}
	t->slot[victim].live = true;
	t->slot[victim].tag12 = tag12;
	t->slot[victim].last_use = t->clock;
	*fresh = true;
	return t->base + victim;
}

uint32_t nested_tags_find(const struct nested_tags *t, uint32_t tag12)
{
	for (unsigned i = 0; i < NESTED_TAG_SLOTS; i++)
		if (t->slot[i].live && t->slot[i].tag12 == tag12)
			return t->base + i;
	return 0;
}

uint32_t nested_tags_slot(const struct nested_tags *t, unsigned i)
{
	return i < NESTED_TAG_SLOTS && t->slot[i].live ? t->base + i : 0;
}

void tag_pool_init(struct tag_pool *p, uint32_t first, uint32_t last)
{
	p->first = first;
	p->last = last;
	p->next = first;
	p->gen = 1;
}

uint32_t tag_pool_lease(struct tag_pool *p, struct tag_lease *l, bool *flush_all)
{
	*flush_all = false;
	if (p->first > p->last)
		return 0;
	if (l->gen == p->gen)
		return l->tag02;
	if (p->next > p->last) {
		/* out of tags: every lease of this CPU ends with a full flush */
		p->gen++;
		p->next = p->first;
		*flush_all = true;
	}
	l->tag02 = p->next++;
	l->gen = p->gen;
	return l->tag02;
}
