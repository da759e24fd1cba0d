/*
 * Unit tests for vmx/nested/vmx_insn.c: every VM-instruction error number
 * from the input that must produce it, the #UD/#GP conditions, the RFLAGS
 * conventions of SDM 31.2, and the instruction-information decoding.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nvmx_insn.c vmx/nested/vmx_insn.c vmx/nested/vmcs12.c \
 *       vmx/vmcs_fields.c mm/gmem.c -lcmocka -o build/unit/test_nvmx_insn
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/nested/vmcs12.h"
#include "vmx/nested/vmx_insn.h"

static void caps_skx(struct vmx_caps *c)
{
	memset(c, 0, sizeof *c);
	c->basic = vmcs12_basic_msr(0x00d8040000000000ull | 0x2b);
	c->true_ctls = true;
	c->pinbased = 0x000000ff00000016ull;
	c->procbased = 0xfff9fffe04006172ull;
	c->procbased2 = 0x021f7fff00000000ull;
	c->exit = 0x03ffffff00036dfbull;
	c->entry = 0x0007ffff000011fbull;
	c->misc = 0x000401e5ull;                /* no VMWRITE to read-only */
	c->cr0_fixed0 = 0x80000021ull;
	c->cr0_fixed1 = 0xffffffffull;
	c->cr4_fixed0 = 0x2000ull;
	c->cr4_fixed1 = 0x007767ffull;
	c->ept_vpid = 0x00000f0106334141ull;
}

/* L1 RAM: GPA 0 .. 64 KiB.  Regions: VMXON 0x1000, A 0x2000, B 0x3000
 * (wrong revision), S 0x4000 (shadow indicator), D 0x5000 */
#define RAM_SIZE 0x10000
static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct gmem g;
static struct vmx_caps caps;
static struct nvmx_state st;
static struct nvmx_cpu cpu;

#define VMXON_PTR 0x1000ull
#define VMCS_A    0x2000ull
#define VMCS_B    0x3000ull
#define VMCS_S    0x4000ull
#define VMCS_D    0x5000ull
#define MMIO_PTR  0x20000ull
#define HOLE_PTR  0x40000ull

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof ram);
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	assert_int_equal(gmem_add(&g, MMIO_PTR, 0x1000, GMEM_MMIO, 0, 1), 0);
	*(uint32_t *)&ram[VMXON_PTR] = VMCS12_REVISION;
	*(uint32_t *)&ram[VMCS_A] = VMCS12_REVISION;
	*(uint32_t *)&ram[VMCS_B] = 0x2b;
	*(uint32_t *)&ram[VMCS_S] = VMCS12_REVISION | VMCS12_SHADOW_INDICATOR;
	*(uint32_t *)&ram[VMCS_D] = VMCS12_REVISION;
	caps_skx(&caps);
	nvmx_state_init(&st);
	memset(&cpu, 0, sizeof cpu);
	cpu.mode = NVMX_MODE_64;
	cpu.cr0 = 0x80000031ull;        /* PG NE ET PE */
	cpu.cr4 = 0x2020ull;            /* VMXE PAE */
	cpu.efer = 0x500;
	cpu.rflags = 0x2 | NVMX_RFLAGS_ARITH;   /* every flag set: see them cleared */
	cpu.feature_control = 5;
	cpu.maxphyaddr = 46;
	return 0;
}

static void check_ok(struct nvmx_result r)
{
	assert_int_equal(r.outcome, NVMX_SUCCEED);
	assert_int_equal(r.rflags, 0x2);
}

static void check_fail_invalid(struct nvmx_result r)
{
	assert_int_equal(r.outcome, NVMX_FAIL_INVALID);
	assert_int_equal(r.rflags, 0x2 | NVMX_RFLAGS_CF);
}

static void check_fail_valid(struct nvmx_result r, uint32_t err)
{
	assert_int_equal(r.outcome, NVMX_FAIL_VALID);
	assert_int_equal(r.error, err);
	assert_int_equal(r.rflags, 0x2 | NVMX_RFLAGS_ZF);
	assert_int_equal(vmcs_get(&st.vmcs12, VMCS_VM_INSTRUCTION_ERROR), err);
}

static void vmxon_ok(void)
{
	check_ok(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR));
}

static void current_a(void)
{
	vmxon_ok();
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
}

/* ---- VMXON ---- */

