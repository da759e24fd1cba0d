/*
 * Unit tests for vmx/nested/vmcs02_merge.c: vmcs02 field by field from a
 * vmcs12 and a vmcs01, the way back into vmcs12, and L1's host state.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nvmx_merge.c vmx/nested/vmcs02_merge.c vmx/vmcs_fields.c \
 *       mm/gmem.c -lcmocka -o build/unit/test_nvmx_merge
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/nested/nvmx_arch.h"
#include "vmx/nested/vmcs02_merge.h"

static uint8_t ram[0x4000] __attribute__((aligned(4096)));
static uint8_t l0_io_a[4096], l0_io_b[4096], l0_msr[4096];
static uint8_t io_a[4096], io_b[4096], msr[4096];
static struct gmem g;
static struct vmx_caps hw;
static struct vmcs02_l0 l0;
static struct vmcs_image v01, v12, v02;
static struct vmcs02_info info;

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof ram);
	memset(l0_io_a, 0, 4096); memset(l0_io_b, 0, 4096); memset(l0_msr, 0, 4096);
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, sizeof ram, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	memset(&hw, 0, sizeof hw);
	hw.pinbased = 0x000000ff00000016ull;
	hw.procbased = 0xfff9fffe04006172ull;
	hw.procbased2 = 0x021f7fff00000000ull;
	hw.exit = 0x03ffffff00036dfbull;
	hw.entry = 0x0007ffff000011fbull;
	hw.cr0_fixed0 = 0x80000021ull; hw.cr0_fixed1 = 0xffffffffull;
	hw.cr4_fixed0 = 0x2000ull; hw.cr4_fixed1 = 0x007767ffull;
	hw.procbased2 |= 1ull << (32 + 25);     /* TSC scaling */
	memset(&l0, 0, sizeof l0);
	l0.proc = NVMX_PROC_HLT;
	l0.proc2 = NVMX_PROC2_EPT | NVMX_PROC2_VPID;
	l0.exit = NVMX_EXIT_HOST_64 | NVMX_EXIT_LOAD_EFER;
	l0.exception_bitmap = 1u << 18;
	l0.cr0_mask = 0x20; l0.cr4_mask = 0x2000;
	l0.tsc_offset = 1000;
	l0.vpid02 = 9; l0.eptp02 = 0xabc01e;
	l0.l0_io_a = l0_io_a; l0.l0_io_b = l0_io_b; l0.l0_msr = l0_msr;
	l0.io_a = io_a; l0.io_b = io_b; l0.msr = msr;
	l0.io_a_hpa = 0x111000; l0.io_b_hpa = 0x112000; l0.msr_hpa = 0x113000;
	memset(&v01, 0, sizeof v01);
	memset(&v12, 0, sizeof v12);
	vmcs_set(&v01, VMCS_HOST_RIP, 0xffff800000001000ull);
	vmcs_set(&v01, VMCS_HOST_CR3, 0x9000);
	vmcs_set(&v01, VMCS_GUEST_IA32_EFER, 0xd01);    /* L1: NXE SCE LMA LME */
	vmcs_set(&v01, VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
	vmcs_set(&v01, VMCS_GUEST_DR7, 0x401);
	vmcs_set(&v12, VMCS_GUEST_RIP, 0x7c00);
	vmcs_set(&v12, VMCS_GUEST_CS_SELECTOR, 0x10);
	vmcs_set(&v12, VMCS_GUEST_CR0, 0x80000031ull);
	vmcs_set(&v12, VMCS_GUEST_CR4, 0x2020ull);
	vmcs_set(&v12, VMCS_VMCS_LINK_POINTER, ~0ull);
	vmcs_set(&v12, VMCS_IO_BITMAP_A, 0x1000);
	vmcs_set(&v12, VMCS_IO_BITMAP_B, 0x2000);
	vmcs_set(&v12, VMCS_MSR_BITMAP, 0x3000);
	return 0;
}

static uint64_t get(const struct vmcs_image *v, uint32_t enc) { return vmcs_get(v, enc); }

