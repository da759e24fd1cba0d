/* Unit tests: the write rules of the MSRs Nestor keeps (kernel/msr_rules.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/msr_rules.h"

/* AMD DEBUGCTL: LBR, BTF, PB0-PB3 and nothing else (APM vol. 2 13.1.1.6).
 * Linux's KVM reads it before every VMRUN and writes its value back. */
static void test_debugctl_amd(void **state)
{
	(void)state;
	assert_true(msr_debugctl_write_ok(false, 0));
	assert_true(msr_debugctl_write_ok(false, 1));          /* LBR */
	assert_true(msr_debugctl_write_ok(false, 2));          /* BTF */
	assert_true(msr_debugctl_write_ok(false, 0x3c));       /* PB0-PB3 */
	assert_false(msr_debugctl_write_ok(false, 0x40));      /* reserved: #GP */
	assert_false(msr_debugctl_write_ok(false, 1ull << 63));
}

/* Intel IA32_DEBUGCTL (SDM 17.4.1): more bits, bits 2-5 and 13 not. */
static void test_debugctl_intel(void **state)
{
	(void)state;
	assert_true(msr_debugctl_write_ok(true, 0));
	assert_true(msr_debugctl_write_ok(true, 0x3));         /* LBR, BTF */
	assert_true(msr_debugctl_write_ok(true, 1u << 14));    /* FREEZE_WHILE_SMM */
	assert_true(msr_debugctl_write_ok(true, 1u << 15));    /* RTM_DEBUG */
	assert_false(msr_debugctl_write_ok(true, 0x4));        /* AMD's PB0: reserved here */
	assert_false(msr_debugctl_write_ok(true, 1u << 13));
	assert_false(msr_debugctl_write_ok(true, 1u << 16));
}

/* IA32_MISC_ENABLE: fast strings may be switched; every other bit keeps
 * the value it reads (XD disable, Limit CPUID Maxval, the read-only BTS
 * and PEBS bits), else #GP.  Linux's verify_cpu writes only when XD
 * disable was set, which it never is here. */
static void test_misc_enable(void **state)
{
	(void)state;
	uint64_t r = MISC_ENABLE_RESET;
	assert_int_equal(r, 0x1801);
	assert_true(msr_misc_enable_write_ok(r, r));
	assert_true(msr_misc_enable_write_ok(r, r & ~MISC_ENABLE_FAST_STRING));
	assert_true(msr_misc_enable_write_ok(r & ~1ull, r));
	assert_false(msr_misc_enable_write_ok(r, r | (1ull << 34)));  /* XD disable */
	assert_false(msr_misc_enable_write_ok(r, r | (1ull << 22)));  /* Limit CPUID Maxval */
	assert_false(msr_misc_enable_write_ok(r, r & ~MISC_ENABLE_BTS_UNAVAIL));
	assert_false(msr_misc_enable_write_ok(r, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debugctl_amd),
		cmocka_unit_test(test_debugctl_intel),
		cmocka_unit_test(test_misc_enable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
