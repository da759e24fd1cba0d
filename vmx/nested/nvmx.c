/*
 * Nested VMX at run time (see nvmx.h and docs/nested-vmx.md), the sibling
 * of svm/nested/nsvm.c.  Each transition is one function:
 *
 *   l1_vmx_insn()     L1's VMXON ... INVVPID: operands in, result out
 *   nested_entry()    L1 -> L2: check vmcs12, merge vmcs02, switch VMCSs
 *   vmexit_to_l1()    L2 -> L1: the exit into vmcs12, L1's host state
 *   l2_exit()         whose exit is it: L1's (reflect) or L0's (keep)
 *   l2_ept()          EPT02 from EPT12 x EPT01, or L1's EPT exit
 *
 * The decisions are the pure cores' (vmx_insn.c, vmcs12.c, vmx_check.c,
 * vmcs02_merge.c, exit_reflect.c, ept_compose.c); this file moves state
 * between them and the hardware VMCSs.
 */
#include <string.h>
#include "vmx/nested/nvmx.h"
#include "vmx/nested/nvmx_arch.h"
#include "vmx/nested/nvmx_caps.h"
#include "vmx/nested/vmx_insn.h"
#include "vmx/nested/vmcs12.h"
#include "vmx/nested/vmcs02_merge.h"
#include "vmx/nested/exit_reflect.h"
#include "vmx/nested/ept_compose.h"
#include "vmx/vmx.h"
#include "vmx/vmx_check.h"
#include "kernel/guest_insn.h"
#include "kernel/log.h"
#include "kernel/teach.h"
#include "kernel/trace_l0.h"
#include "kernel/platform.h"
#include "kernel/backend.h"
#include "arch/x86/cpu.h"
#include "kernel/nested_tags.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/traps.h"
#include "mm/frame.h"

#define VEC_UD 6
#define VEC_PF 14
#define INTR_VALID (1u << 31)
#define PIN_PREEMPT (1u << 6)

/* One shadow EPT: EPT12 x EPT01 for one EPTP12. */
#define EPT02_SLOTS 4
struct ept02 {
	struct s2pt t;
	bool live;
	uint64_t eptp12;
	uint64_t last_use;
};

struct nvmx_vcpu {
	struct vcpu *v;
	struct nvmx_state st;          /* VMX operation, current vmcs12 (cached) */
	uint64_t vmcs02_pa;            /* what the CPU runs for L2 */
	bool vmcs02_launched;
	bool in_l2;
	struct vmcs_image *v01;        /* image of vmcs01: L1's registers */
	struct vmcs_image *v02;        /* image of the hardware vmcs02 (what it holds) */
	struct vmcs_image *next02;     /* the merge's output, before it is written */
	bool v02_valid;                /* v02 matches the hardware (else write all) */
	struct vmcs02_info info;
	uint8_t *io_a, *io_b, *msr;    /* merged bitmaps (vmcs02_merge) */
	/* EPT02: the shadow of EPT12 x EPT01 for the current EPTP12 */
	struct ept02 ept02[EPT02_SLOTS];
	struct ept02 *ept;             /* the one vmcs02 runs on (L1 uses EPT) */
	uint64_t use_clock;
	/* VPID02 per VPID12 of this vCPU (kernel/nested_tags.c) */
	struct nested_tags vpids;
	uint16_t vpid02;               /* the one vmcs02 runs with */
	bool l2_no_vpid;               /* vmcs12 without VPID: flush at every entry */
	uint64_t l1_timer_deadline;    /* L1's preemption timer (TSC) while L2 runs */
	struct nvmx_state *shadow12;   /* scratch: L1's shadow VMCS for L2's VMREAD/VMWRITE */
	/* L2's guest-physical space as kernel/ sees it while L2 runs */
	struct gmem l2_mem;
	struct gmem_view l2_view;
	uint64_t shadow_pa;            /* shadow VMCS: vmcs12's hot fields for L1 */
	bool shadow_live;              /* it holds the current vmcs12's values */
	uint64_t shadow_ref[64];       /* the shadow's values as L0 last saw them */
	uint8_t hot_changed[8];        /* VMRESUME: hot fields L1 changed (indexes) */
	unsigned hot_count;
	bool cold_changed;             /* ... and whether it changed anything else */
	/* The hardware vmcs02 is the full merge of the current vmcs12 with
	 * L2's state since: a VMRESUME that changed only hot fields writes
	 * just those (the fast path; the CPU checks vmcs02 as it enters). */
	bool merged;
	uint64_t merged_vmcs12;
	bool entry_was_launch;
	uint32_t l1_exit_pending;      /* 0, or an exit reason for L1 (1, 0 = NMI via flag) */
	bool l1_nmi_pending;
	struct nvmx_stats stats;
};

static inline uint64_t vmread_fast(uint64_t enc);
static inline void vmwrite_fast(uint64_t enc, uint64_t val);
static struct vmx_caps adv;        /* what L1's CPU reports (nvmx_caps.c) */
static bool adv_ready;

/* ---- hardware VMCS shadowing (SDM 25.10, 26.6.15 in older editions) ----
 * L1's VMREAD/VMWRITE of the fields it touches around every exit would
 * each exit to L0.  With the CPU's VMCS shadowing, vmcs01's VMCS link
 * pointer names a shadow VMCS that holds those fields of vmcs12, and the
 * VMREAD/VMWRITE bitmaps let L1's instructions on them run without an
 * exit.  L0 keeps vmcs12's cached image and the shadow in step: shadow ->
 * image before L0 uses vmcs12 (VM entry, VMCLEAR, VMPTRLD of another,
 * VMXOFF), image -> shadow after L0 changed it (VMPTRLD, an exit
 * reflected to L1).  The fields: the table's shadowable candidates that
 * exist on this CPU; read-only (exit-information) fields only for reading,
 * and only if the CPU lets L0 VMWRITE them (IA32_VMX_MISC bit 29). */
static bool shadowing;             /* on: the CPU has it and it is not switched off */
bool nvmx_shadowing_off;           /* config / command line vmcs_shadow = off */
static uint16_t shadow_fields[64]; /* indexes into vmcs_field_table */
static unsigned shadow_count;
static uint64_t vmread_bitmap, vmwrite_bitmap;
/* The encoding of each dense index, flat: the VMREAD/VMWRITE loops of the
 * hot paths load one word instead of a table row. */
static uint32_t enc_of[VMCS_FIELD_COUNT];
/* The shadowed fields L1 changes before a plain VMRESUME: L2's RIP, RSP,
 * RFLAGS, interruptibility, and an event to inject (SDM 26.2.1.3/26.3). */
static bool shadow_hot[64];
/* Shadowed fields that only L1's side uses (its host state, loaded from
 * vmcs12 at the next VM exit): a change needs no merge (no 26.2.2-26.2.4
 * check looks at HOST_RSP). */
static bool shadow_l1_only[64];
static const uint32_t hot_fields[] = {
	VMCS_GUEST_RIP, VMCS_GUEST_RSP, VMCS_GUEST_RFLAGS, VMCS_GUEST_INTERRUPTIBILITY,
	VMCS_ENTRY_INTR_INFO, VMCS_ENTRY_EXCEPTION_ERROR_CODE, VMCS_ENTRY_INSTRUCTION_LEN,
};

