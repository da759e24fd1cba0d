/*
 * Physical frame allocator for L0.  The bitmap lives in the first usable
 * region large enough for it; memory is reachable at its physical address
 * (identity mapping, mm/paging.c), so a frame can be zeroed directly.
 */
#include <string.h>
#include "mm/frame.h"
#include "kernel/log.h"
#include "kernel/spinlock.h"

static struct frame_pool pool;
static struct spinlock lock;

void frame_init(const struct mem_region *map, unsigned n)
{
	uint64_t top = 0;
	for (unsigned i = 0; i < n; i++)
		if (map[i].type == MEM_USABLE && map[i].base + map[i].length > top)
			top = map[i].base + map[i].length;

	uint64_t bytes = frame_pool_bitmap_bytes(top);
	uint64_t where = 0;
	for (unsigned i = 0; i < n && !where; i++)
		if (map[i].type == MEM_USABLE && map[i].base >= 0x100000 && map[i].length >= bytes)
			where = map[i].base;
	if (!where)
		panic("frame: no usable region holds the %lu-byte bitmap", bytes);

	frame_pool_init(&pool, (uint64_t *)where, top, map, n);
	frame_pool_reserve(&pool, where, bytes);
	log_info("frame: %lu MiB free, bitmap %lu KiB at %#lx, top %#lx",
		 pool.free * PAGE_SIZE >> 20, bytes >> 10, where, top);
}

uint64_t frame_alloc_aligned(uint64_t count, uint64_t align, uint64_t max_addr)
{
	spin_lock(&lock);
	uint64_t pa = frame_pool_alloc(&pool, count, align, max_addr);
	spin_unlock(&lock);
	if (pa)
		memset((void *)pa, 0, count * PAGE_SIZE);
	return pa;
}

uint64_t frame_alloc_pages(uint64_t count, uint64_t max_addr)
{
	return frame_alloc_aligned(count, PAGE_SIZE, max_addr);
}

void frame_free_pages(uint64_t pa, uint64_t count)
{
	spin_lock(&lock);
	int bad = frame_pool_free(&pool, pa, count);
	spin_unlock(&lock);
	if (bad)
		log_err("frame: bad free of %lu frames at %#lx", count, pa);
}

uint64_t frame_table_alloc(void *ctx)
{
	(void)ctx;
	return frame_alloc_pages(1, 0);
}

void frame_table_free(void *ctx, uint64_t hpa)
{
	(void)ctx;
	frame_free_pages(hpa, 1);
}

void *frame_alloc_bytes(uint64_t size)
{
	return (void *)frame_alloc_pages((size + PAGE_SIZE - 1) / PAGE_SIZE, 0);
}

uint64_t frame_free_bytes(void)
{
	return pool.free * PAGE_SIZE;
}