static void merge(void) { vmcs02_merge(&v02, &v12, &v01, &l0, &hw, &g, &info); }

static void test_controls(void **state)
{
	uint32_t proc, proc2;
	(void)state;
	vmcs_set(&v12, VMCS_PIN_BASED_CONTROLS, NVMX_PIN_EXTINT | NVMX_PIN_POSTED);
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_RDTSC | NVMX_PROC_UNCOND_IO |
		 NVMX_PROC_SECONDARY | NVMX_PROC_TPR_SHADOW);
	vmcs_set(&v12, VMCS_SECONDARY_CONTROLS, NVMX_PROC2_UG | NVMX_PROC2_EPT |
		 NVMX_PROC2_SHADOW_VMCS);
	merge();
	/* pin: L1's external-interrupt exiting, not posted interrupts; the
	 * CPU's required bits 1, 2, 4 */
	assert_int_equal(get(&v02, VMCS_PIN_BASED_CONTROLS), 0x17);
	proc = (uint32_t)get(&v02, VMCS_PROC_BASED_CONTROLS);
	assert_true(proc & NVMX_PROC_RDTSC);            /* L1's */
	assert_true(proc & NVMX_PROC_HLT);              /* L0's */
	assert_false(proc & NVMX_PROC_UNCOND_IO);       /* became the bitmap */
	assert_true(proc & NVMX_PROC_IO_BITMAPS);
	assert_true(proc & NVMX_PROC_MSR_BITMAPS);
	assert_false(proc & NVMX_PROC_TPR_SHADOW);
	assert_true(proc & NVMX_PROC_SECONDARY);
	assert_int_equal(proc & 0x04006172u, 0x04006172u); /* CPU's required bits */
	proc2 = (uint32_t)get(&v02, VMCS_SECONDARY_CONTROLS);
	assert_int_equal(proc2, NVMX_PROC2_EPT | NVMX_PROC2_VPID | NVMX_PROC2_UG);
	assert_int_equal(get(&v02, VMCS_VPID), 9);
	assert_int_equal(get(&v02, VMCS_EPT_POINTER), 0xabc01e);
	/* exit: L0's host side + save bits; entry: always load */
	assert_true(get(&v02, VMCS_EXIT_CONTROLS) & NVMX_EXIT_HOST_64);
	assert_true(get(&v02, VMCS_EXIT_CONTROLS) & NVMX_EXIT_SAVE_EFER);
	assert_true(get(&v02, VMCS_ENTRY_CONTROLS) & NVMX_ENTRY_LOAD_EFER);
	assert_false(get(&v02, VMCS_ENTRY_CONTROLS) & NVMX_ENTRY_IA32E);
	/* every control word is one the CPU accepts */
	assert_true(vmx_ctl_ok(hw.pinbased, (uint32_t)get(&v02, VMCS_PIN_BASED_CONTROLS)));
	assert_true(vmx_ctl_ok(hw.procbased, proc));
	assert_true(vmx_ctl_ok(hw.exit, (uint32_t)get(&v02, VMCS_EXIT_CONTROLS)));
	assert_true(vmx_ctl_ok(hw.entry, (uint32_t)get(&v02, VMCS_ENTRY_CONTROLS)));
	/* unconditional I/O exiting: merged I/O bitmaps all ones */
	assert_int_equal(io_a[0], 0xff);
	assert_int_equal(io_b[4095], 0xff);
	/* no MSR bitmaps in vmcs12: all MSRs exit */
	assert_int_equal(msr[100], 0xff);
	assert_int_equal(get(&v02, VMCS_IO_BITMAP_A), 0x111000);
	assert_int_equal(get(&v02, VMCS_MSR_BITMAP), 0x113000);
}

