/*
 * Unit tests for vmx/vmx_check.c, the VM-entry checker.
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined \
 *       tests/unit/test_vmx_check.c vmx/vmx_check.c vmx/vmcs_fields.c -lcmocka \
 *       -o build/unit/test_vmx_check
 *
 * Three "golden" VMCS images that a real CPU would enter:
 *   (a) a 64-bit guest with EPT and VPID (what Nestor's vmcs01 looks like),
 *   (b) an unrestricted guest starting in real mode at F000:FFF0,
 *   (c) a virtual-8086 guest (b with CR0.PE = 1 and RFLAGS.VM = 1),
 * against capability values like those of Bochs' corei7_skylake_x model.
 * Each must pass every check.  Then, for every row of the check table, one
 * small edit of a golden image (and, where a control must first be
 * allowed, of the capabilities) that makes exactly that check fail.  The
 * edits use SDM bit positions as literals, so that a wrong constant in
 * vmx/vmx_check.c cannot hide here.
 *
 * With NESTOR_VMX_SEED_DIR=<dir> in the environment, the golden images
 * are also written to <dir> in the input format of
 * tests/fuzz/fuzz_vmx_check.c (the committed seed corpus was made so).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/vmx_check.h"

#define MAXPHY 46      /* Skylake-X physical-address width */

/* ---- capabilities: a Skylake-X-like CPU as Bochs models it ---- */

static void golden_caps(struct vmx_caps *c)
{
	memset(c, 0, sizeof *c);
	/* revision 0x2b, VMCS size 1024, WB, INS/OUTS info, TRUE controls */
	c->basic = 0x00d8040000000000ull | 0x2b;
	/* TRUE pin-based: 1, 2, 4 required; 0-7 allowed */
	c->pinbased = 0x000000ff00000016ull;
	/* TRUE primary: 1, 4-6, 8, 13, 14, 26 required; all but 0, 17, 18 allowed */
	c->procbased = 0xfff9fffe04006172ull;
	/* secondary: 0-14, 16-20, 25 allowed (EPT, VPID, UG, shadowing, PML, #VE, ...) */
	c->procbased2 = 0x021f7fff00000000ull;
	/* TRUE exit: 0, 1, 3-8, 10, 11, 13, 14, 16, 17 required; 0-25 allowed */
	c->exit = 0x03ffffff00036dfbull;
	/* TRUE entry: 0, 1, 3-8, 12 required; 0-18 allowed */
	c->entry = 0x0007ffff000011fbull;
	/* timer rate 5, LMA saved, HLT/shutdown/SIPI, 4 CR3 targets, VMWRITE to RO */
	c->misc = 0x200401e5ull;
	c->cr0_fixed0 = 0x80000021ull;           /* PG, NE, PE */
	c->cr0_fixed1 = 0xffffffffull;
	c->cr4_fixed0 = 0x2000ull;               /* VMXE */
	c->cr4_fixed1 = 0x007767ffull;
	/* exec-only, 4-level, UC, WB, 2M, 1G, INVEPT (+types), A/D, INVVPID (+types) */
	c->ept_vpid = 0x00000f0106334141ull;
	c->vmfunc = 1;                           /* EPTP switching */
	c->true_ctls = true;
}

/* ---- golden images ---- */

static void set(struct vmcs_image *img, uint32_t enc, uint64_t v)
{
	assert_true(vmcs_set(img, enc, v));
}

/* Host state: Nestor itself, a 64-bit kernel (the same in every image). */
static void golden_host(struct vmcs_image *img)
{
	set(img, VMCS_HOST_CR0, 0x80050033);      /* PG AM WP NE ET MP PE */
	set(img, VMCS_HOST_CR3, 0x1000);
	set(img, VMCS_HOST_CR4, 0x20a0);          /* VMXE PGE PAE */
	set(img, VMCS_HOST_CS_SELECTOR, 0x08);
	set(img, VMCS_HOST_SS_SELECTOR, 0x10);
	set(img, VMCS_HOST_DS_SELECTOR, 0x10);
	set(img, VMCS_HOST_ES_SELECTOR, 0x10);
	set(img, VMCS_HOST_FS_SELECTOR, 0);
	set(img, VMCS_HOST_GS_SELECTOR, 0);
	set(img, VMCS_HOST_TR_SELECTOR, 0x18);
	set(img, VMCS_HOST_TR_BASE, 0x5000);
	set(img, VMCS_HOST_GDTR_BASE, 0x6000);
	set(img, VMCS_HOST_IDTR_BASE, 0x7000);
	set(img, VMCS_HOST_FS_BASE, 0);
	set(img, VMCS_HOST_GS_BASE, 0xffff800000010000ull);
	set(img, VMCS_HOST_RSP, 0x8000);
	set(img, VMCS_HOST_RIP, 0xffffffff80100000ull);
	set(img, VMCS_HOST_IA32_EFER, 0xd01);     /* NXE LMA LME SCE */
	set(img, VMCS_HOST_IA32_PAT, 0x0007040600070406ull);
}

