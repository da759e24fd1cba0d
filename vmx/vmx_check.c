/*
 * vmx_check: VM-entry checks as a table.  See vmx/vmx_check.h for the
 * contract, the section numbering and what is not implemented.
 *
 * Every check is a small function answering one sentence of the SDM; the
 * comment above it quotes which one.  A check that does not apply (its
 * controlling bit is 0) passes.  On failure it names the field it found
 * wrong and that field's value, which is what a person fixing the VMCS
 * wants to see first.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmx/vmx_check.h"

/* ---- architectural bits used below ---- */

/* Pin-based VM-execution controls (24.6.1) */
#define PIN_EXTINT_EXITING      (1u << 0)
#define PIN_NMI_EXITING         (1u << 3)
#define PIN_VIRTUAL_NMIS        (1u << 5)
#define PIN_PREEMPTION_TIMER    (1u << 6)
#define PIN_POSTED_INTERRUPTS   (1u << 7)

/* Primary processor-based VM-execution controls (24.6.2) */
#define PROC_NMI_WINDOW         (1u << 22)
#define PROC_TERTIARY           (1u << 17)
#define PROC_TPR_SHADOW         (1u << 21)
#define PROC_IO_BITMAPS         (1u << 25)
#define PROC_MTF                (1u << 27)
#define PROC_MSR_BITMAPS        (1u << 28)
#define PROC_SECONDARY          (1u << 31)

/* Secondary processor-based VM-execution controls (24.6.2) */
#define PROC2_APIC_ACCESS       (1u << 0)
#define PROC2_EPT               (1u << 1)
#define PROC2_X2APIC            (1u << 4)
#define PROC2_VPID              (1u << 5)
#define PROC2_UNRESTRICTED      (1u << 7)
#define PROC2_APIC_REG_VIRT     (1u << 8)
#define PROC2_VID               (1u << 9)
#define PROC2_VMFUNC            (1u << 13)
#define PROC2_SHADOW_VMCS       (1u << 14)
#define PROC2_PML               (1u << 17)
#define PROC2_EPT_VE            (1u << 18)
#define PROC2_MBEC              (1u << 22)
#define PROC2_SPP               (1u << 23)

/* VM-exit controls (24.7.1) */
#define EXIT_HOST_ADDR_SPACE    (1u << 9)
#define EXIT_ACK_INTERRUPT      (1u << 15)
#define EXIT_LOAD_PAT           (1u << 19)
#define EXIT_LOAD_EFER          (1u << 21)
#define EXIT_SAVE_PREEMPTION    (1u << 22)
#define EXIT_LOAD_PKRS          (1u << 29)
#define EXIT_SECONDARY          (1u << 31)

/* VM-entry controls (24.8.1) */
#define ENTRY_LOAD_DEBUG        (1u << 2)
#define ENTRY_IA32E_GUEST       (1u << 9)
#define ENTRY_SMM               (1u << 10)
#define ENTRY_DEACT_DUAL_MON    (1u << 11)
#define ENTRY_LOAD_PAT          (1u << 14)
#define ENTRY_LOAD_EFER         (1u << 15)
#define ENTRY_LOAD_BNDCFGS      (1u << 16)
#define ENTRY_LOAD_PKRS         (1u << 22)

/* VM-entry interruption information (24.8.3) */
#define INTR_VALID              (1u << 31)
#define INTR_DELIVER_ERRCODE    (1u << 11)
#define INTR_TYPE(i)            (((i) >> 8) & 7u)
#define INTR_VECTOR(i)          ((i) & 0xffu)
enum { EV_EXTINT = 0, EV_RESERVED = 1, EV_NMI = 2, EV_HW_EXC = 3, EV_SW_INT = 4,
       EV_PRIV_SW_EXC = 5, EV_SW_EXC = 6, EV_OTHER = 7 };

/* Guest interruptibility state (24.4.2) */
#define BLOCK_STI               (1u << 0)
#define BLOCK_MOV_SS            (1u << 1)
#define BLOCK_SMI               (1u << 2)
#define BLOCK_NMI               (1u << 3)

/* Activity states (24.4.2) */
enum { ACT_ACTIVE = 0, ACT_HLT = 1, ACT_SHUTDOWN = 2, ACT_WAIT_SIPI = 3 };

/* Registers (vol. 3A 2.5, 2.2.1) */
#define CR0_PE                  (1ull << 0)
#define CR0_WP                  (1ull << 16)
#define CR0_PG                  (1ull << 31)
#define CR4_PAE                 (1ull << 5)
#define CR4_LA57                (1ull << 12)
#define CR4_PCIDE               (1ull << 17)
#define CR4_CET                 (1ull << 23)
#define EFER_SCE                (1ull << 0)
#define EFER_LME                (1ull << 8)
#define EFER_LMA                (1ull << 10)
#define EFER_NXE                (1ull << 11)
#define EFER_DEFINED            (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)
#define RFLAGS_TF               (1ull << 8)
#define RFLAGS_IF               (1ull << 9)
#define RFLAGS_VM               (1ull << 17)
#define DEBUGCTL_BTF            (1ull << 1)
/* IA32_DEBUGCTL bits that exist (vol. 3B 17.4.1): LBR, BTF, 6-15. */
#define DEBUGCTL_DEFINED        0xffc3ull

/* Segment access rights as the VMCS holds them (24.4.1) */
#define AR_TYPE(a)              ((unsigned)(a) & 0xfu)
#define AR_S                    (1u << 4)
#define AR_DPL(a)               (((unsigned)(a) >> 5) & 3u)
#define AR_P                    (1u << 7)
#define AR_L                    (1u << 13)
#define AR_DB                   (1u << 14)
#define AR_G                    (1u << 15)
#define AR_UNUSABLE             (1u << 16)
#define AR_RESERVED             (0xf00u | 0xfffe0000u)   /* 11:8, 31:17 */

/* Segments in VMCS field order: ES CS SS DS FS GS LDTR TR */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };

/* ---- the context every check reads ---- */

struct vmx_check_ctx {
	const struct vmcs_image *img;
	const struct vmx_caps *caps;
	unsigned maxphyaddr;
	/* controls as they take effect (secondary = 0 unless activated) */
	uint32_t pin, proc, proc2, exit, entry;
	bool ug;            /* unrestricted guest */
	bool ia32e;         /* "IA-32e mode guest" entry control */
	bool v86;           /* guest RFLAGS.VM: "the guest will be virtual-8086" */
	bool inject;        /* VM-entry interruption information valid */
	unsigned ev_type, ev_vector;
};

static uint64_t rd(const struct vmx_check_ctx *c, unsigned idx)
{
	unsigned bits = vmcs_field_bits(&vmcs_field_table[idx]);
	uint64_t v = c->img->v[idx];
	return bits == 64 ? v : v & ((1ull << bits) - 1);
}

/* F(GUEST_CR0): the value of a field; BAD(GUEST_CR0): report it, fail. */
#define F(name)   rd(c, VMCS_IDX_##name)
#define BAD(name) bad_field(bad, VMCS_##name, F(name))

static bool bad_field(struct vmx_check_bad *bad, uint32_t enc, uint64_t value)
{
	bad->field = enc;
	bad->value = value;
	return false;
}

/* Segment fields by segment number (the four groups are contiguous). */
static uint64_t seg_sel(const struct vmx_check_ctx *c, unsigned s)   { return rd(c, VMCS_IDX_GUEST_ES_SELECTOR + s); }
static uint64_t seg_base(const struct vmx_check_ctx *c, unsigned s)  { return rd(c, VMCS_IDX_GUEST_ES_BASE + s); }
static uint64_t seg_limit(const struct vmx_check_ctx *c, unsigned s) { return rd(c, VMCS_IDX_GUEST_ES_LIMIT + s); }
static uint32_t seg_ar(const struct vmx_check_ctx *c, unsigned s)    { return (uint32_t)rd(c, VMCS_IDX_GUEST_ES_AR + s); }
static bool seg_usable(const struct vmx_check_ctx *c, unsigned s)    { return !(seg_ar(c, s) & AR_UNUSABLE); }

static bool bad_sel(struct vmx_check_bad *b, const struct vmx_check_ctx *c, unsigned s)
{ return bad_field(b, VMCS_GUEST_ES_SELECTOR + 2 * s, seg_sel(c, s)); }
static bool bad_base(struct vmx_check_bad *b, const struct vmx_check_ctx *c, unsigned s)
{ return bad_field(b, VMCS_GUEST_ES_BASE + 2 * s, seg_base(c, s)); }
static bool bad_limit(struct vmx_check_bad *b, const struct vmx_check_ctx *c, unsigned s)
{ return bad_field(b, VMCS_GUEST_ES_LIMIT + 2 * s, seg_limit(c, s)); }
static bool bad_ar(struct vmx_check_bad *b, const struct vmx_check_ctx *c, unsigned s)
{ return bad_field(b, VMCS_GUEST_ES_AR + 2 * s, seg_ar(c, s)); }

/* ---- small predicates ---- */

/* Does a physical address fit in MAXPHYADDR bits? */
static bool pa_ok(const struct vmx_check_ctx *c, uint64_t a)
{
	return c->maxphyaddr >= 64 || (a >> c->maxphyaddr) == 0;
}

/* A 4-KiB aligned physical address within MAXPHYADDR (the form of every
 * bitmap / page address control: "bits 11:0 must be 0 ... must not set any
 * bits beyond the processor's physical-address width"). */
static bool page_ok(const struct vmx_check_ctx *c, uint64_t a)
{
	return (a & 0xfff) == 0 && pa_ok(c, a);
}

/* An MSR list: 16-byte aligned, and its first and last byte within
 * MAXPHYADDR ("address + (count * 16) - 1"). */
static bool msr_area_ok(const struct vmx_check_ctx *c, uint64_t addr, uint64_t count)
{
	uint64_t len = count * 16;      /* count is 32 bits: no overflow */

	if (count == 0)
		return true;
	if ((addr & 0xf) != 0 || !pa_ok(c, addr))
		return false;
	if (addr > UINT64_MAX - (len - 1))
		return false;
	return pa_ok(c, addr + len - 1);
}

/* Canonical: bits 63:N-1 all equal, N = 57 with LA57 else 48. */
static bool canonical(uint64_t v, bool la57)
{
	unsigned n = la57 ? 57 : 48;
	uint64_t top = v >> (n - 1);
	return top == 0 || top == (~0ull >> (n - 1));
}

static bool host_canon(const struct vmx_check_ctx *c, uint64_t v)
{
	return canonical(v, F(HOST_CR4) & CR4_LA57);
}

static bool guest_canon(const struct vmx_check_ctx *c, uint64_t v)
{
	return canonical(v, F(GUEST_CR4) & CR4_LA57);
}

/* IA32_PAT: every byte a valid memory type 0, 1, 4, 5, 6 or 7. */
static bool pat_ok(uint64_t pat)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (pat >> (8 * i)) & 0xff;
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/* Fixed-bit rule of the CR0/CR4 capability MSRs (A.7, A.8). */
static bool fixed_ok(uint64_t v, uint64_t fixed0, uint64_t fixed1)
{
	return (v & fixed0) == fixed0 && (v & ~fixed1) == 0;
}

/* The granularity rule for a segment limit. */
static bool limit_g_ok(uint64_t limit, uint32_t ar)
{
	if ((limit & 0xfff) != 0xfff && (ar & AR_G))
		return false;
	if ((limit >> 20) != 0 && !(ar & AR_G))
		return false;
	return true;
}

/* ================================================================
 * 26.2.1.1 "VM-Execution Control Fields"
 * ================================================================ */

