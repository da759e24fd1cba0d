/*
 * memmap: turning the firmware's memory map into one the kernel can trust.
 *
 * Every boot path (UEFI, Multiboot1, Multiboot2) reports regions as its
 * firmware or loader gave them: in any order, possibly overlapping,
 * possibly split into adjacent pieces, with usable RAM not on page
 * boundaries.  memmap_sanitize() gives one canonical answer for all of them;
 * memmap_reserve() then takes out what is already in use (the kernel image,
 * the boot modules, the boot information) before the frame allocator
 * (mm/frame.c) hands memory out.
 *
 * Pure code over plain arrays (DESIGN.md "Principles" 1): no allocation, no
 * global state; host-tested (tests/unit/test_memmap.c) and fuzzed
 * (tests/fuzz/fuzz_memmap.c).
 */
#ifndef NESTOR_MM_MEMMAP_H
#define NESTOR_MM_MEMMAP_H

#include <stdint.h>

#include "kernel/boot_info.h"

#define MEMMAP_PAGE_SIZE 4096ull

/*
 * Canonicalise in[0..n) into out[0..*n_out):
 *   - sorted by base, no two regions overlapping;
 *   - where input regions overlap, each byte gets the most restrictive type
 *     covering it (the larger enum mem_type value; types outside
 *     MEM_USABLE..MEM_BAD count as MEM_RESERVED);
 *   - touching regions of the same type merged into one;
 *   - MEM_USABLE regions shrunk to whole 4 KiB pages (base rounded up, end
 *     rounded down) and dropped if nothing is left;
 *   - zero-length input regions ignored, bytes no region covers left out.
 * in and out must not overlap.  Returns 0, or -1 (with *n_out = 0) if an
 * input region's end does not fit in 64 bits (base + length > 2^64 - 1) or
 * the result needs more than max_out regions.  At most 2n - 1 regions are
 * ever needed.  Cost is O(n^2) time and O(1) extra space: fine for the few
 * hundred regions firmware reports, and safe on a boot stack.
 */
int memmap_sanitize(const struct mem_region *in, unsigned n,
		    struct mem_region *out, unsigned max_out, unsigned *n_out);

/*
 * Mark [base, base+len) as in use: every MEM_USABLE byte in it becomes
 * MEM_RESERVED, splitting usable regions as needed (a range in the middle of
 * one region turns it into three).  The range is widened to whole pages
 * first, so usable remainders stay page-aligned.  Bytes of the range that
 * are not usable (holes, other types) are left alone.  map[0..*n) should be
 * the output of memmap_sanitize (sorted, non-overlapping); it stays that way,
 * though neighbouring reserved regions are not merged.
 *
 * Returns 0, or -1 leaving the map unchanged if base + len does not fit in
 * 64 bits or the split would need more than max entries.  len 0 does nothing.
 */
int memmap_reserve(struct mem_region *map, unsigned *n, unsigned max,
		   uint64_t base, uint64_t len);

/* Total bytes of MEM_USABLE regions (saturating at 2^64 - 1). */
uint64_t memmap_usable_bytes(const struct mem_region *map, unsigned n);

#endif