/* Controls shared by the golden images (a) and (b). */
static void golden_controls(struct vmcs_image *img, const struct vmx_caps *caps,
			    uint32_t proc2, uint32_t entry)
{
	/* external-interrupt exiting, NMI exiting, virtual NMIs */
	set(img, VMCS_PIN_BASED_CONTROLS, vmx_ctl_adjust(caps->pinbased, 0x29));
	/* HLT exiting, TPR shadow, I/O bitmaps, MSR bitmaps, secondary controls */
	set(img, VMCS_PROC_BASED_CONTROLS, vmx_ctl_adjust(caps->procbased,
		(1u << 7) | (1u << 21) | (1u << 25) | (1u << 28) | (1u << 31)));
	set(img, VMCS_SECONDARY_CONTROLS, proc2);
	/* save debug, host address-space size, ack interrupt, save/load PAT, EFER */
	set(img, VMCS_EXIT_CONTROLS, vmx_ctl_adjust(caps->exit,
		(1u << 2) | (1u << 9) | (1u << 15) | (0xfu << 18)));
	set(img, VMCS_ENTRY_CONTROLS, vmx_ctl_adjust(caps->entry, entry));
	set(img, VMCS_VPID, 1);
	set(img, VMCS_EPT_POINTER, 0x0100005e);  /* WB, 4-level, A/D, PML4 at 16 MiB */
	set(img, VMCS_IO_BITMAP_A, 0x200000);
	set(img, VMCS_IO_BITMAP_B, 0x201000);
	set(img, VMCS_MSR_BITMAP, 0x202000);
	set(img, VMCS_VIRTUAL_APIC_ADDR, 0x203000);
	set(img, VMCS_VMCS_LINK_POINTER, ~0ull);
	set(img, VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
	set(img, VMCS_GUEST_DR7, 0x400);
	golden_host(img);
}

/* (a) A 64-bit guest with EPT: flat segments, long mode, paging on. */
static void golden_64(struct vmcs_image *img, const struct vmx_caps *caps)
{
	memset(img, 0, sizeof *img);
	/* EPT, VPID;  load debug, IA-32e mode guest, load PAT, load EFER */
	golden_controls(img, caps, 0x22, (1u << 2) | (1u << 9) | (1u << 14) | (1u << 15));

	set(img, VMCS_GUEST_CR0, 0x80050033);
	set(img, VMCS_GUEST_CR3, 0x3000);
	set(img, VMCS_GUEST_CR4, 0x20a0);
	set(img, VMCS_GUEST_IA32_EFER, 0xd00);    /* NXE LMA LME */
	set(img, VMCS_GUEST_CS_SELECTOR, 0x08);
	set(img, VMCS_GUEST_CS_LIMIT, 0xffffffff);
	set(img, VMCS_GUEST_CS_AR, 0xa09b);       /* G, L, P, S, type 11 */
	static const uint32_t data[][3] = {
		{ VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
		{ VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
		{ VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};
	for (unsigned i = 0; i < 5; i++) {
		set(img, data[i][0], 0x10);
		set(img, data[i][1], 0xffffffff);
		set(img, data[i][2], 0xc093);     /* G, D/B, P, S, type 3 */
	}
	set(img, VMCS_GUEST_LDTR_AR, 0x10000);    /* unusable */
	set(img, VMCS_GUEST_TR_SELECTOR, 0x18);
	set(img, VMCS_GUEST_TR_BASE, 0x4000);
	set(img, VMCS_GUEST_TR_LIMIT, 0x67);
	set(img, VMCS_GUEST_TR_AR, 0x8b);         /* P, busy 64-bit TSS */
	set(img, VMCS_GUEST_GDTR_BASE, 0x1000);
	set(img, VMCS_GUEST_GDTR_LIMIT, 0x27);
	set(img, VMCS_GUEST_IDTR_BASE, 0x2000);
	set(img, VMCS_GUEST_IDTR_LIMIT, 0xfff);
	set(img, VMCS_GUEST_RIP, 0xffffffff81000000ull);
	set(img, VMCS_GUEST_RSP, 0x7000);
	set(img, VMCS_GUEST_RFLAGS, 0x2);
}

/* (b) An unrestricted guest at the reset vector: real mode, no paging. */
static void golden_real(struct vmcs_image *img, const struct vmx_caps *caps)
{
	memset(img, 0, sizeof *img);
	/* EPT, VPID, unrestricted guest;  load debug, load PAT, load EFER */
	golden_controls(img, caps, 0xa2, (1u << 2) | (1u << 14) | (1u << 15));

	set(img, VMCS_GUEST_CR0, 0x30);           /* NE ET: PE = PG = 0 */
	set(img, VMCS_GUEST_CR4, 0x2000);         /* VMXE */
	set(img, VMCS_GUEST_IA32_EFER, 0);
	set(img, VMCS_GUEST_CS_SELECTOR, 0xf000);
	set(img, VMCS_GUEST_CS_BASE, 0xf0000);
	set(img, VMCS_GUEST_CS_LIMIT, 0xffff);
	set(img, VMCS_GUEST_CS_AR, 0x9b);         /* P, S, type 11 */
	static const uint32_t data[][2] = {
		{ VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR }, { VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
		{ VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR }, { VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
		{ VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
	};
	for (unsigned i = 0; i < 5; i++) {
		set(img, data[i][0], 0xffff);
		set(img, data[i][1], 0x93);       /* P, S, type 3 */
	}
	set(img, VMCS_GUEST_LDTR_LIMIT, 0xffff);
	set(img, VMCS_GUEST_LDTR_AR, 0x82);       /* usable: P, type 2 (LDT) */
	set(img, VMCS_GUEST_TR_LIMIT, 0xffff);
	set(img, VMCS_GUEST_TR_AR, 0x8b);         /* P, busy 32-bit TSS */
	set(img, VMCS_GUEST_GDTR_LIMIT, 0xffff);
	set(img, VMCS_GUEST_IDTR_LIMIT, 0x3ff);
	set(img, VMCS_GUEST_RIP, 0xfff0);
	set(img, VMCS_GUEST_RFLAGS, 0x2);
}

/* (c) Virtual-8086: (b) with CR0.PE = 1, RFLAGS.VM = 1, and the segments
 * a V86 task has (base = selector * 16, limit FFFFH, access rights F3H). */
static void golden_v86(struct vmcs_image *img, const struct vmx_caps *caps)
{
	golden_real(img, caps);
	set(img, VMCS_GUEST_CR0, 0x31);
	set(img, VMCS_GUEST_RFLAGS, 0x20002);
	set(img, VMCS_GUEST_SS_SELECTOR, 0x2000);
	set(img, VMCS_GUEST_SS_BASE, 0x20000);
	for (unsigned s = 0; s < 6; s++)
		set(img, VMCS_GUEST_ES_AR + 2 * s, 0xf3);
}

enum base { G64, GREAL, GV86 };

static void golden(enum base b, struct vmcs_image *img, struct vmx_caps *caps)
{
	golden_caps(caps);
	if (b == G64)
		golden_64(img, caps);
	else if (b == GREAL)
		golden_real(img, caps);
	else
		golden_v86(img, caps);
}

static void print_failures(const struct vmx_check_failure *f, int n)
{
	for (int i = 0; i < n && i < 32; i++) {
		const struct vmcs_field *fld = vmcs_field_find(f[i].field);
		fprintf(stderr, "  FAIL %s %s [%s] %s = %#llx\n", vmx_check_class_name(f[i].cls),
			f[i].sdm_ref, f[i].name, fld ? fld->name : "?",
			(unsigned long long)f[i].value);
	}
}

static void assert_passes(const struct vmcs_image *img, const struct vmx_caps *caps)
{
	struct vmx_check_failure f[VMX_CHECK_COUNT];
	int n = vmx_check_entry(img, caps, MAXPHY, f, VMX_CHECK_COUNT);
	if (n != 0)
		print_failures(f, n);
	assert_int_equal(n, 0);
	assert_int_equal(vmx_check_verdict(f, n), VMX_VERDICT_OK);
}

static void test_golden_pass(void **state)
{
	(void)state;
	struct vmcs_image img;
	struct vmx_caps caps;
	for (enum base b = G64; b <= GV86; b++) {
		golden(b, &img, &caps);
		assert_passes(&img, &caps);
	}
}

/* ---- one broken input per check ---- */

/* Patch targets: a VMCS encoding, a capability MSR, or MAXPHYADDR. */
#define CAP(m)   (0x10000u + (uint32_t)offsetof(struct vmx_caps, m))
#define MAXPHYT  0x20000u

enum op { END = 0, SET, OR, CLR };
struct patch { uint8_t op; uint32_t target; uint64_t v; };
struct bad_case {
	uint16_t id;
	uint8_t base;
	uint32_t field;        /* the field the failure must name */
	struct patch p[5];
};

#define S(t, v) { SET, (t), (v) }
#define O(t, v) { OR, (t), (v) }
#define C(t, v) { CLR, (t), (v) }
#define CASE(id_, base_, field_, ...) { VMX_CHK_##id_, base_, VMCS_##field_, { __VA_ARGS__ } }

/* VM-entry interruption-information values (SDM 24.8.3) */
#define INJ(type, vec) (0x80000000u | ((type) << 8) | (vec))
#define ERRC           (1u << 11)

static const struct bad_case cases[] = {
	/* 26.2.1.1 */
	CASE(PIN_CTLS, G64, PIN_BASED_CONTROLS, C(VMCS_PIN_BASED_CONTROLS, 1u << 4)),
	CASE(PROC_CTLS, G64, PROC_BASED_CONTROLS, C(VMCS_PROC_BASED_CONTROLS, 1u << 1)),
	CASE(PROC2_CTLS, G64, SECONDARY_CONTROLS, O(VMCS_SECONDARY_CONTROLS, 1u << 30)),
	CASE(PROC3_CTLS, G64, TERTIARY_CONTROLS, O(CAP(procbased), (1ull << 17) << 32),
	     O(VMCS_PROC_BASED_CONTROLS, 1u << 17), S(VMCS_TERTIARY_CONTROLS, 1)),
	CASE(CR3_TARGET_COUNT, G64, CR3_TARGET_COUNT, S(VMCS_CR3_TARGET_COUNT, 5)),
	CASE(IO_BITMAP_A, G64, IO_BITMAP_A, S(VMCS_IO_BITMAP_A, 0x200800)),
	CASE(IO_BITMAP_B, G64, IO_BITMAP_B, S(VMCS_IO_BITMAP_B, 1ull << 46)),
	CASE(MSR_BITMAP, G64, MSR_BITMAP, S(VMCS_MSR_BITMAP, 0x202004)),
	CASE(VIRTUAL_APIC_ADDR, G64, VIRTUAL_APIC_ADDR, S(VMCS_VIRTUAL_APIC_ADDR, 0x203080)),
	CASE(TPR_THRESHOLD, G64, TPR_THRESHOLD, S(VMCS_TPR_THRESHOLD, 0x10)),
	CASE(NO_TPR_SHADOW_APICV, G64, SECONDARY_CONTROLS, C(VMCS_PROC_BASED_CONTROLS, 1u << 21),
	     O(VMCS_SECONDARY_CONTROLS, 1u << 4)),
	CASE(VNMI_NEEDS_NMI_EXITING, G64, PIN_BASED_CONTROLS, C(VMCS_PIN_BASED_CONTROLS, 1u << 3)),
	CASE(NMI_WINDOW_NEEDS_VNMI, G64, PROC_BASED_CONTROLS, C(VMCS_PIN_BASED_CONTROLS, 1u << 5),
	     O(VMCS_PROC_BASED_CONTROLS, 1u << 22)),
	CASE(APIC_ACCESS_ADDR, G64, APIC_ACCESS_ADDR, O(VMCS_SECONDARY_CONTROLS, 1u << 0),
	     S(VMCS_APIC_ACCESS_ADDR, 0xfee00010)),
	CASE(X2APIC_VS_APIC_ACCESS, G64, SECONDARY_CONTROLS, O(VMCS_SECONDARY_CONTROLS, 0x11),
	     S(VMCS_APIC_ACCESS_ADDR, 0xfee00000)),
	CASE(VID_NEEDS_EXTINT_EXITING, G64, PIN_BASED_CONTROLS, O(VMCS_SECONDARY_CONTROLS, 1u << 9),
	     C(VMCS_PIN_BASED_CONTROLS, 1u << 0)),
	CASE(POSTED_INTR_DEPS, G64, SECONDARY_CONTROLS, O(VMCS_PIN_BASED_CONTROLS, 1u << 7)),
	CASE(POSTED_INTR_DEPS, G64, EXIT_CONTROLS, O(VMCS_PIN_BASED_CONTROLS, 1u << 7),
	     O(VMCS_SECONDARY_CONTROLS, 1u << 9), C(VMCS_EXIT_CONTROLS, 1u << 15)),
	CASE(POSTED_INTR_VECTOR, G64, POSTED_INTR_NV, O(VMCS_PIN_BASED_CONTROLS, 1u << 7),
	     O(VMCS_SECONDARY_CONTROLS, 1u << 9), S(VMCS_POSTED_INTR_NV, 0x100)),
	CASE(POSTED_INTR_DESC, G64, POSTED_INTR_DESC_ADDR, O(VMCS_PIN_BASED_CONTROLS, 1u << 7),
	     O(VMCS_SECONDARY_CONTROLS, 1u << 9), S(VMCS_POSTED_INTR_DESC_ADDR, 0x1020)),
	CASE(VPID_NONZERO, G64, VPID, S(VMCS_VPID, 0)),
	CASE(EPTP_MEMTYPE, G64, EPT_POINTER, S(VMCS_EPT_POINTER, 0x01000059)),
	CASE(EPTP_MEMTYPE, G64, EPT_POINTER, C(CAP(ept_vpid), 1u << 14)),
	CASE(EPTP_WALK, G64, EPT_POINTER, S(VMCS_EPT_POINTER, 0x01000066)),
	CASE(EPTP_AD, G64, EPT_POINTER, C(CAP(ept_vpid), 1u << 21)),
	CASE(EPTP_RESERVED, G64, EPT_POINTER, O(VMCS_EPT_POINTER, 1u << 8)),
	CASE(EPTP_RESERVED, G64, EPT_POINTER, S(MAXPHYT, 24)),
	CASE(PML_NEEDS_EPT, G64, SECONDARY_CONTROLS, C(VMCS_SECONDARY_CONTROLS, 1u << 1),
	     O(VMCS_SECONDARY_CONTROLS, 1u << 17)),
	CASE(PML_ADDR, G64, PML_ADDRESS, O(VMCS_SECONDARY_CONTROLS, 1u << 17),
	     S(VMCS_PML_ADDRESS, 0x123)),
	CASE(UG_NEEDS_EPT, GREAL, SECONDARY_CONTROLS, C(VMCS_SECONDARY_CONTROLS, 1u << 1)),
	CASE(EPT_DEPENDENTS, G64, SECONDARY_CONTROLS, O(CAP(procbased2), (1ull << 22) << 32),
	     C(VMCS_SECONDARY_CONTROLS, 1u << 1), O(VMCS_SECONDARY_CONTROLS, 1u << 22)),
	CASE(SPPTP, G64, SPPTP, O(CAP(procbased2), (1ull << 23) << 32),
	     O(VMCS_SECONDARY_CONTROLS, 1u << 23), S(VMCS_SPPTP, 0x10)),
	CASE(VMFUNC_CTLS, G64, VMFUNC_CONTROLS, O(VMCS_SECONDARY_CONTROLS, 1u << 13),
	     S(VMCS_VMFUNC_CONTROLS, 2)),
	CASE(EPTP_LIST, G64, EPTP_LIST_ADDR, O(VMCS_SECONDARY_CONTROLS, 1u << 13),
	     S(VMCS_VMFUNC_CONTROLS, 1), S(VMCS_EPTP_LIST_ADDR, 0x5008)),
	CASE(EPTP_LIST, G64, SECONDARY_CONTROLS, O(VMCS_SECONDARY_CONTROLS, 1u << 13),
	     C(VMCS_SECONDARY_CONTROLS, 1u << 1), S(VMCS_VMFUNC_CONTROLS, 1),
	     S(VMCS_EPTP_LIST_ADDR, 0x5000)),
	CASE(VMREAD_BITMAP, G64, VMREAD_BITMAP, O(VMCS_SECONDARY_CONTROLS, 1u << 14),
	     S(VMCS_VMREAD_BITMAP, 0x6001), S(VMCS_VMWRITE_BITMAP, 0x7000)),
	CASE(VMWRITE_BITMAP, G64, VMWRITE_BITMAP, O(VMCS_SECONDARY_CONTROLS, 1u << 14),
	     S(VMCS_VMREAD_BITMAP, 0x6000), S(VMCS_VMWRITE_BITMAP, 1ull << 50)),
	CASE(VE_INFO_ADDR, G64, VE_INFO_ADDR, O(VMCS_SECONDARY_CONTROLS, 1u << 18),
	     S(VMCS_VE_INFO_ADDR, 0x8800)),
	/* 26.2.1.2 */
	CASE(EXIT_CTLS, G64, EXIT_CONTROLS, C(VMCS_EXIT_CONTROLS, 1u << 0)),
	CASE(EXIT2_CTLS, G64, SECONDARY_EXIT_CONTROLS, O(CAP(exit), (1ull << 31) << 32),
	     O(VMCS_EXIT_CONTROLS, 1u << 31), S(VMCS_SECONDARY_EXIT_CONTROLS, 4)),
	CASE(EXIT_SAVE_PREEMPT, G64, EXIT_CONTROLS, O(VMCS_EXIT_CONTROLS, 1u << 22)),
	CASE(EXIT_MSR_STORE, G64, EXIT_MSR_STORE_ADDR, S(VMCS_EXIT_MSR_STORE_COUNT, 2),
	     S(VMCS_EXIT_MSR_STORE_ADDR, 0x9008)),
	CASE(EXIT_MSR_LOAD, G64, EXIT_MSR_LOAD_ADDR, S(VMCS_EXIT_MSR_LOAD_COUNT, 0x100),
	     S(VMCS_EXIT_MSR_LOAD_ADDR, (1ull << 46) - 0x800)),
	/* 26.2.1.3 */
	CASE(ENTRY_CTLS, G64, ENTRY_CONTROLS, O(VMCS_ENTRY_CONTROLS, 1u << 24)),
	CASE(ENTRY_INTR_TYPE, G64, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(1, 0x20))),
	CASE(ENTRY_INTR_TYPE, G64, ENTRY_INTR_INFO, C(CAP(procbased), (1ull << 27) << 32),
	     S(VMCS_ENTRY_INTR_INFO, INJ(7, 0))),
	CASE(ENTRY_INTR_VECTOR, G64, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(2, 3))),
	CASE(ENTRY_INTR_VECTOR, G64, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(3, 32))),
	CASE(ENTRY_INTR_ERRCODE_BIT, G64, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(3, 6) | ERRC)),
	CASE(ENTRY_INTR_ERRCODE_BIT, G64, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(3, 14))),
	CASE(ENTRY_INTR_ERRCODE_BIT, GREAL, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(3, 13) | ERRC)),
	CASE(ENTRY_INTR_RESERVED, G64, ENTRY_INTR_INFO, S(VMCS_ENTRY_INTR_INFO, INJ(3, 0) | (1u << 12))),
	CASE(ENTRY_EXC_ERRCODE, G64, ENTRY_EXCEPTION_ERROR_CODE,
	     S(VMCS_ENTRY_INTR_INFO, INJ(3, 13) | ERRC), S(VMCS_ENTRY_EXCEPTION_ERROR_CODE, 0x10000)),
	CASE(ENTRY_INSTR_LEN, G64, ENTRY_INSTRUCTION_LEN, S(VMCS_ENTRY_INTR_INFO, INJ(4, 0x80))),
	CASE(ENTRY_INSTR_LEN, G64, ENTRY_INSTRUCTION_LEN, S(VMCS_ENTRY_INTR_INFO, INJ(6, 3)),
	     S(VMCS_ENTRY_INSTRUCTION_LEN, 16)),
	CASE(ENTRY_MSR_LOAD, G64, ENTRY_MSR_LOAD_ADDR, S(VMCS_ENTRY_MSR_LOAD_COUNT, 1),
	     S(VMCS_ENTRY_MSR_LOAD_ADDR, 0xa004)),
	CASE(ENTRY_SMM, G64, ENTRY_CONTROLS, O(VMCS_ENTRY_CONTROLS, 1u << 10)),
	/* 26.2.2 */
	CASE(HOST_CR0, G64, HOST_CR0, C(VMCS_HOST_CR0, 1u << 5)),
	CASE(HOST_CR4, G64, HOST_CR4, C(VMCS_HOST_CR4, 1u << 13)),
	CASE(HOST_CR3, G64, HOST_CR3, S(VMCS_HOST_CR3, (1ull << 46) | 0x1000)),
	CASE(HOST_SYSENTER, G64, HOST_IA32_SYSENTER_EIP, S(VMCS_HOST_IA32_SYSENTER_EIP, 1ull << 47)),
	CASE(HOST_PAT, G64, HOST_IA32_PAT, S(VMCS_HOST_IA32_PAT, 0x0007040600070402ull)),
	CASE(HOST_EFER_RESERVED, G64, HOST_IA32_EFER, O(VMCS_HOST_IA32_EFER, 1u << 12)),
	CASE(HOST_EFER_LMA_LME, G64, HOST_IA32_EFER, C(VMCS_HOST_IA32_EFER, 1u << 10)),
	CASE(HOST_PKRS, G64, HOST_IA32_PKRS, O(CAP(exit), (1ull << 29) << 32),
	     O(VMCS_EXIT_CONTROLS, 1u << 29), S(VMCS_HOST_IA32_PKRS, 1ull << 32)),
	/* 26.2.3 */
	CASE(HOST_SEL_RPL_TI, G64, HOST_DS_SELECTOR, S(VMCS_HOST_DS_SELECTOR, 0x13)),
	CASE(HOST_SEL_RPL_TI, G64, HOST_TR_SELECTOR, S(VMCS_HOST_TR_SELECTOR, 0x1c)),
	CASE(HOST_CS_NONZERO, G64, HOST_CS_SELECTOR, S(VMCS_HOST_CS_SELECTOR, 0)),
	CASE(HOST_TR_NONZERO, G64, HOST_TR_SELECTOR, S(VMCS_HOST_TR_SELECTOR, 0)),
	CASE(HOST_BASES, G64, HOST_GS_BASE, S(VMCS_HOST_GS_BASE, 0x8000000000000000ull)),
	CASE(HOST_BASES, G64, HOST_TR_BASE, S(VMCS_HOST_TR_BASE, 0x0000800000000000ull)),
	/* 26.2.4 */
	CASE(HOST_ADDR_SPACE, G64, EXIT_CONTROLS, C(VMCS_EXIT_CONTROLS, 1u << 9),
	     C(VMCS_HOST_IA32_EFER, 0x500)),
	CASE(HOST_CR4_PAE, G64, HOST_CR4, C(VMCS_HOST_CR4, 1u << 5)),
	CASE(HOST_RIP, G64, HOST_RIP, S(VMCS_HOST_RIP, 0x0000800000000000ull)),
	/* 26.3.1.1 */
	CASE(GUEST_CR0, G64, GUEST_CR0, C(VMCS_GUEST_CR0, 1u << 5)),
	CASE(GUEST_CR0, GREAL, GUEST_CR0, C(VMCS_GUEST_CR0, 1u << 5)),
	CASE(GUEST_CR0, GREAL, GUEST_CR0, C(VMCS_SECONDARY_CONTROLS, 1u << 7)),  /* PE=0 w/o UG */
	CASE(GUEST_CR0_PG_PE, GREAL, GUEST_CR0, S(VMCS_GUEST_CR0, 0x80000030)),
	CASE(GUEST_CR4, G64, GUEST_CR4, C(VMCS_GUEST_CR4, 1u << 13)),
	CASE(GUEST_CR4, G64, GUEST_CR4, O(VMCS_GUEST_CR4, 1u << 11)),
	CASE(GUEST_CR4_CET_WP, G64, GUEST_CR4, O(CAP(cr4_fixed1), 1u << 23),
	     O(VMCS_GUEST_CR4, 1u << 23), C(VMCS_GUEST_CR0, 1u << 16)),
	CASE(GUEST_DEBUGCTL, G64, GUEST_IA32_DEBUGCTL, S(VMCS_GUEST_IA32_DEBUGCTL, 4)),
	CASE(GUEST_IA32E_PG_PAE, G64, GUEST_CR4, C(VMCS_GUEST_CR4, 1u << 5)),
	CASE(GUEST_PCIDE, GREAL, GUEST_CR4, O(VMCS_GUEST_CR4, 1u << 17)),
	CASE(GUEST_CR3, G64, GUEST_CR3, S(VMCS_GUEST_CR3, 1ull << 47)),
	CASE(GUEST_DR7, G64, GUEST_DR7, S(VMCS_GUEST_DR7, (1ull << 32) | 0x400)),
	CASE(GUEST_SYSENTER, G64, GUEST_IA32_SYSENTER_ESP,
	     S(VMCS_GUEST_IA32_SYSENTER_ESP, 0x0001000000000000ull)),
	CASE(GUEST_PAT, G64, GUEST_IA32_PAT, S(VMCS_GUEST_IA32_PAT, 8)),
	CASE(GUEST_EFER_RESERVED, G64, GUEST_IA32_EFER, O(VMCS_GUEST_IA32_EFER, 2)),
	CASE(GUEST_EFER_LMA, G64, GUEST_IA32_EFER, C(VMCS_GUEST_IA32_EFER, 1u << 10)),
	CASE(GUEST_EFER_LME, G64, GUEST_IA32_EFER, C(VMCS_GUEST_IA32_EFER, 1u << 8)),
	CASE(GUEST_BNDCFGS, G64, GUEST_IA32_BNDCFGS, O(VMCS_ENTRY_CONTROLS, 1u << 16),
	     S(VMCS_GUEST_IA32_BNDCFGS, 8)),
	CASE(GUEST_PKRS, G64, GUEST_IA32_PKRS, O(CAP(entry), (1ull << 22) << 32),
	     O(VMCS_ENTRY_CONTROLS, 1u << 22), S(VMCS_GUEST_IA32_PKRS, 1ull << 40)),
	/* 26.3.1.2 */
	CASE(GUEST_TR_TI, G64, GUEST_TR_SELECTOR, S(VMCS_GUEST_TR_SELECTOR, 0x1c)),
	CASE(GUEST_LDTR_TI, GREAL, GUEST_LDTR_SELECTOR, S(VMCS_GUEST_LDTR_SELECTOR, 4)),
	CASE(GUEST_SS_RPL, G64, GUEST_SS_SELECTOR, S(VMCS_GUEST_SS_SELECTOR, 0x13),
	     S(VMCS_GUEST_SS_AR, 0xc0f3), S(VMCS_GUEST_CS_AR, 0xa09f)),
	CASE(GUEST_V86_BASE, GV86, GUEST_DS_BASE, S(VMCS_GUEST_DS_BASE, 0x10)),
	CASE(GUEST_V86_LIMIT, GV86, GUEST_ES_LIMIT, S(VMCS_GUEST_ES_LIMIT, 0xfffff)),
	CASE(GUEST_V86_AR, GV86, GUEST_GS_AR, S(VMCS_GUEST_GS_AR, 0x10f3)),
	CASE(GUEST_BASE_CANONICAL, G64, GUEST_FS_BASE, S(VMCS_GUEST_FS_BASE, 1ull << 47)),
	CASE(GUEST_BASE_CANONICAL, GREAL, GUEST_LDTR_BASE, S(VMCS_GUEST_LDTR_BASE, 1ull << 60)),
	CASE(GUEST_BASE_HIGH, G64, GUEST_DS_BASE, S(VMCS_GUEST_DS_BASE, 1ull << 32)),
	CASE(GUEST_CS_TYPE, G64, GUEST_CS_AR, S(VMCS_GUEST_CS_AR, 0xa098)),
	CASE(GUEST_CS_TYPE, G64, GUEST_CS_AR, S(VMCS_GUEST_CS_AR, 0xa093)),   /* 3 needs UG */
	CASE(GUEST_SS_TYPE, G64, GUEST_SS_AR, S(VMCS_GUEST_SS_AR, 0xc091)),
	CASE(GUEST_DATA_TYPE, G64, GUEST_DS_AR, S(VMCS_GUEST_DS_AR, 0xc092)),
	CASE(GUEST_DATA_TYPE, G64, GUEST_FS_AR, S(VMCS_GUEST_FS_AR, 0xc099)),  /* exec-only code */
	CASE(GUEST_SEG_S, G64, GUEST_ES_AR, S(VMCS_GUEST_ES_AR, 0xc083)),
	CASE(GUEST_CS_DPL, G64, GUEST_CS_AR, S(VMCS_GUEST_CS_AR, 0xa0bb)),
	CASE(GUEST_CS_DPL, GREAL, GUEST_CS_AR, O(VMCS_GUEST_CR0, 1), S(VMCS_GUEST_CS_AR, 0xb3)),
	CASE(GUEST_SS_DPL, G64, GUEST_SS_AR, S(VMCS_GUEST_SS_AR, 0xc0b3), S(VMCS_GUEST_CS_AR, 0xa09f)),
	CASE(GUEST_SS_DPL, GREAL, GUEST_SS_AR, S(VMCS_GUEST_SS_AR, 0xb3), S(VMCS_GUEST_CS_AR, 0x9f)),
	CASE(GUEST_DATA_DPL, G64, GUEST_DS_AR, S(VMCS_GUEST_DS_SELECTOR, 0x13)),
	CASE(GUEST_SEG_P, G64, GUEST_FS_AR, S(VMCS_GUEST_FS_AR, 0xc013)),
	CASE(GUEST_SEG_RESERVED, G64, GUEST_GS_AR, S(VMCS_GUEST_GS_AR, 0xc193)),
	CASE(GUEST_SEG_RESERVED, G64, GUEST_CS_AR, S(VMCS_GUEST_CS_AR, 0x2a09b)),
	CASE(GUEST_CS_L_D, G64, GUEST_CS_AR, S(VMCS_GUEST_CS_AR, 0xe09b)),
	CASE(GUEST_SEG_LIMIT_G, G64, GUEST_DS_AR, S(VMCS_GUEST_DS_LIMIT, 0xfffff000)),
	CASE(GUEST_SEG_LIMIT_G, GREAL, GUEST_SS_AR, S(VMCS_GUEST_SS_LIMIT, 0x100000)),
	CASE(GUEST_TR_TYPE, G64, GUEST_TR_AR, S(VMCS_GUEST_TR_AR, 0x83)),
	CASE(GUEST_TR_TYPE, GREAL, GUEST_TR_AR, S(VMCS_GUEST_TR_AR, 0x89)),  /* available TSS */
	CASE(GUEST_TR_AR, G64, GUEST_TR_AR, S(VMCS_GUEST_TR_AR, 0x9b)),
	CASE(GUEST_TR_AR, G64, GUEST_TR_AR, S(VMCS_GUEST_TR_AR, 0x1008b)),
	CASE(GUEST_TR_LIMIT_G, G64, GUEST_TR_AR, S(VMCS_GUEST_TR_LIMIT, 0x100000)),
	CASE(GUEST_LDTR_AR, GREAL, GUEST_LDTR_AR, S(VMCS_GUEST_LDTR_AR, 0x83)),
	CASE(GUEST_LDTR_LIMIT_G, GREAL, GUEST_LDTR_AR, S(VMCS_GUEST_LDTR_LIMIT, 0x100000)),
	/* 26.3.1.3 */
	CASE(GUEST_DTR_BASE, G64, GUEST_IDTR_BASE, S(VMCS_GUEST_IDTR_BASE, 0x00ff000000000000ull)),
	CASE(GUEST_DTR_LIMIT, G64, GUEST_GDTR_LIMIT, S(VMCS_GUEST_GDTR_LIMIT, 0x10000)),
	/* 26.3.1.4 */
	CASE(GUEST_RIP_HIGH, GREAL, GUEST_RIP, S(VMCS_GUEST_RIP, 1ull << 32)),
	CASE(GUEST_RIP_CANONICAL, G64, GUEST_RIP, S(VMCS_GUEST_RIP, 0x0000800000000000ull)),
	CASE(GUEST_RFLAGS_RESERVED, G64, GUEST_RFLAGS, S(VMCS_GUEST_RFLAGS, 0)),
	CASE(GUEST_RFLAGS_RESERVED, G64, GUEST_RFLAGS, S(VMCS_GUEST_RFLAGS, 0x8002)),
	CASE(GUEST_RFLAGS_VM, GV86, GUEST_RFLAGS, C(VMCS_GUEST_CR0, 1)),
	CASE(GUEST_RFLAGS_IF, G64, GUEST_RFLAGS, S(VMCS_ENTRY_INTR_INFO, INJ(0, 0x20))),
	/* 26.3.1.5 */
	CASE(GUEST_ACTIVITY, G64, GUEST_ACTIVITY_STATE, S(VMCS_GUEST_ACTIVITY_STATE, 4)),
	CASE(GUEST_ACTIVITY, G64, GUEST_ACTIVITY_STATE, C(CAP(misc), 1u << 7),
	     S(VMCS_GUEST_ACTIVITY_STATE, 2)),
	CASE(GUEST_ACTIVITY_HLT_DPL, GREAL, GUEST_ACTIVITY_STATE, O(VMCS_GUEST_CR0, 1),
	     S(VMCS_GUEST_SS_AR, 0xf3), S(VMCS_GUEST_CS_AR, 0x9f), S(VMCS_GUEST_ACTIVITY_STATE, 1)),
	CASE(GUEST_ACTIVITY_BLOCKING, G64, GUEST_ACTIVITY_STATE, S(VMCS_GUEST_INTERRUPTIBILITY, 2),
	     S(VMCS_GUEST_ACTIVITY_STATE, 1)),
	CASE(GUEST_ACTIVITY_EVENT, G64, ENTRY_INTR_INFO, S(VMCS_GUEST_ACTIVITY_STATE, 1),
	     S(VMCS_ENTRY_INTR_INFO, INJ(3, 13) | ERRC)),
	CASE(GUEST_ACTIVITY_EVENT, G64, ENTRY_INTR_INFO, S(VMCS_GUEST_ACTIVITY_STATE, 3),
	     S(VMCS_ENTRY_INTR_INFO, INJ(2, 2))),
	CASE(GUEST_INTR_RESERVED, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_INTERRUPTIBILITY, 0x20)),
	CASE(GUEST_INTR_STI_MOVSS, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_INTERRUPTIBILITY, 3),
	     S(VMCS_GUEST_RFLAGS, 0x202)),
	CASE(GUEST_INTR_STI_IF, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_INTERRUPTIBILITY, 1)),
	CASE(GUEST_INTR_EXTINT, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_RFLAGS, 0x202),
	     S(VMCS_GUEST_INTERRUPTIBILITY, 2), S(VMCS_ENTRY_INTR_INFO, INJ(0, 0x20))),
	CASE(GUEST_INTR_NMI_MOVSS, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_INTERRUPTIBILITY, 2),
	     S(VMCS_ENTRY_INTR_INFO, INJ(2, 2))),
	CASE(GUEST_INTR_NMI_STI, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_RFLAGS, 0x202),
	     S(VMCS_GUEST_INTERRUPTIBILITY, 1), S(VMCS_ENTRY_INTR_INFO, INJ(2, 2))),
	CASE(GUEST_INTR_SMI, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_INTERRUPTIBILITY, 4)),
	CASE(GUEST_INTR_VNMI, G64, GUEST_INTERRUPTIBILITY, S(VMCS_GUEST_INTERRUPTIBILITY, 8),
	     S(VMCS_ENTRY_INTR_INFO, INJ(2, 2))),
	CASE(GUEST_PENDING_DBG_RESERVED, G64, GUEST_PENDING_DBG_EXCEPTIONS,
	     S(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x10)),
	CASE(GUEST_PENDING_DBG_BS, G64, GUEST_PENDING_DBG_EXCEPTIONS, S(VMCS_GUEST_INTERRUPTIBILITY, 2),
	     S(VMCS_GUEST_RFLAGS, 0x102)),
	CASE(GUEST_PENDING_DBG_BS, G64, GUEST_PENDING_DBG_EXCEPTIONS, S(VMCS_GUEST_ACTIVITY_STATE, 1),
	     S(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x4000)),
	CASE(GUEST_LINK_POINTER, G64, VMCS_LINK_POINTER, S(VMCS_VMCS_LINK_POINTER, 0x10000010)),
	CASE(GUEST_LINK_POINTER, G64, VMCS_LINK_POINTER, S(VMCS_VMCS_LINK_POINTER, 1ull << 52)),
	/* 26.3.1.6 */
	CASE(GUEST_PDPTE, GREAL, GUEST_PDPTE0, S(VMCS_GUEST_CR0, 0x80000031), O(VMCS_GUEST_CR4, 1u << 5),
	     S(VMCS_GUEST_PDPTE0, 0x1003)),
	CASE(GUEST_PDPTE, GREAL, GUEST_PDPTE3, S(VMCS_GUEST_CR0, 0x80000031), O(VMCS_GUEST_CR4, 1u << 5),
	     S(VMCS_GUEST_PDPTE0, 0x1001), S(VMCS_GUEST_PDPTE3, (1ull << 50) | 0x2001)),
};

