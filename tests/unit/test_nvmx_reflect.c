/*
 * Unit tests for vmx/nested/exit_reflect.c: one or more cases per class of
 * exit, and every table row driven by its own control bit.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_nvmx_reflect.c vmx/nested/exit_reflect.c vmx/vmcs_fields.c \
 *       mm/gmem.c -lcmocka -o build/unit/test_nvmx_reflect
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/nested/exit_reflect.h"

static uint8_t ram[0x4000] __attribute__((aligned(4096)));
static struct gmem g;
static struct vmcs_image v12;
static struct nvmx_reflect_ctx ctx;

#define IO_A   0x1000ull
#define IO_B   0x2000ull
#define MSRBM  0x3000ull

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof ram);
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, sizeof ram, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
	memset(&v12, 0, sizeof v12);
	memset(&ctx, 0, sizeof ctx);
	vmcs_set(&v12, VMCS_IO_BITMAP_A, IO_A);
	vmcs_set(&v12, VMCS_IO_BITMAP_B, IO_B);
	vmcs_set(&v12, VMCS_MSR_BITMAP, MSRBM);
	return 0;
}

static bool reflect(uint32_t reason, uint64_t qual, uint32_t intr_info, uint32_t err)
{
	struct nvmx_exit e;
	memset(&e, 0, sizeof e);
	e.reason = reason;
	e.qual = qual;
	e.intr_info = intr_info;
	e.intr_error = err;
	return nvmx_reflect_exit_to_l1(&v12, &e, &ctx, &g);
}

static void set32(uint32_t enc, uint32_t v) { vmcs_set(&v12, enc, v); }

/* Every PIN/PROC/PROC2 row: not reflected with the bit clear, reflected
 * with it set; every ALWAYS row reflected; every L0 row never. */
static void test_table_rows(void **state)
{
	(void)state;
	for (unsigned r = 0; r < NVMX_REFLECT_REASONS; r++) {
		const struct nvmx_reflect_rule *row = &nvmx_reflect_table[r];
		setup(NULL);
		switch (row->how) {
		case NVMX_R_ALWAYS:
			assert_true(reflect(r, 0, 0, 0));
			break;
		case NVMX_R_L0:
			set32(VMCS_PIN_BASED_CONTROLS, ~0u);
			set32(VMCS_PROC_BASED_CONTROLS, ~0u);
			set32(VMCS_SECONDARY_CONTROLS, ~0u);
			assert_false(reflect(r, 0, 0, 0));
			break;
		case NVMX_R_PIN:
			assert_false(reflect(r, 0, 0, 0));
			set32(VMCS_PIN_BASED_CONTROLS, 1u << row->bit);
			assert_true(reflect(r, 0, 0, 0));
			break;
		case NVMX_R_PROC:
			set32(VMCS_PROC_BASED_CONTROLS, ~(1u << row->bit));
			assert_false(reflect(r, 0, 0, 0));
			set32(VMCS_PROC_BASED_CONTROLS, 1u << row->bit);
			assert_true(reflect(r, 0, 0, 0));
			break;
		case NVMX_R_PROC2:
			set32(VMCS_SECONDARY_CONTROLS, 1u << row->bit);
			assert_false(reflect(r, 0, 0, 0));  /* primary bit 31 clear */
			set32(VMCS_PROC_BASED_CONTROLS, 1u << 31);
			assert_true(reflect(r, 0, 0, 0));
			set32(VMCS_SECONDARY_CONTROLS, ~(1u << row->bit));
			assert_false(reflect(r, 0, 0, 0));
			break;
		default:
			break;
		}
		if (row->how != NVMX_R_L0 || r == VMX_EXIT_IO_SMI)
			assert_non_null(row->why);
	}
	/* unknown reasons beyond the table go to L1 */
	assert_true(reflect(200, 0, 0, 0));
	/* bits 31:16 of the reason are ignored */
	setup(NULL);
	assert_true(reflect(VMX_EXIT_CPUID | (1u << 27), 0, 0, 0));
}

