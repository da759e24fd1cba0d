/* Unit tests: capability bit tables (arch/x86/cpu_caps_names.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "arch/x86/cpu_caps.h"

static void test_qemu_svm_features(void **state)
{
	(void)state;
	char buf[200];
	/* QEMU 7.2 TCG -cpu max: EDX = 0x10010001 (docs/emulators.md) */
	cap_bits_describe(0x10010001, svm_feature_bits, svm_feature_bits_count, buf, sizeof(buf));
	assert_string_equal(buf, "NPT vGIF SVME_ADDR_CHK");
}

static void test_vmx_secondary(void **state)
{
	(void)state;
	char buf[200];
	uint64_t allowed1 = (1ull << 1) | (1ull << 5) | (1ull << 7) | (1ull << 14);
	cap_bits_describe(allowed1 << 32 | 0xffffffffu, vmx_proc2_bits, vmx_proc2_bits_count, buf, sizeof(buf));
	assert_string_equal(buf, "EPT VPID UnrestrictedGuest VMCSShadowing");
}

static void test_truncates_cleanly(void **state)
{
	(void)state;
	char buf[8];
	cap_bits_describe(~0ull, svm_feature_bits, svm_feature_bits_count, buf, sizeof(buf));
	assert_string_equal(buf, "NPT"); /* "NPT LbrVirt" would not fit */
	cap_bits_describe(0, svm_feature_bits, svm_feature_bits_count, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_svm_features),
		cmocka_unit_test(test_vmx_secondary),
		cmocka_unit_test(test_truncates_cleanly),
	};
	return cmocka_run_group_tests_name("cpu_caps", tests, NULL, NULL);
}