static void test_vmxon_faults(void **state)
{
	struct nvmx_cpu c0 = cpu;
	(void)state;
	cpu.cr4 &= ~0x2000ull;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_UD);
	cpu = c0;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, true, VMXON_PTR).outcome, NVMX_INJECT_UD);
	cpu.mode = NVMX_MODE_COMPAT;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_UD);
	cpu.mode = NVMX_MODE_V86;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_UD);
	cpu = c0;
	cpu.cr0 &= ~1ull;
	cpu.mode = NVMX_MODE_REAL;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_UD);
	cpu = c0;
	cpu.cpl = 3;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_GP0);
	cpu = c0;
	cpu.cr0 &= ~0x20ull;            /* NE is fixed to 1 */
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_GP0);
	cpu = c0;
	cpu.cr4 |= 1ull << 30;          /* not allowed by CR4_FIXED1 */
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_GP0);
	cpu = c0;
	cpu.feature_control = 4;        /* not locked */
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_GP0);
	cpu.feature_control = 1;        /* VMXON outside SMX not enabled */
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_GP0);
	cpu = c0;
	assert_false(st.vmxon);
	/* a fault leaves RFLAGS alone */
	cpu.cpl = 1;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).rflags, cpu.rflags);
}

static void test_vmxon_fail_invalid(void **state)
{
	static const uint64_t bad[] = {
		VMXON_PTR + 8,          /* not 4 KiB aligned */
		1ull << 46,             /* beyond MAXPHYADDR */
		VMCS_B,                 /* wrong revision */
		VMCS_S,                 /* shadow-VMCS indicator */
		MMIO_PTR,               /* not RAM */
		HOLE_PTR,
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		check_fail_invalid(nvmx_vmxon(&st, &cpu, &caps, &g, false, bad[i]));
		assert_false(st.vmxon);
	}
	/* IA32_VMX_BASIC bit 48: 32-bit addresses only */
	caps.basic |= 1ull << 48;
	check_fail_invalid(nvmx_vmxon(&st, &cpu, &caps, &g, false, 1ull << 32));
}

static void test_vmxon_twice(void **state)
{
	(void)state;
	vmxon_ok();
	assert_true(st.vmxon);
	assert_int_equal(st.current, NVMX_NO_VMCS);
	/* no current VMCS: VMfail(15) is VMfailInvalid */
	check_fail_invalid(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	check_fail_valid(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR), VMXERR_VMXON_IN_ROOT);
	/* in VMX operation: CPL > 0 is #GP(0) before VMfail */
	cpu.cpl = 3;
	assert_int_equal(nvmx_vmxon(&st, &cpu, &caps, &g, false, VMXON_PTR).outcome, NVMX_INJECT_GP0);
}

/* ---- outside VMX operation every other instruction is #UD ---- */

static void test_ud_outside_vmx(void **state)
{
	uint64_t d[2] = { 0, 0 };
	(void)state;
	assert_int_equal(nvmx_vmxoff(&st, &cpu, &caps, &g).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_A).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmptrst(&st, &cpu, &caps, false).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RIP).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmwrite(&st, &cpu, &caps, VMCS_GUEST_RIP, 0).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmentry(&st, &cpu, &caps, true).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_invept(&st, &cpu, &caps, false, 2, d).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_invvpid(&st, &cpu, &caps, false, 2, d).outcome, NVMX_INJECT_UD);
}

static void test_mode_and_cpl(void **state)
{
	static const enum nvmx_mode ud_modes[] = { NVMX_MODE_REAL, NVMX_MODE_V86, NVMX_MODE_COMPAT };
	(void)state;
	current_a();
	for (size_t i = 0; i < 3; i++) {
		cpu.mode = ud_modes[i];
		assert_int_equal(nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RIP).outcome, NVMX_INJECT_UD);
	}
	cpu.mode = NVMX_MODE_PROT;      /* legacy protected mode is fine */
	check_ok(nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RIP));
	cpu.mode = NVMX_MODE_64;
	cpu.cpl = 3;
	assert_int_equal(nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RIP).outcome, NVMX_INJECT_GP0);
	assert_int_equal(nvmx_vmxoff(&st, &cpu, &caps, &g).outcome, NVMX_INJECT_GP0);
	cpu.cpl = 0;
	/* memory-only operands given as registers */
	assert_int_equal(nvmx_vmclear(&st, &cpu, &caps, &g, true, VMCS_A).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmptrld(&st, &cpu, &caps, &g, true, VMCS_A).outcome, NVMX_INJECT_UD);
	assert_int_equal(nvmx_vmptrst(&st, &cpu, &caps, true).outcome, NVMX_INJECT_UD);
}