#define HW_EXC(v)  (0x80000000u | (3u << 8) | (v))
#define HW_EXC_EC(v) (HW_EXC(v) | (1u << 11))

static void test_exceptions(void **state)
{
	(void)state;
	assert_false(reflect(0, 0, HW_EXC(6), 0));             /* #UD, bitmap 0 */
	set32(VMCS_EXCEPTION_BITMAP, 1u << 6);
	assert_true(reflect(0, 0, HW_EXC(6), 0));
	assert_false(reflect(0, 0, HW_EXC(3) | (6u << 8), 0));   /* #BP not set */
	set32(VMCS_EXCEPTION_BITMAP, (1u << 6) | (1u << 18));
	assert_false(reflect(0, 0, HW_EXC(18), 0));             /* #MC is L0's */
	/* NMI: only an NMI of L1 with NMI exiting */
	assert_false(reflect(0, 0, 0x80000202u, 0));
	set32(VMCS_PIN_BASED_CONTROLS, 1u << 3);
	assert_false(reflect(0, 0, 0x80000202u, 0));
	ctx.event_for_l1 = true;
	assert_true(reflect(0, 0, 0x80000202u, 0));
}

/* 25.6.3: #PF with every combination of bit 14 and mask/match */
static void test_page_fault_mask_match(void **state)
{
	static const struct { bool bit; uint32_t mask, match, ec; bool exit; } t[] = {
		{ false, 0, 0, 0x2, false },    /* equal, bit 0: no exit */
		{ true,  0, 0, 0x2, true },     /* equal, bit 1: exit */
		{ true,  0x2, 0x2, 0x3, true }, /* writes only: this is a write */
		{ true,  0x2, 0x2, 0x1, false },/* ... a read: no exit */
		{ false, 0x2, 0x2, 0x1, true }, /* bit 0 and unequal: exit */
		{ false, 0x2, 0x2, 0x2, false },
		{ false, 0, 1, 0x0, true },     /* impossible match: all exit */
	};
	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		set32(VMCS_EXCEPTION_BITMAP, t[i].bit ? 1u << 14 : 0);
		set32(VMCS_PF_ERROR_CODE_MASK, t[i].mask);
		set32(VMCS_PF_ERROR_CODE_MATCH, t[i].match);
		if (reflect(0, 0, HW_EXC_EC(14), t[i].ec) != t[i].exit)
			fail_msg("#PF case %zu", i);
	}
}

static void test_extint(void **state)
{
	(void)state;
	set32(VMCS_PIN_BASED_CONTROLS, 1);
	assert_false(reflect(VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0x80000020u, 0)); /* L0's */
	ctx.event_for_l1 = true;
	assert_true(reflect(VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0x80000020u, 0));
	set32(VMCS_PIN_BASED_CONTROLS, 0);
	assert_false(reflect(VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0x80000020u, 0));
	assert_false(nvmx_l1_wants_extint(&v12));
	set32(VMCS_PIN_BASED_CONTROLS, 9);
	assert_true(nvmx_l1_wants_extint(&v12));
	assert_true(nvmx_l1_wants_nmi(&v12));
}

/* qualification: CR in 3:0, type in 5:4, GPR 11:8, LMSW data 31:16 */
#define MOV_TO(cr)    ((uint64_t)(cr))
#define MOV_FROM(cr)  ((uint64_t)(cr) | (1u << 4))
#define CLTS          (2u << 4)
#define LMSW(src)     ((3u << 4) | ((uint64_t)(src) << 16))