/* "Reserved bits in the pin-based VM-execution controls must be set
 * properly" (per IA32_VMX_[TRUE_]PINBASED_CTLS). */
static bool chk_pin_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return vmx_ctl_ok(c->caps->pinbased, c->pin) || BAD(PIN_BASED_CONTROLS);
}

/* Same for the primary processor-based controls. */
static bool chk_proc_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return vmx_ctl_ok(c->caps->procbased, c->proc) || BAD(PROC_BASED_CONTROLS);
}

/* "If the 'activate secondary controls' primary processor-based
 * VM-execution control is 1, reserved bits in the secondary ... controls
 * must be cleared." (Otherwise they are ignored: treated as 0.) */
static bool chk_proc2_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->proc & PROC_SECONDARY))
		return true;
	return vmx_ctl_ok(c->caps->procbased2, (uint32_t)F(SECONDARY_CONTROLS)) ||
	       BAD(SECONDARY_CONTROLS);
}

/* "If the 'activate tertiary controls' ... is 1, reserved bits in the
 * tertiary processor-based VM-execution controls must be cleared." */
static bool chk_proc3_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->proc & PROC_TERTIARY))
		return true;
	return (F(TERTIARY_CONTROLS) & ~c->caps->procbased3) == 0 || BAD(TERTIARY_CONTROLS);
}

/* "The CR3-target count must not be greater than 4" - or rather than the
 * number IA32_VMX_MISC bits 24:16 reports. */
static bool chk_cr3_target_count(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return F(CR3_TARGET_COUNT) <= VMX_MISC_CR3_TARGETS(c->caps->misc) || BAD(CR3_TARGET_COUNT);
}

/* "If the 'use I/O bitmaps' VM-execution control is 1, bits 11:0 of each
 * I/O-bitmap address must be 0.  Neither address should set any bits
 * beyond the processor's physical-address width." */
static bool chk_io_bitmap_a(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc & PROC_IO_BITMAPS) || page_ok(c, F(IO_BITMAP_A)) || BAD(IO_BITMAP_A);
}

static bool chk_io_bitmap_b(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc & PROC_IO_BITMAPS) || page_ok(c, F(IO_BITMAP_B)) || BAD(IO_BITMAP_B);
}

/* "If the 'use MSR bitmaps' VM-execution control is 1, bits 11:0 of the
 * MSR-bitmap address must be 0 [and within the physical-address width]." */
static bool chk_msr_bitmap(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc & PROC_MSR_BITMAPS) || page_ok(c, F(MSR_BITMAP)) || BAD(MSR_BITMAP);
}

/* "If the 'use TPR shadow' VM-execution control is 1, the virtual-APIC
 * address must satisfy: bits 11:0 are 0; no bits beyond the
 * physical-address width." */
static bool chk_virtual_apic_addr(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc & PROC_TPR_SHADOW) || page_ok(c, F(VIRTUAL_APIC_ADDR)) ||
	       BAD(VIRTUAL_APIC_ADDR);
}

/* "If the 'use TPR shadow' VM-execution control is 1 and the
 * 'virtual-interrupt delivery' VM-execution control is 0, bits 31:4 of the
 * TPR threshold VM-execution control field must be 0."  (The companion
 * rule comparing bits 3:0 with VTPR needs the virtual-APIC page: not
 * implemented.) */
static bool chk_tpr_threshold(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->proc & PROC_TPR_SHADOW) || (c->proc2 & PROC2_VID))
		return true;
	return (F(TPR_THRESHOLD) & ~0xfull) == 0 || BAD(TPR_THRESHOLD);
}

/* "If the 'use TPR shadow' VM-execution control is 0, the following
 * VM-execution controls must also be 0: 'virtualize x2APIC mode',
 * 'APIC-register virtualization', and 'virtual-interrupt delivery'." */
static bool chk_no_tpr_shadow_apicv(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (c->proc & PROC_TPR_SHADOW)
		return true;
	return (c->proc2 & (PROC2_X2APIC | PROC2_APIC_REG_VIRT | PROC2_VID)) == 0 ||
	       BAD(SECONDARY_CONTROLS);
}

/* "If the 'NMI exiting' VM-execution control is 0, the 'virtual NMIs'
 * VM-execution control must be 0." */
static bool chk_vnmi_needs_nmi_exiting(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return (c->pin & PIN_NMI_EXITING) || !(c->pin & PIN_VIRTUAL_NMIS) || BAD(PIN_BASED_CONTROLS);
}

/* "If the 'virtual NMIs' VM-execution control is 0, the 'NMI-window
 * exiting' VM-execution control must be 0." */
static bool chk_nmi_window_needs_vnmi(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return (c->pin & PIN_VIRTUAL_NMIS) || !(c->proc & PROC_NMI_WINDOW) || BAD(PROC_BASED_CONTROLS);
}

/* "If the 'virtualize APIC-accesses' VM-execution control is 1, the
 * APIC-access address must satisfy: bits 11:0 are 0; no bits beyond the
 * physical-address width." */
static bool chk_apic_access_addr(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_APIC_ACCESS) || page_ok(c, F(APIC_ACCESS_ADDR)) ||
	       BAD(APIC_ACCESS_ADDR);
}

/* "If the 'virtualize x2APIC mode' VM-execution control is 1, the
 * 'virtualize APIC accesses' VM-execution control must be 0." */
static bool chk_x2apic_vs_apic_access(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !((c->proc2 & PROC2_X2APIC) && (c->proc2 & PROC2_APIC_ACCESS)) ||
	       BAD(SECONDARY_CONTROLS);
}

/* "If the 'virtual-interrupt delivery' VM-execution control is 1, the
 * 'external-interrupt exiting' VM-execution control must be 1." */
static bool chk_vid_needs_extint_exiting(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_VID) || (c->pin & PIN_EXTINT_EXITING) || BAD(PIN_BASED_CONTROLS);
}

/* "If the 'process posted interrupts' VM-execution control is 1: the
 * 'virtual-interrupt delivery' VM-execution control is 1; the 'acknowledge
 * interrupt on exit' VM-exit control is 1." */
static bool chk_posted_intr_deps(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->pin & PIN_POSTED_INTERRUPTS))
		return true;
	if (!(c->proc2 & PROC2_VID))
		return BAD(SECONDARY_CONTROLS);
	return (c->exit & EXIT_ACK_INTERRUPT) || BAD(EXIT_CONTROLS);
}

/* "... the posted-interrupt notification vector has a value in the range
 * 0-255 (bits 15:8 are all 0)." */
static bool chk_posted_intr_vector(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->pin & PIN_POSTED_INTERRUPTS) || (F(POSTED_INTR_NV) & 0xff00) == 0 ||
	       BAD(POSTED_INTR_NV);
}

/* "... bits 5:0 of the posted-interrupt descriptor address are all 0; the
 * address does not set any bits beyond the physical-address width." */
static bool chk_posted_intr_desc(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t a = F(POSTED_INTR_DESC_ADDR);
	return !(c->pin & PIN_POSTED_INTERRUPTS) || ((a & 0x3f) == 0 && pa_ok(c, a)) ||
	       BAD(POSTED_INTR_DESC_ADDR);
}

/* "If the 'enable VPID' VM-execution control is 1, the value of the VPID
 * VM-execution control field must not be 0000H." */
static bool chk_vpid_nonzero(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_VPID) || F(VPID) != 0 || BAD(VPID);
}

/*
 * "If the 'enable EPT' VM-execution control is 1, the EPTP VM-execution
 * control field must satisfy" (EPTP format: 24.6.11):
 *   - memory type (bits 2:0) supported per IA32_VMX_EPT_VPID_CAP: 0 (UC)
 *     if bit 8, 6 (WB) if bit 14;
 */
static bool chk_eptp_memtype(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t eptp = F(EPT_POINTER), cap = c->caps->ept_vpid;
	unsigned mt = eptp & 7;

	if (!(c->proc2 & PROC2_EPT))
		return true;
	if ((mt == 0 && (cap & VMX_EPT_MT_UC)) || (mt == 6 && (cap & VMX_EPT_MT_WB)))
		return true;
	return BAD(EPT_POINTER);
}

/*   - bits 5:3 (page-walk length minus 1) supported: 3 (4-level) if cap
 *     bit 6, 4 (5-level) if cap bit 7; */
static bool chk_eptp_walk(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t eptp = F(EPT_POINTER), cap = c->caps->ept_vpid;
	unsigned wl = (eptp >> 3) & 7;

	if (!(c->proc2 & PROC2_EPT))
		return true;
	if ((wl == 3 && (cap & VMX_EPT_WALK_4)) || (wl == 4 && (cap & VMX_EPT_WALK_5)))
		return true;
	return BAD(EPT_POINTER);
}

/*   - bit 6 (enable accessed and dirty flags) is 0 if cap bit 21 is 0; */
static bool chk_eptp_ad(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->proc2 & PROC2_EPT) || !(F(EPT_POINTER) & (1u << 6)))
		return true;
	return (c->caps->ept_vpid & VMX_EPT_AD) || BAD(EPT_POINTER);
}

/*   - reserved bits 11:7 and 63:N (N = physical-address width) are 0.
 *     (Bit 7, the CET supervisor-shadow-stack control, is treated as
 *     reserved: not implemented.) */
static bool chk_eptp_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t eptp = F(EPT_POINTER);
	return !(c->proc2 & PROC2_EPT) || ((eptp & 0xf80) == 0 && pa_ok(c, eptp)) ||
	       BAD(EPT_POINTER);
}

/* "If the 'enable PML' VM-execution control is 1, the 'enable EPT'
 * VM-execution control must also be 1." */
static bool chk_pml_needs_ept(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_PML) || (c->proc2 & PROC2_EPT) || BAD(SECONDARY_CONTROLS);
}

/* "In addition, the PML address must satisfy: bits 11:0 are 0; no bits
 * beyond the physical-address width." */
static bool chk_pml_addr(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_PML) || page_ok(c, F(PML_ADDRESS)) || BAD(PML_ADDRESS);
}

/* "If the 'unrestricted guest' VM-execution control is 1, the 'enable
 * EPT' VM-execution control must also be 1." */
static bool chk_ug_needs_ept(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_UNRESTRICTED) || (c->proc2 & PROC2_EPT) ||
	       BAD(SECONDARY_CONTROLS);
}

/* "If the 'mode-based execute control for EPT' [or 'sub-page write
 * permissions for EPT'] VM-execution control is 1, the 'enable EPT'
 * VM-execution control must also be 1." */
static bool chk_ept_dependents(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & (PROC2_MBEC | PROC2_SPP)) || (c->proc2 & PROC2_EPT) ||
	       BAD(SECONDARY_CONTROLS);
}

/* "If the 'sub-page write permissions for EPT' VM-execution control is 1,
 * the SPPTP must satisfy: bits 11:0 are 0; no bits beyond the
 * physical-address width." */
static bool chk_spptp(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_SPP) || page_ok(c, F(SPPTP)) || BAD(SPPTP);
}

/* "If the 'enable VM functions' processor-based VM-execution control is 1,
 * reserved bits in the VM-function controls must be clear" (bits the
 * IA32_VMX_VMFUNC MSR reports as 0). */
static bool chk_vmfunc_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_VMFUNC) || (F(VMFUNC_CONTROLS) & ~c->caps->vmfunc) == 0 ||
	       BAD(VMFUNC_CONTROLS);
}

/* "... if 'EPTP switching' (VM-function control bit 0) is 1, the 'enable
 * EPT' VM-execution control must also be 1, and the EPTP-list address
 * must satisfy: bits 11:0 are 0; no bits beyond the physical-address
 * width." */