static void apply(const struct patch *p, struct vmcs_image *img, struct vmx_caps *caps,
		  unsigned *maxphy)
{
	for (; p->op != END; p++) {
		uint64_t *cap = NULL, old;
		if (p->target == MAXPHYT) {
			*maxphy = (unsigned)p->v;
			continue;
		}
		if (p->target >= 0x10000u)
			cap = (uint64_t *)((char *)caps + (p->target - 0x10000u));
		old = cap ? *cap : vmcs_get(img, p->target);
		uint64_t v = p->op == SET ? p->v : p->op == OR ? old | p->v : old & ~p->v;
		if (cap)
			*cap = v;
		else
			set(img, p->target, v);
	}
}

static void test_each_check_fails_alone(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_case *bc = &cases[i];
		const struct vmx_check *row = &vmx_check_table[bc->id];
		struct vmcs_image img;
		struct vmx_caps caps;
		struct vmx_check_failure f[VMX_CHECK_COUNT], one;
		unsigned maxphy = MAXPHY;
		int n;

		golden(bc->base, &img, &caps);
		apply(bc->p, &img, &caps, &maxphy);
		n = vmx_check_entry(&img, &caps, maxphy, f, VMX_CHECK_COUNT);
		if (n != 1 || f[0].id != bc->id || f[0].field != bc->field) {
			fprintf(stderr, "case %u: expected only [%s] on field %#x, got %d:\n",
				i, row->name, bc->field, n);
			print_failures(f, n);
		}
		assert_int_equal(n, 1);
		assert_int_equal(f[0].id, bc->id);
		assert_string_equal(f[0].name, row->name);
		assert_string_equal(f[0].sdm_ref, row->sdm_ref);
		assert_int_equal(f[0].cls, row->cls);
		assert_int_equal(f[0].field, bc->field);
		assert_int_equal(f[0].value, vmcs_get(&img, bc->field));
		/* vmx_check_one agrees */
		assert_false(vmx_check_one(bc->id, &img, &caps, maxphy, &one));
		assert_int_equal(one.id, bc->id);
		assert_int_equal(one.field, bc->field);
	}
}

