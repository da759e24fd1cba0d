/*
 * Unit tests for mm/gmem.c, the guest memory map.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_gmem.c mm/gmem.c -lcmocka -o build/unit/test_gmem
 *
 * "hpa" values here are addresses of host buffers (in L0 host physical
 * memory is identity-mapped, so there an hpa is a pointer too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mm/gmem.h"

#define PG 0x1000ull
#define HPA(p) ((uint64_t)(uintptr_t)(p))

/* Three separate host buffers, so "adjacent in the guest" does not mean
 * "adjacent in the host". */
static uint8_t ram_a[4 * PG] __attribute__((aligned(4096)));
static uint8_t ram_b[2 * PG] __attribute__((aligned(4096)));
static uint8_t rom[2 * PG] __attribute__((aligned(4096)));

/*
 * The map most tests use:
 *   [0x10000, 0x14000)  RAM  -> ram_a
 *   [0x14000, 0x16000)  RAM  -> ram_b   (adjacent in the guest)
 *   [0x16000, 0x17000)  MMIO id 7
 *   [0x20000, 0x22000)  ROM  -> rom
 * with a hole at [0x17000, 0x20000).
 */
static struct gmem g;

static int setup(void **state)
{
	(void)state;
	gmem_init(&g);
	for (unsigned i = 0; i < sizeof(ram_a); i++)
		ram_a[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(ram_b); i++)
		ram_b[i] = (uint8_t)(0x80 + i);
	memset(rom, 0xee, sizeof(rom));
	/* added out of order on purpose */
	assert_int_equal(gmem_add(&g, 0x20000, 2 * PG, GMEM_ROM, HPA(rom), 0), 0);
	assert_int_equal(gmem_add(&g, 0x14000, 2 * PG, GMEM_RAM, HPA(ram_b), 0), 0);
	assert_int_equal(gmem_add(&g, 0x16000, PG, GMEM_MMIO, 0, 7), 0);
	assert_int_equal(gmem_add(&g, 0x10000, 4 * PG, GMEM_RAM, HPA(ram_a), 0), 0);
	return 0;
}

/* ---- gmem_add ----------------------------------------------------------- */

static void empty_map(void **state)
{
	(void)state;
	struct gmem e;
	uint8_t b;

	gmem_init(&e);
	assert_int_equal(e.count, 0);
	assert_int_equal(e.ram_top, 0);
	assert_null(gmem_lookup(&e, 0));
	assert_null(gmem_ptr(&e, 0, 1, false));
	assert_int_equal(gmem_read(&e, 0, &b, 1), -1);
}

static void add_keeps_sorted_and_ram_top(void **state)
{
	(void)state;
	assert_int_equal(g.count, 4);
	assert_int_equal(g.r[0].gpa, 0x10000);
	assert_int_equal(g.r[1].gpa, 0x14000);
	assert_int_equal(g.r[2].gpa, 0x16000);
	assert_int_equal(g.r[3].gpa, 0x20000);
	assert_int_equal(g.r[2].kind, GMEM_MMIO);
	assert_int_equal(g.r[2].mmio_id, 7);
	/* ram_top is the end of the highest RAM, not of ROM above it */
	assert_int_equal(g.ram_top, 0x16000);
}

static void add_rejects_misalignment_and_bad_args(void **state)
{
	(void)state;
	struct gmem before = g;

	assert_int_equal(gmem_add(&g, 0x40000, 0, GMEM_RAM, HPA(ram_a), 0), -1);
	assert_int_equal(gmem_add(&g, 0x40800, PG, GMEM_RAM, HPA(ram_a), 0), -1);
	assert_int_equal(gmem_add(&g, 0x40000, 0x800, GMEM_RAM, HPA(ram_a), 0), -1);
	assert_int_equal(gmem_add(&g, 0x40000, PG, GMEM_RAM, HPA(ram_a) + 8, 0), -1);
	assert_int_equal(gmem_add(&g, 0x40000, PG, GMEM_ROM, HPA(rom) + 0x800, 0), -1);
	assert_int_equal(gmem_add(&g, 0x40000, PG, (enum gmem_kind)0, HPA(ram_a), 0), -1);
	assert_int_equal(gmem_add(&g, 0x40000, PG, (enum gmem_kind)4, HPA(ram_a), 0), -1);
	assert_memory_equal(&g, &before, sizeof(g));

	/* MMIO has no backing: its hpa is ignored (and stored as 0) */
	assert_int_equal(gmem_add(&g, 0x40000, PG, GMEM_MMIO, 0x123, 9), 0);
	assert_int_equal(gmem_lookup(&g, 0x40000)->hpa, 0);
}