static void test_cr_access(void **state)
{
	(void)state;
	/* CR0: mask PG|PE owned by L1, shadow PE=1 PG=1 */
	vmcs_set(&v12, VMCS_CR0_GUEST_HOST_MASK, 0x80000001ull);
	vmcs_set(&v12, VMCS_CR0_READ_SHADOW, 0x80000011ull);
	ctx.cr_value = 0x80000011ull;
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(0), 0, 0)); /* same owned bits */
	ctx.cr_value = 0x80000019ull;   /* TS changed: not owned */
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(0), 0, 0));
	ctx.cr_value = 0x00000011ull;   /* PG cleared: owned */
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(0), 0, 0));
	/* CR4 */
	vmcs_set(&v12, VMCS_CR4_GUEST_HOST_MASK, 0x2000);
	vmcs_set(&v12, VMCS_CR4_READ_SHADOW, 0);
	ctx.cr_value = 0x20;
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(4), 0, 0));
	ctx.cr_value = 0x2020;
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(4), 0, 0));
	/* CR3 load: exiting and target values */
	ctx.cr_value = 0x5000;
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(3), 0, 0));
	set32(VMCS_PROC_BASED_CONTROLS, 1u << 15);
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(3), 0, 0));
	vmcs_set(&v12, VMCS_CR3_TARGET1, 0x5000);
	set32(VMCS_CR3_TARGET_COUNT, 1);        /* target 1 not counted */
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(3), 0, 0));
	set32(VMCS_CR3_TARGET_COUNT, 2);
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(3), 0, 0));
	/* CR3 store, CR8 load/store */
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_FROM(3), 0, 0));
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(8), 0, 0));
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_FROM(8), 0, 0));
	set32(VMCS_PROC_BASED_CONTROLS, (1u << 16) | (1u << 19) | (1u << 20));
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_FROM(3), 0, 0));
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_TO(8), 0, 0));
	assert_true(reflect(VMX_EXIT_CR_ACCESS, MOV_FROM(8), 0, 0));
	assert_false(reflect(VMX_EXIT_CR_ACCESS, MOV_FROM(0), 0, 0));
	/* CLTS: TS in mask and shadow */
	assert_false(reflect(VMX_EXIT_CR_ACCESS, CLTS, 0, 0));
	vmcs_set(&v12, VMCS_CR0_GUEST_HOST_MASK, 0x8);
	assert_false(reflect(VMX_EXIT_CR_ACCESS, CLTS, 0, 0));
	vmcs_set(&v12, VMCS_CR0_READ_SHADOW, 0x8);
	assert_true(reflect(VMX_EXIT_CR_ACCESS, CLTS, 0, 0));
	/* LMSW: PE 0->1 owned; MP/EM/TS differences owned */
	vmcs_set(&v12, VMCS_CR0_GUEST_HOST_MASK, 0x1);
	vmcs_set(&v12, VMCS_CR0_READ_SHADOW, 0x0);
	assert_true(reflect(VMX_EXIT_CR_ACCESS, LMSW(1), 0, 0));
	assert_false(reflect(VMX_EXIT_CR_ACCESS, LMSW(0xe), 0, 0));
	vmcs_set(&v12, VMCS_CR0_READ_SHADOW, 0x1);
	assert_false(reflect(VMX_EXIT_CR_ACCESS, LMSW(0), 0, 0)); /* LMSW can't clear PE */
	vmcs_set(&v12, VMCS_CR0_GUEST_HOST_MASK, 0x4);
	assert_true(reflect(VMX_EXIT_CR_ACCESS, LMSW(4), 0, 0));
	assert_false(reflect(VMX_EXIT_CR_ACCESS, LMSW(2), 0, 0));
}

/* qualification: size - 1 in 2:0, port in 31:16 */
#define IOQ(port, size) (((uint64_t)(size) - 1) | ((uint64_t)(port) << 16))