static void bitmap_allow(uint64_t page, uint32_t enc)
{
	uint8_t *b = (uint8_t *)page;
	unsigned bit = enc & 0x7fff;   /* bits 14:0 of the encoding (25.6.15) */
	b[bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

static void shadowing_setup(void)
{
	const struct vmx_caps *hw = vmx_hw_caps();
	if (nvmx_shadowing_off || !((hw->procbased2 >> 32) & NVMX_PROC2_SHADOW_VMCS))
		return;
	vmread_bitmap = frame_alloc_pages(1, 0);
	vmwrite_bitmap = frame_alloc_pages(1, 0);
	if (!vmread_bitmap || !vmwrite_bitmap)
		return;
	memset((void *)vmread_bitmap, 0xff, PAGE_SIZE);
	memset((void *)vmwrite_bitmap, 0xff, PAGE_SIZE);
	bool write_ro = hw->misc & (1ull << 29);
	for (unsigned i = 0; i < VMCS_FIELD_COUNT && shadow_count < 64; i++) {
		const struct vmcs_field *f = &vmcs_field_table[i];
		bool ro = f->type == VMCS_TYPE_EXIT_INFO;
		if (!f->shadowable_candidate || !vmcs_field_exists(f, hw) || !vmcs_field_exists(f, &adv) ||
		    (ro && !write_ro))
			continue;
		for (unsigned h = 0; h < sizeof(hot_fields) / sizeof(hot_fields[0]); h++)
			shadow_hot[shadow_count] |= f->encoding == hot_fields[h];
		shadow_l1_only[shadow_count] = f->encoding == VMCS_HOST_RSP;
		shadow_fields[shadow_count++] = (uint16_t)i;
		bitmap_allow(vmread_bitmap, f->encoding);
		if (f->width == VMCS_WIDTH_64)
			bitmap_allow(vmread_bitmap, f->encoding | 1);
		if (!ro) {  /* L1's VMWRITE of a read-only field must fail (error 13) */
			bitmap_allow(vmwrite_bitmap, f->encoding);
			if (f->width == VMCS_WIDTH_64)
				bitmap_allow(vmwrite_bitmap, f->encoding | 1);
		}
	}
	shadowing = true;
	log_info("nvmx: VMCS shadowing on: %u fields of vmcs12 without exits%s", shadow_count,
		 write_ro ? " (exit information included)" : " (not the exit information: no VMWRITE to it)");
}

/* image -> shadow VMCS; vmcs01 links it (the caller's VMCS stays current). */
static void shadow_load(struct vcpu *v, struct nvmx_vcpu *n)
{
	struct vmx_vcpu *x = v->arch;
	if (!shadowing || n->st.current == NVMX_NO_VMCS)
		return;
	if (!n->shadow_live && !n->shadow_pa) {
		n->shadow_pa = frame_alloc_pages(1, 0);
		if (!n->shadow_pa)
			return;
		*(uint32_t *)n->shadow_pa = (uint32_t)(vmx_hw_caps()->basic & 0x7fffffff) | (1u << 31);
		vmx_clear(n->shadow_pa);
	}
	vmx_make_current(n->shadow_pa);
	for (unsigned i = 0; i < shadow_count; i++) {
		uint64_t val = n->st.vmcs12.v[shadow_fields[i]];
		vmwrite_fast(enc_of[shadow_fields[i]], val);
		n->shadow_ref[i] = val;
	}
	if (!n->shadow_live) {
		vmx_make_current(x->vmcs01_pa);
		vmcs_write(VMCS_VMCS_LINK_POINTER, n->shadow_pa);
		vmcs_write(VMCS_SECONDARY_CONTROLS, vmcs_read(VMCS_SECONDARY_CONTROLS) | NVMX_PROC2_SHADOW_VMCS);
		vmcs_write(VMCS_VMREAD_BITMAP, vmread_bitmap);
		vmcs_write(VMCS_VMWRITE_BITMAP, vmwrite_bitmap);
		n->shadow_live = true;
	}
	vmx_make_current(x->vmcs_pa);
}

/* shadow VMCS -> image (what L1 wrote without exits). */
static void shadow_store(struct vcpu *v, struct nvmx_vcpu *n)
{
	struct vmx_vcpu *x = v->arch;
	if (!n->shadow_live)
		return;
	vmx_make_current(n->shadow_pa);
	n->hot_count = 0;
	n->cold_changed = false;
	for (unsigned i = 0; i < shadow_count; i++) {
		unsigned k = shadow_fields[i];
		uint64_t val = vmread_fast(enc_of[k]);
		if (val != n->shadow_ref[i]) {
			if (shadow_hot[i] && n->hot_count < sizeof(n->hot_changed))
				n->hot_changed[n->hot_count++] = (uint8_t)k;
			else if (!shadow_l1_only[i])
				n->cold_changed = true;
			n->shadow_ref[i] = val;
		}
		n->st.vmcs12.v[k] = val;
	}
	vmx_make_current(x->vmcs_pa);
}

/* No current vmcs12 any more: VMREAD/VMWRITE give VMfailInvalid by
 * themselves (link pointer ~0, SDM 31 VMREAD "Operation"). */
static void shadow_unlink(struct vcpu *v, struct nvmx_vcpu *n)
{
	struct vmx_vcpu *x = v->arch;
	if (!n->shadow_live)
		return;
	vmx_make_current(x->vmcs01_pa);
	vmcs_write(VMCS_VMCS_LINK_POINTER, ~0ull);
	vmx_make_current(x->vmcs_pa);
	n->shadow_live = false;
}

/* The fields of this CPU's VMCS, as table indexes, computed once: all of
 * them (snapshots), the ones software may write (vmcs02), and the L1
 * state a VM exit to L1 installs in vmcs01 (vmcs02_l1_state_fields). */
static uint8_t hw_idx[VMCS_FIELD_COUNT], writable_idx[VMCS_FIELD_COUNT], l1_state_idx[VMCS_FIELD_COUNT];
static uint8_t exit_idx[VMCS_FIELD_COUNT];
static unsigned hw_count, writable_count, l1_state_count, exit_count;

/* What can change in vmcs02 while L2 runs or L0 serves it: the guest
 * state, the exit information, and the fields L0 itself edits on exits
 * it keeps (its preemption timer bit, re-injected events). */
static bool changes_under_l2(const struct vmcs_field *f)
{
	return f->type == VMCS_TYPE_GUEST || f->type == VMCS_TYPE_EXIT_INFO ||
	       f->encoding == VMCS_PIN_BASED_CONTROLS || f->encoding == VMCS_ENTRY_INTR_INFO ||
	       f->encoding == VMCS_ENTRY_EXCEPTION_ERROR_CODE || f->encoding == VMCS_ENTRY_INSTRUCTION_LEN;
}

/* What L1's return (28.5, vmcs02_load_l1_host_state) keeps of L1's own
 * state, plus the registers of a failed entry: all a fast VM entry needs
 * to read of vmcs01 (the rest of the image is from the last full one). */
static const uint32_t l1_kept_fields[] = {
	VMCS_GUEST_CR0, VMCS_GUEST_CR4, VMCS_GUEST_IA32_EFER, VMCS_GUEST_IA32_PAT,
	VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, VMCS_GUEST_INTERRUPTIBILITY, VMCS_ENTRY_CONTROLS,
	VMCS_GUEST_RIP, VMCS_GUEST_RSP, VMCS_GUEST_RFLAGS,
};

static uint8_t l1_kept_idx[sizeof(l1_kept_fields) / sizeof(l1_kept_fields[0])];
static unsigned l1_kept_count;

static void field_lists(void)
{
	const struct vmx_caps *hw = vmx_hw_caps();
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
		const struct vmcs_field *f = &vmcs_field_table[i];
		enc_of[i] = f->encoding;
		if (!vmcs_field_exists(f, hw))
			continue;
		hw_idx[hw_count++] = (uint8_t)i;
		if (f->type != VMCS_TYPE_EXIT_INFO)
			writable_idx[writable_count++] = (uint8_t)i;
		if (changes_under_l2(f))
			exit_idx[exit_count++] = (uint8_t)i;
	}
	for (unsigned i = 0; i < sizeof(l1_kept_fields) / sizeof(l1_kept_fields[0]); i++) {
		int k = vmcs_field_index(l1_kept_fields[i]);
		if (k >= 0 && vmcs_field_exists(&vmcs_field_table[k], hw))
			l1_kept_idx[l1_kept_count++] = (uint8_t)k;
	}
	for (unsigned i = 0; i < vmcs02_l1_state_count; i++) {
		int k = vmcs_field_index(vmcs02_l1_state_fields[i]);
		if (k >= 0 && vmcs_field_exists(&vmcs_field_table[k], hw))
			l1_state_idx[l1_state_count++] = (uint8_t)k;
	}
}

/* VMREAD/VMWRITE of fields known to exist: no error path to pay for. */
static inline uint64_t vmread_fast(uint64_t enc)
{
	uint64_t v;
	__asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(enc) : "cc");
	return v;
}

static inline void vmwrite_fast(uint64_t enc, uint64_t val)
{
	__asm__ volatile("vmwrite %1, %0" : : "r"(enc), "r"(val) : "cc");
}

/* The parts of vmcs02 that can have changed since L0 wrote it. */
static void snapshot_exit(struct vmcs_image *img)
{
	for (unsigned i = 0; i < exit_count; i++)
		img->v[exit_idx[i]] = vmread_fast(enc_of[exit_idx[i]]);
}

static void snapshot_fast(struct vmcs_image *img)
{
	for (unsigned i = 0; i < hw_count; i++)
		img->v[hw_idx[i]] = vmread_fast(enc_of[hw_idx[i]]);
}

static struct nvmx_vcpu *nested_of(struct vcpu *v) { return ((struct vmx_vcpu *)v->arch)->nested; }

/* VPID02s: NESTED_TAG_SLOTS per vCPU from VPID02_FIRST, above the VMs'
 * own VPIDs (kernel/vm.c: id + 1). */
#define VPID02_FIRST 0x100
_Static_assert(VPID02_FIRST + CFG_MAX_VMS * VM_MAX_VCPUS * NESTED_TAG_SLOTS <= 0xffff, "VPIDs are 16 bits");

static int ept01_lookup(void *ctx, uint64_t gpa, uint64_t *hpa, unsigned *perms, uint64_t *size)
{
	return s2pt_lookup(ctx, gpa, hpa, perms, size);
}

/* INVEPT all-context (type 2): drops every combined mapping (SDM 31 INVEPT). */
static void invept_all(void)
{
	struct { uint64_t eptp, zero; } desc = { 0, 0 };
	__asm__ volatile("invept %0, %1" : : "m"(desc), "r"(2ull) : "cc", "memory");
}

