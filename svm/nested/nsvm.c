/*
 * Nested SVM at run time (see nsvm.h and docs/nested-svm.md).  Each
 * transition is one function that reads top to bottom:
 *
 *   emulate_vmrun()   L1 -> L2: check vmcb12, merge vmcb02, switch VMCBs
 *   vmexit_to_l1()    L2 -> L1: write the #VMEXIT into vmcb12, switch back
 *   l2_exit()         whose exit is it: L1's (reflect) or L0's (keep)
 *   l2_npf()          NPT02 from NPT12 x NPT01, or L1's #NPF
 *
 * The decisions are the pure cores' (vmcb12_check.c, vmcb02_merge.c,
 * vmcb_clean.c, exit_reflect.c, npt_compose.c); this file moves state.
 */
#include <string.h>
#include "svm/nested/nsvm.h"
#include "svm/nested/nsvm_arch.h"
#include "svm/nested/vmcb12_check.h"
#include "svm/nested/vmcb02_merge.h"
#include "svm/nested/exit_reflect.h"
#include "kernel/nested_tags.h"
#include "svm/nested/vmcb_clean.h"
#include "svm/nested/npt_compose.h"
#include "kernel/guest_insn.h"
#include "kernel/log.h"
#include "kernel/teach.h"
#include "kernel/platform.h"
#include "kernel/trace_l0.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/percpu.h"
#include "arch/x86/traps.h"
#include "mm/frame.h"

#define VEC_UD 6

#define RFLAGS_IF (1ull << 9)

/* One shadow nested table: NPT12 x NPT01 for one (nCR3, ASID12). */
#define NPT02_SLOTS 4
struct npt02 {
	struct s2pt t;
	bool live;
	uint64_t ncr3;
	uint32_t asid12;
	uint64_t last_use;
	struct tag_lease asid02;       /* its ASID on this vCPU's CPU (asid_pool) */
};

struct nsvm_vcpu {
	struct vmcb *vmcb02;           /* what the CPU runs for L2            */
	struct vmcb *vmcb12;           /* L0's private copy of L1's vmcb12:   */
				       /* checked, then used (no TOCTOU)      */
	uint8_t *msrpm02;              /* L0's MSRPM | L1's (8 KiB)           */
	bool msrpm02_from_l1;          /* its passed-MSR bits came from L1's  */
	uint64_t vmcb12_gpa;
	/* VMCB clean bits (15.15, vmcb_clean.c): the state of the last vmcb12
	 * run or written back, for the groups L1 marks clean */
	struct nsvm_vmcb12_cache *clean_cache;
	bool clean_used;               /* L1 has set clean bits: keep the cache */
	struct nsvm_check_memo check_memo; /* what the last passing checks saw */
	bool in_l2;                    /* vmcb02 is current                   */
	bool gif;                      /* L1's global interrupt flag (15.17), */
				       /* unless vGIF keeps it in vmcb01      */
	bool vgif;                     /* the host's vGIF runs L1's STGI/CLGI */
	uint64_t l1_exit_pending;      /* 0, or INTR/NMI for a made-up exit   */
	/* NPT02: the shadow of NPT12 x NPT01 for the current (nCR3, ASID12) */
	struct npt02 npt02[NPT02_SLOTS];
	struct npt02 *npt;             /* the one vmcb02 runs on (NP on) */
	uint64_t use_clock;
	uint64_t last_ncr3_02;         /* vmcb02's last nCR3: L2's view changes */
	struct nptc_regs nptc;
	/* L2's guest-physical space as kernel/ sees it while L2 runs */
	struct gmem l2_mem;
	struct gmem_view l2_view;
	struct nsvm_stats stats;
	struct vcpu *v;
};

/* ASID02s: each L2 context (an NPT02 slot: nCR3 and ASID12, or ASID12
 * alone without NPT) leases an ASID of its own on its vCPU's physical
 * CPU, from those above the VMs' own (kernel/vm.c: id + 1), in
 * generations (kernel/nested_tags.c, APM 15.16).  So L1's guests never
 * share TLB entries, switching between them flushes nothing, and L1's
 * flush of one ASID12 leaves the others cached.  A CPU with no ASIDs to
 * spare runs every L2 in its VM's ASID and flushes at every VMRUN. */
static struct tag_pool asid_pool[MAX_CPUS];
static bool asid_pool_ready[MAX_CPUS];

static struct tag_pool *asid_pool_of(unsigned pcpu)
{
	if (!asid_pool_ready[pcpu]) {
		tag_pool_init(&asid_pool[pcpu], CFG_MAX_VMS + 1, cpu_caps.svm_asids - 1);
		asid_pool_ready[pcpu] = true;
	}
	return &asid_pool[pcpu];
}

static struct nsvm_vcpu *nested_of(struct vcpu *v) { return ((struct svm_vcpu *)v->arch)->nested; }

/* The TLB_CONTROL that flushes one ASID: 3 with FlushByAsid, else 1
 * (flush everything; APM 15.16.1: 3 and 7 need FlushByAsid). */
static uint8_t flush_cmd(void)
{
	return (cpu_caps.svm_features & SVM_FEATURE_FLUSH_BY_ASID) ? 3 : 1;
}

/* L1's GIF: emulated, or the host's virtual GIF in vmcb01. */
static bool gif_of(const struct vcpu *v)
{
	const struct svm_vcpu *s = v->arch;
	return s->nested->vgif ? (s->vmcb01->ctl.vintr & NSVM_VINTR_GIF) != 0 : s->nested->gif;
}