static void test_bitmaps(void **state)
{
	(void)state;
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_IO_BITMAPS | NVMX_PROC_MSR_BITMAPS);
	ram[0x1000 + 0x60 / 8] = 1;             /* L1 port 0x60 */
	l0_io_a[0x3f8 / 8] = 1;                  /* L0 port 0x3f8 */
	ram[0x3000 + 2048 + 0x10] = 0x80;        /* L1 write MSR 0x87 */
	l0_msr[1024 + 0x10] = 0x01;              /* L0 read MSR 0xc0000080 */
	merge();
	assert_int_equal(io_a[0x60 / 8], 1);
	assert_int_equal(io_a[0x3f8 / 8], 1);
	assert_int_equal(io_a[1], 0);
	assert_int_equal(io_b[0], 0);
	assert_int_equal(msr[2048 + 0x10], 0x80);
	assert_int_equal(msr[1024 + 0x10], 0x01);
	assert_int_equal(msr[0], 0);
	/* L1's bitmap outside its RAM: all ones */
	vmcs_set(&v12, VMCS_MSR_BITMAP, 0x100000);
	merge();
	assert_int_equal(msr[0], 0xff);
}

/* The shortcuts for an L0 that intercepts every port and all but a few
 * MSRs: vmcs02 points at L0's I/O bitmaps, and only the passed MSRs' bits
 * of the merged MSR bitmap follow L1's. */
static void test_bitmap_shortcuts(void **state)
{
	(void)state;
	static const uint32_t pass[] = { 0xc0000100, 0x174 };
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_IO_BITMAPS | NVMX_PROC_MSR_BITMAPS);
	memset(msr, 0xff, 4096);
	ram[0x3000 + 1024 + 0x100 / 8] = 1u << (0x100 % 8);    /* L1 reads of FS_BASE exit */
	l0.io_all_hpa = 0x222000;
	l0.msr_pass = pass;
	l0.msr_pass_count = 2;
	io_a[5] = 0x5a;
	merge();
	assert_int_equal(get(&v02, VMCS_IO_BITMAP_A), 0x222000);
	assert_int_equal(get(&v02, VMCS_IO_BITMAP_B), 0x223000);
	assert_int_equal(io_a[5], 0x5a);                         /* not touched */
	assert_true(msr[1024 + 0x100 / 8] & (1u << (0x100 % 8)));  /* FS_BASE read: L1's */
	assert_false(msr[3072 + 0x100 / 8] & (1u << (0x100 % 8))); /* FS_BASE write: passes */
	assert_false(msr[0x174 / 8] & (1u << (0x174 % 8)));        /* SYSENTER_CS read */
	assert_int_equal(msr[0], 0xff);                            /* the rest: all exit */
	/* L1 without MSR bitmaps: every MSR exits, the passed ones too */
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_IO_BITMAPS);
	merge();
	assert_true(msr[3072 + 0x100 / 8] & (1u << (0x100 % 8)));
	l0.io_all_hpa = 0;
	l0.msr_pass = NULL;
	l0.msr_pass_count = 0;
}

static void test_exceptions_pf(void **state)
{
	(void)state;
	vmcs_set(&v12, VMCS_EXCEPTION_BITMAP, (1u << 14) | (1u << 6));
	vmcs_set(&v12, VMCS_PF_ERROR_CODE_MASK, 2);
	vmcs_set(&v12, VMCS_PF_ERROR_CODE_MATCH, 2);
	merge();        /* L0 does not intercept #PF: L1's rule as is */
	assert_int_equal(get(&v02, VMCS_EXCEPTION_BITMAP), (1u << 18) | (1u << 14) | (1u << 6));
	assert_int_equal(get(&v02, VMCS_PF_ERROR_CODE_MASK), 2);
	assert_int_equal(get(&v02, VMCS_PF_ERROR_CODE_MATCH), 2);
	l0.exception_bitmap |= 1u << 14;        /* L0 takes every #PF */
	merge();
	assert_true(get(&v02, VMCS_EXCEPTION_BITMAP) & (1u << 14));
	assert_int_equal(get(&v02, VMCS_PF_ERROR_CODE_MASK), 0);
	assert_int_equal(get(&v02, VMCS_PF_ERROR_CODE_MATCH), 0);
	/* L1 bit 14 = 0 with mask/match: kept (#PF exits when unequal) */
	l0.exception_bitmap = 0;
	vmcs_set(&v12, VMCS_EXCEPTION_BITMAP, 0);
	merge();
	assert_int_equal(get(&v02, VMCS_EXCEPTION_BITMAP), 0);
	assert_int_equal(get(&v02, VMCS_PF_ERROR_CODE_MATCH), 2);
}