/* ---- VMCLEAR: 2, 3 ---- */

static void test_vmclear_errors(void **state)
{
	(void)state;
	vmxon_ok();
	/* without a current VMCS, VMfail is VMfailInvalid */
	check_fail_invalid(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_A + 1));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	check_fail_valid(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_A + 0x800),
			 VMXERR_VMCLEAR_INVALID_ADDR);
	check_fail_valid(nvmx_vmclear(&st, &cpu, &caps, &g, false, 1ull << 50),
			 VMXERR_VMCLEAR_INVALID_ADDR);
	check_fail_valid(nvmx_vmclear(&st, &cpu, &caps, &g, false, MMIO_PTR),
			 VMXERR_VMCLEAR_INVALID_ADDR);
	check_fail_valid(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMXON_PTR),
			 VMXERR_VMCLEAR_VMXON_PTR);
	/* VMCLEAR of another VMCS: clear, current unchanged */
	*(uint32_t *)&ram[VMCS_D + VMCS12_OFF_LAUNCH] = VMCS12_LAUNCHED;
	check_ok(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_D));
	assert_int_equal(*(uint32_t *)&ram[VMCS_D + VMCS12_OFF_LAUNCH], 0);
	assert_int_equal(st.current, VMCS_A);
	/* of the current one: invalidates the pointer */
	check_ok(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_A));
	assert_int_equal(st.current, NVMX_NO_VMCS);
}

/* ---- VMPTRLD: 9, 10, 11 ---- */

static void test_vmptrld_errors(void **state)
{
	(void)state;
	current_a();
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_B + 4),
			 VMXERR_VMPTRLD_INVALID_ADDR);
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, 1ull << 46),
			 VMXERR_VMPTRLD_INVALID_ADDR);
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, MMIO_PTR),
			 VMXERR_VMPTRLD_INVALID_ADDR);
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, HOLE_PTR),
			 VMXERR_VMPTRLD_INVALID_ADDR);
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMXON_PTR),
			 VMXERR_VMPTRLD_VMXON_PTR);
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_B),
			 VMXERR_VMPTRLD_BAD_REVISION);
	assert_int_equal(st.current, VMCS_A);   /* failures change nothing */
	/* shadow indicator: fine when VMCS shadowing is advertised... */
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_S));
	assert_true(st.shadow);
	/* ... error 11 when it is not */
	caps.procbased2 &= ~(1ull << (32 + 14));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	check_fail_valid(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_S),
			 VMXERR_VMPTRLD_BAD_REVISION);
}

static void test_vmptrst(void **state)
{
	struct nvmx_result r;
	(void)state;
	vmxon_ok();
	r = nvmx_vmptrst(&st, &cpu, &caps, false);
	check_ok(r);
	assert_int_equal(r.value, ~0ull);
	assert_int_equal(r.value_bytes, 8);
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	r = nvmx_vmptrst(&st, &cpu, &caps, false);
	assert_int_equal(r.value, VMCS_A);
}

/* ---- VMREAD / VMWRITE: 12, 13; operand sizes ---- */

