/*
 * Unit tests for mm/s2pt.c, the second-stage (EPT / NPT) table builder.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_s2pt.c mm/s2pt.c mm/gmem.c -lcmocka -o build/unit/test_s2pt
 *
 * Tables come from a pool of aligned host pages whose addresses stand in
 * for host physical addresses (in L0 they are the same thing).  The hpa
 * values being *mapped* are just numbers: nothing dereferences them.
 *
 * The expected entry bits are spelt out as literals from the manuals, not
 * taken from mm/s2pt.h, so a wrong constant there cannot hide here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mm/s2pt.h"

#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)
#define RWX (S2_R | S2_W | S2_X)

/* ---- the table allocator: a pool with an optional budget ---------------- */

#define POOL_PAGES 1100
static uint8_t pool_mem[POOL_PAGES][4096] __attribute__((aligned(4096)));

struct pool {
	unsigned used;   /* pages handed out          */
	unsigned limit;  /* fail once used reaches it */
	unsigned fails;  /* failed requests           */
};
static struct pool pool;

static uint64_t pool_alloc(void *ctx)
{
	struct pool *p = ctx;

	if (p->used >= p->limit || p->used >= POOL_PAGES) {
		p->fails++;
		return 0;
	}
	/* dirty the page first: the contract says the allocator zeroes */
	memset(pool_mem[p->used], 0, 4096);
	return (uint64_t)(uintptr_t)pool_mem[p->used++];
}

static struct s2pt t;
#define HPA_POOL_LO ((uint64_t)(uintptr_t)pool_mem[0])
#define HPA_POOL_HI ((uint64_t)(uintptr_t)pool_mem[POOL_PAGES])

static void fresh(enum s2_format fmt, bool allow_1g)
{
	memset(&pool, 0, sizeof(pool));
	pool.limit = POOL_PAGES;
	assert_int_equal(s2pt_init(&t, fmt, pool_alloc, &pool, allow_1g), 0);
}

static uint64_t *tbl(uint64_t hpa)
{
	return (uint64_t *)(uintptr_t)hpa;
}

/* The raw entry at 'level' (4 = PML4 ... 1 = PT) on the way to gpa,
 * following the address field (bits 51:12) of each entry above it. */
static uint64_t raw_entry(uint64_t gpa, unsigned level)
{
	uint64_t *table = tbl(t.root);

	for (unsigned l = 4;; l--) {
		uint64_t e = table[(gpa >> (12 + 9 * (l - 1))) & 511];
		if (l == level)
			return e;
		table = tbl(e & 0x000ffffffffff000ull);
	}
}

/* lookup must give exactly this */
static void expect_map(uint64_t gpa, uint64_t hpa, unsigned perms, uint64_t size)
{
	uint64_t h = 0, sz = 0;
	unsigned p = 0;

	if (s2pt_lookup(&t, gpa, &h, &p, &sz) != 0)
		fail_msg("gpa %#llx not mapped", (unsigned long long)gpa);
	if (h != hpa || p != perms || sz != size)
		fail_msg("gpa %#llx: hpa %#llx perms %u size %#llx, want %#llx %u %#llx",
			 (unsigned long long)gpa, (unsigned long long)h, p,
			 (unsigned long long)sz, (unsigned long long)hpa, perms,
			 (unsigned long long)size);
}

static void expect_unmapped(uint64_t gpa)
{
	if (s2pt_lookup(&t, gpa, NULL, NULL, NULL) == 0)
		fail_msg("gpa %#llx still mapped", (unsigned long long)gpa);
}

/* ---- init and page-size choice ------------------------------------------ */

static void init_allocates_root(void **state)
{
	(void)state;
	fresh(S2_EPT, false);
	assert_int_equal(t.tables, 1);
	assert_int_equal(t.root, (uint64_t)(uintptr_t)pool_mem[0]);
	expect_unmapped(0);

	pool.used = 0;
	pool.limit = 0;
	assert_int_equal(s2pt_init(&t, S2_NPT, pool_alloc, &pool, false), -1);
	assert_int_equal(t.root, 0);
	assert_int_equal(s2pt_init(&t, (enum s2_format)7, pool_alloc, &pool, false), -1);
	/* a table without a root refuses work instead of crashing */
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), RWX, 6), -1);
}

