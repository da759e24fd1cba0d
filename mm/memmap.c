/*
 * memmap: sanitising the boot memory map and carving reservations out of it.
 * See mm/memmap.h for the contract.
 *
 * Everything here works on half-open ranges [base, end).  A region's end is
 * base + length, which the callers' input may make overflow; the rule is
 * that an end must be representable (<= 2^64 - 1), checked once on entry
 * with "length > UINT64_MAX - base", after which additions are safe.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mm/memmap.h"

#define PAGE_MASK (MEMMAP_PAGE_SIZE - 1)

/* Types outside the known range are unknown firmware types: keep away. */
static uint32_t normal_type(uint32_t t)
{
	return (t >= MEM_USABLE && t <= MEM_BAD) ? t : MEM_RESERVED;
}

static bool end_fits(const struct mem_region *r)
{
	return r->length <= UINT64_MAX - r->base;
}

/*
 * The output side of memmap_sanitize: the sweep produces maximal runs of
 * one type in ascending order; a run is held in 'pending' while the sweep
 * might still extend it, and written out (page-trimmed if usable) once a
 * different type or a gap follows.  Trimming only whole merged runs matters:
 * two firmware regions [0, 0x800) and [0x800, 0x1000) make one usable page,
 * trimming them separately would make none.
 */
struct emitter {
	struct mem_region *out;
	unsigned max, count;
	bool have;           /* pending run valid */
	uint64_t base, end;  /* pending run */
	uint32_t type;
};

static int flush(struct emitter *em)
{
	uint64_t base = em->base, end = em->end;

	if (!em->have)
		return 0;
	em->have = false;
	if (em->type == MEM_USABLE) {
		/* Round base up without wrapping: a base in the last page of
		 * the address space leaves no whole page. */
		if (base > UINT64_MAX - PAGE_MASK)
			return 0;
		base = (base + PAGE_MASK) & ~PAGE_MASK;
		end &= ~PAGE_MASK;
		if (end <= base)
			return 0;
	}
	if (em->count >= em->max)
		return -1;
	em->out[em->count++] = (struct mem_region){
		.base = base, .length = end - base, .type = em->type,
	};
	return 0;
}

static int emit(struct emitter *em, uint64_t base, uint64_t end, uint32_t type)
{
	if (em->have && em->type == type && em->end == base) {
		em->end = end; /* touching, same type: merge */
		return 0;
	}
	if (flush(em))
		return -1;
	em->have = true;
	em->base = base;
	em->end = end;
	em->type = type;
	return 0;
}

/*
 * A sweep over the address space.  The interesting addresses are the
 * region boundaries (each base and each end); between two consecutive
 * boundaries the set of covering regions cannot change, so one type holds
 * for the whole interval.  From the current boundary 'pos' we find
 *   - the type at pos: the largest type of the regions with base <= pos < end
 *     (0 if none: a hole);
 *   - the next boundary: the smallest base or end greater than pos;
 * emit [pos, next) with that type, and move on.  Each step is O(n) and there
 * are at most 2n boundaries, so no sorting and no scratch memory is needed,
 * and the output comes out sorted and non-overlapping by construction.
 */
int memmap_sanitize(const struct mem_region *in, unsigned n,
		    struct mem_region *out, unsigned max_out, unsigned *n_out)
{
	struct emitter em = { .out = out, .max = max_out };
	uint64_t pos = UINT64_MAX;
	bool any = false;

	*n_out = 0;
	for (unsigned i = 0; i < n; i++) {
		if (in[i].length == 0)
			continue;
		if (!end_fits(&in[i]))
			return -1;
		if (in[i].base < pos)
			pos = in[i].base;
		any = true;
	}
	if (!any)
		return 0;

	for (;;) {
		uint64_t next = 0;
		bool have_next = false;
		uint32_t type = 0;

		for (unsigned i = 0; i < n; i++) {
			uint64_t b = in[i].base, e = b + in[i].length;

			if (in[i].length == 0)
				continue;
			if (b <= pos && pos < e) {
				uint32_t t = normal_type(in[i].type);
				if (t > type)
					type = t;
			}
			if (b > pos && (!have_next || b < next))
				next = b, have_next = true;
			if (e > pos && (!have_next || e < next))
				next = e, have_next = true;
		}
		if (!have_next)
			break; /* pos is the last end: done */
		if (type && emit(&em, pos, next, type))
			return -1;
		pos = next;
	}
	if (flush(&em))
		return -1;
	*n_out = em.count;
	return 0;
}

/*
 * How region r splits around the reserved range [b, e) that overlaps it:
 * up to three pieces, usable - reserved - usable, written to parts[].
 */
static unsigned split(const struct mem_region *r, uint64_t b, uint64_t e,
		      struct mem_region parts[3])
{
	uint64_t rb = r->base, re = r->base + r->length;
	uint64_t mb = rb > b ? rb : b, me = re < e ? re : e;
	unsigned k = 0;

	if (rb < mb)
		parts[k++] = (struct mem_region){ .base = rb, .length = mb - rb, .type = MEM_USABLE };
	parts[k++] = (struct mem_region){ .base = mb, .length = me - mb, .type = MEM_RESERVED };
	if (me < re)
		parts[k++] = (struct mem_region){ .base = me, .length = re - me, .type = MEM_USABLE };
	return k;
}

static bool overlaps_usable(const struct mem_region *r, uint64_t b, uint64_t e)
{
	return r->type == MEM_USABLE && r->length && end_fits(r) &&
	       r->base < e && b < r->base + r->length;
}

int memmap_reserve(struct mem_region *map, unsigned *n, unsigned max,
		   uint64_t base, uint64_t len)
{
	uint64_t b, e, end, extra = 0;
	struct mem_region parts[3];

	if (len == 0)
		return 0;
	if (len > UINT64_MAX - base || *n > max)
		return -1;
	/* Widen to pages.  An end in the last page cannot be rounded up; it
	 * then covers everything to the top, which is the same thing for
	 * page-aligned usable regions. */
	end = base + len;
	b = base & ~PAGE_MASK;
	e = end > UINT64_MAX - PAGE_MASK ? UINT64_MAX : (end + PAGE_MASK) & ~PAGE_MASK;

	/* First count the new entries, so that a map that is too small is
	 * reported before anything changes. */
	for (unsigned i = 0; i < *n; i++)
		if (overlaps_usable(&map[i], b, e))
			extra += split(&map[i], b, e, parts) - 1;
	if (extra > max - *n)
		return -1;

	for (unsigned i = 0; i < *n;) {
		unsigned k;

		if (!overlaps_usable(&map[i], b, e)) {
			i++;
			continue;
		}
		k = split(&map[i], b, e, parts);
		/* Open a gap of k - 1 entries after i, then fill i..i+k-1. */
		memmove(&map[i + k], &map[i + 1], (*n - i - 1) * sizeof map[0]);
		memcpy(&map[i], parts, k * sizeof parts[0]);
		*n += k - 1;
		i += k;
	}
	return 0;
}

uint64_t memmap_usable_bytes(const struct mem_region *map, unsigned n)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		if (map[i].type != MEM_USABLE)
			continue;
		if (map[i].length > UINT64_MAX - total)
			return UINT64_MAX;
		total += map[i].length;
	}
	return total;
}