static void set_gif(struct vcpu *v, bool on)
{
	struct svm_vcpu *s = v->arch;
	s->nested->gif = on;
	if (s->nested->vgif)
		s->vmcb01->ctl.vintr = (s->vmcb01->ctl.vintr & ~NSVM_VINTR_GIF) | (on ? NSVM_VINTR_GIF : 0);
	/* GIF = 1: nothing waits for STGI any more */
	if (on && s->nested->vgif)
		s->vmcb01->ctl.intercept_misc2 &= ~NSVM_MISC2_STGI;
}

static void npt02_zap(struct nsvm_vcpu *n, struct npt02 *t)
{
	if (t->t.tables > 1)
		s2pt_clear(&t->t, frame_table_free);
	t->live = false;
	n->l2_view.gen++;   /* what was read through L2's view may be stale */
	n->stats.npt02_zaps++;
}

/* The NPT02 of (nCR3, ASID12): the one kept from before, or the least
 * recently used slot, emptied for it.  A guest hypervisor that switches
 * between guests (L3 under svmhv: its L2 and its L2's guest) keeps both
 * tables instead of refilling one at every switch. */
static struct npt02 *npt02_for(struct nsvm_vcpu *n, uint64_t ncr3, uint32_t asid12)
{
	struct npt02 *victim = &n->npt02[0];
	for (unsigned i = 0; i < NPT02_SLOTS; i++) {
		struct npt02 *t = &n->npt02[i];
		if (t->live && t->ncr3 == ncr3 && t->asid12 == asid12) {
			t->last_use = ++n->use_clock;
			return t;
		}
		if (!t->live || t->last_use < victim->last_use)
			victim = t;
	}
	if (victim->live)
		npt02_zap(n, victim);
	*victim = (struct npt02){ .t = victim->t, .live = true, .ncr3 = ncr3, .asid12 = asid12,
				  .last_use = ++n->use_clock };
	return victim;
}

static int npt01_lookup(const void *ctx, uint64_t gpa, uint64_t *hpa, unsigned *perms, uint64_t *size)
{
	return s2pt_lookup(ctx, gpa, hpa, perms, size);
}

/* ---- L2's guest-physical space, one page at a time (mm/gmem.h view) ---- */

/* L2 GPA -> the L1 memory range behind it.  NPT02 first (pages L2 has
 * touched); else a walk of NPT12 — the CPU's own walk for this access
 * would set the same accessed bits. */
static bool l2_xlate(void *ctx, uint64_t gpa, struct gmem_range *out)
{
	struct nsvm_vcpu *n = ctx;
	struct vm *vm = n->v->vm;
	uint64_t page = gpa & ~(PAGE_SIZE - 1), l1_gpa, hpa;
	unsigned perms;

	if (!(n->vmcb12->ctl.np_enable & 1)) {
		l1_gpa = gpa; /* no NPT12: L2's physical addresses are L1's */
	} else if (n->npt && s2pt_lookup(&n->npt->t, page, &hpa, &perms, NULL) == 0) {
		*out = (struct gmem_range){ .gpa = page, .size = PAGE_SIZE, .hpa = hpa,
					    .kind = (perms & S2_W) ? GMEM_RAM : GMEM_ROM };
		return true;
	} else {
		struct nptc_result r;
		int k = npt_compose(&vm->mem, &n->nptc, page, 0, npt01_lookup, &vm->s2, &r);
		if (k != NPTC_MAP && k != NPTC_L0_FAULT)
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

int nsvm_vcpu_init(struct vcpu *v, struct svm_vcpu *s)
{
	struct nsvm_vcpu *n = frame_alloc_bytes(sizeof(*n));
	if (!n)
		return -1;
	n->v = v;
	n->vmcb02 = frame_alloc_bytes(PAGE_SIZE);
	n->vmcb12 = frame_alloc_bytes(PAGE_SIZE);
	n->msrpm02 = frame_alloc_bytes(NSVM_MSRPM_SIZE);
	n->clean_cache = frame_alloc_bytes(sizeof(*n->clean_cache));
	if (!n->vmcb02 || !n->vmcb12 || !n->msrpm02 || !n->clean_cache)
		return -1;
	nsvm_clean_forget(n->clean_cache);
	for (unsigned i = 0; i < NPT02_SLOTS; i++)
		if (s2pt_init(&n->npt02[i].t, S2_NPT, frame_table_alloc, NULL, cpu_caps.has_1g_pages))
			return -1;
	memcpy(n->msrpm02, (const void *)svm_msrpm_pa, NSVM_MSRPM_SIZE);
	gmem_init(&n->l2_mem);
	n->l2_view = (struct gmem_view){ .xlate = l2_xlate, .ctx = n };
	n->l2_mem.view = &n->l2_view;
	n->gif = true;
	s->nested = n;
	/* vGIF (15.33): where the host has it, L1's STGI and CLGI run without
	 * an exit, on the V_GIF bit of vmcb01; L0 intercepts STGI only while
	 * an event for L1 waits for GIF (window_nested). */
	if (cpu_caps.svm_features & SVM_FEATURE_VGIF) {
		n->vgif = true;
		s->vmcb01->ctl.vintr |= NSVM_VINTR_GIF_ENABLE | NSVM_VINTR_GIF;
		s->vmcb01->ctl.intercept_misc2 &= ~(NSVM_MISC2_STGI | NSVM_MISC2_CLGI);
	}
	return 0;
}

/* What L1's (virtual) CPU offers, for VMRUN's checks. */
static struct nsvm_limits l1_limits(struct vcpu *v)
{
	return (struct nsvm_limits){
		.maxphyaddr = cpu_caps.phys_bits,
		.efer_valid = 0x1d01,        /* SCE, LME, LMA, NXE, SVME */
		.cr4_valid = 0x003307ff,     /* VME..OSXMMEXCPT, FSGSBASE, PCIDE, SMEP, SMAP */
		.l1_mem = &v->vm->mem,
	};
}

/* The length of the exiting instruction, read at L1's or L2's CS:RIP
 * (whichever level is current); 0 if it is not what the exit says. */
static unsigned insn_len(struct vcpu *v, uint64_t code, uint64_t info1)
{
	static const struct { uint16_t code; uint8_t len; uint8_t op[3]; } ops[] = {
		{ NSVM_EXIT_CPUID, 2, { 0x0f, 0xa2 } },   { NSVM_EXIT_RDTSC, 2, { 0x0f, 0x31 } },
		{ NSVM_EXIT_HLT, 1, { 0xf4 } },           { 0x076 /* INVD */, 2, { 0x0f, 0x08 } },
		{ NSVM_EXIT_PAUSE, 2, { 0xf3, 0x90 } },   { NSVM_EXIT_RDTSCP, 3, { 0x0f, 0x01, 0xf9 } },
		{ NSVM_EXIT_VMRUN, 3, { 0x0f, 0x01, 0xd8 } }, { NSVM_EXIT_VMMCALL, 3, { 0x0f, 0x01, 0xd9 } },
		{ NSVM_EXIT_VMLOAD, 3, { 0x0f, 0x01, 0xda } }, { NSVM_EXIT_VMSAVE, 3, { 0x0f, 0x01, 0xdb } },
		{ NSVM_EXIT_STGI, 3, { 0x0f, 0x01, 0xdc } },  { NSVM_EXIT_CLGI, 3, { 0x0f, 0x01, 0xdd } },
		{ NSVM_EXIT_SKINIT, 3, { 0x0f, 0x01, 0xde } }, { NSVM_EXIT_INVLPGA, 3, { 0x0f, 0x01, 0xdf } },
		{ NSVM_EXIT_XSETBV, 3, { 0x0f, 0x01, 0xd1 } },
	};
	static const uint8_t rdmsr[2] = { 0x0f, 0x32 }, wrmsr[2] = { 0x0f, 0x30 };
	if (code == NSVM_EXIT_MSR)
		return guest_exiting_insn_len(v, info1 ? wrmsr : rdmsr, 2);
	/* MOV to/from CRn and DRn, INVLPG: a ModRM operand, so decode (these
	 * are what an L1 without nested paging intercepts to shadow-page L2) */
	if (code < NSVM_EXIT_EXCP || code == NSVM_EXIT_INVLPG) {
		struct x86_insn insn;
		return guest_decode_at_rip(v, &insn) ? 0 : insn.len;
	}
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].code == code)
			return guest_exiting_insn_len(v, ops[i].op, ops[i].len);
	return 0;
}