/* Every row of the table has at least one case above, and is well-formed. */
static void test_every_check_covered(void **state)
{
	(void)state;
	static const char *const refs[] = { "26.2.1.1", "26.2.1.2", "26.2.1.3", "26.2.2", "26.2.3",
		"26.2.4", "26.3.1.1", "26.3.1.2", "26.3.1.3", "26.3.1.4", "26.3.1.5", "26.3.1.6" };
	unsigned last_cls = 0;

	for (unsigned id = 0; id < VMX_CHECK_COUNT; id++) {
		const struct vmx_check *row = &vmx_check_table[id];
		bool covered = false, ref_ok = false;

		assert_int_equal(row->id, id);
		assert_non_null(row->fn);
		assert_non_null(row->name);
		assert_true(row->cls >= last_cls);     /* control, then host, then guest */
		last_cls = row->cls;
		for (unsigned r = 0; r < sizeof refs / sizeof refs[0]; r++)
			ref_ok |= strcmp(row->sdm_ref, refs[r]) == 0;
		assert_true(ref_ok);
		assert_true(row->cls == VMX_CHECK_GUEST || row->exit_qual == 0);
		for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
			covered |= cases[i].id == id;
		if (!covered)
			fprintf(stderr, "no breaking case for [%s]\n", row->name);
		assert_true(covered);
	}
}