static bool chk_eptp_list(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->proc2 & PROC2_VMFUNC) || !(F(VMFUNC_CONTROLS) & 1))
		return true;
	if (!(c->proc2 & PROC2_EPT))
		return BAD(SECONDARY_CONTROLS);
	return page_ok(c, F(EPTP_LIST_ADDR)) || BAD(EPTP_LIST_ADDR);
}

/* "If the 'VMCS shadowing' VM-execution control is 1, the VMREAD-bitmap
 * and VMWRITE-bitmap addresses must each satisfy: bits 11:0 are 0; no bits
 * beyond the physical-address width." */
static bool chk_vmread_bitmap(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_SHADOW_VMCS) || page_ok(c, F(VMREAD_BITMAP)) || BAD(VMREAD_BITMAP);
}

static bool chk_vmwrite_bitmap(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_SHADOW_VMCS) || page_ok(c, F(VMWRITE_BITMAP)) ||
	       BAD(VMWRITE_BITMAP);
}

/* "If the 'EPT-violation #VE' VM-execution control is 1, the
 * virtualization-exception information address must satisfy: bits 11:0
 * are 0; no bits beyond the physical-address width." */
static bool chk_ve_info_addr(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->proc2 & PROC2_EPT_VE) || page_ok(c, F(VE_INFO_ADDR)) || BAD(VE_INFO_ADDR);
}

/* ================================================================
 * 26.2.1.2 "VM-Exit Control Fields"
 * ================================================================ */

/* "Reserved bits in the primary VM-exit controls must be set properly." */
static bool chk_exit_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return vmx_ctl_ok(c->caps->exit, c->exit) || BAD(EXIT_CONTROLS);
}

/* "If the 'activate secondary controls' primary VM-exit control is 1,
 * reserved bits in the secondary VM-exit controls must be cleared." */
static bool chk_exit2_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->exit & EXIT_SECONDARY))
		return true;
	return (F(SECONDARY_EXIT_CONTROLS) & ~c->caps->exit2) == 0 || BAD(SECONDARY_EXIT_CONTROLS);
}

/* "If the 'activate VMX-preemption timer' VM-execution control is 0, the
 * 'save VMX-preemption timer value' VM-exit control must also be 0." */
static bool chk_exit_save_preempt(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return (c->pin & PIN_PREEMPTION_TIMER) || !(c->exit & EXIT_SAVE_PREEMPTION) ||
	       BAD(EXIT_CONTROLS);
}

/* "If the VM-exit MSR-store count is not zero: the lower 4 bits of the
 * VM-exit MSR-store address must be 0; the address should not set any
 * bits beyond the physical-address width; the address of the last byte in
 * the area (address + count * 16 - 1) should not either." */
static bool chk_exit_msr_store(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return msr_area_ok(c, F(EXIT_MSR_STORE_ADDR), F(EXIT_MSR_STORE_COUNT)) ||
	       BAD(EXIT_MSR_STORE_ADDR);
}

/* The same for the VM-exit MSR-load area. */
static bool chk_exit_msr_load(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return msr_area_ok(c, F(EXIT_MSR_LOAD_ADDR), F(EXIT_MSR_LOAD_COUNT)) ||
	       BAD(EXIT_MSR_LOAD_ADDR);
}

/* ================================================================
 * 26.2.1.3 "VM-Entry Control Fields"
 * ================================================================ */

/* "Reserved bits in the VM-entry controls must be set properly." */
static bool chk_entry_ctls(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return vmx_ctl_ok(c->caps->entry, c->entry) || BAD(ENTRY_CONTROLS);
}

/* Event injection, if the valid bit is 1: "The field's interruption type
 * is not set to a reserved value.  Value 1 is reserved on all logical
 * processors; value 7 (other event) is reserved on logical processors
 * that do not support the 1-setting of the 'monitor trap flag'
 * VM-execution control." */
static bool chk_entry_intr_type(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->inject)
		return true;
	if (c->ev_type == EV_RESERVED)
		return BAD(ENTRY_INTR_INFO);
	if (c->ev_type == EV_OTHER && !(vmx_ctl_allowed1(c->caps->procbased) & PROC_MTF))
		return BAD(ENTRY_INTR_INFO);
	return true;
}

/* "The field's vector is consistent with the interruption type: NMI ->
 * vector 2; hardware exception -> at most 31; other event -> 0 (pending
 * MTF VM exit)." */
static bool chk_entry_intr_vector(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->inject)
		return true;
	if ((c->ev_type == EV_NMI && c->ev_vector != 2) ||
	    (c->ev_type == EV_HW_EXC && c->ev_vector > 31) ||
	    (c->ev_type == EV_OTHER && c->ev_vector != 0))
		return BAD(ENTRY_INTR_INFO);
	return true;
}

/* Exceptions that push an error code: #DF #TS #NP #SS #GP #PF #AC #CP. */
static bool exception_has_errcode(unsigned vector)
{
	return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

/* "The field's deliver-error-code bit (bit 11) is 1 if each of the
 * following holds: the interruption type is hardware exception; bit 0
 * (PE) of the CR0 field in the guest-state area is 1 [only checked if
 * 'unrestricted guest' is 1: otherwise PE is 1 anyway]; IA32_VMX_BASIC[56]
 * is 0; the vector indicates #DF, #TS, #NP, #SS, #GP, #PF, #AC or #CP.
 * It is 0 if any of: the type is not hardware exception; CR0.PE is 0;
 * IA32_VMX_BASIC[56] is 0 and the vector is any other." */
static bool chk_entry_intr_errcode_bit(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	bool deliver, prot, hw;

	if (!c->inject)
		return true;
	deliver = F(ENTRY_INTR_INFO) & INTR_DELIVER_ERRCODE;
	prot = !c->ug || (F(GUEST_CR0) & CR0_PE);
	hw = c->ev_type == EV_HW_EXC;
	if (c->caps->basic & VMX_BASIC_NO_ERRCODE_CHECK) {
		if (deliver && (!hw || !prot))
			return BAD(ENTRY_INTR_INFO);
		return true;
	}
	if (deliver != (hw && prot && exception_has_errcode(c->ev_vector)))
		return BAD(ENTRY_INTR_INFO);
	return true;
}

/* "Reserved bits in the field (30:12) are 0." */
static bool chk_entry_intr_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !c->inject || (F(ENTRY_INTR_INFO) & 0x7ffff000u) == 0 || BAD(ENTRY_INTR_INFO);
}

/* "If the deliver-error-code bit (bit 11) is 1, bits 31:16 of the
 * VM-entry exception error-code field are 0." */
static bool chk_entry_exc_errcode(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->inject || !(F(ENTRY_INTR_INFO) & INTR_DELIVER_ERRCODE))
		return true;
	return (F(ENTRY_EXCEPTION_ERROR_CODE) & 0xffff0000u) == 0 || BAD(ENTRY_EXCEPTION_ERROR_CODE);
}

/* "If the interruption type is software interrupt, software exception, or
 * privileged software exception, the VM-entry instruction-length field is
 * in the range 0-15.  A VM-entry instruction length of 0 is allowed only
 * if IA32_VMX_MISC[30] is read as 1." */
static bool chk_entry_instr_len(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t len = F(ENTRY_INSTRUCTION_LEN);

	if (!c->inject || (c->ev_type != EV_SW_INT && c->ev_type != EV_PRIV_SW_EXC &&
			   c->ev_type != EV_SW_EXC))
		return true;
	if (len > 15 || (len == 0 && !(c->caps->misc & VMX_MISC_ZERO_LEN_INJECT)))
		return BAD(ENTRY_INSTRUCTION_LEN);
	return true;
}

/* "If the VM-entry MSR-load count is not zero: the lower 4 bits of the
 * VM-entry MSR-load address must be 0; neither it nor the address of the
 * last byte of the area may set bits beyond the physical-address width." */
static bool chk_entry_msr_load(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return msr_area_ok(c, F(ENTRY_MSR_LOAD_ADDR), F(ENTRY_MSR_LOAD_COUNT)) ||
	       BAD(ENTRY_MSR_LOAD_ADDR);
}

/* "If the processor is not in SMM, the 'entry to SMM' and 'deactivate
 * dual-monitor treatment' VM-entry controls must be 0." */
static bool chk_entry_smm(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return (c->entry & (ENTRY_SMM | ENTRY_DEACT_DUAL_MON)) == 0 || BAD(ENTRY_CONTROLS);
}

/* ================================================================
 * 26.2.2 "Checks on Host Control Registers, MSRs, and SSP"
 * ================================================================ */

/* "The CR0 field must not set any bit to a value not supported in VMX
 * operation" (IA32_VMX_CR0_FIXED0/1). */
static bool chk_host_cr0(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return fixed_ok(F(HOST_CR0), c->caps->cr0_fixed0, c->caps->cr0_fixed1) || BAD(HOST_CR0);
}

/* "The CR4 field must not set any bit to a value not supported in VMX
 * operation" (IA32_VMX_CR4_FIXED0/1). */
static bool chk_host_cr4(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return fixed_ok(F(HOST_CR4), c->caps->cr4_fixed0, c->caps->cr4_fixed1) || BAD(HOST_CR4);
}

/* "The CR3 field must be such that bits 63:52 and bits in the range 51:32
 * beyond the processor's physical-address width are 0." */
static bool chk_host_cr3(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return pa_ok(c, F(HOST_CR3)) || BAD(HOST_CR3);
}

/* "The IA32_SYSENTER_ESP field and the IA32_SYSENTER_EIP field must each
 * contain a canonical address." */
static bool chk_host_sysenter(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!host_canon(c, F(HOST_IA32_SYSENTER_ESP)))
		return BAD(HOST_IA32_SYSENTER_ESP);
	return host_canon(c, F(HOST_IA32_SYSENTER_EIP)) || BAD(HOST_IA32_SYSENTER_EIP);
}

/* "If the 'load IA32_PAT' VM-exit control is 1, ... each of the 8 bytes in
 * the field must have one of the values 0 (UC), 1 (WC), 4 (WT), 5 (WP),
 * 6 (WB), or 7 (UC-)." */
static bool chk_host_pat(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->exit & EXIT_LOAD_PAT) || pat_ok(F(HOST_IA32_PAT)) || BAD(HOST_IA32_PAT);
}

/* "If the 'load IA32_EFER' VM-exit control is 1, bits reserved in the
 * IA32_EFER MSR must be 0 in the field for that register." */
static bool chk_host_efer_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->exit & EXIT_LOAD_EFER) || (F(HOST_IA32_EFER) & ~EFER_DEFINED) == 0 ||
	       BAD(HOST_IA32_EFER);
}

/* "In addition, the values of the LMA and LME bits in the field must each
 * be that of the 'host address-space size' VM-exit control." */
static bool chk_host_efer_lma_lme(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t efer = F(HOST_IA32_EFER);
	bool ass = c->exit & EXIT_HOST_ADDR_SPACE;

	if (!(c->exit & EXIT_LOAD_EFER))
		return true;
	if (!!(efer & EFER_LMA) != ass || !!(efer & EFER_LME) != ass)
		return BAD(HOST_IA32_EFER);
	return true;
}

/* "If the 'load PKRS' VM-exit control is 1, bits 63:32 of the IA32_PKRS
 * field must be 0." */
static bool chk_host_pkrs(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->exit & EXIT_LOAD_PKRS) || (F(HOST_IA32_PKRS) >> 32) == 0 || BAD(HOST_IA32_PKRS);
}

/* ================================================================
 * 26.2.3 "Checks on Host Segment and Descriptor-Table Registers"
 * ================================================================ */