static void add_rejects_overflow(void **state)
{
	(void)state;
	struct gmem before = g;

	/* gpa + size past 2^64 */
	assert_int_equal(gmem_add(&g, 0xfffffffffffff000ull, 2 * PG, GMEM_MMIO, 0, 1), -1);
	assert_int_equal(gmem_add(&g, 0x1000, 0xfffffffffffff000ull, GMEM_MMIO, 0, 1), -1);
	/* the range may not end exactly at 2^64 either (its end must fit) */
	assert_int_equal(gmem_add(&g, 0xfffffffffffff000ull, PG, GMEM_MMIO, 0, 1), -1);
	/* hpa + size past 2^64 */
	assert_int_equal(gmem_add(&g, 0x40000, 2 * PG, GMEM_RAM, 0xfffffffffffff000ull, 0), -1);
	assert_memory_equal(&g, &before, sizeof(g));

	/* the highest page that fits is fine */
	assert_int_equal(gmem_add(&g, 0xffffffffffffe000ull, PG, GMEM_MMIO, 0, 1), 0);
}

static void add_rejects_overlap(void **state)
{
	(void)state;
	struct gmem before = g;

	/* every way of touching [0x10000, 0x14000) and its neighbours */
	assert_int_equal(gmem_add(&g, 0x10000, 4 * PG, GMEM_MMIO, 0, 1), -1); /* same   */
	assert_int_equal(gmem_add(&g, 0x11000, PG, GMEM_MMIO, 0, 1), -1);     /* inside */
	assert_int_equal(gmem_add(&g, 0xf000, 2 * PG, GMEM_MMIO, 0, 1), -1);  /* head   */
	assert_int_equal(gmem_add(&g, 0x13000, 2 * PG, GMEM_MMIO, 0, 1), -1); /* tail   */
	assert_int_equal(gmem_add(&g, 0x0, 0x100000, GMEM_MMIO, 0, 1), -1);  /* around */
	assert_int_equal(gmem_add(&g, 0x16000, PG, GMEM_MMIO, 0, 1), -1);     /* mmio   */
	assert_int_equal(gmem_add(&g, 0x21000, 4 * PG, GMEM_MMIO, 0, 1), -1); /* rom    */
	assert_memory_equal(&g, &before, sizeof(g));

	/* touching is not overlapping */
	assert_int_equal(gmem_add(&g, 0xf000, PG, GMEM_MMIO, 0, 1), 0);
	assert_int_equal(gmem_add(&g, 0x17000, PG, GMEM_MMIO, 0, 2), 0);
	assert_int_equal(gmem_add(&g, 0x1f000, PG, GMEM_MMIO, 0, 3), 0);
	assert_int_equal(g.count, 7);
	for (unsigned i = 1; i < g.count; i++)
		assert_true(g.r[i - 1].gpa + g.r[i - 1].size <= g.r[i].gpa);
}

static void add_rejects_when_full(void **state)
{
	(void)state;
	struct gmem f;

	gmem_init(&f);
	for (unsigned i = 0; i < GMEM_MAX_RANGES; i++)
		assert_int_equal(gmem_add(&f, (uint64_t)(GMEM_MAX_RANGES - i) * PG * 2,
					  PG, GMEM_MMIO, 0, i), 0);
	struct gmem before = f;
	assert_int_equal(gmem_add(&f, 0x1000000, PG, GMEM_MMIO, 0, 99), -1);
	assert_memory_equal(&f, &before, sizeof(f));
	for (unsigned i = 1; i < f.count; i++)
		assert_true(f.r[i - 1].gpa < f.r[i].gpa);
}