/* Valid variations of the goldens: features switched on correctly. */
static const struct { uint8_t base; struct patch p[6]; } valid[] = {
	/* inject #GP with an error code into the 64-bit guest */
	{ G64, { S(VMCS_ENTRY_INTR_INFO, INJ(3, 13) | ERRC), S(VMCS_ENTRY_EXCEPTION_ERROR_CODE, 0xffff) } },
	/* inject #GP without error code into the real-mode guest */
	{ GREAL, { S(VMCS_ENTRY_INTR_INFO, INJ(3, 13)) } },
	/* with IA32_VMX_BASIC[56], any hardware exception may push an error code */
	{ G64, { O(CAP(basic), 1ull << 56), S(VMCS_ENTRY_INTR_INFO, INJ(3, 6) | ERRC) } },
	/* external interrupt with IF = 1; NMI; pending MTF; INT3 */
	{ G64, { S(VMCS_GUEST_RFLAGS, 0x202), S(VMCS_ENTRY_INTR_INFO, INJ(0, 0x30)) } },
	{ G64, { S(VMCS_ENTRY_INTR_INFO, INJ(2, 2)) } },
	{ G64, { S(VMCS_ENTRY_INTR_INFO, INJ(7, 0)) } },
	{ G64, { S(VMCS_ENTRY_INTR_INFO, INJ(6, 3)), S(VMCS_ENTRY_INSTRUCTION_LEN, 1) } },
	{ G64, { O(CAP(misc), 1u << 30), S(VMCS_ENTRY_INTR_INFO, INJ(4, 0x80)) } },
	/* HLT state woken by an external interrupt */
	{ G64, { S(VMCS_GUEST_ACTIVITY_STATE, 1), S(VMCS_GUEST_RFLAGS, 0x202),
		 S(VMCS_ENTRY_INTR_INFO, INJ(0, 0x20)) } },
	/* MOV-SS blocking with a single-step pending (TF=1, BS=1) */
	{ G64, { S(VMCS_GUEST_INTERRUPTIBILITY, 2), S(VMCS_GUEST_RFLAGS, 0x102),
		 S(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0x4000) } },
	/* posted interrupts done right */
	{ G64, { O(VMCS_PIN_BASED_CONTROLS, 1u << 7), O(VMCS_SECONDARY_CONTROLS, (1u << 9) | (1u << 8)),
		 S(VMCS_POSTED_INTR_NV, 0xf2), S(VMCS_POSTED_INTR_DESC_ADDR, 0x9040) } },
	/* VMCS shadowing with a link pointer to a shadow VMCS */
	{ G64, { O(VMCS_SECONDARY_CONTROLS, 1u << 14), S(VMCS_VMREAD_BITMAP, 0x6000),
		 S(VMCS_VMWRITE_BITMAP, 0x7000), S(VMCS_VMCS_LINK_POINTER, 0x8000) } },
	/* EPTP switching, PML, #VE */
	{ G64, { O(VMCS_SECONDARY_CONTROLS, (1u << 13) | (1u << 17) | (1u << 18)),
		 S(VMCS_VMFUNC_CONTROLS, 1), S(VMCS_EPTP_LIST_ADDR, 0xa000),
		 S(VMCS_PML_ADDRESS, 0xb000), S(VMCS_VE_INFO_ADDR, 0xc000) } },
	/* MSR areas ending exactly at the top of physical memory */
	{ G64, { S(VMCS_ENTRY_MSR_LOAD_COUNT, 0x80), S(VMCS_ENTRY_MSR_LOAD_ADDR, (1ull << 46) - 0x800) } },
	/* PAE paging with EPT and good PDPTEs (a not-present one may hold anything) */
	{ GREAL, { S(VMCS_GUEST_CR0, 0x80000031), O(VMCS_GUEST_CR4, 1u << 5),
		   S(VMCS_GUEST_PDPTE0, 0x1001), S(VMCS_GUEST_PDPTE1, 0xfffffffffffffffeull) } },
	/* compatibility mode: IA-32e guest with CS.L = 0, D = 1 */
	{ G64, { S(VMCS_GUEST_CS_AR, 0xc09b), S(VMCS_GUEST_RIP, 0x1000) } },
	/* 5-level paging guest: 57-bit canonical RIP */
	{ G64, { O(CAP(cr4_fixed1), 1u << 12), O(VMCS_GUEST_CR4, 1u << 12),
		 S(VMCS_GUEST_RIP, 0xff00000000000000ull) } },
	/* user-mode 64-bit guest state */
	{ G64, { S(VMCS_GUEST_CS_SELECTOR, 0x33), S(VMCS_GUEST_CS_AR, 0xa0fb),
		 S(VMCS_GUEST_SS_SELECTOR, 0x2b), S(VMCS_GUEST_SS_AR, 0xc0f3) } },
	/* unusable data segments with garbage in them */
	{ G64, { S(VMCS_GUEST_DS_AR, 0x1ffff), S(VMCS_GUEST_ES_AR, 0x10000), S(VMCS_GUEST_ES_BASE, ~0ull) } },
	/* as many CR3 targets as IA32_VMX_MISC reports */
	{ G64, { S(VMCS_CR3_TARGET_COUNT, 4) } },
};