/* "In the selector field for each of CS, SS, DS, ES, FS, GS and TR, the
 * RPL (bits 1:0) and the TI flag (bit 2) must be 0." */
static bool chk_host_sel_rpl_ti(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const unsigned idx[] = {
		VMCS_IDX_HOST_ES_SELECTOR, VMCS_IDX_HOST_CS_SELECTOR, VMCS_IDX_HOST_SS_SELECTOR,
		VMCS_IDX_HOST_DS_SELECTOR, VMCS_IDX_HOST_FS_SELECTOR, VMCS_IDX_HOST_GS_SELECTOR,
		VMCS_IDX_HOST_TR_SELECTOR,
	};
	for (unsigned i = 0; i < sizeof idx / sizeof idx[0]; i++)
		if (rd(c, idx[i]) & 7)
			return bad_field(bad, vmcs_field_table[idx[i]].encoding, rd(c, idx[i]));
	return true;
}

/* "The selector fields for CS and TR cannot be 0000H." */
static bool chk_host_cs_nonzero(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return F(HOST_CS_SELECTOR) != 0 || BAD(HOST_CS_SELECTOR);
}

static bool chk_host_tr_nonzero(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return F(HOST_TR_SELECTOR) != 0 || BAD(HOST_TR_SELECTOR);
}

/* "The base-address fields for FS, GS, GDTR, IDTR, and TR must contain
 * canonical addresses." */
static bool chk_host_bases(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const unsigned idx[] = {
		VMCS_IDX_HOST_FS_BASE, VMCS_IDX_HOST_GS_BASE, VMCS_IDX_HOST_GDTR_BASE,
		VMCS_IDX_HOST_IDTR_BASE, VMCS_IDX_HOST_TR_BASE,
	};
	for (unsigned i = 0; i < sizeof idx / sizeof idx[0]; i++)
		if (!host_canon(c, rd(c, idx[i])))
			return bad_field(bad, vmcs_field_table[idx[i]].encoding, rd(c, idx[i]));
	return true;
}

/* ================================================================
 * 26.2.4 "Checks Related to Address-Space Size"
 * ================================================================ */

/* "If the logical processor is in IA-32e mode (if IA32_EFER.LMA = 1) at
 * the time of VM entry, the 'host address-space size' VM-exit control
 * must be 1."  (VMLAUNCH is assumed to run in 64-bit mode.) */
static bool chk_host_addr_space(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return (c->exit & EXIT_HOST_ADDR_SPACE) || BAD(EXIT_CONTROLS);
}

/* "If the 'host address-space size' VM-exit control is 1: bit 5 of the
 * CR4 field (corresponding to CR4.PAE) is 1; */
static bool chk_host_cr4_pae(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->exit & EXIT_HOST_ADDR_SPACE) || (F(HOST_CR4) & CR4_PAE) || BAD(HOST_CR4);
}

/*  ... the RIP field contains a canonical address." */
static bool chk_host_rip(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->exit & EXIT_HOST_ADDR_SPACE) || host_canon(c, F(HOST_RIP)) || BAD(HOST_RIP);
}

/* ================================================================
 * 26.3.1.1 "Checks on Guest Control Registers, Debug Registers, and MSRs"
 * ================================================================ */

/* "The CR0 field must not set any bit to a value not supported in VMX
 * operation, with two exceptions: PE (bit 0) and PG (bit 31) are not
 * checked if the 'unrestricted guest' VM-execution control is 1." */
static bool chk_guest_cr0(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t fixed0 = c->caps->cr0_fixed0;

	if (c->ug)
		fixed0 &= ~(CR0_PE | CR0_PG);
	return fixed_ok(F(GUEST_CR0), fixed0, c->caps->cr0_fixed1) || BAD(GUEST_CR0);
}

/* "If bit 31 in the CR0 field (corresponding to PG) is 1, bit 0 in that
 * field (PE) must also be 1." */
static bool chk_guest_cr0_pg_pe(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t cr0 = F(GUEST_CR0);
	return !(cr0 & CR0_PG) || (cr0 & CR0_PE) || BAD(GUEST_CR0);
}

/* "The CR4 field must not set any bit to a value not supported in VMX
 * operation." */
static bool chk_guest_cr4(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return fixed_ok(F(GUEST_CR4), c->caps->cr4_fixed0, c->caps->cr4_fixed1) || BAD(GUEST_CR4);
}

/* "If bit 23 in the CR4 field (corresponding to CET) is 1, bit 16 in the
 * CR0 field (WP) must also be 1." */
static bool chk_guest_cr4_cet_wp(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(F(GUEST_CR4) & CR4_CET) || (F(GUEST_CR0) & CR0_WP) || BAD(GUEST_CR4);
}

/* "If the 'load debug controls' VM-entry control is 1, bits reserved in
 * the IA32_DEBUGCTL MSR must be 0 in the field for that register." */
static bool chk_guest_debugctl(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->entry & ENTRY_LOAD_DEBUG) || (F(GUEST_IA32_DEBUGCTL) & ~DEBUGCTL_DEFINED) == 0 ||
	       BAD(GUEST_IA32_DEBUGCTL);
}

/* "If the 'IA-32e mode guest' VM-entry control is 1, bit 31 in the CR0
 * field (PG) and bit 5 in the CR4 field (PAE) must each be 1." */
static bool chk_guest_ia32e_pg_pae(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->ia32e)
		return true;
	if (!(F(GUEST_CR0) & CR0_PG))
		return BAD(GUEST_CR0);
	return (F(GUEST_CR4) & CR4_PAE) || BAD(GUEST_CR4);
}

/* "If the 'IA-32e mode guest' VM-entry control is 0, bit 17 in the CR4
 * field (PCIDE) must be 0." */
static bool chk_guest_pcide(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return c->ia32e || !(F(GUEST_CR4) & CR4_PCIDE) || BAD(GUEST_CR4);
}

/* "The CR3 field must be such that bits 63:52 and bits in the range 51:32
 * beyond the processor's physical-address width are 0." */
static bool chk_guest_cr3(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return pa_ok(c, F(GUEST_CR3)) || BAD(GUEST_CR3);
}

/* "If the 'load debug controls' VM-entry control is 1, bits 63:32 in the
 * DR7 field must be 0." */
static bool chk_guest_dr7(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->entry & ENTRY_LOAD_DEBUG) || (F(GUEST_DR7) >> 32) == 0 || BAD(GUEST_DR7);
}

/* "The IA32_SYSENTER_ESP field and the IA32_SYSENTER_EIP field must each
 * contain a canonical address." */
static bool chk_guest_sysenter(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!guest_canon(c, F(GUEST_IA32_SYSENTER_ESP)))
		return BAD(GUEST_IA32_SYSENTER_ESP);
	return guest_canon(c, F(GUEST_IA32_SYSENTER_EIP)) || BAD(GUEST_IA32_SYSENTER_EIP);
}

/* "If the 'load IA32_PAT' VM-entry control is 1, the value of the field
 * for the IA32_PAT MSR must be one that could be written by WRMSR without
 * fault at CPL 0." */
static bool chk_guest_pat(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->entry & ENTRY_LOAD_PAT) || pat_ok(F(GUEST_IA32_PAT)) || BAD(GUEST_IA32_PAT);
}

/* "If the 'load IA32_EFER' VM-entry control is 1: bits reserved in the
 * IA32_EFER MSR must be 0; */
static bool chk_guest_efer_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->entry & ENTRY_LOAD_EFER) || (F(GUEST_IA32_EFER) & ~EFER_DEFINED) == 0 ||
	       BAD(GUEST_IA32_EFER);
}

/*  bit 10 (LMA) must equal the 'IA-32e mode guest' VM-entry control; */
static bool chk_guest_efer_lma(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->entry & ENTRY_LOAD_EFER) || !!(F(GUEST_IA32_EFER) & EFER_LMA) == c->ia32e ||
	       BAD(GUEST_IA32_EFER);
}

/*  it must also be identical to bit 8 (LME) if bit 31 in the CR0 field
 * (PG) is 1." */
static bool chk_guest_efer_lme(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->entry & ENTRY_LOAD_EFER) || !(F(GUEST_CR0) & CR0_PG))
		return true;
	return !!(F(GUEST_IA32_EFER) & EFER_LME) == c->ia32e || BAD(GUEST_IA32_EFER);
}

/* "If the 'load IA32_BNDCFGS' VM-entry control is 1: reserved bits (11:2)
 * must be 0 and the linear address in bits 63:12 must be canonical." */
static bool chk_guest_bndcfgs(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t v = F(GUEST_IA32_BNDCFGS);
	return !(c->entry & ENTRY_LOAD_BNDCFGS) ||
	       ((v & 0xffc) == 0 && guest_canon(c, v & ~0xfffull)) || BAD(GUEST_IA32_BNDCFGS);
}

/* "If the 'load PKRS' VM-entry control is 1, bits 63:32 of the IA32_PKRS
 * field must be 0." */
static bool chk_guest_pkrs(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->entry & ENTRY_LOAD_PKRS) || (F(GUEST_IA32_PKRS) >> 32) == 0 ||
	       BAD(GUEST_IA32_PKRS);
}

/* ================================================================
 * 26.3.1.2 "Checks on Guest Segment Registers"
 *   virtual-8086: RFLAGS.VM = 1; IA-32e mode: the entry control;
 *   usable: bit 16 of the access rights is 0.
 * ================================================================ */

/* Selector fields: "TR. The TI flag (bit 2) must be 0." */
static bool chk_guest_tr_ti(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(seg_sel(c, SEG_TR) & 4) || bad_sel(bad, c, SEG_TR);
}

/* "LDTR. If LDTR is usable, the TI flag (bit 2) must be 0." */
static bool chk_guest_ldtr_ti(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !seg_usable(c, SEG_LDTR) || !(seg_sel(c, SEG_LDTR) & 4) || bad_sel(bad, c, SEG_LDTR);
}

/* "SS. If the guest will not be virtual-8086 and the 'unrestricted guest'
 * VM-execution control is 0, the RPL (bits 1:0) must equal the RPL of the
 * selector field for CS." */
static bool chk_guest_ss_rpl(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (c->v86 || c->ug)
		return true;
	return (seg_sel(c, SEG_SS) & 3) == (seg_sel(c, SEG_CS) & 3) || bad_sel(bad, c, SEG_SS);
}

/* Base-address fields: "CS, SS, DS, ES, FS, GS. If the guest will be
 * virtual-8086, the address must be the selector field shifted left 4
 * bits (multiplied by 16)." */
static bool chk_guest_v86_base(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++)
		if (seg_base(c, s) != seg_sel(c, s) << 4)
			return bad_base(bad, c, s);
	return true;
}

/* Limit fields: "CS, SS, DS, ES, FS, GS. If the guest will be
 * virtual-8086, the field must be 0000FFFFH." */
static bool chk_guest_v86_limit(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++)
		if (seg_limit(c, s) != 0xffff)
			return bad_limit(bad, c, s);
	return true;
}

/* Access-rights fields: "CS, SS, DS, ES, FS, GS. If the guest will be
 * virtual-8086, the field must be 000000F3H" (type 3, S, DPL 3, P). */
static bool chk_guest_v86_ar(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++)
		if (seg_ar(c, s) != 0xf3)
			return bad_ar(bad, c, s);
	return true;
}

/* "TR, FS, GS. The address must be canonical.  LDTR. If LDTR is usable,
 * the address must be canonical." */
static bool chk_guest_base_canonical(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const unsigned segs[] = { SEG_TR, SEG_FS, SEG_GS, SEG_LDTR };
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = segs[i];
		if (s == SEG_LDTR && !seg_usable(c, s))
			continue;
		if (!guest_canon(c, seg_base(c, s)))
			return bad_base(bad, c, s);
	}
	return true;
}

