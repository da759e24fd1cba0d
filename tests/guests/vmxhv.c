/*
 * vmxhv: a small Intel VMX hypervisor that is itself a test guest (an "L1").
 * The twin of svmhv (tests/guests/svmhv.c) for VT-x.
 *
 * It runs boot module 0, another test guest (a Multiboot1 kernel), as its
 * own guest ("L2"), the way a real hypervisor would (Intel SDM vol. 3C,
 * chapters 24-30):
 *   - L2's memory is a window of vmxhv's RAM, mapped by an EPT12 that vmxhv
 *     builds (L2 GPA -> L1 GPA, SDM 29.3): 4-level, write-back, 4 KiB pages
 *     for the first 2 MiB and 2 MiB pages above, plus the LAPIC, IOAPIC and
 *     BIOS area passed through at their own addresses;
 *   - L2 starts as a Multiboot1 loader would start it (32-bit protected
 *     mode, paging off, EAX = 0x2BADB002, EBX = the information structure),
 *     which VMX allows with "unrestricted guest" (25.6.2, 27.3.1.1);
 *   - vmxhv handles L2's CPUID (hiding VMX, CPUID.1:ECX bit 5), the CR0/CR4
 *     bits VMX reserves (CR0.NE, CR4.VMXE: guest/host masks and read shadows,
 *     25.6.6), the MSRs outside the MSR bitmap's ranges and the VMX
 *     capability MSRs, and VMCALL: a few hypercalls of its own that change
 *     EPT12 while L2 runs (tests/guests/npt12.c, the same ABI as svmhv's),
 *     to test that the hypervisor below vmxhv follows such changes once
 *     vmxhv executes INVEPT (29.4.3.4); others go on to that hypervisor.
 *     VMX instructions give L2 a #UD.  L2's write to the isa-debug-exit
 *     port 0xF4 (the one port of the I/O bitmaps) ends the run.  Everything
 *     else (I/O, MMIO, interrupts: external-interrupt exiting is off, so
 *     they are delivered through L2's IDT; the LAPIC) passes through to the
 *     hypervisor below.  Boot modules 1, 2... become L2's Multiboot modules.
 *
 * Nested mode (the command line says `nested`, or there is a module 1 for
 * L2 to run): L2 may itself be a hypervisor, e.g. a second copy of vmxhv.
 * vmxhv then offers it VMX and emulates it, as Nestor does for vmxhv (see
 * "L2 as a hypervisor" below): CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL and
 * vmxhv's own VMX capability MSRs, CR4.VMXE, and L2's VMXON ... INVEPT;
 * L2's VMLAUNCH/VMRESUME runs L2's guest ("L3") on a VMCS of vmxhv's own
 * (vmcs13) through an EPT that vmxhv composes from L2's EPT23 and its own
 * EPT12 (EPT13).  The twin of svmhv's nested mode.
 *
 * Under plain Bochs (which emulates VMX with EPT, VPID and unrestricted
 * guest) vmxhv runs on the emulated CPU; under Nestor with `nested = on`,
 * Nestor emulates VMX for it.  vmxhv runs on the runtime's identity map
 * (boot/multiboot2/entry.S), so its addresses below 4 GiB are L1 GPAs.
 *
 * A copy running as L2 under another vmxhv calls itself "vmxhv(L2)" in its
 * messages.
 *
 * Command line: `l2mem=SIZE` (L2 RAM, default 32M, 64M in nested mode),
 * `nested`, `-- WORDS` (the rest is L2's command line, default "l2").
 *
 * The L2 window and the Multiboot1 loader are shared with svmhv
 * (tests/guests/rt/l2_window.h), so the two L1s load L2 identically.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/vmx_l1.h"
#include "tests/guests/rt/vmx_guest.h"

extern char __kernel_end[];

#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

#define EFER_LMA (1ull << 10)
#define CR0_ET   (1ull << 4)
#define CR0_NW   (1ull << 29)
#define CR0_CD   (1ull << 30)

static bool has_vpid, has_shadow_vmcs, l1_under_nestor;
static uint64_t invept_type;               /* 1 single-context, 2 all-context (SDM 31.3 INVEPT) */
static unsigned phys_bits = 36;            /* MAXPHYADDR (CPUID 0x80000008 EAX[7:0]) */
static bool nested_l2;                     /* L2 is offered VMX (nested mode) */
static const char *me = "vmxhv";           /* "vmxhv(L2)" when vmxhv runs under vmxhv */

/* ---- vmxhv's VMX pages ------------------------------------------------- */
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));  /* 25.11.5 */
static uint8_t vmcs12[4096] __attribute__((aligned(4096)));        /* L2 as vmxhv runs it */
static uint8_t vmcs13[4096] __attribute__((aligned(4096)));        /* L3 as vmxhv runs it (nested mode) */
static uint8_t io_bitmap_a[4096] __attribute__((aligned(4096)));   /* ports 0-7FFF (25.6.4) */
static uint8_t io_bitmap_b[4096] __attribute__((aligned(4096)));   /* ports 8000-FFFF */
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));    /* 25.6.9 */
static uint8_t fx_l1[512] __attribute__((aligned(16)));
static uint8_t fx_l2[512] __attribute__((aligned(16)));

/* L2's general registers other than RSP (which is in the VMCS): VM entry
 * and exit load and store none of them (27.3.2, 28.3). */
static struct vmx_l1_gprs l2;

static void fail_exit(const char *what, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail_exit(const char *what, const char *fmt, ...)
{
	char detail[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rt_check(false, me, "%s: %s", what, detail);
	rt_exit();
}

/* The VMCS vmxhv's VMREAD/VMWRITE/VMLAUNCH/VMRESUME work on: vmcs12 while
 * it handles L2, vmcs13 while it handles L3 (25.11.3: VMPTRLD). */
static uint8_t *vmcs_current;

static void use_vmcs(uint8_t *vmcs)
{
	if (vmcs_current == vmcs)
		return;
	int r = vx_vmptrld((uint64_t)vmcs);
	if (r) {
		char b[80];
		fail_exit("VMPTRLD", "%s %#lx: %s", vmcs == vmcs12 ? "vmcs12" : "vmcs13", (unsigned long)vmcs,
			  vx_fail_text(r, b, sizeof(b)));
	}
	vmcs_current = vmcs;
}

/* ---- Turning VMX on (SDM 24.7, 24.8) and what vmxhv needs of it -------- */
static void vmx_enable(void)
{
	const char *why = vmx_l1_enable(vmxon_region);
	if (why)
		fail_exit("VMX", "%s", why);
	const struct vmx_l1_caps *c = &vmx_l1;
	uint32_t need2 = VX_PROC2_EPT | VX_PROC2_UNRESTRICTED;
	if (!vmx_l1_may(c->proc, VX_PROC_SECONDARY | VX_PROC_IO_BITMAPS | VX_PROC_MSR_BITMAPS) ||
	    !vmx_l1_may(c->proc2, need2))
		fail_exit("VMX", "needs I/O and MSR bitmaps, EPT and unrestricted guest (procbased %#lx, procbased2 %#lx)",
			  (unsigned long)c->proc, (unsigned long)c->proc2);
	if ((c->ept_vpid & (VX_EPT_WALK_4 | VX_EPT_WB | VX_EPT_2M)) != (VX_EPT_WALK_4 | VX_EPT_WB | VX_EPT_2M))
		fail_exit("VMX", "EPT without 4-level walks, WB or 2 MiB pages (EPT_VPID_CAP %#lx)",
			  (unsigned long)c->ept_vpid);
	if (!(c->ept_vpid & VX_EPT_INVEPT) || !(c->ept_vpid & (VX_EPT_INVEPT_SINGLE | VX_EPT_INVEPT_ALL)))
		fail_exit("VMX", "no INVEPT: EPT12 edits could not be made visible (EPT_VPID_CAP %#lx)",
			  (unsigned long)c->ept_vpid);
	invept_type = c->ept_vpid & VX_EPT_INVEPT_SINGLE ? 1 : 2;
	/* L2's EFER (LME/LMA once it enters long mode) must survive exits. */
	if (!vmx_l1_may(c->exit, VX_EXIT_SAVE_EFER | VX_EXIT_LOAD_EFER) || !vmx_l1_may(c->entry, VX_ENTRY_LOAD_EFER))
		fail_exit("VMX", "needs the save/load IA32_EFER controls (exit %#lx, entry %#lx)",
			  (unsigned long)c->exit, (unsigned long)c->entry);
	has_vpid = vmx_l1_may(c->proc2, VX_PROC2_VPID);
	has_shadow_vmcs = vmx_l1_may(c->proc2, VX_PROC2_SHADOW_VMCS);
	if (cpuid(0x80000000, 0).eax >= 0x80000008)
		phys_bits = cpuid(0x80000008, 0).eax & 0xff;
	l1_under_nestor = rt_under_nestor();
}

#define L2_LOADER_NAME "vmxhv"
#include "tests/guests/rt/l2_window.h"

/* ---- EPT12: L2 GPA -> L1 GPA (SDM 29.3.2, 29.3.7) -----------------------
 * An entry is present when any of R, W, X is set; leaves carry the memory
 * type in bits 5:3 (WB for RAM, UC for MMIO), bit 7 makes a PDE a 2 MiB
 * page.  Non-leaf entries have bits 7:3 reserved (zero). */
#define EPT_R       (1ull << 0)
#define EPT_W       (1ull << 1)
#define EPT_X       (1ull << 2)
#define EPT_RWX     (EPT_R | EPT_W | EPT_X)
#define EPT_MT_WB   (6ull << 3)
#define EPT_MT_UC   (0ull << 3)
#define EPT_IPAT    (1ull << 6)
#define EPT_PS      (1ull << 7)
#define EPT_TABLE   EPT_RWX
#define EPT_LEAF    (EPT_RWX | EPT_MT_WB)
#define EPT_MMIO    (EPT_RWX | EPT_MT_UC)
#define EPT_LEAF_ATTRS (EPT_RWX | (7ull << 3) | EPT_IPAT)
#define EPT_ADDR_4K 0x000ffffffffff000ull
#define EPT_ADDR_2M 0x000fffffffe00000ull
#define VX_EPT_1G   (1ull << 17)   /* IA32_VMX_EPT_VPID_CAP: 1 GiB pages (A.10) */

static uint64_t ept12_pages[32][512] __attribute__((aligned(4096)));
static unsigned ept12_used;
static uint64_t *ept12_pml4;
static uint64_t eptp12;

static uint64_t *ept12_alloc(void)
{
	if (ept12_used == sizeof(ept12_pages) / sizeof(ept12_pages[0]))
		return NULL;
	uint64_t *t = ept12_pages[ept12_used++];
	memset(t, 0, 4096);
	return t;
}

static unsigned ept12_index(uint64_t gpa, int level) { return (gpa >> (12 + 9 * (level - 1))) & 511; }
static bool ept_present(uint64_t e) { return e & EPT_RWX; }

/*
 * The EPT12 entry that maps gpa at level 3 (a 1 GiB page, PDPTE), 2 (a
 * 2 MiB page, PDE) or 1 (a 4 KiB page, PTE), creating the tables above
 * it.  Asking for a smaller entry inside a large page splits that page
 * into 512 equal pages of the next size.
 */
static uint64_t *ept12_entry(uint64_t gpa, int level)
{
	uint64_t *t = ept12_pml4;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[ept12_index(gpa, l)];
		if (!ept_present(*e) || (*e & EPT_PS)) {
			uint64_t *next = ept12_alloc();
			if (!next)
				return NULL;
			if (ept_present(*e))                    /* a large page: split it */
				for (unsigned i = 0; i < 512; i++)
					next[i] = ((*e & EPT_ADDR_2M) + i * (l == 3 ? 2 * MIB : 4096)) |
						  (*e & EPT_LEAF_ATTRS) | (l == 3 ? EPT_PS : 0);
			*e = (uint64_t)next | EPT_TABLE;
		}
		t = (uint64_t *)(*e & EPT_ADDR_4K);
	}
	return &t[ept12_index(gpa, level)];
}

/* The EPT12 leaf that maps gpa and its page size (4 KiB, 2 MiB or 1 GiB), or NULL. */
static uint64_t *ept12_leaf(uint64_t gpa, uint64_t *size)
{
	uint64_t *t = ept12_pml4;
	for (int l = 4;; l--) {
		uint64_t *e = &t[ept12_index(gpa, l)];
		if (!ept_present(*e))
			return NULL;
		if (l == 1 || ((l == 2 || l == 3) && (*e & EPT_PS))) {
			*size = l == 1 ? 4096 : l == 2 ? 2 * MIB : GIB;
			return e;
		}
		t = (uint64_t *)(*e & EPT_ADDR_4K);
	}
}

static uint64_t ept12_translate(uint64_t gpa)
{
	uint64_t size, *e = ept12_leaf(gpa, &size);
	return e ? (*e & EPT_ADDR_4K & ~(size - 1)) | (gpa & (size - 1)) : NO_L1;
}

static uint64_t l2_translate(uint64_t gpa) { return ept12_translate(gpa); }

static int ept12_map(uint64_t gpa, uint64_t l1, int level, uint64_t flags)
{
	uint64_t *e = ept12_entry(gpa, level);
	if (!e)
		return -1;
	*e = l1 | flags | (level >= 2 ? EPT_PS : 0);
	return 0;
}

static bool ept13_stale;          /* EPT13 was composed from an older EPT12 (nested mode) */

/* A translation changed or went away.  The CPU may go on using cached
 * guest-physical and combined mappings derived from the old entry until
 * software invalidates them (SDM 29.4.3.1); 29.4.3.4 asks for INVEPT
 * after such a change, before the next VM entry that could use it.
 * Single-context (this EPTP) where offered, else all-context.  EPT13,
 * composed from EPT12, is dropped before L3 runs again. */
static void ept12_changed(void)
{
	ept13_stale = true;
	int r = vx_invept(invept_type, eptp12);
	if (r) {
		char b[80];
		fail_exit("INVEPT", "type %lu: %s", (unsigned long)invept_type, vx_fail_text(r, b, sizeof(b)));
	}
}

static void ept12_build(void)
{
	ept12_pml4 = ept12_alloc();
	/* The first 2 MiB in 4 KiB pages (PTEs), the BIOS area identity. */
	for (uint64_t gpa = 0; gpa < 2 * MIB; gpa += 4096) {
		bool bios = gpa >= BIOS_LO && gpa < BIOS_HI;
		if (ept12_map(gpa, bios ? gpa : l2_base + gpa, 1, EPT_LEAF))
			goto full;
	}
	/* The rest in 2 MiB pages (PDE bit 7, 29.3.2). */
	for (uint64_t gpa = 2 * MIB; gpa < l2_size; gpa += 2 * MIB)
		if (ept12_map(gpa, l2_base + gpa, 2, EPT_LEAF))
			goto full;
	/* The IOAPIC and LAPIC pages of vmxhv's platform, passed through, UC. */
	if (ept12_map(0xfec00000, 0xfec00000, 1, EPT_MMIO) || ept12_map(0xfee00000, 0xfee00000, 1, EPT_MMIO))
		goto full;
	/* EPTP (25.6.11): WB paging structures, page-walk length 4 - 1, no A/D. */
	eptp12 = (uint64_t)ept12_pml4 | (3ull << 3) | 6;
	return;
full:
	fail_exit("EPT12", "out of table pages");
}

/* ---- vmcs12: vmxhv's controls and L2's first state (SDM 25.3-25.8) ------ */

/* CR0/CR4 bits L2 may not own (25.6.6): those VMX fixes (A.7, A.8) —
 * except CR0.PE and CR0.PG, which unrestricted guest frees (27.3.1.1) —
 * and every CR4 bit the CPU cannot set.  That is CR0.NE and CR4.VMXE on
 * most CPUs.  L2 reads them from the read shadows; a MOV that would change
 * one exits (CR-access exit, qualification in table 28-3). */
static uint64_t cr0_mask, cr4_mask;
static uint64_t entry12_base;     /* vmcs12's VM-entry controls but "IA-32e mode guest" */

static uint64_t guest_cr0_for(uint64_t l2_view)
{
	return (l2_view | (vmx_l1.cr0_fixed0 & ~(CR0_PE | CR0_PG))) & vmx_l1.cr0_fixed1;
}
static uint64_t guest_cr4_for(uint64_t l2_view)
{
	return (l2_view | vmx_l1.cr4_fixed0) & vmx_l1.cr4_fixed1;
}

static void vmcs12_init(uint32_t entry)
{
	if (vmx_l1_vmcs_load(vmcs12))
		fail_exit("vmcs12", "VMCLEAR/VMPTRLD failed");
	vmcs_current = vmcs12;
	const struct vmx_l1_caps *c = &vmx_l1;

	/* Execution controls (25.6): no pin-based exiting at all — external
	 * interrupts and NMIs go straight to L2, through L2's IDT. */
	vmw(VX_PIN_CONTROLS, vmx_l1_ctl(c->pin, 0));
	vmw(VX_PROC_CONTROLS, vmx_l1_ctl(c->proc, VX_PROC_IO_BITMAPS | VX_PROC_MSR_BITMAPS | VX_PROC_SECONDARY));
	vmw(VX_PROC2_CONTROLS, vmx_l1_ctl(c->proc2, VX_PROC2_EPT | VX_PROC2_UNRESTRICTED | VX_PROC2_RDTSCP |
					   VX_PROC2_INVPCID | (has_vpid ? VX_PROC2_VPID : 0)));
	vmw(VX_EXCEPTION_BITMAP, 0);
	vmw(VX_PF_ERROR_MASK, 0);
	vmw(VX_PF_ERROR_MATCH, 0);
	vmw(VX_CR3_TARGET_COUNT, 0);
	/* I/O bitmaps (25.6.4): one bit per port; only isa-debug-exit's 0xF4. */
	io_bitmap_a[0xf4 / 8] |= 1u << (0xf4 % 8);
	vmw(VX_IO_BITMAP_A, (uint64_t)io_bitmap_a);
	vmw(VX_IO_BITMAP_B, (uint64_t)io_bitmap_b);
	/* MSR bitmap (25.6.9): read bitmap for 0-1FFF at 0, for C0000000-
	 * C0001FFF at 1 KiB; write bitmaps at 2 and 3 KiB.  Only the VMX
	 * capability MSRs exit (L2 is told it has no VMX, or in nested mode
	 * sees vmxhv's), and in nested mode IA32_FEATURE_CONTROL; MSRs outside
	 * both ranges always exit (26.1.3). */
	for (uint32_t msr = VX_MSR_VMX_BASIC; msr <= VX_MSR_VMX_LAST; msr++) {
		msr_bitmap[msr / 8] |= 1u << (msr % 8);
		msr_bitmap[0x800 + msr / 8] |= 1u << (msr % 8);
	}
	if (nested_l2) {
		msr_bitmap[VX_MSR_FEATURE_CONTROL / 8] |= 1u << (VX_MSR_FEATURE_CONTROL % 8);
		msr_bitmap[0x800 + VX_MSR_FEATURE_CONTROL / 8] |= 1u << (VX_MSR_FEATURE_CONTROL % 8);
	}
	vmw(VX_MSR_BITMAP, (uint64_t)msr_bitmap);
	vmw(VX_EPT_POINTER, eptp12);
	if (has_vpid)
		vmw(VX_VPID, 1);                     /* 29.1: VPID 0 is the host's */
	cr0_mask = (c->cr0_fixed0 | ~c->cr0_fixed1) & ~(CR0_PE | CR0_PG) & 0xffffffffull;
	cr4_mask = (c->cr4_fixed0 | ~c->cr4_fixed1) & 0xffffffffull;
	vmw(VX_CR0_MASK, cr0_mask);
	vmw(VX_CR4_MASK, cr4_mask);

	/* Exit and entry controls (25.7, 25.8): a 64-bit host; L2's EFER and
	 * PAT saved on exit and loaded on entry, vmxhv's loaded on exit. */
	vmw(VX_EXIT_CONTROLS, vmx_l1_exit_controls(0));
	vmw(VX_EXIT_MSR_STORE_COUNT, 0);
	vmw(VX_EXIT_MSR_LOAD_COUNT, 0);
	entry12_base = vmx_l1_ctl(c->entry, VX_ENTRY_LOAD_DEBUG | VX_ENTRY_LOAD_EFER | VX_ENTRY_LOAD_PAT);
	vmw(VX_ENTRY_CONTROLS, entry12_base);
	vmw(VX_ENTRY_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_INTR_INFO, 0);
	vmx_l1_host_state();

	/* Multiboot1 machine state (MB spec 3.2): 32-bit protected mode, flat
	 * 4 GiB segments, paging off.  Access rights in the VMCS format
	 * (25.4.1): type, S, DPL, P in bits 7:0; AVL, L, D/B, G in 15:12;
	 * bit 16 = unusable. */
	static const uint32_t sel[6] = { VX_GUEST_ES_SEL, VX_GUEST_CS_SEL, VX_GUEST_SS_SEL, VX_GUEST_DS_SEL,
					 VX_GUEST_FS_SEL, VX_GUEST_GS_SEL };
	for (int i = 0; i < 6; i++) {
		uint32_t step = sel[i] - VX_GUEST_ES_SEL;
		vmw(sel[i], i == 1 ? 0x08 : 0x10);
		vmw(VX_GUEST_ES_BASE + step, 0);
		vmw(VX_GUEST_ES_LIMIT + step, 0xffffffff);
		vmw(VX_GUEST_ES_AR + step, i == 1 ? 0xc09b : 0xc093); /* 32-bit execute/read; read/write */
	}
	vmw(VX_GUEST_LDTR_SEL, 0);
	vmw(VX_GUEST_LDTR_BASE, 0);
	vmw(VX_GUEST_LDTR_LIMIT, 0);
	vmw(VX_GUEST_LDTR_AR, 1u << 16);                           /* unusable */
	vmw(VX_GUEST_TR_SEL, 0);
	vmw(VX_GUEST_TR_BASE, 0);
	vmw(VX_GUEST_TR_LIMIT, 0xffff);
	vmw(VX_GUEST_TR_AR, 0x8b);                                 /* busy 32-bit TSS, present */
	vmw(VX_GUEST_GDTR_BASE, 0);
	vmw(VX_GUEST_GDTR_LIMIT, 0xffff);
	vmw(VX_GUEST_IDTR_BASE, 0);
	vmw(VX_GUEST_IDTR_LIMIT, 0x3ff);
	vmw(VX_CR0_SHADOW, CR0_PE | CR0_ET);
	vmw(VX_GUEST_CR0, guest_cr0_for(CR0_PE | CR0_ET));
	vmw(VX_CR4_SHADOW, 0);
	vmw(VX_GUEST_CR4, guest_cr4_for(0));
	vmw(VX_GUEST_CR3, 0);
	vmw(VX_GUEST_DR7, 0x400);
	vmw(VX_GUEST_DEBUGCTL, 0);
	vmw(VX_GUEST_EFER, 0);
	if (vmx_l1_may(c->entry, VX_ENTRY_LOAD_PAT))
		vmw(VX_GUEST_PAT, 0x0007040600070406ull);              /* PAT power-on value */
	vmw(VX_GUEST_SYSENTER_CS, 0);
	vmw(VX_GUEST_SYSENTER_ESP, 0);
	vmw(VX_GUEST_SYSENTER_EIP, 0);
	vmw(VX_GUEST_RFLAGS, 2);
	vmw(VX_GUEST_RIP, entry);
	vmw(VX_GUEST_RSP, 0);
	vmw(VX_GUEST_INTERRUPTIBILITY, 0);
	vmw(VX_GUEST_ACTIVITY, 0);
	vmw(VX_GUEST_PENDING_DBG, 0);
	vmw(VX_VMCS_LINK_POINTER, ~0ull);                          /* 27.3.1.5 */
	l2.rax = MB1_BOOT_MAGIC;
	l2.rbx = L2_INFO;
}

/* ---- Exit handling ----------------------------------------------------- */
static uint64_t n_exits, n_cpuid, n_vmcall, n_ept;

/* Event injection on the next VM entry (25.8.3, 27.6). */
static void inject_exception(uint8_t vector, bool has_error, uint32_t error)
{
	vmw(VX_ENTRY_INTR_INFO, vector | VX_INTR_TYPE_HW_EXC | VX_INTR_VALID | (has_error ? VX_INTR_ERROR : 0));
	if (has_error)
		vmw(VX_ENTRY_EXCEPTION_ERROR, error);
}
static void inject_ud(void) { inject_exception(6, false, 0); }
static void inject_gp(void) { inject_exception(13, true, 0); }

/* Resume L2 after the instruction that exited: its length is in the
 * VM-exit instruction-length field (28.2.5).  Blocking by STI or MOV SS
 * covered that instruction only (25.4.2, table 25-3): it ends here. */
static void skip(void)
{
	vmw(VX_GUEST_RIP, vmr(VX_GUEST_RIP) + vmr(VX_EXIT_INSTRUCTION_LEN));
	uint64_t intr = vmr(VX_GUEST_INTERRUPTIBILITY);
	if (intr & 3)
		vmw(VX_GUEST_INTERRUPTIBILITY, intr & ~3ull);
}

/* CPUID: vmxhv's own view, with VMX hidden unless vmxhv offers it to L2
 * (leaf 1 ECX bit 5; what VMX offers is in the capability MSRs). */
static void exit_cpuid(void)
{
	uint32_t leaf = (uint32_t)l2.rax;
	struct cpuid_regs r = cpuid(leaf, (uint32_t)l2.rcx);
	if (leaf == 1 && !nested_l2)
		r.ecx &= ~VX_CPUID1_ECX_VMX;             /* L2 is not nested */
	l2.rax = r.eax;
	l2.rbx = r.ebx;
	l2.rcx = r.ecx;
	l2.rdx = r.edx;
	n_cpuid++;
	skip();
}

/* A WRMSR that survives a #GP: the runtime skips the 2-byte instruction. */
static bool wrmsr_ok(uint32_t msr, uint64_t v)
{
	rt_expect_fault(2);
	wrmsr(msr, v);
	return !rt_fault_taken(NULL);
}

static bool l2_vmx_msr(uint32_t msr, uint64_t *v);

/*
 * RDMSR/WRMSR exits: the VMX capability MSRs, which vmxhv's bitmap
 * intercepts (a CPU without VMX has none: #GP; in nested mode they read as
 * what vmxhv offers, and are read-only), IA32_FEATURE_CONTROL in nested
 * mode (locked, VMXON outside SMX allowed: 24.7; a write is #GP), and
 * every MSR outside the bitmap's two ranges, which always exits (26.1.3).
 * Those vmxhv accesses itself; a #GP it takes goes to L2.  (Also used for
 * L3's exits on these MSRs that L2 does not take: L3 then reads what L2's
 * "CPU" holds.)
 */
static void exit_msr(bool write)
{
	uint32_t msr = (uint32_t)l2.rcx;
	uint64_t v = (uint32_t)l2.rax | (l2.rdx << 32);
	if (msr >= VX_MSR_VMX_BASIC && msr <= VX_MSR_VMX_LAST) {
		if (write || !nested_l2 || !l2_vmx_msr(msr, &v)) {
			inject_gp();
			return;
		}
	} else if (msr == VX_MSR_FEATURE_CONTROL && nested_l2) {
		if (write) {
			inject_gp();
			return;
		}
		v = VX_FC_LOCKED | VX_FC_VMXON_OUTSIDE_SMX;
	} else if (write ? !wrmsr_ok(msr, v) : rdmsr_safe(msr, &v) != 0) {
		inject_gp();
		return;
	}
	if (!write) {
		l2.rax = (uint32_t)v;
		l2.rdx = v >> 32;
	}
	skip();
}

/* The general register a CR-access or I/O qualification names (table 28-3:
 * 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15). */
static uint64_t *gpr(unsigned n)
{
	static uint64_t *const map[16] = { &l2.rax, &l2.rcx, &l2.rdx, &l2.rbx, NULL, &l2.rbp, &l2.rsi, &l2.rdi,
					   &l2.r8, &l2.r9, &l2.r10, &l2.r11, &l2.r12, &l2.r13, &l2.r14, &l2.r15 };
	return map[n & 15];
}
static uint64_t gpr_get(unsigned n) { return n == 4 ? vmr(VX_GUEST_RSP) : *gpr(n); }
static void gpr_set(unsigned n, uint64_t v) { if (n == 4) vmw(VX_GUEST_RSP, v); else *gpr(n) = v; }

static uint64_t l2_cr0(void) { return (vmr(VX_GUEST_CR0) & ~cr0_mask) | (vmr(VX_CR0_SHADOW) & cr0_mask); }
static uint64_t l2_cr4(void) { return (vmr(VX_GUEST_CR4) & ~cr4_mask) | (vmr(VX_CR4_SHADOW) & cr4_mask); }

/*
 * MOV to CR0 that touched a bit vmxhv owns: do all of it, as the CPU
 * would have (SDM vol. 3A 2.5, 9.8.5): #GP for reserved bits, PG without
 * PE, NW without CD; entering or leaving IA-32e mode updates EFER.LMA and
 * the "IA-32e mode guest" entry control, which must agree (27.3.1.1).
 */
static bool set_cr0(uint64_t val)
{
	uint64_t old = l2_cr0(), efer = vmr(VX_GUEST_EFER), entry = vmr(VX_ENTRY_CONTROLS);
	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	if ((val & CR0_PG) && !(old & CR0_PG)) {
		if (efer & EFER_LME) {
			if (!(l2_cr4() & CR4_PAE))
				return false;
			efer |= EFER_LMA;
			entry |= VX_ENTRY_IA32E;
		} else if (l2_cr4() & CR4_PAE) {
			/* With EPT, PAE paging takes its PDPTEs from the VMCS (27.3.2.4);
			 * vmxhv does not load them.  No test guest does this. */
			fail_exit("L2 CR0", "PAE paging outside long mode is not supported by vmxhv");
		}
	} else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
		efer &= ~EFER_LMA;
		entry &= ~(uint64_t)VX_ENTRY_IA32E;
	}
	vmw(VX_GUEST_EFER, efer);
	vmw(VX_ENTRY_CONTROLS, entry);
	vmw(VX_CR0_SHADOW, val);
	vmw(VX_GUEST_CR0, guest_cr0_for(val));
	return true;
}

