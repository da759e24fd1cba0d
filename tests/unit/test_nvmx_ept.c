/*
 * Unit tests for vmx/nested/ept_compose.c: EPT12 walks built in L1 memory,
 * each fault (violation with its qualification bits, each misconfiguration
 * class, EPT01 faults), page sizes, execute-only, A/D flags.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nvmx_ept.c vmx/nested/ept_compose.c mm/gmem.c -lcmocka \
 *       -o build/unit/test_nvmx_ept
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/nested/ept_compose.h"

#define RAM_SIZE 0x400000ull            /* 4 MiB of L1 RAM at GPA 0 */
static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct gmem g;
static struct vmx_caps adv;
static struct nvmx_ept_walk w;
static struct nvmx_ept_result out;

/* EPT01: L1 GPA -> ram, with per-test permissions and page size. */
struct ept01 { unsigned perms; uint64_t page; uint64_t limit; };
static struct ept01 e01;

static int ept01_fn(void *ctx, uint64_t gpa, uint64_t *hpa, unsigned *perms, uint64_t *size)
{
	struct ept01 *e = ctx;
	if (gpa >= e->limit)
		return -1;
	*hpa = 0x100000000ull + gpa;    /* a recognisable host address */
	*perms = e->perms;
	*size = e->page;
	return 0;
}

#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD   0x3000ull
#define PT   0x4000ull
#define RWX  7ull
#define WB   (6ull << 3)

static uint64_t *entry(uint64_t table, unsigned idx)
{
	return (uint64_t *)&ram[table + 8 * idx];
}

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, 0x10000);
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	memset(&adv, 0, sizeof adv);
	adv.ept_vpid = VMX_EPT_WALK_4 | VMX_EPT_MT_WB | VMX_EPT_2M | VMX_EPT_1G | VMX_EPT_AD;
	/* L2 GPA 0x40201000 -> PML4[0] PDPT[1] PD[1] PT[1] */
	*entry(PML4, 0) = PDPT | RWX;
	*entry(PDPT, 1) = PD | RWX;
	*entry(PD, 1) = PT | RWX;
	*entry(PT, 1) = 0x7000 | WB | RWX;
	memset(&w, 0, sizeof w);
	w.eptp12 = PML4 | 0x18 | 6;     /* WB, 4 levels */
	w.l2_gpa = 0x40201abcull;
	w.access = NVMX_EPT_R;
	w.maxphyaddr = 40;
	e01.perms = 7;
	e01.page = 0x200000;
	e01.limit = RAM_SIZE;
	return 0;
}

static enum nvmx_ept_kind run(void)
{
	return nvmx_ept_compose(&g, &adv, &w, ept01_fn, &e01, &out);
}

static void test_map_4k(void **state)
{
	(void)state;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.l1_gpa, 0x7abc);
	assert_int_equal(out.size, 0x1000);
	assert_int_equal(out.gpa, 0x40201000ull);
	assert_int_equal(out.hpa, 0x100007000ull);
	assert_int_equal(out.perms, 7);
	assert_int_equal(out.memtype, 6);
	assert_int_equal(out.level, 1);
	/* permissions intersect with EPT01's (e.g. L1 ROM) */
	e01.perms = NVMX_EPT_R | NVMX_EPT_X;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.perms, 5);
	*entry(PT, 1) = 0x7000 | WB | 1;        /* L1 gives read only */
	e01.perms = 7;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.perms, 1);
}

static void test_large_pages(void **state)
{
	(void)state;
	/* 2 MiB leaf in PD[1]: L1 GPA 0x200000 + 0x1abc */
	*entry(PD, 1) = 0x200000 | WB | RWX | (1ull << 7) | (1ull << 6);
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.l1_gpa, 0x201abc);
	assert_int_equal(out.size, 0x200000);       /* min(2M, EPT01 2M) */
	assert_int_equal(out.gpa, 0x40200000ull);
	assert_int_equal(out.hpa, 0x100200000ull);
	assert_true(out.ipat);
	/* EPT01 maps 4 KiB pages: EPT02 gets 4 KiB */
	e01.page = 0x1000;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.size, 0x1000);
	assert_int_equal(out.gpa, 0x40201000ull);
	assert_int_equal(out.hpa, 0x100201000ull);
	/* 1 GiB leaf in PDPT[1] */
	e01.page = 0x40000000;
	*entry(PDPT, 1) = 0 | WB | RWX | (1ull << 7);
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.size, 0x40000000ull);
	assert_int_equal(out.l1_gpa, 0x201abc);
	assert_int_equal(out.level, 3);
}