/* "CS. Bits 63:32 of the address must be zero.  SS, DS, ES. If the
 * register is usable, bits 63:32 of the address must be zero." */
static bool chk_guest_base_high(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const unsigned segs[] = { SEG_CS, SEG_SS, SEG_DS, SEG_ES };
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = segs[i];
		if (s != SEG_CS && !seg_usable(c, s))
			continue;
		if (seg_base(c, s) >> 32)
			return bad_base(bad, c, s);
	}
	return true;
}

/* The remaining access-rights checks apply only if the guest will not be
 * virtual-8086; they consider the sub-fields separately.
 *
 * Type, CS: "If 'unrestricted guest' is 0, the Type must be 9, 11, 13, or
 * 15 (accessed code segment).  If it is 1, the Type must be either 3
 * (read/write accessed expand-up data segment) or one of 9, 11, 13, 15." */
static bool chk_guest_cs_type(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	unsigned t = AR_TYPE(seg_ar(c, SEG_CS));

	if (c->v86)
		return true;
	if (t == 9 || t == 11 || t == 13 || t == 15 || (c->ug && t == 3))
		return true;
	return bad_ar(bad, c, SEG_CS);
}

/* "SS. If SS is usable, the Type must be 3 or 7 (read/write, accessed data
 * segment)." */
static bool chk_guest_ss_type(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	unsigned t = AR_TYPE(seg_ar(c, SEG_SS));

	if (c->v86 || !seg_usable(c, SEG_SS))
		return true;
	return t == 3 || t == 7 || bad_ar(bad, c, SEG_SS);
}

/* "DS, ES, FS, GS. If the register is usable: bit 0 of the Type must be 1
 * (accessed); if bit 3 of the Type is 1 (code segment), then bit 1 of the
 * Type must be 1 (readable)." */
static bool chk_guest_data_type(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const unsigned segs[] = { SEG_DS, SEG_ES, SEG_FS, SEG_GS };

	if (c->v86)
		return true;
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = segs[i], t = AR_TYPE(seg_ar(c, s));
		if (!seg_usable(c, s))
			continue;
		if (!(t & 1) || ((t & 8) && !(t & 2)))
			return bad_ar(bad, c, s);
	}
	return true;
}

/* "Bit 4 (S). If the register is CS or if the register is usable, S must
 * be 1." */
static bool chk_guest_seg_s(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++) {
		if (s != SEG_CS && !seg_usable(c, s))
			continue;
		if (!(seg_ar(c, s) & AR_S))
			return bad_ar(bad, c, s);
	}
	return true;
}

/* "Bits 6:5 (DPL). CS. If the Type is 3 (possible only with unrestricted
 * guest), the DPL must be 0.  If the Type is 9 or 11 (non-conforming code
 * segment), the DPL must equal the DPL in the access-rights field for SS.
 * If the Type is 13 or 15 (conforming code segment), the DPL cannot be
 * greater than the DPL in the access-rights field for SS." */
static bool chk_guest_cs_dpl(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint32_t cs = seg_ar(c, SEG_CS);
	unsigned t = AR_TYPE(cs), dpl = AR_DPL(cs), ss_dpl = AR_DPL(seg_ar(c, SEG_SS));

	if (c->v86)
		return true;
	if ((t == 3 && dpl != 0) || ((t == 9 || t == 11) && dpl != ss_dpl) ||
	    ((t == 13 || t == 15) && dpl > ss_dpl))
		return bad_ar(bad, c, SEG_CS);
	return true;
}

/* "SS. If 'unrestricted guest' is 0, the DPL must equal the RPL from the
 * selector field.  The DPL must be 0 either if the Type in the
 * access-rights field for CS is 3 or if bit 0 in the CR0 field (PE) is 0." */
static bool chk_guest_ss_dpl(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	unsigned dpl = AR_DPL(seg_ar(c, SEG_SS));

	if (c->v86)
		return true;
	if (!c->ug && dpl != (seg_sel(c, SEG_SS) & 3))
		return bad_ar(bad, c, SEG_SS);
	if ((AR_TYPE(seg_ar(c, SEG_CS)) == 3 || !(F(GUEST_CR0) & CR0_PE)) && dpl != 0)
		return bad_ar(bad, c, SEG_SS);
	return true;
}

/* "DS, ES, FS, GS. The DPL cannot be less than the RPL in the selector
 * field if (1) 'unrestricted guest' is 0; (2) the register is usable; and
 * (3) the Type is in the range 0-11 (data segment or non-conforming code
 * segment)." */
static bool chk_guest_data_dpl(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const unsigned segs[] = { SEG_DS, SEG_ES, SEG_FS, SEG_GS };

	if (c->v86 || c->ug)
		return true;
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = segs[i];
		uint32_t ar = seg_ar(c, s);
		if (!seg_usable(c, s) || AR_TYPE(ar) > 11)
			continue;
		if (AR_DPL(ar) < (seg_sel(c, s) & 3))
			return bad_ar(bad, c, s);
	}
	return true;
}

/* "Bit 7 (P). If the register is CS or if the register is usable, P must
 * be 1." */
static bool chk_guest_seg_p(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++) {
		if (s != SEG_CS && !seg_usable(c, s))
			continue;
		if (!(seg_ar(c, s) & AR_P))
			return bad_ar(bad, c, s);
	}
	return true;
}

/* "Bits 11:8 (reserved) [and] bits 31:17 (reserved). If the register is
 * CS or if the register is usable, these bits must all be 0." */
static bool chk_guest_seg_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++) {
		if (s != SEG_CS && !seg_usable(c, s))
			continue;
		if (seg_ar(c, s) & AR_RESERVED)
			return bad_ar(bad, c, s);
	}
	return true;
}

/* "Bit 14 (D/B). For CS, D/B must be 0 if the guest will be IA-32e mode
 * and the L bit (bit 13) in the access-rights field is 1." */
static bool chk_guest_cs_l_d(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint32_t cs = seg_ar(c, SEG_CS);
	return c->v86 || !c->ia32e || !(cs & AR_L) || !(cs & AR_DB) || bad_ar(bad, c, SEG_CS);
}

/* "Bit 15 (G). If the register is CS or if the register is usable: if any
 * bit in the limit field in the range 11:0 is 0, G must be 0; if any bit
 * in the limit field in the range 31:20 is 1, G must be 1." */
static bool chk_guest_seg_limit_g(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (c->v86)
		return true;
	for (unsigned s = SEG_ES; s <= SEG_GS; s++) {
		if (s != SEG_CS && !seg_usable(c, s))
			continue;
		if (!limit_g_ok(seg_limit(c, s), seg_ar(c, s)))
			return bad_ar(bad, c, s);
	}
	return true;
}

/* "TR. Bits 3:0 (Type): if the guest will not be IA-32e mode, the Type
 * must be 3 (16-bit busy TSS) or 11 (32-bit busy TSS); if the guest will
 * be IA-32e mode, the Type must be 11 (64-bit busy TSS)." */
static bool chk_guest_tr_type(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	unsigned t = AR_TYPE(seg_ar(c, SEG_TR));
	return t == 11 || (!c->ia32e && t == 3) || bad_ar(bad, c, SEG_TR);
}

/* "TR. Bit 4 (S) must be 0.  Bit 7 (P) must be 1.  Bits 11:8 and 31:17
 * (reserved) must be 0.  Bit 16 (unusable) must be 0." */
static bool chk_guest_tr_ar(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint32_t ar = seg_ar(c, SEG_TR);
	return (!(ar & AR_S) && (ar & AR_P) && !(ar & AR_RESERVED) && !(ar & AR_UNUSABLE)) ||
	       bad_ar(bad, c, SEG_TR);
}

/* "TR. Bit 15 (G)": the limit/granularity rule. */
static bool chk_guest_tr_limit_g(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return limit_g_ok(seg_limit(c, SEG_TR), seg_ar(c, SEG_TR)) || bad_ar(bad, c, SEG_TR);
}

/* "LDTR. If LDTR is usable: the Type must be 2 (LDT); S must be 0; P must
 * be 1; bits 11:8 and 31:17 (reserved) must be 0." */
static bool chk_guest_ldtr_ar(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint32_t ar = seg_ar(c, SEG_LDTR);

	if (!seg_usable(c, SEG_LDTR))
		return true;
	return (AR_TYPE(ar) == 2 && !(ar & AR_S) && (ar & AR_P) && !(ar & AR_RESERVED)) ||
	       bad_ar(bad, c, SEG_LDTR);
}

/* "LDTR. Bit 15 (G)": the limit/granularity rule, if usable. */
static bool chk_guest_ldtr_limit_g(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !seg_usable(c, SEG_LDTR) ||
	       limit_g_ok(seg_limit(c, SEG_LDTR), seg_ar(c, SEG_LDTR)) || bad_ar(bad, c, SEG_LDTR);
}

/* ================================================================
 * 26.3.1.3 "Checks on Guest Descriptor-Table Registers"
 * ================================================================ */

/* "The base-address fields must contain canonical addresses." */
static bool chk_guest_dtr_base(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!guest_canon(c, F(GUEST_GDTR_BASE)))
		return BAD(GUEST_GDTR_BASE);
	return guest_canon(c, F(GUEST_IDTR_BASE)) || BAD(GUEST_IDTR_BASE);
}

/* "Bits 31:16 of each limit field must be 0." */
static bool chk_guest_dtr_limit(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (F(GUEST_GDTR_LIMIT) >> 16)
		return BAD(GUEST_GDTR_LIMIT);
	return (F(GUEST_IDTR_LIMIT) >> 16) == 0 || BAD(GUEST_IDTR_LIMIT);
}

/* ================================================================
 * 26.3.1.4 "Checks on Guest RIP, RFLAGS, and SSP"
 * ================================================================ */

static bool guest_64bit_code(const struct vmx_check_ctx *c)
{
	return c->ia32e && (seg_ar(c, SEG_CS) & AR_L);
}

/* "Bits 63:32 must be 0 if the 'IA-32e mode guest' VM-entry control is 0
 * or if the L bit (bit 13) in the access-rights field for CS is 0." */
static bool chk_guest_rip_high(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return guest_64bit_code(c) || (F(GUEST_RIP) >> 32) == 0 || BAD(GUEST_RIP);
}

/* "If the processor supports N < 64 linear-address bits, bits 63:N must
 * be identical if the 'IA-32e mode guest' VM-entry control is 1 and the L
 * bit in the access-rights field for CS is 1." */
static bool chk_guest_rip_canonical(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !guest_64bit_code(c) || guest_canon(c, F(GUEST_RIP)) || BAD(GUEST_RIP);
}

/* "Reserved bits 63:22, bit 15, bit 5 and bit 3 must be 0 in the field,
 * and reserved bit 1 must be 1." */
static bool chk_guest_rflags_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t f = F(GUEST_RFLAGS);
	uint64_t must0 = ~0x3fffffull | (1u << 15) | (1u << 5) | (1u << 3);
	return ((f & must0) == 0 && (f & 2)) || BAD(GUEST_RFLAGS);
}

/* "The VM flag (bit 17) must be 0 either if the 'IA-32e mode guest'
 * VM-entry control is 1 or if bit 0 in the CR0 field (PE) is 0." */
static bool chk_guest_rflags_vm(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(F(GUEST_RFLAGS) & RFLAGS_VM))
		return true;
	return (!c->ia32e && (F(GUEST_CR0) & CR0_PE)) || BAD(GUEST_RFLAGS);
}