/* ---- the teaching trace (kernel/teach.h) ----------------------------------- */

/* The vmcb12 fields a #VMEXIT writes that a student wants to see. */
static const struct { const char *name; uint16_t off, size; } vmcb_told[] = {
#define TOLD(n, f) { n, offsetof(struct vmcb, f), sizeof(((struct vmcb *)0)->f) }
	TOLD("EXITCODE", ctl.exit_code), TOLD("EXITINFO1", ctl.exit_info1),
	TOLD("EXITINFO2", ctl.exit_info2), TOLD("EXITINTINFO", ctl.exit_int_info),
	TOLD("nRIP", ctl.next_rip), TOLD("int_state", ctl.int_state), TOLD("V_INTR", ctl.vintr),
	TOLD("RIP", save.rip), TOLD("RSP", save.rsp), TOLD("RAX", save.rax),
	TOLD("RFLAGS", save.rflags), TOLD("CR0", save.cr0), TOLD("CR2", save.cr2),
	TOLD("CR3", save.cr3), TOLD("CR4", save.cr4), TOLD("EFER", save.efer),
	TOLD("CS.sel", save.cs.selector), TOLD("CPL", save.cpl),
#undef TOLD
};

static uint64_t told_value(const struct vmcb *v, unsigned i)
{
	uint64_t x = 0;
	memcpy(&x, (const uint8_t *)v + vmcb_told[i].off, vmcb_told[i].size);
	return x;
}

static void teach_vmcb12_diff(struct vcpu *v, const struct vmcb *before, const struct vmcb *after)
{
	for (unsigned i = 0; i < sizeof(vmcb_told) / sizeof(vmcb_told[0]); i++) {
		uint64_t a = told_value(before, i), b = told_value(after, i);
		if (a != b)
			teach(v, "    vmcb12.%-11s %#lx -> %#lx", vmcb_told[i].name, a, b);
	}
}

/* ---- L2 -> L1 ---------------------------------------------------------- */

/*
 * #VMEXIT to L1 (APM 15.6): vmcb02's exit fields are set (by the CPU, or
 * by the caller for an exit L0 makes up).  L2's state and the exit go
 * into vmcb12 (L0's copy, then the fields #VMEXIT writes in L1 memory);
 * L1 continues after its VMRUN with GIF = 0, on vmcb01.
 */
