#include "mm/frame_pool.h"
#include <string.h>

static int test_bit(const struct frame_pool *p, uint64_t f)
{
	return (p->bitmap[f / 64] >> (f % 64)) & 1;
}
static void set_bit(struct frame_pool *p, uint64_t f)
{
	p->bitmap[f / 64] |= 1ull << (f % 64);
}
static void clear_bit(struct frame_pool *p, uint64_t f)
{
	p->bitmap[f / 64] &= ~(1ull << (f % 64));
}

uint64_t frame_pool_bitmap_bytes(uint64_t top)
{
	uint64_t frames = (top + PAGE_SIZE - 1) / PAGE_SIZE;
	return (frames + 63) / 64 * 8;
}

void frame_pool_init(struct frame_pool *p, uint64_t *bitmap, uint64_t top,
		     const struct mem_region *map, unsigned n)
{
	p->bitmap = bitmap;
	p->nframes = (top + PAGE_SIZE - 1) / PAGE_SIZE;
	p->free = 0;
	p->hint = 1;
	memset(bitmap, 0xff, frame_pool_bitmap_bytes(top));
	for (unsigned i = 0; i < n; i++) {
		if (map[i].type != MEM_USABLE)
			continue;
		/* Only whole frames inside the region are usable. */
		uint64_t first = (map[i].base + PAGE_SIZE - 1) / PAGE_SIZE;
		uint64_t end = (map[i].base + map[i].length) / PAGE_SIZE;
		if (end > p->nframes)
			end = p->nframes;
		for (uint64_t f = first; f < end; f++) {
			if (test_bit(p, f)) {
				clear_bit(p, f);
				p->free++;
			}
		}
	}
	/* Frame 0 stays used: 0 is the allocator's "nothing". */
	if (p->nframes && !test_bit(p, 0)) {
		set_bit(p, 0);
		p->free--;
	}
}

void frame_pool_reserve(struct frame_pool *p, uint64_t base, uint64_t len)
{
	if (!len)
		return;
	uint64_t first = base / PAGE_SIZE;
	uint64_t end = (base + len + PAGE_SIZE - 1) / PAGE_SIZE;
	if (end > p->nframes || end < first)
		end = p->nframes;
	for (uint64_t f = first; f < end; f++) {
		if (!test_bit(p, f)) {
			set_bit(p, f);
			p->free--;
		}
	}
}

/* Is every frame of [f, f+count) free?  Returns the first used one, or f+count. */
static uint64_t first_used(const struct frame_pool *p, uint64_t f, uint64_t count)
{
	for (uint64_t i = f; i < f + count; i++)
		if (test_bit(p, i))
			return i;
	return f + count;
}

static uint64_t search(struct frame_pool *p, uint64_t from, uint64_t to,
		       uint64_t count, uint64_t step)
{
	uint64_t f = (from + step - 1) / step * step;
	while (f + count <= to) {
		uint64_t used = first_used(p, f, count);
		if (used == f + count)
			return f;
		f = (used + step) / step * step; /* skip past the used frame */
	}
	return 0;
}

uint64_t frame_pool_alloc(struct frame_pool *p, uint64_t count, uint64_t align, uint64_t max_addr)
{
	if (!count || count > p->free)
		return 0;
	uint64_t step = align > PAGE_SIZE ? align / PAGE_SIZE : 1;
	uint64_t limit = p->nframes;
	if (max_addr && max_addr / PAGE_SIZE < limit)
		limit = max_addr / PAGE_SIZE;

	/* Next fit: start at the hint, wrap around once. */
	uint64_t hint = p->hint < limit ? p->hint : 1;
	uint64_t f = search(p, hint, limit, count, step);
	if (!f)
		f = search(p, 1, limit, count, step);
	if (!f)
		return 0;
	for (uint64_t i = f; i < f + count; i++)
		set_bit(p, i);
	p->free -= count;
	p->hint = f + count;
	return f * PAGE_SIZE;
}

int frame_pool_free(struct frame_pool *p, uint64_t addr, uint64_t count)
{
	uint64_t f = addr / PAGE_SIZE;
	int ret = 0;
	if (f == 0 || f + count > p->nframes || f + count < f)
		return -1;
	for (uint64_t i = f; i < f + count; i++) {
		if (!test_bit(p, i)) {
			ret = -1;
			continue;
		}
		clear_bit(p, i);
		p->free++;
	}
	return ret;
}
