/*
 * vmcb02_merge: vmcb12 + vmcb01 -> vmcb02, and back.  See
 * svm/nested/vmcb02_merge.h for who decides which field.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "svm/nested/vmcb02_merge.h"

#define PAGE_MASK 0xfffull

/* The V_INTR bits L1 controls for L2 (the rest are features Nestor does
 * not offer, or V_INTR_MASKING, which L0 forces). */
#define VINTR_FROM_L1 (NSVM_VINTR_TPR_MASK | NSVM_VINTR_IRQ | NSVM_VINTR_PRIO_MASK | \
		       NSVM_VINTR_IGN_TPR | NSVM_VINTR_VECTOR_MASK)
/* ... and what #VMEXIT writes back (15.6: "including the V_IRQ, V_TPR"). */
#define VINTR_WRITTEN (NSVM_VINTR_TPR_MASK | NSVM_VINTR_IRQ)

static void get_icpt(const struct vmcb_control *c, uint32_t w[NSVM_ICPT_WORDS])
{
	w[NSVM_ICPT_CR] = c->intercept_cr;
	w[NSVM_ICPT_DR] = c->intercept_dr;
	w[NSVM_ICPT_EXC] = c->intercept_exc;
	w[NSVM_ICPT_MISC1] = c->intercept_misc1;
	w[NSVM_ICPT_MISC2] = c->intercept_misc2;
	w[NSVM_ICPT_MISC3] = c->intercept_misc3;
}

static void set_icpt(struct vmcb_control *c, const uint32_t w[NSVM_ICPT_WORDS])
{
	c->intercept_cr = w[NSVM_ICPT_CR];
	c->intercept_dr = w[NSVM_ICPT_DR];
	c->intercept_exc = w[NSVM_ICPT_EXC];
	c->intercept_misc1 = w[NSVM_ICPT_MISC1];
	c->intercept_misc2 = w[NSVM_ICPT_MISC2];
	c->intercept_misc3 = w[NSVM_ICPT_MISC3];
}

void nsvm_l0_intercepts(const struct vmcb_control *c01, struct nsvm_intercepts *out)
{
	get_icpt(c01, out->w);
	out->w[NSVM_ICPT_MISC1] &= ~(NSVM_MISC1_VINTR | NSVM_MISC1_IRET);
	out->w[NSVM_ICPT_MISC1] |= NSVM_MISC1_ALWAYS;
	out->w[NSVM_ICPT_MISC2] |= NSVM_MISC2_ALWAYS;
}

void nsvm_carry_vmload_state(struct vmcb *dst, const struct vmcb *src)
{
	dst->save.fs = src->save.fs;
	dst->save.gs = src->save.gs;
	dst->save.tr = src->save.tr;
	dst->save.ldtr = src->save.ldtr;
	dst->save.kernel_gs_base = src->save.kernel_gs_base;
	dst->save.star = src->save.star;
	dst->save.lstar = src->save.lstar;
	dst->save.cstar = src->save.cstar;
	dst->save.sfmask = src->save.sfmask;
	dst->save.sysenter_cs = src->save.sysenter_cs;
	dst->save.sysenter_esp = src->save.sysenter_esp;
	dst->save.sysenter_eip = src->save.sysenter_eip;
}

/* The guest state VMRUN loads and #VMEXIT saves (15.5.1, 15.6). */
static void copy_vmrun_state(struct vmcb_save *dst, const struct vmcb_save *src)
{
	dst->es = src->es;
	dst->cs = src->cs;
	dst->ss = src->ss;
	dst->ds = src->ds;
	dst->gdtr = src->gdtr;
	dst->idtr = src->idtr;
	dst->cpl = src->cpl;
	dst->efer = src->efer;
	dst->cr0 = src->cr0;
	dst->cr2 = src->cr2;
	dst->cr3 = src->cr3;
	dst->cr4 = src->cr4;
	dst->dr6 = src->dr6;
	dst->dr7 = src->dr7;
	dst->rflags = src->rflags;
	dst->rip = src->rip;
	dst->rsp = src->rsp;
	dst->rax = src->rax;
}