static void vmexit_to_l1(struct vcpu *v, bool event_pending)
{
	struct svm_vcpu *s = v->arch;
	struct nsvm_vcpu *n = s->nested;
	struct vmcb *v01 = s->vmcb01, *v02 = n->vmcb02, *v12 = n->vmcb12;

	/* L2's live registers (svm_vcpu_run keeps them in v) */
	v02->save.rax = v->gpr[RAX];
	v02->save.rsp = v->gpr[RSP];
	v02->save.rip = v->rip;
	v02->save.rflags = v->rflags;
	bool told = teach_on(v, true);
	static struct vmcb before;   /* the teaching trace runs on one vCPU */
	if (told) {
		before = *v12;
		teach(v, "#VMEXIT to L1: exit %#lx written into vmcb12 at %#lx (APM 15.6):",
		      v02->ctl.exit_code, n->vmcb12_gpa);
	}
	nsvm_save_l2_state(v12, v02, event_pending);
	if (told)
		teach_vmcb12_diff(v, &before, v12);
	if (nsvm_vmexit_writeback(&v->vm->mem, n->vmcb12_gpa, v12))
		log_warn("vm %s: vCPU %u: vmcb12 %#lx is no longer RAM; #VMEXIT not written",
			 v->vm->cfg->name, v->index, n->vmcb12_gpa);
	/* the CPU's cache holds the state it last wrote back (15.15.2); kept
	 * once L1 has shown it sets clean bits: until then every VMRUN loads
	 * all, as after a cache flush, and caching would cost for nothing */
	if (n->clean_used)
		nsvm_clean_store(n->clean_cache, n->vmcb12_gpa, v12);
	nsvm_vmexit_l1_state(v01, v02);
	v->gpr[RAX] = v01->save.rax;
	v->gpr[RSP] = v01->save.rsp;
	v->rip = v01->save.rip;
	v->rflags = v01->save.rflags;
	s->vmcb = v01;
	v->mem = &v->vm->mem;
	v->level = 1;
	n->in_l2 = false;
	set_gif(v, false);
	n->l1_exit_pending = 0;
	v->halted = false;
	if (told)
		teach(v, "    L1 resumes after its VMRUN at RIP %#lx with GIF = 0", v->rip);
	n->stats.reflected++;
	trace_reflect(v, v02->ctl.exit_code, v02->ctl.exit_info1);
}

/* An exit L0 makes up for L1: the exit fields of vmcb02 as the CPU
 * would have written them.  An INTR/NMI before L2 runs again reports an
 * event L0 was about to inject as EXITINTINFO; an #NPF that L0 found in
 * NPT12 keeps what the CPU reported for the real #NPF (its EXITINTINFO,
 * whose re-injection then is L1's business). */
static void made_up_exit(struct vcpu *v, uint64_t code, uint64_t info1, uint64_t info2, bool before_run)
{
	struct vmcb_control *c02 = &nested_of(v)->vmcb02->ctl;
	bool pending = before_run && (c02->event_inj & NSVM_EVT_V);
	c02->exit_code = code;
	c02->exit_info1 = info1;
	c02->exit_info2 = info2;
	if (before_run)
		c02->exit_int_info = 0;
	c02->next_rip = 0;
	vmexit_to_l1(v, pending);
	c02->event_inj = 0;
}

/* ---- L1 -> L2 ---------------------------------------------------------- */

static void vmrun_failed(struct vcpu *v, struct nsvm_vcpu *n, uint64_t gpa,
			 const struct nsvm_check_failure *f, uint64_t l1_next)
{
	log_warn("vm %s: vCPU %u: VMRUN %#lx: VMEXIT_INVALID: %s (APM %s), value %#lx",
		 v->vm->cfg->name, v->index, gpa, f->name, f->apm_ref, f->value);
	if (teach_on(v, true))
		teach(v, "L1 VMRUN, vmcb12 at %#lx: fails \"%s\" (APM %s): #VMEXIT(VMEXIT_INVALID) at once",
		      gpa, f->name, f->apm_ref);
	nsvm_vmexit_invalid(n->vmcb12);
	nsvm_vmexit_writeback(&v->vm->mem, gpa, n->vmcb12);
	nsvm_clean_forget(n->clean_cache);   /* nothing of a refused VMRUN is cached */
	v->rip = l1_next;
	set_gif(v, false);   /* the #VMEXIT clears GIF */
	n->stats.vmrun_invalid++;
}

/* L1's MSRPM counts only for the MSRs L0 lets through (its own map
 * intercepts every other one): merge just those bits, each VMRUN. */
static void merge_msrpm(struct vcpu *v, struct nsvm_vcpu *n)
{
	const struct vmcb_control *c12 = &n->vmcb12->ctl;
	bool prot = c12->intercept_misc1 & NSVM_MISC1_MSR_PROT;
	if (!prot && !n->msrpm02_from_l1)
		return;   /* L1 intercepts no MSR: the passed ones stay passed */
	n->msrpm02_from_l1 = prot;
	/* L1's map, in L1 RAM (a VMRUN check): one lookup for all of it */
	const uint8_t *map12 = prot ? gmem_ptr(&v->vm->mem, c12->msrpm_base_pa & ~0xfffull,
					       NSVM_MSRPM_SIZE, false) : NULL;
	for (unsigned i = 0; i < guest_owned_msrs_count; i++) {
		uint32_t msr = guest_owned_msrs[i];
		uint32_t off = msr < 0x2000 ? 0 : msr < 0xc0002000u ? 0x800 : 0x1000;
		uint32_t bit = (msr & 0x1fff) * 2;
		uint8_t *byte = &n->msrpm02[off + bit / 8];
		bool rd = prot && (!map12 || nsvm_msrpm_map_intercepts(map12, msr, false));
		bool wr = prot && (!map12 || nsvm_msrpm_map_intercepts(map12, msr, true));
		*byte = (uint8_t)((*byte & ~(3u << (bit % 8))) | ((rd | (wr << 1)) << (bit % 8)));
	}
}

