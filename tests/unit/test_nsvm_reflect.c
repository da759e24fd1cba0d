/*
 * Unit tests for svm/nested/exit_reflect.c: does an exit of L2 go to L1
 * or stay with L0?
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nsvm_reflect.c svm/nested/exit_reflect.c mm/gmem.c -lcmocka \
 *       -o build/unit/test_nsvm_reflect
 *
 * One test per exit class, each with L1's intercept on and off; I/O
 * accesses straddling bytes of the IOPM and its end; MSRs in each MSRPM
 * range, at range edges and outside.  Exit codes and bits are APM
 * literals (appendix C, table B-1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "svm/nested/exit_reflect.h"
#include "svm/nested/nsvm_arch.h"

#define KB(x) ((uint64_t)(x) << 10)

static uint8_t ram[KB(64)] __attribute__((aligned(4096)));
static struct gmem g;
static struct vmcb_control c;

#define IOPM_GPA  0x4000ull
#define MSRPM_GPA 0x8000ull
#define L0 NSVM_TO_L0
#define L1 NSVM_TO_L1

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, sizeof(ram), GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(&g, KB(64), KB(4), GMEM_MMIO, 0, 1), 0);
	memset(&c, 0, sizeof(c));
	c.intercept_misc2 = 1;                  /* VMRUN, as checked at VMRUN */
	c.iopm_base_pa = IOPM_GPA;
	c.msrpm_base_pa = MSRPM_GPA;
	return 0;
}

static int owner(uint64_t code, uint64_t info1)
{
	struct nsvm_exit e = { .code = code, .info1 = info1 };

	return nsvm_reflect_exit(&c, &g, &e, NULL);
}

static bool l1_wants(uint64_t code)
{
	struct nsvm_exit e = { .code = code };

	return nsvm_l1_intercepts(&c, &g, &e);
}

static void test_table(void **state)
{
	const struct nsvm_exit_class *cls;

	(void)state;
	for (unsigned i = 0; i < nsvm_exit_class_count; i++) {
		const struct nsvm_exit_class *r = &nsvm_exit_classes[i];

		assert_true(r->first <= r->last);
		assert_non_null(r->name);
		if (r->rule == NSVM_RULE_BIT || r->rule == NSVM_RULE_L0_FIRST)
			assert_true(r->bit0 + (r->last - r->first) <= 31);
	}
	/* every architectural code 00h-A6h has a row; unknown ones none */
	for (uint64_t code = 0; code <= 0xa6; code++)
		assert_non_null(nsvm_exit_class_of(code));
	assert_null(nsvm_exit_class_of(0xa7));
	assert_null(nsvm_exit_class_of(0x3ff));
	assert_null(nsvm_exit_class_of((uint64_t)-2));
	struct nsvm_exit e = { .code = 0x300 };
	assert_int_equal(nsvm_reflect_exit(&c, &g, &e, &cls), L0);
	assert_null(cls);
	e.code = 0x72;
	nsvm_reflect_exit(&c, &g, &e, &cls);
	assert_string_equal(cls->name, "CPUID");
}

static void test_cr_dr(void **state)
{
	(void)state;
	assert_int_equal(owner(0x003, 0), L0);          /* read CR3 */
	c.intercept_cr = 1u << 3;
	assert_int_equal(owner(0x003, 0), L1);
	assert_int_equal(owner(0x013, 0), L0);          /* write CR3: bit 19 */
	c.intercept_cr = (1u << 19) | (1u << 16) | (1u << 31);
	assert_int_equal(owner(0x013, 0), L1);
	assert_int_equal(owner(0x010, 0), L1);          /* write CR0 */
	assert_int_equal(owner(0x01f, 0), L1);          /* write CR15 */
	assert_int_equal(owner(0x004, 0), L0);
	c.intercept_dr = (1u << 7) | (1u << 22);
	assert_int_equal(owner(0x027, 0), L1);          /* read DR7 */
	assert_int_equal(owner(0x036, 0), L1);          /* write DR6 */
	assert_int_equal(owner(0x037, 0), L0);
	assert_int_equal(owner(0x026, 0), L0);
}

