/* Unit tests: kernel/cpuid_view.c, the guest's CPUID. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "kernel/cpuid_view.h"

static const struct cpuid_guest plain = { .vcpu_index = 3, .nvcpus = 4, .tsc_khz = 2000000, .bus_khz = 1000000 };

static void test_leaf1(void **state)
{
	(void)state;
	struct cpuid_out h = { 0x000806f8, 0x01020800, 0xffffffff, 0xffffffff };
	struct cpuid_out g = cpuid_guest_view(&plain, 1, 0, h);
	assert_int_equal(g.ebx >> 24, 3);                 /* initial APIC ID */
	assert_int_equal((g.ebx >> 16) & 0xff, 4);        /* logical CPUs */
	assert_int_equal(g.ebx & 0xffff, 0x0800);         /* the rest kept */
	assert_false(g.ecx & (1u << 5));                   /* VMX hidden */
	assert_false(g.ecx & (1u << 26));                  /* XSAVE hidden */
	assert_false(g.ecx & (1u << 21));                  /* x2APIC not offered */
	assert_true(g.ecx & (1u << 31));                   /* hypervisor present */
	/* thermal, power and debug-store features: their MSRs are absent */
	assert_int_equal(g.ecx & ((1u << 2) | (1u << 4) | (1u << 7) | (1u << 8) | (1u << 14) | (1u << 15)), 0);
	assert_int_equal(g.edx & ((1u << 21) | (1u << 22) | (1u << 29) | (1u << 31)), 0);
	assert_true(g.edx & (1u << 0));                    /* FPU kept */
	assert_true(g.edx & (1u << 25));                   /* SSE kept */
	struct cpuid_out pmu = cpuid_guest_view(&plain, 0xa, 0, (struct cpuid_out){ 0x07300404, 0, 0, 0x603 });
	assert_int_equal(pmu.eax | pmu.ebx | pmu.ecx | pmu.edx, 0); /* no vPMU */
	struct cpuid_guest nested = plain;
	nested.nested = true;
	nested.x2apic = true;
	g = cpuid_guest_view(&nested, 1, 0, h);
	assert_true(g.ecx & (1u << 5));
	assert_true(g.ecx & (1u << 21));
}

static void test_svm_leaves(void **state)
{
	(void)state;
	struct cpuid_out h = { 1, 16, 0, 0x10010001 };
	struct cpuid_out g = cpuid_guest_view(&plain, 0x8000000a, 0, h);
	assert_int_equal(g.eax | g.ebx | g.ecx | g.edx, 0);
	struct cpuid_out e1 = cpuid_guest_view(&plain, 0x80000001, 0, (struct cpuid_out){ 0, 0, 0xffffffff, 0 });
	assert_false(e1.ecx & (1u << 2));
	assert_false(e1.ecx & (1u << 12)); /* SKINIT never offered */
	e1 = cpuid_guest_view(&plain, 0x80000001, 0, (struct cpuid_out){ 0, 0, 0, 0xffffffff });
	assert_false(e1.edx & (1u << 27)); /* RDTSCP: TSC_AUX is not switched */
	assert_true(e1.edx & (1u << 29));  /* long mode kept */
	/* nested: exactly what svm/nested emulates — NP and nRIP save, even
	 * where the host has other features or lacks NRIPS */
	struct cpuid_guest nested = plain;
	nested.nested = true;
	g = cpuid_guest_view(&nested, 0x8000000a, 0, h);
	assert_int_equal(g.eax, 1);
	assert_int_equal(g.ebx, NESTED_SVM_ASIDS);
	assert_int_equal(g.ecx, 0);
	assert_int_equal(g.edx, (1u << 0) | (1u << 3) | (1u << 5));   /* NP, NRIPS, VmcbClean */
	e1 = cpuid_guest_view(&nested, 0x80000001, 0, (struct cpuid_out){ 0, 0, 0xffffffff, 0 });
	assert_true(e1.ecx & (1u << 2));
	assert_false(e1.ecx & (1u << 12));
}

static void test_hypervisor_leaves(void **state)
{
	(void)state;
	struct cpuid_out g = cpuid_guest_view(&plain, 0x40000000, 0, (struct cpuid_out){ 0 });
	char sig[13] = { 0 };
	memcpy(sig, &g.ebx, 4);
	memcpy(sig + 4, &g.ecx, 4);
	memcpy(sig + 8, &g.edx, 4);
	assert_string_equal(sig, "NestorNestor");
	assert_int_equal(g.eax, 0x40000010);
	g = cpuid_guest_view(&plain, 0x40000010, 0, (struct cpuid_out){ 7, 7, 7, 7 });
	assert_int_equal(g.eax, 2000000);
	assert_int_equal(g.ebx, 1000000);
	g = cpuid_guest_view(&plain, 0x40000005, 0, (struct cpuid_out){ 7, 7, 7, 7 });
	assert_int_equal(g.eax | g.ebx | g.ecx | g.edx, 0);
}

static void test_leaf7_and_topology(void **state)
{
	(void)state;
	struct cpuid_out g = cpuid_guest_view(&plain, 7, 0, (struct cpuid_out){ 2, 0xffffffff, 0xffffffff, 0xffffffff });
	assert_int_equal(g.eax, 0);
	assert_false(g.ebx & (1u << 5));   /* AVX2 */
	assert_true(g.ebx & (1u << 0));    /* FSGSBASE */
	assert_false(g.ecx & (1u << 16));  /* LA57 */
	assert_false(g.ecx & (1u << 22));  /* RDPID: TSC_AUX is not switched */
	assert_true(g.ecx & (1u << 2));    /* UMIP */
	assert_int_equal(g.edx, 0);
	g = cpuid_guest_view(&plain, 0xb, 0, (struct cpuid_out){ 1, 1, 0x100, 99 });
	assert_int_equal(g.edx, 3);        /* x2APIC ID */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf1),
		cmocka_unit_test(test_svm_leaves),
		cmocka_unit_test(test_hypervisor_leaves),
		cmocka_unit_test(test_leaf7_and_topology),
	};
	return cmocka_run_group_tests_name("cpuid_view", tests, NULL, NULL);
}