static bool l2_vmx_on;             /* L2 is in VMX operation (nested mode: after its VMXON) */

/* MOV to CR4 touching VMXE or a bit the CPU lacks: unless vmxhv offers
 * L2 VMX, L2 has none (CPUID says so), so either is a reserved bit: #GP.
 * In nested mode VMXE is L2's, but it cannot be cleared in VMX operation
 * (24.8).  Otherwise do it. */
static bool set_cr4(uint64_t val)
{
	if ((!nested_l2 && (val & CR4_VMXE)) || (val & cr4_mask & ~vmx_l1.cr4_fixed0) || (val >> 32) ||
	    (l2_vmx_on && !(val & CR4_VMXE)) || (!(val & CR4_PAE) && (vmr(VX_GUEST_EFER) & EFER_LMA)))
		return false;
	vmw(VX_CR4_SHADOW, val);
	vmw(VX_GUEST_CR4, guest_cr4_for(val));
	return true;
}

/* CR-access exits (exit qualification, table 28-3).  With the TRUE
 * controls CR3 accesses do not exit; on a CPU that forces CR3-load/store
 * exiting they do, and vmxhv carries them out. */
static void exit_cr(void)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	bool ok = true;
	if (type == 0 && cr == 0)
		ok = set_cr0(gpr_get(reg));
	else if (type == 0 && cr == 4)
		ok = set_cr4(gpr_get(reg));
	else if (type == 0 && cr == 3)
		vmw(VX_GUEST_CR3, gpr_get(reg));
	else if (type == 1 && cr == 3)
		gpr_set(reg, vmr(VX_GUEST_CR3));
	else if (type == 2)                                        /* CLTS */
		ok = set_cr0(l2_cr0() & ~CR0_TS);
	else if (type == 3) {                                      /* LMSW: PE can be set, not cleared */
		uint64_t old = l2_cr0(), src = (q >> 16) & 0xf;
		ok = set_cr0((old & ~0xeull) | src | (old & 1));
	} else
		fail_exit("L2 CR access", "qualification %#lx", (unsigned long)q);
	if (ok)
		skip();
	else
		inject_gp();
}

/* The pages L2 asked vmxhv to unmap: vmxhv maps each back on its EPT violation. */
static struct { uint64_t gpa; unsigned violations; bool unmapped; uint64_t qual; } unmapped[8];

/* Give the 4 KiB EPT12 entry of gpa the rights `rights` (0: not present)
 * until its first EPT violation, which maps it back with every right. */
static int64_t op_restrict(uint64_t gpa, uint64_t rights)
{
	unsigned i;
	if (!gpa || (gpa & 0xfff) || !in_l2_ram(gpa, 4096))
		return -1;
	for (i = 0; i < 8 && unmapped[i].gpa && unmapped[i].gpa != gpa; i++)
		;
	uint64_t *e = i < 8 ? ept12_entry(gpa, 1) : NULL;
	if (!e)
		return -1;
	unmapped[i].gpa = gpa;
	unmapped[i].violations = 0;
	unmapped[i].unmapped = true;
	unmapped[i].qual = 0;
	*e = rights ? (l2_base + gpa) | rights | EPT_MT_WB : 0;
	ept12_changed();
	return 0;
}

static int64_t op_unmap(uint64_t gpa) { return op_restrict(gpa, 0); }

/* Execute-only (29.3.2: bits 2:0 = 100b), where the CPU below offers it. */
static int64_t op_exec_only(uint64_t gpa)
{
	if (!(vmx_l1.ept_vpid & 1))
		return -1;
	return op_restrict(gpa, EPT_X);
}

static int64_t op_last_qual(uint64_t gpa)
{
	for (unsigned i = 0; i < 8; i++)
		if (unmapped[i].gpa == gpa)
			return (int64_t)(unmapped[i].qual & 0x3f);
	return -1;
}

static int64_t op_violation_count(uint64_t gpa)
{
	for (unsigned i = 0; i < 8; i++)
		if (unmapped[i].gpa == gpa)
			return unmapped[i].violations;
	return -1;
}

static int64_t op_remap(uint64_t gpa)
{
	if ((gpa & 0xfff) || !in_l2_ram(gpa, 4096) || pool_4k == pool_4k_end)
		return -1;
	uint64_t *page = (uint64_t *)pool_4k;
	for (unsigned i = 0; i < 512; i++)
		page[i] = vmxhv_pattern(gpa + 8 * i);
	if (ept12_map(gpa, pool_4k, 1, EPT_LEAF))
		return -1;
	pool_4k += 4096;
	ept12_changed();
	return 0;
}

/* Replace a 2 MiB page by 512 4 KiB pages onto the 2 MiB pool area, the
 * last L1 page first, so each 4 KiB entry has to be right on its own. */
static int64_t op_split_remap(uint64_t gpa)
{
	if ((gpa & (2 * MIB - 1)) || gpa < 2 * MIB || !in_l2_ram(gpa, 2 * MIB))
		return -1;
	uint64_t *pde = ept12_entry(gpa, 2);
	uint64_t *pt = ept12_alloc();
	if (!pde || !pt)
		return -1;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t l1 = pool_2m + (511 - i) * 4096ull, l2gpa = gpa + i * 4096ull;
		for (unsigned q = 0; q < 512; q++)
			((uint64_t *)l1)[q] = vmxhv_pattern(l2gpa + 8 * q);
		pt[i] = l1 | EPT_LEAF;
	}
	*pde = (uint64_t)pt | EPT_TABLE;
	ept12_changed();
	return 0;
}

static int64_t op_restore(uint64_t gpa, uint64_t big)
{
	uint64_t size = big ? 2 * MIB : 4096;
	if ((gpa & (size - 1)) || !in_l2_ram(gpa, size) || (big && gpa < 2 * MIB))
		return -1;
	if (ept12_map(gpa, l2_base + gpa, big ? 2 : 1, EPT_LEAF))
		return -1;
	ept12_changed();
	return 0;
}

/* One 1 GiB EPT12 page (PDPTE bit 7, 29.3.2) at L2 GPA gpa onto L1 GPAs
 * 0..1 GiB, where the CPU has 1 GiB EPT pages; a fresh pool page filled
 * with the pattern of the L2 GPAs it appears at is L2's to read there. */
static int64_t op_map_1g(uint64_t gpa)
{
	if ((gpa & (GIB - 1)) || gpa < 4 * GIB || gpa >= 512 * GIB || pool_4k == pool_4k_end ||
	    pool_4k + 4096 > GIB || !(vmx_l1.ept_vpid & VX_EPT_1G))
		return -1;
	uint64_t *page = (uint64_t *)pool_4k;
	for (unsigned i = 0; i < 512; i++)
		page[i] = vmxhv_pattern(gpa + pool_4k + 8 * i);
	if (ept12_map(gpa, 0, 3, EPT_LEAF))
		return -1;
	pool_4k += 4096;
	ept12_changed();
	return (int64_t)page;
}

static int64_t vmxhv_op(uint64_t op)
{
	uint64_t a1 = l2.rbx, a2 = l2.rcx, l1;
	switch (op) {
	case VMXHV_PRESENT:
		return 1;
	case VMXHV_REMAP:
		return op_remap(a1);
	case VMXHV_READ_BACKING:
		l1 = ept12_translate(a1);
		/* L2 RAM, or a page mapped into vmxhv's RAM (op_map_1g's) */
		if ((a1 & 7) || l1 == NO_L1 || (!in_l2_ram(a1, 8) && (l1 + 8 > rt_boot.ram_bytes || l1 >= 4 * GIB)))
			return -1;
		return *(int64_t *)l1;
	case VMXHV_READ_ORIGINAL:
		return (a1 & 7) || !in_l2_ram(a1, 8) ? -1 : *(int64_t *)(l2_base + a1);
	case VMXHV_UNMAP:
		return op_unmap(a1);
	case VMXHV_VIOLATION_COUNT:
		return op_violation_count(a1);
	case VMXHV_SPLIT_REMAP:
		return op_split_remap(a1);
	case VMXHV_RESTORE:
		return op_restore(a1, a2);
	case VMXHV_MAP_1G:
		return op_map_1g(a1);
	case VMXHV_EXEC_ONLY:
		return op_exec_only(a1);
	case VMXHV_LAST_QUAL:
		return op_last_qual(a1);
	}
	return -1;
}