static void test_valid_variations(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct vmcs_image img;
		struct vmx_caps caps;
		unsigned maxphy = MAXPHY;
		golden(valid[i].base, &img, &caps);
		apply(valid[i].p, &img, &caps, &maxphy);
		assert_passes(&img, &caps);
	}
}

/* Values are read at the field's width: bits above it in the image (which
 * vmcs_set never writes, but a fuzzer or a careless caller might) do not
 * matter, as on a CPU, where the field simply has no such bits. */
static void test_width_truncation(void **state)
{
	(void)state;
	struct vmcs_image img;
	struct vmx_caps caps;

	golden(G64, &img, &caps);
	img.v[VMCS_IDX_VPID] = 0xffff0001;                 /* 16-bit: reads as 1 */
	img.v[VMCS_IDX_GUEST_ACTIVITY_STATE] = 1ull << 32; /* 32-bit: reads as 0 */
	img.v[VMCS_IDX_GUEST_TR_AR] |= 0xff00000000ull;
	assert_passes(&img, &caps);
	img.v[VMCS_IDX_VPID] = 0x10000;                    /* reads as 0 */
	assert_false(vmx_check_one(VMX_CHK_VPID_NONZERO, &img, &caps, MAXPHY, NULL));
}

/* The verdict: first failure decides, mapped to the architectural answer. */
static void test_verdict(void **state)
{
	(void)state;
	struct vmcs_image img;
	struct vmx_caps caps;
	struct vmx_check_failure f[VMX_CHECK_COUNT];
	uint32_t v;
	int n;

	/* a control failure wins over host and guest failures */
	golden(G64, &img, &caps);
	set(&img, VMCS_VPID, 0);
	set(&img, VMCS_HOST_CS_SELECTOR, 0);
	set(&img, VMCS_GUEST_RFLAGS, 0);
	n = vmx_check_entry(&img, &caps, MAXPHY, f, VMX_CHECK_COUNT);
	assert_int_equal(n, 3);
	v = vmx_check_verdict(f, n);
	assert_int_equal(vmx_verdict_kind(v), VMX_VERDICT_FAIL_VALID);
	assert_int_equal(vmx_verdict_error(v), 7);
	/* fewer slots than failures: the count is still the total */
	assert_int_equal(vmx_check_entry(&img, &caps, MAXPHY, f, 1), 3);
	assert_int_equal(f[0].id, VMX_CHK_VPID_NONZERO);
	assert_int_equal(vmx_check_entry(&img, &caps, MAXPHY, NULL, 0), 3);

	/* host over guest */
	set(&img, VMCS_VPID, 1);
	n = vmx_check_entry(&img, &caps, MAXPHY, f, VMX_CHECK_COUNT);
	assert_int_equal(n, 2);
	v = vmx_check_verdict(f, n);
	assert_int_equal(vmx_verdict_kind(v), VMX_VERDICT_FAIL_VALID);
	assert_int_equal(vmx_verdict_error(v), 8);

	/* guest: exit reason 33, qualification 0 */
	set(&img, VMCS_HOST_CS_SELECTOR, 8);
	n = vmx_check_entry(&img, &caps, MAXPHY, f, VMX_CHECK_COUNT);
	v = vmx_check_verdict(f, n);
	assert_int_equal(vmx_verdict_kind(v), VMX_VERDICT_ENTRY_FAIL_EXIT);
	assert_int_equal(vmx_verdict_reason(v), 33);
	assert_int_equal(vmx_verdict_qual(v), 0);

	assert_int_equal(vmx_check_verdict(f, 0), VMX_VERDICT_OK);
	assert_int_equal(vmx_check_verdict(NULL, 3), VMX_VERDICT_OK);
}