static void map_64m_with_2m_pages(void **state)
{
	(void)state;
	const uint64_t hpa = GB(1);

	for (int f = 0; f < 2; f++) {
		fresh(f ? S2_NPT : S2_EPT, false);
		assert_int_equal(s2pt_map(&t, 0, hpa, MB(64), RWX, 6), 0);
		/* root + one PDPT + one PD: 32 PDEs, no page tables */
		assert_int_equal(t.tables, 3);
		for (uint64_t a = 0; a < MB(64); a += MB(2)) {
			expect_map(a, hpa + a, RWX, MB(2));
			expect_map(a + 0x1234, hpa + a + 0x1234, RWX, MB(2));
		}
		expect_unmapped(MB(64));
	}
}

static void page_size_follows_alignment(void **state)
{
	(void)state;
	fresh(S2_EPT, true);

	/* gpa and hpa 1G-aligned, 2G long: two 1G pages, root + PDPT only */
	assert_int_equal(s2pt_map(&t, GB(4), GB(8), GB(2), RWX, 6), 0);
	assert_int_equal(t.tables, 2);
	expect_map(GB(4) + 0x12345678, GB(8) + 0x12345678, RWX, GB(1));
	expect_map(GB(5), GB(9), RWX, GB(1));

	/* [2M - 4K, 6M): one 4K page, then two 2M pages */
	assert_int_equal(s2pt_map(&t, MB(2) - KB(4), MB(2) - KB(4), MB(4) + KB(4), RWX, 6), 0);
	expect_map(MB(2) - KB(4), MB(2) - KB(4), RWX, KB(4));
	expect_map(MB(2), MB(2), RWX, MB(2));
	expect_map(MB(4), MB(4), RWX, MB(2));
	expect_unmapped(MB(6));

	/* gpa and hpa disagree mod 2M: 4K pages only, whatever the size */
	unsigned before = t.tables;
	assert_int_equal(s2pt_map(&t, MB(16), MB(32) + KB(4), MB(2), RWX, 6), 0);
	assert_int_equal(t.tables, before + 1); /* one PT: 512 PTEs */
	expect_map(MB(16), MB(32) + KB(4), RWX, KB(4));
	expect_map(MB(18) - KB(4), MB(34), RWX, KB(4));

	/* 1G not allowed: 2M pages */
	fresh(S2_EPT, false);
	assert_int_equal(s2pt_map(&t, GB(1), GB(1), GB(1), RWX, 6), 0);
	expect_map(GB(1) + MB(3), GB(1) + MB(3), RWX, MB(2));
	assert_int_equal(t.tables, 3);
}

/* ---- remap, split, unmap ------------------------------------------------- */

static void remap_4k_inside_2m_splits(void **state)
{
	(void)state;
	const uint64_t hpa = GB(1);

	for (int f = 0; f < 2; f++) {
		fresh(f ? S2_NPT : S2_EPT, false);
		assert_int_equal(s2pt_map(&t, 0, hpa, MB(64), RWX, 6), 0);
		assert_int_equal(s2pt_map(&t, MB(2) + KB(4), 0x777000, KB(4), S2_R, 6), 0);
		assert_int_equal(t.tables, 4); /* the split added one PT */

		expect_map(MB(2) + KB(4) + 0x10, 0x777010, S2_R, KB(4));
		/* the other 511 pages of that 2M keep their translation */
		for (uint64_t a = MB(2); a < MB(4); a += KB(4))
			if (a != MB(2) + KB(4))
				expect_map(a, hpa + a, RWX, KB(4));
		/* the neighbours are still 2M pages */
		expect_map(0, hpa, RWX, MB(2));
		expect_map(MB(4), hpa + MB(4), RWX, MB(2));
	}
}