/* A hypercall for the hypervisor below vmxhv (Nestor's ABI, kernel/hypercall.h):
 * buffers named by an L2 GPA are passed on as vmxhv's own address.  vmxhv
 * is in VMX root operation itself; its VMCALL still exits to Nestor, which
 * takes it as a hypercall. */
static void forward_hypercall(void)
{
	uint64_t nr = l2.rax;
	if (!l1_under_nestor) {
		inject_ud();                              /* as on a machine without it */
		return;
	}
	if (nr == HC_CONSOLE || nr == HC_EXIT_STATS) {
		void *buf = l2_buffer(l2.rbx, l2.rcx);
		l2.rax = buf ? (uint64_t)rt_hypercall(nr, (uint64_t)buf, l2.rcx, l2.rdx) : (uint64_t)HC_ERR_FAULT;
	} else {
		l2.rax = (uint64_t)rt_hypercall(nr, l2.rbx, l2.rcx, l2.rdx);
	}
	skip();
}

static void exit_vmcall(void)
{
	uint64_t nr = l2.rax;
	n_vmcall++;
	if (nr - VMXHV_HC_BASE < 0x100) {
		l2.rax = (uint64_t)vmxhv_op(nr - VMXHV_HC_BASE);
		skip();
	} else {
		forward_hypercall();
	}
}

/*
 * L2's address space outside its RAM and the pages passed through is mapped
 * on first touch to vmxhv's own empty space: at or above vmxhv's RAM top,
 * the same L1 GPA (vmxhv's MMIO space: a device or nothing, as vmxhv itself
 * would see); below it, where vmxhv has RAM, the same offset above 4 GiB
 * (or above vmxhv's RAM, if it reaches that far), where vmxhv has nothing.
 * So L2's stray and MMIO accesses get from the hypervisor below what
 * vmxhv's own would get (an empty bus reads all-ones, drops writes).
 * Above 4 GiB (where a vmxhv running as L2 puts its own L2's holes) up
 * to 512 GiB, the same.
 */
static bool map_l2_hole(uint64_t gpa)
{
	uint64_t page = gpa & ~0xfffull, nothing = 4 * GIB;
	if (gpa >= 512 * GIB || gpa < l2_size)
		return false;
	if (rt_boot.ram_bytes > nothing)
		nothing = (rt_boot.ram_bytes + GIB - 1) & ~(GIB - 1);
	return ept12_map(page, page >= rt_boot.ram_bytes ? page : page + nothing, 1, EPT_MMIO) == 0;
}

/* A fault in EPT12 at L2 GPA gpa (L2's own access, or L3's through
 * EPT23) with EPT-violation qualification q: true when vmxhv mapped the
 * page, so that the access can be retried. */
static bool ept12_fault(uint64_t gpa, uint64_t q)
{
	uint64_t page = gpa & ~0xfffull;
	for (unsigned i = 0; i < 8; i++) {
		if (unmapped[i].gpa != page || !unmapped[i].gpa)
			continue;
		if (++unmapped[i].violations > 16)
			return false;                            /* a fault that never goes away */
		unmapped[i].qual = q;
		/* Back to its page.  An added translation needs no INVEPT: an EPT
		 * violation invalidates the cached mappings it came from (29.4.3.1). */
		if (unmapped[i].unmapped && ept12_map(page, l2_base + page, 1, EPT_LEAF) == 0)
			unmapped[i].unmapped = false;
		return true;
	}
	return !(q & 0x38) && map_l2_hole(gpa);
}

/* EPT violation (28.2.1, table 28-7): the qualification says what the
 * access was (bits 2:0 read/write/fetch) and what the entry allowed (bits
 * 5:3, all clear for a not-present translation); the L2 GPA is in the
 * guest-physical-address field. */
static void exit_ept_violation(void)
{
	uint64_t gpa = vmr(VX_GUEST_PHYSICAL_ADDRESS);
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	n_ept++;
	if (ept12_fault(gpa, q))
		return;
	/* Say what EPT12 holds for it: a violation for a page EPT12 maps with
	 * every right is the hypervisor below's mistake, not L2's. */
	uint64_t l1 = ept12_translate(gpa);
	char held[40] = "not mapped";
	if (l1 != NO_L1)
		snprintf(held, sizeof(held), "mapped to L1 %#lx", (unsigned long)l1);
	fail_exit("L2 EPT violation", "L2 GPA %#lx (EPT12: %s), qualification %#lx (R=%lu W=%lu X=%lu, entry %c%c%c), RIP %#lx",
		  (unsigned long)gpa, held, (unsigned long)q, (unsigned long)(q & 1), (unsigned long)(q >> 1 & 1),
		  (unsigned long)(q >> 2 & 1), q & 8 ? 'r' : '-', q & 16 ? 'w' : '-', q & 32 ? 'x' : '-',
		  (unsigned long)vmr(VX_GUEST_RIP));
}

/* ==== L2 as a hypervisor (nested mode) ===================================
 *
 * vmxhv does for L2 what Nestor does for vmxhv (docs/nested-vmx.md), one
 * level up.  When L2 executes VMLAUNCH/VMRESUME, vmxhv runs L2's guest,
 * L3, itself:
 *
 *   name    lives in      built by  describes
 *   vmcs23  L2 memory     L2        L3 as L2 wants it run: L3's state, L2's
 *                                   controls, L2's host state (vmxhv's
 *                                   layout, below; cached in vmxhv while
 *                                   current)
 *   vmcs13  vmxhv         vmxhv     L3 as vmxhv runs it: a real VMCS that
 *                                   vmxhv enters with its own VMLAUNCH/
 *                                   VMRESUME on the CPU below
 *   EPT23   L2 memory     L2        L3 GPA -> L2 GPA
 *   EPT12   vmxhv         vmxhv     L2 GPA -> L1 GPA
 *   EPT13   vmxhv         vmxhv     L3 GPA -> L1 GPA: EPT23 then EPT12,
 *                                   composed lazily on L3's EPT violations
 *
 * The hypervisor below vmxhv (Nestor, or the CPU) sees vmcs13 as one more
 * VMCS of vmxhv's: depth 3 costs it nothing new.
 *
 * While L3 runs, vmcs12 is not entered: it keeps L2's state as of its
 * VMLAUNCH/VMRESUME, and an exit of L3 for L2 replaces it with the host
 * state of vmcs23 (28.5).  VM entries and exits load and store none of the
 * general registers but RSP, nor the x87/SSE state (27.3, 28.3), so `l2`
 * and fx_l2 hold those of whichever of L2 and L3 runs.
 *
 * L2's VMX instructions always exit (26.1.2); their operands come from the
 * exit's instruction information (28.2.5).  A memory operand is a linear
 * address of L2: vmxhv relies on L2 running vmxhv's own runtime, which
 * identity-maps the first 4 GiB (boot/multiboot2/entry.S), so that it is
 * the L2 GPA; an operand that is not L2 RAM gets #GP(0) (vmxhv's choice).
 *
 * What vmxhv offers L2 (the capability MSRs, below) is what it emulates:
 * no VPID (so no INVVPID), no VMCS shadowing, no preemption timer (Nestor
 * offers vmxhv none), no CR3-target values; MSR-load/store lists of up to
 * 512 entries (IA32_VMX_MISC[27:25] = 0); EPT with 4-level walks, UC/WB,
 * 2 MiB pages and INVEPT, without A/D bits, 1 GiB or execute-only pages.
 * The event controls (external-interrupt and NMI exiting, virtual NMIs,
 * interrupt- and NMI-window exiting, acknowledge interrupt on exit) need no
 * emulation: vmcs13 takes L2's settings, vmxhv never sets them for itself,
 * so their exits are L2's.  Limits: one vCPU; L3 gets no VMX of its own (L2 hides it, or L3's VMX
 * instructions reach L2 as exits, which is L2's business).  L2's VMCALL
 * is always a hypercall for vmxhv (as vmxhv's is for Nestor), even in
 * VMX root operation, where a CPU would VMfail it.
 */

/* ---- vmxhv's VMX for L2: the capability MSRs (SDM appendix A) ----------- */
#define VMCS23_REVISION  0x32336e56u  /* bits 30:0 of IA32_VMX_BASIC for L2 ("Vn32") */
#define VX_MISC_LMA_IN_ENTRY (1ull << 5)   /* A.6: exits store EFER.LMA in "IA-32e mode guest" */
#define VX_MISC_HLT_STATE    (1ull << 6)   /* A.6: the HLT activity state */
#define VX_EPT_EXEC_ONLY (1ull << 0)
#define OFFER_PIN   (VX_PIN_EXTINT | VX_PIN_NMI | VX_PIN_VNMI)
#define OFFER_PROC  (VX_PROC_INTR_WINDOW | VX_PROC_TSC_OFFSET | VX_PROC_HLT | VX_PROC_INVLPG |           \
		     VX_PROC_MWAIT | VX_PROC_RDPMC | VX_PROC_RDTSC | VX_PROC_CR3_LOAD | VX_PROC_CR3_STORE |   \
		     VX_PROC_NMI_WINDOW | VX_PROC_MOV_DR | VX_PROC_UNCOND_IO | VX_PROC_IO_BITMAPS |          \
		     VX_PROC_MSR_BITMAPS | VX_PROC_MONITOR | VX_PROC_PAUSE | VX_PROC_SECONDARY)
#define OFFER_PROC2 (VX_PROC2_EPT | VX_PROC2_DESC_TABLE | VX_PROC2_RDTSCP | VX_PROC2_WBINVD |             \
		     VX_PROC2_UNRESTRICTED | VX_PROC2_RDRAND | VX_PROC2_INVPCID | VX_PROC2_RDSEED)
#define OFFER_EXIT  (VX_EXIT_SAVE_DEBUG | VX_EXIT_HOST_64 | VX_EXIT_ACK_INTR | VX_EXIT_SAVE_PAT |          \
		     VX_EXIT_LOAD_PAT | VX_EXIT_SAVE_EFER | VX_EXIT_LOAD_EFER)
#define OFFER_ENTRY (VX_ENTRY_LOAD_DEBUG | VX_ENTRY_IA32E | VX_ENTRY_LOAD_PAT | VX_ENTRY_LOAD_EFER)
#define OFFER_EPT   (VX_EPT_WALK_4 | VX_EPT_UC | VX_EPT_WB | VX_EPT_2M | VX_EPT_INVEPT |                     \
		     VX_EPT_INVEPT_SINGLE | VX_EPT_INVEPT_ALL)
/* The "default1" controls, reported as must-be-1 by the non-TRUE MSRs
 * (A.3.1, A.4, A.5): pin 1,2,4; proc 1,4-6,8,13-16,26; exit 0-8,10,11,13,
 * 14,16,17; entry 0-8,12. */
#define DEFAULT1_PIN   0x00000016u
#define DEFAULT1_PROC  0x0401e172u
#define DEFAULT1_EXIT  0x00036dffu
#define DEFAULT1_ENTRY 0x000011ffu

/* What L2 sees, in the TRUE form: allowed-0 settings in bits 31:0 (1 =
 * must be 1), allowed-1 in 63:32 (A.3-A.5). */
static struct { uint64_t basic, pin, proc, proc2, exit, entry, misc, ept_vpid; } off23;

/* The CPU's must-be-1 bits stay (vmcs13 must have them too), its may-be-1
 * bits only where vmxhv emulates them. */
static uint64_t offer_ctl(uint64_t cap, uint32_t mask)
{
	uint32_t must = (uint32_t)cap, may = (uint32_t)(cap >> 32) & (mask | must);
	return (uint64_t)may << 32 | must;
}
static uint64_t non_true(uint64_t v, uint32_t default1) { return v | default1 | (uint64_t)default1 << 32; }

static void offer_init(void)
{
	const struct vmx_l1_caps *c = &vmx_l1;
	/* A.1: revision, a 4 KiB region, write-back VMCS memory, addresses of
	 * any width, TRUE controls where vmxhv's CPU has them. */
	off23.basic = VMCS23_REVISION | 4096ull << 32 | 6ull << 50 | (c->true_ctls ? VX_BASIC_TRUE_CTLS : 0);
	off23.pin = offer_ctl(c->pin, OFFER_PIN);
	off23.proc = offer_ctl(c->proc, OFFER_PROC);
	off23.proc2 = offer_ctl(c->proc2, OFFER_PROC2);
	off23.exit = offer_ctl(c->exit, OFFER_EXIT);
	off23.entry = offer_ctl(c->entry, OFFER_ENTRY);
	/* A.6: no preemption timer, the active and (passed on to the CPU
	 * below) HLT states, no CR3-target values, no VMWRITE to exit-
	 * information fields (bit 29), 512 entries per MSR list. */
	off23.misc = c->misc & (VX_MISC_LMA_IN_ENTRY | VX_MISC_HLT_STATE);
	off23.ept_vpid = c->ept_vpid & OFFER_EPT;
}

/* ---- vmcs23: vmxhv's VMCS format for L2 (SDM 25.2, 25.11.2) --------------
 * A VMCS region's format is the processor's business; L2 only writes the
 * revision identifier.  vmxhv's:
 *
 *   offset 0    u32  revision: bits 30:0 VMCS23_REVISION, bit 31 shadow-VMCS
 *                    indicator (VMCS shadowing is not offered: refused)
 *   offset 4    u32  VMX-abort indicator (28.7; written before vmxhv ends
 *                    the run on L2's VMX abort)
 *   offset 8    u32  launch state: VMCS23_LAUNCHED, anything else = clear
 *   offset 12   u32  0
 *   offset 16   u64  field values, in the order of vmcs23_fields[] below
 *
 * The current vmcs23 is cached in vmxhv (v23) between VMPTRLD and VMCLEAR,
 * VMPTRLD of another or VMXOFF, and written back then (25.11.1 allows it).
 * The table names every field L2 may VMREAD and VMWRITE (others:
 * VMfailValid(12)); an encoding's bits 11:10 say read-only (1), guest (2),
 * host (3) or control (0), its bits 14:13 the width (25.11.2).
 */
#define VMCS23_LAUNCHED 0x4c61756eu
#define MSR_LIST_MAX 512                     /* entries per MSR list vmxhv takes (A.6: 512 recommended) */
static const uint16_t vmcs23_fields[] = {
	VX_GUEST_ES_SEL, VX_GUEST_CS_SEL, VX_GUEST_SS_SEL, VX_GUEST_DS_SEL, VX_GUEST_FS_SEL, VX_GUEST_GS_SEL,
	VX_GUEST_LDTR_SEL, VX_GUEST_TR_SEL,
	VX_HOST_ES_SEL, VX_HOST_CS_SEL, VX_HOST_SS_SEL, VX_HOST_DS_SEL, VX_HOST_FS_SEL, VX_HOST_GS_SEL,
	VX_HOST_TR_SEL,
	VX_IO_BITMAP_A, VX_IO_BITMAP_B, VX_MSR_BITMAP, VX_EXIT_MSR_STORE_ADDR, VX_EXIT_MSR_LOAD_ADDR,
	VX_ENTRY_MSR_LOAD_ADDR, VX_TSC_OFFSET, VX_EPT_POINTER,
	VX_GUEST_PHYSICAL_ADDRESS,
	VX_VMCS_LINK_POINTER, VX_GUEST_DEBUGCTL, VX_GUEST_PAT, VX_GUEST_EFER, VX_GUEST_PDPTE0, VX_GUEST_PDPTE1,
	VX_GUEST_PDPTE2, VX_GUEST_PDPTE3,
	VX_HOST_PAT, VX_HOST_EFER,
	VX_PIN_CONTROLS, VX_PROC_CONTROLS, VX_EXCEPTION_BITMAP, VX_PF_ERROR_MASK, VX_PF_ERROR_MATCH,
	VX_CR3_TARGET_COUNT, VX_EXIT_CONTROLS, VX_EXIT_MSR_STORE_COUNT, VX_EXIT_MSR_LOAD_COUNT,
	VX_ENTRY_CONTROLS, VX_ENTRY_MSR_LOAD_COUNT, VX_ENTRY_INTR_INFO, VX_ENTRY_EXCEPTION_ERROR,
	VX_ENTRY_INSTRUCTION_LEN, VX_PROC2_CONTROLS,
	VX_VM_INSTRUCTION_ERROR, VX_EXIT_REASON, VX_EXIT_INTR_INFO, VX_EXIT_INTR_ERROR, VX_IDT_VECTORING_INFO,
	VX_IDT_VECTORING_ERROR, VX_EXIT_INSTRUCTION_LEN, VX_EXIT_INSTRUCTION_INFO,
	VX_GUEST_ES_LIMIT, VX_GUEST_CS_LIMIT, VX_GUEST_SS_LIMIT, VX_GUEST_DS_LIMIT, VX_GUEST_FS_LIMIT,
	VX_GUEST_GS_LIMIT, VX_GUEST_LDTR_LIMIT, VX_GUEST_TR_LIMIT, VX_GUEST_GDTR_LIMIT, VX_GUEST_IDTR_LIMIT,
	VX_GUEST_ES_AR, VX_GUEST_CS_AR, VX_GUEST_SS_AR, VX_GUEST_DS_AR, VX_GUEST_FS_AR, VX_GUEST_GS_AR,
	VX_GUEST_LDTR_AR, VX_GUEST_TR_AR, VX_GUEST_INTERRUPTIBILITY, VX_GUEST_ACTIVITY, VX_GUEST_SMBASE,
	VX_GUEST_SYSENTER_CS,
	VX_HOST_SYSENTER_CS,
	VX_CR0_MASK, VX_CR4_MASK, VX_CR0_SHADOW, VX_CR4_SHADOW,
	VX_EXIT_QUALIFICATION, VX_IO_RCX, VX_IO_RSI, VX_IO_RDI, VX_IO_RIP, VX_GUEST_LINEAR_ADDRESS,
	VX_GUEST_CR0, VX_GUEST_CR3, VX_GUEST_CR4, VX_GUEST_ES_BASE, VX_GUEST_CS_BASE, VX_GUEST_SS_BASE,
	VX_GUEST_DS_BASE, VX_GUEST_FS_BASE, VX_GUEST_GS_BASE, VX_GUEST_LDTR_BASE, VX_GUEST_TR_BASE,
	VX_GUEST_GDTR_BASE, VX_GUEST_IDTR_BASE, VX_GUEST_DR7, VX_GUEST_RSP, VX_GUEST_RIP, VX_GUEST_RFLAGS,
	VX_GUEST_PENDING_DBG, VX_GUEST_SYSENTER_ESP, VX_GUEST_SYSENTER_EIP,
	VX_HOST_CR0, VX_HOST_CR3, VX_HOST_CR4, VX_HOST_FS_BASE, VX_HOST_GS_BASE, VX_HOST_TR_BASE,
	VX_HOST_GDTR_BASE, VX_HOST_IDTR_BASE, VX_HOST_SYSENTER_ESP, VX_HOST_SYSENTER_EIP, VX_HOST_RSP,
	VX_HOST_RIP,
};
#define VMCS23_NFIELDS (sizeof(vmcs23_fields) / sizeof(vmcs23_fields[0]))
#define F_TYPE(enc)  (((enc) >> 10) & 3)     /* 0 control, 1 read-only, 2 guest, 3 host */
#define F_WIDTH(enc) (((enc) >> 13) & 3)     /* 0 16-bit, 1 64-bit, 2 32-bit, 3 natural */

