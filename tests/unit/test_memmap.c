/*
 * Unit tests for mm/memmap.c.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -I. tests/unit/test_memmap.c \
 *       mm/memmap.c -lcmocka -o build/unit/test_memmap
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mm/memmap.h"

#define U MEM_USABLE
#define A MEM_ACPI_RECLAIM
#define N MEM_ACPI_NVS
#define R MEM_RESERVED
#define B MEM_BAD
#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)

/* A region from base to end (exclusive), the way the tests think. */
#define RG(b, e, t) { .base = (b), .length = (e) - (b), .type = (t) }

static struct mem_region out[64];
static unsigned nout;

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void expect_map(const struct mem_region *got, unsigned ngot,
		       const struct mem_region *want, unsigned nwant)
{
	for (unsigned i = 0; i < ngot && i < nwant; i++) {
		if (got[i].base != want[i].base || got[i].length != want[i].length ||
		    got[i].type != want[i].type || got[i].reserved != 0)
			fail_msg("region %u: got [%#llx, %#llx) type %u, want [%#llx, %#llx) type %u", i,
				 (unsigned long long)got[i].base,
				 (unsigned long long)(got[i].base + got[i].length), got[i].type,
				 (unsigned long long)want[i].base,
				 (unsigned long long)(want[i].base + want[i].length), want[i].type);
	}
	assert_int_equal(ngot, nwant);
}

#define SANITIZE_OK(in, ...) do {                                                   \
		static const struct mem_region want_[] = { __VA_ARGS__ };           \
		assert_int_equal(memmap_sanitize(in, NELEM(in), out, NELEM(out), &nout), 0); \
		expect_map(out, nout, want_, NELEM(want_));                         \
	} while (0)

/* ---- sanitize ---------------------------------------------------------- */

static void empty_input(void **state)
{
	(void)state;
	static const struct mem_region zero[] = { RG(0x5000, 0x5000, U) };

	nout = 99;
	assert_int_equal(memmap_sanitize(NULL, 0, out, NELEM(out), &nout), 0);
	assert_int_equal(nout, 0);
	assert_int_equal(memmap_sanitize(zero, 1, out, NELEM(out), &nout), 0);
	assert_int_equal(nout, 0);
}

static void unsorted_input_is_sorted(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(MB(16), MB(32), U),
		RG(0, KB(636), U),
		RG(MB(1), MB(15), U),
		RG(0xf0000, MB(1), R),
	};
	SANITIZE_OK(in,
		    RG(0, KB(636), U),
		    RG(0xf0000, MB(1), R),
		    RG(MB(1), MB(15), U),
		    RG(MB(16), MB(32), U));
}

static void overlap_more_restrictive_wins(void **state)
{
	(void)state;
	/* reserved hole punched in the middle of RAM, and an ACPI region
	 * half over RAM, half over a reserved range */
	static const struct mem_region in[] = {
		RG(0, MB(64), U),
		RG(MB(8), MB(9), R),
		RG(MB(60), MB(70), A),
		RG(MB(66), MB(80), R),
	};
	SANITIZE_OK(in,
		    RG(0, MB(8), U),
		    RG(MB(8), MB(9), R),
		    RG(MB(9), MB(60), U),
		    RG(MB(60), MB(66), A),
		    RG(MB(66), MB(80), R));
}

static void all_types_ordered(void **state)
{
	(void)state;
	/* five regions stacked on [0, 4K): BAD wins; each smaller type shows
	 * where only it and weaker ones cover */
	static const struct mem_region in[] = {
		RG(0x0000, 0x5000, U),
		RG(0x0000, 0x4000, A),
		RG(0x0000, 0x3000, N),
		RG(0x0000, 0x2000, R),
		RG(0x0000, 0x1000, B),
	};
	SANITIZE_OK(in,
		    RG(0x0000, 0x1000, B),
		    RG(0x1000, 0x2000, R),
		    RG(0x2000, 0x3000, N),
		    RG(0x3000, 0x4000, A),
		    RG(0x4000, 0x5000, U));
}

static void containment(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(MB(2), MB(3), U),  /* usable inside reserved: disappears */
		RG(MB(1), MB(4), R),
		RG(MB(5), MB(6), R),  /* reserved inside usable: splits it */
		RG(MB(4), MB(8), U),
	};
	SANITIZE_OK(in,
		    RG(MB(1), MB(4), R),
		    RG(MB(4), MB(5), U),
		    RG(MB(5), MB(6), R),
		    RG(MB(6), MB(8), U));
}