unsigned nsvm_merge_vmcb02(struct vmcb *v02, const struct vmcb *v12, const struct vmcb *v01,
			   const struct nsvm_merge_params *p)
{
	const struct vmcb_control *c12 = &v12->ctl, *c01 = &v01->ctl;
	struct vmcb_control *c02 = &v02->ctl;
	uint32_t l1[NSVM_ICPT_WORDS], w[NSVM_ICPT_WORDS];
	bool l1_np = c12->np_enable & 1;
	unsigned flush = 0;

	/* The control area starts from zero: what is not merged below is 0.
	 * The save area is not cleared per VMRUN (1.7 KiB, ~150 instructions
	 * of every nested VMRUN): every named field of it is written below,
	 * the LBR fields to 0 (no LBR virtualization for L2), and its reserved
	 * ranges were zeroed when vmcb02 was allocated and are written by
	 * nobody, the CPU included (APM vol. 2 table B-2).  The unit test
	 * test_merge_writes_every_save_field holds the merge to that. */
	memset(&v02->ctl, 0, offsetof(struct vmcb_control, reserved4));
	v02->save.dbgctl = 0;
	v02->save.br_from = v02->save.br_to = 0;
	v02->save.last_excp_from = v02->save.last_excp_to = 0;

	/* ---- intercepts: L0's set | L1's set (L0's includes the SVM
	 * instructions, nsvm_l0_intercepts()) ---- */
	get_icpt(c12, l1);
	for (unsigned i = 0; i < NSVM_ICPT_WORDS; i++)
		w[i] = p->l0.w[i] | l1[i];
	w[NSVM_ICPT_MISC1] |= NSVM_MISC1_ALWAYS;
	w[NSVM_ICPT_MISC2] |= NSVM_MISC2_ALWAYS;
	set_icpt(c02, w);

	/* PAUSE filter: L1's numbers when L1 intercepts PAUSE, else L0's. */
	if (c12->intercept_misc1 & NSVM_MISC1_PAUSE) {
		c02->pause_filter_thresh = c12->pause_filter_thresh;
		c02->pause_filter_count = c12->pause_filter_count;
	} else {
		c02->pause_filter_thresh = c01->pause_filter_thresh;
		c02->pause_filter_count = c01->pause_filter_count;
	}

	/* ---- maps, TSC, ASID, TLB ---- */
	c02->iopm_base_pa = p->iopm02_pa;
	c02->msrpm_base_pa = p->msrpm02_pa;
	c02->tsc_offset = c01->tsc_offset + c12->tsc_offset;  /* wraps like the CPU's sum */
	c02->asid = p->asid02;
	if (c12->tlb_control == 1)
		flush |= NSVM_MERGE_L1_FLUSH_ALL;
	else if (c12->tlb_control != 0)
		flush |= NSVM_MERGE_L1_FLUSH_ASID;
	c02->tlb_control = (flush || p->flush) ? p->tlb_flush_cmd : 0;

	/* ---- virtual interrupts, events ---- */
	c02->vintr = (c12->vintr & VINTR_FROM_L1) | NSVM_VINTR_MASKING;
	c02->int_state = c12->int_state & 1;     /* interrupt shadow */
	c02->event_inj = c12->event_inj;

	/* ---- nested paging: always on for L2 ---- */
	c02->np_enable = 1;
	c02->n_cr3 = p->n_cr3_02;
	/* virt_ext (LBR virtualization, virtual VMLOAD/VMSAVE), AVIC, GHCB:
	 * left 0 — VMLOAD/VMSAVE must always exit from L2. */
	c02->clean = 0;

	/* ---- guest state ---- */
	copy_vmrun_state(&v02->save, &v12->save);
	nsvm_carry_vmload_state(v02, v01);
	/* With NP, L2's PAT is G_PAT; without, the CPU has no guest PAT and
	 * L2 runs under its host's PAT (15.25.8), which is L1's. */
	v02->save.g_pat = l1_np ? v12->save.g_pat : v01->save.g_pat;
	v02->save.s_cet = v12->save.s_cet;
	v02->save.ssp = v12->save.ssp;
	v02->save.isst_addr = v12->save.isst_addr;
	return flush;
}