static void invvpid(uint64_t type, uint16_t vpid, uint64_t gla)
{
	struct { uint64_t vpid, gla; } desc = { vpid, gla };
	__asm__ volatile("invvpid %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

/* Drop the linear and combined mappings of one VPID02 (SDM 31 INVVPID),
 * with the narrowest INVVPID type the CPU has. */
static void vpid02_flush(uint16_t vpid02, uint64_t gla, bool one_address)
{
	uint64_t cap = vmx_hw_caps()->ept_vpid;
	if (!((vmx_hw_caps()->procbased2 >> 32) & NVMX_PROC2_VPID))
		return;                            /* no VPIDs: every transition flushes */
	if (!(cap & VMX_VPID_INVVPID))
		invept_all();                      /* drops every combined mapping */
	else if (one_address && (cap & VMX_VPID_INVVPID_ADDR))
		invvpid(0, vpid02, gla);
	else if (cap & VMX_VPID_INVVPID_SINGLE)
		invvpid(1, vpid02, 0);
	else if (cap & VMX_VPID_INVVPID_ALL)
		invvpid(2, 0, 0);
	else
		invept_all();
}

/* Empty one EPT02; it keeps naming its EPTP12.  The CPU may cache
 * combined mappings through it, so they go too. */
static void ept02_zap(struct nvmx_vcpu *n, struct ept02 *t)
{
	if (t->t.tables > 1)
		s2pt_clear(&t->t, frame_table_free);
	n->l2_view.gen++;   /* what was read through L2's view may be stale */
	n->stats.ept02_zaps++;
	invept_all();
}

/* The EPT02 of an EPTP12: the one kept from before, or the least
 * recently used slot, emptied for it — so a guest hypervisor switching
 * between guests (L3 under vmxhv) does not refill at every switch. */
static struct ept02 *ept02_for(struct nvmx_vcpu *n, uint64_t eptp12)
{
	struct ept02 *victim = &n->ept02[0];
	for (unsigned i = 0; i < EPT02_SLOTS; i++) {
		struct ept02 *t = &n->ept02[i];
		if (t->live && t->eptp12 == eptp12) {
			t->last_use = ++n->use_clock;
			return t;
		}
		if (!t->live || t->last_use < victim->last_use)
			victim = t;
	}
	if (victim->live)
		ept02_zap(n, victim);
	victim->live = true;
	victim->eptp12 = eptp12;
	victim->last_use = ++n->use_clock;
	return victim;
}

/* Does vmcs12 turn VMCS shadowing on for L2 (SDM 25.10)? */
static bool l2_shadowing(const struct vmcs_image *v12)
{
	return (VMCS_GET(v12, PROC_BASED_CONTROLS) & NVMX_PROC_SECONDARY) &&
	       (VMCS_GET(v12, SECONDARY_CONTROLS) & NVMX_PROC2_SHADOW_VMCS);
}

static bool l1_uses_ept(const struct nvmx_vcpu *n)
{
	const struct vmcs_image *v12 = &n->st.vmcs12;
	return (vmcs_get(v12, VMCS_PROC_BASED_CONTROLS) & NVMX_PROC_SECONDARY) &&
	       (vmcs_get(v12, VMCS_SECONDARY_CONTROLS) & NVMX_PROC2_EPT);
}

/* ---- L2's guest-physical space, one page at a time (mm/gmem.h view) ---- */

static bool l2_xlate(void *ctx, uint64_t gpa, struct gmem_range *out)
{
	struct nvmx_vcpu *n = ctx;
	struct vm *vm = n->v->vm;
	uint64_t page = gpa & ~(PAGE_SIZE - 1), l1_gpa = gpa, hpa;
	unsigned perms;

	if (l1_uses_ept(n)) {
		if (n->ept && s2pt_lookup(&n->ept->t, page, &hpa, &perms, NULL) == 0) {
			*out = (struct gmem_range){ .gpa = page, .size = PAGE_SIZE, .hpa = hpa,
						    .kind = (perms & S2_W) ? GMEM_RAM : GMEM_ROM };
			return true;
		}
		struct nvmx_ept_walk w = { .eptp12 = vmcs_get(&n->st.vmcs12, VMCS_EPT_POINTER),
					   .l2_gpa = page, .access = NVMX_EPT_R,
					   .maxphyaddr = cpu_caps.phys_bits };
		struct nvmx_ept_result r;
		enum nvmx_ept_kind k = nvmx_ept_compose(&vm->mem, &adv, &w, ept01_lookup, &vm->s2, &r);
		if (k != NVMX_EPT_MAP && k != NVMX_EPT_L0_FAULT)
			return false;
		l1_gpa = r.l1_gpa;
	}
	const struct gmem_range *r1 = gmem_lookup(&vm->mem, l1_gpa);
	if (!r1)
		return false;
	*out = (struct gmem_range){ .gpa = page, .size = PAGE_SIZE, .kind = r1->kind,
				    .mmio_id = r1->mmio_id,
				    .hpa = r1->hpa ? r1->hpa + ((l1_gpa & ~(PAGE_SIZE - 1)) - r1->gpa) : 0 };
	return true;
}

int nvmx_vcpu_init(struct vcpu *v, struct vmx_vcpu *x)
{
	if (!adv_ready) {
		nvmx_advertise(vmx_hw_caps(), &adv);
		field_lists();
		shadowing_setup();
		adv_ready = true;
	}
	struct nvmx_vcpu *n = frame_alloc_bytes(sizeof(*n));
	if (!n)
		return -1;
	n->v = v;
	n->vmcs02_pa = frame_alloc_pages(1, 0);
	n->v01 = frame_alloc_bytes(sizeof(*n->v01));
	n->v02 = frame_alloc_bytes(sizeof(*n->v02));
	n->next02 = frame_alloc_bytes(sizeof(*n->next02));
	n->shadow12 = frame_alloc_bytes(sizeof(*n->shadow12));
	n->io_a = frame_alloc_bytes(VMCS02_BITMAP_SIZE);
	n->io_b = frame_alloc_bytes(VMCS02_BITMAP_SIZE);
	n->msr = frame_alloc_bytes(VMCS02_BITMAP_SIZE);
	if (!n->vmcs02_pa || !n->v01 || !n->v02 || !n->next02 || !n->shadow12 || !n->io_a || !n->io_b || !n->msr)
		return -1;
	for (unsigned i = 0; i < EPT02_SLOTS; i++)
		if (s2pt_init(&n->ept02[i].t, S2_EPT, frame_table_alloc, NULL, (vmx_hw_caps()->ept_vpid >> 17) & 1))
			return -1;
	*(uint32_t *)n->vmcs02_pa = (uint32_t)(vmx_hw_caps()->basic & 0x7fffffff);
	memset(n->msr, 0xff, VMCS02_BITMAP_SIZE);   /* the sparse merge edits only L0's passed MSRs */
	nvmx_state_init(&n->st);
	nested_tags_init(&n->vpids, nested_tags_base(VPID02_FIRST, v->vm->id * VM_MAX_VCPUS + v->index));
	gmem_init(&n->l2_mem);
	n->l2_view = (struct gmem_view){ .xlate = l2_xlate, .ctx = n };
	n->l2_mem.view = &n->l2_view;
	x->nested = n;
	return 0;
}

int nvmx_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	if (!v->vm->cfg->nested)
		return -1;
	if (msr == 0x3a) {
		/* IA32_FEATURE_CONTROL: locked, VMXON outside SMX allowed (SDM 24.7) */
		*val = (1ull << 0) | (1ull << 2);
		return 0;
	}
	return nvmx_cap_msr(&adv, msr, val);
}

/* ---- L1's view at the instruction ---------------------------------------- */

static struct nvmx_cpu l1_cpu(struct vcpu *v)
{
	struct guest_code_regs c;       /* one read of what the checks need */
	vcpu_ops->code_regs(v, &c);
	/* 64-bit mode: EFER.LMA and CS.L, which is a 64-bit CS size then */
	enum nvmx_mode mode = !(c.cr0 & 1) ? NVMX_MODE_REAL : (v->rflags & NVMX_RFLAGS_VM) ? NVMX_MODE_V86 :
			      !(c.efer & (1ull << 10)) ? NVMX_MODE_PROT :
			      c.cs_bits == 64 ? NVMX_MODE_64 : NVMX_MODE_COMPAT;
	return (struct nvmx_cpu){
		.cpl = (unsigned)c.cpl, .mode = mode,
		.cr0 = c.cr0, .cr4 = c.cr4, .efer = c.efer, .rflags = v->rflags,
		.movss_blocking = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY) & 2,
		.feature_control = (1ull << 0) | (1ull << 2),
		.maxphyaddr = cpu_caps.phys_bits,
	};
}

/* A memory operand of L1's instruction, through L1's page tables; a fault
 * is injected (#PF with CR2, or #GP) and false returned. */