/* ---- gmem_lookup -------------------------------------------------------- */

static void lookup_boundaries(void **state)
{
	(void)state;
	assert_null(gmem_lookup(&g, 0xffff));
	assert_ptr_equal(gmem_lookup(&g, 0x10000), &g.r[0]);
	assert_ptr_equal(gmem_lookup(&g, 0x13fff), &g.r[0]);
	assert_ptr_equal(gmem_lookup(&g, 0x14000), &g.r[1]);
	assert_ptr_equal(gmem_lookup(&g, 0x16fff), &g.r[2]);
	assert_null(gmem_lookup(&g, 0x17000));
	assert_null(gmem_lookup(&g, 0x1ffff));
	assert_ptr_equal(gmem_lookup(&g, 0x21fff), &g.r[3]);
	assert_null(gmem_lookup(&g, 0x22000));
	assert_null(gmem_lookup(&g, UINT64_MAX));
}

/* Many ranges, every count from 1 to the maximum: the binary search
 * must agree with a plain scan at every range's edges and in its gaps. */
static void lookup_agrees_with_scan_for_every_count(void **state)
{
	(void)state;
	for (unsigned count = 1; count <= GMEM_MAX_RANGES; count++) {
		struct gmem m;

		gmem_init(&m);
		/* range i: [0x10000 * (i + 1), + 0x1000 * (i % 3 + 1)), MMIO so
		 * that no backing is needed; gaps between them */
		for (unsigned i = count; i-- > 0;)
			assert_int_equal(gmem_add(&m, 0x10000ull * (i + 1), PG * (i % 3 + 1),
						  GMEM_MMIO, 0, i), 0);
		for (unsigned i = 0; i <= count; i++) {
			uint64_t probes[] = { 0x10000ull * (i + 1) - 1, 0x10000ull * (i + 1),
					      0x10000ull * (i + 1) + PG * (i % 3 + 1) - 1,
					      0x10000ull * (i + 1) + PG * (i % 3 + 1) };
			for (unsigned k = 0; k < 4; k++) {
				const struct gmem_range *want = NULL;

				for (unsigned j = 0; j < m.count; j++)
					if (probes[k] >= m.r[j].gpa &&
					    probes[k] - m.r[j].gpa < m.r[j].size)
						want = &m.r[j];
				assert_ptr_equal(gmem_lookup(&m, probes[k]), want);
			}
		}
		assert_null(gmem_lookup(&m, 0));
		assert_null(gmem_lookup(&m, UINT64_MAX));
	}
}

/* ---- gmem_cursor_read ---------------------------------------------------- */

static void cursor_reads_words_in_ram_and_rom(void **state)
{
	(void)state;
	struct gmem_cursor c;
	uint64_t v = 0;

	gmem_cursor_init(&c, &g);
	/* the first guess is r[0] (ram_a at 0x10000) */
	assert_true(gmem_cursor_read(&c, 0x10008, 8, &v));
	assert_int_equal(v, 0x0f0e0d0c0b0a0908ull);   /* little-endian bytes 8..15 */
	assert_true(gmem_cursor_read(&c, 0x10004, 4, &v));
	assert_int_equal(v, 0x07060504u);
	assert_true(gmem_cursor_read(&c, 0x10002, 2, &v));
	assert_int_equal(v, 0x0302);
	assert_true(gmem_cursor_read(&c, 0x10001, 1, &v));
	assert_int_equal(v, 0x01);
	/* another range: found, then remembered */
	assert_true(gmem_cursor_read(&c, 0x14000, 8, &v));
	assert_int_equal(v, 0x8786858483828180ull);
	assert_int_equal(c.gpa, 0x14000);
	assert_true(gmem_cursor_read(&c, 0x15ff8, 8, &v));  /* last word of ram_b */
	/* ROM reads */
	assert_true(gmem_cursor_read(&c, 0x21ff8, 8, &v));
	assert_int_equal(v, 0xeeeeeeeeeeeeeeeeull);
	/* back in the first range */
	assert_true(gmem_cursor_read(&c, 0x13ff8, 8, &v));
	assert_int_equal(v, 0xfffefdfcfbfaf9f8ull);
}