struct vmcs23_region {
	uint32_t revision, abort, launch, zero;
	uint64_t f[VMCS23_NFIELDS];
};
_Static_assert(sizeof(struct vmcs23_region) <= 4096, "vmcs23 must fit the 4 KiB region IA32_VMX_BASIC reports");

static uint8_t f23_slot[4][4][32];           /* [width][type][index] -> table index + 1 */
static unsigned vmcs_enum_max;               /* IA32_VMX_VMCS_ENUM bits 9:1 (A.9) */

static void f23_init(void)
{
	for (unsigned i = 0; i < VMCS23_NFIELDS; i++) {
		unsigned e = vmcs23_fields[i], idx = (e >> 1) & 0x1ff;
		f23_slot[F_WIDTH(e)][F_TYPE(e)][idx] = (uint8_t)(i + 1);
		if (idx > vmcs_enum_max)
			vmcs_enum_max = idx;
	}
}

/* The table index of a field encoding (bit 0 = the high half of a 64-bit
 * field), or -1 if L2 has no such field.  Bits 12 and 31:15 are reserved
 * (25.11.2). */
static int f23_index(uint64_t enc)
{
	unsigned idx = (enc >> 1) & 0x1ff;
	if ((enc & ~0x6fffull) || idx >= 32 || ((enc & 1) && F_WIDTH(enc) != 1))
		return -1;
	return (int)f23_slot[F_WIDTH(enc)][F_TYPE(enc)][idx] - 1;
}

#define NO_VMCS (~0ull)
static struct vmcs23_region v23;             /* L2's current VMCS, cached */
static uint64_t v23_dirty[(VMCS23_NFIELDS + 63) / 64];  /* written by L2 since vmcs13 took them */
static uint64_t vmcs23_gpa = NO_VMCS;        /* L2's current-VMCS pointer */
static uint64_t vmxon23_gpa;

/* L3's guest fields an exit saved but vmxhv left in vmcs13 (below: "lazy
 * save"): vmcs13 holds their value for vmcs23 until L2 reads them, or
 * vmcs23 leaves the cache, or vmcs13 is rewritten. */
static uint64_t v23_lazy[(VMCS23_NFIELDS + 63) / 64];
static bool v23_any_lazy;

static uint64_t g23(uint32_t enc) { return v23.f[f23_index(enc)]; }
static void s23(uint32_t enc, uint64_t v) { v23.f[f23_index(enc)] = v; }
static void s23_lazy(uint32_t enc)
{
	int i = f23_index(enc);
	v23_lazy[i / 64] |= 1ull << (i % 64);
	v23_any_lazy = true;
}
static void v23_all_dirty(void) { memset(v23_dirty, 0xff, sizeof(v23_dirty)); }

/* The lazily saved fields from vmcs13 into vmcs23 (28.3, completed late:
 * L2 cannot tell, as it sees vmcs23 only through VMREAD). */
static void l3_state_fetch(void)
{
	if (!v23_any_lazy)
		return;
	uint8_t *was = vmcs_current;
	use_vmcs(vmcs13);
	for (unsigned w = 0; w < sizeof(v23_lazy) / sizeof(v23_lazy[0]); w++) {
		for (uint64_t bits = v23_lazy[w]; bits; bits &= bits - 1) {
			unsigned i = 64 * w + (unsigned)__builtin_ctzll(bits);
			v23.f[i] = vmr(vmcs23_fields[i]);
		}
		v23_lazy[w] = 0;
	}
	v23_any_lazy = false;
	use_vmcs(was);
}

/* The cached vmcs23 back into L2 memory. */
static void vmcs23_flush(void)
{
	l3_state_fetch();
	if (vmcs23_gpa != NO_VMCS && !l2_copy(vmcs23_gpa, &v23, sizeof(v23), true))
		fail_exit("vmcs23", "at L2 %#lx is no longer L2 RAM", (unsigned long)vmcs23_gpa);
}

/* The VMX capability MSRs L2 reads (A.1-A.10): false = #GP. */
static bool l2_vmx_msr(uint32_t msr, uint64_t *v)
{
	const struct vmx_l1_caps *c = &vmx_l1;
	bool has_true = off23.basic & VX_BASIC_TRUE_CTLS;
	switch (msr) {
	case VX_MSR_VMX_BASIC: *v = off23.basic; return true;
	case VX_MSR_VMX_PINBASED: *v = non_true(off23.pin, DEFAULT1_PIN); return true;
	case VX_MSR_VMX_PROCBASED: *v = non_true(off23.proc, DEFAULT1_PROC); return true;
	case VX_MSR_VMX_EXIT: *v = non_true(off23.exit, DEFAULT1_EXIT); return true;
	case VX_MSR_VMX_ENTRY: *v = non_true(off23.entry, DEFAULT1_ENTRY); return true;
	case VX_MSR_VMX_MISC: *v = off23.misc; return true;
	case VX_MSR_VMX_CR0_FIXED0: *v = c->cr0_fixed0; return true;
	case VX_MSR_VMX_CR0_FIXED1: *v = c->cr0_fixed1; return true;
	case VX_MSR_VMX_CR4_FIXED0: *v = c->cr4_fixed0; return true;
	case VX_MSR_VMX_CR4_FIXED1: *v = c->cr4_fixed1; return true;
	case VX_MSR_VMX_VMCS_ENUM: *v = vmcs_enum_max << 1; return true;
	case VX_MSR_VMX_PROCBASED2: *v = off23.proc2; return true;
	case VX_MSR_VMX_EPT_VPID_CAP: *v = off23.ept_vpid; return true;
	case VX_MSR_VMX_TRUE_PINBASED: *v = off23.pin; return has_true;
	case VX_MSR_VMX_TRUE_PROCBASED: *v = off23.proc; return has_true;
	case VX_MSR_VMX_TRUE_EXIT: *v = off23.exit; return has_true;
	case VX_MSR_VMX_TRUE_ENTRY: *v = off23.entry; return has_true;
	}
	return false;                     /* IA32_VMX_VMFUNC: VM functions not offered */
}

/* ---- EPT13: L3 GPA -> L1 GPA, EPT23 and EPT12 composed (SDM 29.3) -------- */
#define EPT13_PAGES 64

static uint64_t ept13_pages[EPT13_PAGES][512] __attribute__((aligned(4096)));
static unsigned ept13_used;
static uint64_t *ept13_pml4;
static uint64_t eptp13;
static bool ept13_flush;          /* INVEPT EPT13 before L3's next entry */
static bool ept13_ept23_on;       /* composed with an EPT23, or L3 GPA = L2 GPA */
static uint64_t ept13_eptp23;     /* ... that one */
static uint64_t n_ept13_fills, n_ept13_resets;

static uint64_t *ept13_alloc(void)
{
	if (ept13_used == EPT13_PAGES)
		return NULL;
	uint64_t *t = ept13_pages[ept13_used++];
	memset(t, 0, 4096);
	return t;
}

/* EPT13 is a cache of EPT23 then EPT12, as the CPU's combined mappings
 * are of EPT tables (29.4): drop it all; the CPU below must forget what it
 * derived from it (INVEPT before L3 runs again, 29.4.3.4). */
static void ept13_reset(void)
{
	ept13_used = 0;
	ept13_pml4 = ept13_alloc();
	eptp13 = (uint64_t)ept13_pml4 | (3ull << 3) | 6;   /* 25.6.11: WB, 4-level */
	ept13_stale = false;
	ept13_flush = true;
	n_ept13_resets++;
}

/* Install the EPT13 leaf for l3gpa: L1 address l1 (of l3gpa itself), a
 * page of size bytes (4 KiB or 2 MiB; 2 MiB only where no table is yet),
 * leaf = rights, memory type and IPAT. */
static bool ept13_install(uint64_t l3gpa, uint64_t l1, uint64_t size, uint64_t leaf)
{
	uint64_t *t = ept13_pml4, *e;
	for (int l = 4;; l--) {
		e = &t[ept12_index(l3gpa, l)];
		if (l == 1 || (l == 2 && size == 2 * MIB && !(ept_present(*e) && !(*e & EPT_PS))))
			break;
		if (!ept_present(*e) || (*e & EPT_PS)) {    /* no table yet, or a 2 MiB leaf to drop */
			uint64_t *next = ept13_alloc();
			if (!next)
				return false;
			if (ept_present(*e))
				ept13_flush = true;              /* a translation went away (29.4.3.1) */
			*e = (uint64_t)next | EPT_TABLE;
		}
		t = (uint64_t *)(*e & EPT_ADDR_4K);
		if (l == 2)
			size = 4096;
	}
	uint64_t v = (l1 & EPT_ADDR_4K & ~(size - 1)) | leaf | (size == 2 * MIB ? EPT_PS : 0);
	/* Rights added to a leaf need no INVEPT (the CPU walks again on an EPT
	 * violation, 29.4.3.1); another address or memory type does. */
	if (ept_present(*e) && (*e & ~EPT_RWX) != (v & ~EPT_RWX))
		ept13_flush = true;
	*e = v;
	return true;
}

/* The EPT23 entry at L2 GPA gpa, in vmxhv's memory, or NULL when it is
 * not L2 RAM. */
static uint64_t *l2_qword(uint64_t gpa)
{
	uint64_t l1 = ept12_translate(gpa);
	return (gpa & 7) || !in_l2_ram(gpa, 8) || l1 == NO_L1 ? NULL : (uint64_t *)l1;
}

static uint64_t phys_mask(void) { return ((1ull << phys_bits) - 1) & ~0xfffull; }

/* 29.3.3.1: is a present EPT23 entry at level l (1 = PTE) misconfigured,
 * given what vmxhv offers (no execute-only, no 1 GiB pages, no A/D)?
 * Also says whether it is a leaf. */
static bool ept23_misconfigured(uint64_t e, int l, bool *leaf)
{
	unsigned rwx = e & 7;
	if ((rwx & 3) == 2)                                     /* write without read */
		return true;
	if (rwx == 4 && !(off23.ept_vpid & VX_EPT_EXEC_ONLY))
		return true;                                    /* execute-only */
	if (e & ((1ull << 52) - 1) & ~((1ull << phys_bits) - 1))
		return true;                                    /* beyond MAXPHYADDR */
	*leaf = l == 1 || (l == 2 && (e & EPT_PS));
	if (l == 4 || l == 3)
		return (e & 0xf8) != 0;                         /* bits 7:3 (bit 7: no 1 GiB pages) */
	if (!*leaf)
		return (e & 0x78) != 0;                         /* PDE of a table: bits 6:3 */
	unsigned mt = (e >> 3) & 7;
	if (mt == 2 || mt == 3 || mt == 7)
		return true;                                    /* reserved memory types */
	return l == 2 && (e & 0x1ff000);                        /* 2 MiB page: bits 20:12 */
}

/* One walk of EPT23 for an L3 GPA: the L2 GPA, the page size, the rights
 * (the AND of bits 2:0 of every entry used, 28.2.1 table 28-7), the leaf's
 * memory type and IPAT. */
struct ept23_walk {
	uint64_t l2gpa, size, mt;
	unsigned rights;
	bool ipat;
};
enum { WALK_OK, WALK_VIOLATION, WALK_MISCONFIG };

/*
 * Walk EPT23 (vmcs23's EPTP, 4-level, 29.3.2) in L2 memory as the CPU
 * would, for an access of kind `access` (bits 2:0 as in the EPT-violation
 * qualification): a not-present entry or missing rights is an EPT
 * violation, a misconfigured entry an EPT misconfiguration.  A table that
 * is not L2 RAM reads like an empty bus, all ones: a misconfiguration.
 * Without EPT in vmcs23, L3 GPAs are L2 GPAs.
 */
static int ept23_walk(uint64_t l3gpa, unsigned access, struct ept23_walk *w)
{
	memset(w, 0, sizeof(*w));
	w->rights = 7;
	if (!ept13_ept23_on) {
		w->l2gpa = l3gpa;
		w->size = GIB;
		w->mt = 6;
		return WALK_OK;
	}
	uint64_t table = ept13_eptp23 & phys_mask();
	for (int l = 4; l >= 1; l--) {
		uint64_t *p = l2_qword(table + 8 * ept12_index(l3gpa, l)), e = p ? *p : ~0ull;
		bool leaf;
		w->rights &= e & 7;
		if (!(e & 7))
			return WALK_VIOLATION;
		if (ept23_misconfigured(e, l, &leaf))
			return WALK_MISCONFIG;
		if (leaf) {
			w->size = l == 1 ? 4096 : 2 * MIB;
			w->l2gpa = (e & phys_mask() & ~(w->size - 1)) | (l3gpa & (w->size - 1));
			w->mt = (e >> 3) & 7;
			w->ipat = e & EPT_IPAT;
			break;
		}
		table = e & phys_mask();
	}
	return access & ~w->rights ? WALK_VIOLATION : WALK_OK;
}

/* ---- What L2 sees when L3 exits, and L2's host state (SDM 28) ---------- */
static bool l3_active;            /* L2 is in its VMLAUNCH/VMRESUME: vmxhv runs L3 */
static bool l3_launching;         /* ... of a VMLAUNCH: vmcs23 becomes "launched" once L3 ran */
static uint64_t l2_resume_rip;    /* after L2's VMLAUNCH/VMRESUME, for a VMfail from below */
static uint64_t l2_efer, l2_pat, l2_dr7, l2_debugctl;  /* L2's, for what vmcs23 does not load */
static uint64_t vmcs13_gpa_for = NO_VMCS;  /* vmcs13 holds the merge of this vmcs23 ... */
static bool vmcs13_launched;      /* ... and has been launched */
static bool l2_no_skip;           /* L2's VMX instruction faulted, or L2 is at its host state */
static uint64_t n_l2_vmx, n_l2_entries, n_l2_vmfail, n_l2_entry_fail, n_l3_exits, n_l3_to_l2, n_l3_ept_to_l2;

/* Guest state a VM exit saves (28.3.1-28.3.3) regardless of the exit
 * controls: segment registers, GDTR/IDTR, CR0/CR3/CR4, RSP/RIP/RFLAGS,
 * the SYSENTER MSRs, interruptibility and activity state, pending debug
 * exceptions.  DR7/DEBUGCTL, PAT and EFER follow the exit controls.
 *
 * Lazy save: a hypervisor handling an exit reads a few fields (RIP, the
 * interruptibility state, a CR...), and each VMREAD of vmcs13 that the
 * hypervisor below does not shadow costs an exit there.  So vmxhv copies
 * at once only l3_saved_now (the fields Nestor shadows for its L1,
 * docs/nested-vmx.md, which L2 reads most) and leaves the rest in vmcs13,
 * marked lazy, until L2 reads one of them (l3_state_fetch). */
static const uint16_t l3_saved_now[] = {
	VX_GUEST_CS_SEL, VX_GUEST_CS_AR, VX_GUEST_SS_AR, VX_GUEST_ES_BASE, VX_GUEST_CS_BASE,
	VX_GUEST_CR0, VX_GUEST_CR3, VX_GUEST_CR4, VX_GUEST_RSP, VX_GUEST_RIP, VX_GUEST_RFLAGS,
	VX_GUEST_INTERRUPTIBILITY,
};
static const uint16_t l3_saved_lazy[] = {
	VX_GUEST_ES_SEL, VX_GUEST_SS_SEL, VX_GUEST_DS_SEL, VX_GUEST_FS_SEL, VX_GUEST_GS_SEL,
	VX_GUEST_LDTR_SEL, VX_GUEST_TR_SEL,
	VX_GUEST_ES_LIMIT, VX_GUEST_CS_LIMIT, VX_GUEST_SS_LIMIT, VX_GUEST_DS_LIMIT, VX_GUEST_FS_LIMIT,
	VX_GUEST_GS_LIMIT, VX_GUEST_LDTR_LIMIT, VX_GUEST_TR_LIMIT, VX_GUEST_GDTR_LIMIT, VX_GUEST_IDTR_LIMIT,
	VX_GUEST_ES_AR, VX_GUEST_DS_AR, VX_GUEST_FS_AR, VX_GUEST_GS_AR, VX_GUEST_LDTR_AR, VX_GUEST_TR_AR,
	VX_GUEST_SS_BASE, VX_GUEST_DS_BASE, VX_GUEST_FS_BASE, VX_GUEST_GS_BASE, VX_GUEST_LDTR_BASE,
	VX_GUEST_TR_BASE, VX_GUEST_GDTR_BASE, VX_GUEST_IDTR_BASE,
	VX_GUEST_SYSENTER_CS, VX_GUEST_SYSENTER_ESP, VX_GUEST_SYSENTER_EIP,
	VX_GUEST_ACTIVITY, VX_GUEST_PENDING_DBG,
};
/* The exit-information fields (28.2.1-28.2.5). */
static const uint16_t exit_info[] = {
	VX_EXIT_REASON, VX_EXIT_QUALIFICATION, VX_GUEST_LINEAR_ADDRESS, VX_GUEST_PHYSICAL_ADDRESS,
	VX_EXIT_INTR_INFO, VX_EXIT_INTR_ERROR, VX_IDT_VECTORING_INFO, VX_IDT_VECTORING_ERROR,
	VX_EXIT_INSTRUCTION_LEN, VX_EXIT_INSTRUCTION_INFO,
};

#define CR0_FIXED_IN_VMX ((vmx_l1.cr0_fixed0 | ~vmx_l1.cr0_fixed1) & 0xffffffffull)
#define CR4_FIXED_IN_VMX ((vmx_l1.cr4_fixed0 | ~vmx_l1.cr4_fixed1) & 0xffffffffull)
#define CR4_PCIDE (1ull << 17)
#define EFER_LME_LMA (EFER_LME | EFER_LMA)

/*
 * L2 continues after a VM exit of L3 (or a failed VM entry, 27.8) with the
 * host state of vmcs23 (28.5), written as L2's guest state into vmcs12:
 * CR0/CR4 from the host fields but for the bits 28.5.1 keeps (and PAE set,
 * PCIDE clear by address-space size), CR3, DR7 = 400H, DEBUGCTL = 0, the
 * SYSENTER MSRs, EFER and PAT as the exit controls say (else what L3 left
 * in them: those MSRs are not switched), segments as 28.5.2 builds them,
 * GDTR/IDTR with limits FFFFH, RIP/RSP, RFLAGS = 2 (28.5.3), no blocking.
 * efer3/pat3: L3's EFER and PAT at the exit.
 */