static void adjacent_same_type_merged(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0x3000, 0x4000, U),
		RG(0x1000, 0x2000, U),
		RG(0x2000, 0x3000, U),
		RG(0x4000, 0x5000, R),   /* different type: not merged */
		RG(0x5000, 0x6000, R),   /* same type: merged with the one before */
		RG(0x7000, 0x8000, R),   /* gap before it: separate */
		RG(0x7800, 0x9000, R),   /* overlapping, same type: one region */
	};
	SANITIZE_OK(in,
		    RG(0x1000, 0x4000, U),
		    RG(0x4000, 0x6000, R),
		    RG(0x7000, 0x9000, R));
}

static void duplicates_collapse(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(MB(1), MB(2), U), RG(MB(1), MB(2), U), RG(MB(1), MB(2), U),
	};
	SANITIZE_OK(in, RG(MB(1), MB(2), U));
}

static void usable_rounded_to_pages(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0x0100, 0x2100, U),     /* -> [0x1000, 0x2000) */
		RG(0x3100, 0x3900, U),     /* no whole page: dropped */
		RG(0x5800, 0x6000, U),     /* merged: [0x5800, 0x6800) holds */
		RG(0x6000, 0x6800, U),     /*   no whole page either: dropped */
		RG(0x9123, 0x9456, R),     /* non-usable: kept exact */
		RG(0xa000, 0xc000, U),     /* aligned: unchanged */
	};
	SANITIZE_OK(in,
		    RG(0x1000, 0x2000, U),
		    RG(0x9123, 0x9456, R),
		    RG(0xa000, 0xc000, U));
}

static void halves_merge_before_rounding(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0x6800, 0x7000, U),
		RG(0x6000, 0x6800, U),
	};
	SANITIZE_OK(in, RG(0x6000, 0x7000, U));
}

static void reserved_cut_leaves_partial_pages(void **state)
{
	(void)state;
	/* a firmware region not on page boundaries inside RAM: the usable
	 * neighbours lose the partial pages, the reserved one stays exact */
	static const struct mem_region in[] = {
		RG(0, 0x10000, U),
		RG(0x4100, 0x4200, R),
	};
	SANITIZE_OK(in,
		    RG(0, 0x4000, U),
		    RG(0x4100, 0x4200, R),
		    RG(0x5000, 0x10000, U));
}

static void unknown_type_counts_as_reserved(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0, 0x4000, U),
		RG(0x1000, 0x2000, 0),    /* invalid type 0 */
		RG(0x2000, 0x3000, 77),   /* unknown */
		RG(0x2800, 0x3000, B),    /* BAD still beats it */
	};
	SANITIZE_OK(in,
		    RG(0, 0x1000, U),
		    RG(0x1000, 0x2800, R),
		    RG(0x2800, 0x3000, B),
		    RG(0x3000, 0x4000, U));
}

static void top_of_address_space(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		{ .base = UINT64_MAX - 0x2fff, .length = 0x2fff, .type = U }, /* ends at 2^64-1 */
		{ .base = UINT64_MAX - 0x800, .length = 0x800, .type = U },
	};
	/* merged, then the partial last page is cut */
	SANITIZE_OK(in, { .base = UINT64_MAX - 0x2fff, .length = 0x2000, .type = U });
}

static void usable_in_last_page_dropped(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		{ .base = UINT64_MAX - 0x10, .length = 0x10, .type = U },
	};
	assert_int_equal(memmap_sanitize(in, 1, out, NELEM(out), &nout), 0);
	assert_int_equal(nout, 0);
}

static void overflowing_input_rejected(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0, 0x1000, U),
		{ .base = UINT64_MAX - 0xfff, .length = 0x1000, .type = R }, /* end = 2^64 */
	};
	nout = 99;
	assert_int_equal(memmap_sanitize(in, 2, out, NELEM(out), &nout), -1);
	assert_int_equal(nout, 0);
}

static void output_too_small(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0, 0x10000, U),
		RG(0x4000, 0x5000, R),
	};
	/* needs 3 */
	assert_int_equal(memmap_sanitize(in, 2, out, 2, &nout), -1);
	assert_int_equal(nout, 0);
	assert_int_equal(memmap_sanitize(in, 2, out, 3, &nout), 0);
	assert_int_equal(nout, 3);
}

static void dropped_regions_do_not_count_against_max(void **state)
{
	(void)state;
	static const struct mem_region in[] = {
		RG(0x0100, 0x0200, U),   /* dropped by rounding */
		RG(0x0300, 0x0400, U),   /* dropped */
		RG(0x0500, 0x0600, R),
	};
	/* a reserved byte run between usable fragments: 3 runs, 1 survives */
	assert_int_equal(memmap_sanitize(in, 3, out, 1, &nout), 0);
	assert_int_equal(nout, 1);
	assert_int_equal(out[0].type, R);
}