/* L1 executes VMRUN rAX (APM 15.5, vol. 3 "VMRUN"). */
static void emulate_vmrun(struct vcpu *v, struct svm_vcpu *s, struct nsvm_vcpu *n, uint64_t l1_next)
{
	struct vm *vm = v->vm;
	struct vmcb *v01 = s->vmcb01, *v12 = n->vmcb12, *v02 = n->vmcb02;
	uint64_t gpa = vcpu_ops->guest_cs_size(v) == 64 ? v->gpr[RAX] : (uint32_t)v->gpr[RAX];
	struct nsvm_limits lim = l1_limits(v);
	struct nsvm_check_failure f = { 0 };

	n->stats.vmrun++;
	/* 1. The VMCB's address: #GP(0) if L0 cannot use it.  Then one
	 * private copy of what VMRUN reads (nsvm_vmrun_spans): checked, then
	 * used — L1's other vCPUs cannot change it in between (no
	 * time-of-check-to-time-of-use race). */
	const uint8_t *page = nsvm_vmcb12_addr_ok(gpa, &lim, &f) ? gmem_ptr(&vm->mem, gpa, PAGE_SIZE, false) : NULL;
	if (page) {
		nsvm_vmrun_copy(v12, page);
	} else {
		log_warn("vm %s: vCPU %u: VMRUN %#lx: #GP: %s", vm->cfg->name, v->index, gpa,
			 f.name ? f.name : "vmcb12 unreadable");
		vcpu_ops->inject_exception(v, VEC_GP, true, 0);
		n->stats.vmrun_gp++;
		return;
	}
	/* 2. VMCB clean bits (CPUID 8000_000A EDX bit 5, APM 15.15): each
	 * group L1 marks clean comes from the state cached at the last VMRUN
	 * or #VMEXIT of this vmcb12, as a caching CPU would use it; what is
	 * checked and merged below is that effective vmcb12.  A stale group
	 * was checked when it was cached, so it is never unsafe for L0. */
	if (v12->ctl.clean) {
		n->clean_used = true;   /* from now on keep the cache (below) */
		nsvm_clean_apply(v12, n->clean_cache, gpa);
	}
	/* 3. The consistency checks of 15.5.1 (none run again when no field
	 * they read changed since the last VMRUN that passed them). */
	if (nsvm_vmcb12_check_memo(v12, &lim, &n->check_memo, &f, 1)) {
		vmrun_failed(v, n, gpa, &f, l1_next);
		return;
	}
	/* 4. NPT02 stands for the TLB of (nCR3, ASID12): one table per pair,
	 * a few kept; a flush L1 asks for empties them (below).  Each pair
	 * (ASID12 alone without NPT) runs under an ASID02 leased on this CPU
	 * (asid_pool), so switching between them flushes nothing. */
	bool np = v12->ctl.np_enable & 1;
	struct npt02 *ctx = npt02_for(n, np ? v12->ctl.n_cr3 : 0, v12->ctl.asid);
	bool new_generation;
	uint64_t lease_gen = ctx->asid02.gen;
	uint32_t asid02 = tag_pool_lease(asid_pool_of(v->pcpu), &ctx->asid02, &new_generation);
	if (np) {
		n->npt = ctx;
		n->nptc = (struct nptc_regs){
			.ncr3 = v12->ctl.n_cr3, .maxphyaddr = cpu_caps.phys_bits,
			.long_mode = v01->save.efer & NSVM_EFER_LMA, .nxe = v01->save.efer & NSVM_EFER_NXE,
			.allow_1g = cpu_caps.has_1g_pages,
		};
	}
	/* 5. vmcb02 = vmcb12 (L2's state, L1's controls) + vmcb01 (L0's). */
	merge_msrpm(v, n);
	struct nsvm_merge_params p = {
		.msrpm02_pa = (uint64_t)n->msrpm02, .iopm02_pa = svm_iopm_pa, /* L0 intercepts every port */
		.asid02 = asid02 ? asid02 : vm->asid, .n_cr3_02 = np ? n->npt->t.root : vm->s2.root,
		/* a new generation flushes every ASID (TLB_CONTROL 1, 15.16.1) */
		.tlb_flush_cmd = new_generation ? 1 : flush_cmd(),
	};
	/* !asid02: shared with L1, flush every time.  And on a switch to
	 * another L2 context (another nCR3 02), although its ASID02 keeps
	 * the contexts apart on a CPU that tags its TLB by ASID: under QEMU
	 * 7.2, without that flush an L2 found its own page tables unreadable
	 * right after such switches (nested-svm-l3, about 1 run in 4),
	 * docs/emulators.md. */
	p.flush = new_generation || !asid02 || p.n_cr3_02 != n->last_ncr3_02;
	if (asid02 && ctx->asid02.gen != lease_gen)
		n->stats.asid02_leases++;
	if (p.n_cr3_02 != n->last_ncr3_02)
		n->l2_view.gen++;   /* L2's addresses translate through another table */
	n->last_ncr3_02 = p.n_cr3_02;
	nsvm_l0_intercepts(&v01->ctl, &p.l0);
	unsigned l1_flush = nsvm_merge_vmcb02(v02, v12, v01, &p);
	if (l1_flush) {
		/* L1 flushed: the NPT02s are that TLB — all of L1's ASIDs for
		 * TLB_CONTROL 1, else the tables of this ASID12 (15.16.1) */
		for (unsigned i = 0; i < NPT02_SLOTS; i++) {
			struct npt02 *t = &n->npt02[i];
			if (t->live && ((l1_flush & NSVM_MERGE_L1_FLUSH_ALL) || t->asid12 == v12->ctl.asid)) {
				npt02_zap(n, t);
				if (t == n->npt)
					t->live = true;   /* emptied, still this pair's */
			}
		}
	}

	if (teach_on(v, true)) {
		teach(v, "L1 VMRUN, vmcb12 at %#lx: checks of APM 15.5.1 pass; vmcb02 = vmcb12 + vmcb01:", gpa);
		teach(v, "    intercepts L1 %08x %08x | L0 %08x %08x -> %08x %08x (misc1 misc2)",
		      v12->ctl.intercept_misc1, v12->ctl.intercept_misc2, v01->ctl.intercept_misc1,
		      v01->ctl.intercept_misc2, v02->ctl.intercept_misc1, v02->ctl.intercept_misc2);
		teach(v, "    ASID12 %u -> ASID02 %u, TLB_CONTROL %u -> %u; %s %#lx", v12->ctl.asid,
		      v02->ctl.asid, v12->ctl.tlb_control, v02->ctl.tlb_control,
		      np ? "NPT12 under NPT02, nCR3 02 =" : "NP off: L2 on NPT01, nCR3 =", v02->ctl.n_cr3);
		teach(v, "    L2 starts at RIP %#lx, RSP %#lx, EVENTINJ %#lx", v02->save.rip, v02->save.rsp,
		      v02->ctl.event_inj);
	}
	/* 6. L1's registers stay in vmcb01, to resume after its VMRUN. */
	v01->save.rax = v->gpr[RAX];
	v01->save.rsp = v->gpr[RSP];
	v01->save.rip = l1_next;
	v01->save.rflags = v->rflags;
	v->gpr[RAX] = v02->save.rax;
	v->gpr[RSP] = v02->save.rsp;
	v->rip = v02->save.rip;
	v->rflags = v02->save.rflags;
	s->vmcb = v02;
	v->mem = &n->l2_mem;
	v->level = 2;   /* the next entry is L0 -> L2 */
	n->vmcb12_gpa = gpa;
	if (n->clean_used)
		nsvm_clean_store(n->clean_cache, gpa, v12);   /* what this VMRUN loaded */
	n->in_l2 = true;
	set_gif(v, true);
}