static void load_l2_host_state(uint64_t efer3, uint64_t pat3)
{
	uint32_t exit23 = (uint32_t)g23(VX_EXIT_CONTROLS);
	bool host64 = exit23 & VX_EXIT_HOST_64;
	use_vmcs(vmcs12);
	uint64_t keep0 = CR0_ET | CR0_CD | CR0_NW | 0xffffffff00000000ull | 0x1ff80000ull | (1ull << 17) |
			 0xffc0ull | CR0_FIXED_IN_VMX;
	uint64_t cr0 = (g23(VX_HOST_CR0) & ~keep0) | (l2_cr0() & keep0);
	uint64_t cr4 = (g23(VX_HOST_CR4) & ~CR4_FIXED_IN_VMX) | (l2_cr4() & CR4_FIXED_IN_VMX);
	cr4 = host64 ? cr4 | CR4_PAE : cr4 & ~CR4_PCIDE;
	vmw(VX_CR0_SHADOW, cr0);
	vmw(VX_GUEST_CR0, guest_cr0_for(cr0));
	vmw(VX_CR4_SHADOW, cr4);
	vmw(VX_GUEST_CR4, guest_cr4_for(cr4));
	vmw(VX_GUEST_CR3, g23(VX_HOST_CR3));
	vmw(VX_GUEST_DR7, 0x400);
	vmw(VX_GUEST_DEBUGCTL, 0);
	vmw(VX_GUEST_SYSENTER_CS, g23(VX_HOST_SYSENTER_CS));
	vmw(VX_GUEST_SYSENTER_ESP, g23(VX_HOST_SYSENTER_ESP));
	vmw(VX_GUEST_SYSENTER_EIP, g23(VX_HOST_SYSENTER_EIP));
	uint64_t efer = exit23 & VX_EXIT_LOAD_EFER ? g23(VX_HOST_EFER)
			: host64 ? efer3 | EFER_LME_LMA : efer3 & ~EFER_LME_LMA;
	vmw(VX_GUEST_EFER, efer);
	vmw(VX_ENTRY_CONTROLS, entry12_base | (efer & EFER_LMA ? VX_ENTRY_IA32E : 0));
	if (vmx_l1_may(vmx_l1.entry, VX_ENTRY_LOAD_PAT))
		vmw(VX_GUEST_PAT, exit23 & VX_EXIT_LOAD_PAT ? g23(VX_HOST_PAT) : pat3);
	/* 28.5.2: CS a code segment (L by address-space size), the others
	 * read/write data, unusable if their selector is null; FS/GS/TR bases
	 * from the host fields; TR a busy 64-bit TSS of limit 67H; LDTR null. */
	for (unsigned i = 0; i < 6; i++) {
		uint32_t step = 2 * i;
		uint64_t sel = g23(VX_HOST_ES_SEL + step);
		vmw(VX_GUEST_ES_SEL + step, sel);
		vmw(VX_GUEST_ES_BASE + step, i == 4 ? g23(VX_HOST_FS_BASE) : i == 5 ? g23(VX_HOST_GS_BASE) : 0);
		vmw(VX_GUEST_ES_LIMIT + step, 0xffffffff);
		vmw(VX_GUEST_ES_AR + step, i == 1 ? (host64 ? 0xa09b : 0xc09b) : sel ? 0xc093 : 0x1c093);
	}
	vmw(VX_GUEST_TR_SEL, g23(VX_HOST_TR_SEL));
	vmw(VX_GUEST_TR_BASE, g23(VX_HOST_TR_BASE));
	vmw(VX_GUEST_TR_LIMIT, 0x67);
	vmw(VX_GUEST_TR_AR, 0x8b);
	vmw(VX_GUEST_LDTR_SEL, 0);
	vmw(VX_GUEST_LDTR_AR, 1u << 16);
	vmw(VX_GUEST_GDTR_BASE, g23(VX_HOST_GDTR_BASE));
	vmw(VX_GUEST_GDTR_LIMIT, 0xffff);
	vmw(VX_GUEST_IDTR_BASE, g23(VX_HOST_IDTR_BASE));
	vmw(VX_GUEST_IDTR_LIMIT, 0xffff);
	vmw(VX_GUEST_RIP, g23(VX_HOST_RIP));
	vmw(VX_GUEST_RSP, g23(VX_HOST_RSP));
	vmw(VX_GUEST_RFLAGS, 2);
	vmw(VX_GUEST_INTERRUPTIBILITY, 0);
	vmw(VX_GUEST_ACTIVITY, 0);
	vmw(VX_GUEST_PENDING_DBG, 0);
	l3_active = false;
	l3_launching = false;
	l2_no_skip = true;
}

/*
 * An exit of L3 for L2 (28.2, 28.3), vmcs13 current: the exit information
 * (with the reason, qualification and guest-physical address of o if
 * given: an EPT exit says what EPT23 holds, not EPT13), L3's state into vmcs23,
 * the VM-entry fields updated as 28.2 says (event-injection valid bit
 * cleared; "IA-32e mode guest" = L3's EFER.LMA, IA32_VMX_MISC bit 5), then
 * L2's host state.
 */

/* ---- MSR lists (27.4 VM-entry MSR loading, 28.4 saving, 28.6 loading) ---
 * The VM-entry MSR-load list goes to the CPU below as vmcs13's own list
 * (armed for the first entry of each VMLAUNCH/VMRESUME of L2 only, as a
 * re-entry after an exit vmxhv handled is no VM entry of L2's), so that it
 * is loaded after the guest-state checks and a bad entry fails the entry
 * with reason 34 and its number (27.4, 27.8).  The VM-exit lists vmxhv
 * processes itself when an exit goes to L2: an entry for one of the MSRs
 * VMX switches reads or writes that field of the side it belongs to (L3's
 * in vmcs13, L2's in vmcs12), any other MSR is the CPU's, shared by L2 and
 * L3; those vmxhv intercepts for L2 read as L2 sees them.  A bad entry is
 * a VMX abort (28.7): L2's logical processor would shut down, and so vmxhv
 * ends the run. */
static uint64_t msrload13[MSR_LIST_MAX][2] __attribute__((aligned(16)));
static bool l3_entry_first;       /* the next vmcs13 entry is L2's VMLAUNCH/VMRESUME */
static bool pat_ok(uint64_t pat);

static int msr_field(uint32_t msr)
{
	switch (msr) {
	case VX_MSR_SYSENTER_CS: return VX_GUEST_SYSENTER_CS;
	case VX_MSR_SYSENTER_ESP: return VX_GUEST_SYSENTER_ESP;
	case VX_MSR_SYSENTER_EIP: return VX_GUEST_SYSENTER_EIP;
	case VX_MSR_DEBUGCTL: return VX_GUEST_DEBUGCTL;
	case VX_MSR_PAT: return VX_GUEST_PAT;
	case MSR_EFER: return VX_GUEST_EFER;
	case MSR_FS_BASE: return VX_GUEST_FS_BASE;
	case MSR_GS_BASE: return VX_GUEST_GS_BASE;
	}
	return -1;
}
static bool l2_msr_intercepted(uint32_t msr)
{
	return msr == VX_MSR_FEATURE_CONTROL || (msr >= VX_MSR_VMX_BASIC && msr <= VX_MSR_VMX_LAST);
}

/* 28.7: the VMX-abort indicator says why: 1 saving guest MSRs, 4 loading
 * host MSRs. */
static void vmx_abort_l2(uint32_t indicator, const char *list, uint64_t entry, uint32_t msr)
{
	v23.abort = indicator;
	vmcs23_flush();
	fail_exit("L2 VMX abort", "%s entry %lu (MSR %#x) (28.7)", list, (unsigned long)entry, msr);
}

/* 28.4, vmcs13 current: L3's MSRs into L2's VM-exit MSR-store list. */
static void l3_msr_store(void)
{
	uint64_t n = g23(VX_EXIT_MSR_STORE_COUNT), at = g23(VX_EXIT_MSR_STORE_ADDR);
	for (uint64_t i = 0; i < n; i++, at += 16) {
		uint32_t e[2] = { ~0u, ~0u };
		uint64_t v = 0;
		bool ok = l2_copy(at, e, 8, false) && !e[1] && (e[0] >> 8) != 0x8 && e[0] != 0x9e;
		int f = msr_field(e[0]);
		if (ok && f >= 0)
			v = vmr(f);
		else if (ok && l2_msr_intercepted(e[0]))
			ok = e[0] == VX_MSR_FEATURE_CONTROL ? (v = VX_FC_LOCKED | VX_FC_VMXON_OUTSIDE_SMX, true)
							  : l2_vmx_msr(e[0], &v);
		else if (ok)
			ok = rdmsr_safe(e[0], &v) == 0;
		if (!ok || !l2_copy(at + 8, &v, 8, true))
			vmx_abort_l2(1, "VM-exit MSR-store", i + 1, e[0]);
	}
}

/* 28.6, vmcs12 current (after 28.5): L2's VM-exit MSR-load list. */
static void l2_msr_load(void)
{
	uint64_t n = g23(VX_EXIT_MSR_LOAD_COUNT), at = g23(VX_EXIT_MSR_LOAD_ADDR);
	for (uint64_t i = 0; i < n; i++, at += 16) {
		uint32_t e[2] = { ~0u, ~0u };
		uint64_t v = 0;
		bool ok = l2_copy(at, e, 8, false) && l2_copy(at + 8, &v, 8, false) && !e[1] &&
			  e[0] != MSR_FS_BASE && e[0] != MSR_GS_BASE && (e[0] >> 8) != 0x8 && e[0] != 0x9b &&
			  e[0] != 0x9e && !l2_msr_intercepted(e[0]);
		int f = msr_field(e[0]);
		if (ok && e[0] == MSR_EFER) {                   /* LMA is the CPU's; LME cannot change under paging */
			uint64_t cur = vmr(VX_GUEST_EFER);
			ok = !(v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) && !(v & EFER_LME) == !(cur & EFER_LME);
			v = (v & ~EFER_LMA) | (cur & EFER_LMA);
		}
		if (ok && e[0] == VX_MSR_PAT)
			ok = pat_ok(v);
		if (ok && f >= 0)
			vmw(f, v);
		else if (ok)
			ok = wrmsr_ok(e[0], v);
		if (!ok)
			vmx_abort_l2(4, "VM-exit MSR-load", i + 1, e[0]);
	}
}

/* 27.4 through vmcs13's list (vmcs13 current, before its entry): L2's
 * list copied (what is not L2 RAM reads as all ones: an entry the CPU
 * below refuses). */
static bool l3_msr_load_arm(void)
{
	uint64_t n = l3_entry_first ? g23(VX_ENTRY_MSR_LOAD_COUNT) : 0;
	l3_entry_first = false;
	if (!n)
		return false;
	if (!l2_copy(g23(VX_ENTRY_MSR_LOAD_ADDR), msrload13, 16 * n, false))
		memset(msrload13, 0xff, 16 * n);
	vmw(VX_ENTRY_MSR_LOAD_ADDR, (uint64_t)msrload13);
	vmw(VX_ENTRY_MSR_LOAD_COUNT, n);
	return true;
}

struct exit_override { uint32_t reason; uint64_t qual, gpa; };

/* vmcs13's VM-entry controls: L2's "IA-32e mode guest", and EFER, PAT and
 * the debug controls always loaded (vmcs13_controls, below). */
static uint32_t entry13_for(uint64_t entry23)
{
	return vmx_l1_ctl(vmx_l1.entry, ((uint32_t)entry23 & VX_ENTRY_IA32E) | VX_ENTRY_LOAD_DEBUG |
			  VX_ENTRY_LOAD_EFER | VX_ENTRY_LOAD_PAT);
}

static void reflect_to_l2(const struct exit_override *o)
{
	for (unsigned i = 0; i < sizeof(exit_info) / sizeof(exit_info[0]); i++)
		s23(exit_info[i], vmr(exit_info[i]));
	if (o) {
		s23(VX_EXIT_REASON, o->reason);
		s23(VX_EXIT_QUALIFICATION, o->qual);
		s23(VX_GUEST_PHYSICAL_ADDRESS, o->gpa);
	}
	for (unsigned i = 0; i < sizeof(l3_saved_now) / sizeof(l3_saved_now[0]); i++)
		s23(l3_saved_now[i], vmr(l3_saved_now[i]));
	for (unsigned i = 0; i < sizeof(l3_saved_lazy) / sizeof(l3_saved_lazy[0]); i++)
		s23_lazy(l3_saved_lazy[i]);
	uint32_t exit23 = (uint32_t)g23(VX_EXIT_CONTROLS);
	uint64_t efer3 = vmr(VX_GUEST_EFER), pat3 = 0;
	if (!(exit23 & VX_EXIT_LOAD_PAT))
		pat3 = vmr(VX_GUEST_PAT);
	if (exit23 & VX_EXIT_SAVE_DEBUG) {
		s23_lazy(VX_GUEST_DR7);
		s23_lazy(VX_GUEST_DEBUGCTL);
	}
	if (exit23 & VX_EXIT_SAVE_PAT)
		s23_lazy(VX_GUEST_PAT);
	if (exit23 & VX_EXIT_SAVE_EFER)
		s23(VX_GUEST_EFER, efer3);
	uint64_t cr0 = g23(VX_GUEST_CR0), cr4 = g23(VX_GUEST_CR4);
	if ((cr0 & CR0_PG) && (cr4 & CR4_PAE) && !(efer3 & EFER_LMA))   /* PAE paging with EPT: 28.3.4 */
		for (unsigned i = 0; i < 4; i++)
			s23_lazy(VX_GUEST_PDPTE0 + 2 * i);
	s23(VX_ENTRY_INTR_INFO, g23(VX_ENTRY_INTR_INFO) & ~(uint64_t)VX_INTR_VALID);
	uint64_t entry23 = g23(VX_ENTRY_CONTROLS) & ~(uint64_t)VX_ENTRY_IA32E;
	if (efer3 & EFER_LMA)
		entry23 |= VX_ENTRY_IA32E;
	s23(VX_ENTRY_CONTROLS, entry23);
	if (!(vmx_l1.misc & VX_MISC_LMA_IN_ENTRY))       /* the CPU below did not: keep vmcs13 in step */
		vmw(VX_ENTRY_CONTROLS, entry13_for(entry23));
	n_l3_to_l2++;
	l3_msr_store();
	load_l2_host_state(efer3, pat3);
	l2_msr_load();
}

/* A VM entry of vmcs23 that fails on guest state or MSR loading (27.8):
 * an exit with bit 31 of the reason set and the qualification; L3 never
 * ran, its state is not saved, vmcs23 stays as it was (launch state
 * included); L2 continues at its host state. */
static void entry_fail_to_l2(uint32_t reason, uint64_t qual)
{
	s23(VX_EXIT_REASON, reason | VX_EXIT_FAILED_ENTRY);
	s23(VX_EXIT_QUALIFICATION, qual);
	n_l2_entry_fail++;
	rt_printf("%s: L2's VM entry fails: exit reason %u, qualification %lu (27.8)\n", me, reason & 0xffff,
		  (unsigned long)qual);
	load_l2_host_state(l2_efer, l2_pat);
	l2_msr_load();
}

/* ---- The checks of VMLAUNCH/VMRESUME on vmcs23 (SDM 27.2) ---------------
 * The control (27.2.1, VMfailValid 7) and host-state (27.2.2-27.2.4,
 * VMfailValid 8) checks on what vmxhv translates or keeps for itself: the
 * controls against what it offers, the bitmap and EPTP addresses, the
 * MSR-list counts, and L2's host state, which vmxhv loads itself.  What
 * vmcs13 takes unchanged from vmcs23 (the event to inject, L3's guest
 * state) the CPU below checks on vmcs13: its VMfailValid goes to L2 as
 * L2's, its entry-failure exit as L2's entry failure (27.8). */

static bool ctl_ok(uint64_t cap, uint32_t v) { return (v & (uint32_t)cap) == (uint32_t)cap && !(v & ~(uint32_t)(cap >> 32)); }
static bool canonical(uint64_t a) { return (uint64_t)((int64_t)(a << 16) >> 16) == a; }
static bool beyond_phys(uint64_t a) { return phys_bits < 64 && (a >> phys_bits); }

/* 27.2.1.1: an EPTP with an offered memory type (UC 0, WB 6), a 4-level
 * walk (bits 5:3 = 3), no A/D (bit 6: not offered), bits 11:7 and those
 * beyond MAXPHYADDR clear.  Also INVEPT's single-context check. */
static bool eptp23_ok(uint64_t p)
{
	unsigned mt = p & 7;
	if (!((mt == 0 && (off23.ept_vpid & VX_EPT_UC)) || (mt == 6 && (off23.ept_vpid & VX_EPT_WB))))
		return false;
	return ((p >> 3) & 7) == 3 && !(p & 0xfc0) && !beyond_phys(p);
}

static bool pat_ok(uint64_t pat)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (pat >> (8 * i)) & 0xff;
		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return false;
	}
	return true;
}

/* 27.2.1.2, 27.2.1.3: a non-empty MSR list starts 16-byte aligned and
 * ends within MAXPHYADDR. */
static bool msr_list_bad(uint64_t n, uint64_t a)
{
	return n && ((a & 15) || beyond_phys(a) || beyond_phys(a + 16 * n - 1));
}