static void cursor_refuses_like_gmem_read(void **state)
{
	(void)state;
	struct gmem_cursor c;
	uint64_t v = 42;

	gmem_cursor_init(&c, &g);
	assert_false(gmem_cursor_read(&c, 0x16000, 8, &v));      /* MMIO */
	assert_false(gmem_cursor_read(&c, 0x17000, 8, &v));      /* hole */
	assert_false(gmem_cursor_read(&c, 0xfff8, 8, &v));       /* below */
	assert_false(gmem_cursor_read(&c, 0x22000, 4, &v));      /* above */
	assert_false(gmem_cursor_read(&c, UINT64_MAX - 7, 8, &v));
	/* not a naturally aligned 1/2/4/8-byte word */
	assert_false(gmem_cursor_read(&c, 0x10004, 8, &v));
	assert_false(gmem_cursor_read(&c, 0x10001, 2, &v));
	assert_false(gmem_cursor_read(&c, 0x10000, 3, &v));
	assert_false(gmem_cursor_read(&c, 0x10000, 16, &v));
	assert_false(gmem_cursor_read(&c, 0x10000, 0, &v));
	assert_int_equal(v, 42);                                 /* untouched */
	/* a refusal leaves the remembered range alone */
	assert_int_equal(c.gpa, 0x10000);
	assert_int_equal(c.size, 4 * PG);
}

static void cursor_without_a_readable_first_range(void **state)
{
	(void)state;
	struct gmem m, e;
	struct gmem_cursor c;
	uint64_t v = 0;

	gmem_init(&e);
	gmem_cursor_init(&c, &e);
	assert_false(gmem_cursor_read(&c, 0, 8, &v));

	gmem_init(&m);
	assert_int_equal(gmem_add(&m, 0, PG, GMEM_MMIO, 0, 1), 0);
	assert_int_equal(gmem_add(&m, PG, 4 * PG, GMEM_RAM, HPA(ram_a), 0), 0);
	gmem_cursor_init(&c, &m);
	assert_int_equal(c.size, 0);                             /* no guess */
	assert_false(gmem_cursor_read(&c, 0, 8, &v));            /* MMIO */
	assert_true(gmem_cursor_read(&c, PG + 0x10, 8, &v));
	assert_int_equal(v, 0x1716151413121110ull);
}

/* ---- gmem_ptr ----------------------------------------------------------- */

static void ptr_inside_one_range(void **state)
{
	(void)state;
	assert_ptr_equal(gmem_ptr(&g, 0x10000, 4 * PG, true), ram_a);
	assert_ptr_equal(gmem_ptr(&g, 0x12345, 8, true), ram_a + 0x2345);
	assert_ptr_equal(gmem_ptr(&g, 0x15ff8, 8, false), ram_b + PG + 0xff8);
	/* ROM: readable, never writable */
	assert_ptr_equal(gmem_ptr(&g, 0x20010, 16, false), rom + 0x10);
	assert_null(gmem_ptr(&g, 0x20010, 16, true));
}

static void ptr_refuses_straddles_and_non_ram(void **state)
{
	(void)state;
	/* RAM -> MMIO: the last 8 bytes of ram_b plus one byte of MMIO */
	assert_null(gmem_ptr(&g, 0x15ff8, 9, false));
	/* RAM -> RAM: adjacent in the guest, but two ranges */
	assert_null(gmem_ptr(&g, 0x13ff8, 16, false));
	/* ends past the RAM (into nothing) */
	assert_null(gmem_ptr(&g, 0x21ff0, 0x20, false));
	assert_null(gmem_ptr(&g, 0x10000, UINT64_MAX, false));
	/* MMIO and holes */
	assert_null(gmem_ptr(&g, 0x16000, 1, false));
	assert_null(gmem_ptr(&g, 0x18000, 1, false));
	/* nothing to point at */
	assert_null(gmem_ptr(&g, 0x10000, 0, false));
	/* the very last byte of the highest address space */
	assert_null(gmem_ptr(&g, UINT64_MAX, 1, false));
}

