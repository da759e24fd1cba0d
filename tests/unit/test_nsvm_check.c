/*
 * Unit tests for svm/nested/vmcb12_check.c, VMRUN's consistency checks on
 * the vmcb12 that L1 gives Nestor.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nsvm_check.c svm/nested/vmcb12_check.c mm/gmem.c -lcmocka \
 *       -o build/unit/test_nsvm_check
 *
 * A golden vmcb12 (a 64-bit L2 with NP, MSR and I/O maps in L1 RAM) passes
 * every row; each test breaks one thing and expects exactly the row that
 * names it.  Register bits are APM literals, not the module's macros.
 *
 * With NESTOR_NSVM_SEED_DIR set, the golden image is also written there
 * as a seed for tests/fuzz/fuzz_nsvm_check.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "svm/nested/vmcb12_check.h"

#define KB(x) ((uint64_t)(x) << 10)

/* L1 memory: 64 KiB RAM at 0, one MMIO page at 64 KiB, one ROM page at
 * 128 KiB, holes elsewhere. */
static uint8_t ram[KB(64)] __attribute__((aligned(4096)));
static uint8_t rom[KB(4)] __attribute__((aligned(4096)));
static struct gmem g;
static struct nsvm_limits lim;
static struct vmcb v;

#define VMCB_GPA  0x3000ull
#define IOPM_GPA  0x4000ull   /* 12 KiB: 0x4000-0x6fff */
#define MSRPM_GPA 0x8000ull   /*  8 KiB: 0x8000-0x9fff */
#define NCR3_GPA  0xa000ull

static void golden(struct vmcb *x)
{
	memset(x, 0, sizeof(*x));
	x->ctl.intercept_misc1 = (1u << 27) | (1u << 28);     /* IOIO_PROT, MSR_PROT */
	x->ctl.intercept_misc2 = 1u << 0;                     /* VMRUN */
	x->ctl.iopm_base_pa = IOPM_GPA;
	x->ctl.msrpm_base_pa = MSRPM_GPA;
	x->ctl.asid = 1;
	x->ctl.np_enable = 1;
	x->ctl.n_cr3 = NCR3_GPA;
	x->save.efer = (1ull << 12) | (1ull << 8) | (1ull << 10) | (1ull << 11); /* SVME LME LMA NXE */
	x->save.cr0 = (1ull << 31) | (1ull << 0) | (1ull << 4) | (1ull << 5);   /* PG PE ET NE */
	x->save.cr4 = 1ull << 5;                                                /* PAE */
	x->save.cr3 = 0x1000;
	x->save.cs.attrib = 0xa9b;                                              /* L=1 D=0 */
	x->save.dr6 = 0xffff0ff0;
	x->save.dr7 = 0x400;
	x->save.rflags = 2;
}

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, sizeof(ram), GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(&g, KB(64), KB(4), GMEM_MMIO, 0, 1), 0);
	assert_int_equal(gmem_add(&g, KB(128), KB(4), GMEM_ROM, (uint64_t)(uintptr_t)rom, 0), 0);
	lim.maxphyaddr = 40;
	lim.efer_valid = 0x1d01;        /* SCE LME LMA NXE SVME */
	lim.cr4_valid = 0x003707ff;
	lim.l1_mem = &g;
	golden(&v);
	return 0;
}

/* Exactly one failure, with this id; and the same through a memo of the
 * golden vmcb12 (nsvm_vmcb12_check_memo must not hide the broken field). */
static void expect_only(unsigned id)
{
	struct nsvm_check_failure f[4];
	int n = nsvm_vmcb12_check(&v, &lim, f, 4);

	assert_int_equal(n, 1);
	assert_int_equal(f[0].id, id);
	assert_int_equal(f[0].verdict, NSVM_VMRUN_INVALID);
	assert_non_null(f[0].name);
	assert_non_null(f[0].apm_ref);

	struct vmcb broken = v, good;
	struct nsvm_check_memo m;
	memset(&m, 0, sizeof(m));
	golden(&good);
	if (nsvm_vmcb12_check_memo(&good, &lim, &m, NULL, 0) == 0) {
		assert_true(m.valid);
		n = nsvm_vmcb12_check_memo(&broken, &lim, &m, f, 4);
		assert_int_equal(n, 1);
		assert_int_equal(f[0].id, id);
		assert_false(m.valid);
	}
}

