/*
 * gmem: the guest memory map.  See mm/gmem.h for the contract.
 *
 * Ranges are half-open [gpa, gpa + size).  gmem_add() guarantees that
 * gpa + size fits in 64 bits, so "end" arithmetic on a stored range never
 * wraps.  Addresses coming from the guest are only ever compared against
 * stored ranges with subtractions (gpa - r->gpa < r->size), never added to,
 * until they are known to lie inside a range.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mm/gmem.h"

#define PAGE_MASK (GMEM_PAGE_SIZE - 1)

static bool range_contains(const struct gmem_range *r, uint64_t gpa)
{
	return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/* Host memory may be read here: RAM always, ROM only when not writing. */
static bool backed_for(const struct gmem_range *r, bool write)
{
	return r->kind == GMEM_RAM || (r->kind == GMEM_ROM && !write);
}

/* Host address of gpa, which the caller knows lies inside r. */
static void *host_addr(const struct gmem_range *r, uint64_t gpa)
{
	return (void *)(uintptr_t)(r->hpa + (gpa - r->gpa));
}

void gmem_init(struct gmem *g)
{
	memset(g, 0, sizeof(*g));
}

int gmem_add(struct gmem *g, uint64_t gpa, uint64_t size, enum gmem_kind kind,
	     uint64_t hpa, uint32_t mmio_id)
{
	unsigned pos;

	if (size == 0 || (gpa & PAGE_MASK) || (size & PAGE_MASK))
		return -1;
	if (size > UINT64_MAX - gpa)
		return -1;
	if (kind != GMEM_RAM && kind != GMEM_ROM && kind != GMEM_MMIO)
		return -1;
	if (kind == GMEM_MMIO) {
		hpa = 0;
	} else {
		if ((hpa & PAGE_MASK) || size > UINT64_MAX - hpa)
			return -1;
		mmio_id = 0;
	}
	if (g->count >= GMEM_MAX_RANGES)
		return -1;

	/* Find the insertion point: the first range starting above gpa.  The
	 * new range must end at or before that one starts and start at or
	 * after its predecessor ends. */
	for (pos = 0; pos < g->count && g->r[pos].gpa <= gpa; pos++)
		;
	if (pos < g->count && gpa + size > g->r[pos].gpa)
		return -1;
	if (pos > 0 && g->r[pos - 1].gpa + g->r[pos - 1].size > gpa)
		return -1;

	memmove(&g->r[pos + 1], &g->r[pos], (g->count - pos) * sizeof(g->r[0]));
	g->r[pos] = (struct gmem_range){
		.gpa = gpa, .size = size, .kind = kind, .hpa = hpa, .mmio_id = mmio_id,
	};
	g->count++;
	if (kind == GMEM_RAM && gpa + size > g->ram_top)
		g->ram_top = gpa + size;
	return 0;
}

const struct gmem_range *gmem_lookup(const struct gmem *g, uint64_t gpa)
{
	/* Binary search over the sorted, disjoint ranges for the last range
	 * starting at or below gpa (or r[0] if none does), then check that
	 * gpa is inside it.  The candidates are base[0..n), and each step
	 * keeps n - half of them: from base[half] on if that range starts at
	 * or below gpa, else from base[0] (for odd n that keeps one range
	 * starting above gpa, which cannot be the answer but does no harm).
	 * A map of one range, the usual, takes no step at all. */
	const struct gmem_range *base = g->r;
	unsigned n = g->count;

	if (g->view)
		return g->view->xlate(g->view->ctx, gpa, &g->view->slot) ? &g->view->slot : NULL;
	if (n == 0)
		return NULL;
	while (n > 1) {
		unsigned half = n / 2;

		if (base[half].gpa <= gpa)
			base += half;
		n -= half;
	}
	return range_contains(base, gpa) ? base : NULL;
}

void *gmem_ptr(const struct gmem *g, uint64_t gpa, uint64_t len, bool write)
{
	const struct gmem_range *r = gmem_lookup(g, gpa);

	if (len == 0 || r == NULL || !backed_for(r, write))
		return NULL;
	/* gpa is inside r, so this subtraction is the room left in r. */
	if (len > r->size - (gpa - r->gpa))
		return NULL;
	return host_addr(r, gpa);
}

bool gmem_cursor_read_slow(struct gmem_cursor *c, uint64_t gpa, unsigned len, uint64_t *val)
{
	const struct gmem_range *r;

	if (!(len == 1 || len == 2 || len == 4 || len == 8) || (gpa & (len - 1)))
		return false;
	r = gmem_lookup(c->g, gpa);
	if (r == NULL || !backed_for(r, false))
		return false;
	/* Readable: the range to try first next time.  The word is aligned
	 * and the range 4 KiB aligned, so the word is wholly inside. */
	c->gpa = r->gpa;
	c->size = r->size;
	c->hpa = r->hpa;
	*val = gmem_load_word(r->hpa + (gpa - r->gpa), len);
	return true;
}

/*
 * Whether every byte of [gpa, gpa + len) is backed (RAM, or ROM when
 * reading), walking range by range.  len > 0 and gpa + len does not wrap.
 */
static bool all_backed(const struct gmem *g, uint64_t gpa, uint64_t len, bool write)
{
	while (len > 0) {
		const struct gmem_range *r = gmem_lookup(g, gpa);
		uint64_t room;

		if (r == NULL || !backed_for(r, write))
			return false;
		room = r->size - (gpa - r->gpa);
		if (room >= len)
			return true;
		gpa += room;
		len -= room;
	}
	return true;
}

/*
 * Copy between the guest and host memory, range by range: out of the guest
 * into 'to' (gmem_read) or, when 'write', into the guest from 'from'
 * (gmem_write).  Checks first, copies second, so a failure changes nothing.
 */
static int copy(const struct gmem *g, uint64_t gpa, void *to, const void *from,
		size_t len, bool write)
{
	unsigned char *dst = to;
	const unsigned char *src = from;
	const struct gmem_range *r;

	if (len == 0)
		return 0;
	if ((uint64_t)len - 1 > UINT64_MAX - gpa) /* last byte gpa + len - 1 wraps */
		return -1;
	/* The common case, all of it in one range: one lookup, one copy. */
	r = gmem_lookup(g, gpa);
	if (r != NULL && backed_for(r, write) && len <= r->size - (gpa - r->gpa)) {
		if (write)
			memcpy(host_addr(r, gpa), src, len);
		else
			memcpy(dst, host_addr(r, gpa), len);
		return 0;
	}
	if (!all_backed(g, gpa, len, write))
		return -1;
	while (len > 0) {
		uint64_t room;
		size_t n;

		r = gmem_lookup(g, gpa);
		room = r->size - (gpa - r->gpa);
		n = room < len ? (size_t)room : len;

		if (write) {
			memcpy(host_addr(r, gpa), src, n);
			src += n;
		} else {
			memcpy(dst, host_addr(r, gpa), n);
			dst += n;
		}
		len -= n;
		gpa += n; /* ranges end below 2^64, so this never wraps */
	}
	return 0;
}

int gmem_read(const struct gmem *g, uint64_t gpa, void *buf, size_t len)
{
	return copy(g, gpa, buf, NULL, len, false);
}

int gmem_write(const struct gmem *g, uint64_t gpa, const void *buf, size_t len)
{
	return copy(g, gpa, NULL, buf, len, true);
}