static void test_cr_masks_shadows(void **state)
{
	(void)state;
	/* L1 owns TS (bit 3) with shadow TS=1; L2 runs with TS=0 */
	vmcs_set(&v12, VMCS_CR0_GUEST_HOST_MASK, 0x8);
	vmcs_set(&v12, VMCS_CR0_READ_SHADOW, 0x8);
	vmcs_set(&v12, VMCS_GUEST_CR0, 0x80000011ull);  /* NE clear for L2 */
	merge();
	/* mask = L0 (NE) | L1 (TS) | forced (PG NE PE) */
	assert_int_equal(get(&v02, VMCS_CR0_GUEST_HOST_MASK), 0x80000029ull);
	/* shadow: TS from L1's shadow, the rest L2's own value (NE = 0) */
	assert_int_equal(get(&v02, VMCS_CR0_READ_SHADOW), 0x80000019ull);
	/* the real CR0 has NE forced */
	assert_int_equal(get(&v02, VMCS_GUEST_CR0), 0x80000031ull);
	/* unrestricted guest: PE/PG not forced */
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_SECONDARY);
	vmcs_set(&v12, VMCS_SECONDARY_CONTROLS, NVMX_PROC2_UG);
	vmcs_set(&v12, VMCS_GUEST_CR0, 0x10ull);
	merge();
	assert_int_equal(get(&v02, VMCS_GUEST_CR0), 0x30ull);
	assert_int_equal(get(&v02, VMCS_CR0_READ_SHADOW), 0x18ull);
	/* CR4: VMXE forced and owned; shadow shows L2's 0 */
	vmcs_set(&v12, VMCS_GUEST_CR4, 0x20);
	merge();
	assert_int_equal(get(&v02, VMCS_GUEST_CR4), 0x2020);
	assert_int_equal(get(&v02, VMCS_CR4_READ_SHADOW), 0x20);
	/* round trip: after an exit vmcs12 sees L2's own CR0/CR4 */
	{
		struct nvmx_exit e;
		memset(&e, 0, sizeof e);
		vmcs02_exit_to_vmcs12(&v12, &v02, &e, &info);
		assert_int_equal(get(&v12, VMCS_GUEST_CR0), 0x10ull);
		assert_int_equal(get(&v12, VMCS_GUEST_CR4), 0x20ull);
	}
}

static void test_tsc(void **state)
{
	uint64_t m, o;
	(void)state;
	/* without L1 offsetting L2 sees L1's TSC */
	merge();
	assert_int_equal(get(&v02, VMCS_TSC_OFFSET), 1000);
	/* offsets add */
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_TSC_OFFSET);
	vmcs_set(&v12, VMCS_TSC_OFFSET, (uint64_t)-300);
	merge();
	assert_int_equal(get(&v02, VMCS_TSC_OFFSET), 700);
	assert_true(get(&v02, VMCS_PROC_BASED_CONTROLS) & NVMX_PROC_TSC_OFFSET);
	/* scaling: m12 = 2.0, o01 = 1000 -> o02 = 2000 + o12 */
	vmcs_set(&v12, VMCS_PROC_BASED_CONTROLS, NVMX_PROC_TSC_OFFSET | NVMX_PROC_SECONDARY);
	vmcs_set(&v12, VMCS_SECONDARY_CONTROLS, NVMX_PROC2_TSC_SCALING);
	vmcs_set(&v12, VMCS_TSC_MULTIPLIER, 2ull << 48);
	merge();
	assert_int_equal(get(&v02, VMCS_TSC_MULTIPLIER), 2ull << 48);
	assert_int_equal(get(&v02, VMCS_TSC_OFFSET), 2000 - 300);
	assert_true(get(&v02, VMCS_SECONDARY_CONTROLS) & NVMX_PROC2_TSC_SCALING);
	/* combine: 0.5 * 3.0 = 1.5; negative offsets scale symmetrically */
	vmcs02_tsc_combine(1ull << 47, (uint64_t)-1000, 3ull << 48, 5, &m, &o);
	assert_int_equal(m, 3ull << 47);
	assert_int_equal(o, (uint64_t)-2995);
	vmcs02_tsc_combine(0, 7, 0, 8, &m, &o);
	assert_int_equal(m, 1ull << 48);
	assert_int_equal(o, 15);
}