static bool operand_io(struct vcpu *v, const struct nvmx_operand *op, void *buf, size_t len, bool write)
{
	bool mode64 = vcpu_ops->guest_cs_size(v) == 64;
	uint64_t base = (!mode64 || op->seg == NVMX_SEG_FS || op->seg == NVMX_SEG_GS) ?
			vcpu_ops->seg_base(v, (int)op->seg) : 0;
	uint64_t la = nvmx_operand_linear(op, v->gpr, base, mode64);
	uint32_t pf = 0;
	uint64_t fla = 0;
	enum gva_result r = write ? guest_linear_write(v, la, buf, len, &pf, &fla)
				  : guest_linear_read(v, la, buf, len, 0, &pf, &fla);
	if (r == GVA_OK)
		return true;
	if (r == GVA_PAGE_FAULT) {
		vcpu_ops->set_cr(v, 2, fla);
		vcpu_ops->inject_exception(v, VEC_PF, true, pf);
	} else {
		vcpu_ops->inject_exception(v, VEC_GP, true, 0);
	}
	return false;
}

/* VMWRITE's source and VMREAD's destination (SDM 31.3): the register
 * operand reg1 (32 bits outside 64-bit mode), or memory through the
 * guest's paging; false when a fault was injected instead. */
static bool vmx_value_in(struct vcpu *v, const struct nvmx_operand *op, bool mode64, uint64_t *val)
{
	if (op->is_reg) {
		*val = mode64 ? v->gpr[op->reg1] : (uint32_t)v->gpr[op->reg1];
		return true;
	}
	*val = 0;
	return operand_io(v, op, val, mode64 ? 8 : 4, false);
}

static bool vmx_value_out(struct vcpu *v, const struct nvmx_operand *op, bool mode64, uint64_t val)
{
	if (op->is_reg) {
		v->gpr[op->reg1] = mode64 ? val : (uint32_t)val;
		return true;
	}
	return operand_io(v, op, &val, mode64 ? 8 : 4, true);
}

/* A VMX instruction's end: its RFLAGS result, and RIP past it. */
static void vmx_insn_done(struct vcpu *v, uint64_t rflags, unsigned len, bool mode64)
{
	v->rflags = rflags;
	v->rip += len;
	if (!mode64)
		v->rip &= 0xffffffffu;
}

/* ---- L2 -> L1 ------------------------------------------------------------- */

/* L1 continues with vmcs12's host state (SDM 28.5): v01 holds L1's
 * registers of the VMLAUNCH/VMRESUME; the host-state fields replace them
 * and go into the hardware vmcs01. */
static void resume_l1_at_host_state(struct vcpu *v, struct nvmx_vcpu *n)
{
	struct vmx_vcpu *x = v->arch;
	vmcs02_load_l1_host_state(n->v01, &n->st.vmcs12, &adv);
	vmx_make_current(x->vmcs01_pa);
	for (unsigned i = 0; i < l1_state_count; i++)
		vmwrite_fast(enc_of[l1_state_idx[i]], n->v01->v[l1_state_idx[i]]);
	x->vmcs_pa = x->vmcs01_pa;
	x->launched = true;
	x->timer_armed = vmcs_read(VMCS_PIN_BASED_CONTROLS) & PIN_PREEMPT;
	v->rip = x->exit_rip = VMCS_GET(n->v01, GUEST_RIP);
	v->gpr[RSP] = VMCS_GET(n->v01, GUEST_RSP);
	v->rflags = VMCS_GET(n->v01, GUEST_RFLAGS);
	v->mem = &v->vm->mem;
	v->level = 1;
	n->in_l2 = false;
	v->nested_deadline = UINT64_MAX;
	n->l1_exit_pending = 0;
	v->halted = false;
}

/* An exit of L2 for L1 (SDM 28): into vmcs12, then L1's host state. */
static void vmexit_to_l1(struct vcpu *v, struct nvmx_vcpu *n, const struct nvmx_exit *e)
{
	/* vmcs02 is current: bring its guest state up to date, then read it */
	vmcs_write(VMCS_GUEST_RIP, v->rip);
	vmcs_write(VMCS_GUEST_RSP, v->gpr[RSP]);
	vmcs_write(VMCS_GUEST_RFLAGS, v->rflags);

	snapshot_exit(n->v02);
	/* "the valid bit of the VM-entry interruption-information field is
	 * cleared on every VM exit" (27.2.5): an event L0 queued for L2 on an
	 * exit it kept is L1's now (IDT-vectoring information) */
	if (vmcs_get(n->v02, VMCS_ENTRY_INTR_INFO) & INTR_VALID) {
		vmwrite_fast(VMCS_ENTRY_INTR_INFO, 0);
		vmcs_set(n->v02, VMCS_ENTRY_INTR_INFO, 0);
	}
	if (n->info.l1_timer)
		n->info.l1_timer_left = vmcs02_l1_timer_left(n->l1_timer_deadline, adv.misc & 31, v->exit_tsc);
	bool told = teach_on(v, true);
	static struct vmcs_image before;   /* the teaching trace runs on one vCPU */
	if (told) {
		before = n->st.vmcs12;
		teach(v, "VM exit to L1: reason %u (%s) written into vmcs12 at %#lx (SDM 28.2-28.3):",
		      e->reason & 0xffff, vmx_exit_reason_name(e->reason & 0xffff), n->st.current);
	}
	vmcs02_exit_to_vmcs12(&n->st.vmcs12, n->v02, e, &n->info);
	if (told) {
		for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
			if (before.v[i] != n->st.vmcs12.v[i])
				teach(v, "    vmcs12.%-22s %#lx -> %#lx", vmcs_field_table[i].name, before.v[i],
				      n->st.vmcs12.v[i]);
		teach(v, "    L1 resumes at its HOST_RIP %#lx with the host state of vmcs12 (28.5)",
		      vmcs_get(&n->st.vmcs12, VMCS_HOST_RIP));
	}
	resume_l1_at_host_state(v, n);
	shadow_load(v, n);
	trace_reflect(v, e->reason, e->qual);
	n->stats.reflected++;
}

/* ---- L1 -> L2 ------------------------------------------------------------- */

/* A VM entry of vmcs12 that fails after the instruction's checks (SDM
 * 27.8): an exit to L1 with reason 33 or 34; L2 never ran. */
static void entry_fails(struct vcpu *v, struct nvmx_vcpu *n, uint32_t reason, uint64_t qual)
{
	vmcs02_entry_fail_to_vmcs12(&n->st.vmcs12, reason, qual);
	n->merged = false;
	resume_l1_at_host_state(v, n);
	shadow_load(v, n);
	n->stats.entry_fail_exit++;
}

/* VM-entry MSR-load list of vmcs12 (SDM 26.4), loaded into L2's state
 * once vmcs02 is current; 0, or the 1-based index of the bad entry. */
/* One entry of an MSR-load list into L2's state: the MSRs Nestor lets a
 * guest own live in vmcs02 (SYSENTER_*) or in the CPU itself, switched
 * per vCPU (STAR .. KERNEL_GS_BASE, which VM entries do not switch);
 * the others through L0's MSR emulation.  0, or -1 to fail the entry. */
static int load_one_msr(struct vcpu *v, struct nvmx_vcpu *n, uint32_t index, uint64_t data)
{
	static const struct { uint32_t msr, field; } in_vmcs[] = {
		{ 0x174, VMCS_GUEST_IA32_SYSENTER_CS }, { 0x175, VMCS_GUEST_IA32_SYSENTER_ESP },
		{ 0x176, VMCS_GUEST_IA32_SYSENTER_EIP },
	};
	for (unsigned i = 0; i < sizeof(in_vmcs) / sizeof(in_vmcs[0]); i++)
		if (in_vmcs[i].msr == index) {
			vmwrite_fast(in_vmcs[i].field, data);
			vmcs_set(n->v02, in_vmcs[i].field, data);
			return 0;
		}
	bool canonical = (uint64_t)((int64_t)(data << 16) >> 16) == data;
	switch (index) {
	case 0xc0000081: case 0xc0000084:                 /* STAR, SFMASK */
		wrmsr(index, data);
		return 0;
	case 0xc0000082: case 0xc0000083: case 0xc0000102: /* LSTAR, CSTAR, KERNEL_GS_BASE */
		if (!canonical)
			return -1;
		wrmsr(index, data);
		return 0;
	default:
		return msr_write(v, index, data);
	}
}

static unsigned load_msr_list(struct vcpu *v, struct nvmx_vcpu *n)
{
	uint64_t count = vmcs_get(&n->st.vmcs12, VMCS_ENTRY_MSR_LOAD_COUNT);
	uint64_t addr = vmcs_get(&n->st.vmcs12, VMCS_ENTRY_MSR_LOAD_ADDR);
	for (uint64_t i = 0; i < count; i++) {
		struct { uint32_t index, reserved; uint64_t data; } ent;
		if (gmem_read(&v->vm->mem, addr + 16 * i, &ent, sizeof(ent)) || ent.reserved ||
		    ent.index == 0xc0000100u || ent.index == 0xc0000101u ||   /* FS/GS base: 26.4 */
		    (ent.index >> 8) == 0x8 ||                                  /* x2APIC range */
		    load_one_msr(v, n, ent.index, ent.data))
			return (unsigned)(i + 1);
	}
	return 0;
}

/* The vCPU now runs L2 on vmcs02 (its image n->v02 is what the CPU
 * holds); then the MSRs L1 asked to load on entry (26.4): a bad one
 * fails the entry with reason 34. */