static void test_vmread_vmwrite(void **state)
{
	struct nvmx_result r;
	(void)state;
	vmxon_ok();
	check_fail_invalid(nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RIP));
	check_fail_invalid(nvmx_vmwrite(&st, &cpu, &caps, VMCS_GUEST_RIP, 1));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	check_fail_valid(nvmx_vmread(&st, &cpu, &caps, 0x7777), VMXERR_UNSUPPORTED_FIELD);
	check_fail_valid(nvmx_vmwrite(&st, &cpu, &caps, 0x7777, 0), VMXERR_UNSUPPORTED_FIELD);
	check_fail_valid(nvmx_vmwrite(&st, &cpu, &caps, VMCS_EXIT_QUALIFICATION, 0),
			 VMXERR_VMWRITE_READ_ONLY);
	/* 64-bit mode: encoding bits 63:32 must be 0 */
	check_fail_valid(nvmx_vmread(&st, &cpu, &caps, (1ull << 40) | VMCS_GUEST_RIP),
			 VMXERR_UNSUPPORTED_FIELD);
	check_ok(nvmx_vmwrite(&st, &cpu, &caps, VMCS_GUEST_RIP, 0x1122334455667788ull));
	r = nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RIP);
	check_ok(r);
	assert_int_equal(r.value, 0x1122334455667788ull);
	assert_int_equal(r.value_bytes, 8);
	/* 32-bit mode: the operands are 32 bits (encoding upper half ignored,
	 * value truncated, source zero-extended) */
	cpu.mode = NVMX_MODE_PROT;
	r = nvmx_vmread(&st, &cpu, &caps, (1ull << 40) | VMCS_GUEST_RIP);
	check_ok(r);
	assert_int_equal(r.value, 0x55667788);
	assert_int_equal(r.value_bytes, 4);
	check_ok(nvmx_vmwrite(&st, &cpu, &caps, VMCS_TSC_OFFSET, 0xffffffff12345678ull));
	assert_int_equal(vmcs_get(&st.vmcs12, VMCS_TSC_OFFSET), 0x12345678);
	check_ok(nvmx_vmwrite(&st, &cpu, &caps, VMCS_TSC_OFFSET | 1, 0xabcd));
	assert_int_equal(vmcs_get(&st.vmcs12, VMCS_TSC_OFFSET), 0x0000abcd12345678ull);
}

/* ---- VMLAUNCH / VMRESUME: 4, 5, 26, VMfailInvalid ---- */

static void test_vmentry(void **state)
{
	(void)state;
	vmxon_ok();
	check_fail_invalid(nvmx_vmentry(&st, &cpu, &caps, true));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	check_fail_valid(nvmx_vmentry(&st, &cpu, &caps, false), VMXERR_VMRESUME_NONLAUNCHED);
	cpu.movss_blocking = true;
	check_fail_valid(nvmx_vmentry(&st, &cpu, &caps, true), VMXERR_ENTRY_MOV_SS_BLOCKING);
	cpu.movss_blocking = false;
	assert_int_equal(nvmx_vmentry(&st, &cpu, &caps, true).outcome, NVMX_ENTER);
	nvmx_entry_done(&st);
	check_fail_valid(nvmx_vmentry(&st, &cpu, &caps, true), VMXERR_VMLAUNCH_NONCLEAR);
	assert_int_equal(nvmx_vmentry(&st, &cpu, &caps, false).outcome, NVMX_ENTER);
	/* the launch state survives VMPTRLD of another VMCS and back */
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_D));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	assert_int_equal(nvmx_vmentry(&st, &cpu, &caps, false).outcome, NVMX_ENTER);
	/* VMCLEAR makes it clear again */
	check_ok(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_A));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	assert_int_equal(nvmx_vmentry(&st, &cpu, &caps, true).outcome, NVMX_ENTER);
	/* a shadow VMCS cannot be entered */
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_S));
	check_fail_invalid(nvmx_vmentry(&st, &cpu, &caps, true));
	cpu.mode = NVMX_MODE_COMPAT;
	assert_int_equal(nvmx_vmentry(&st, &cpu, &caps, true).outcome, NVMX_INJECT_UD);
}

/* ---- the cache reaches L1 memory at VMCLEAR / VMPTRLD / VMXOFF ---- */

static void test_writeback(void **state)
{
	struct nvmx_result r;
	(void)state;
	current_a();
	check_ok(nvmx_vmwrite(&st, &cpu, &caps, VMCS_GUEST_RSP, 0xabc0));
	check_ok(nvmx_vmclear(&st, &cpu, &caps, &g, false, VMCS_A));
	assert_int_equal(*(uint64_t *)&ram[VMCS_A + 16 + 8 * VMCS_IDX_GUEST_RSP], 0xabc0);
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_A));
	r = nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RSP);
	assert_int_equal(r.value, 0xabc0);
	check_ok(nvmx_vmwrite(&st, &cpu, &caps, VMCS_GUEST_RSP, 0xdef0));
	check_ok(nvmx_vmptrld(&st, &cpu, &caps, &g, false, VMCS_D));
	assert_int_equal(*(uint64_t *)&ram[VMCS_A + 16 + 8 * VMCS_IDX_GUEST_RSP], 0xdef0);
	check_ok(nvmx_vmwrite(&st, &cpu, &caps, VMCS_GUEST_RSP, 0x1230));
	check_ok(nvmx_vmxoff(&st, &cpu, &caps, &g));
	assert_false(st.vmxon);
	assert_int_equal(*(uint64_t *)&ram[VMCS_D + 16 + 8 * VMCS_IDX_GUEST_RSP], 0x1230);
	assert_int_equal(nvmx_vmread(&st, &cpu, &caps, VMCS_GUEST_RSP).outcome, NVMX_INJECT_UD);
}