static void test_preemption_timer(void **state)
{
	struct nvmx_exit e;
	(void)state;
	memset(&e, 0, sizeof e);
	vmcs_set(&v12, VMCS_PIN_BASED_CONTROLS, NVMX_PIN_PREEMPT);
	vmcs_set(&v12, VMCS_EXIT_CONTROLS, NVMX_EXIT_SAVE_PREEMPT);
	vmcs_set(&v12, VMCS_PREEMPTION_TIMER_VALUE, 500);
	merge();
	assert_true(get(&v02, VMCS_PIN_BASED_CONTROLS) & NVMX_PIN_PREEMPT);
	assert_int_equal(get(&v02, VMCS_PREEMPTION_TIMER_VALUE), 500);
	assert_true(info.l1_timer);
	/* as a deadline: rate 5, one unit per 32 TSC ticks from the entry */
	uint64_t d = vmcs02_l1_timer_deadline(500, 5, 1000);
	assert_int_equal(d, 1000 + 500 * 32);
	assert_int_equal(vmcs02_l1_timer_left(d, 5, 1000 + 150 * 32), 350);
	assert_int_equal(vmcs02_l1_timer_left(d, 5, d - 31), 0);   /* less than a unit: expired */
	assert_int_equal(vmcs02_l1_timer_left(d, 5, d + 5), 0);
	/* an exit with 350 left (L0's slice ended first): saved for L1, not L1's expiry */
	info.l1_timer_left = 350;
	assert_false(vmcs02_l1_timer_expired(&info, VMX_EXIT_PREEMPTION_TIMER));
	vmcs02_exit_to_vmcs12(&v12, &v02, &e, &info);
	assert_int_equal(get(&v12, VMCS_PREEMPTION_TIMER_VALUE), 350);
	/* nothing left: the timer exit is L1's */
	info.l1_timer_left = 0;
	assert_true(vmcs02_l1_timer_expired(&info, VMX_EXIT_PREEMPTION_TIMER));
	assert_false(vmcs02_l1_timer_expired(&info, VMX_EXIT_HLT));
	/* without "save VMX-preemption timer value", vmcs12 keeps L1's value */
	vmcs_set(&v12, VMCS_EXIT_CONTROLS, 0);
	vmcs_set(&v12, VMCS_PREEMPTION_TIMER_VALUE, 500);
	info.l1_timer_left = 7;
	vmcs02_exit_to_vmcs12(&v12, &v02, &e, &info);
	assert_int_equal(get(&v12, VMCS_PREEMPTION_TIMER_VALUE), 500);
	/* L1 without the timer */
	vmcs_set(&v12, VMCS_PIN_BASED_CONTROLS, 0);
	merge();
	assert_false(info.l1_timer);
	assert_false(vmcs02_l1_timer_expired(&info, VMX_EXIT_PREEMPTION_TIMER));
}

