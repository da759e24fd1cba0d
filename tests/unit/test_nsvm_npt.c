/*
 * Unit tests for svm/nested/npt_compose.c: NPT12 (L1's tables, built here
 * in a fake L1 RAM) composed with NPT01 (a fake lookup) into NPT02 leaves
 * or #NPF exits for L1.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nsvm_npt.c svm/nested/npt_compose.c mm/gmem.c -lcmocka \
 *       -o build/unit/test_nsvm_npt
 *
 * Entry bits and EXITINFO1 bits are APM literals (vol. 2 5.3, 15.25.6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "svm/nested/npt_compose.h"

#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)

/* NPT entry bits */
#define P   0x001ull
#define RW  0x002ull
#define US  0x004ull
#define A   0x020ull
#define D   0x040ull
#define PS  0x080ull
#define NX  (1ull << 63)
#define PRU (P | RW | US)

/* #NPF EXITINFO1 bits */
#define F_P     0x01ull
#define F_RW    0x02ull
#define F_US    0x04ull
#define F_RSV   0x08ull
#define F_ID    0x10ull
#define F_FINAL (1ull << 32)
#define F_GPT   (1ull << 33)

/* s2pt perms */
#define R_ 1u
#define W_ 2u
#define X_ 4u

/* L1: 8 MiB RAM at 0, MMIO page at 8 MiB, ROM page at 9 MiB. */
#define RAM_SIZE MB(8)
static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t rom[KB(4)] __attribute__((aligned(4096)));
static struct gmem g;
static struct nptc_regs regs;
static struct nptc_result res;

/* NPT01, faked: L1 GPA x -> HPA HPA_BASE + x, with one page size and one
 * set of rights for all, and one unmapped window. */
#define HPA_BASE 0x100000000ull
static struct npt01 {
	uint64_t page_size;
	unsigned perms;
	uint64_t hole, hole_size;
} n01;

static int npt01_lookup(const void *ctx, uint64_t l1_gpa, uint64_t *hpa, unsigned *perms,
			uint64_t *page_size)
{
	const struct npt01 *n = ctx;

	if (l1_gpa - n->hole < n->hole_size)
		return -1;
	*hpa = HPA_BASE + l1_gpa;
	*perms = n->perms;
	*page_size = n->page_size;
	return 0;
}

#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD   0x3000ull
#define PT   0x4000ull
/* L2 GPA 0x40201123: PML4[0] PDPT[1] PD[1] PT[1], offset 0x123 */
#define GPA  0x40201123ull

static void put(uint64_t gpa, uint64_t v) { memcpy(ram + gpa, &v, 8); }
static uint64_t get(uint64_t gpa) { uint64_t v; memcpy(&v, ram + gpa, 8); return v; }

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	memset(rom, 0, sizeof(rom));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(&g, MB(8), KB(4), GMEM_MMIO, 0, 1), 0);
	assert_int_equal(gmem_add(&g, MB(9), KB(4), GMEM_ROM, (uint64_t)(uintptr_t)rom, 0), 0);
	regs = (struct nptc_regs){ .ncr3 = PML4, .maxphyaddr = 40, .long_mode = true,
				   .nxe = true, .allow_1g = true };
	n01 = (struct npt01){ .page_size = KB(4), .perms = R_ | W_ | X_, .hole = ~0ull };
	/* a 4 KiB mapping of GPA -> L1 GPA 0x5000 */
	put(PML4 + 0 * 8, PDPT | PRU);
	put(PDPT + 1 * 8, PD | PRU);
	put(PD + 1 * 8, PT | PRU);
	put(PT + 1 * 8, 0x5000 | PRU);
	return 0;
}

static int compose(uint64_t gpa, uint64_t info1)
{
	return npt_compose(&g, &regs, gpa, info1, npt01_lookup, &n01, &res);
}

static void expect_map(uint64_t l1_gpa, uint64_t size, unsigned perms)
{
	assert_int_equal(res.kind, NPTC_MAP);
	assert_true(res.l1_gpa == l1_gpa);
	assert_true(res.size == size);
	assert_true(res.gpa02 == (GPA & ~(size - 1)));
	assert_true(res.hpa == HPA_BASE + (l1_gpa & ~(size - 1)));
	assert_int_equal(res.perms, perms);
}