static void test_io(void **state)
{
	(void)state;
	assert_false(reflect(VMX_EXIT_IO, IOQ(0x3f8, 1), 0, 0));
	set32(VMCS_PROC_BASED_CONTROLS, 1u << 24);      /* unconditional */
	assert_true(reflect(VMX_EXIT_IO, IOQ(0x3f8, 1), 0, 0));
	set32(VMCS_PROC_BASED_CONTROLS, (1u << 24) | (1u << 25)); /* bitmaps win */
	assert_false(reflect(VMX_EXIT_IO, IOQ(0x3f8, 1), 0, 0));
	ram[IO_A + 0x3f9 / 8] |= 1u << (0x3f9 % 8);
	assert_false(reflect(VMX_EXIT_IO, IOQ(0x3f8, 1), 0, 0));
	assert_true(reflect(VMX_EXIT_IO, IOQ(0x3f8, 2), 0, 0)); /* second byte */
	assert_true(reflect(VMX_EXIT_IO, IOQ(0x3f9, 4), 0, 0));
	/* bitmap B, and an access that straddles A and B */
	ram[IO_B + 0x0000] = 1;                          /* port 0x8000 */
	assert_true(reflect(VMX_EXIT_IO, IOQ(0x8000, 1), 0, 0));
	assert_true(reflect(VMX_EXIT_IO, IOQ(0x7fff, 2), 0, 0));
	assert_false(reflect(VMX_EXIT_IO, IOQ(0x8001, 4), 0, 0));
	/* wrap around 0xffff always exits */
	assert_true(reflect(VMX_EXIT_IO, IOQ(0xfffe, 4), 0, 0));
	/* bitmap outside L1 RAM: every port exits */
	vmcs_set(&v12, VMCS_IO_BITMAP_A, 0x100000);
	assert_true(reflect(VMX_EXIT_IO, IOQ(0x80, 1), 0, 0));
}

static void test_msr(void **state)
{
	(void)state;
	ctx.msr = 0x10;
	assert_true(reflect(VMX_EXIT_RDMSR, 0, 0, 0));  /* no bitmaps: all exit */
	set32(VMCS_PROC_BASED_CONTROLS, 1u << 28);
	assert_false(reflect(VMX_EXIT_RDMSR, 0, 0, 0));
	assert_false(reflect(VMX_EXIT_WRMSR, 0, 0, 0));
	ram[MSRBM + 0x10 / 8] |= 1u << (0x10 % 8);       /* read low */
	assert_true(reflect(VMX_EXIT_RDMSR, 0, 0, 0));
	assert_false(reflect(VMX_EXIT_WRMSR, 0, 0, 0));
	ctx.msr = 0xc0000080;                             /* EFER: high range */
	ram[MSRBM + 3072 + 0x80 / 8] |= 1u << (0x80 % 8); /* write high */
	assert_false(reflect(VMX_EXIT_RDMSR, 0, 0, 0));
	assert_true(reflect(VMX_EXIT_WRMSR, 0, 0, 0));
	ctx.msr = 0x1fff;
	ram[MSRBM + 2048 + 0x1fff / 8] |= 0x80;           /* write low, last */
	assert_true(reflect(VMX_EXIT_WRMSR, 0, 0, 0));
	ctx.msr = 0xc0001fff;
	ram[MSRBM + 1024 + 0x1fff / 8] |= 0x80;           /* read high, last */
	assert_true(reflect(VMX_EXIT_RDMSR, 0, 0, 0));
	ctx.msr = 0x2000;                                 /* out of range */
	assert_true(reflect(VMX_EXIT_RDMSR, 0, 0, 0));
	ctx.msr = 0x40000000;
	assert_true(reflect(VMX_EXIT_WRMSR, 0, 0, 0));
	vmcs_set(&v12, VMCS_MSR_BITMAP, 0xf0000000ull);   /* not RAM */
	ctx.msr = 0x11;
	assert_true(reflect(VMX_EXIT_RDMSR, 0, 0, 0));
}

