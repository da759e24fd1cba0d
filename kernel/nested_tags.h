/*
 * TLB tags for nested guests: L1 names its guests' address spaces with
 * its own tags (VPID12 on VMX, ASID12 on SVM); L0 runs them under tags of
 * its own (VPID02, ASID02) so that mappings of different L2s never meet
 * in the TLB and L1's INVVPID/INVLPGA hit exactly the one it means.  Each
 * vCPU owns NESTED_TAG_SLOTS tags02 starting at its `base`; a tag12 not
 * seen before takes the least recently used slot, whose old mappings the
 * caller must flush (`fresh`).  Pure, host-tested (SDM 29.4.2, APM 15.16).
 */
#ifndef NESTOR_NESTED_TAGS_H
#define NESTOR_NESTED_TAGS_H
#include <stdbool.h>
#include <stdint.h>

#define NESTED_TAG_SLOTS 8

struct nested_tags {
	uint32_t base;          /* tag02 of slot 0 */
	uint64_t clock;
	struct {
		bool live;
		uint32_t tag12;
		uint64_t last_use;
	} slot[NESTED_TAG_SLOTS];
};

/* The first tag02 of the vCPU `index` (0-based over all vCPUs of all VMs). */
static inline uint32_t nested_tags_base(uint32_t first, unsigned index)
{
	return first + index * NESTED_TAG_SLOTS;
}

void nested_tags_init(struct nested_tags *t, uint32_t base);
/* The tag02 for tag12, allocating a slot if needed; *fresh: the slot was
 * (re)assigned and the caller must flush the tag02's old mappings. */
uint32_t nested_tags_get(struct nested_tags *t, uint32_t tag12, bool *fresh);
/* The tag02 of tag12, or 0 if it has none (then nothing is cached for it). */
uint32_t nested_tags_find(const struct nested_tags *t, uint32_t tag12);
/* The tag02 of slot i, or 0 if the slot is not in use (to flush them all). */
uint32_t nested_tags_slot(const struct nested_tags *t, unsigned i);

/*
 * Tags handed out per physical CPU in generations, for CPUs with few of
 * them (SVM: CPUID 8000_000A EBX ASIDs; QEMU has 16).  A context (an L2
 * address space) keeps its tag02 while its lease is of the pool's
 * generation; a tag02 is leased once per generation, so a fresh lease
 * holds no mappings; when the range runs out, a new generation begins and
 * the caller flushes every tag on that CPU (*flush_all).  Dropping a
 * lease (L1 flushed that context) is the cheapest flush: the next lease
 * is a tag nobody used since the last full flush.  KVM does the same
 * with its per-CPU ASID generations.
 */
struct tag_pool {
	uint32_t first, last;   /* the range, inclusive; first > last: none */
	uint32_t next;
	uint64_t gen;           /* from 1 */
};
struct tag_lease {
	uint32_t tag02;
	uint64_t gen;           /* 0: none */
};

void tag_pool_init(struct tag_pool *p, uint32_t first, uint32_t last);
/* The context's tag02 on this pool's CPU, leasing one if needed; 0 when
 * the pool has no tags at all (the caller then shares and flushes). */
uint32_t tag_pool_lease(struct tag_pool *p, struct tag_lease *l, bool *flush_all);
static inline void tag_lease_drop(struct tag_lease *l) { l->gen = 0; }
#endif