static void enter_l2(struct vcpu *v, struct nvmx_vcpu *n, bool launch)
{
	struct vmx_vcpu *x = v->arch;
	x->vmcs_pa = n->vmcs02_pa;
	x->launched = n->vmcs02_launched;
	x->timer_armed = vmcs_get(n->v02, VMCS_PIN_BASED_CONTROLS) & PIN_PREEMPT;
	v->rip = x->exit_rip = vmcs_get(n->v02, VMCS_GUEST_RIP);
	v->gpr[RSP] = vmcs_get(n->v02, VMCS_GUEST_RSP);
	v->rflags = vmcs_get(n->v02, VMCS_GUEST_RFLAGS);
	v->mem = &n->l2_mem;
	v->level = 2;   /* the next entry is L0 -> L2 */
	n->in_l2 = true;
	/* L1's VMX-preemption timer counts from this entry (26.5.1); vmx.c
	 * puts min(it, L0's slice) into vmcs02 at every entry into L2, and
	 * a halted L2 wakes for it (kernel/vintr.c) */
	n->l1_timer_deadline = n->info.l1_timer ?
		vmcs02_l1_timer_deadline((uint32_t)VMCS_GET(&n->st.vmcs12, PREEMPTION_TIMER_VALUE), adv.misc & 31,
					 rdtsc()) : UINT64_MAX;
	v->nested_deadline = n->l1_timer_deadline;
	if (n->l2_no_vpid)
		vpid02_flush(n->vpid02, 0, false);
	n->entry_was_launch = launch;
	if (vmcs_get(&n->st.vmcs12, VMCS_ENTRY_MSR_LOAD_COUNT)) {
		unsigned bad = load_msr_list(v, n);
		if (bad) {
			log_warn("vm %s: vCPU %u: VM-entry MSR-load entry %u of vmcs12 is invalid",
				 v->vm->cfg->name, v->index, bad);
			entry_fails(v, n, VMX_EXIT_ENTRY_FAIL_MSR, bad);
			return;   /* the VMCS stays clear (27.8: no launch) */
		}
	}
	if (launch)
		nvmx_entry_done(&n->st);
}

/* VMLAUNCH / VMRESUME passed the instruction checks (NVMX_ENTER). */

static void nested_entry(struct vcpu *v, struct nvmx_vcpu *n, bool launch, unsigned len)
{
	struct vm *vm = v->vm;
	struct vmcs_image *v12 = &n->st.vmcs12;

	n->stats.entries++;
	/* 1. L1's registers: the state to come back to. */
	vmcs_write(VMCS_GUEST_RIP, v->rip + len);
	vmcs_write(VMCS_GUEST_RSP, v->gpr[RSP]);
	vmcs_write(VMCS_GUEST_RFLAGS, v->rflags);

	/* The fast path: a VMRESUME of the vmcs12 whose merge vmcs02 holds,
	 * where L1 changed only hot fields (shadow_store found which).  Those
	 * are copied as they are by the merge, so they are written alone;
	 * the CPU checks them as it enters vmcs02 (a refusal comes back as
	 * VMfailValid, nvmx_entry_vmfail, or as an entry-failure exit). */
	if (!launch && n->merged && n->merged_vmcs12 == n->st.current && n->shadow_live &&
	    !n->cold_changed) {
		for (unsigned i = 0; i < l1_kept_count; i++)
			n->v01->v[l1_kept_idx[i]] = vmread_fast(enc_of[l1_kept_idx[i]]);
		vmx_make_current(n->vmcs02_pa);
		for (unsigned i = 0; i < n->hot_count; i++) {
			unsigned k = n->hot_changed[i];
			vmwrite_fast(enc_of[k], v12->v[k]);
			n->v02->v[k] = v12->v[k];
		}
		n->stats.fast_entries++;
		if (teach_on(v, true))
			teach(v, "L1 VMRESUME, vmcs12 at %#lx: only %u hot field(s) changed in the shadow VMCS: "
			      "written into vmcs02 as they are, the CPU checks them; L2 resumes at RIP %#lx",
			      n->st.current, n->hot_count, vmcs_get(v12, VMCS_GUEST_RIP));
		enter_l2(v, n, false);
		return;
	}

	snapshot_fast(n->v01);

	/* 2. The checks of SDM 27.2-27.3 on vmcs12, as a table. */
	struct vmx_check_failure fails[4];
int nf = vmx_check_entry(v12, &adv, cpu_caps.phys_bits, fails, 4);
	if (nf) {
		uint32_t verdict = vmx_check_verdict(fails, nf);
		if (teach_on(v, true))
			teach(v, "L1 %s, vmcs12 at %#lx: fails SDM %s \"%s\"", launch ? "VMLAUNCH" : "VMRESUME",
			      n->st.current, fails[0].sdm_ref, fails[0].name);
		log_warn("vm %s: vCPU %u: %s of vmcs12: fails SDM %s: %s", vm->cfg->name, v->index,
			 launch ? "VMLAUNCH" : "VMRESUME", fails[0].sdm_ref, fails[0].name);
		if (vmx_verdict_kind(verdict) == VMX_VERDICT_FAIL_VALID) {
			struct nvmx_result r = nvmx_fail(&n->st, v->rflags, vmx_verdict_error(verdict));
			v->rflags = r.rflags;
			v->rip += len;
			n->stats.entry_fail_valid++;
		} else {
			entry_fails(v, n, vmx_verdict_reason(verdict), vmx_verdict_qual(verdict));
		}
		return;
	}

	/* 26.3.1.5, the part that reads memory: with VMCS shadowing, the
	 * VMCS the link pointer names must be a shadow VMCS of our revision
	 * (bits 30:0; bit 31 set).  Else a VM-entry failure, qualification 4. */
	if (l2_shadowing(v12) && VMCS_GET(v12, VMCS_LINK_POINTER) != ~0ull) {
		uint32_t rev = 0;
		if (vmcs12_read_revision(&vm->mem, VMCS_GET(v12, VMCS_LINK_POINTER), &rev) != 0 ||
		    rev != (VMX_BASIC_REVISION(adv.basic) | VMCS12_SHADOW_INDICATOR)) {
			log_warn("vm %s: vCPU %u: %s of vmcs12: the VMCS link pointer %#lx names no shadow VMCS "
				 "(revision %#x, SDM 26.3.1.5)", vm->cfg->name, v->index, launch ? "VMLAUNCH" : "VMRESUME",
				 VMCS_GET(v12, VMCS_LINK_POINTER), rev);
			entry_fails(v, n, VMX_EXIT_ENTRY_FAIL_GUEST, 4);
			return;
		}
	}

	/* 3. EPT02 stands for the combined-mapping TLB of EPTP12: one per
	 * EPTP12, a few kept.  Each VPID12 runs as a VPID02 of its own
	 * (nested_tags), so L1's guests never share mappings and L1's
	 * INVVPID flushes just the one it names; a VPID02 given to another
	 * VPID12 starts empty.  Without VPID in vmcs12, every VM entry and
	 * exit flushes L2's mappings on hardware (SDM 29.4.3.3): here its
	 * VPID02 is flushed at every entry. */
	uint64_t eptp12 = l1_uses_ept(n) ? vmcs_get(v12, VMCS_EPT_POINTER) : 0;
	bool vpid12_on = (vmcs_get(v12, VMCS_PROC_BASED_CONTROLS) & NVMX_PROC_SECONDARY) &&
			 (vmcs_get(v12, VMCS_SECONDARY_CONTROLS) & NVMX_PROC2_VPID);
	uint16_t vpid12 = vpid12_on ? (uint16_t)vmcs_get(v12, VMCS_VPID) : 0;
	if (eptp12) {
		struct ept02 *t = ept02_for(n, eptp12);
		if (t != n->ept)
			n->l2_view.gen++;   /* L2's addresses translate through another table */
		n->ept = t;
	}
	bool fresh;
	n->vpid02 = (uint16_t)nested_tags_get(&n->vpids, vpid12, &fresh);
	n->l2_no_vpid = !vpid12_on;
	if (fresh && vpid12_on) {
		vpid02_flush(n->vpid02, 0, false);   /* the slot's last VPID12's mappings */
		n->stats.vpid02_assigned++;
	}

	/* 4. vmcs02 = vmcs12 (L2's state, L1's controls) + what L0 needs. */
	struct vmcs02_l0 l0 = {
		.pin = NVMX_PIN_EXTINT | NVMX_PIN_NMI | NVMX_PIN_VNMI,
		.proc = NVMX_PROC_IO_BITMAPS | NVMX_PROC_MSR_BITMAPS | NVMX_PROC_SECONDARY,
		.proc2 = NVMX_PROC2_EPT | ((vmx_hw_caps()->procbased2 >> 32) & NVMX_PROC2_VPID),
		.exit = (uint32_t)vmcs_get(n->v01, VMCS_EXIT_CONTROLS),
		.exception_bitmap = (uint32_t)vmcs_get(n->v01, VMCS_EXCEPTION_BITMAP),
		.cr0_mask = vmcs_get(n->v01, VMCS_CR0_GUEST_HOST_MASK),
		.cr4_mask = vmcs_get(n->v01, VMCS_CR4_GUEST_HOST_MASK),
		.tsc_offset = vmcs_get(n->v01, VMCS_TSC_OFFSET),
		.vpid02 = n->vpid02,
		.eptp02 = eptp12 ? s2pt_eptp(&n->ept->t) : s2pt_eptp(&vm->s2),
		.l0_io_a = (const uint8_t *)vmx_io_bitmaps_pa,
		.l0_io_b = (const uint8_t *)(vmx_io_bitmaps_pa + PAGE_SIZE),
		.l0_msr = (const uint8_t *)vmx_msr_bitmap_pa,
		.io_a = n->io_a, .io_b = n->io_b, .msr = n->msr,
		/* L0 takes every port and every MSR but the guest-owned ones
		 * (vmx_make_bitmaps): no 12 KiB of bitmaps to merge per entry */
		.io_all_hpa = vmx_io_bitmaps_pa,
		.msr_pass = guest_owned_msrs, .msr_pass_count = guest_owned_msrs_count,
		.io_a_hpa = (uint64_t)n->io_a, .io_b_hpa = (uint64_t)n->io_b, .msr_hpa = (uint64_t)n->msr,
	};

	vmcs02_merge(n->next02, v12, n->v01, &l0, vmx_hw_caps(), &vm->mem, &n->info);

	/* 5. Into the hardware vmcs02: every field the CPU has that software
	 * may write (SDM 25.11.3: VMCLEAR before its first VMPTRLD). */
	if (!n->vmcs02_launched) {
		vmx_clear(n->vmcs02_pa);
		n->v02_valid = false;
	}
	vmx_make_current(n->vmcs02_pa);
	/* only what differs from what the hardware vmcs02 holds */
	for (unsigned i = 0; i < writable_count; i++) {
		unsigned k = writable_idx[i];
		if (!n->v02_valid || n->next02->v[k] != n->v02->v[k]) {
			vmwrite_fast(enc_of[k], n->next02->v[k]);
			n->v02->v[k] = n->next02->v[k];
		}
	}
	n->v02_valid = true;
	n->merged = true;
	n->merged_vmcs12 = n->st.current;
	if (teach_on(v, true)) {
		teach(v, "L1 %s, vmcs12 at %#lx: the checks of SDM 26.2-26.3 pass; vmcs02 = vmcs12 + vmcs01:",
		      launch ? "VMLAUNCH" : "VMRESUME", n->st.current);
		teach(v, "    pin %#lx proc %#lx proc2 %#lx (L1's: %#lx %#lx %#lx)",
		      vmcs_get(n->v02, VMCS_PIN_BASED_CONTROLS), vmcs_get(n->v02, VMCS_PROC_BASED_CONTROLS),
		      vmcs_get(n->v02, VMCS_SECONDARY_CONTROLS), vmcs_get(v12, VMCS_PIN_BASED_CONTROLS),
		      vmcs_get(v12, VMCS_PROC_BASED_CONTROLS), vmcs_get(v12, VMCS_SECONDARY_CONTROLS));
		teach(v, "    EPTP %#lx (%s), VPID %lu; L2 starts at RIP %#lx",
		      vmcs_get(n->v02, VMCS_EPT_POINTER), eptp12 ? "EPT02 for L1's EPT12" : "EPT01: L1 uses no EPT",
		      vmcs_get(n->v02, VMCS_VPID), vmcs_get(n->v02, VMCS_GUEST_RIP));
	}

	enter_l2(v, n, launch);
}