static void split_1g_into_2m(void **state)
{
	(void)state;
	fresh(S2_NPT, true);
	assert_int_equal(s2pt_map(&t, 0, GB(2), GB(1), RWX, 6), 0);
	assert_int_equal(t.tables, 2);
	assert_int_equal(s2pt_unmap(&t, MB(2), MB(2)), 0);
	assert_int_equal(t.tables, 3); /* one PD of 2M pages, no PT */
	expect_map(0, GB(2), RWX, MB(2));
	expect_unmapped(MB(2));
	expect_unmapped(MB(4) - 1);
	expect_map(MB(4), GB(2) + MB(4), RWX, MB(2));
	expect_map(GB(1) - KB(4), GB(3) - KB(4), RWX, MB(2));
}

static void unmap_ranges(void **state)
{
	(void)state;
	fresh(S2_EPT, false);
	assert_int_equal(s2pt_map(&t, 0, GB(1), MB(8), RWX, 6), 0);

	/* one 4K out of the middle of a 2M page */
	assert_int_equal(s2pt_unmap(&t, MB(2) + KB(8), KB(4)), 0);
	expect_unmapped(MB(2) + KB(8));
	expect_map(MB(2) + KB(4), GB(1) + MB(2) + KB(4), RWX, KB(4));
	expect_map(MB(2) + KB(12), GB(1) + MB(2) + KB(12), RWX, KB(4));

	/* a whole 2M page: no split needed */
	unsigned before = t.tables;
	assert_int_equal(s2pt_unmap(&t, MB(4), MB(2)), 0);
	assert_int_equal(t.tables, before);
	expect_unmapped(MB(4));
	expect_unmapped(MB(6) - 1);
	expect_map(MB(6), GB(1) + MB(6), RWX, MB(2));

	/* a range with holes in it, reaching past everything mapped */
	assert_int_equal(s2pt_unmap(&t, MB(1), GB(2)), 0);
	for (uint64_t a = MB(1); a < MB(8); a += KB(4))
		expect_unmapped(a);
	expect_map(0, GB(1), RWX, KB(4)); /* [0, 1M) was split off and kept */
	expect_map(MB(1) - KB(4), GB(1) + MB(1) - KB(4), RWX, KB(4));

	/* the top of the translatable space */
	assert_int_equal(s2pt_unmap(&t, (1ull << 48) - KB(4), KB(4)), 0);
}

static void map_over_existing_table_reuses_it(void **state)
{
	(void)state;
	fresh(S2_EPT, false);
	/* a 4K page makes a PT under the PDE for [2M, 4M) */
	assert_int_equal(s2pt_map(&t, MB(2), 0x5000, KB(4), S2_R, 6), 0);
	unsigned before = t.tables;
	/* mapping the whole 2M there fills that PT instead of dropping it */
	assert_int_equal(s2pt_map(&t, MB(2), GB(1), MB(2), RWX, 6), 0);
	assert_int_equal(t.tables, before);
	expect_map(MB(2), GB(1), RWX, KB(4));
	expect_map(MB(4) - KB(4), GB(1) + MB(2) - KB(4), RWX, KB(4));
	/* and after unmapping it the empty PT is reused, not reallocated */
	assert_int_equal(s2pt_unmap(&t, MB(2), MB(2)), 0);
	assert_int_equal(s2pt_map(&t, MB(2), 0x9000, KB(4), S2_R, 6), 0);
	assert_int_equal(t.tables, before);
}

/* ---- exact entry bits ---------------------------------------------------- */