/* "The IF flag (bit 9) must be 1 if the valid bit in the VM-entry
 * interruption-information field is 1 and the interruption type is
 * external interrupt." */
static bool chk_guest_rflags_if(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->inject && c->ev_type == EV_EXTINT) || (F(GUEST_RFLAGS) & RFLAGS_IF) ||
	       BAD(GUEST_RFLAGS);
}

/* ================================================================
 * 26.3.1.5 "Checks on Guest Non-Register State"
 * ================================================================ */

/* "The activity-state field must contain a value in the range 0-3,
 * indicating an activity state supported by the implementation"
 * (IA32_VMX_MISC bits 6, 7, 8 for HLT, shutdown, wait-for-SIPI). */
static bool chk_guest_activity(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	static const uint64_t need[4] = { 0, VMX_MISC_ACT_HLT, VMX_MISC_ACT_SHUTDOWN,
					  VMX_MISC_ACT_WAIT_SIPI };
	uint64_t a = F(GUEST_ACTIVITY_STATE);

	if (a > ACT_WAIT_SIPI || (need[a] && !(c->caps->misc & need[a])))
		return BAD(GUEST_ACTIVITY_STATE);
	return true;
}

/* "The activity-state field must not indicate the HLT state if the DPL
 * (bits 6:5) in the access-rights field for SS is not 0." */
static bool chk_guest_activity_hlt_dpl(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return F(GUEST_ACTIVITY_STATE) != ACT_HLT || AR_DPL(seg_ar(c, SEG_SS)) == 0 ||
	       BAD(GUEST_ACTIVITY_STATE);
}

/* "The activity-state field must indicate the active state if the
 * interruptibility-state field indicates blocking by either MOV-SS or by
 * STI (if either bit 0 or bit 1 in that field is 1)." */
static bool chk_guest_activity_blocking(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(F(GUEST_INTERRUPTIBILITY) & (BLOCK_STI | BLOCK_MOV_SS)) ||
	       F(GUEST_ACTIVITY_STATE) == ACT_ACTIVE || BAD(GUEST_ACTIVITY_STATE);
}

/* "If the valid bit in the VM-entry interruption-information field is 1,
 * the interruption to be delivered must not be one that would normally be
 * blocked while a logical processor is in the activity state":
 *   HLT: external interrupts, NMIs, #DB (hardware exception vector 1),
 *        #MC (vector 18), and other event vector 0 (pending MTF) only;
 *   shutdown: NMIs and machine checks only;  wait-for-SIPI: nothing. */
static bool chk_guest_activity_event(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t a = F(GUEST_ACTIVITY_STATE);
	unsigned t = c->ev_type, v = c->ev_vector;
	bool ok;

	if (!c->inject || a == ACT_ACTIVE || a > ACT_WAIT_SIPI)
		return true;
	if (a == ACT_HLT)
		ok = t == EV_EXTINT || t == EV_NMI || (t == EV_HW_EXC && (v == 1 || v == 18)) ||
		     (t == EV_OTHER && v == 0);
	else if (a == ACT_SHUTDOWN)
		ok = t == EV_NMI || (t == EV_HW_EXC && v == 18);
	else
		ok = false;
	return ok || BAD(ENTRY_INTR_INFO);
}

/* Interruptibility state: "The reserved bits (bits 31:5) must be 0." */
static bool chk_guest_intr_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return (F(GUEST_INTERRUPTIBILITY) & ~0x1full) == 0 || BAD(GUEST_INTERRUPTIBILITY);
}

/* "The field cannot indicate blocking by both STI and MOV SS (bits 0 and
 * 1 cannot both be 1)." */
static bool chk_guest_intr_sti_movss(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t i = F(GUEST_INTERRUPTIBILITY);
	return (i & (BLOCK_STI | BLOCK_MOV_SS)) != (BLOCK_STI | BLOCK_MOV_SS) ||
	       BAD(GUEST_INTERRUPTIBILITY);
}

/* "Bit 0 (blocking by STI) must be 0 if the IF flag (bit 9) is 0 in the
 * RFLAGS field." */
static bool chk_guest_intr_sti_if(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(F(GUEST_INTERRUPTIBILITY) & BLOCK_STI) || (F(GUEST_RFLAGS) & RFLAGS_IF) ||
	       BAD(GUEST_INTERRUPTIBILITY);
}

/* "Bit 0 (blocking by STI) and bit 1 (blocking by MOV-SS) must both be 0
 * if the valid bit in the VM-entry interruption-information field is 1 and
 * the interruption type is 0, indicating external interrupt." */
static bool chk_guest_intr_extint(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->inject && c->ev_type == EV_EXTINT) ||
	       !(F(GUEST_INTERRUPTIBILITY) & (BLOCK_STI | BLOCK_MOV_SS)) || BAD(GUEST_INTERRUPTIBILITY);
}

/* "Bit 1 (blocking by MOV-SS) must be 0 if the valid bit is 1 and the
 * interruption type is 2, indicating NMI." */
static bool chk_guest_intr_nmi_movss(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->inject && c->ev_type == EV_NMI) || !(F(GUEST_INTERRUPTIBILITY) & BLOCK_MOV_SS) ||
	       BAD(GUEST_INTERRUPTIBILITY);
}

/* "A processor may require bit 0 (blocking by STI) to be 0 if the valid
 * bit is 1 and the interruption type is 2, indicating NMI.  Other
 * processors may not make this requirement."  Nestor requires it (as
 * Bochs does); the exit qualification of this failure is 3. */
static bool chk_guest_intr_nmi_sti(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(c->inject && c->ev_type == EV_NMI) || !(F(GUEST_INTERRUPTIBILITY) & BLOCK_STI) ||
	       BAD(GUEST_INTERRUPTIBILITY);
}

/* "Bit 2 (blocking by SMI) must be 0 if the processor is not in SMM." */
static bool chk_guest_intr_smi(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !(F(GUEST_INTERRUPTIBILITY) & BLOCK_SMI) || BAD(GUEST_INTERRUPTIBILITY);
}

/* "Bit 3 (blocking by NMI) must be 0 if the 'virtual NMIs' VM-execution
 * control is 1, the valid bit is 1, and the interruption type is 2
 * (indicating NMI)." */
static bool chk_guest_intr_vnmi(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	return !((c->pin & PIN_VIRTUAL_NMIS) && c->inject && c->ev_type == EV_NMI) ||
	       !(F(GUEST_INTERRUPTIBILITY) & BLOCK_NMI) || BAD(GUEST_INTERRUPTIBILITY);
}

/* Pending debug exceptions: "Bits 11:4, bit 13, bit 15, and bits 63:17
 * must be 0." */
static bool chk_guest_pending_dbg_reserved(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t must0 = 0xff0ull | (1u << 13) | (1u << 15) | ~0x1ffffull;
	return (F(GUEST_PENDING_DBG_EXCEPTIONS) & must0) == 0 || BAD(GUEST_PENDING_DBG_EXCEPTIONS);
}

/* "The following checks are performed if any of the following holds: the
 * interruptibility-state field indicates blocking by STI; it indicates
 * blocking by MOV SS; or the activity-state field indicates HLT:
 *   bit 14 (BS) must be 1 if the TF flag (bit 8) in the RFLAGS field is 1
 *   and the BTF flag (bit 1) in the IA32_DEBUGCTL field is 0;
 *   bit 14 (BS) must be 0 if the TF flag is 0 or the BTF flag is 1." */
static bool chk_guest_pending_dbg_bs(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	bool tf = F(GUEST_RFLAGS) & RFLAGS_TF;
	bool btf = F(GUEST_IA32_DEBUGCTL) & DEBUGCTL_BTF;
	bool bs = F(GUEST_PENDING_DBG_EXCEPTIONS) & (1u << 14);

	if (!(F(GUEST_INTERRUPTIBILITY) & (BLOCK_STI | BLOCK_MOV_SS)) &&
	    F(GUEST_ACTIVITY_STATE) != ACT_HLT)
		return true;
	return bs == (tf && !btf) || BAD(GUEST_PENDING_DBG_EXCEPTIONS);
}

/* VMCS link pointer: "If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH:
 * bits 11:0 must be 0; it must not set any bits beyond the processor's
 * physical-address width; [the 4 bytes at the pointer must hold the VMCS
 * revision identifier and the shadow-VMCS indicator must equal the 'VMCS
 * shadowing' control - needs memory: not implemented here]."  A failure
 * is reported with exit qualification 4. */
static bool chk_guest_link_pointer(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	uint64_t lp = F(VMCS_LINK_POINTER);
	return lp == ~0ull || page_ok(c, lp) || BAD(VMCS_LINK_POINTER);
}

/* ================================================================
 * 26.3.1.6 "Checks on Guest Page-Directory-Pointer-Table Entries"
 * ================================================================ */

/* "If CR0.PG = 1, CR4.PAE = 1, and IA32_EFER.LMA = 0 [the 'IA-32e mode
 * guest' control is 0], the logical processor uses PAE paging.  If the
 * 'enable EPT' VM-execution control is 1, the PDPTEs are taken from the
 * guest-state area: for each present PDPTE (bit 0 = 1), reserved bits
 * (2:1, 8:5, and 63:MAXPHYADDR) must be 0."  Exit qualification 2. */
static bool chk_guest_pdpte(const struct vmx_check_ctx *c, struct vmx_check_bad *bad)
{
	if (!(c->proc2 & PROC2_EPT) || !(F(GUEST_CR0) & CR0_PG) || !(F(GUEST_CR4) & CR4_PAE) ||
	    c->ia32e)
		return true;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t e = rd(c, VMCS_IDX_GUEST_PDPTE0 + i);
		if ((e & 1) && ((e & 0x1e6) || !pa_ok(c, e)))
			return bad_field(bad, VMCS_GUEST_PDPTE0 + 2 * i, e);
	}
	return true;
}

/* ================================================================
 * The table
 * ================================================================ */