/* ---- L1's VMX instructions (SDM 31) ---------------------------------------- */

static const struct { uint16_t reason; uint8_t insn; bool operand; } vmx_insns[] = {
	{ VMX_EXIT_VMCLEAR, NVMX_VMCLEAR, true },   { VMX_EXIT_VMLAUNCH, NVMX_VMLAUNCH, false },
	{ VMX_EXIT_VMPTRLD, NVMX_VMPTRLD, true },   { VMX_EXIT_VMPTRST, NVMX_VMPTRST, true },
	{ VMX_EXIT_VMREAD, NVMX_VMREAD, true },     { VMX_EXIT_VMRESUME, NVMX_VMRESUME, false },
	{ VMX_EXIT_VMWRITE, NVMX_VMWRITE, true },   { VMX_EXIT_VMXOFF, NVMX_VMXOFF, false },
	{ VMX_EXIT_VMXON, NVMX_VMXON, true },       { VMX_EXIT_INVEPT, NVMX_INVEPT, true },
	{ VMX_EXIT_INVVPID, NVMX_INVVPID, true },
};

static void apply_flush(struct nvmx_vcpu *n, const struct nvmx_result *r)
{
	switch (r->flush) {
	case NVMX_FLUSH_NONE:
		break;
	case NVMX_FLUSH_EPT_SINGLE:   /* the EPT02 built from that EPTP12 */
		for (unsigned i = 0; i < EPT02_SLOTS; i++)
			if (n->ept02[i].live && n->ept02[i].eptp12 == r->eptp)
				ept02_zap(n, &n->ept02[i]);
		break;
	case NVMX_FLUSH_EPT_ALL:      /* every EPT02 of this L1 */
		for (unsigned i = 0; i < EPT02_SLOTS; i++)
			if (n->ept02[i].live)
				ept02_zap(n, &n->ept02[i]);
		break;
	case NVMX_FLUSH_VPID_ADDR:    /* SDM 31 INVVPID: its VPID02, if it has one */
	case NVMX_FLUSH_VPID_SINGLE:
	case NVMX_FLUSH_VPID_SINGLE_NG: {
		uint16_t vpid02 = (uint16_t)nested_tags_find(&n->vpids, r->vpid);
		if (vpid02)   /* else nothing is cached under it */
			vpid02_flush(vpid02, r->gla, r->flush == NVMX_FLUSH_VPID_ADDR);
		break;
	}
	case NVMX_FLUSH_VPID_ALL:     /* every VPID02 of this vCPU, none of another VM's */
		for (unsigned i = 0; i < NESTED_TAG_SLOTS; i++)
			if (nested_tags_slot(&n->vpids, i))
				vpid02_flush((uint16_t)nested_tags_slot(&n->vpids, i), 0, false);
		break;
	}
}

static bool l1_vmx_insn(struct vcpu *v, struct nvmx_vcpu *n, uint32_t reason, unsigned len)
{
	int k = -1;
	for (unsigned i = 0; i < sizeof(vmx_insns) / sizeof(vmx_insns[0]); i++)
		if (vmx_insns[i].reason == reason)
			k = (int)i;
	if (k < 0)
		return false;
	enum nvmx_insn insn = vmx_insns[k].insn;
	struct nvmx_cpu cpu = l1_cpu(v);
	struct nvmx_operand op = { 0 };
	bool mode64 = cpu.mode == NVMX_MODE_64;
	n->stats.insns++;
	if (vmx_insns[k].operand &&
	    !nvmx_decode_insn_info((uint32_t)vmcs_read(VMCS_VMX_INSTRUCTION_INFO),
				   vmcs_read(VMCS_EXIT_QUALIFICATION), &op)) {
		vcpu_ops->inject_exception(v, VEC_UD, false, 0);
		return true;
	}
	enum nvmx_outcome pre = nvmx_insn_precheck(&n->st, &cpu, &adv, insn, op.is_reg);
	if (pre == NVMX_INJECT_UD || pre == NVMX_INJECT_GP0) {
		vcpu_ops->inject_exception(v, pre == NVMX_INJECT_UD ? VEC_UD : VEC_GP, pre == NVMX_INJECT_GP0, 0);
		return true;
	}
	struct vm *vm = v->vm;
	uint64_t ptr = 0, val = 0, desc[2] = { 0, 0 };
	/* L0 is about to use or write back vmcs12: take what L1 wrote into the
	 * shadow (VMREAD/VMWRITE exits touch only fields the shadow lacks). */
	if (insn != NVMX_VMREAD && insn != NVMX_VMWRITE && insn != NVMX_VMPTRST)
		shadow_store(v, n);
	uint64_t was_current = n->st.current;
	uint64_t reg2 = mode64 ? v->gpr[op.reg2] : (uint32_t)v->gpr[op.reg2];
	struct nvmx_result r;
	switch (insn) {
	case NVMX_VMXON:
	case NVMX_VMCLEAR:
	case NVMX_VMPTRLD:
		if (!op.is_reg && !operand_io(v, &op, &ptr, 8, false))
			return true;
		r = insn == NVMX_VMXON ? nvmx_vmxon(&n->st, &cpu, &adv, &vm->mem, op.is_reg, ptr) :
		    insn == NVMX_VMCLEAR ? nvmx_vmclear(&n->st, &cpu, &adv, &vm->mem, op.is_reg, ptr) :
		    nvmx_vmptrld(&n->st, &cpu, &adv, &vm->mem, op.is_reg, ptr);
		break;
	case NVMX_VMXOFF:
		r = nvmx_vmxoff(&n->st, &cpu, &adv, &vm->mem);
		break;
	case NVMX_VMPTRST:
		r = nvmx_vmptrst(&n->st, &cpu, &adv, op.is_reg);
		break;
	case NVMX_VMREAD:
		r = nvmx_vmread(&n->st, &cpu, &adv, reg2);
		break;
	case NVMX_VMWRITE:
		if (!vmx_value_in(v, &op, mode64, &val))
			return true;
		r = nvmx_vmwrite(&n->st, &cpu, &adv, reg2, val);
		break;
	case NVMX_VMLAUNCH:
	case NVMX_VMRESUME:
		r = nvmx_vmentry(&n->st, &cpu, &adv, insn == NVMX_VMLAUNCH);
		break;
	case NVMX_INVEPT:
	case NVMX_INVVPID:
		if (!op.is_reg && !operand_io(v, &op, desc, 16, false))
			return true;
		r = insn == NVMX_INVEPT ? nvmx_invept(&n->st, &cpu, &adv, op.is_reg, reg2, desc)
					: nvmx_invvpid(&n->st, &cpu, &adv, op.is_reg, reg2, desc);
		break;
	default:
		return false;
	}
	switch (r.outcome) {
	case NVMX_INJECT_UD:
	case NVMX_INJECT_GP0:
		vcpu_ops->inject_exception(v, r.outcome == NVMX_INJECT_UD ? VEC_UD : VEC_GP,
					   r.outcome == NVMX_INJECT_GP0, 0);
		return true;
	case NVMX_ENTER:
		nested_entry(v, n, insn == NVMX_VMLAUNCH, len);
		return true;
	default:
		break;
	}
	/* VMsucceed / VMfail: the result, then past the instruction. */
	if (insn == NVMX_VMREAD && r.outcome == NVMX_SUCCEED && !vmx_value_out(v, &op, mode64, r.value))
		return true;
	if (insn == NVMX_VMPTRST && r.outcome == NVMX_SUCCEED && !operand_io(v, &op, &r.value, 8, true))
		return true;
	if (r.outcome == NVMX_FAIL_VALID)
		log_debug("vm %s: vCPU %u: VMX instruction %u: VMfailValid %u", vm->cfg->name, v->index,
			  (unsigned)insn, r.error);
	apply_flush(n, &r);
	if (insn == NVMX_VMWRITE && r.outcome == NVMX_SUCCEED)
		n->merged = false;   /* a field outside the shadow: merge it next entry */
	if (n->st.current != was_current) {
		n->merged = false;
		if (n->st.current == NVMX_NO_VMCS)
			shadow_unlink(v, n);
		else
			shadow_load(v, n);
	}
	vmx_insn_done(v, r.rflags, len, mode64);
	return true;
}