/* ---- reserve ----------------------------------------------------------- */

static void reserve_splits_in_three(void **state)
{
	(void)state;
	struct mem_region map[8] = {
		RG(0, KB(636), U),
		RG(MB(1), MB(64), U),
		RG(MB(64), MB(65), A),
	};
	unsigned n = 3;
	static const struct mem_region want[] = {
		RG(0, KB(636), U),
		RG(MB(1), MB(2), U),
		RG(MB(2), MB(3), R),
		RG(MB(3), MB(64), U),
		RG(MB(64), MB(65), A),
	};
	assert_int_equal(memmap_reserve(map, &n, 8, MB(2), MB(1)), 0);
	expect_map(map, n, want, NELEM(want));
}

static void reserve_widens_to_pages(void **state)
{
	(void)state;
	struct mem_region map[4] = { RG(0, MB(1), U) };
	unsigned n = 1;
	static const struct mem_region want[] = {
		RG(0, 0x3000, U),
		RG(0x3000, 0x6000, R),
		RG(0x6000, MB(1), U),
	};
	/* [0x3456, 0x5001) touches pages 3, 4 and 5 */
	assert_int_equal(memmap_reserve(map, &n, 4, 0x3456, 0x5001 - 0x3456), 0);
	expect_map(map, n, want, NELEM(want));
}