/* Exit qualifications 2, 3 and 4 (SDM 26.8 / Table of basic exit reasons). */
static void test_verdict_qualifications(void **state)
{
	(void)state;
	static const struct { uint16_t id; unsigned qual; } q[] = {
		{ VMX_CHK_GUEST_PDPTE, 2 }, { VMX_CHK_GUEST_INTR_NMI_STI, 3 },
		{ VMX_CHK_GUEST_LINK_POINTER, 4 },
	};
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			struct vmcs_image img;
			struct vmx_caps caps;
			struct vmx_check_failure f[4];
			unsigned maxphy = MAXPHY;
			if (cases[i].id != q[k].id)
				continue;
			golden(cases[i].base, &img, &caps);
			apply(cases[i].p, &img, &caps, &maxphy);
			int n = vmx_check_entry(&img, &caps, maxphy, f, 4);
			uint32_t v = vmx_check_verdict(f, n);
			assert_int_equal(vmx_verdict_kind(v), VMX_VERDICT_ENTRY_FAIL_EXIT);
			assert_int_equal(vmx_verdict_reason(v), VMX_EXIT_ENTRY_FAIL_GUEST);
			assert_int_equal(vmx_verdict_qual(v), q[k].qual);
		}
	}
}

/* Robustness: an all-zero and an all-ones image and capability set. */
static void test_extremes(void **state)
{
	(void)state;
	static struct vmcs_image img;
	struct vmx_caps caps;
	struct vmx_check_failure f[VMX_CHECK_COUNT];

	memset(&img, 0, sizeof img);
	memset(&caps, 0, sizeof caps);
	int n = vmx_check_entry(&img, &caps, 0, f, VMX_CHECK_COUNT);
	assert_true(n > 0 && n <= VMX_CHECK_COUNT);
	memset(&img, 0xff, sizeof img);
	memset(&caps, 0xff, sizeof caps);
	for (unsigned mp = 0; mp <= 70; mp += 10) {
		n = vmx_check_entry(&img, &caps, mp, f, VMX_CHECK_COUNT);
		assert_true(n > 0 && n <= VMX_CHECK_COUNT);
		for (int i = 1; i < n; i++)
			assert_true(f[i - 1].id < f[i].id);
	}
	assert_false(vmx_check_one(VMX_CHECK_COUNT, &img, &caps, 46, NULL));
	assert_string_equal(vmx_check_class_name(VMX_CHECK_HOST), "host");
}