struct viol_case {
	const char *name;
	uint64_t table;
	unsigned idx;
	uint64_t value;
	unsigned access;
	uint64_t qual;          /* expected, without the GLA bits */
};

static const struct viol_case viols[] = {
	{ "PML4E not present", PML4, 0, 0, NVMX_EPT_R, 0x1 },
	{ "PDPTE not present", PDPT, 1, 0, NVMX_EPT_W, 0x2 },
	{ "PDE not present",   PD,   1, 0, NVMX_EPT_X, 0x4 },
	{ "PTE not present",   PT,   1, 0, NVMX_EPT_R, 0x1 },
	{ "write to R-X page", PT,   1, 0x7000 | WB | 5, NVMX_EPT_W, 0x2 | (5u << 3) },
	{ "fetch from RW- page", PT, 1, 0x7000 | WB | 3, NVMX_EPT_X, 0x4 | (3u << 3) },
	{ "write, RO at PDE",  PD,   1, PT | 5, NVMX_EPT_W, 0x2 | (5u << 3) },
	{ "read of exec-only", PT,   1, 0x7000 | WB | 4, NVMX_EPT_R, 0x1 | (4u << 3) },
};

static void test_violations(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof viols / sizeof viols[0]; i++) {
		const struct viol_case *t = &viols[i];
		setup(NULL);
		adv.ept_vpid |= VMX_EPT_EXEC_ONLY;
		*entry(t->table, t->idx) = t->value;
		w.access = t->access;
		if (run() != NVMX_EPT_VIOLATION || out.qual != t->qual)
			fail_msg("%s: kind %d qual %#llx, expected %#llx", t->name, out.kind,
				 (unsigned long long)out.qual, (unsigned long long)t->qual);
	}
	/* guest-linear address bits 7 and 8 as the caller says */
	setup(NULL);
	*entry(PT, 1) = 0;
	w.gla_valid = true;
	assert_int_equal(run(), NVMX_EPT_VIOLATION);
	assert_int_equal(out.qual, 0x81);
	w.gla_translation = true;
	assert_int_equal(run(), NVMX_EPT_VIOLATION);
	assert_int_equal(out.qual, 0x181);
	/* a GPA beyond the 4-level walk */
	setup(NULL);
	w.l2_gpa = 1ull << 48;
	assert_int_equal(run(), NVMX_EPT_VIOLATION);
	assert_int_equal(out.qual, 1);
}

struct mis_case {
	const char *name;
	uint64_t table;
	unsigned idx;
	uint64_t value;
};

static const struct mis_case miss[] = {
	{ "W without R",               PT,   1, 0x7000 | WB | 2 },
	{ "WX without R",              PT,   1, 0x7000 | WB | 6 },
	{ "X-only, not advertised",    PT,   1, 0x7000 | WB | 4 },
	{ "memory type 2",             PT,   1, 0x7000 | (2u << 3) | 7 },
	{ "memory type 3",             PT,   1, 0x7000 | (3u << 3) | 7 },
	{ "memory type 7",             PT,   1, 0x7000 | (7u << 3) | 7 },
	{ "address beyond MAXPHYADDR", PT,   1, (1ull << 40) | 0x7000 | WB | 7 },
	{ "non-leaf bits 6:3",         PD,   1, PT | 7 | (1u << 3) },
	{ "PML4E bit 7",               PML4, 0, PDPT | 7 | (1u << 7) },
	{ "2M page bits 20:12",        PD,   1, 0x201000 | WB | 7 | (1u << 7) },
	{ "1G page bits 29:12",        PDPT, 1, 0x200000 | WB | 7 | (1u << 7) },
	{ "non-leaf W without R",      PDPT, 1, PD | 2 },
};