/* ---- gmem_read / gmem_write --------------------------------------------- */

static void read_across_two_ram_ranges(void **state)
{
	(void)state;
	uint8_t buf[32];

	/* 16 bytes from the end of ram_a, 16 from the start of ram_b */
	assert_int_equal(gmem_read(&g, 0x13ff0, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, ram_a + sizeof(ram_a) - 16, 16);
	assert_memory_equal(buf + 16, ram_b, 16);

	/* the whole RAM in one go */
	static uint8_t all[6 * PG];
	assert_int_equal(gmem_read(&g, 0x10000, all, sizeof(all)), 0);
	assert_memory_equal(all, ram_a, sizeof(ram_a));
	assert_memory_equal(all + sizeof(ram_a), ram_b, sizeof(ram_b));
}

static void read_refuses_mmio_and_holes_without_copying(void **state)
{
	(void)state;
	uint8_t buf[32];

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(gmem_read(&g, 0x15ff0, buf, 32), -1);   /* RAM -> MMIO  */
	assert_int_equal(gmem_read(&g, 0x16000, buf, 1), -1);    /* MMIO         */
	assert_int_equal(gmem_read(&g, 0x1fff0, buf, 32), -1);   /* hole -> ROM  */
	assert_int_equal(gmem_read(&g, 0x21ff0, buf, 32), -1);   /* ROM -> hole  */
	assert_int_equal(gmem_read(&g, UINT64_MAX, buf, 2), -1); /* wraps        */
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x5a);
	assert_int_equal(gmem_read(&g, 0x16000, buf, 0), 0);     /* nothing: ok  */
}

