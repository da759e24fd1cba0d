/* L0's own 4-level page tables: identity map of physical memory, kernel W^X. */
#ifndef NESTOR_PAGING_H
#define NESTOR_PAGING_H
#include <stdint.h>

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_NX  (1ull << 63)

#define MAP_RW   (PTE_P | PTE_RW | PTE_NX)
#define MAP_RO   (PTE_P | PTE_NX)
#define MAP_RX   (PTE_P)
#define MAP_MMIO (PTE_P | PTE_RW | PTE_NX | PTE_PCD | PTE_PWT)

/* Builds the tables (identity map of [0, top), kernel sections W^X, page 0
 * and the boot stack guard unmapped) and switches CR3 to them. */
void paging_init(uint64_t top);
/* Map [va, va+len) to pa with flags (MAP_*), using the largest pages that fit. */
void paging_map(uint64_t va, uint64_t pa, uint64_t len, uint64_t flags);
void paging_unmap(uint64_t va, uint64_t len);
/* A kernel stack of `pages` pages with an unmapped guard page below it;
 * returns its top. */
uint64_t paging_alloc_stack(unsigned pages);
uint64_t paging_root(void);      /* physical address of the PML4 (below 4 GiB) */
/* Leaf entry for va (0 if unmapped), and its page size, for tests and dumps. */
uint64_t paging_lookup(uint64_t va, uint64_t *page_size);
#endif