static void reserve_at_edges(void **state)
{
	(void)state;
	struct mem_region map[8] = { RG(0, MB(4), U) };
	unsigned n = 1;
	static const struct mem_region want[] = {
		RG(0, MB(1), R),
		RG(MB(1), MB(3), U),
		RG(MB(3), MB(4), R),
	};
	assert_int_equal(memmap_reserve(map, &n, 8, 0, MB(1)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(memmap_reserve(map, &n, 8, MB(3), MB(1)), 0);
	expect_map(map, n, want, NELEM(want));
}

static void reserve_across_regions_and_holes(void **state)
{
	(void)state;
	struct mem_region map[8] = {
		RG(0, MB(1), U),
		RG(MB(1), MB(2), A),      /* not usable: untouched */
		RG(MB(2), MB(3), U),
		RG(MB(4), MB(6), U),      /* hole [3, 4) before it */
	};
	unsigned n = 4;
	static const struct mem_region want[] = {
		RG(0, KB(512), U),
		RG(KB(512), MB(1), R),
		RG(MB(1), MB(2), A),
		RG(MB(2), MB(3), R),
		RG(MB(4), MB(5), R),
		RG(MB(5), MB(6), U),
	};
	assert_int_equal(memmap_reserve(map, &n, 8, KB(512), MB(5) - KB(512)), 0);
	expect_map(map, n, want, NELEM(want));
}

static void reserve_outside_usable_is_noop(void **state)
{
	(void)state;
	struct mem_region map[4] = { RG(MB(1), MB(2), U), RG(MB(2), MB(3), R) };
	unsigned n = 2;
	struct mem_region before[4];

	memcpy(before, map, sizeof map);
	assert_int_equal(memmap_reserve(map, &n, 4, MB(2), MB(8)), 0);
	assert_int_equal(memmap_reserve(map, &n, 4, MB(5), 0), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(map, before, sizeof map);
}

static void reserve_no_room_leaves_map_unchanged(void **state)
{
	(void)state;
	struct mem_region map[4] = { RG(0, MB(1), U), RG(MB(1), MB(2), U) };
	unsigned n = 2;
	struct mem_region before[4];

	memcpy(before, map, sizeof map);
	/* splitting both regions needs 2 more entries; only 1 is free */
	assert_int_equal(memmap_reserve(map, &n, 3, KB(512), MB(1)), -1);
	assert_int_equal(n, 2);
	assert_memory_equal(map, before, sizeof map);
	/* inconsistent count */
	n = 5;
	assert_int_equal(memmap_reserve(map, &n, 4, 0, 1), -1);
}

static void reserve_overflowing_range(void **state)
{
	(void)state;
	struct mem_region map[4] = { RG(0, MB(1), U) };
	unsigned n = 1;

	assert_int_equal(memmap_reserve(map, &n, 4, UINT64_MAX - 10, 10), 0); /* ends at 2^64-1: fine */
	assert_int_equal(memmap_reserve(map, &n, 4, UINT64_MAX - 10, 11), -1);
	assert_int_equal(n, 1);
}

static void reserve_up_to_the_top(void **state)
{
	(void)state;
	struct mem_region map[4] = {
		/* [0x...c000, 0x...f000): the last page itself is never usable */
		{ .base = UINT64_MAX - 0x3fff, .length = 0x3000, .type = U },
	};
	unsigned n = 1;

	/* an end in the last page cannot round up: covers the rest */
	assert_int_equal(memmap_reserve(map, &n, 4, UINT64_MAX - 0x2fff, 0x2001), 0);
	assert_int_equal(n, 2);
	assert_int_equal(map[0].type, U);
	assert_int_equal(map[0].length, 0x1000);
	assert_int_equal(map[1].type, R);
	assert_int_equal(map[1].length, 0x2000);
}

/* ---- usable bytes ------------------------------------------------------ */

static void usable_bytes(void **state)
{
	(void)state;
	static const struct mem_region map[] = {
		RG(0, KB(636), U), RG(MB(1), MB(2), R), RG(MB(2), MB(10), U),
	};
	static const struct mem_region huge[] = {
		{ .base = 0, .length = UINT64_MAX - 5, .type = U },
		{ .base = 0, .length = 100, .type = U },
	};
	assert_int_equal(memmap_usable_bytes(map, 3), KB(636) + MB(8));
	assert_int_equal(memmap_usable_bytes(map, 0), 0);
	assert_true(memmap_usable_bytes(huge, 2) == UINT64_MAX);
}

/* The whole chain as the kernel runs it: firmware map -> sanitize ->
 * reserve the kernel and a module -> count. */
static void firmware_map_end_to_end(void **state)
{
	(void)state;
	static const struct mem_region e820[] = {
		RG(0x0, 0x9fc00, U),
		RG(0x9fc00, 0xa0000, R),
		RG(0xf0000, 0x100000, R),
		RG(0x100000, 0x7fe0000, U),
		RG(0x7fe0000, 0x8000000, R),
		RG(0xfffc0000, 0x100000000ull, R),
		RG(0x100000000ull, 0x180000000ull, U),
	};
	assert_int_equal(memmap_sanitize(e820, NELEM(e820), out, NELEM(out), &nout), 0);
	assert_int_equal(nout, 7);
	assert_int_equal(out[0].length, 0x9f000); /* 0x9fc00 rounded down */
	assert_int_equal(memmap_reserve(out, &nout, NELEM(out), 0x100000, 0x123456), 0); /* kernel */
	assert_int_equal(memmap_reserve(out, &nout, NELEM(out), 0x400000, 0x80000), 0);  /* module */
	static const struct mem_region want[] = {
		RG(0x0, 0x9f000, U),
		RG(0x9fc00, 0xa0000, R),
		RG(0xf0000, 0x100000, R),
		RG(0x100000, 0x224000, R),
		RG(0x224000, 0x400000, U),
		RG(0x400000, 0x480000, R),
		RG(0x480000, 0x7fe0000, U),
		RG(0x7fe0000, 0x8000000, R),
		RG(0xfffc0000, 0x100000000ull, R),
		RG(0x100000000ull, 0x180000000ull, U),
	};
	expect_map(out, nout, want, NELEM(want));
	assert_int_equal(memmap_usable_bytes(out, nout),
			 0x9f000 + (0x400000 - 0x224000) + (0x7fe0000 - 0x480000) + 0x80000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_input),
		cmocka_unit_test(unsorted_input_is_sorted),
		cmocka_unit_test(overlap_more_restrictive_wins),
		cmocka_unit_test(all_types_ordered),
		cmocka_unit_test(containment),
		cmocka_unit_test(adjacent_same_type_merged),
		cmocka_unit_test(duplicates_collapse),
		cmocka_unit_test(usable_rounded_to_pages),
		cmocka_unit_test(halves_merge_before_rounding),
		cmocka_unit_test(reserved_cut_leaves_partial_pages),
		cmocka_unit_test(unknown_type_counts_as_reserved),
		cmocka_unit_test(top_of_address_space),
		cmocka_unit_test(usable_in_last_page_dropped),
		cmocka_unit_test(overflowing_input_rejected),
		cmocka_unit_test(output_too_small),
		cmocka_unit_test(dropped_regions_do_not_count_against_max),
		cmocka_unit_test(reserve_splits_in_three),
		cmocka_unit_test(reserve_widens_to_pages),
		cmocka_unit_test(reserve_at_edges),
		cmocka_unit_test(reserve_across_regions_and_holes),
		cmocka_unit_test(reserve_outside_usable_is_noop),
		cmocka_unit_test(reserve_no_room_leaves_map_unchanged),
		cmocka_unit_test(reserve_overflowing_range),
		cmocka_unit_test(reserve_up_to_the_top),
		cmocka_unit_test(usable_bytes),
		cmocka_unit_test(firmware_map_end_to_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