#define ROW(id_, cls_, qual_, ref_, name_, fn_) \
	[VMX_CHK_##id_] = { VMX_CHK_##id_, VMX_CHECK_##cls_, qual_, ref_, name_, fn_ }

const struct vmx_check vmx_check_table[VMX_CHECK_COUNT] = {
	ROW(PIN_CTLS, CONTROL, 0, "26.2.1.1", "pin-based controls allowed by capability", chk_pin_ctls),
	ROW(PROC_CTLS, CONTROL, 0, "26.2.1.1", "primary processor-based controls allowed by capability", chk_proc_ctls),
	ROW(PROC2_CTLS, CONTROL, 0, "26.2.1.1", "secondary processor-based controls allowed by capability", chk_proc2_ctls),
	ROW(PROC3_CTLS, CONTROL, 0, "26.2.1.1", "tertiary processor-based controls allowed by capability", chk_proc3_ctls),
	ROW(CR3_TARGET_COUNT, CONTROL, 0, "26.2.1.1", "CR3-target count within IA32_VMX_MISC", chk_cr3_target_count),
	ROW(IO_BITMAP_A, CONTROL, 0, "26.2.1.1", "I/O bitmap A address aligned and within MAXPHYADDR", chk_io_bitmap_a),
	ROW(IO_BITMAP_B, CONTROL, 0, "26.2.1.1", "I/O bitmap B address aligned and within MAXPHYADDR", chk_io_bitmap_b),
	ROW(MSR_BITMAP, CONTROL, 0, "26.2.1.1", "MSR bitmap address aligned and within MAXPHYADDR", chk_msr_bitmap),
	ROW(VIRTUAL_APIC_ADDR, CONTROL, 0, "26.2.1.1", "virtual-APIC address aligned and within MAXPHYADDR", chk_virtual_apic_addr),
	ROW(TPR_THRESHOLD, CONTROL, 0, "26.2.1.1", "TPR threshold bits 31:4 zero", chk_tpr_threshold),
	ROW(NO_TPR_SHADOW_APICV, CONTROL, 0, "26.2.1.1", "x2APIC/APIC-register virtualization/VID need TPR shadow", chk_no_tpr_shadow_apicv),
	ROW(VNMI_NEEDS_NMI_EXITING, CONTROL, 0, "26.2.1.1", "virtual NMIs need NMI exiting", chk_vnmi_needs_nmi_exiting),
	ROW(NMI_WINDOW_NEEDS_VNMI, CONTROL, 0, "26.2.1.1", "NMI-window exiting needs virtual NMIs", chk_nmi_window_needs_vnmi),
	ROW(APIC_ACCESS_ADDR, CONTROL, 0, "26.2.1.1", "APIC-access address aligned and within MAXPHYADDR", chk_apic_access_addr),
	ROW(X2APIC_VS_APIC_ACCESS, CONTROL, 0, "26.2.1.1", "virtualize x2APIC mode excludes virtualize APIC accesses", chk_x2apic_vs_apic_access),
	ROW(VID_NEEDS_EXTINT_EXITING, CONTROL, 0, "26.2.1.1", "virtual-interrupt delivery needs external-interrupt exiting", chk_vid_needs_extint_exiting),
	ROW(POSTED_INTR_DEPS, CONTROL, 0, "26.2.1.1", "posted interrupts need VID and acknowledge-on-exit", chk_posted_intr_deps),
	ROW(POSTED_INTR_VECTOR, CONTROL, 0, "26.2.1.1", "posted-interrupt notification vector below 256", chk_posted_intr_vector),
	ROW(POSTED_INTR_DESC, CONTROL, 0, "26.2.1.1", "posted-interrupt descriptor 64-byte aligned, within MAXPHYADDR", chk_posted_intr_desc),
	ROW(VPID_NONZERO, CONTROL, 0, "26.2.1.1", "VPID not 0 when enabled", chk_vpid_nonzero),
	ROW(EPTP_MEMTYPE, CONTROL, 0, "26.2.1.1", "EPTP memory type supported", chk_eptp_memtype),
	ROW(EPTP_WALK, CONTROL, 0, "26.2.1.1", "EPTP page-walk length supported", chk_eptp_walk),
	ROW(EPTP_AD, CONTROL, 0, "26.2.1.1", "EPTP A/D enable needs A/D support", chk_eptp_ad),
	ROW(EPTP_RESERVED, CONTROL, 0, "26.2.1.1", "EPTP reserved bits zero", chk_eptp_reserved),
	ROW(PML_NEEDS_EPT, CONTROL, 0, "26.2.1.1", "PML needs EPT", chk_pml_needs_ept),
	ROW(PML_ADDR, CONTROL, 0, "26.2.1.1", "PML address aligned and within MAXPHYADDR", chk_pml_addr),
	ROW(UG_NEEDS_EPT, CONTROL, 0, "26.2.1.1", "unrestricted guest needs EPT", chk_ug_needs_ept),
	ROW(EPT_DEPENDENTS, CONTROL, 0, "26.2.1.1", "mode-based execute / sub-page permissions need EPT", chk_ept_dependents),
	ROW(SPPTP, CONTROL, 0, "26.2.1.1", "SPP table pointer aligned and within MAXPHYADDR", chk_spptp),
	ROW(VMFUNC_CTLS, CONTROL, 0, "26.2.1.1", "VM-function controls allowed by capability", chk_vmfunc_ctls),
	ROW(EPTP_LIST, CONTROL, 0, "26.2.1.1", "EPTP switching needs EPT and a valid EPTP-list address", chk_eptp_list),
	ROW(VMREAD_BITMAP, CONTROL, 0, "26.2.1.1", "VMREAD bitmap address aligned and within MAXPHYADDR", chk_vmread_bitmap),
	ROW(VMWRITE_BITMAP, CONTROL, 0, "26.2.1.1", "VMWRITE bitmap address aligned and within MAXPHYADDR", chk_vmwrite_bitmap),
	ROW(VE_INFO_ADDR, CONTROL, 0, "26.2.1.1", "#VE information address aligned and within MAXPHYADDR", chk_ve_info_addr),

	ROW(EXIT_CTLS, CONTROL, 0, "26.2.1.2", "VM-exit controls allowed by capability", chk_exit_ctls),
	ROW(EXIT2_CTLS, CONTROL, 0, "26.2.1.2", "secondary VM-exit controls allowed by capability", chk_exit2_ctls),
	ROW(EXIT_SAVE_PREEMPT, CONTROL, 0, "26.2.1.2", "save preemption timer needs the preemption timer", chk_exit_save_preempt),
	ROW(EXIT_MSR_STORE, CONTROL, 0, "26.2.1.2", "VM-exit MSR-store area aligned and within MAXPHYADDR", chk_exit_msr_store),
	ROW(EXIT_MSR_LOAD, CONTROL, 0, "26.2.1.2", "VM-exit MSR-load area aligned and within MAXPHYADDR", chk_exit_msr_load),

	ROW(ENTRY_CTLS, CONTROL, 0, "26.2.1.3", "VM-entry controls allowed by capability", chk_entry_ctls),
	ROW(ENTRY_INTR_TYPE, CONTROL, 0, "26.2.1.3", "injected event type not reserved", chk_entry_intr_type),
	ROW(ENTRY_INTR_VECTOR, CONTROL, 0, "26.2.1.3", "injected event vector consistent with type", chk_entry_intr_vector),
	ROW(ENTRY_INTR_ERRCODE_BIT, CONTROL, 0, "26.2.1.3", "injected event deliver-error-code bit consistent", chk_entry_intr_errcode_bit),
	ROW(ENTRY_INTR_RESERVED, CONTROL, 0, "26.2.1.3", "injected event reserved bits 30:12 zero", chk_entry_intr_reserved),
	ROW(ENTRY_EXC_ERRCODE, CONTROL, 0, "26.2.1.3", "injected error code bits 31:16 zero", chk_entry_exc_errcode),
	ROW(ENTRY_INSTR_LEN, CONTROL, 0, "26.2.1.3", "software event instruction length 1..15", chk_entry_instr_len),
	ROW(ENTRY_MSR_LOAD, CONTROL, 0, "26.2.1.3", "VM-entry MSR-load area aligned and within MAXPHYADDR", chk_entry_msr_load),
	ROW(ENTRY_SMM, CONTROL, 0, "26.2.1.3", "entry to SMM / deactivate dual-monitor only in SMM", chk_entry_smm),

	ROW(HOST_CR0, HOST, 0, "26.2.2", "host CR0 fixed bits", chk_host_cr0),
	ROW(HOST_CR4, HOST, 0, "26.2.2", "host CR4 fixed bits", chk_host_cr4),
	ROW(HOST_CR3, HOST, 0, "26.2.2", "host CR3 within MAXPHYADDR", chk_host_cr3),
	ROW(HOST_SYSENTER, HOST, 0, "26.2.2", "host SYSENTER ESP/EIP canonical", chk_host_sysenter),
	ROW(HOST_PAT, HOST, 0, "26.2.2", "host IA32_PAT valid memory types", chk_host_pat),
	ROW(HOST_EFER_RESERVED, HOST, 0, "26.2.2", "host IA32_EFER reserved bits zero", chk_host_efer_reserved),
	ROW(HOST_EFER_LMA_LME, HOST, 0, "26.2.2", "host IA32_EFER LMA/LME match host address-space size", chk_host_efer_lma_lme),
	ROW(HOST_PKRS, HOST, 0, "26.2.2", "host IA32_PKRS bits 63:32 zero", chk_host_pkrs),

	ROW(HOST_SEL_RPL_TI, HOST, 0, "26.2.3", "host selectors RPL and TI zero", chk_host_sel_rpl_ti),
	ROW(HOST_CS_NONZERO, HOST, 0, "26.2.3", "host CS selector not 0", chk_host_cs_nonzero),
	ROW(HOST_TR_NONZERO, HOST, 0, "26.2.3", "host TR selector not 0", chk_host_tr_nonzero),
	ROW(HOST_BASES, HOST, 0, "26.2.3", "host FS/GS/GDTR/IDTR/TR bases canonical", chk_host_bases),

	ROW(HOST_ADDR_SPACE, HOST, 0, "26.2.4", "host address-space size 1 (VMM in 64-bit mode)", chk_host_addr_space),
	ROW(HOST_CR4_PAE, HOST, 0, "26.2.4", "64-bit host needs CR4.PAE", chk_host_cr4_pae),
	ROW(HOST_RIP, HOST, 0, "26.2.4", "64-bit host RIP canonical", chk_host_rip),

	ROW(GUEST_CR0, GUEST, 0, "26.3.1.1", "guest CR0 fixed bits", chk_guest_cr0),
	ROW(GUEST_CR0_PG_PE, GUEST, 0, "26.3.1.1", "guest CR0.PG requires CR0.PE", chk_guest_cr0_pg_pe),
	ROW(GUEST_CR4, GUEST, 0, "26.3.1.1", "guest CR4 fixed bits", chk_guest_cr4),
	ROW(GUEST_CR4_CET_WP, GUEST, 0, "26.3.1.1", "guest CR4.CET requires CR0.WP", chk_guest_cr4_cet_wp),
	ROW(GUEST_DEBUGCTL, GUEST, 0, "26.3.1.1", "guest IA32_DEBUGCTL reserved bits zero", chk_guest_debugctl),
	ROW(GUEST_IA32E_PG_PAE, GUEST, 0, "26.3.1.1", "IA-32e mode guest needs CR0.PG and CR4.PAE", chk_guest_ia32e_pg_pae),
	ROW(GUEST_PCIDE, GUEST, 0, "26.3.1.1", "guest CR4.PCIDE only in IA-32e mode", chk_guest_pcide),
	ROW(GUEST_CR3, GUEST, 0, "26.3.1.1", "guest CR3 within MAXPHYADDR", chk_guest_cr3),
	ROW(GUEST_DR7, GUEST, 0, "26.3.1.1", "guest DR7 bits 63:32 zero", chk_guest_dr7),
	ROW(GUEST_SYSENTER, GUEST, 0, "26.3.1.1", "guest SYSENTER ESP/EIP canonical", chk_guest_sysenter),
	ROW(GUEST_PAT, GUEST, 0, "26.3.1.1", "guest IA32_PAT valid memory types", chk_guest_pat),
	ROW(GUEST_EFER_RESERVED, GUEST, 0, "26.3.1.1", "guest IA32_EFER reserved bits zero", chk_guest_efer_reserved),
	ROW(GUEST_EFER_LMA, GUEST, 0, "26.3.1.1", "guest IA32_EFER.LMA equals IA-32e mode guest", chk_guest_efer_lma),
	ROW(GUEST_EFER_LME, GUEST, 0, "26.3.1.1", "guest IA32_EFER.LME equals IA-32e mode guest when paging", chk_guest_efer_lme),
	ROW(GUEST_BNDCFGS, GUEST, 0, "26.3.1.1", "guest IA32_BNDCFGS reserved bits and canonical base", chk_guest_bndcfgs),
	ROW(GUEST_PKRS, GUEST, 0, "26.3.1.1", "guest IA32_PKRS bits 63:32 zero", chk_guest_pkrs),

	ROW(GUEST_TR_TI, GUEST, 0, "26.3.1.2", "guest TR selector TI zero", chk_guest_tr_ti),
	ROW(GUEST_LDTR_TI, GUEST, 0, "26.3.1.2", "guest LDTR selector TI zero", chk_guest_ldtr_ti),
	ROW(GUEST_SS_RPL, GUEST, 0, "26.3.1.2", "guest SS.RPL equals CS.RPL", chk_guest_ss_rpl),
	ROW(GUEST_V86_BASE, GUEST, 0, "26.3.1.2", "virtual-8086 segment base is selector * 16", chk_guest_v86_base),
	ROW(GUEST_V86_LIMIT, GUEST, 0, "26.3.1.2", "virtual-8086 segment limit is FFFFH", chk_guest_v86_limit),
	ROW(GUEST_V86_AR, GUEST, 0, "26.3.1.2", "virtual-8086 segment access rights are F3H", chk_guest_v86_ar),
	ROW(GUEST_BASE_CANONICAL, GUEST, 0, "26.3.1.2", "guest TR/FS/GS/LDTR bases canonical", chk_guest_base_canonical),
	ROW(GUEST_BASE_HIGH, GUEST, 0, "26.3.1.2", "guest CS/SS/DS/ES base bits 63:32 zero", chk_guest_base_high),
	ROW(GUEST_CS_TYPE, GUEST, 0, "26.3.1.2", "guest CS type", chk_guest_cs_type),
	ROW(GUEST_SS_TYPE, GUEST, 0, "26.3.1.2", "guest SS type", chk_guest_ss_type),
	ROW(GUEST_DATA_TYPE, GUEST, 0, "26.3.1.2", "guest DS/ES/FS/GS type", chk_guest_data_type),
	ROW(GUEST_SEG_S, GUEST, 0, "26.3.1.2", "guest code/data segment S bit", chk_guest_seg_s),
	ROW(GUEST_CS_DPL, GUEST, 0, "26.3.1.2", "guest CS DPL", chk_guest_cs_dpl),
	ROW(GUEST_SS_DPL, GUEST, 0, "26.3.1.2", "guest SS DPL", chk_guest_ss_dpl),
	ROW(GUEST_DATA_DPL, GUEST, 0, "26.3.1.2", "guest DS/ES/FS/GS DPL not below RPL", chk_guest_data_dpl),
	ROW(GUEST_SEG_P, GUEST, 0, "26.3.1.2", "guest code/data segment present", chk_guest_seg_p),
	ROW(GUEST_SEG_RESERVED, GUEST, 0, "26.3.1.2", "guest segment access-rights reserved bits zero", chk_guest_seg_reserved),
	ROW(GUEST_CS_L_D, GUEST, 0, "26.3.1.2", "guest CS.L and CS.D not both set in IA-32e mode", chk_guest_cs_l_d),
	ROW(GUEST_SEG_LIMIT_G, GUEST, 0, "26.3.1.2", "guest segment limit consistent with granularity", chk_guest_seg_limit_g),
	ROW(GUEST_TR_TYPE, GUEST, 0, "26.3.1.2", "guest TR type is a busy TSS", chk_guest_tr_type),
	ROW(GUEST_TR_AR, GUEST, 0, "26.3.1.2", "guest TR S=0, P=1, usable, reserved bits zero", chk_guest_tr_ar),
	ROW(GUEST_TR_LIMIT_G, GUEST, 0, "26.3.1.2", "guest TR limit consistent with granularity", chk_guest_tr_limit_g),
	ROW(GUEST_LDTR_AR, GUEST, 0, "26.3.1.2", "guest LDTR type 2, S=0, P=1, reserved bits zero", chk_guest_ldtr_ar),
	ROW(GUEST_LDTR_LIMIT_G, GUEST, 0, "26.3.1.2", "guest LDTR limit consistent with granularity", chk_guest_ldtr_limit_g),

	ROW(GUEST_DTR_BASE, GUEST, 0, "26.3.1.3", "guest GDTR/IDTR bases canonical", chk_guest_dtr_base),
	ROW(GUEST_DTR_LIMIT, GUEST, 0, "26.3.1.3", "guest GDTR/IDTR limit bits 31:16 zero", chk_guest_dtr_limit),

	ROW(GUEST_RIP_HIGH, GUEST, 0, "26.3.1.4", "guest RIP bits 63:32 zero outside 64-bit code", chk_guest_rip_high),
	ROW(GUEST_RIP_CANONICAL, GUEST, 0, "26.3.1.4", "guest RIP canonical in 64-bit code", chk_guest_rip_canonical),
	ROW(GUEST_RFLAGS_RESERVED, GUEST, 0, "26.3.1.4", "guest RFLAGS reserved bits", chk_guest_rflags_reserved),
	ROW(GUEST_RFLAGS_VM, GUEST, 0, "26.3.1.4", "guest RFLAGS.VM only in protected mode outside IA-32e", chk_guest_rflags_vm),
	ROW(GUEST_RFLAGS_IF, GUEST, 0, "26.3.1.4", "guest RFLAGS.IF set when injecting an external interrupt", chk_guest_rflags_if),

	ROW(GUEST_ACTIVITY, GUEST, 0, "26.3.1.5", "guest activity state valid and supported", chk_guest_activity),
	ROW(GUEST_ACTIVITY_HLT_DPL, GUEST, 0, "26.3.1.5", "guest HLT state needs SS.DPL 0", chk_guest_activity_hlt_dpl),
	ROW(GUEST_ACTIVITY_BLOCKING, GUEST, 0, "26.3.1.5", "guest STI/MOV-SS blocking needs active state", chk_guest_activity_blocking),
	ROW(GUEST_ACTIVITY_EVENT, GUEST, 0, "26.3.1.5", "injected event allowed in the guest activity state", chk_guest_activity_event),
	ROW(GUEST_INTR_RESERVED, GUEST, 0, "26.3.1.5", "guest interruptibility reserved bits zero", chk_guest_intr_reserved),
	ROW(GUEST_INTR_STI_MOVSS, GUEST, 0, "26.3.1.5", "guest blocking by STI and MOV-SS not both set", chk_guest_intr_sti_movss),
	ROW(GUEST_INTR_STI_IF, GUEST, 0, "26.3.1.5", "guest blocking by STI needs RFLAGS.IF", chk_guest_intr_sti_if),
	ROW(GUEST_INTR_EXTINT, GUEST, 0, "26.3.1.5", "no STI/MOV-SS blocking when injecting an external interrupt", chk_guest_intr_extint),
	ROW(GUEST_INTR_NMI_MOVSS, GUEST, 0, "26.3.1.5", "no MOV-SS blocking when injecting an NMI", chk_guest_intr_nmi_movss),
	ROW(GUEST_INTR_NMI_STI, GUEST, 3, "26.3.1.5", "no STI blocking when injecting an NMI", chk_guest_intr_nmi_sti),
	ROW(GUEST_INTR_SMI, GUEST, 0, "26.3.1.5", "guest blocking by SMI only in SMM", chk_guest_intr_smi),
	ROW(GUEST_INTR_VNMI, GUEST, 0, "26.3.1.5", "no virtual-NMI blocking when injecting an NMI", chk_guest_intr_vnmi),
	ROW(GUEST_PENDING_DBG_RESERVED, GUEST, 0, "26.3.1.5", "guest pending debug exceptions reserved bits zero", chk_guest_pending_dbg_reserved),
	ROW(GUEST_PENDING_DBG_BS, GUEST, 0, "26.3.1.5", "guest pending BS consistent with RFLAGS.TF and DEBUGCTL.BTF", chk_guest_pending_dbg_bs),
	ROW(GUEST_LINK_POINTER, GUEST, 4, "26.3.1.5", "VMCS link pointer all-ones or aligned within MAXPHYADDR", chk_guest_link_pointer),

	ROW(GUEST_PDPTE, GUEST, 2, "26.3.1.6", "guest PDPTEs (PAE paging with EPT) reserved bits zero", chk_guest_pdpte),
};

/* ---- running the table ---- */

static void ctx_init(struct vmx_check_ctx *c, const struct vmcs_image *img,
		     const struct vmx_caps *caps, unsigned maxphyaddr)
{
	uint32_t info;

	c->img = img;
	c->caps = caps;
	c->maxphyaddr = maxphyaddr;
	c->pin = (uint32_t)F(PIN_BASED_CONTROLS);
	c->proc = (uint32_t)F(PROC_BASED_CONTROLS);
	/* "If 'activate secondary controls' is 0, the processor operates as if
	 * all the secondary processor-based VM-execution controls were 0." */
	c->proc2 = (c->proc & PROC_SECONDARY) ? (uint32_t)F(SECONDARY_CONTROLS) : 0;
	c->exit = (uint32_t)F(EXIT_CONTROLS);
	c->entry = (uint32_t)F(ENTRY_CONTROLS);
	c->ug = c->proc2 & PROC2_UNRESTRICTED;
	c->ia32e = c->entry & ENTRY_IA32E_GUEST;
	c->v86 = F(GUEST_RFLAGS) & RFLAGS_VM;
	info = (uint32_t)F(ENTRY_INTR_INFO);
	c->inject = info & INTR_VALID;
	c->ev_type = INTR_TYPE(info);
	c->ev_vector = INTR_VECTOR(info);
}

static void fill_failure(struct vmx_check_failure *f, const struct vmx_check *row,
			 const struct vmx_check_bad *bad)
{
	f->id = row->id;
	f->cls = row->cls;
	f->exit_qual = row->exit_qual;
	f->sdm_ref = row->sdm_ref;
	f->name = row->name;
	f->field = bad->field;
	f->value = bad->value;
}

int vmx_check_entry(const struct vmcs_image *img, const struct vmx_caps *caps,
		    unsigned maxphyaddr, struct vmx_check_failure *fails, unsigned max_fails)
{
	struct vmx_check_ctx c;
	int n = 0;

	ctx_init(&c, img, caps, maxphyaddr);
	for (unsigned i = 0; i < VMX_CHECK_COUNT; i++) {
		struct vmx_check_bad bad = { 0, 0 };
		if (vmx_check_table[i].fn(&c, &bad))
			continue;
		if ((unsigned)n < max_fails)
			fill_failure(&fails[n], &vmx_check_table[i], &bad);
		n++;
	}
	return n;
}

bool vmx_check_one(unsigned id, const struct vmcs_image *img, const struct vmx_caps *caps,
		   unsigned maxphyaddr, struct vmx_check_failure *fail)
{
	struct vmx_check_ctx c;
	struct vmx_check_bad bad = { 0, 0 };

	if (id >= VMX_CHECK_COUNT)
		return false;
	ctx_init(&c, img, caps, maxphyaddr);
	if (vmx_check_table[id].fn(&c, &bad))
		return true;
	if (fail)
		fill_failure(fail, &vmx_check_table[id], &bad);
	return false;
}

uint32_t vmx_check_verdict(const struct vmx_check_failure *fails, int n)
{
	if (n <= 0 || !fails)
		return VMX_VERDICT_OK;
	switch (fails[0].cls) {
	case VMX_CHECK_CONTROL:
		return (VMX_VERDICT_FAIL_VALID << 30) | VMXERR_ENTRY_INVALID_CONTROL;
	case VMX_CHECK_HOST:
		return (VMX_VERDICT_FAIL_VALID << 30) | VMXERR_ENTRY_INVALID_HOST;
	default:
		return (VMX_VERDICT_ENTRY_FAIL_EXIT << 30) | ((uint32_t)fails[0].exit_qual << 16) |
		       VMX_EXIT_ENTRY_FAIL_GUEST;
	}
}

const char *vmx_check_class_name(unsigned cls)
{
	static const char *const names[] = { "control", "host", "guest" };
	return cls < 3 ? names[cls] : "?";
}