/* The memo: the same inputs pass without a row; a changed RIP (no row
 * reads it) still hits. */
static void test_memo(void **state)
{
	struct nsvm_check_memo m;
	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(nsvm_vmcb12_check_memo(&v, &lim, &m, NULL, 0), 0);
	assert_true(m.valid);
	v.save.rip += 3;
	assert_int_equal(nsvm_vmcb12_check_memo(&v, &lim, &m, NULL, 0), 0);
	v.ctl.asid = 0;                            /* a checked field: the rows run */
	assert_int_equal(nsvm_vmcb12_check_memo(&v, &lim, &m, NULL, 0), 1);
	assert_false(m.valid);
}

static void expect_pass(void)
{
	assert_int_equal(nsvm_vmcb12_check(&v, &lim, NULL, 0), 0);
}

static void test_golden_passes(void **state)
{
	struct nsvm_check_failure f;
	const char *dir = getenv("NESTOR_NSVM_SEED_DIR");

	(void)state;
	expect_pass();
	assert_true(nsvm_vmcb12_addr_ok(VMCB_GPA, &lim, &f));
	if (dir != NULL) {      /* seed for the fuzzer: limits header + image */
		char path[512];
		FILE *fp;
		uint8_t hdr[8] = { 40, 0, 0, 0, 0, 0, 0, 0 };
		uint64_t gpa = VMCB_GPA;

		snprintf(path, sizeof(path), "%s/golden", dir);
		fp = fopen(path, "wb");
		assert_non_null(fp);
		fwrite(hdr, 1, sizeof(hdr), fp);
		fwrite(&gpa, 1, 8, fp);
		fwrite(&v, 1, sizeof(v), fp);
		fclose(fp);
	}
}

static void test_table_is_consistent(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NSVM_CHECK_COUNT; i++) {
		const struct nsvm_check *c = &nsvm_check_table[i];

		assert_int_equal(c->id, i);
		assert_non_null(c->fn);
		assert_non_null(c->name);
		assert_non_null(c->apm_ref);
		assert_int_equal(c->verdict, i < NSVM_CHK_ADDR_ROWS ? NSVM_VMRUN_GP : NSVM_VMRUN_INVALID);
	}
}

static void test_vmcb_address(void **state)
{
	struct nsvm_check_failure f;

	(void)state;
	assert_false(nsvm_vmcb12_addr_ok(VMCB_GPA + 8, &lim, &f));
	assert_int_equal(f.id, NSVM_CHK_VMCB_ALIGNED);
	assert_int_equal(f.verdict, NSVM_VMRUN_GP);
	assert_int_equal(f.value, VMCB_GPA + 8);
	assert_false(nsvm_vmcb12_addr_ok(1ull << 40, &lim, &f));
	assert_int_equal(f.id, NSVM_CHK_VMCB_MAXPHY);
	assert_true(nsvm_vmcb12_addr_ok(KB(60), &lim, &f));        /* last RAM page */
	assert_false(nsvm_vmcb12_addr_ok(KB(64), &lim, &f));       /* MMIO */
	assert_int_equal(f.id, NSVM_CHK_VMCB_IN_RAM);
	assert_false(nsvm_vmcb12_addr_ok(KB(128), &lim, &f));      /* ROM: not writable */
	assert_int_equal(f.id, NSVM_CHK_VMCB_IN_RAM);
	assert_false(nsvm_vmcb12_addr_ok(KB(256), &lim, &f));      /* hole */
	assert_int_equal(f.id, NSVM_CHK_VMCB_IN_RAM);
	assert_false(nsvm_vmcb12_addr_ok(~0ull & ~0xfffull, &lim, &f));
	assert_int_equal(f.id, NSVM_CHK_VMCB_MAXPHY);
	/* content rows refuse to run without a VMCB */
	assert_false(nsvm_check_one(NSVM_CHK_ASID_ZERO, NULL, 0, &lim, &f));
	assert_false(nsvm_check_one(NSVM_CHECK_COUNT, &v, 0, &lim, &f));
}

