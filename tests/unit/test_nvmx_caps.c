/*
 * Unit tests for vmx/nested/nvmx_caps.c: the VMX capability MSRs L1 sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmx/nested/nvmx_caps.h"
#include "vmx/nested/vmcs12.h"

/* A Skylake-like host (the values Bochs corei7_skylake_x reports, roughly). */
static struct vmx_caps host(void)
{
	return (struct vmx_caps){
		.basic = 0x00da0400000002bull | (1ull << 55), .true_ctls = true,
		.pinbased = 0x0000007f00000016ull, .procbased = 0xfff9fffe04006172ull,
		.procbased2 = 0x0057cfff00000000ull, .exit = 0x01ffffff00036dfbull,
		.entry = 0x0003ffff000011fbull, .misc = 0x00000000000401e5ull,
		.cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xffffffff, .cr4_fixed0 = 0x2000,
		.cr4_fixed1 = 0x3727ff, .ept_vpid = 0x00000f0106734141ull,
	};
}

static void offers_only_what_nestor_emulates(void **state)
{
	(void)state;
	struct vmx_caps hw = host(), adv;
	nvmx_advertise(&hw, &adv);
	/* the revision is Nestor's vmcs12 layout, not the CPU's */
	assert_int_equal(VMX_BASIC_REVISION(adv.basic), VMCS12_REVISION);
	/* PML, VMFUNC, APIC virtualization: not offered; VMCS shadowing is
	 * (emulated for L2, whatever the CPU has) */
	uint32_t proc2_may = (uint32_t)(adv.procbased2 >> 32);
	assert_true(proc2_may & (1u << 14));
	assert_false(proc2_may & (1u << 17));
	assert_false(proc2_may & (1u << 13));
	assert_false(proc2_may & (1u << 0));
	/* EPT, VPID, unrestricted guest: offered */
	assert_true(proc2_may & (1u << 1));
	assert_true(proc2_may & (1u << 5));
	assert_true(proc2_may & (1u << 7));
	/* preemption timer offered where the CPU has it (with its rate and
	 * the save control); posted interrupts not */
	assert_int_equal((adv.pinbased >> 32) & (1u << 6), (hw.pinbased >> 32) & (1u << 6));
	assert_false((adv.pinbased >> 32) & (1u << 7));
	/* must-be-one bits stay the CPU's, and each can be 1 */
	assert_int_equal((uint32_t)adv.procbased, (uint32_t)hw.procbased);
	assert_int_equal((uint32_t)adv.procbased & ~(uint32_t)(adv.procbased >> 32), 0);
	/* no VMWRITE to exit-information fields; the CPU's timer rate */
	assert_false(adv.misc & (1ull << 29));
	assert_int_equal(adv.misc & 0x1f, ((hw.pinbased >> 32) & (1u << 6)) ? hw.misc & 0x1f : 0);
	/* EPT: execute-only where the CPU has it, no 5-level walks */
	assert_int_equal(adv.ept_vpid & 1, hw.ept_vpid & 1);
	assert_false(adv.ept_vpid & (1ull << 7));
	assert_true(adv.ept_vpid & (1ull << 6));
}

static void capability_msrs(void **state)
{
	(void)state;
	struct vmx_caps hw = host(), adv;
	uint64_t v;
	nvmx_advertise(&hw, &adv);
	assert_int_equal(nvmx_cap_msr(&adv, 0x480, &v), 0);
	assert_int_equal(v, adv.basic);
	/* non-TRUE controls report the default1 bits as must-be-one (A.3.1) */
	assert_int_equal(nvmx_cap_msr(&adv, 0x481, &v), 0);
	assert_int_equal((uint32_t)v & 0x16, 0x16);
	assert_int_equal(nvmx_cap_msr(&adv, 0x48d, &v), 0);
	assert_int_equal(v, adv.pinbased);
	assert_int_equal(nvmx_cap_msr(&adv, 0x48c, &v), 0);
	assert_int_equal(nvmx_cap_msr(&adv, 0x491, &v), -1);   /* VMFUNC: not offered */
	assert_int_equal(nvmx_cap_msr(&adv, 0x47f, &v), -1);
	/* without TRUE controls in BASIC, the TRUE MSRs do not exist */
	adv.basic &= ~(1ull << 55);
	assert_int_equal(nvmx_cap_msr(&adv, 0x48e, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(offers_only_what_nestor_emulates),
		cmocka_unit_test(capability_msrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