static void test_caller_decided(void **state)
{
	(void)state;
	assert_false(reflect(VMX_EXIT_EPT_VIOLATION, 0, 0, 0));
	assert_false(reflect(VMX_EXIT_EPT_MISCONFIG, 0, 0, 0));
	ctx.ept_fault_for_l1 = true;
	assert_true(reflect(VMX_EXIT_EPT_VIOLATION, 0, 0, 0));
	assert_true(reflect(VMX_EXIT_EPT_MISCONFIG, 0, 0, 0));
	/* preemption timer: L1's pin bit 6 and L1's timer expired */
	assert_false(reflect(VMX_EXIT_PREEMPTION_TIMER, 0, 0, 0));
	ctx.l1_timer_expired = true;
	assert_false(reflect(VMX_EXIT_PREEMPTION_TIMER, 0, 0, 0));
	set32(VMCS_PIN_BASED_CONTROLS, 1u << 6);
	assert_true(reflect(VMX_EXIT_PREEMPTION_TIMER, 0, 0, 0));
	ctx.l1_timer_expired = false;
	assert_false(reflect(VMX_EXIT_PREEMPTION_TIMER, 0, 0, 0));
	/* INVPCID: INVLPG exiting and enable INVPCID */
	set32(VMCS_PROC_BASED_CONTROLS, 1u << 9);
	assert_false(reflect(VMX_EXIT_INVPCID, 0, 0, 0));
	set32(VMCS_PROC_BASED_CONTROLS, (1u << 9) | (1u << 31));
	set32(VMCS_SECONDARY_CONTROLS, 1u << 12);
	assert_true(reflect(VMX_EXIT_INVPCID, 0, 0, 0));
}

static void test_exit_from_vmcs(void **state)
{
	struct vmcs_image v;
	struct nvmx_exit e;
	(void)state;
	memset(&v, 0, sizeof v);
	vmcs_set(&v, VMCS_EXIT_REASON, 48);
	vmcs_set(&v, VMCS_EXIT_QUALIFICATION, 0x181);
	vmcs_set(&v, VMCS_GUEST_PHYSICAL_ADDRESS, 0x12345000);
	vmcs_set(&v, VMCS_GUEST_LINEAR_ADDRESS, 0xffff8000);
	vmcs_set(&v, VMCS_EXIT_INSTRUCTION_LEN, 3);
	vmcs_set(&v, VMCS_IDT_VECTORING_INFO, 0x80000b0e);
	nvmx_exit_from_vmcs(&v, &e);
	assert_int_equal(e.reason, 48);
	assert_int_equal(e.qual, 0x181);
	assert_int_equal(e.gpa, 0x12345000);
	assert_int_equal(e.gla, 0xffff8000);
	assert_int_equal(e.insn_len, 3);
	assert_int_equal(e.idt_info, 0x80000b0e);
}

/* A made-up external-interrupt/NMI exit for L1 waits until vmcs02's
 * injection has been delivered (SDM 27.6, 28.2.4): with an event to
 * inject, enter first.  Mirrors the SVM test. */
static void test_pending_exit_after_injection(void **state)
{
	(void)state;
	assert_int_equal(nvmx_pending_exit_when(0), NVMX_PENDING_EXIT_NOW);
	assert_int_equal(nvmx_pending_exit_when((1u << 31) | 0x40), NVMX_PENDING_EXIT_AFTER_ENTRY);   /* INTR 0x40 */
	assert_int_equal(nvmx_pending_exit_when((1u << 31) | (1u << 11) | (3u << 8) | 14),
			 NVMX_PENDING_EXIT_AFTER_ENTRY);                                         /* #PF + error code */
	assert_int_equal(nvmx_pending_exit_when(0x40), NVMX_PENDING_EXIT_NOW);           /* valid bit clear */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_table_rows, setup),
		cmocka_unit_test_setup(test_exceptions, setup),
		cmocka_unit_test_setup(test_page_fault_mask_match, setup),
		cmocka_unit_test_setup(test_extint, setup),
		cmocka_unit_test_setup(test_cr_access, setup),
		cmocka_unit_test_setup(test_io, setup),
		cmocka_unit_test_setup(test_msr, setup),
		cmocka_unit_test_setup(test_caller_decided, setup),
		cmocka_unit_test_setup(test_exit_from_vmcs, setup),
		cmocka_unit_test(test_pending_exit_after_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