/* VMLOAD/VMSAVE move these fields between a VMCB and the CPU (15.5.2):
 * FS, GS, TR, LDTR (hidden state too), KernelGsBase, STAR, LSTAR, CSTAR,
 * SFMASK, SYSENTER_CS/ESP/EIP.  Byte ranges of struct vmcb. */
static const struct nsvm_span vmload_spans[] = {
	{ offsetof(struct vmcb, save.fs), 2 * sizeof(struct vmcb_seg) },   /* FS, GS */
	{ offsetof(struct vmcb, save.ldtr), sizeof(struct vmcb_seg) },
	{ offsetof(struct vmcb, save.tr), sizeof(struct vmcb_seg) },
	{ offsetof(struct vmcb, save.star), 8 * 8 },  /* STAR..KernelGsBase, SYSENTER_* */
};

static bool emulate_vmload_vmsave(struct vcpu *v, struct svm_vcpu *s, struct nsvm_vcpu *n, bool save)
{
	uint64_t gpa = vcpu_ops->guest_cs_size(v) == 64 ? v->gpr[RAX] : (uint32_t)v->gpr[RAX];
	struct nsvm_limits lim = l1_limits(v);
	struct nsvm_check_failure f;
	/* The same address rules as VMRUN's: #GP(0) (vol. 3 VMLOAD/VMSAVE). */
	if (!nsvm_vmcb12_addr_ok(gpa, &lim, &f)) {
		log_warn("vm %s: vCPU %u: %s %#lx: #GP: %s", v->vm->cfg->name, v->index,
			 save ? "VMSAVE" : "VMLOAD", gpa, f.name);
		vcpu_ops->inject_exception(v, VEC_GP, true, 0);
		return false;
	}
	for (unsigned i = 0; i < sizeof(vmload_spans) / sizeof(vmload_spans[0]); i++) {
		const struct nsvm_span *sp = &vmload_spans[i];
		uint8_t *mine = (uint8_t *)s->vmcb01 + sp->off;
		if (save)
			gmem_write(&v->vm->mem, gpa + sp->off, mine, sp->len);
		else
			gmem_read(&v->vm->mem, gpa + sp->off, mine, sp->len);
	}
	save ? n->stats.vmsave++ : n->stats.vmload++;
	return true;
}