static void test_guest_host_state(void **state)
{
	(void)state;
	vmcs_set(&v12, VMCS_ENTRY_INTR_INFO, 0x80000b0e);
	vmcs_set(&v12, VMCS_ENTRY_EXCEPTION_ERROR_CODE, 4);
	vmcs_set(&v12, VMCS_ENTRY_INSTRUCTION_LEN, 2);
	vmcs_set(&v12, VMCS_CR3_TARGET_COUNT, 1);
	vmcs_set(&v12, VMCS_CR3_TARGET0, 0x4000);
	vmcs_set(&v12, VMCS_VMCS_LINK_POINTER, 0x5000);
	vmcs_set(&v12, VMCS_ENTRY_CONTROLS, NVMX_ENTRY_IA32E);
	merge();
	assert_int_equal(get(&v02, VMCS_GUEST_RIP), 0x7c00);
	assert_int_equal(get(&v02, VMCS_GUEST_CS_SELECTOR), 0x10);
	assert_int_equal(get(&v02, VMCS_VMCS_LINK_POINTER), ~0ull);
	assert_int_equal(get(&v02, VMCS_HOST_RIP), 0xffff800000001000ull);
	assert_int_equal(get(&v02, VMCS_HOST_CR3), 0x9000);
	assert_int_equal(get(&v02, VMCS_ENTRY_INTR_INFO), 0x80000b0e);
	assert_int_equal(get(&v02, VMCS_ENTRY_EXCEPTION_ERROR_CODE), 4);
	assert_int_equal(get(&v02, VMCS_ENTRY_INSTRUCTION_LEN), 2);
	assert_int_equal(get(&v02, VMCS_CR3_TARGET_COUNT), 1);
	assert_int_equal(get(&v02, VMCS_CR3_TARGET0), 0x4000);
	assert_int_equal(get(&v02, VMCS_EXIT_MSR_LOAD_COUNT), 0);
	/* not loaded by L1: L1's EFER with LMA/LME from IA-32e mode guest,
	 * L1's PAT, DR7 */
	assert_int_equal(get(&v02, VMCS_GUEST_IA32_EFER), 0xd01);
	assert_int_equal(get(&v02, VMCS_GUEST_IA32_PAT), 0x0007040600070406ull);
	assert_int_equal(get(&v02, VMCS_GUEST_DR7), 0x401);
	assert_true(get(&v02, VMCS_ENTRY_CONTROLS) & NVMX_ENTRY_IA32E);
	vmcs_set(&v12, VMCS_ENTRY_CONTROLS, 0);
	merge();
	assert_int_equal(get(&v02, VMCS_GUEST_IA32_EFER), 0x801);  /* LMA, LME off */
	/* loaded by L1: vmcs12's */
	vmcs_set(&v12, VMCS_ENTRY_CONTROLS, NVMX_ENTRY_LOAD_EFER | NVMX_ENTRY_LOAD_DEBUG);
	vmcs_set(&v12, VMCS_GUEST_IA32_EFER, 0x1);
	vmcs_set(&v12, VMCS_GUEST_DR7, 0x400);
	merge();
	assert_int_equal(get(&v02, VMCS_GUEST_IA32_EFER), 0x1);
	assert_int_equal(get(&v02, VMCS_GUEST_DR7), 0x400);
	/* L0 needs CR3-load exiting: no targets */
	l0.proc |= NVMX_PROC_CR3_LOAD;
	merge();
	assert_int_equal(get(&v02, VMCS_CR3_TARGET_COUNT), 0);
}

