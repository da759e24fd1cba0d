/*
 * vmcb_clean: the clean-bit groups as a table of byte ranges of the VMCB.
 * See svm/nested/vmcb_clean.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "svm/nested/vmcb_clean.h"

#define CTL(f)  offsetof(struct vmcb, ctl.f)
#define SAVE(f) offsetof(struct vmcb, save.f)
#define SPAN(from, to_end) { (uint16_t)(from), (uint16_t)((to_end) - (from)) }
#define FIELD(off, f) { (uint16_t)(off), (uint16_t)sizeof(((struct vmcb *)0)->f) }

/* AVIC table pointers live in what svm/vmcb.h keeps as reserved bytes
 * (APM table B-1: backing page 0E0h, logical table 0F0h, physical table
 * 0F8h). */
#define AVIC_BACKING_PAGE 0x0e0
#define AVIC_LOGICAL_TABLE 0x0f0
#define AVIC_PHYSICAL_TABLE 0x0f8

_Static_assert(SAVE(es) == 0x400 && SAVE(cs) == 0x410 && SAVE(ss) == 0x420 &&
	       SAVE(ds) == 0x430, "ES CS SS DS are contiguous (APM B-2)");
_Static_assert(SAVE(cr4) + 8 == SAVE(cr3) && SAVE(cr3) + 8 == SAVE(cr0),
	       "CR4 CR3 CR0 are contiguous (APM B-2)");
_Static_assert(SAVE(dr7) + 8 == SAVE(dr6), "DR7 DR6 contiguous");
_Static_assert(SAVE(dbgctl) + 8 == SAVE(br_from) && SAVE(last_excp_to) == 0x690,
	       "LBR fields contiguous, 670h-697h");
_Static_assert(SAVE(s_cet) == 0x5e0 && SAVE(isst_addr) == 0x5f0, "CET fields 5E0h-5F7h");
_Static_assert(CTL(intercept_cr) == 0 && CTL(intercept_misc3) == 0x14, "intercepts 0h-17h");
_Static_assert(CTL(pause_filter_thresh) == 0x3c, "pause filter 3Ch-3Fh");
_Static_assert(CTL(tsc_offset) == 0x50 && CTL(iopm_base_pa) == 0x40, "APM B-1");

const struct nsvm_clean_group nsvm_clean_table[NSVM_CLEAN_GROUPS] = {
	[NSVM_CLEAN_I] = { NSVM_CLEAN_I, "I (intercepts, TSC offset, pause filter)", 3, {
		SPAN(CTL(intercept_cr), CTL(intercept_misc3) + 4),
		SPAN(CTL(pause_filter_thresh), CTL(pause_filter_count) + 2),
		FIELD(CTL(tsc_offset), ctl.tsc_offset) } },
	[NSVM_CLEAN_IOPM] = { NSVM_CLEAN_IOPM, "IOPM (IOPM_BASE, MSRPM_BASE)", 1, {
		SPAN(CTL(iopm_base_pa), CTL(msrpm_base_pa) + 8) } },
	[NSVM_CLEAN_ASID] = { NSVM_CLEAN_ASID, "ASID", 1, {
		FIELD(CTL(asid), ctl.asid) } },
	[NSVM_CLEAN_TPR] = { NSVM_CLEAN_TPR, "TPR (V_TPR, V_IRQ, V_INTR_*)", 1, {
		FIELD(CTL(vintr), ctl.vintr) } },
	[NSVM_CLEAN_NP] = { NSVM_CLEAN_NP, "NP (nCR3, G_PAT)", 2, {
		FIELD(CTL(n_cr3), ctl.n_cr3),
		FIELD(SAVE(g_pat), save.g_pat) } },
	[NSVM_CLEAN_CRX] = { NSVM_CLEAN_CRX, "CRx (CR0, CR3, CR4, EFER)", 2, {
		SPAN(SAVE(cr4), SAVE(cr0) + 8),
		FIELD(SAVE(efer), save.efer) } },
	[NSVM_CLEAN_DRX] = { NSVM_CLEAN_DRX, "DRx (DR6, DR7)", 1, {
		SPAN(SAVE(dr7), SAVE(dr6) + 8) } },
	[NSVM_CLEAN_DT] = { NSVM_CLEAN_DT, "DT (GDTR, IDTR)", 2, {
		FIELD(SAVE(gdtr), save.gdtr),
		FIELD(SAVE(idtr), save.idtr) } },
	[NSVM_CLEAN_SEG] = { NSVM_CLEAN_SEG, "SEG (CS, DS, SS, ES, CPL)", 2, {
		SPAN(SAVE(es), SAVE(ds) + 16),
		FIELD(SAVE(cpl), save.cpl) } },
	[NSVM_CLEAN_CR2] = { NSVM_CLEAN_CR2, "CR2", 1, {
		FIELD(SAVE(cr2), save.cr2) } },
	[NSVM_CLEAN_LBR] = { NSVM_CLEAN_LBR, "LBR (DebugCtl, branch records)", 1, {
		SPAN(SAVE(dbgctl), SAVE(last_excp_to) + 8) } },
	[NSVM_CLEAN_AVIC] = { NSVM_CLEAN_AVIC, "AVIC (APIC_BAR, table pointers)", 3, {
		FIELD(CTL(avic_apic_bar), ctl.avic_apic_bar),
		SPAN(AVIC_BACKING_PAGE, AVIC_BACKING_PAGE + 8),
		SPAN(AVIC_LOGICAL_TABLE, AVIC_PHYSICAL_TABLE + 8) } },
	[NSVM_CLEAN_CET] = { NSVM_CLEAN_CET, "CET (S_CET, SSP, ISST_ADDR)", 1, {
		SPAN(SAVE(s_cet), SAVE(isst_addr) + 8) } },
};

uint32_t nsvm_clean_apply(struct vmcb *v12, const struct nsvm_vmcb12_cache *cache,
			  uint64_t gpa)
{
	uint32_t clean = v12->ctl.clean, dirty = 0;

	if (cache == NULL || !cache->valid || cache->gpa != gpa)
		return NSVM_CLEAN_ALL;  /* no cached copy: everything is loaded */

	for (unsigned b = 0; b < NSVM_CLEAN_GROUPS; b++) {
		const struct nsvm_clean_group *g = &nsvm_clean_table[b];

		if (!(clean & (1u << b))) {
			dirty |= 1u << b;
			continue;
		}
		for (unsigned i = 0; i < g->nspans; i++)
			nsvm_span_copy((uint8_t *)v12, (const uint8_t *)&cache->v, &g->spans[i]);
	}
	return dirty;
}

void nsvm_clean_store(struct nsvm_vmcb12_cache *cache, uint64_t gpa, const struct vmcb *v12)
{
	cache->valid = true;
	cache->gpa = gpa;
	/* only what nsvm_clean_apply can take back: the groups' bytes, a few
	 * hundred of the VMCB's 4 KiB */
	for (unsigned b = 0; b < NSVM_CLEAN_GROUPS; b++) {
		const struct nsvm_clean_group *g = &nsvm_clean_table[b];
		for (unsigned i = 0; i < g->nspans; i++)
			nsvm_span_copy((uint8_t *)&cache->v, (const uint8_t *)v12, &g->spans[i]);
	}
}

void nsvm_clean_forget(struct nsvm_vmcb12_cache *cache)
{
	cache->valid = false;
	cache->gpa = 0;
}