/* ---- L2's exits ---------------------------------------------------------- */

/*
 * L2's VMREAD or VMWRITE under L1's VMCS shadowing, which Nestor offers
 * even though vmcs02 does not use the CPU's (SDM 31 VMREAD/VMWRITE
 * "Operation", 25.10): unless the encoding has bits 63:15 set or L1's
 * VMREAD/VMWRITE bitmap has its bit set — then it is a VM exit to L1,
 * false — L0 does it on the VMCS the link pointer names, a shadow VMCS
 * in L1 memory in vmcs12's layout: #GP at CPL > 0, VMfailInvalid with
 * no link, VMfailValid (into vmcs12's VM-instruction error field) for a
 * field L1's CPU does not have or a read-only one, else the value.
 */
static bool l2_shadow_vmcs_insn(struct vcpu *v, struct nvmx_vcpu *n, uint16_t basic, unsigned len)
{
	const struct vmcs_image *v12 = &n->st.vmcs12;
	struct vm *vm = v->vm;
	bool write = basic == VMX_EXIT_VMWRITE;
	if (!l2_shadowing(v12))
		return false;
	struct nvmx_cpu cpu = l1_cpu(v);   /* vmcs02 is current: L2's CPL and mode */
	bool mode64 = cpu.mode == NVMX_MODE_64;
	struct nvmx_operand op = { 0 };
	if (!nvmx_decode_insn_info((uint32_t)vmcs_read(VMCS_VMX_INSTRUCTION_INFO), vmcs_read(VMCS_EXIT_QUALIFICATION),
				   &op))
		return false;
	uint64_t enc = mode64 ? v->gpr[op.reg2] : (uint32_t)v->gpr[op.reg2];
	uint8_t byte;
	uint64_t bitmap = write ? VMCS_GET(v12, VMWRITE_BITMAP) : VMCS_GET(v12, VMREAD_BITMAP);
	if ((enc >> 15) || gmem_read(&vm->mem, bitmap + ((enc & 0x7fff) >> 3), &byte, 1) ||
	    (byte >> (enc & 7)) & 1)
		return false;                      /* L1's: a VM exit */
	n->stats.l2_shadow_vmcs++;
	if (cpu.cpl > 0) {
		vcpu_ops->inject_exception(v, VEC_GP, true, 0);
		return true;
	}
	uint64_t val = 0;
	if (write && !vmx_value_in(v, &op, mode64, &val))
		return true;
	/* the shadow VMCS, as VMREAD/VMWRITE in VMX root see a current one */
	struct nvmx_state *tmp = n->shadow12;
	uint64_t link = VMCS_GET(v12, VMCS_LINK_POINTER);
	bool launched = false;
	struct nvmx_result r;
	memset(tmp, 0, sizeof(*tmp));
	tmp->vmxon = true;
	tmp->shadow = true;
	if (link == ~0ull || vmcs12_load(&vm->mem, link, &tmp->vmcs12, &launched) != 0) {
		r = nvmx_fail_invalid(v->rflags);
	} else {
		tmp->current = link;
		r = write ? nvmx_vmwrite(tmp, &cpu, &adv, enc, val) : nvmx_vmread(tmp, &cpu, &adv, enc);
		if (write && r.outcome == NVMX_SUCCEED)
			vmcs12_store(&vm->mem, link, &tmp->vmcs12, launched);
	}
	if (r.outcome == NVMX_FAIL_VALID)   /* "the VM-instruction error field of the current VMCS" */
		vmcs_set(&n->st.vmcs12, VMCS_VM_INSTRUCTION_ERROR, r.error);
	if (!write && r.outcome == NVMX_SUCCEED && !vmx_value_out(v, &op, mode64, r.value))
		return true;
	vmx_insn_done(v, r.rflags, len, mode64);
	return true;
}

static void read_exit(struct vcpu *v, uint32_t reason, struct nvmx_exit *e)
{
	*e = (struct nvmx_exit){
		.reason = reason,
		.qual = vmcs_read(VMCS_EXIT_QUALIFICATION),
		.gla = vmcs_read(VMCS_GUEST_LINEAR_ADDRESS),
		.gpa = vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS),
		.intr_info = (uint32_t)vmcs_read(VMCS_EXIT_INTR_INFO),
		.intr_error = (uint32_t)vmcs_read(VMCS_EXIT_INTR_ERROR_CODE),
		.idt_info = (uint32_t)vmcs_read(VMCS_IDT_VECTORING_INFO),
		.idt_error = (uint32_t)vmcs_read(VMCS_IDT_VECTORING_ERROR_CODE),
		.insn_len = (uint32_t)vmcs_read(VMCS_EXIT_INSTRUCTION_LEN),
		.insn_info = (uint32_t)vmcs_read(VMCS_VMX_INSTRUCTION_INFO),
	};
	(void)v;
}

/* EPT violation of vmcs02 (SDM 29.3.3.2) while L1 uses EPT: compose
 * EPT02, or it is L1's EPT exit, or L1's MMIO (e->npf.gpa becomes it).
 * true: done (mapped, or reflected). */
static bool l2_ept(struct vcpu *v, struct nvmx_vcpu *n, struct nvmx_exit *x, struct vm_exit *e)
{
	struct vm *vm = v->vm;
	unsigned access = (x->qual & 4) ? NVMX_EPT_X : (x->qual & 2) ? NVMX_EPT_W : NVMX_EPT_R;
	struct nvmx_ept_walk w = {
		.eptp12 = vmcs_get(&n->st.vmcs12, VMCS_EPT_POINTER), .l2_gpa = x->gpa, .access = access,
		.gla_valid = (x->qual >> 7) & 1, .gla_translation = (x->qual >> 8) & 1,
		.maxphyaddr = cpu_caps.phys_bits,
	};
	struct nvmx_ept_result r;
	switch (nvmx_ept_compose(&vm->mem, &adv, &w, ept01_lookup, &vm->s2, &r)) {
	case NVMX_EPT_MAP:
		if (s2pt_map(&n->ept->t, r.gpa, r.hpa, r.size, r.perms, S2_EPT_MT_WB))
			ept02_zap(n, n->ept);   /* out of frames: start over */
		n->stats.ept02_fills++;
		return true;
	case NVMX_EPT_VIOLATION:
	case NVMX_EPT_MISCONFIG: {
		struct nvmx_exit to_l1 = *x;
		if (r.kind == NVMX_EPT_VIOLATION) {
			to_l1.qual = r.qual | (x->qual & (1u << 12));  /* NMI unblocking (28.2.1) */
		} else {
			to_l1.reason = VMX_EXIT_EPT_MISCONFIG;
			to_l1.qual = 0;
		}
		n->stats.ept_to_l1++;
		vmexit_to_l1(v, n, &to_l1);
		return true;
	}
	default:
		e->npf.gpa = r.l1_gpa;  /* L2 reaches L1's MMIO: L0's device model */
		return false;
	}
}