static void test_exceptions(void **state)
{
	(void)state;
	assert_int_equal(owner(0x04e, 0), L0);          /* #PF, L1 does not intercept */
	c.intercept_exc = (1u << 14) | (1u << 1) | (1u << 18) | (1u << 17);
	assert_int_equal(owner(0x04e, 2), L1);
	assert_int_equal(owner(0x041, 0), L1);          /* #DB */
	assert_int_equal(owner(0x051, 0), L1);          /* #AC */
	assert_int_equal(owner(0x04d, 0), L0);          /* #GP */
	/* #MC is L0's even when L1 intercepts it */
	assert_int_equal(owner(0x052, 0), L0);
	assert_true(l1_wants(0x052));
}

static void test_physical_events(void **state)
{
	(void)state;
	c.intercept_misc1 = 0xf;                        /* INTR NMI SMI INIT */
	for (uint64_t code = 0x60; code <= 0x63; code++) {
		assert_int_equal(owner(code, 0), L0);
		assert_true(l1_wants(code));            /* for an INTR L0 makes up */
	}
	c.intercept_misc1 = 0;
	assert_false(l1_wants(0x60));
	/* VINTR is not physical: L1's if intercepted */
	assert_int_equal(owner(0x64, 0), L0);
	c.intercept_misc1 = 1u << 4;
	assert_int_equal(owner(0x64, 0), L1);
}

/* A made-up INTR/NMI exit for L1 waits until vmcb02's EVENTINJ has been
 * delivered (APM 15.20): with an event to inject, enter first. */
static void test_pending_exit_after_eventinj(void **state)
{
	(void)state;
	struct vmcb_control c02;
	memset(&c02, 0, sizeof(c02));
	assert_int_equal(nsvm_pending_exit_when(&c02), NSVM_PENDING_EXIT_NOW);
	c02.event_inj = 0x40 | (0ull << 8) | NSVM_EVT_V;            /* INTR vector 0x40 */
	assert_int_equal(nsvm_pending_exit_when(&c02), NSVM_PENDING_EXIT_AFTER_ENTRY);
	c02.event_inj = 14 | (3ull << 8) | (1ull << 11) | NSVM_EVT_V | (2ull << 32); /* #PF, error 2 */
	assert_int_equal(nsvm_pending_exit_when(&c02), NSVM_PENDING_EXIT_AFTER_ENTRY);
	c02.event_inj = 0x40;                                        /* V clear: nothing to inject */
	assert_int_equal(nsvm_pending_exit_when(&c02), NSVM_PENDING_EXIT_NOW);
}

static void test_misc1_instructions(void **state)
{
	static const struct { uint64_t code; unsigned bit; } rows[] = {
		{ 0x65, 5 }, { 0x66, 6 }, { 0x6d, 13 }, { 0x6e, 14 }, { 0x72, 18 },
		{ 0x74, 20 }, { 0x75, 21 }, { 0x76, 22 }, { 0x77, 23 }, { 0x78, 24 },
		{ 0x79, 25 }, { 0x7a, 26 }, { 0x7d, 29 }, { 0x7f, 31 },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		c.intercept_misc1 = ~(1u << rows[i].bit);
		assert_int_equal(owner(rows[i].code, 0), L0);
		c.intercept_misc1 = 1u << rows[i].bit;
		assert_int_equal(owner(rows[i].code, 0), L1);
	}
}

static void test_svm_instructions(void **state)
{
	(void)state;
	/* VMRUN: L1 always intercepts it (checked at VMRUN) */
	assert_int_equal(owner(0x80, 0), L1);
	/* VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT: L1's when asked, else
	 * L0 emulates them for L2 (#UD for VMMCALL, 15.18) */
	for (uint64_t code = 0x81; code <= 0x86; code++) {
		assert_int_equal(owner(code, 0), L0);
		c.intercept_misc2 = 1u | (1u << (code - 0x80));
		assert_int_equal(owner(code, 0), L1);
		c.intercept_misc2 = 1;
	}
	c.intercept_misc2 = (1u << 7) | (1u << 13) | (1u << 16);
	assert_int_equal(owner(0x87, 0), L1);           /* RDTSCP */
	assert_int_equal(owner(0x8d, 0), L1);           /* XSETBV */
	assert_int_equal(owner(0x90, 0), L1);           /* CR0 write trap */
	assert_int_equal(owner(0x91, 0), L0);
	assert_int_equal(owner(0x8b, 0), L0);           /* MWAIT */
	c.intercept_misc3 = 1u << 2;
	assert_int_equal(owner(0xa2, 0), L1);           /* INVPCID */
	assert_int_equal(owner(0xa0, 0), L0);
}