/* ---- INVEPT / INVVPID: 28 ---- */

static void test_invept(void **state)
{
	uint64_t d[2] = { 0x5000 | 0x1e, 0 };   /* WB, 4 levels */
	struct nvmx_result r;
	(void)state;
	current_a();
	r = nvmx_invept(&st, &cpu, &caps, false, 1, d);
	check_ok(r);
	assert_int_equal(r.flush, NVMX_FLUSH_EPT_SINGLE);
	assert_int_equal(r.eptp, d[0]);
	r = nvmx_invept(&st, &cpu, &caps, false, 2, d);
	check_ok(r);
	assert_int_equal(r.flush, NVMX_FLUSH_EPT_ALL);
	check_fail_valid(nvmx_invept(&st, &cpu, &caps, false, 0, d), VMXERR_INVALID_INVEPT_INVVPID);
	check_fail_valid(nvmx_invept(&st, &cpu, &caps, false, 3, d), VMXERR_INVALID_INVEPT_INVVPID);
	check_fail_valid(nvmx_invept(&st, &cpu, &caps, false, (1ull << 32) | 1, d),
			 VMXERR_INVALID_INVEPT_INVVPID);
	/* invalid EPTPs for single-context */
	{
		static const uint64_t bad[] = {
			0x5000 | 0x19,          /* memory type 1 */
			0x5000 | 0x16,          /* walk length 3 (page-walk 2) */
			0x5000 | 0x1e | 0x80,   /* bit 7 */
			(1ull << 46) | 0x1e,    /* beyond MAXPHYADDR */
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			d[0] = bad[i];
			check_fail_valid(nvmx_invept(&st, &cpu, &caps, false, 1, d),
					 VMXERR_INVALID_INVEPT_INVVPID);
		}
	}
	/* type supported only as advertised */
	caps.ept_vpid &= ~VMX_EPT_INVEPT_ALL;
	check_fail_valid(nvmx_invept(&st, &cpu, &caps, false, 2, d), VMXERR_INVALID_INVEPT_INVVPID);
	/* no INVEPT at all: #UD; register descriptor: #UD; CPL 3: #GP */
	assert_int_equal(nvmx_invept(&st, &cpu, &caps, true, 2, d).outcome, NVMX_INJECT_UD);
	cpu.cpl = 3;
	assert_int_equal(nvmx_invept(&st, &cpu, &caps, false, 2, d).outcome, NVMX_INJECT_GP0);
	cpu.cpl = 0;
	caps.ept_vpid &= ~VMX_EPT_INVEPT;
	assert_int_equal(nvmx_invept(&st, &cpu, &caps, false, 2, d).outcome, NVMX_INJECT_UD);
}

static void test_invvpid(void **state)
{
	struct nvmx_result r;
	uint64_t d[2];
	(void)state;
	current_a();
	d[0] = 5; d[1] = 0x7fff12345000ull;
	r = nvmx_invvpid(&st, &cpu, &caps, false, 0, d);
	check_ok(r);
	assert_int_equal(r.flush, NVMX_FLUSH_VPID_ADDR);
	assert_int_equal(r.vpid, 5);
	assert_int_equal(r.gla, d[1]);
	d[1] = 0x800000000000ull;       /* not canonical */
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 0, d), VMXERR_INVALID_INVEPT_INVVPID);
	d[1] = 0; d[0] = 0;             /* VPID 0 */
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 0, d), VMXERR_INVALID_INVEPT_INVVPID);
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 1, d), VMXERR_INVALID_INVEPT_INVVPID);
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 3, d), VMXERR_INVALID_INVEPT_INVVPID);
	r = nvmx_invvpid(&st, &cpu, &caps, false, 2, d);   /* all-context: VPID ignored */
	check_ok(r);
	assert_int_equal(r.flush, NVMX_FLUSH_VPID_ALL);
	d[0] = 1ull << 16;              /* reserved bits 63:16 */
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 2, d), VMXERR_INVALID_INVEPT_INVVPID);
	d[0] = 7;
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 4, d), VMXERR_INVALID_INVEPT_INVVPID);
	r = nvmx_invvpid(&st, &cpu, &caps, false, 3, d);
	assert_int_equal(r.flush, NVMX_FLUSH_VPID_SINGLE_NG);
	caps.ept_vpid &= ~(1ull << 41);
	check_fail_valid(nvmx_invvpid(&st, &cpu, &caps, false, 1, d), VMXERR_INVALID_INVEPT_INVVPID);
	caps.ept_vpid &= ~VMX_VPID_INVVPID;
	assert_int_equal(nvmx_invvpid(&st, &cpu, &caps, false, 2, d).outcome, NVMX_INJECT_UD);
}