static void test_exit_to_vmcs12(void **state)
{
	struct nvmx_exit e;
	(void)state;
	vmcs_set(&v12, VMCS_ENTRY_CONTROLS, NVMX_ENTRY_IA32E);
	vmcs_set(&v12, VMCS_ENTRY_INTR_INFO, 0x80000b0e);
	vmcs_set(&v12, VMCS_GUEST_IA32_PAT, 0x1234);
	merge();
	/* L2 ran: new RIP, EFER without LMA (left long mode) */
	vmcs_set(&v02, VMCS_GUEST_RIP, 0x7c10);
	vmcs_set(&v02, VMCS_GUEST_IA32_EFER, 0x100);
	vmcs_set(&v02, VMCS_GUEST_IA32_PAT, 0x5678);
	memset(&e, 0, sizeof e);
	e.reason = VMX_EXIT_CPUID; e.qual = 0; e.insn_len = 2;
	e.gpa = 0x1000; e.gla = 0x2000; e.intr_info = 0x80000306; e.intr_error = 1;
	e.idt_info = 0x80000020; e.idt_error = 3; e.insn_info = 0x44;
	vmcs02_exit_to_vmcs12(&v12, &v02, &e, &info);
	assert_int_equal(get(&v12, VMCS_EXIT_REASON), VMX_EXIT_CPUID);
	assert_int_equal(get(&v12, VMCS_EXIT_INSTRUCTION_LEN), 2);
	assert_int_equal(get(&v12, VMCS_GUEST_PHYSICAL_ADDRESS), 0x1000);
	assert_int_equal(get(&v12, VMCS_GUEST_LINEAR_ADDRESS), 0x2000);
	assert_int_equal(get(&v12, VMCS_EXIT_INTR_INFO), 0x80000306);
	assert_int_equal(get(&v12, VMCS_EXIT_INTR_ERROR_CODE), 1);
	assert_int_equal(get(&v12, VMCS_IDT_VECTORING_INFO), 0x80000020);
	assert_int_equal(get(&v12, VMCS_IDT_VECTORING_ERROR_CODE), 3);
	assert_int_equal(get(&v12, VMCS_VMX_INSTRUCTION_INFO), 0x44);
	assert_int_equal(get(&v12, VMCS_GUEST_RIP), 0x7c10);
	assert_int_equal(get(&v12, VMCS_VMCS_LINK_POINTER), ~0ull);    /* L1's kept */
	assert_false(get(&v12, VMCS_ENTRY_CONTROLS) & NVMX_ENTRY_IA32E); /* := LMA */
	assert_false(get(&v12, VMCS_ENTRY_INTR_INFO) & NVMX_INTR_VALID);
	/* not saved: L1's exit controls do not save EFER/PAT */
	assert_int_equal(get(&v12, VMCS_GUEST_IA32_PAT), 0x1234);
	vmcs_set(&v12, VMCS_EXIT_CONTROLS, NVMX_EXIT_SAVE_PAT | NVMX_EXIT_SAVE_EFER);
	vmcs02_exit_to_vmcs12(&v12, &v02, &e, &info);
	assert_int_equal(get(&v12, VMCS_GUEST_IA32_PAT), 0x5678);
	assert_int_equal(get(&v12, VMCS_GUEST_IA32_EFER), 0x100);
	/* VM-entry failure */
	vmcs02_entry_fail_to_vmcs12(&v12, VMX_EXIT_ENTRY_FAIL_GUEST, 2);
	assert_int_equal(get(&v12, VMCS_EXIT_REASON), 0x80000021u);
	assert_int_equal(get(&v12, VMCS_EXIT_QUALIFICATION), 2);
}

