/* The kernel's physical frame allocator (locked, zeroing) over frame_pool. */
#ifndef NESTOR_FRAME_H
#define NESTOR_FRAME_H
#include <stdint.h>
#include "mm/frame_pool.h"

void frame_init(const struct mem_region *map, unsigned n);
/* count zeroed contiguous 4 KiB frames below max_addr (0 = anywhere); 0 on failure. */
uint64_t frame_alloc_pages(uint64_t count, uint64_t max_addr);
uint64_t frame_alloc_aligned(uint64_t count, uint64_t align, uint64_t max_addr);
void frame_free_pages(uint64_t pa, uint64_t count);
uint64_t frame_free_bytes(void);
/* The allocator as table builders take it (s2pt_init, s2pt_clear): one
 * zeroed frame, or 0; ctx unused. */
uint64_t frame_table_alloc(void *ctx);
void frame_table_free(void *ctx, uint64_t hpa);
/* Whole zeroed frames for size bytes, as a pointer (the identity map); NULL on failure. */
void *frame_alloc_bytes(uint64_t size);
#endif