/* 0 or the VM-instruction error (7 controls, 8 host state), *why the rule. */
static unsigned vmcs23_check(bool l2_lma, const char **why)
{
#define REFUSE(err, text) do { *why = text; return err; } while (0)
	uint32_t pin = (uint32_t)g23(VX_PIN_CONTROLS), proc = (uint32_t)g23(VX_PROC_CONTROLS);
	uint32_t proc2 = proc & VX_PROC_SECONDARY ? (uint32_t)g23(VX_PROC2_CONTROLS) : 0;
	uint32_t exit = (uint32_t)g23(VX_EXIT_CONTROLS), entry = (uint32_t)g23(VX_ENTRY_CONTROLS);
	bool host64 = exit & VX_EXIT_HOST_64;

	if (!ctl_ok(off23.pin, pin))
		REFUSE(7, "27.2.1.1: pin-based controls outside IA32_VMX_TRUE_PINBASED_CTLS");
	if (!ctl_ok(off23.proc, proc))
		REFUSE(7, "27.2.1.1: processor-based controls outside IA32_VMX_TRUE_PROCBASED_CTLS");
	if ((proc & VX_PROC_SECONDARY) && !ctl_ok(off23.proc2, proc2))
		REFUSE(7, "27.2.1.1: secondary controls outside IA32_VMX_PROCBASED_CTLS2");
	if (g23(VX_CR3_TARGET_COUNT) > ((off23.misc >> 16) & 0x1ff))
		REFUSE(7, "27.2.1.1: CR3-target count above IA32_VMX_MISC[24:16]");
	if ((proc & VX_PROC_IO_BITMAPS) && (((g23(VX_IO_BITMAP_A) | g23(VX_IO_BITMAP_B)) & 0xfff) ||
					   beyond_phys(g23(VX_IO_BITMAP_A)) || beyond_phys(g23(VX_IO_BITMAP_B))))
		REFUSE(7, "27.2.1.1: I/O-bitmap address not aligned or beyond MAXPHYADDR");
	if ((proc & VX_PROC_MSR_BITMAPS) && ((g23(VX_MSR_BITMAP) & 0xfff) || beyond_phys(g23(VX_MSR_BITMAP))))
		REFUSE(7, "27.2.1.1: MSR-bitmap address not aligned or beyond MAXPHYADDR");
	if ((proc2 & VX_PROC2_UNRESTRICTED) && !(proc2 & VX_PROC2_EPT))
		REFUSE(7, "27.2.1.1: unrestricted guest without enable EPT");
	if ((proc2 & VX_PROC2_EPT) && !eptp23_ok(g23(VX_EPT_POINTER)))
		REFUSE(7, "27.2.1.1: EPTP memory type, walk length or reserved bits");
	if (!ctl_ok(off23.exit, exit))
		REFUSE(7, "27.2.1.2: VM-exit controls outside IA32_VMX_TRUE_EXIT_CTLS");
	if (msr_list_bad(g23(VX_EXIT_MSR_STORE_COUNT), g23(VX_EXIT_MSR_STORE_ADDR)) ||
	    msr_list_bad(g23(VX_EXIT_MSR_LOAD_COUNT), g23(VX_EXIT_MSR_LOAD_ADDR)))
		REFUSE(7, "27.2.1.2: VM-exit MSR-store/load address not 16-byte aligned or beyond MAXPHYADDR");
	if (!ctl_ok(off23.entry, entry))
		REFUSE(7, "27.2.1.3: VM-entry controls outside IA32_VMX_TRUE_ENTRY_CTLS");
	if (msr_list_bad(g23(VX_ENTRY_MSR_LOAD_COUNT), g23(VX_ENTRY_MSR_LOAD_ADDR)))
		REFUSE(7, "27.2.1.3: VM-entry MSR-load address not 16-byte aligned or beyond MAXPHYADDR");
	if (g23(VX_EXIT_MSR_STORE_COUNT) > MSR_LIST_MAX || g23(VX_EXIT_MSR_LOAD_COUNT) > MSR_LIST_MAX ||
	    g23(VX_ENTRY_MSR_LOAD_COUNT) > MSR_LIST_MAX)
		REFUSE(7, "A.6: an MSR list longer than IA32_VMX_MISC[27:25] recommends (vmxhv takes 512)");

	uint64_t cr0 = g23(VX_HOST_CR0), cr4 = g23(VX_HOST_CR4);
	if ((cr0 & vmx_l1.cr0_fixed0) != vmx_l1.cr0_fixed0 || (cr0 & ~vmx_l1.cr0_fixed1))
		REFUSE(8, "27.2.2: host CR0 not allowed in VMX operation (IA32_VMX_CR0_FIXED0/1)");
	if ((cr4 & vmx_l1.cr4_fixed0) != vmx_l1.cr4_fixed0 || (cr4 & ~vmx_l1.cr4_fixed1))
		REFUSE(8, "27.2.2: host CR4 not allowed in VMX operation (IA32_VMX_CR4_FIXED0/1)");
	if (beyond_phys(g23(VX_HOST_CR3)))
		REFUSE(8, "27.2.2: host CR3 beyond MAXPHYADDR");
	if (!canonical(g23(VX_HOST_SYSENTER_ESP)) || !canonical(g23(VX_HOST_SYSENTER_EIP)))
		REFUSE(8, "27.2.2: host SYSENTER_ESP/EIP not canonical");
	if ((exit & VX_EXIT_LOAD_PAT) && !pat_ok(g23(VX_HOST_PAT)))
		REFUSE(8, "27.2.2: host IA32_PAT with a reserved memory type");
	if ((exit & VX_EXIT_LOAD_EFER) && ((g23(VX_HOST_EFER) & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) ||
					   !(g23(VX_HOST_EFER) & EFER_LMA) != !host64 ||
					   !(g23(VX_HOST_EFER) & EFER_LME) != !host64))
		REFUSE(8, "27.2.2: host IA32_EFER reserved bits, or LMA/LME differ from host address-space size");
	static const uint32_t sels[] = { VX_HOST_ES_SEL, VX_HOST_CS_SEL, VX_HOST_SS_SEL, VX_HOST_DS_SEL,
					 VX_HOST_FS_SEL, VX_HOST_GS_SEL, VX_HOST_TR_SEL };
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		if (g23(sels[i]) & 7)
			REFUSE(8, "27.2.3: host selector with RPL or TI set");
	if (!g23(VX_HOST_CS_SEL) || !g23(VX_HOST_TR_SEL) || (!host64 && !g23(VX_HOST_SS_SEL)))
		REFUSE(8, "27.2.3: host CS or TR (or SS outside 64-bit) selector null");
	if (!canonical(g23(VX_HOST_FS_BASE)) || !canonical(g23(VX_HOST_GS_BASE)) || !canonical(g23(VX_HOST_TR_BASE)) ||
	    !canonical(g23(VX_HOST_GDTR_BASE)) || !canonical(g23(VX_HOST_IDTR_BASE)))
		REFUSE(8, "27.2.3: host FS/GS/TR/GDTR/IDTR base not canonical");
	if (l2_lma && !host64)
		REFUSE(8, "27.2.4: host address-space size 0 in IA-32e mode");
	if (!l2_lma && ((entry & VX_ENTRY_IA32E) || host64))
		REFUSE(8, "27.2.4: IA-32e mode guest or host address-space size outside IA-32e mode");
	if (host64 && (!(cr4 & CR4_PAE) || !canonical(g23(VX_HOST_RIP))))
		REFUSE(8, "27.2.4: 64-bit host without CR4.PAE or with a non-canonical RIP");
	if (!host64 && ((cr4 & CR4_PCIDE) || (g23(VX_HOST_RIP) >> 32)))
		REFUSE(8, "27.2.4: 32-bit host with CR4.PCIDE or RIP above 4 GiB");
	return 0;
#undef REFUSE
}

/* ---- L2's VMX instructions (SDM 31.3; results 31.2) --------------------- */
#define RFLAGS_CF    (1ull << 0)
#define RFLAGS_ZF    (1ull << 6)
#define RFLAGS_ARITH 0x8d5ull          /* CF PF AF ZF SF OF */
#define RFLAGS_VM    (1ull << 17)
#define CS_AR_L      (1u << 13)

static bool l2_long;              /* L2 executed it in 64-bit mode: 64-bit operands */

/* 31.2: VMsucceed clears CF, PF, AF, ZF, SF, OF; VMfailInvalid sets CF;
 * VMfailValid sets ZF and writes the error into the current VMCS;
 * VMfail(n) is VMfailValid(n) when there is a current VMCS. */
static void vm_flags(uint64_t set) { vmw(VX_GUEST_RFLAGS, (vmr(VX_GUEST_RFLAGS) & ~RFLAGS_ARITH) | set); }
static void vm_succeed(void) { vm_flags(0); }
static void vm_fail_invalid(void) { vm_flags(RFLAGS_CF); }
static void vm_fail_valid(uint32_t err)
{
	s23(VX_VM_INSTRUCTION_ERROR, err);
	vm_flags(RFLAGS_ZF);
	n_l2_vmfail++;
}
static void vm_fail(uint32_t err)
{
	if (vmcs23_gpa == NO_VMCS)
		vm_fail_invalid();
	else
		vm_fail_valid(err);
}

/* The linear address of a memory operand from the instruction information
 * (28.2.5: scaling 1:0, address size 9:7, segment 17:15, index 21:18 and
 * its invalid bit 22, base 26:23 and its invalid bit 27) and the
 * displacement in the exit qualification (28.2.1).  In 64-bit mode only FS
 * and GS have bases.  With vmxhv's runtime in L2 it is the L2 GPA. */
static uint64_t l2_operand(uint32_t info)
{
	uint64_t a = vmr(VX_EXIT_QUALIFICATION);
	unsigned asize = (info >> 7) & 7, seg = (info >> 15) & 7;
	if (!(info & (1u << 27)))
		a += gpr_get((info >> 23) & 15);
	if (!(info & (1u << 22)))
		a += gpr_get((info >> 18) & 15) << (info & 3);
	a &= asize == 0 ? 0xffff : asize == 1 ? 0xffffffff : ~0ull;
	if (!l2_long || seg == 4 || seg == 5)
		a += vmr(VX_GUEST_ES_BASE + 2 * seg);
	return l2_long ? a : (uint32_t)a;
}

/* Read/write an operand of len bytes at L2 linear = L2 GPA addr; an
 * address that is not L2 RAM gives L2 #GP(0) (vmxhv's choice). */
static bool operand_io(uint64_t addr, void *buf, unsigned len, bool write)
{
	if (l2_copy(addr, buf, len, write))
		return true;
	rt_printf("%s: L2's VMX instruction at RIP %#lx: operand %#lx is not L2 RAM: #GP\n", me,
		  (unsigned long)vmr(VX_GUEST_RIP), (unsigned long)addr);
	inject_gp();
	l2_no_skip = true;
	return false;
}

/* A VMCS-region pointer: 4 KiB aligned, within MAXPHYADDR (31.3). */
static bool vmcs_ptr_ok(uint64_t p) { return !(p & 0xfff) && !beyond_phys(p); }

static void l2_vmentry(bool launch);
static uint64_t n_l2_invept;

/* VMXON (31.3): outside VMX operation, CR0/CR4 must hold the bits VMX
 * fixes (#GP); the region must be aligned, within MAXPHYADDR, L2 RAM (as
 * Nestor, vmxhv's choice) and carry vmxhv's revision, else VMfailInvalid. */
static void l2_vmxon(uint32_t info)
{
	uint64_t ptr;
	uint32_t rev;
	if (l2_vmx_on) {
		vm_fail(15);
		return;
	}
	uint64_t cr0 = l2_cr0(), cr4 = l2_cr4();
	if ((cr0 & vmx_l1.cr0_fixed0) != vmx_l1.cr0_fixed0 || (cr0 & ~vmx_l1.cr0_fixed1) ||
	    (cr4 & vmx_l1.cr4_fixed0) != vmx_l1.cr4_fixed0 || (cr4 & ~vmx_l1.cr4_fixed1)) {
		inject_gp();
		l2_no_skip = true;
		return;
	}
	if (!operand_io(l2_operand(info), &ptr, 8, false))
		return;
	if (!vmcs_ptr_ok(ptr) || !l2_copy(ptr, &rev, 4, false) || rev != VMCS23_REVISION) {
		vm_fail_invalid();
		return;
	}
	l2_vmx_on = true;
	vmxon23_gpa = ptr;
	vmcs23_gpa = NO_VMCS;
	vm_succeed();
}

/* VMCLEAR (31.3): errors 2 (address), 3 (the VMXON region); the VMCS's
 * data to memory, launch state clear, no longer current. */
static void l2_vmclear(uint32_t info)
{
	uint64_t ptr;
	uint32_t clear = 0;
	if (!operand_io(l2_operand(info), &ptr, 8, false))
		return;
	if (!vmcs_ptr_ok(ptr)) {
		vm_fail(2);
		return;
	}
	if (ptr == vmxon23_gpa) {
		vm_fail(3);
		return;
	}
	if (ptr == vmcs23_gpa) {
		v23.launch = 0;
		vmcs23_flush();
		vmcs23_gpa = NO_VMCS;
	} else if (!l2_copy(ptr + offsetof(struct vmcs23_region, launch), &clear, 4, true)) {
		vm_fail(2);                                  /* not L2 RAM: an invalid address */
		return;
	}
	if (ptr == vmcs13_gpa_for)
		vmcs13_gpa_for = NO_VMCS;
	vm_succeed();
}

/* VMPTRLD (31.3): errors 9 (address; also not L2 RAM), 10 (the VMXON
 * region), 11 (revision, or the shadow-VMCS indicator without shadowing). */
static void l2_vmptrld(uint32_t info)
{
	uint64_t ptr;
	uint32_t rev;
	if (!operand_io(l2_operand(info), &ptr, 8, false))
		return;
	if (!vmcs_ptr_ok(ptr) || !l2_copy(ptr, &rev, 4, false)) {
		vm_fail(9);
		return;
	}
	if (ptr == vmxon23_gpa) {
		vm_fail(10);
		return;
	}
	if (rev != VMCS23_REVISION) {
		vm_fail(11);
		return;
	}
	if (ptr != vmcs23_gpa) {
		vmcs23_flush();
		if (!l2_copy(ptr, &v23, sizeof(v23), false)) {
			vmcs23_gpa = NO_VMCS;
			vm_fail_invalid();
			return;
		}
		vmcs23_gpa = ptr;
		v23_all_dirty();
		vmcs13_gpa_for = NO_VMCS;
	}
	vm_succeed();
}

/* VMREAD / VMWRITE (31.3): the field encoding in Reg2; the value in Reg1
 * or memory (28.2.5); 64-bit operands in 64-bit mode, else 32-bit.  No
 * current VMCS: VMfailInvalid; no such field: 12; VMWRITE to a read-only
 * field: 13 (IA32_VMX_MISC bit 29 is not offered). */
static void l2_vmread_vmwrite(uint32_t info, bool write)
{
	uint64_t enc = gpr_get(info >> 28), v = 0;
	unsigned len = l2_long ? 8 : 4;
	bool reg = info & (1u << 10);
	uint64_t addr = reg ? 0 : l2_operand(info);
	if (!l2_long)
		enc = (uint32_t)enc;
	if (vmcs23_gpa == NO_VMCS) {
		vm_fail_invalid();
		return;
	}
	int i = f23_index(enc);
	if (i < 0) {
		vm_fail_valid(12);
		return;
	}
	if (!write) {
		if (v23_lazy[i / 64] >> (i % 64) & 1)
			l3_state_fetch();
		v = v23.f[i];
		if (enc & 1)
			v >>= 32;
		if (reg)
			gpr_set((info >> 3) & 15, l2_long ? v : (uint32_t)v);
		else if (!operand_io(addr, &v, len, true))
			return;
		vm_succeed();
		return;
	}
	if (reg)
		v = gpr_get((info >> 3) & 15);
	else if (!operand_io(addr, &v, len, false))
		return;
	if (F_TYPE(enc) == 1) {
		vm_fail_valid(13);
		return;
	}
	if (!l2_long)
		v = (uint32_t)v;
	if (v23_lazy[i / 64] >> (i % 64) & 1) {
		if (enc & 1)
			l3_state_fetch();                    /* the low half stays L3's */
		v23_lazy[i / 64] &= ~(1ull << (i % 64));
	}
	switch (enc & 1 ? 4 : F_WIDTH(enc)) {
	case 0: v23.f[i] = (uint16_t)v; break;
	case 2: v23.f[i] = (uint32_t)v; break;
	case 4: v23.f[i] = (uint32_t)v23.f[i] | v << 32; break;   /* the high half of a 64-bit field */
	default: v23.f[i] = v; break;
	}
	v23_dirty[i / 64] |= 1ull << (i % 64);
	vm_succeed();
}

/* INVEPT (31.3): the type in Reg2, the 128-bit descriptor in memory; a
 * type not offered, or single-context with an EPTP VM entry would refuse:
 * VMfailValid(28).  EPT13 is a cache of EPT23: either type drops it. */
static void l2_invept(uint32_t info)
{
	uint64_t type = gpr_get(info >> 28), desc[2];
	if (!l2_long)
		type = (uint32_t)type;
	bool single = type == 1 && (off23.ept_vpid & VX_EPT_INVEPT_SINGLE);
	if (!single && !(type == 2 && (off23.ept_vpid & VX_EPT_INVEPT_ALL))) {
		vm_fail(28);
		return;
	}
	if (!operand_io(l2_operand(info), desc, sizeof(desc), false))
		return;
	if (single && !eptp23_ok(desc[0])) {
		vm_fail(28);
		return;
	}
	ept13_stale = true;
	n_l2_invept++;
	vm_succeed();
}

/*
 * A VMX instruction of L2 (they all exit, 26.1.2).  Without nested mode:
 * #UD, as on a CPU without VMX.  Else the checks every one of them makes
 * first (31.3): #UD outside VMX operation (VMXON: with CR4.VMXE clear), in
 * real or virtual-8086 mode, in compatibility mode; #GP(0) unless CPL 0.
 * INVVPID and VMFUNC are not offered: #UD.  Then the instruction; it ends
 * with L2 after it unless it faulted or VMLAUNCH/VMRESUME entered L3.
 */
static void l2_vmx_insn(uint32_t reason)
{
	uint32_t info = (uint32_t)vmr(VX_EXIT_INSTRUCTION_INFO);
	/* 64-bit mode = EFER.LMA and CS.L.  CS.L is reserved (0) outside
	 * IA-32e mode (vol. 3A 3.4.5), so with CS.L set EFER need not be read
	 * (a VMREAD Nestor does not shadow: one exit less per instruction). */
	l2_long = vmr(VX_GUEST_CS_AR) & CS_AR_L;
	bool lma = l2_long || (vmr(VX_GUEST_EFER) & EFER_LMA);
	n_l2_vmx++;
	l2_no_skip = false;
	if (!nested_l2 || reason == VX_EXIT_INVVPID || reason == VX_EXIT_VMFUNC ||
	    !(reason == VX_EXIT_VMXON ? l2_cr4() & CR4_VMXE : l2_vmx_on) || !(l2_cr0() & CR0_PE) ||
	    (vmr(VX_GUEST_RFLAGS) & RFLAGS_VM) || (lma && !l2_long)) {
		inject_ud();
		return;
	}
	if ((vmr(VX_GUEST_SS_AR) >> 5) & 3) {
		inject_gp();
		return;
	}
	switch (reason) {
	case VX_EXIT_VMXON:
		l2_vmxon(info);
		break;
	case VX_EXIT_VMXOFF:
		vmcs23_flush();
		l2_vmx_on = false;
		vmcs23_gpa = vmcs13_gpa_for = NO_VMCS;
		vm_succeed();
		break;
	case VX_EXIT_VMCLEAR:
		l2_vmclear(info);
		break;
	case VX_EXIT_VMPTRLD:
		l2_vmptrld(info);
		break;
	case VX_EXIT_VMPTRST: {
		uint64_t p = vmcs23_gpa;
		if (!operand_io(l2_operand(info), &p, 8, true))
			return;
		vm_succeed();
		break;
	}
	case VX_EXIT_VMREAD:
	case VX_EXIT_VMWRITE:
		l2_vmread_vmwrite(info, reason == VX_EXIT_VMWRITE);
		break;
	case VX_EXIT_VMLAUNCH:
	case VX_EXIT_VMRESUME:
		l2_vmentry(reason == VX_EXIT_VMLAUNCH);
		break;
	case VX_EXIT_INVEPT:
		l2_invept(info);
		break;
	}
	/* L2 continues after the instruction, unless it faulted, entered L3
	 * (then L2 continues at its host RIP once L3 exits) or failed the VM
	 * entry into its host state (27.8). */
	if (!l2_no_skip && !l3_active)
		skip();
}

/*
 * VMLAUNCH / VMRESUME of L2 (31.3, 27.1): no current VMCS: VMfailInvalid;
 * blocking by MOV SS: 26; VMLAUNCH of a launched VMCS: 4; VMRESUME of a
 * clear one: 5; the checks of 27.2 (7, 8).  Then the VMCS link pointer,
 * which vmxhv does not pass on (no VMCS shadowing offered: it must be
 * FFFFFFFF_FFFFFFFFH, 27.3.1.5, else the entry fails with qualification 4,
 * 27.8).  Otherwise L3 runs from the next turn of the run loop; L2's RIP
 * stays (it resumes at its host RIP).
 */