static void test_load_host_state(void **state)
{
	struct vmx_caps adv = hw;
	(void)state;
	vmcs_set(&v12, VMCS_EXIT_CONTROLS, NVMX_EXIT_HOST_64);
	vmcs_set(&v12, VMCS_HOST_CR0, 0x80000033ull);   /* MP too; ET changes ignored */
	vmcs_set(&v12, VMCS_HOST_CR3, 0x55000);
	vmcs_set(&v12, VMCS_HOST_CR4, 0x2000);          /* PAE missing: set anyway */
	vmcs_set(&v12, VMCS_HOST_RIP, 0xffffffff81000000ull);
	vmcs_set(&v12, VMCS_HOST_RSP, 0xffffc90000010000ull);
	vmcs_set(&v12, VMCS_HOST_CS_SELECTOR, 0x10);
	vmcs_set(&v12, VMCS_HOST_SS_SELECTOR, 0x18);
	vmcs_set(&v12, VMCS_HOST_DS_SELECTOR, 0);
	vmcs_set(&v12, VMCS_HOST_TR_SELECTOR, 0x40);
	vmcs_set(&v12, VMCS_HOST_TR_BASE, 0xfffffe0000001000ull);
	vmcs_set(&v12, VMCS_HOST_FS_BASE, 0x7f0000);
	vmcs_set(&v12, VMCS_HOST_GDTR_BASE, 0xfffffe0000000000ull);
	vmcs_set(&v12, VMCS_HOST_IA32_SYSENTER_EIP, 0xabc);
	vmcs_set(&v01, VMCS_GUEST_CR0, 0x80000031ull | (1ull << 30)); /* L1 had CD */
	vmcs_set(&v01, VMCS_GUEST_CR4, 0x2020);
	vmcs_set(&v01, VMCS_GUEST_INTERRUPTIBILITY, 0xb);  /* STI, MOV-SS, NMI */
	vmcs_set(&v01, VMCS_GUEST_IA32_EFER, 0x1);
	vmcs02_load_l1_host_state(&v01, &v12, &adv);
	assert_int_equal(get(&v01, VMCS_GUEST_CR0), 0x80000033ull | (1ull << 30)); /* CD kept */
	assert_int_equal(get(&v01, VMCS_GUEST_CR3), 0x55000);
	assert_int_equal(get(&v01, VMCS_GUEST_CR4), 0x2020);
	assert_int_equal(get(&v01, VMCS_GUEST_RIP), 0xffffffff81000000ull);
	assert_int_equal(get(&v01, VMCS_GUEST_RSP), 0xffffc90000010000ull);
	assert_int_equal(get(&v01, VMCS_GUEST_RFLAGS), 2);
	assert_int_equal(get(&v01, VMCS_GUEST_DR7), 0x400);
	assert_int_equal(get(&v01, VMCS_GUEST_IA32_EFER), 0x501);  /* LMA|LME|SCE */
	assert_int_equal(get(&v01, VMCS_GUEST_CS_AR), 0xa09b);
	assert_int_equal(get(&v01, VMCS_GUEST_SS_AR), 0xc093);
	assert_int_equal(get(&v01, VMCS_GUEST_DS_AR), 0x10000);    /* null: unusable */
	assert_int_equal(get(&v01, VMCS_GUEST_FS_BASE), 0x7f0000);
	assert_int_equal(get(&v01, VMCS_GUEST_TR_AR), 0x8b);
	assert_int_equal(get(&v01, VMCS_GUEST_TR_LIMIT), 0x67);
	assert_int_equal(get(&v01, VMCS_GUEST_TR_BASE), 0xfffffe0000001000ull);
	assert_int_equal(get(&v01, VMCS_GUEST_LDTR_AR), 0x10000);
	assert_int_equal(get(&v01, VMCS_GUEST_GDTR_LIMIT), 0xffff);
	assert_int_equal(get(&v01, VMCS_GUEST_IA32_SYSENTER_EIP), 0xabc);
	assert_int_equal(get(&v01, VMCS_GUEST_INTERRUPTIBILITY), 0x8);
	assert_true(get(&v01, VMCS_ENTRY_CONTROLS) & NVMX_ENTRY_IA32E);
	/* with "load IA32_EFER" the whole MSR comes from the host field */
	vmcs_set(&v12, VMCS_EXIT_CONTROLS, NVMX_EXIT_HOST_64 | NVMX_EXIT_LOAD_EFER);
	vmcs_set(&v12, VMCS_HOST_IA32_EFER, 0xd01);
	vmcs02_load_l1_host_state(&v01, &v12, &adv);
	assert_int_equal(get(&v01, VMCS_GUEST_IA32_EFER), 0xd01);
	assert_true(vmcs02_l1_state_count > 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_controls, setup),
		cmocka_unit_test_setup(test_bitmaps, setup),
		cmocka_unit_test_setup(test_bitmap_shortcuts, setup),
		cmocka_unit_test_setup(test_exceptions_pf, setup),
		cmocka_unit_test_setup(test_cr_masks_shadows, setup),
		cmocka_unit_test_setup(test_tsc, setup),
		cmocka_unit_test_setup(test_preemption_timer, setup),
		cmocka_unit_test_setup(test_guest_host_state, setup),
		cmocka_unit_test_setup(test_exit_to_vmcs12, setup),
		cmocka_unit_test_setup(test_load_host_state, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