/* out = l0 | L1's map, or a copy of l0, or all ones on failure. */
static int merge_map(uint8_t *out, const uint8_t *l0, size_t size, const struct gmem *l1,
		     bool l1_on, uint64_t l1_base)
{
	if (!l1_on) {
		memcpy(out, l0, size);
		return 0;
	}
	/* One read of L1's map into our buffer; L1 may be changing it on
	 * another vCPU, which only gives a mix of old and new bits — what
	 * the CPU reading the map during L2's run would see as well. */
	if (gmem_read(l1, l1_base & ~PAGE_MASK, out, size) != 0) {
		memset(out, 0xff, size);
		return -1;
	}
	for (size_t i = 0; i < size; i += 8) {
		uint64_t a, b;

		memcpy(&a, out + i, 8);
		memcpy(&b, l0 + i, 8);
		a |= b;
		memcpy(out + i, &a, 8);
	}
	return 0;
}

int nsvm_merge_msrpm(uint8_t out[NSVM_MSRPM_SIZE], const uint8_t l0_map[NSVM_MSRPM_SIZE],
		     const struct gmem *l1, const struct vmcb_control *c12)
{
	return merge_map(out, l0_map, NSVM_MSRPM_SIZE, l1,
			 c12->intercept_misc1 & NSVM_MISC1_MSR_PROT, c12->msrpm_base_pa);
}

int nsvm_merge_iopm(uint8_t out[NSVM_IOPM_SIZE], const uint8_t l0_map[NSVM_IOPM_SIZE],
		    const struct gmem *l1, const struct vmcb_control *c12)
{
	return merge_map(out, l0_map, NSVM_IOPM_SIZE, l1,
			 c12->intercept_misc1 & NSVM_MISC1_IOIO_PROT, c12->iopm_base_pa);
}

void nsvm_save_l2_state(struct vmcb *v12, const struct vmcb *v02, bool event_pending)
{
	struct vmcb_control *c12 = &v12->ctl;
	const struct vmcb_control *c02 = &v02->ctl;
	uint64_t code = c02->exit_code;

	copy_vmrun_state(&v12->save, &v02->save);

	c12->int_state = c02->int_state;
	c12->vintr = (c12->vintr & ~VINTR_WRITTEN) | (c02->vintr & VINTR_WRITTEN);
	/* "Upon #VMEXIT, the processor ... clear[s] EVENTINJ field in VMCB"
	 * (APM vol. 3, VMRUN; vol. 2 15.20): the event was delivered, or is
	 * in EXITINTINFO.  Left set, L1's next VMRUN of this vmcb12 would
	 * inject it a second time (Linux's KVM relies on the clearing). */
	c12->event_inj = 0;
	c12->exit_code = code;
	c12->exit_info1 = c02->exit_info1;
	c12->exit_info2 = c02->exit_info2;
	c12->exit_int_info = c02->exit_int_info;
	if (event_pending && (c02->event_inj & NSVM_EVT_V) && !(c02->exit_int_info & NSVM_EVT_V))
		c12->exit_int_info = c02->event_inj;
	c12->next_rip = c02->next_rip;
	/* 15.8.4: instruction bytes for #NPF and intercepted #PF; "all other
	 * intercepts clear bits 7:0 in this field". */
	if (code == NSVM_EXIT_NPF || code == NSVM_EXIT_EXCP + 14) {
		c12->insn_len = c02->insn_len;
		memcpy(c12->insn_bytes, c02->insn_bytes, sizeof(c12->insn_bytes));
	} else {
		c12->insn_len = 0;
	}
}

void nsvm_vmexit_l1_state(struct vmcb *v01, const struct vmcb *v02)
{
	nsvm_carry_vmload_state(v01, v02);
	v01->save.dr7 &= ~0xffull;              /* L0-L3, G0-G3: breakpoints off */
	v01->save.cr0 |= NSVM_CR0_PE;
	v01->save.rflags &= ~NSVM_RFLAGS_VM;
	v01->save.cpl = 0;
}