static void l2_vmentry(bool launch)
{
	const char *why = NULL;
	if (vmcs23_gpa == NO_VMCS) {
		vm_fail_invalid();
		return;
	}
	if (vmr(VX_GUEST_INTERRUPTIBILITY) & 2) {
		vm_fail_valid(26);
		return;
	}
	if (launch && v23.launch == VMCS23_LAUNCHED) {
		vm_fail_valid(4);
		return;
	}
	if (!launch && v23.launch != VMCS23_LAUNCHED) {
		vm_fail_valid(5);
		return;
	}
	uint32_t entry23 = (uint32_t)g23(VX_ENTRY_CONTROLS), exit23 = (uint32_t)g23(VX_EXIT_CONTROLS);
	/* L2's EFER: its LMA for 27.2.4 (in 64-bit mode, l2_long, it is set),
	 * the value itself where vmcs23 does not load or restore EFER. */
	bool need_efer = !(entry23 & VX_ENTRY_LOAD_EFER) || !(exit23 & VX_EXIT_LOAD_EFER);
	uint64_t efer = need_efer || !l2_long ? vmr(VX_GUEST_EFER) : EFER_LMA | EFER_LME;
	unsigned err = vmcs23_check(efer & EFER_LMA, &why);
	if (err) {
		rt_printf("%s: L2's %s of vmcs23 %#lx: VMfailValid(%u): %s\n", me, launch ? "VMLAUNCH" : "VMRESUME",
			  (unsigned long)vmcs23_gpa, err, why);
		vm_fail_valid(err);
		return;
	}
	n_l2_entries++;
	/* What vmcs13 takes from L2 where vmcs23 does not load it (27.3.2),
	 * and what L2 keeps if the entry fails (27.8). */
	l2_efer = efer;
	if (!(entry23 & VX_ENTRY_LOAD_PAT) || !(exit23 & VX_EXIT_LOAD_PAT))
		l2_pat = vmx_l1_may(vmx_l1.entry, VX_ENTRY_LOAD_PAT) ? vmr(VX_GUEST_PAT) : 0x0007040600070406ull;
	if (!(entry23 & VX_ENTRY_LOAD_DEBUG)) {
		l2_dr7 = vmr(VX_GUEST_DR7);
		l2_debugctl = vmr(VX_GUEST_DEBUGCTL);
	}
	l2_resume_rip = vmr(VX_GUEST_RIP) + vmr(VX_EXIT_INSTRUCTION_LEN);
	if (launch)
		vmcs13_gpa_for = NO_VMCS;        /* a fresh VMLAUNCH of vmcs13 too */
	if (g23(VX_VMCS_LINK_POINTER) != ~0ull) {
		entry_fail_to_l2(VX_EXIT_BAD_GUEST, 4);
		return;
	}
	/* 27.3.1.5: an activity state vmxhv offers (a value still in vmcs13,
	 * saved lazily, was the CPU's own and is checked by it). */
	int act = f23_index(VX_GUEST_ACTIVITY);
	uint64_t activity = v23.f[act];
	if (!(v23_lazy[act / 64] >> (act % 64) & 1) && activity &&
	    !(activity == 1 && (off23.misc & VX_MISC_HLT_STATE))) {
		entry_fail_to_l2(VX_EXIT_BAD_GUEST, 0);
		return;
	}
	if (n_l2_entries == 1)
		rt_printf("%s: L2 runs its own guest (L3): vmcs23 at L2 %#lx, %s\n", me, (unsigned long)vmcs23_gpa,
			  g23(VX_PROC_CONTROLS) & VX_PROC_SECONDARY && g23(VX_PROC2_CONTROLS) & VX_PROC2_EPT
			  ? "EPT23 composed with EPT12 into EPT13" : "no EPT23: EPT13 = EPT12");
	l3_active = true;
	l3_launching = launch;
	l3_entry_first = true;
}

/* ---- vmcs23 -> vmcs13 (SDM 25.6-25.8 as 27.2-27.3 read them) ------------ */
static uint8_t io13[2 * 4096] __attribute__((aligned(4096)));   /* bitmaps A and B */
static uint8_t msr13[4096] __attribute__((aligned(4096)));

/* vmcs13's I/O and MSR bitmaps: L2's (or all ones where L2 takes every
 * access: unconditional I/O exiting, no MSR bitmaps; an address outside L2
 * RAM reads as all ones, Nestor's choice), plus vmxhv's own for L2: what
 * vmxhv intercepts for L2 it intercepts for L3, whose accesses are L2's
 * as far as vmxhv is concerned.  Copied at every entry: L2 may change its
 * bitmaps between entries (25.11.4). */
static void bitmaps13(uint32_t proc23)
{
	if (!(proc23 & VX_PROC_IO_BITMAPS))
		memset(io13, proc23 & VX_PROC_UNCOND_IO ? 0xff : 0, sizeof(io13));
	else {
		if (!l2_copy(g23(VX_IO_BITMAP_A), io13, 4096, false))
			memset(io13, 0xff, 4096);
		if (!l2_copy(g23(VX_IO_BITMAP_B), io13 + 4096, 4096, false))
			memset(io13 + 4096, 0xff, 4096);
	}
	if (!(proc23 & VX_PROC_MSR_BITMAPS) || !l2_copy(g23(VX_MSR_BITMAP), msr13, 4096, false))
		memset(msr13, 0xff, sizeof(msr13));
	uint64_t *io = (uint64_t *)io13, *msr = (uint64_t *)msr13;
	const uint64_t *a = (const uint64_t *)io_bitmap_a, *b = (const uint64_t *)io_bitmap_b;
	const uint64_t *m = (const uint64_t *)msr_bitmap;
	for (unsigned i = 0; i < 512; i++) {
		io[i] |= a[i];
		io[512 + i] |= b[i];
		msr[i] |= m[i];
	}
}

/* The guest fields vmcs13 does not take unchanged (vmcs13_controls). */
static bool merged_guest_field(uint32_t enc)
{
	return enc == VX_GUEST_CR0 || enc == VX_GUEST_CR4 || enc == VX_GUEST_EFER || enc == VX_GUEST_PAT ||
	       enc == VX_GUEST_DEBUGCTL || enc == VX_GUEST_DR7 || enc == VX_VMCS_LINK_POINTER;
}

/*
 * vmcs13's controls: L2's (within what vmxhv offers, so the CPU below has
 * them too) plus what vmxhv needs: I/O and MSR bitmaps (its copies, above),
 * EPT on EPT13, its own VM-exit controls (with L2's acknowledge interrupt
 * on exit) and host state (every exit of L3 comes to vmxhv), EFER/PAT/debug controls always loaded (the value: L2's
 * choice, or what L2 has when L2 does not load them, 27.3.2), the CR0/CR4
 * masks of L2 and of vmxhv (the bits VMX fixes), with read shadows that
 * show L3 L2's shadow where L2 owns the bit and L3's own value elsewhere.
 */
static void vmcs13_controls(void)
{
	const struct vmx_l1_caps *c = &vmx_l1;
	uint32_t proc23 = (uint32_t)g23(VX_PROC_CONTROLS);
	uint32_t proc2_23 = proc23 & VX_PROC_SECONDARY ? (uint32_t)g23(VX_PROC2_CONTROLS) : 0;
	uint32_t entry23 = (uint32_t)g23(VX_ENTRY_CONTROLS);
	vmw(VX_PIN_CONTROLS, vmx_l1_ctl(c->pin, (uint32_t)g23(VX_PIN_CONTROLS)));
	vmw(VX_PROC_CONTROLS, vmx_l1_ctl(c->proc, (proc23 & ~VX_PROC_UNCOND_IO) | VX_PROC_IO_BITMAPS |
					 VX_PROC_MSR_BITMAPS | VX_PROC_SECONDARY));
	vmw(VX_PROC2_CONTROLS, vmx_l1_ctl(c->proc2, proc2_23 | VX_PROC2_EPT));
	vmw(VX_EXCEPTION_BITMAP, g23(VX_EXCEPTION_BITMAP));
	vmw(VX_PF_ERROR_MASK, g23(VX_PF_ERROR_MASK));
	vmw(VX_PF_ERROR_MATCH, g23(VX_PF_ERROR_MATCH));
	vmw(VX_CR3_TARGET_COUNT, 0);
	vmw(VX_IO_BITMAP_A, (uint64_t)io13);
	vmw(VX_IO_BITMAP_B, (uint64_t)io13 + 4096);
	vmw(VX_MSR_BITMAP, (uint64_t)msr13);
	vmw(VX_EPT_POINTER, eptp13);
	vmw(VX_TSC_OFFSET, g23(VX_TSC_OFFSET));      /* vmcs12 offsets nothing: L2's TSC is vmxhv's */
	uint64_t m0 = g23(VX_CR0_MASK), m4 = g23(VX_CR4_MASK), cr0 = g23(VX_GUEST_CR0), cr4 = g23(VX_GUEST_CR4);
	vmw(VX_CR0_MASK, m0 | cr0_mask);
	vmw(VX_CR0_SHADOW, (g23(VX_CR0_SHADOW) & m0) | (cr0 & ~m0));
	vmw(VX_CR4_MASK, m4 | cr4_mask);
	vmw(VX_CR4_SHADOW, (g23(VX_CR4_SHADOW) & m4) | (cr4 & ~m4));
	vmw(VX_GUEST_CR0, cr0);
	vmw(VX_GUEST_CR4, cr4);
	vmw(VX_EXIT_CONTROLS, vmx_l1_exit_controls((uint32_t)g23(VX_EXIT_CONTROLS) & VX_EXIT_ACK_INTR));
	vmw(VX_EXIT_MSR_STORE_COUNT, 0);
	vmw(VX_EXIT_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_CONTROLS, entry13_for(entry23));
	vmw(VX_ENTRY_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_INTR_INFO, g23(VX_ENTRY_INTR_INFO));
	vmw(VX_ENTRY_EXCEPTION_ERROR, g23(VX_ENTRY_EXCEPTION_ERROR));
	vmw(VX_ENTRY_INSTRUCTION_LEN, g23(VX_ENTRY_INSTRUCTION_LEN));
	/* 27.3.2.1: without "load IA32_EFER", EFER.LMA = "IA-32e mode guest",
	 * and so is LME if CR0.PG; the rest is L2's. */
	uint64_t efer = g23(VX_GUEST_EFER);
	if (!(entry23 & VX_ENTRY_LOAD_EFER)) {
		bool ia32e = entry23 & VX_ENTRY_IA32E;
		efer = (l2_efer & ~EFER_LMA) | (ia32e ? EFER_LMA : 0);
		if (cr0 & CR0_PG)
			efer = (efer & ~EFER_LME) | (ia32e ? EFER_LME : 0);
	}
	vmw(VX_GUEST_EFER, efer);
	if (vmx_l1_may(c->entry, VX_ENTRY_LOAD_PAT))
		vmw(VX_GUEST_PAT, entry23 & VX_ENTRY_LOAD_PAT ? g23(VX_GUEST_PAT) : l2_pat);
	vmw(VX_GUEST_DR7, entry23 & VX_ENTRY_LOAD_DEBUG ? g23(VX_GUEST_DR7) : l2_dr7);
	vmw(VX_GUEST_DEBUGCTL, entry23 & VX_ENTRY_LOAD_DEBUG ? g23(VX_GUEST_DEBUGCTL) : l2_debugctl);
	vmw(VX_VMCS_LINK_POINTER, ~0ull);
}

/* Bring vmcs13 up to vmcs23 (vmcs13 current): L3's guest fields that L2
 * wrote since go in unchanged, any control (or merged guest field) makes
 * vmcs13_controls() run; host and exit-information fields are L2's only.
 * So a VMRESUME after L2 advanced L3's RIP writes one field. */
static void vmcs13_merge(void)
{
	bool controls = false;
	for (unsigned w = 0; w < sizeof(v23_dirty) / sizeof(v23_dirty[0]); w++) {
		for (uint64_t bits = v23_dirty[w]; bits; bits &= bits - 1) {
			unsigned i = 64 * w + (unsigned)__builtin_ctzll(bits);
			if (i >= VMCS23_NFIELDS)
				break;
			uint32_t enc = vmcs23_fields[i];
			if (F_TYPE(enc) == 0 || merged_guest_field(enc))
				controls = true;
			else if (F_TYPE(enc) == 2)
				vmw(enc, v23.f[i]);
		}
		v23_dirty[w] = 0;
	}
	if (controls) {
		l3_state_fetch();                            /* EFER, PAT, DR7, DEBUGCTL are rewritten */
		vmcs13_controls();
	}
	bitmaps13((uint32_t)g23(VX_PROC_CONTROLS));
}

/* ---- L3's exits: L2's or vmxhv's? (SDM 26.1, 25.6) ---------------------- */

/* 26.1.3 MOV to CR0/CR4 (a bit L2 owns differs from L2's read shadow), MOV
 * to/from CR3 (CR3-load/store exiting; no CR3-target values offered),
 * CLTS (TS owned and set in the shadow), LMSW (PE owned, clear in the
 * shadow and set by the source; or MP/EM/TS owned and different). */
static bool cr_exit_is_l2s(uint32_t proc23)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	uint64_t m0 = g23(VX_CR0_MASK), s0 = g23(VX_CR0_SHADOW);
	switch (type) {
	case 0:
		if (cr == 0)
			return (gpr_get(reg) ^ s0) & m0;
		if (cr == 4)
			return (gpr_get(reg) ^ g23(VX_CR4_SHADOW)) & g23(VX_CR4_MASK);
		return cr == 3 && (proc23 & VX_PROC_CR3_LOAD);
	case 1:
		return cr == 3 && (proc23 & VX_PROC_CR3_STORE);
	case 2:
		return (m0 & s0 & CR0_TS) != 0;
	default: {
		uint64_t src = (q >> 16) & 0xffff;
		return ((m0 & 1) && !(s0 & 1) && (src & 1)) || (m0 & 0xe & (src ^ s0));
	}
	}
}

/* 26.1.3 I/O instructions: with I/O bitmaps, any bit of the ports the
 * access touches (past FFFFH: always); else unconditional I/O exiting. */
static bool io_exit_is_l2s(uint32_t proc23)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned port = q >> 16, size = (q & 7) + 1;
	if (!(proc23 & VX_PROC_IO_BITMAPS))
		return proc23 & VX_PROC_UNCOND_IO;
	for (unsigned p = port; p < port + size; p++) {
		uint8_t byte;
		if (p > 0xffff || !l2_copy((g23(p < 0x8000 ? VX_IO_BITMAP_A : VX_IO_BITMAP_B) & ~0xfffull) +
					   (p & 0x7fff) / 8, &byte, 1, false) || (byte >> (p % 8) & 1))
			return true;
	}
	return false;
}

/* 26.1.3 RDMSR/WRMSR, 25.6.9: without MSR bitmaps, always; else the bit
 * of ECX in the read (or write) bitmap of its range; outside the two
 * ranges, always. */
static bool msr_exit_is_l2s(uint32_t proc23, bool write)
{
	uint32_t msr = (uint32_t)l2.rcx;
	uint64_t off;
	uint8_t byte;
	if (!(proc23 & VX_PROC_MSR_BITMAPS))
		return true;
	if (msr <= 0x1fff)
		off = 0;
	else if (msr - 0xc0000000u <= 0x1fff)
		off = 0x400;
	else
		return true;
	off += (write ? 0x800 : 0) + (msr & 0x1fff) / 8;
	return !l2_copy((g23(VX_MSR_BITMAP) & ~0xfffull) + off, &byte, 1, false) || (byte >> (msr % 8) & 1);
}

/* Does this exit of L3 (basic reason) go to L2?  vmcs13 exits where L2's
 * controls ask and where vmxhv's do; those vmxhv's alone it handles. */
static bool l3_exit_is_l2s(uint32_t basic)
{
	uint32_t proc = (uint32_t)g23(VX_PROC_CONTROLS);
	uint32_t proc2 = proc & VX_PROC_SECONDARY ? (uint32_t)g23(VX_PROC2_CONTROLS) : 0;
	switch (basic) {
	case VX_EXIT_EXTINT: return g23(VX_PIN_CONTROLS) & VX_PIN_EXTINT;    /* 25.6.1, 26.2 */
	case VX_EXIT_INTR_WINDOW: return proc & VX_PROC_INTR_WINDOW;         /* 25.6.2 */
	case VX_EXIT_NMI_WINDOW: return proc & VX_PROC_NMI_WINDOW;           /* 25.6.2 */
	case VX_EXIT_EXCEPTION:          /* L2's exception bitmap, #PF mask/match, NMI exiting (26.2) */
	case VX_EXIT_TRIPLE_FAULT: case VX_EXIT_INIT: case VX_EXIT_SIPI: case VX_EXIT_TASK_SWITCH:
	case VX_EXIT_CPUID: case VX_EXIT_GETSEC: case VX_EXIT_INVD: case VX_EXIT_VMCALL:
	case VX_EXIT_VMCLEAR: case VX_EXIT_VMLAUNCH: case VX_EXIT_VMPTRLD: case VX_EXIT_VMPTRST:
	case VX_EXIT_VMREAD: case VX_EXIT_VMRESUME: case VX_EXIT_VMWRITE: case VX_EXIT_VMXOFF:
	case VX_EXIT_VMXON: case VX_EXIT_INVEPT: case VX_EXIT_INVVPID: case VX_EXIT_VMFUNC:
	case VX_EXIT_XSETBV:
		return true;                 /* 26.1.2: unconditional (or L2's bitmap) */
	case VX_EXIT_HLT: return proc & VX_PROC_HLT;
	case VX_EXIT_INVLPG: return proc & VX_PROC_INVLPG;
	case VX_EXIT_RDPMC: return proc & VX_PROC_RDPMC;
	case VX_EXIT_RDTSC: case VX_EXIT_RDTSCP: return proc & VX_PROC_RDTSC;
	case VX_EXIT_MWAIT: return proc & VX_PROC_MWAIT;
	case VX_EXIT_MONITOR: return proc & VX_PROC_MONITOR;
	case VX_EXIT_PAUSE: return proc & VX_PROC_PAUSE;
	case VX_EXIT_DR_ACCESS: return proc & VX_PROC_MOV_DR;
	case VX_EXIT_CR_ACCESS: return cr_exit_is_l2s(proc);
	case VX_EXIT_IO: return io_exit_is_l2s(proc);
	case VX_EXIT_RDMSR: case VX_EXIT_WRMSR: return msr_exit_is_l2s(proc, basic == VX_EXIT_WRMSR);
	case VX_EXIT_GDTR_IDTR: case VX_EXIT_LDTR_TR: return proc2 & VX_PROC2_DESC_TABLE;
	case VX_EXIT_WBINVD: return proc2 & VX_PROC2_WBINVD;
	case VX_EXIT_RDRAND: return proc2 & VX_PROC2_RDRAND;
	case VX_EXIT_RDSEED: return proc2 & VX_PROC2_RDSEED;
	case VX_EXIT_INVPCID: return (proc & VX_PROC_INVLPG) && (proc2 & VX_PROC2_INVPCID);
	}
	return false;
}