static void expect_npf(uint64_t info1, unsigned level)
{
	assert_int_equal(res.kind, NPTC_NPF_L1);
	assert_true(res.exit_info1 == info1);
	assert_true(res.exit_info2 == GPA);
	assert_int_equal(res.level, level);
}

static void test_4k_read_then_write(void **state)
{
	(void)state;
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	/* no D yet: installed without W, so the first write comes back */
	expect_map(0x5123, KB(4), R_ | X_);
	/* A set at every level, D nowhere */
	assert_true(get(PML4) == (PDPT | PRU | A));
	assert_true(get(PDPT + 8) == (PD | PRU | A));
	assert_true(get(PD + 8) == (PT | PRU | A));
	assert_true(get(PT + 8) == (0x5000 | PRU | A));
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_RW | F_P), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | W_ | X_);
	assert_true(get(PT + 8) == (0x5000 | PRU | A | D));
	assert_true(get(PD + 8) == (PT | PRU | A));    /* D only in the leaf */
	/* a read now that D is set: W granted at once */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | W_ | X_);
}

static void test_2m_over_4k_and_2m(void **state)
{
	(void)state;
	put(PD + 8, 0x600000 | PS | PRU | D);           /* 2 MiB page at L1 6 MiB */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x601123, KB(4), R_ | W_ | X_);      /* NPT01 4K: splintered */
	n01.page_size = MB(2);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x601123, MB(2), R_ | W_ | X_);
	n01.page_size = GB(1);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x601123, MB(2), R_ | W_ | X_);
}

static void test_1g_over_2m(void **state)
{
	(void)state;
	put(PDPT + 8, GB(3) | PS | PRU | D);            /* 1 GiB page at L1 3 GiB */
	n01.page_size = MB(2);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(GB(3) + 0x201123, MB(2), R_ | W_ | X_);
	n01.page_size = GB(1);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(GB(3) + 0x201123, GB(1), R_ | W_ | X_);
	/* 1 GiB pages not offered to L1: PS in a PDPTE is reserved */
	regs.allow_1g = false;
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 3);
}

static void test_4k_over_2m(void **state)
{
	(void)state;
	n01.page_size = MB(2);
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_RW), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | W_ | X_);
}

static void test_rights(void **state)
{
	(void)state;
	/* read-only at level 3 */
	put(PDPT + 8, PD | P | US);
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_RW), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_RW | F_P, 1);
	assert_true(res.entry_gpa == PT + 8);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | X_);
	/* NX in the leaf: no fetch, reads fine without X */
	setup(NULL);
	put(PT + 8, 0x5000 | PRU | NX);
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_ID), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_ID | F_P, 1);
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_RW), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | W_);
	/* U/S = 0 anywhere: no access at all (every nested access is user) */
	setup(NULL);
	put(PD + 8, PT | P | RW);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P, 1);
	/* the guest page-table walk kind (bit 33) is passed through */
	assert_int_equal(compose(GPA, F_GPT | F_US | F_RW), NPTC_NPF_L1);
	expect_npf(F_GPT | F_US | F_RW | F_P, 1);
}

static void test_not_present_each_level(void **state)
{
	static const uint64_t where[] = { PML4, PDPT + 8, PD + 8, PT + 8 };

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		setup(NULL);
		put(where[i], get(where[i]) & ~P);
		assert_int_equal(compose(GPA, F_FINAL | F_US | F_RW), NPTC_NPF_L1);
		expect_npf(F_FINAL | F_US | F_RW, 4 - i);
		assert_true(res.entry_gpa == where[i]);
		assert_false(res.table_outside);
		assert_true(get(PML4) == (i == 0 ? PDPT | RW | US : PDPT | PRU)); /* no A on failure */
	}
}