static void ept_entry_bits(void **state)
{
	(void)state;
	fresh(S2_EPT, false);

	/* 2M RWX write-back: PDE = addr | R W X (bits 0-2) | WB 6 in 5:3 |
	 * bit 7 large page; ignore-PAT (6) and A/D (8, 9) clear. */
	assert_int_equal(s2pt_map(&t, MB(2), GB(1), MB(2), RWX, 6), 0);
	uint64_t pdpt = raw_entry(MB(2), 4), pd = raw_entry(MB(2), 3);
	/* non-leaf entries: address | R W X, nothing else (bits 7:3 reserved
	 * in a PML4E, 7 must be 0 in a PDPTE that references a PD) */
	assert_int_equal(pdpt & 0xfff, 0x7);
	assert_int_equal(pd & 0xfff, 0x7);
	assert_int_equal(pdpt >> 52, 0);
	assert_int_equal(raw_entry(MB(2), 2), GB(1) | 0x7 | (6 << 3) | 0x80);

	/* 4K read-only uncacheable: PTE = addr | R | UC 0; bit 7 ignored, left 0 */
	assert_int_equal(s2pt_map(&t, MB(8), 0x12345000, KB(4), S2_R, 0), 0);
	assert_int_equal(raw_entry(MB(8), 1), 0x12345000ull | 0x1);
	/* 4K execute-only write-through */
	assert_int_equal(s2pt_map(&t, MB(8) + KB(4), 0x12346000, KB(4), S2_X, 4), 0);
	assert_int_equal(raw_entry(MB(8) + KB(4), 1), 0x12346000ull | 0x4 | (4 << 3));
	expect_map(MB(8) + KB(4), 0x12346000, S2_X, KB(4));
	/* RW write-protect (5), address at the top of 52 bits */
	assert_int_equal(s2pt_map(&t, MB(8) + KB(8), 0xffffffffff000ull, KB(4), S2_R | S2_W, 5), 0);
	assert_int_equal(raw_entry(MB(8) + KB(8), 1), 0xffffffffff000ull | 0x3 | (5 << 3));

	/* EPTP: WB (6) in 2:0, walk length 4 - 1 = 3 in 5:3, A/D (6) off */
	assert_int_equal(s2pt_eptp(&t), t.root | 0x1e);
}

static void npt_entry_bits(void **state)
{
	(void)state;
	fresh(S2_NPT, true);

	/* 1G RWX: PDPTE = addr | P | RW | US | PS (bit 7); NX clear */
	assert_int_equal(s2pt_map(&t, GB(1), GB(4), GB(1), RWX, 6), 0);
	assert_int_equal(raw_entry(GB(1), 3), GB(4) | 0x1 | 0x2 | 0x4 | 0x80);
	/* non-leaf: P | RW | US (nested walks are user accesses) */
	assert_int_equal(raw_entry(GB(1), 4) & 0xfff, 0x7);
	assert_int_equal(raw_entry(GB(1), 4) >> 63, 0);

	/* 2M read-only, no execute: P | US | PS | NX (bit 63) */
	assert_int_equal(s2pt_map(&t, MB(2), MB(4), MB(2), S2_R, 6), 0);
	assert_int_equal(raw_entry(MB(2), 2), MB(4) | 0x1 | 0x4 | 0x80 | (1ull << 63));
	/* 4K RW, no execute: P | RW | US | NX; PAT/PCD/PWT 0 (write-back),
	 * and ept_memtype is not EPT's business here: ignored */
	assert_int_equal(s2pt_map(&t, 0, 0xabc000, KB(4), S2_R | S2_W, 0), 0);
	assert_int_equal(raw_entry(0, 1), 0xabc000ull | 0x7 | (1ull << 63));
	expect_map(0x10, 0xabc010, S2_R | S2_W, KB(4));

	/* NPT's table pointer is nCR3: the root itself */
	assert_int_equal(s2pt_eptp(&t), t.root);
}