static void test_efer_svme(void **state)
{
	(void)state;
	v.save.efer &= ~(1ull << 12);
	expect_only(NSVM_CHK_EFER_SVME);
}

static void test_cr0(void **state)
{
	(void)state;
	v.save.cr0 |= 1ull << 29;               /* NW without CD */
	expect_only(NSVM_CHK_CR0_CD_NW);
	v.save.cr0 |= 1ull << 30;               /* CD and NW: legal */
	expect_pass();
	golden(&v);
	v.save.cr0 |= 1ull << 32;
	expect_only(NSVM_CHK_CR0_HIGH);
}

static void test_cr3_by_mode(void **state)
{
	(void)state;
	v.save.cr3 = 1ull << 40;                /* at MAXPHYADDR, long mode */
	expect_only(NSVM_CHK_CR3_MBZ);
	v.save.cr3 = 1ull << 39;
	expect_pass();
	v.save.cr3 = 1ull << 63;
	expect_only(NSVM_CHK_CR3_MBZ);
	/* legacy mode (no LME): not checked by Nestor, the CPU does it */
	v.save.efer &= ~((1ull << 8) | (1ull << 10));
	v.save.cs.attrib = 0xc9b;
	expect_pass();
}

static void test_cr4_dr_efer(void **state)
{
	(void)state;
	v.save.cr4 |= 1ull << 15;               /* not in cr4_valid */
	expect_only(NSVM_CHK_CR4_MBZ);
	golden(&v);
	v.save.dr6 |= 1ull << 32;
	expect_only(NSVM_CHK_DR6_HIGH);
	golden(&v);
	v.save.dr7 |= 1ull << 40;
	expect_only(NSVM_CHK_DR7_HIGH);
	golden(&v);
	v.save.efer |= 1ull << 2;               /* reserved */
	expect_only(NSVM_CHK_EFER_MBZ);
	/* no long mode offered: LME/LMA are MBZ */
	golden(&v);
	lim.efer_valid = 0x1801;
	v.save.efer = 1ull << 12;
	v.save.cr0 = 1;
	v.save.cs.attrib = 0xc9b;
	expect_pass();
	v.save.efer |= 1ull << 8;
	expect_only(NSVM_CHK_EFER_MBZ);
}

static void test_long_mode_combinations(void **state)
{
	struct nsvm_check_failure f[4];

	(void)state;
	v.save.cr4 = 0;
	expect_only(NSVM_CHK_LME_PG_NO_PAE);
	golden(&v);
	v.save.cr0 &= ~1ull;                    /* PG without PE, LME */
	expect_only(NSVM_CHK_LME_PG_NO_PE);
	golden(&v);
	v.save.cs.attrib |= 1u << 10;           /* L and D */
	expect_only(NSVM_CHK_LME_PG_PAE_CSL_CSD);
	/* paged real mode (PG without PE, no LME) is legal (15.19) */
	golden(&v);
	v.save.efer = 1ull << 12;
	v.save.cr0 = 1ull << 31;
	v.save.cs.attrib = 0x93;
	expect_pass();
	/* both PAE and PE missing: two rows, in table order */
	golden(&v);
	v.save.cr4 = 0;
	v.save.cr0 &= ~1ull;
	assert_int_equal(nsvm_vmcb12_check(&v, &lim, f, 4), 2);
	assert_int_equal(f[0].id, NSVM_CHK_LME_PG_NO_PAE);
	assert_int_equal(f[1].id, NSVM_CHK_LME_PG_NO_PE);
}

static void test_vmrun_intercept_and_asid(void **state)
{
	struct nsvm_check_failure f;

	(void)state;
	v.ctl.intercept_misc2 = 0;
	expect_only(NSVM_CHK_VMRUN_INTERCEPT);
	golden(&v);
	v.ctl.asid = 0;
	expect_only(NSVM_CHK_ASID_ZERO);
	assert_false(nsvm_check_one(NSVM_CHK_ASID_ZERO, &v, 0, &lim, &f));
	assert_int_equal(f.value, 0);
	assert_string_equal(f.apm_ref, "15.5.1");
}