/* ---- instruction information ---- */

static void test_decode_insn_info(void **state)
{
	struct nvmx_operand op;
	uint64_t gpr[16];
	(void)state;
	for (unsigned i = 0; i < 16; i++)
		gpr[i] = 0x1000ull * (i + 1);
	/* VMPTRLD [rbx + rsi*8 + 0x10], DS, 64-bit addresses:
	 * scale 3, addr size 2, mem, seg 3, index 6, base 3 */
	assert_true(nvmx_decode_insn_info(3u | (2u << 7) | (3u << 15) | (6u << 18) | (3u << 23),
					  0x10, &op));
	assert_false(op.is_reg);
	assert_int_equal(op.scale, 8);
	assert_int_equal(op.addr_bits, 64);
	assert_int_equal(op.seg, NVMX_SEG_DS);
	assert_true(op.has_index && op.has_base);
	assert_int_equal(nvmx_operand_offset(&op, gpr), 0x4000 + 0x7000 * 8 + 0x10);
	/* no index (bit 22), no base (bit 27), negative displacement */
	assert_true(nvmx_decode_insn_info((2u << 7) | (1u << 22) | (1u << 27) | (5u << 15),
					  (uint64_t)-16, &op));
	assert_false(op.has_index || op.has_base);
	assert_int_equal(op.seg, NVMX_SEG_GS);
	assert_int_equal(nvmx_operand_linear(&op, gpr, 0x100000, true), 0x100000 - 16);
	/* 32-bit address size wraps at 4 GiB */
	assert_true(nvmx_decode_insn_info((1u << 7) | (1u << 22) | (0u << 23), 0xfffffff0ull, &op));
	assert_int_equal(nvmx_operand_offset(&op, gpr), (0x1000 + 0xfffffff0ull) & 0xffffffffull);
	/* 16-bit */
	assert_true(nvmx_decode_insn_info((0u << 7) | (1u << 22) | (1u << 27), 0x12345, &op));
	assert_int_equal(nvmx_operand_offset(&op, gpr), 0x2345);
	/* VMREAD rax <- rcx: reg operand, reg1 0, reg2 1 */
	assert_true(nvmx_decode_insn_info((1u << 10) | (0u << 3) | (1u << 28) | (2u << 7), 0, &op));
	assert_true(op.is_reg);
	assert_int_equal(op.reg1, 0);
	assert_int_equal(op.reg2, 1);
	/* reserved encodings */
	assert_false(nvmx_decode_insn_info(3u << 7, 0, &op));
	assert_false(nvmx_decode_insn_info((2u << 7) | (6u << 15), 0, &op));
	/* outside 64-bit mode the linear address is 32 bits */
	assert_true(nvmx_decode_insn_info((1u << 7) | (1u << 22) | (1u << 27), 0x10, &op));
	assert_int_equal(nvmx_operand_linear(&op, gpr, 0xfffffff8ull, false), 0x8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_vmxon_faults, setup),
		cmocka_unit_test_setup(test_vmxon_fail_invalid, setup),
		cmocka_unit_test_setup(test_vmxon_twice, setup),
		cmocka_unit_test_setup(test_ud_outside_vmx, setup),
		cmocka_unit_test_setup(test_mode_and_cpl, setup),
		cmocka_unit_test_setup(test_vmclear_errors, setup),
		cmocka_unit_test_setup(test_vmptrld_errors, setup),
		cmocka_unit_test_setup(test_vmptrst, setup),
		cmocka_unit_test_setup(test_vmread_vmwrite, setup),
		cmocka_unit_test_setup(test_vmentry, setup),
		cmocka_unit_test_setup(test_writeback, setup),
		cmocka_unit_test_setup(test_invept, setup),
		cmocka_unit_test_setup(test_invvpid, setup),
		cmocka_unit_test_setup(test_decode_insn_info, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