static void test_reserved_bits(void **state)
{
	(void)state;
	put(PML4, PDPT | PRU | PS);                     /* PS in a PML4E */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 4);
	setup(NULL);
	put(PD + 8, PT | PRU | (1ull << 40));           /* address bit >= MAXPHYADDR */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 2);
	regs.maxphyaddr = 48;                           /* now a real address: of no RAM */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 1);
	assert_true(res.table_outside && res.entry_gpa == (1ull << 40) + PT + 8);
	setup(NULL);
	put(PT + 8, 0x5000 | PRU | NX);                 /* NX without EFER.NXE */
	regs.nxe = false;
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 1);
	setup(NULL);
	put(PD + 8, 0x600000 | PS | PRU | (1ull << 13)); /* bit 13 of a 2 MiB page */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 2);
	setup(NULL);
	put(PDPT + 8, GB(1) | PS | PRU | (1ull << 20));  /* bit 20 of a 1 GiB page */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 3);
}

static void test_tables_outside_l1_memory(void **state)
{
	(void)state;
	put(PDPT + 8, MB(8) | PRU);                     /* PD in MMIO */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 2);
	assert_true(res.table_outside);
	assert_true(res.entry_gpa == MB(8) + 8);
	put(PDPT + 8, MB(64) | PRU);                    /* PD in a hole */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	assert_true(res.table_outside);
	regs.ncr3 = MB(32);                             /* nCR3 in a hole */
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US | F_P | F_RSV, 4);
	assert_true(res.table_outside);
}

static void test_tables_in_rom(void **state)
{
	uint64_t e = 0x5000 | PRU;

	(void)state;
	/* the page table lives in L1 ROM: walked, but no A/D written, and W
	 * given at once (D could never be recorded) */
	memcpy(rom + 8, &e, 8);
	put(PD + 8, MB(9) | PRU);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | W_ | X_);
	memcpy(&e, rom + 8, 8);
	assert_true(e == (0x5000 | PRU));
	assert_true(get(PD + 8) == (MB(9) | PRU | A));
}

static void test_npt01_faults(void **state)
{
	(void)state;
	n01.hole = 0x5000;
	n01.hole_size = KB(4);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_L0_FAULT);
	assert_true(res.l1_gpa == 0x5123);
	assert_true(get(PT + 8) == (0x5000 | PRU));     /* nothing recorded */
	n01.hole = ~0ull;
	n01.perms = R_ | X_;                            /* L1 ROM-like in NPT01 */
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_RW), NPTC_L0_FAULT);
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	expect_map(0x5123, KB(4), R_ | X_);
	n01.perms = R_ | W_;                            /* no execute in NPT01 */
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_ID), NPTC_L0_FAULT);
}

static void test_odd_inputs(void **state)
{
	(void)state;
	assert_int_equal(compose(1ull << 48, F_FINAL | F_US), NPTC_NPF_L1);
	assert_true(res.exit_info1 == (F_FINAL | F_US) && res.exit_info2 == 1ull << 48);
	regs.long_mode = false;
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_UNSUPPORTED);
	/* nCR3's low bits (PWT/PCD) are not part of the address */
	regs.long_mode = true;
	regs.ncr3 = PML4 | 0x18;
	assert_int_equal(compose(GPA, F_FINAL | F_US), NPTC_MAP);
	/* the other bits of the hardware's EXITINFO1 are not passed on */
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_P | F_RSV | (1ull << 37)), NPTC_MAP);
	put(PT + 8, 0);
	assert_int_equal(compose(GPA, F_FINAL | F_US | F_P | F_RSV | (1ull << 37)), NPTC_NPF_L1);
	expect_npf(F_FINAL | F_US, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_4k_read_then_write, setup),
		cmocka_unit_test_setup(test_2m_over_4k_and_2m, setup),
		cmocka_unit_test_setup(test_1g_over_2m, setup),
		cmocka_unit_test_setup(test_4k_over_2m, setup),
		cmocka_unit_test_setup(test_rights, setup),
		cmocka_unit_test_setup(test_not_present_each_level, setup),
		cmocka_unit_test_setup(test_reserved_bits, setup),
		cmocka_unit_test_setup(test_tables_outside_l1_memory, setup),
		cmocka_unit_test_setup(test_tables_in_rom, setup),
		cmocka_unit_test_setup(test_npt01_faults, setup),
		cmocka_unit_test_setup(test_odd_inputs, setup),
	};
	return cmocka_run_group_tests_name("nsvm_npt", tests, NULL, NULL);
}
