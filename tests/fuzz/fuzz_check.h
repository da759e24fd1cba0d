/*
 * Invariant checks shared by the libFuzzer targets (header-only: each
 * target is one translation unit plus the code under test).
 *
 * A failed check prints what broke and aborts, which libFuzzer reports as a
 * crash with the input that caused it.
 */
#ifndef NESTOR_FUZZ_CHECK_H
#define NESTOR_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/boot_info.h"
#include "mm/memmap.h"

#include "tests/fuzz/fuzz_assert.h"

static inline int str_terminated(const char *s, size_t max)
{
	return memchr(s, 0, max) != NULL;
}

/* What every successful parse must give, whatever the input. */
static inline void check_boot_info(const struct boot_info *bi, uint32_t path)
{
	CHECK(bi->magic == BOOT_INFO_MAGIC);
	CHECK(bi->boot_path == path);
	CHECK(str_terminated(bi->cmdline, sizeof bi->cmdline));
	CHECK(str_terminated(bi->loader_name, sizeof bi->loader_name));
	CHECK(bi->region_count > 0 && bi->region_count <= BOOT_MAX_REGIONS);
	CHECK(bi->module_count <= BOOT_MAX_MODULES);
	for (unsigned i = 0; i < bi->region_count; i++) {
		const struct mem_region *r = &bi->regions[i];
		CHECK(r->length > 0);
		CHECK(r->length <= UINT64_MAX - r->base);
		CHECK(r->type >= MEM_USABLE && r->type <= MEM_BAD);
	}
	for (unsigned i = 0; i < bi->module_count; i++) {
		const struct boot_module *m = &bi->modules[i];
		CHECK(str_terminated(m->name, sizeof m->name));
		CHECK(m->addr <= UINT32_MAX && m->size <= UINT32_MAX - m->addr);
		CHECK(strchr(m->name, '/') == NULL);
		CHECK(strchr(m->name, ' ') == NULL);
	}
}

/* What memmap_sanitize promises, and memmap_reserve keeps (except merging). */
static inline void check_sane_map(const struct mem_region *m, unsigned n, int merged)
{
	for (unsigned i = 0; i < n; i++) {
		CHECK(m[i].length > 0);
		CHECK(m[i].length <= UINT64_MAX - m[i].base);
		CHECK(m[i].type >= MEM_USABLE && m[i].type <= MEM_BAD);
		CHECK(m[i].reserved == 0);
		if (m[i].type == MEM_USABLE) {
			CHECK(m[i].base % MEMMAP_PAGE_SIZE == 0);
			CHECK(m[i].length % MEMMAP_PAGE_SIZE == 0);
		}
		if (i == 0)
			continue;
		/* sorted and non-overlapping */
		CHECK(m[i - 1].base + m[i - 1].length <= m[i].base);
		/* touching regions of one type would have been merged */
		if (merged && m[i - 1].base + m[i - 1].length == m[i].base)
			CHECK(m[i - 1].type != m[i].type);
	}
}

/*
 * The kernel's sequence after a successful parse: sanitize the regions,
 * reserve each module, and check the invariants at every step.
 */
static inline void check_memmap_chain(const struct boot_info *bi)
{
	static struct mem_region map[2 * BOOT_MAX_REGIONS];
	unsigned n = 0;
	uint64_t usable_before;

	/* 2n - 1 entries always suffice (mm/memmap.h) */
	CHECK(memmap_sanitize(bi->regions, bi->region_count, map,
			      2 * bi->region_count - 1, &n) == 0);
	check_sane_map(map, n, 1);
	usable_before = memmap_usable_bytes(map, n);
	for (unsigned i = 0; i < bi->module_count; i++) {
		if (memmap_reserve(map, &n, 2 * BOOT_MAX_REGIONS,
				   bi->modules[i].addr, bi->modules[i].size) != 0)
			break; /* out of room: legal, the map is unchanged */
		check_sane_map(map, n, 0);
	}
	CHECK(memmap_usable_bytes(map, n) <= usable_before);
}

#endif