/*
 * L3 took an EPT violation on EPT13 (28.2.1, table 28-7).  Walk EPT23: a
 * violation there is L2's, reflected with bits 5:3 saying what EPT23
 * allows (bits 2:0, 7, 8 and 12 as the CPU reported them; the advanced
 * bits 11:9 are not offered); a misconfiguration there is L2's EPT
 * misconfiguration (reason 49).  Then EPT12: a miss there is vmxhv's own,
 * handled as for L2 (a hole of L2's space mapped, an unmapped page back),
 * and L3 retries.  Else install the composed leaf: 2 MiB where both map
 * 2 MiB, rights EPT23 & EPT12, uncached if EPT12 says so (MMIO), else
 * EPT23's memory type and IPAT.
 */
#define EPTV_QUAL_KEPT 0x1187ull   /* bits 2:0, 7, 8, 12 */
static void l3_ept_violation(void)
{
	uint64_t l3gpa = vmr(VX_GUEST_PHYSICAL_ADDRESS), q = vmr(VX_EXIT_QUALIFICATION), size12;
	struct ept23_walk w;
	int r = ept23_walk(l3gpa, q & 7, &w);
	if (r != WALK_OK) {
		struct exit_override o = { VX_EXIT_EPT_MISCONFIG, 0, l3gpa };
		if (r == WALK_VIOLATION)
			o = (struct exit_override){ VX_EXIT_EPT_VIOLATION, (q & EPTV_QUAL_KEPT) | (uint64_t)w.rights << 3, l3gpa };
		n_l3_ept_to_l2++;
		reflect_to_l2(&o);
		return;
	}
	uint64_t *e12 = ept12_leaf(w.l2gpa, &size12);
	if (!e12) {
		if (!ept12_fault(w.l2gpa, q & 7))
			fail_exit("L3 EPT violation", "L3 GPA %#lx -> L2 GPA %#lx: not in EPT12 (qualification %#lx, L3 RIP %#lx)",
				  (unsigned long)l3gpa, (unsigned long)w.l2gpa, (unsigned long)q,
				  (unsigned long)vmr(VX_GUEST_RIP));
		return;
	}
	unsigned rights = w.rights & (*e12 & 7);
	if (q & 7 & ~rights)
		fail_exit("L3 EPT violation", "L2 GPA %#lx: EPT12 denies the access", (unsigned long)w.l2gpa);
	uint64_t l1 = (*e12 & EPT_ADDR_4K & ~(size12 - 1)) | (w.l2gpa & (size12 - 1));
	uint64_t size = w.size >= 2 * MIB && size12 >= 2 * MIB ? 2 * MIB : 4096;
	uint64_t leaf = rights | (((*e12 >> 3) & 7) == 0 ? EPT_MT_UC : (w.mt << 3) | (w.ipat ? EPT_IPAT : 0));
	if (!ept13_install(l3gpa, l1, size, leaf)) {
		ept13_reset();                                   /* full: start again */
		if (!ept13_install(l3gpa, l1, size, leaf))
			fail_exit("EPT13", "out of table pages");
	}
	n_ept13_fills++;
}

/* MOV CR that exited for vmxhv's CR0/CR4 mask bits alone: L3 tried to
 * change a bit VMX fixes, which L2 lets L3 own: #GP (24.8).  MOV to/from
 * CR3 where the CPU below forces CR3 exiting and L2 did not ask: done. */
static void l3_cr_access(void)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	if (type == 0 && cr == 3)
		vmw(VX_GUEST_CR3, gpr_get(reg));
	else if (type == 1 && cr == 3)
		gpr_set(reg, vmr(VX_GUEST_CR3));
	else {
		inject_gp();
		return;
	}
	skip();
}

/* L2's VMLAUNCH/VMRESUME, refused by the CPU below on vmcs13 (a check on
 * what vmcs13 took from vmcs23 unchanged): L2's instruction fails the
 * same way, and L2 continues after it. */
static void l2_vmfail_from_below(int r)
{
	uint32_t err = r == VX_FAIL_VALID ? vx_insn_error() : 0;
	rt_printf("%s: L2's %s of vmcs23 %#lx: the CPU below refuses vmcs13: VMfailValid(%u)\n", me,
		  l3_launching ? "VMLAUNCH" : "VMRESUME", (unsigned long)vmcs23_gpa, err ? err : 7);
	vmcs13_gpa_for = NO_VMCS;
	use_vmcs(vmcs12);
	vmw(VX_GUEST_RIP, l2_resume_rip);
	vmw(VX_GUEST_INTERRUPTIBILITY, vmr(VX_GUEST_INTERRUPTIBILITY) & ~3ull);
	vm_fail_valid(err ? err : 7);
	l3_active = false;
	l3_launching = false;
}

static void reinject_vectoring(void);
static void exit_io(void);

/* What one L3 CPUID costs the hypervisor below: its exit counters (Nestor's
 * HC_EXIT_STATS) read at each CPUID exit of L3 that follows another with
 * no other L3 exit between, i.e. one whole round trip L3 -> L2 -> L3 (the
 * cpu test guest's loop of CPUIDs); the reading's own hypercall exit is
 * taken off. */
static struct hc_exit_stats l3_stats;
static struct { uint64_t total, l1, l2; } l3_cpuid_prev, l3_cpuid_last;
static uint64_t l3_cpuid_min = ~0ull, l3_cpuid_samples, l3_cpuid_exit_no;

static void l3_cpuid_sample(void)
{
	if (!l1_under_nestor || rt_hypercall(HC_EXIT_STATS, (uint64_t)&l3_stats, sizeof(l3_stats), 0) <= 0)
		return;
	bool back_to_back = l3_cpuid_exit_no && l3_cpuid_exit_no + 1 == n_l3_exits;
	if (back_to_back) {
		l3_cpuid_last.total = l3_stats.total - l3_cpuid_prev.total - 1;
		l3_cpuid_last.l1 = l3_stats.level_total[0] - l3_cpuid_prev.l1 - 1;
		l3_cpuid_last.l2 = l3_stats.level_total[1] - l3_cpuid_prev.l2;
		if (l3_cpuid_last.total < l3_cpuid_min)
			l3_cpuid_min = l3_cpuid_last.total;
		l3_cpuid_samples++;
	}
	l3_cpuid_prev.total = l3_stats.total;
	l3_cpuid_prev.l1 = l3_stats.level_total[0];
	l3_cpuid_prev.l2 = l3_stats.level_total[1];
	l3_cpuid_exit_no = n_l3_exits;
}

/*
 * One VM entry of L3 on vmcs13 and its exit.  vmcs13 is launched afresh
 * when L2 launches, or resumes another vmcs23 than the one vmcs13 holds
 * (then every field is written); else only what L2 changed.  An EPT
 * violation on EPT13 is vmxhv's (l3_ept_violation); an entry failure
 * (27.8) or VMfail from the CPU below is L2's; an exit L2 asks for goes
 * to L2; the rest vmxhv handles as for L2, and then an event that was
 * being delivered is delivered again (27.6).
 */
static void run_l3(void)
{
	use_vmcs(vmcs13);
	uint32_t proc23 = (uint32_t)g23(VX_PROC_CONTROLS);
	bool ept23 = (proc23 & VX_PROC_SECONDARY) && (g23(VX_PROC2_CONTROLS) & VX_PROC2_EPT);
	uint64_t eptp23 = ept23 ? g23(VX_EPT_POINTER) & ~0xfffull : 0;
	if (!ept13_pml4 || ept13_stale || ept23 != ept13_ept23_on || eptp23 != ept13_eptp23)
		ept13_reset();                               /* (same EPTP13: the first table page) */
	ept13_ept23_on = ept23;
	ept13_eptp23 = eptp23;
	if (vmcs13_gpa_for != vmcs23_gpa || !vmcs13_launched) {
		l3_state_fetch();                            /* every field is rewritten */
		if (vx_vmclear((uint64_t)vmcs13) || vx_vmptrld((uint64_t)vmcs13))
			fail_exit("vmcs13", "VMCLEAR/VMPTRLD failed");
		vmcs13_launched = false;
		vmx_l1_host_state();
		v23_all_dirty();
	}
	vmcs13_merge();
	vmcs13_gpa_for = vmcs23_gpa;
	if (ept13_flush) {
		int r = vx_invept(invept_type, eptp13);
		if (r) {
			char b[80];
			fail_exit("INVEPT", "EPT13: %s", vx_fail_text(r, b, sizeof(b)));
		}
		ept13_flush = false;
	}
	bool list = l3_msr_load_arm();
	__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l1) : "m"(fx_l2));
	int r = vmx_l1_enter(&l2, vmcs13_launched);
	__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l2) : "m"(fx_l1));
	if (list)
		vmw(VX_ENTRY_MSR_LOAD_COUNT, 0);              /* re-entries load nothing */
	if (r) {
		l2_vmfail_from_below(r);
		return;
	}
	n_l3_exits++;
	uint32_t reason = (uint32_t)vmr(VX_EXIT_REASON), basic = reason & 0xffff;
	if (reason & VX_EXIT_FAILED_ENTRY) {
		entry_fail_to_l2(reason, vmr(VX_EXIT_QUALIFICATION));
		return;
	}
	vmcs13_launched = true;
	if (l3_launching) {
		v23.launch = VMCS23_LAUNCHED;        /* 31.3 VMLAUNCH: once the entry succeeded */
		l3_launching = false;
	}
	if (basic == VX_EXIT_EPT_VIOLATION) {
		l3_ept_violation();
	} else if (l3_exit_is_l2s(basic)) {
		if (basic == VX_EXIT_CPUID)
			l3_cpuid_sample();
		reflect_to_l2(NULL);
		return;
	} else if (basic == VX_EXIT_RDMSR || basic == VX_EXIT_WRMSR) {
		exit_msr(basic == VX_EXIT_WRMSR);
	} else if (basic == VX_EXIT_IO) {
		exit_io();
	} else if (basic == VX_EXIT_CR_ACCESS) {
		l3_cr_access();
	} else {
		fail_exit("L3 exit", "reason %u qualification %#lx L3 RIP %#lx: not L2's, not vmxhv's", basic,
			  (unsigned long)vmr(VX_EXIT_QUALIFICATION), (unsigned long)vmr(VX_GUEST_RIP));
	}
	if (l3_active && vmcs_current == vmcs13 && !(vmr(VX_ENTRY_INTR_INFO) & VX_INTR_VALID))
		reinject_vectoring();
}

/* Set up nested mode: what L2 is offered, the field table, vmcs13's
 * region (its revision: vmxhv's CPU's, 25.2). */
static void nested_init(void)
{
	offer_init();
	f23_init();
	memset(vmcs13, 0, sizeof(vmcs13));
	*(uint32_t *)vmcs13 = (uint32_t)(vmx_l1.basic & 0x7fffffff);
	if (vx_vmclear((uint64_t)vmcs13))
		fail_exit("vmcs13", "VMCLEAR failed");
}

/* I/O exit (qualification, table 28-5): only isa-debug-exit's port is in
 * the bitmaps; L2 ends its test there, and vmxhv ends the whole VM with
 * the same write.  (In nested mode also L3's write to it, when L2 lets
 * it through.) */
static void exit_io(void)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned port = q >> 16, bytes = (q & 7) + 1;
	if ((q & (1u << 3)) || (q & (1u << 4)) || port > 0xf4 || port + bytes <= 0xf4)
		fail_exit("I/O exit", "qualification %#lx: not an OUT to port 0xf4", (unsigned long)q);
	uint32_t v = (uint32_t)l2.rax;
	rt_printf("%s: L2 ended with status %u after %lu exits (%lu cpuid, %lu vmcall, %lu ept)\n",
		  me, v & 0xff, (unsigned long)n_exits, (unsigned long)n_cpuid, (unsigned long)n_vmcall,
		  (unsigned long)n_ept);
	if (nested_l2) {
		rt_printf("%s: L3 (L2's guest): %lu VMLAUNCH/VMRESUME by L2 (%lu entry failures), %lu L3 exits: "
			  "%lu to L2 (%lu EPT)\n", me, (unsigned long)n_l2_entries, (unsigned long)n_l2_entry_fail,
			  (unsigned long)n_l3_exits, (unsigned long)n_l3_to_l2, (unsigned long)n_l3_ept_to_l2);
		rt_printf("%s: L2's VMX: %lu instructions, %lu VMfailValid, %lu INVEPT; %lu EPT13 fills, %lu resets\n",
			  me, (unsigned long)n_l2_vmx, (unsigned long)n_l2_vmfail, (unsigned long)n_l2_invept,
			  (unsigned long)n_ept13_fills, (unsigned long)n_ept13_resets);
		if (l3_cpuid_samples)
			rt_printf("%s: L0 exits per L3 CPUID round trip: %lu (L1 %lu, L2/L3 %lu), min %lu, over %lu "
				  "back-to-back CPUIDs\n", me, (unsigned long)l3_cpuid_last.total,
				  (unsigned long)l3_cpuid_last.l1, (unsigned long)l3_cpuid_last.l2,
				  (unsigned long)l3_cpuid_min, (unsigned long)l3_cpuid_samples);
	}
	if (bytes == 4)
		outl(port, v);
	else if (bytes == 2)
		outw(port, (uint16_t)v);
	else
		outb(port, (uint8_t)v);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* An event that was being delivered when the exit happened (IDT-vectoring
 * information, 28.2.4) is delivered again on the next entry (27.6). */
static void reinject_vectoring(void)
{
	uint32_t idt = (uint32_t)vmr(VX_IDT_VECTORING_INFO);
	if (!(idt & VX_INTR_VALID))
		return;
	vmw(VX_ENTRY_INTR_INFO, idt & ~(1u << 12));
	if (idt & VX_INTR_ERROR)
		vmw(VX_ENTRY_EXCEPTION_ERROR, vmr(VX_IDT_VECTORING_ERROR));
	vmw(VX_ENTRY_INSTRUCTION_LEN, vmr(VX_EXIT_INSTRUCTION_LEN));
}

static void run_l2(void)
{
	int launched = 0;
	__asm__ volatile("fxsave64 %0" : "=m"(fx_l2));   /* L2 starts with vmxhv's x87/SSE state */
	for (;;) {
		if (l3_active) {                         /* L2 is inside its VMLAUNCH/VMRESUME */
			run_l3();
			continue;
		}
		use_vmcs(vmcs12);
		/* VM entry and exit do not switch x87/SSE state: vmxhv's newlib uses it too. */
		__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l1) : "m"(fx_l2));
		int r = vmx_l1_enter(&l2, launched);
		__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l2) : "m"(fx_l1));
		if (r) {
			char b[80];
			fail_exit("VM entry", "%s: %s", launched ? "VMRESUME" : "VMLAUNCH", vx_fail_text(r, b, sizeof(b)));
		}
		launched = 1;
		n_exits++;
		uint32_t reason = (uint32_t)vmr(VX_EXIT_REASON);
		if (reason & VX_EXIT_FAILED_ENTRY)                /* 27.8: invalid guest state, MSR loading */
			fail_exit("VM entry", "failed, exit reason %u, qualification %#lx",
				  reason & 0xffff, (unsigned long)vmr(VX_EXIT_QUALIFICATION));
		reinject_vectoring();
		switch (reason & 0xffff) {
		case VX_EXIT_CPUID:
			exit_cpuid();
			break;
		case VX_EXIT_VMCALL:
			exit_vmcall();
			break;
		case VX_EXIT_RDMSR:
		case VX_EXIT_WRMSR:
			exit_msr((reason & 0xffff) == VX_EXIT_WRMSR);
			break;
		case VX_EXIT_CR_ACCESS:
			exit_cr();
			break;
		case VX_EXIT_EPT_VIOLATION:
			exit_ept_violation();
			break;
		case VX_EXIT_IO:
			exit_io();
			break;
		case VX_EXIT_INVD:                       /* exits unconditionally (26.1.2); a no-op for L2 */
			skip();
			break;
		case VX_EXIT_VMCLEAR: case VX_EXIT_VMLAUNCH: case VX_EXIT_VMPTRLD: case VX_EXIT_VMPTRST:
		case VX_EXIT_VMREAD: case VX_EXIT_VMRESUME: case VX_EXIT_VMWRITE: case VX_EXIT_VMXOFF:
		case VX_EXIT_VMXON: case VX_EXIT_INVEPT: case VX_EXIT_INVVPID: case VX_EXIT_VMFUNC:
			l2_vmx_insn(reason & 0xffff);            /* #UD unless L2 is offered VMX */
			break;
		case VX_EXIT_TRIPLE_FAULT:
			fail_exit("L2 exit", "triple fault at RIP %#lx after %lu exits",
				  (unsigned long)vmr(VX_GUEST_RIP), (unsigned long)n_exits);
		default:                                 /* EPT misconfiguration, ... */
			fail_exit("L2 exit", "reason %u qualification %#lx RIP %#lx after %lu exits",
				  reason & 0xffff, (unsigned long)vmr(VX_EXIT_QUALIFICATION),
				  (unsigned long)vmr(VX_GUEST_RIP), (unsigned long)n_exits);
		}
	}
}

/* Is vmxhv itself an L2 under another vmxhv?  Its hypercall 0 answers 1;
 * Nestor answers "invalid", a CPU outside VMX non-root operation gives #UD. */
static bool under_vmxhv(void)
{
	uint64_t rax = VMXHV_HC(VMXHV_PRESENT);
	rt_expect_fault(3);
	__asm__ volatile("vmcall" : "+a"(rax) : : "rbx", "rcx", "rdx", "memory");
	return !rt_fault_taken(NULL) && rax == 1;
}

void guest_main(void)
{
	const struct boot_module *m = rt_boot_module(0);
	if (under_vmxhv())
		me = "vmxhv(L2)";
	if (!m)
		fail_exit("L2 image", "no boot module");
	nested_l2 = rt_boot.mods_count > 1;              /* a module for L2: L2 is a hypervisor */
	parse_cmdline(rt_boot.cmdline);
	if (nested_l2 && !l2mem_given)
		l2_size = 64 * MIB;
	vmx_enable();
	if (nested_l2)
		nested_init();
	choose_window();
	ept12_build();
	uint32_t entry = load_l2(m);
	vmcs12_init(entry);
	char mods[128] = "";
	for (unsigned i = 1, n = 0; i < rt_boot.mods_count && i <= L2_MODS_MAX; i++)
		n += snprintf(mods + n, sizeof(mods) - n, "%s%s", i == 1 ? ", modules " : " ", rt_boot_module(i)->name);
	rt_printf("%s: running %s as L2 (EPT12 4K+2M, VPID %s, shadow VMCS %s), %lu MiB at L1 %#lx%s%s\n", me,
		  m->name, has_vpid ? "yes" : "no", has_shadow_vmcs ? "yes" : "no", (unsigned long)(l2_size >> 20),
		  (unsigned long)l2_base, nested_l2 ? ", offering it VMX" : "", mods);
	run_l2();
}