#define SPAN_OF(first, last) { (uint16_t)offsetof(struct vmcb, first), \
	(uint16_t)(offsetof(struct vmcb, last) + sizeof(((struct vmcb *)0)->last) - \
		   offsetof(struct vmcb, first)) }

/* What #VMEXIT writes into the VMCB (15.6, 15.7.1, 15.8.4, and the
 * EVENTINJ it clears: vol. 3 VMRUN), as byte ranges; neighbours merged
 * where the layout allows. */
const struct nsvm_span nsvm_vmexit_spans[] = {
	SPAN_OF(ctl.vintr, ctl.int_state),               /* 060h-06Fh */
	SPAN_OF(ctl.exit_code, ctl.exit_int_info),       /* 070h-08Fh */
	SPAN_OF(ctl.event_inj, ctl.event_inj),           /* 0A8h-0AFh: cleared */
	SPAN_OF(ctl.next_rip, ctl.insn_bytes),           /* 0C8h-0DFh */
	SPAN_OF(save.es, save.ds),                       /* 400h-43Fh */
	SPAN_OF(save.gdtr, save.gdtr),
	SPAN_OF(save.idtr, save.idtr),
	SPAN_OF(save.cpl, save.cpl),
	SPAN_OF(save.efer, save.efer),
	SPAN_OF(save.cr4, save.rip),                     /* 548h-57Fh */
	SPAN_OF(save.rsp, save.rsp),
	SPAN_OF(save.rax, save.rax),
	SPAN_OF(save.cr2, save.cr2),
};
const unsigned nsvm_vmexit_span_count = sizeof(nsvm_vmexit_spans) / sizeof(nsvm_vmexit_spans[0]);

/* What VMRUN reads of a VMCB (15.5.1 "Loading Guest State", table B-1
 * and B-2): the control area up to the guest instruction bytes, and the
 * state it loads — not the VMLOAD state (FS, GS, TR, LDTR, KernelGsBase,
 * STAR.., SYSENTER_*) nor the LBR fields. */
const struct nsvm_span nsvm_vmrun_spans[] = {
	{ 0, (uint16_t)offsetof(struct vmcb_control, reserved4) },   /* 000h-0DFh */
	SPAN_OF(save.es, save.ds),                       /* 400h-43Fh */
	SPAN_OF(save.gdtr, save.gdtr),
	SPAN_OF(save.idtr, save.idtr),
	SPAN_OF(save.cpl, save.cpl),
	SPAN_OF(save.efer, save.efer),
	SPAN_OF(save.cr4, save.rip),                     /* 548h-57Fh */
	SPAN_OF(save.rsp, save.rax),                     /* 5D8h-5FFh: RSP, CET, RAX */
	SPAN_OF(save.cr2, save.cr2),
	SPAN_OF(save.g_pat, save.g_pat),
};
const unsigned nsvm_vmrun_span_count = sizeof(nsvm_vmrun_spans) / sizeof(nsvm_vmrun_spans[0]);

void nsvm_vmrun_copy(struct vmcb *v12, const uint8_t *page)
{
	for (unsigned i = 0; i < nsvm_vmrun_span_count; i++) {
		nsvm_span_copy((uint8_t *)v12, page, &nsvm_vmrun_spans[i]);
	}
}

int nsvm_vmexit_writeback(const struct gmem *l1, uint64_t gpa, const struct vmcb *v12)
{
	/* The VMCB page is one RAM page (checked at VMRUN); check it again
	 * so that the writes below are all-or-nothing. */
	uint8_t *page = (gpa & PAGE_MASK) ? NULL : gmem_ptr(l1, gpa, sizeof(*v12), true);

	if (page == NULL)
		return -1;
	/* One RAM page: one lookup, then plain stores of each range. */
	for (unsigned i = 0; i < nsvm_vmexit_span_count; i++)
		nsvm_span_copy(page, (const uint8_t *)v12, &nsvm_vmexit_spans[i]);
	return 0;
}