/* ---- seeds for tests/fuzz/fuzz_vmx_check.c (its input format) ---- */

static void put64(FILE *fp, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		fputc((int)(v >> (8 * i)) & 0xff, fp);
}

static void write_seed(const char *dir, const char *name, enum base b)
{
	char path[512];
	struct vmcs_image img;
	struct vmx_caps c;
	FILE *fp;

	golden(b, &img, &c);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	fputc(MAXPHY, fp);
	fputc(c.true_ctls ? 1 : 0, fp);
	const uint64_t capv[15] = { c.basic, c.pinbased, c.procbased, c.procbased2, c.exit,
		c.entry, c.misc, c.cr0_fixed0, c.cr0_fixed1, c.cr4_fixed0, c.cr4_fixed1,
		c.ept_vpid, c.vmfunc, c.procbased3, c.exit2 };
	for (unsigned i = 0; i < 15; i++)
		put64(fp, capv[i]);
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
		if (!img.v[i])
			continue;
		fputc(vmcs_field_table[i].encoding & 0xff, fp);
		fputc(vmcs_field_table[i].encoding >> 8, fp);
		put64(fp, img.v[i]);
	}
	fclose(fp);
}

static void test_write_seeds(void **state)
{
	(void)state;
	const char *dir = getenv("NESTOR_VMX_SEED_DIR");
	if (!dir)
		return;
	write_seed(dir, "golden_64", G64);
	write_seed(dir, "golden_real", GREAL);
	write_seed(dir, "golden_v86", GV86);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_pass),
		cmocka_unit_test(test_each_check_fails_alone),
		cmocka_unit_test(test_every_check_covered),
		cmocka_unit_test(test_valid_variations),
		cmocka_unit_test(test_width_truncation),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_verdict_qualifications),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_write_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