static void refuses_what_the_format_cannot_say(void **state)
{
	(void)state;
	fresh(S2_NPT, false);
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), S2_W, 6), -1);        /* no R   */
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), S2_X, 6), -1);        /* no R   */
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), 0, 6), -1);           /* none   */
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), RWX | 8, 6), -1);     /* junk   */

	fresh(S2_EPT, false);
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), S2_W, 6), -1);        /* W, no R */
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), S2_W | S2_X, 6), -1);
	for (unsigned mt = 0; mt < 8; mt++) {
		int ok = mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6;
		assert_int_equal(s2pt_map(&t, 0, 0, KB(4), S2_R, (uint8_t)mt), ok ? 0 : -1);
	}
	assert_int_equal(s2pt_map(&t, 0, 0, KB(4), S2_R, 0x46), -1);

	/* alignment and limits */
	unsigned before = t.tables;
	assert_int_equal(s2pt_map(&t, 0x800, 0, KB(4), RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, 0, 0x800, KB(4), RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, 0, 0, 0x800, RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, 0, 0, 0, RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, (1ull << 48) - KB(4), 0, KB(8), RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, 1ull << 48, 0, KB(4), RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, 0, (1ull << 52) - KB(4), KB(8), RWX, 6), -1);
	assert_int_equal(s2pt_map(&t, 0xfffffffffffff000ull, 0, KB(8), RWX, 6), -1);
	assert_int_equal(s2pt_unmap(&t, 0x800, KB(4)), -1);
	assert_int_equal(s2pt_unmap(&t, 0, 0), -1);
	assert_int_equal(s2pt_unmap(&t, 1ull << 48, KB(4)), -1);
	assert_int_equal(t.tables, before);
	assert_int_equal(s2pt_lookup(&t, 1ull << 48, NULL, NULL, NULL), -1);
	/* the highest page there is */
	assert_int_equal(s2pt_map(&t, (1ull << 48) - KB(4), (1ull << 52) - KB(4), KB(4), RWX, 6), 0);
	expect_map((1ull << 48) - 1, (1ull << 52) - 1, RWX, KB(4));
}

/* ---- build_from_gmem ----------------------------------------------------- */

static void build_from_gmem_leaves_mmio_unmapped(void **state)
{
	(void)state;
	struct gmem g;

	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, MB(64), GMEM_RAM, GB(2), 0), 0);
	assert_int_equal(gmem_add(&g, 0xfec00000, KB(4), GMEM_MMIO, 0, 1), 0); /* IOAPIC */
	assert_int_equal(gmem_add(&g, 0xfee00000, KB(4), GMEM_MMIO, 0, 2), 0); /* LAPIC  */
	assert_int_equal(gmem_add(&g, 0xfffc0000, KB(256), GMEM_ROM, GB(3), 0), 0);
	assert_int_equal(gmem_add(&g, GB(4), GB(1), GMEM_RAM, GB(8), 0), 0);

	for (int f = 0; f < 2; f++) {
		fresh(f ? S2_NPT : S2_EPT, true);
		/* something stale over the LAPIC page must go */
		assert_int_equal(s2pt_map(&t, 0xfee00000, 0xfee00000, MB(2), RWX, 6), 0);

		assert_int_equal(s2pt_build_from_gmem(&t, &g), 0);
		expect_map(0, GB(2), RWX, MB(2));
		expect_map(MB(64) - 1, GB(2) + MB(64) - 1, RWX, MB(2));
		expect_unmapped(MB(64));
		expect_unmapped(0xfec00000);
		expect_unmapped(0xfee00000);
		expect_unmapped(0xfee00fff);
		expect_map(0xfee01000, 0xfee01000, RWX, KB(4)); /* rest of the stale 2M */
		expect_map(0xfffc0000, GB(3), S2_R | S2_X, KB(4));
		expect_map(0xffffffff, GB(3) + KB(256) - 1, S2_R | S2_X, KB(4));
		expect_map(GB(4), GB(8), RWX, GB(1));
		expect_unmapped(GB(5));
	}
}

/* ---- clearing a shadow table (NPT02/EPT02 zap) ----------------------------- */

static unsigned freed;
static void count_free(void *ctx, uint64_t hpa)
{
	(void)ctx;
	assert_true(hpa >= HPA_POOL_LO && hpa < HPA_POOL_HI);
	freed++;
}

static void clear_frees_every_table_and_keeps_root(void **state)
{
	(void)state;
	fresh(S2_NPT, false);
	assert_int_equal(s2pt_map(&t, 0x200000, 0x40000000, 0x1000, S2_R | S2_W, 0), 0);
	assert_int_equal(s2pt_map(&t, 0x8000000000ull, 0x40200000, 0x200000, S2_R, 0), 0);
	unsigned tables = t.tables;
	assert_true(tables > 4);
	freed = 0;
	s2pt_clear(&t, count_free);
	assert_int_equal(freed, tables - 1);
	assert_int_equal(t.tables, 1);
	expect_unmapped(0x200000);
	expect_unmapped(0x8000000000ull);
	/* the emptied root serves new maps */
	assert_int_equal(s2pt_map(&t, 0x200000, 0x40000000, 0x1000, S2_R, 0), 0);
	expect_map(0x200000, 0x40000000, S2_R, 0x1000);
}