static void test_npf_invalid_avic(void **state)
{
	(void)state;
	assert_int_equal(owner(0x400, 0x100000004ull), L0);
	assert_false(l1_wants(0x400));
	c.np_enable = 1;
	assert_int_equal(owner(0x400, 0x100000004ull), L0);     /* L0 walks NPT12 first */
	assert_true(l1_wants(0x400));
	assert_int_equal(owner((uint64_t)-1, 0), L1);           /* VMEXIT_INVALID */
	c.intercept_misc1 = ~0u;
	c.intercept_misc2 = ~0u;
	assert_int_equal(owner(0x401, 0), L0);
	assert_int_equal(owner(0x403, 0), L0);
}

/* ---- IOIO ---- */

static void iopm_set(unsigned bit) { ram[IOPM_GPA + bit / 8] |= (uint8_t)(1u << (bit % 8)); }

/* EXITINFO1 of an IN/OUT (figure 15-2): port, size, direction */
static uint64_t io(unsigned port, unsigned size, bool in)
{
	uint64_t sz = size == 1 ? 1u << 4 : size == 2 ? 1u << 5 : 1u << 6;

	return ((uint64_t)port << 16) | sz | (in ? 1 : 0) | (1u << 8);
}

static void test_ioio(void **state)
{
	(void)state;
	iopm_set(0x60);
	/* IOIO_PROT off: the map is not consulted */
	assert_int_equal(owner(0x7b, io(0x60, 1, true)), L0);
	c.intercept_misc1 = 1u << 27;
	assert_int_equal(owner(0x7b, io(0x60, 1, true)), L1);
	assert_int_equal(owner(0x7b, io(0x61, 1, false)), L0);
	assert_int_equal(owner(0x7b, io(0x5f, 2, false)), L1);  /* 5f, 60 */
	assert_int_equal(owner(0x7b, io(0x5c, 4, true)), L0);   /* 5c-5f */
	assert_int_equal(owner(0x7b, io(0x5d, 4, true)), L1);   /* 5d-60 */
	/* straddling a byte of the map: ports 3e-41 span bytes 7 and 8 */
	iopm_set(0x41);
	assert_int_equal(owner(0x7b, io(0x3e, 4, false)), L1);
	assert_int_equal(owner(0x7b, io(0x3e, 2, false)), L0);  /* 3e, 3f only */
	assert_int_equal(owner(0x7b, io(0x40, 1, false)), L0);
	assert_int_equal(owner(0x7b, io(0x40, 2, false)), L1);
	/* the end of the port space: 0xffff + 3 bits of the third page */
	assert_int_equal(owner(0x7b, io(0xffff, 4, true)), L0);
	iopm_set(0x10002);
	assert_int_equal(owner(0x7b, io(0xffff, 4, true)), L1);
	assert_int_equal(owner(0x7b, io(0xffff, 2, true)), L0);
	assert_false(nsvm_iopm_intercepts(&g, IOPM_GPA, 0xfffe, 4));   /* fffe-10001 */
	assert_false(nsvm_iopm_intercepts(&g, IOPM_GPA, 0xfffe, 0));
	/* low 12 bits of the base are ignored */
	c.iopm_base_pa = IOPM_GPA | 0xfff;
	assert_int_equal(owner(0x7b, io(0x60, 1, true)), L1);
	/* a map L0 cannot read: counts as set */
	c.iopm_base_pa = KB(64);
	assert_int_equal(owner(0x7b, io(0x61, 1, true)), L1);
}

/* ---- MSR ---- */