/* L1's SVM instructions (vmcb01 intercepts all of them). */
static bool l1_svm_insn(struct vcpu *v, struct svm_vcpu *s, struct nsvm_vcpu *n, uint64_t code)
{
	if (code < NSVM_EXIT_VMRUN || code > NSVM_EXIT_SKINIT || code == NSVM_EXIT_VMMCALL) {
		if (code != NSVM_EXIT_INVLPGA)
			return false;
	}
	/* #UD unless EFER.SVME and protected mode, #GP unless CPL 0: before
	 * anything else (vol. 3, each instruction's exceptions). */
	unsigned fault = nsvm_svm_insn_fault((unsigned)vcpu_ops->guest_cpl(v), vcpu_ops->get_cr(v, 0),
					     vcpu_ops->get_cr(v, VREG_EFER), v->rflags);
	if (code == NSVM_EXIT_SKINIT)
		fault = VEC_UD;  /* SKINIT is not offered (CPUID 8000_0001 ECX bit 12 clear) */
	if (fault) {
		vcpu_ops->inject_exception(v, (uint8_t)fault, fault == VEC_GP, 0);
		return true;
	}
	unsigned len = insn_len(v, code, 0);
	if (!len) {
		vm_end(v->vm, -1, "cannot fetch the SVM instruction L1 executed");
		return true;
	}
	uint64_t next = v->rip + len;
	switch (code) {
	case NSVM_EXIT_VMRUN:
		emulate_vmrun(v, s, n, next);
		return true;   /* RIP: L2's, or after VMRUN, or unchanged (#GP) */
	case NSVM_EXIT_VMLOAD:
	case NSVM_EXIT_VMSAVE:
		if (!emulate_vmload_vmsave(v, s, n, code == NSVM_EXIT_VMSAVE))
			return true;  /* #GP injected: RIP stays */
		break;
	case NSVM_EXIT_STGI:
		set_gif(v, true);  /* pending interrupts are taken now (kernel/vintr.c) */
		n->stats.stgi++;
		break;
	case NSVM_EXIT_CLGI:
		set_gif(v, false);
		n->stats.clgi++;
		break;
	case NSVM_EXIT_INVLPGA:
		/* Invalidate one of L2's linear translations (15.16.2) in the
		 * ASID12 of ECX: its contexts lease fresh ASID02s at their next
		 * VMRUN, which hold nothing (cheaper than a flush). */
		for (unsigned i = 0; i < NPT02_SLOTS; i++)
			if (n->npt02[i].live && n->npt02[i].asid12 == (uint32_t)v->gpr[RCX])
				tag_lease_drop(&n->npt02[i].asid02);
		n->stats.invlpga++;
		break;
	}
	v->rip = next;
	if (vcpu_ops->guest_cs_size(v) != 64)
		v->rip &= 0xffffffffu;
	return true;
}

/* ---- L2's exits ---------------------------------------------------------- */

/* #NPF on vmcb02 (APM 15.25.6): compose NPT02, or it is L1's #NPF, or
 * the L1 address is L0's device (e->npf.gpa becomes it).  true: done. */
static bool l2_npf(struct vcpu *v, struct nsvm_vcpu *n, struct vm_exit *e)
{
	struct vm *vm = v->vm;
	const struct vmcb_control *c02 = &n->vmcb02->ctl;
	struct nptc_result r;
	if (!(n->vmcb12->ctl.np_enable & 1))
		return false;  /* vmcb02 ran on NPT01: an L1 address, L0's device */
	int k = npt_compose(&vm->mem, &n->nptc, c02->exit_info2, c02->exit_info1, npt01_lookup, &vm->s2, &r);
	switch (k) {
	case NPTC_MAP:
		if (teach_on(v, false) && teach_first(v, 0x1000))
			teach(v, "    NPT12 maps L2 GPA %#lx to L1 GPA %#lx, NPT01 to host %#lx: an NPT02 leaf of %lu KiB, %s%s%s",
			      c02->exit_info2, r.l1_gpa, r.hpa, r.size >> 10, (r.perms & S2_R) ? "r" : "-",
			      (r.perms & S2_W) ? "w" : "-", (r.perms & S2_X) ? "x" : "-");
		if (s2pt_map(&n->npt->t, r.gpa02, r.hpa, r.size, r.perms, 0)) {
			npt02_zap(n, n->npt);  /* out of frames: start over */
			n->npt->live = true;
			n->vmcb02->ctl.tlb_control = flush_cmd();
		}
		n->stats.npt02_fills++;
		return true;
	case NPTC_NPF_L1:
		if (r.table_outside)
			log_warn("vm %s: vCPU %u: NPT12 level %u table at %#lx is not L1 RAM: #NPF(RSV) to L1",
				 vm->cfg->name, v->index, r.level, r.entry_gpa);
		n->stats.npf_to_l1++;
		if (teach_on(v, false))
			teach(v, "    NPT12 does not allow L2 GPA %#lx (level %u entry at L1 %#lx): L1's #NPF",
			      c02->exit_info2, r.level, r.entry_gpa);
		made_up_exit(v, NSVM_EXIT_NPF, r.exit_info1, r.exit_info2, false);
		return true;
	case NPTC_L0_FAULT:
		e->npf.gpa = r.l1_gpa;   /* L2 reaches L1's MMIO: L0's device model */
		return false;
	case NPTC_RETRY:
		return true;
	default:
		log_err("vm %s: vCPU %u: nested paging for a legacy-mode L1 is not supported",
			vm->cfg->name, v->index);
		vm_end(vm, -1, "nested paging from a legacy-mode L1");
		return true;
	}
}

/* An exit of L2: L1's if its vmcb12 intercepts it (exit_reflect.c). */
static bool l2_exit(struct vcpu *v, struct nsvm_vcpu *n, struct vm_exit *e)
{
	struct vmcb_control *c02 = &n->vmcb02->ctl;
	struct nsvm_exit x = { .code = c02->exit_code, .info1 = c02->exit_info1,
			       .info2 = c02->exit_info2, .msr = (uint32_t)v->gpr[RCX] };
	const struct nsvm_exit_class *cls = NULL;
	enum nsvm_exit_owner owner = nsvm_reflect_exit(&n->vmcb12->ctl, &v->vm->mem, &x, &cls);
	if (teach_on(v, false) && (owner == NSVM_TO_L1 || teach_first(v, x.code)))
		teach(v, "L2 exit %#lx (%s) at RIP %#lx: %s", x.code, cls ? cls->name : "unknown", v->rip,
		      owner == NSVM_TO_L1 ? "vmcb12 intercepts it: goes to L1" :
		      x.code == NSVM_EXIT_NPF ? "nested page fault: L0 walks NPT12 first (more not shown)" :
		      "L1 does not intercept it: L0 handles it, L2 resumes (more like it not shown)");
	if (owner == NSVM_TO_L0) {
		n->stats.l2_exits_l0++;
		return x.code == NSVM_EXIT_NPF && l2_npf(v, n, e);
	}
	/* nRIP for L1 (15.7.1), which Nestor offers even where the CPU
	 * lacks it: the instruction's end for instruction intercepts, else 0. */
	if (!(cpu_caps.svm_features & SVM_FEATURE_NRIPS)) {
		unsigned len = x.code == NSVM_EXIT_IOIO ? (unsigned)(x.info2 - v->rip) : insn_len(v, x.code, x.info1);
		c02->next_rip = len ? v->rip + len : 0;
	}
	vmexit_to_l1(v, false);
	c02->event_inj = 0;  /* an interrupted delivery is L1's now (EXITINTINFO) */
	return true;
}