/* ---- allocation failure --------------------------------------------------- */

static void alloc_failure_changes_nothing(void **state)
{
	(void)state;
	fresh(S2_EPT, false);
	assert_int_equal(s2pt_map(&t, 0, GB(1), MB(4), RWX, 6), 0);
	unsigned base = t.tables; /* root, PDPT, PD */

	/* A new mapping that needs a PDPT, a PD and a PT, with room for one:
	 * -1, and not even its first page is mapped. */
	pool.limit = pool.used + 1;
	assert_int_equal(s2pt_map(&t, GB(64), 0x1000, KB(8), RWX, 6), -1);
	expect_unmapped(GB(64));
	expect_unmapped(GB(64) + KB(4));

	/* Remapping 4K inside a 2M page with no memory left: the split
	 * fails and the 2M page is untouched. */
	pool.limit = pool.used;
	unsigned tables = t.tables;
	assert_int_equal(s2pt_map(&t, MB(2) + KB(4), 0x5000, KB(4), S2_R, 6), -1);
	assert_int_equal(s2pt_unmap(&t, MB(2) + KB(4), KB(4)), -1);
	assert_int_equal(t.tables, tables);
	expect_map(MB(2) + KB(4), GB(1) + MB(2) + KB(4), RWX, MB(2));
	expect_map(0, GB(1), RWX, MB(2));

	/* A remap over an existing range that runs out half-way: the old
	 * translations all survive (the leaves are written only after all
	 * the tables were found).  Here [0, 2M) gets split (one table
	 * left), [2M, 4M) cannot be: the split stays, with the same
	 * translation, in 4K pages. */
	pool.limit = pool.used + 1;
	assert_int_equal(s2pt_map(&t, MB(2) - KB(4), 0x100000, KB(8), S2_R, 6), -1);
	expect_map(MB(2) - KB(4), GB(1) + MB(2) - KB(4), RWX, KB(4));
	expect_map(0, GB(1), RWX, KB(4));
	expect_map(MB(2), GB(1) + MB(2), RWX, MB(2));

	/* With memory again, the same calls work and the result is right. */
	pool.limit = POOL_PAGES;
	assert_int_equal(s2pt_map(&t, GB(64), 0x1000, KB(8), RWX, 6), 0);
	assert_int_equal(s2pt_map(&t, MB(2) + KB(4), 0x5000, KB(4), S2_R, 6), 0);
	expect_map(GB(64) + KB(4), 0x2000, RWX, KB(4));
	expect_map(MB(2) + KB(4), 0x5000, S2_R, KB(4));
	expect_map(MB(2) + KB(8), GB(1) + MB(2) + KB(8), RWX, KB(4));
	assert_true(t.tables > base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_allocates_root),
		cmocka_unit_test(clear_frees_every_table_and_keeps_root),
		cmocka_unit_test(map_64m_with_2m_pages),
		cmocka_unit_test(page_size_follows_alignment),
		cmocka_unit_test(remap_4k_inside_2m_splits),
		cmocka_unit_test(split_1g_into_2m),
		cmocka_unit_test(unmap_ranges),
		cmocka_unit_test(map_over_existing_table_reuses_it),
		cmocka_unit_test(ept_entry_bits),
		cmocka_unit_test(npt_entry_bits),
		cmocka_unit_test(refuses_what_the_format_cannot_say),
		cmocka_unit_test(build_from_gmem_leaves_mmio_unmapped),
		cmocka_unit_test(alloc_failure_changes_nothing),
	};
	return cmocka_run_group_tests_name("s2pt", tests, NULL, NULL);
}