static void test_misconfigs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++) {
		const struct mis_case *t = &miss[i];
		setup(NULL);
		*entry(t->table, t->idx) = t->value;
		if (run() != NVMX_EPT_MISCONFIG)
			fail_msg("%s: kind %d", t->name, out.kind);
		assert_int_equal(out.entry, t->value);
	}
	/* large pages where they are not advertised */
	setup(NULL);
	adv.ept_vpid &= ~VMX_EPT_2M;
	*entry(PD, 1) = 0x200000 | WB | 7 | (1u << 7);
	assert_int_equal(run(), NVMX_EPT_MISCONFIG);
	setup(NULL);
	adv.ept_vpid &= ~VMX_EPT_1G;
	*entry(PDPT, 1) = WB | 7 | (1u << 7);
	assert_int_equal(run(), NVMX_EPT_MISCONFIG);
	/* misconfiguration wins over a violation at the same walk */
	setup(NULL);
	*entry(PT, 1) = 0x7000 | (2u << 3) | 1;
	w.access = NVMX_EPT_W;
	assert_int_equal(run(), NVMX_EPT_MISCONFIG);
	/* an EPT12 table outside L1 RAM reads as all ones: misconfiguration */
	setup(NULL);
	*entry(PD, 1) = 0x10000000 | RWX;
	assert_int_equal(run(), NVMX_EPT_MISCONFIG);
	assert_int_equal(out.entry, ~0ull);
	setup(NULL);
	w.eptp12 = 0x7fff000 | 0x18 | 6;
	assert_int_equal(run(), NVMX_EPT_MISCONFIG);
}

static void test_exec_only(void **state)
{
	(void)state;
	adv.ept_vpid |= VMX_EPT_EXEC_ONLY;
	*entry(PT, 1) = 0x7000 | WB | 4;
	w.access = NVMX_EPT_X;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.perms, NVMX_EPT_X);
}

static void test_l0_faults(void **state)
{
	(void)state;
	e01.limit = 0x7000;             /* L1 GPA 0x7abc not mapped by EPT01 */
	assert_int_equal(run(), NVMX_EPT_L0_FAULT);
	assert_int_equal(out.l1_gpa, 0x7abc);
	e01.limit = RAM_SIZE;
	e01.perms = NVMX_EPT_R | NVMX_EPT_X;
	w.access = NVMX_EPT_W;          /* L1 allows, EPT01 does not (ROM) */
	assert_int_equal(run(), NVMX_EPT_L0_FAULT);
}

static void test_accessed_dirty(void **state)
{
	(void)state;
	/* A/D off: nothing written */
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(*entry(PT, 1) & 0x300, 0);
	/* A/D on: A everywhere on a read; the clean leaf maps read-only */
	w.eptp12 |= 1u << 6;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(*entry(PML4, 0) & 0x300, 0x100);
	assert_int_equal(*entry(PDPT, 1) & 0x300, 0x100);
	assert_int_equal(*entry(PD, 1) & 0x300, 0x100);
	assert_int_equal(*entry(PT, 1) & 0x300, 0x100);
	assert_int_equal(out.perms, NVMX_EPT_R | NVMX_EPT_X);
	/* a write sets D on the leaf only and maps writable */
	w.access = NVMX_EPT_W;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(*entry(PT, 1) & 0x300, 0x300);
	assert_int_equal(*entry(PD, 1) & 0x300, 0x100);
	assert_int_equal(out.perms, 7);
	/* a failing walk sets nothing */
	setup(NULL);
	w.eptp12 |= 1u << 6;
	*entry(PT, 1) = 0x7000 | WB | 1;
	w.access = NVMX_EPT_W;
	assert_int_equal(run(), NVMX_EPT_VIOLATION);
	assert_int_equal(*entry(PML4, 0) & 0x300, 0);
	/* A/D requested in EPTP but not advertised: ignored */
	setup(NULL);
	adv.ept_vpid &= ~VMX_EPT_AD;
	w.eptp12 |= 1u << 6;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(*entry(PT, 1) & 0x300, 0);
}

static void test_five_level(void **state)
{
	(void)state;
	adv.ept_vpid |= VMX_EPT_WALK_5;
	/* PML5[0] -> PML4 */
	*entry(0x5000, 0) = PML4 | RWX;
	w.eptp12 = 0x5000 | (4u << 3) | 6;
	assert_int_equal(run(), NVMX_EPT_MAP);
	assert_int_equal(out.l1_gpa, 0x7abc);
	*entry(0x5000, 0) = PML4 | RWX | (1u << 7);
	assert_int_equal(run(), NVMX_EPT_MISCONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_map_4k, setup),
		cmocka_unit_test_setup(test_large_pages, setup),
		cmocka_unit_test_setup(test_violations, setup),
		cmocka_unit_test_setup(test_misconfigs, setup),
		cmocka_unit_test_setup(test_exec_only, setup),
		cmocka_unit_test_setup(test_l0_faults, setup),
		cmocka_unit_test_setup(test_accessed_dirty, setup),
		cmocka_unit_test_setup(test_five_level, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