static void test_map_addresses(void **state)
{
	(void)state;
	/* MSRPM: 8 KiB must end below 2^40; low 12 bits ignored */
	v.ctl.intercept_misc1 = 0;              /* maps not used: only the width matters */
	v.ctl.msrpm_base_pa = (1ull << 40) - 0x2000 + 0xfff;
	expect_pass();
	v.ctl.msrpm_base_pa = (1ull << 40) - 0x1000;
	expect_only(NSVM_CHK_MSRPM_MAXPHY);
	v.ctl.msrpm_base_pa = ~0ull;            /* wraps */
	expect_only(NSVM_CHK_MSRPM_MAXPHY);
	golden(&v);
	v.ctl.intercept_misc1 = 0;
	v.ctl.iopm_base_pa = (1ull << 40) - 0x3000;
	expect_pass();
	v.ctl.iopm_base_pa = (1ull << 40) - 0x2000;   /* 12 KiB do not fit */
	expect_only(NSVM_CHK_IOPM_MAXPHY);
}

static void test_maps_in_l1_memory(void **state)
{
	(void)state;
	v.ctl.msrpm_base_pa = KB(60);           /* 8 KiB: runs into MMIO */
	expect_only(NSVM_CHK_MSRPM_IN_RAM);
	v.ctl.intercept_misc1 &= ~(1u << 28);   /* MSR_PROT off: not read, fine */
	expect_pass();
	golden(&v);
	v.ctl.iopm_base_pa = KB(56);            /* 12 KiB: 56..68 KiB */
	expect_only(NSVM_CHK_IOPM_IN_RAM);
	v.ctl.iopm_base_pa = KB(256);           /* hole */
	expect_only(NSVM_CHK_IOPM_IN_RAM);
	v.ctl.intercept_misc1 &= ~(1u << 27);
	expect_pass();
	golden(&v);
	v.ctl.iopm_base_pa = IOPM_GPA + 0xabc;  /* low bits ignored */
	expect_pass();
}

static void test_ncr3(void **state)
{
	struct nsvm_check_failure f[2];

	(void)state;
	v.ctl.n_cr3 = 1ull << 45;               /* beyond MAXPHYADDR, so not in RAM either */
	assert_int_equal(nsvm_vmcb12_check(&v, &lim, f, 2), 2);
	assert_int_equal(f[0].id, NSVM_CHK_NCR3_MBZ);
	assert_int_equal(f[1].id, NSVM_CHK_NCR3_IN_RAM);
	v.ctl.n_cr3 = KB(64);                   /* MMIO */
	expect_only(NSVM_CHK_NCR3_IN_RAM);
	v.ctl.n_cr3 = KB(128) | 0x18;           /* ROM, PWT|PCD: readable, fine */
	expect_pass();
	v.ctl.np_enable = 0;                    /* NP off: nCR3 ignored */
	v.ctl.n_cr3 = ~0ull;
	expect_pass();
}

static void inj(uint64_t e) { v.ctl.event_inj = e; }

static void test_event_injection(void **state)
{
	const uint64_t V = 1ull << 31, EV = 1ull << 11;

	(void)state;
	inj(V | (0 << 8) | 0x30);               expect_pass();  /* INTR 0x30 */
	inj(V | (2 << 8) | 0x77);               expect_pass();  /* NMI: vector ignored */
	inj(V | (3 << 8) | 14 | EV | (6ull << 32)); expect_pass(); /* #PF, error 6 */
	inj(V | (4 << 8) | 0x80);               expect_pass();  /* INT 80h */
	inj((7 << 8) | 0xff);                   expect_pass();  /* not valid: ignored */
	for (unsigned t = 1; t < 8; t += (t == 1 ? 4 : 1)) {    /* 1, 5, 6, 7 */
		inj(V | ((uint64_t)t << 8));
		expect_only(NSVM_CHK_EVENTINJ_TYPE);
	}
	static const unsigned bad[] = { 2, 9, 15, 20, 22, 27, 31, 32, 0xff };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		inj(V | (3 << 8) | bad[i]);
		expect_only(NSVM_CHK_EVENTINJ_VECTOR);
	}
	static const unsigned good[] = { 0, 1, 3, 4, 6, 7, 8, 10, 13, 16, 18, 19, 21, 28, 29, 30 };
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		inj(V | (3 << 8) | good[i]);
		expect_pass();
	}
	/* #BR: impossible in 64-bit mode, fine in compatibility mode */
	inj(V | (3 << 8) | 5);
	expect_only(NSVM_CHK_EVENTINJ_MODE);
	v.save.cs.attrib = 0xc9b;               /* L=0 D=1 */
	expect_pass();
}