static bool l2_exit(struct vcpu *v, struct nvmx_vcpu *n, uint32_t reason, struct vm_exit *e)
{
	struct vmx_vcpu *x = v->arch;
	n->vmcs02_launched = x->launched = true;
	struct nvmx_exit ex;
	read_exit(v, reason, &ex);
	if (reason & (1u << 31)) {
		/* vmcs02 refused by the CPU: its guest state came from L1. */
		log_warn("vm %s: vCPU %u: the CPU refused vmcs02 (reason %u): VM-entry failure to L1",
			 v->vm->cfg->name, v->index, reason & 0xffff);
		entry_fails(v, n, reason & 0xffff, ex.qual);
		return true;
	}
	uint16_t basic = reason & 0xffff;
	if (basic == VMX_EXIT_EPT_VIOLATION && l1_uses_ept(n))
		return l2_ept(v, n, &ex, e);
	if ((basic == VMX_EXIT_VMREAD || basic == VMX_EXIT_VMWRITE) && l2_shadow_vmcs_insn(v, n, basic, ex.insn_len))
		return true;
	if (n->info.l1_timer)
		n->info.l1_timer_left = vmcs02_l1_timer_left(n->l1_timer_deadline, adv.misc & 31, v->exit_tsc);
	struct nvmx_reflect_ctx ctx = {
		.msr = (uint32_t)v->gpr[RCX],
		.l1_timer_expired = vmcs02_l1_timer_expired(&n->info, reason),
	};
	if (basic == VMX_EXIT_CR_ACCESS)
		ctx.cr_value = v->gpr[(ex.qual >> 8) & 15];
	bool to_l1 = nvmx_reflect_exit_to_l1(&n->st.vmcs12, &ex, &ctx, &v->vm->mem);
	if (teach_on(v, false) && (to_l1 || teach_first(v, basic)))
		teach(v, "L2 exit %u (%s) at RIP %#lx: %s (%s)", basic, vmx_exit_reason_name(basic), v->rip,
		      to_l1 ? "L1 asked for it: goes to L1" :
		      "L1 did not ask: L0 handles it, L2 resumes (more like it not shown)",
		      basic <= VMX_EXIT__MAX ? nvmx_reflect_table[basic].why : "?");
	if (!to_l1) {
		n->stats.l2_exits_l0++;
		return false;   /* L0's: the common handlers, on vmcs02 */
	}
	vmexit_to_l1(v, n, &ex);
	return true;
}

void nvmx_after_exit(struct vcpu *v, struct vm_exit *e)
{
	struct nvmx_vcpu *n = nested_of(v);
	uint32_t reason = (uint32_t)e->reason;
	bool done = n->in_l2 ? l2_exit(v, n, reason, e) : l1_vmx_insn(v, n, reason & 0xffff, e->insn_len);
	if (done)
		*e = (struct vm_exit){ .kind = EXIT_NESTED, .reason = reason };
}

/* ---- events for L1 while L2 runs (SDM 26.2, 28.2.2) ------------------------ */

bool nvmx_irq_injectable(struct vcpu *v)
{
	struct nvmx_vcpu *n = nested_of(v);
	return !n->in_l2 || !nvmx_l1_wants_extint(&n->st.vmcs12);
}

bool nvmx_nmi_injectable(struct vcpu *v)
{
	struct nvmx_vcpu *n = nested_of(v);
	return !n->in_l2 || !nvmx_l1_wants_nmi(&n->st.vmcs12);
}

bool nvmx_irq_window_nested(struct vcpu *v)
{
	struct nvmx_vcpu *n = nested_of(v);
	if (!n->in_l2 || !nvmx_l1_wants_extint(&n->st.vmcs12))
		return false;
	n->l1_exit_pending = VMX_EXIT_EXTERNAL_INTERRUPT;
	return true;
}

bool nvmx_nmi_window_nested(struct vcpu *v)
{
	struct nvmx_vcpu *n = nested_of(v);
	if (!n->in_l2 || !nvmx_l1_wants_nmi(&n->st.vmcs12))
		return false;
	n->l1_nmi_pending = true;
	return true;
}

/* An external interrupt (or NMI) for L1 that L1 takes as a VM exit: with
 * "acknowledge interrupt on exit" the vector is taken from L1's LAPIC and
 * reported in the exit's interruption information (SDM 28.2.2). */
bool nvmx_before_run(struct vcpu *v, struct vm_exit *e)
{
	struct nvmx_vcpu *n = nested_of(v);
	if (!n->in_l2 || (!n->l1_exit_pending && !n->l1_nmi_pending))
		return false;
	/* An event vmcs02 injects is delivered before the exit
	 * (exit_reflect.h): enter L2 with L0's timer set to expire at once, so
	 * L2 exits right after the delivery and the exit for L1 is made up on
	 * the next pass, with nothing left to report as IDT-vectoring
	 * information. */
	vmx_make_current(n->vmcs02_pa);
	if (nvmx_pending_exit_when((uint32_t)vmcs_read(VMCS_ENTRY_INTR_INFO)) == NVMX_PENDING_EXIT_AFTER_ENTRY) {
		v->run_until = rdtsc();
		n->stats.exit_after_inj++;
		return false;
	}
	struct nvmx_exit ex = { .reason = VMX_EXIT_EXTERNAL_INTERRUPT };
	if (n->l1_nmi_pending) {
		ex.reason = VMX_EXIT_EXCEPTION_NMI;
		ex.intr_info = INTR_VALID | (2u << 8) | 2;
		__atomic_store_n(&v->pending_nmi, false, __ATOMIC_RELEASE);
	} else if (vmcs_get(&n->st.vmcs12, VMCS_EXIT_CONTROLS) & NVMX_EXIT_ACK_INTR) {
		spin_lock(&v->irq_lock);
		int vec = vlapic_pending(&v->lapic);
		if (vec >= 0)
			vlapic_ack(&v->lapic, (uint8_t)vec);
		spin_unlock(&v->irq_lock);
		if (vec >= 0)
			ex.intr_info = INTR_VALID | (uint32_t)vec;
	}
	n->l1_nmi_pending = false;
	n->stats.intr_to_l1++;
	vmexit_to_l1(v, n, &ex);
	*e = (struct vm_exit){ .kind = EXIT_NESTED, .reason = ex.reason };
	return true;
}

bool nvmx_in_l2(struct vcpu *v) { return nested_of(v)->in_l2; }

void nvmx_entry_vmfail(struct vcpu *v, uint32_t err)
{
	struct nvmx_vcpu *n = nested_of(v);
	struct vmx_vcpu *x = v->arch;
	log_warn("vm %s: vCPU %u: the CPU refused vmcs02 (%s): L1's VM entry fails", v->vm->cfg->name,
		 v->index, err ? vmx_insn_error_name(err) : "VMfailInvalid");
	vmx_make_current(x->vmcs01_pa);
	x->vmcs_pa = x->vmcs01_pa;
	x->launched = true;
	x->timer_armed = vmcs_read(VMCS_PIN_BASED_CONTROLS) & PIN_PREEMPT;
	/* L1 continues after its VMLAUNCH/VMRESUME (n->v01 holds that RIP) */
	v->rip = x->exit_rip = vmcs_get(n->v01, VMCS_GUEST_RIP);
	v->gpr[RSP] = vmcs_get(n->v01, VMCS_GUEST_RSP);
	uint64_t rflags = vmcs_get(n->v01, VMCS_GUEST_RFLAGS);
	struct nvmx_result r = err ? nvmx_fail(&n->st, rflags, err) : nvmx_fail_invalid(rflags);
	v->rflags = r.rflags;
	if (n->entry_was_launch)
		n->st.launched = false;  /* a failed VMLAUNCH leaves the VMCS clear */
	v->mem = &v->vm->mem;
	v->level = 1;
	n->in_l2 = false;
	n->merged = false;
	n->stats.entry_fail_valid++;
}

void nvmx_report(struct vcpu *v)
{
	struct nvmx_vcpu *n = nested_of(v);
	const struct nvmx_stats *t = &n->stats;
	if (!t->insns)
		return;
	log_info("vm %s: vCPU %u: nested VMX: %lu VMX instructions, %lu VM entries (%lu fast, %lu VMfailValid, "
		 "%lu entry-failure exits), %lu L2 exits to L1, %lu kept by L0, EPT02 %lu fills %lu zaps, "
		 "%lu EPT exits to L1, %lu INTR/NMI to L1 (%lu deferred past an injection), %lu VPID02s assigned, %lu L2 VMREAD/VMWRITE on L1's shadow VMCS",
		 v->vm->cfg->name, v->index, t->insns, t->entries, t->fast_entries, t->entry_fail_valid, t->entry_fail_exit,
		 t->reflected, t->l2_exits_l0, t->ept02_fills, t->ept02_zaps, t->ept_to_l1, t->intr_to_l1, t->exit_after_inj,
		 t->vpid02_assigned, t->l2_shadow_vmcs);
}