static void read_rom_write_ram_only(void **state)
{
	(void)state;
	uint8_t buf[8], pat[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	assert_int_equal(gmem_read(&g, 0x21ff8, buf, 8), 0);
	assert_memory_equal(buf, rom + 2 * PG - 8, 8);
	assert_int_equal(gmem_write(&g, 0x21ff8, pat, 8), -1);
	assert_memory_equal(rom + 2 * PG - 8, "\xee\xee\xee\xee\xee\xee\xee\xee", 8);

	/* a write across the two RAM ranges lands in both buffers */
	assert_int_equal(gmem_write(&g, 0x13ffc, pat, 8), 0);
	assert_memory_equal(ram_a + sizeof(ram_a) - 4, pat, 4);
	assert_memory_equal(ram_b, pat + 4, 4);

	/* RAM -> MMIO: all or nothing, the RAM part is untouched */
	uint8_t last[4];
	memcpy(last, ram_b + sizeof(ram_b) - 4, 4);
	assert_int_equal(gmem_write(&g, 0x15ffc, pat, 8), -1);
	assert_memory_equal(ram_b + sizeof(ram_b) - 4, last, 4);
	assert_int_equal(gmem_write(&g, 0x16000, pat, 0), 0);
}

static void read_ram_then_rom_adjacent(void **state)
{
	(void)state;
	struct gmem m;
	uint8_t buf[16];

	gmem_init(&m);
	assert_int_equal(gmem_add(&m, 0x0, PG, GMEM_RAM, HPA(ram_b), 0), 0);
	assert_int_equal(gmem_add(&m, 0x1000, PG, GMEM_ROM, HPA(rom), 0), 0);
	assert_int_equal(gmem_read(&m, 0xff8, buf, 16), 0);
	assert_memory_equal(buf, ram_b + 0xff8, 8);
	assert_memory_equal(buf + 8, rom, 8);
	/* writing the same bytes is refused: half of them are ROM */
	assert_int_equal(gmem_write(&m, 0xff8, buf, 16), -1);
}


/* A translated view (nested guests): every lookup asks the owner, and
 * the copies, pointers and cursor reads all work through it. */
static unsigned xlate_calls;
static bool shift_by_0x10000(void *ctx, uint64_t gpa, struct gmem_range *out)
{
	const struct gmem *under = ctx;
	const struct gmem_range *r = gmem_lookup(under, gpa + 0x10000);
	xlate_calls++;
	if (!r)
		return false;
	uint64_t page = gpa & ~(PG - 1);
	*out = (struct gmem_range){ .gpa = page, .size = PG, .kind = r->kind, .mmio_id = r->mmio_id,
				    .hpa = r->hpa ? r->hpa + (page + 0x10000 - r->gpa) : 0 };
	return true;
}

static void view_translates_each_page(void **state)
{
	(void)state;
	struct gmem view_mem;
	struct gmem_view view = { .xlate = shift_by_0x10000, .ctx = &g };
	gmem_init(&view_mem);
	view_mem.view = &view;
	/* view 0x3ff8..0x4008 = under 0x13ff8..0x14008: ram_a's end, ram_b's start */
	uint8_t buf[16];
	memset(ram_a + 4 * PG - 8, 0xaa, 8);
	memset(ram_b, 0xbb, 8);
	assert_int_equal(gmem_read(&view_mem, 0x3ff8, buf, 16), 0);
	assert_int_equal(buf[0], 0xaa);
	assert_int_equal(buf[15], 0xbb);
	assert_ptr_equal(gmem_ptr(&view_mem, 0x1000, 8, true), ram_a + PG);
	const struct gmem_range *r = gmem_lookup(&view_mem, 0x6000);   /* under 0x16000: MMIO 7 */
	assert_non_null(r);
	assert_int_equal(r->kind, GMEM_MMIO);
	assert_int_equal(r->mmio_id, 7);
	assert_null(gmem_lookup(&view_mem, 0x8000));                   /* under 0x18000: hole */
	assert_int_not_equal(gmem_write(&view_mem, 0x6000, buf, 4), 0);  /* MMIO: not backed */
	uint64_t val = 0;
	struct gmem_cursor c;
	gmem_cursor_init(&c, &view_mem);
	ram_b[PG] = 0x5a;
	assert_true(gmem_cursor_read(&c, 0x5000, 1, &val));
	assert_int_equal(val, 0x5a);
	assert_true(xlate_calls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_map),
		cmocka_unit_test_setup(view_translates_each_page, setup),
		cmocka_unit_test_setup(add_keeps_sorted_and_ram_top, setup),
		cmocka_unit_test_setup(add_rejects_misalignment_and_bad_args, setup),
		cmocka_unit_test_setup(add_rejects_overflow, setup),
		cmocka_unit_test_setup(add_rejects_overlap, setup),
		cmocka_unit_test(add_rejects_when_full),
		cmocka_unit_test_setup(lookup_boundaries, setup),
		cmocka_unit_test(lookup_agrees_with_scan_for_every_count),
		cmocka_unit_test_setup(cursor_reads_words_in_ram_and_rom, setup),
		cmocka_unit_test_setup(cursor_refuses_like_gmem_read, setup),
		cmocka_unit_test_setup(cursor_without_a_readable_first_range, setup),
		cmocka_unit_test_setup(ptr_inside_one_range, setup),
		cmocka_unit_test_setup(ptr_refuses_straddles_and_non_ram, setup),
		cmocka_unit_test_setup(read_across_two_ram_ranges, setup),
		cmocka_unit_test_setup(read_refuses_mmio_and_holes_without_copying, setup),
		cmocka_unit_test_setup(read_rom_write_ram_only, setup),
		cmocka_unit_test_setup(read_ram_then_rom_adjacent, setup),
	};
	return cmocka_run_group_tests_name("gmem", tests, NULL, NULL);
}