static void msrpm_set(uint32_t msr, bool write)
{
	unsigned off = msr < 0x2000 ? 0 : msr < 0xc0002000u ? 0x800 : 0x1000;
	unsigned bit = (msr & 0x1fff) * 2 + (write ? 1 : 0);

	ram[MSRPM_GPA + off + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static int msr(uint32_t n, bool write)
{
	struct nsvm_exit e = { .code = 0x7c, .info1 = write ? 1 : 0, .msr = n };

	return nsvm_reflect_exit(&c, &g, &e, NULL);
}

static void test_msr(void **state)
{
	(void)state;
	msrpm_set(0x10, false);                 /* TSC: reads */
	msrpm_set(0xc0000080u, true);           /* EFER: writes */
	msrpm_set(0xc0010117u, false);          /* VM_HSAVE_PA: reads */
	msrpm_set(0x1fff, true);
	msrpm_set(0xc0011fffu, true);
	/* MSR_PROT off: nothing to L1, not even MSRs outside the map */
	assert_int_equal(msr(0x10, false), L0);
	assert_int_equal(msr(0x40000000u, false), L0);
	c.intercept_misc1 = 1u << 28;
	assert_int_equal(msr(0x10, false), L1);
	assert_int_equal(msr(0x10, true), L0);
	assert_int_equal(msr(0x11, false), L0);
	assert_int_equal(msr(0xc0000080u, true), L1);
	assert_int_equal(msr(0xc0000080u, false), L0);
	assert_int_equal(msr(0xc0000081u, true), L0);
	assert_int_equal(msr(0xc0010117u, false), L1);
	assert_int_equal(msr(0xc0010117u, true), L0);
	assert_int_equal(msr(0x1fff, true), L1);        /* last of range 1 */
	assert_int_equal(msr(0x1fff, false), L0);
	assert_int_equal(msr(0xc0011fffu, true), L1);   /* last of range 3 */
	assert_int_equal(msr(0xc0000000u, false), L0);  /* first of range 2 */
	/* outside the three ranges: always L1's with MSR_PROT */
	assert_int_equal(msr(0x2000, false), L1);
	assert_int_equal(msr(0x40000000u, true), L1);
	assert_int_equal(msr(0xc0002000u, false), L1);
	assert_int_equal(msr(0xc0012000u, false), L1);
	assert_int_equal(msr(0xffffffffu, true), L1);
	/* the same answers from the map in hand (vmcb02's MSRPM merge) */
	static const uint32_t probes[] = { 0x10, 0x11, 0x1fff, 0x2000, 0xc0000000u, 0xc0000080u,
					   0xc0000081u, 0xc0010117u, 0xc0011fffu, 0xc0012000u, 0xffffffffu };
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		for (int w = 0; w < 2; w++)
			assert_int_equal(nsvm_msrpm_map_intercepts(ram + MSRPM_GPA, probes[i], w),
					 nsvm_msrpm_intercepts(&g, MSRPM_GPA, probes[i], w));
	/* unreadable map: counts as set */
	c.msrpm_base_pa = KB(64);
	assert_int_equal(msr(0x11, false), L1);
}

/* The O(1) lookup gives, for every code, the first row that covers it,
 * as a scan of the table does ("the first row that covers a code wins"). */
static void test_class_lookup_is_first_row(void **state)
{
	(void)state;
	uint64_t codes[0x500 + 3];
	unsigned n = 0;
	for (uint64_t c = 0; c < 0x500; c++)
		codes[n++] = c;
	codes[n++] = NSVM_EXIT_INVALID;
	codes[n++] = (uint64_t)-2;
	codes[n++] = 0x100000052ull;   /* a #MC code with high bits: not 0x52 */
	for (unsigned k = 0; k < n; k++) {
		const struct nsvm_exit_class *want = NULL;
		for (unsigned i = 0; i < nsvm_exit_class_count && !want; i++)
			if (codes[k] >= nsvm_exit_classes[i].first && codes[k] <= nsvm_exit_classes[i].last)
				want = &nsvm_exit_classes[i];
		assert_ptr_equal(nsvm_exit_class_of(codes[k]), want);
	}
	/* #MC (52h) is its own row, in front of the exception range */
	assert_int_equal(nsvm_exit_class_of(0x52)->rule, NSVM_RULE_L0_FIRST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_class_lookup_is_first_row),
		cmocka_unit_test_setup(test_table, setup),
		cmocka_unit_test_setup(test_cr_dr, setup),
		cmocka_unit_test_setup(test_exceptions, setup),
		cmocka_unit_test_setup(test_physical_events, setup),
		cmocka_unit_test_setup(test_pending_exit_after_eventinj, setup),
		cmocka_unit_test_setup(test_misc1_instructions, setup),
		cmocka_unit_test_setup(test_svm_instructions, setup),
		cmocka_unit_test_setup(test_npf_invalid_avic, setup),
		cmocka_unit_test_setup(test_ioio, setup),
		cmocka_unit_test_setup(test_msr, setup),
	};
	return cmocka_run_group_tests_name("nsvm_reflect", tests, NULL, NULL);
}