static void test_all_failures_counted(void **state)
{
	struct nsvm_check_failure f[2];
	int n;

	(void)state;
	memset(&v, 0xff, sizeof(v));            /* everything wrong */
	n = nsvm_vmcb12_check(&v, &lim, f, 2);
	assert_true(n > 10);
	assert_true(f[0].id < f[1].id);
	assert_int_equal(nsvm_vmcb12_check(&v, &lim, NULL, 0), n);
	memset(&v, 0, sizeof(v));               /* all zero: SVME, VMRUN, ASID */
	n = nsvm_vmcb12_check(&v, &lim, f, 2);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].id, NSVM_CHK_EFER_SVME);
	assert_int_equal(f[1].id, NSVM_CHK_VMRUN_INTERCEPT);
}

static void test_vmexit_invalid(void **state)
{
	(void)state;
	v.ctl.exit_code = 0x72;
	v.ctl.exit_info1 = 1;
	v.ctl.exit_info2 = 2;
	v.ctl.exit_int_info = 3;
	v.ctl.event_inj = (1ull << 31) | 0x40;
	nsvm_vmexit_invalid(&v);
	assert_true(v.ctl.exit_code == ~0ull);
	assert_true(v.ctl.exit_info1 == 0 && v.ctl.exit_info2 == 0 && v.ctl.exit_int_info == 0);
	assert_true(v.ctl.event_inj == 0);      /* every #VMEXIT clears EVENTINJ */
	assert_true(v.save.cr3 == 0x1000);      /* guest state untouched */
}

static void test_svm_insn_fault(void **state)
{
	const uint64_t SVME = 1ull << 12, PE = 1;

	(void)state;
	assert_int_equal(nsvm_svm_insn_fault(0, PE, SVME, 2), 0);
	assert_int_equal(nsvm_svm_insn_fault(3, PE, SVME, 2), 13);
	assert_int_equal(nsvm_svm_insn_fault(0, PE, 0, 2), 6);
	assert_int_equal(nsvm_svm_insn_fault(0, 0, SVME, 2), 6);
	assert_int_equal(nsvm_svm_insn_fault(3, PE, SVME, 2 | (1ull << 17)), 6); /* v86 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_golden_passes, setup),
		cmocka_unit_test_setup(test_memo, setup),
		cmocka_unit_test_setup(test_table_is_consistent, setup),
		cmocka_unit_test_setup(test_vmcb_address, setup),
		cmocka_unit_test_setup(test_efer_svme, setup),
		cmocka_unit_test_setup(test_cr0, setup),
		cmocka_unit_test_setup(test_cr3_by_mode, setup),
		cmocka_unit_test_setup(test_cr4_dr_efer, setup),
		cmocka_unit_test_setup(test_long_mode_combinations, setup),
		cmocka_unit_test_setup(test_vmrun_intercept_and_asid, setup),
		cmocka_unit_test_setup(test_map_addresses, setup),
		cmocka_unit_test_setup(test_maps_in_l1_memory, setup),
		cmocka_unit_test_setup(test_ncr3, setup),
		cmocka_unit_test_setup(test_event_injection, setup),
		cmocka_unit_test_setup(test_all_failures_counted, setup),
		cmocka_unit_test_setup(test_vmexit_invalid, setup),
		cmocka_unit_test_setup(test_svm_insn_fault, setup),
	};
	return cmocka_run_group_tests_name("nsvm_check", tests, NULL, NULL);
}
