/*
 * frame_pool: which 4 KiB physical frames are free, as a bitmap.  Pure
 * logic over plain data (host-tested); mm/frame.c wraps it with a lock and
 * zeroing for the kernel.
 */
#ifndef NESTOR_FRAME_POOL_H
#define NESTOR_FRAME_POOL_H

#include <stdint.h>
#include "kernel/boot_info.h"

#define PAGE_SIZE ((uint64_t)4096)
#define PAGE_SHIFT 12

struct frame_pool {
	uint64_t *bitmap;  /* bit set = frame in use (or not RAM) */
	uint64_t nframes;  /* frames covered, from physical address 0 */
	uint64_t free;     /* frames currently free */
	uint64_t hint;     /* where the next search starts */
};

/* Bytes of bitmap needed to cover physical memory up to top (exclusive). */
uint64_t frame_pool_bitmap_bytes(uint64_t top);
/* Everything starts used; the MEM_USABLE regions of map become free. */
void frame_pool_init(struct frame_pool *p, uint64_t *bitmap, uint64_t top,
		     const struct mem_region *map, unsigned n);
/* Mark [base, base+len) used (e.g. the bitmap itself). */
void frame_pool_reserve(struct frame_pool *p, uint64_t base, uint64_t len);
/* count contiguous frames, aligned to align bytes (a power of two >= 4K),
 * ending at or below max_addr (0 = anywhere).  Returns the physical address
 * or 0 when none is free (frame 0 is never handed out). */
uint64_t frame_pool_alloc(struct frame_pool *p, uint64_t count, uint64_t align, uint64_t max_addr);
/* Returns -1 if any frame was already free (a double free: caller logs). */
int frame_pool_free(struct frame_pool *p, uint64_t addr, uint64_t count);

#endif