void nsvm_after_exit(struct vcpu *v, struct vm_exit *e)
{
	struct svm_vcpu *s = v->arch;
	struct nsvm_vcpu *n = s->nested;
	uint64_t code = s->vmcb->ctl.exit_code;
	bool done = n->in_l2 ? l2_exit(v, n, e) : l1_svm_insn(v, s, n, code);
	if (done) {
		memset(e, 0, sizeof(*e));
		e->kind = EXIT_NESTED;
		e->reason = code;
	}
}

/* ---- events for L1 while L2 runs (15.21) --------------------------------- */

static bool l1_intercepts(struct nsvm_vcpu *n, uint64_t code)
{
	struct nsvm_exit x = { .code = code };
	return nsvm_l1_intercepts(&n->vmcb12->ctl, &n->v->vm->mem, &x);
}

bool nsvm_irq_injectable(struct vcpu *v)
{
	struct nsvm_vcpu *n = nested_of(v);
	if (!n->in_l2)
		return gif_of(v);
	/* Not intercepted: L1's interrupt goes through L2's IDT, as the CPU
	 * would take it in guest mode. */
	return !l1_intercepts(n, NSVM_EXIT_INTR);
}

bool nsvm_nmi_injectable(struct vcpu *v)
{
	struct nsvm_vcpu *n = nested_of(v);
	return n->in_l2 ? !l1_intercepts(n, NSVM_EXIT_NMI) : gif_of(v);
}

static bool window_nested(struct vcpu *v, uint64_t code)
{
	struct nsvm_vcpu *n = nested_of(v);
	if (!n->in_l2) {
		if (gif_of(v))
			return false;
		/* L1's STGI exits: L0 looks again then */
		if (n->vgif)
			((struct svm_vcpu *)v->arch)->vmcb01->ctl.intercept_misc2 |= NSVM_MISC2_STGI;
		return true;
	}
	if (!l1_intercepts(n, code))
		return false;     /* a window in vmcb02, for L2's IF */
	if (!n->l1_exit_pending || code == NSVM_EXIT_NMI)
		n->l1_exit_pending = code;
	return true;
}

bool nsvm_irq_window_nested(struct vcpu *v) { return window_nested(v, NSVM_EXIT_INTR); }
bool nsvm_nmi_window_nested(struct vcpu *v) { return window_nested(v, NSVM_EXIT_NMI); }

bool nsvm_before_run(struct vcpu *v, struct vm_exit *e)
{
	struct nsvm_vcpu *n = nested_of(v);
	if (!n->in_l2 || !n->l1_exit_pending)
		return false;
	/* An event L1's VMRUN injects is delivered before the exit (15.20;
	 * exit_reflect.h): enter L2 with L0's timer set to fire at once, so
	 * L2 exits (INTR, L0's) right after the delivery and the exit for L1
	 * is made up on the next pass, with nothing left in EVENTINJ. */
	if (nsvm_pending_exit_when(&n->vmcb02->ctl) == NSVM_PENDING_EXIT_AFTER_ENTRY) {
		v->run_until = rdtsc();
		n->stats.exit_after_inj++;
		return false;
	}
	uint64_t code = n->l1_exit_pending;
	n->stats.intr_to_l1++;
	if (teach_on(v, false))
		teach(v, "an %s for L1 is pending and L1 intercepts it: #VMEXIT(%#lx) before L2 runs again",
		      code == NSVM_EXIT_NMI ? "NMI" : "interrupt", code);
	made_up_exit(v, code, 0, 0, true);
	memset(e, 0, sizeof(*e));
	e->kind = EXIT_NESTED;
	e->reason = code;
	return true;
}

void nsvm_svme_changed(struct vcpu *v, bool on)
{
	if (!on)
		set_gif(v, true);  /* GIF is 1 whenever SVM is off */
	/* nothing cached survives SVM being turned off and on (15.15.3) */
	nsvm_clean_forget(nested_of(v)->clean_cache);
}

void nsvm_report(struct vcpu *v)
{
	struct nsvm_vcpu *n = nested_of(v);
	const struct nsvm_stats *t = &n->stats;
	if (!t->vmrun)
		return;
	log_info("vm %s: vCPU %u: nested SVM: %lu VMRUN (%lu invalid, %lu #GP), %lu L2 exits to L1, "
		 "%lu kept by L0, NPT02 %lu fills %lu zaps, %lu #NPF to L1, %lu INTR/NMI to L1 "
		 "(%lu deferred past an EVENTINJ), VMLOAD %lu VMSAVE %lu STGI %lu CLGI %lu INVLPGA %lu, "
		 "%lu ASID02 leases",
		 v->vm->cfg->name, v->index, t->vmrun, t->vmrun_invalid, t->vmrun_gp, t->reflected,
		 t->l2_exits_l0, t->npt02_fills, t->npt02_zaps, t->npf_to_l1, t->intr_to_l1,
		 t->exit_after_inj, t->vmload, t->vmsave, t->stgi, t->clgi, t->invlpga, t->asid02_leases);
}
