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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_debugctl_amd),
		cmocka_unit_test(test_debugctl_intel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
