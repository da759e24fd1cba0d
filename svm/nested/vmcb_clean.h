/*
 * vmcb_clean: VMCB clean bits (AMD APM vol. 2 15.15 "VMCB State Caching")
 * as Nestor offers them to L1.
 *
 * A CPU with VmcbClean may keep some guest state of a VMCB cached between
 * #VMEXIT and the next VMRUN of the same VMCB (same physical address);
 * each set bit of the VMCB's Clean field (offset 0xC0) says "I, the
 * hypervisor, did not touch this group of fields since, use your copy".
 * Bits that are 0 are always honoured; bits that are 1 are a hint the CPU
 * may ignore.  Nestor honours them the way a caching CPU does:
 *
 *   - it keeps, per L1 vCPU, a copy of the last vmcb12 it ran (the
 *     "effective" vmcb12: what the CPU would have loaded), tagged with the
 *     vmcb12 GPA — struct nsvm_vmcb12_cache;
 *   - on VMRUN, after copying vmcb12 out of L1 memory, every group whose
 *     clean bit is set takes its fields from the cache instead, when the
 *     cache holds the same GPA (otherwise the Clean field counts as 0,
 *     15.15.2: "treats the VMCB Clean field as zero, if no cached VMCB
 *     address matches");
 *   - the result is what gets checked (15.5.1: "the final merged hardware
 *     state is used for consistency checks") and merged into vmcb02;
 *   - after the #VMEXIT has been written into vmcb12, the cache is updated
 *     with it, as the CPU's cache holds the state it last wrote back.
 *
 * The groups are a table (APM figure 15-4), each a list of byte ranges of
 * struct vmcb.  Fields not in any group (TLB_CONTROL, interrupt shadow,
 * EVENTINJ, exit fields, RFLAGS/RIP/RSP/RAX, NP_ENABLE, ...) are always
 * taken from L1's VMCB.  Note what the IOPM bit covers: the two base
 * addresses, not the maps' contents — those L1 may change at any time and
 * the CPU reads them from memory; so the merged maps are rebuilt on every
 * VMRUN regardless of the clean bits (svm/nested/vmcb02_merge.h).
 *
 * What the caller gains: the mask of groups that are dirty.  A clean NP
 * group means nCR3 (so NPT12) is as before and NPT02 can stay; a clean
 * ASID group means the same ASID and no reason to flush; a clean I group
 * means the same intercepts.
 *
 * Pure code over plain data.  Tested in tests/unit/test_nsvm_merge.c.
 */
#ifndef NESTOR_SVM_NESTED_VMCB_CLEAN_H
#define NESTOR_SVM_NESTED_VMCB_CLEAN_H

#include <stdbool.h>
#include <stdint.h>

#include "svm/vmcb.h"
#include "svm/nested/vmcb_span.h"

/* Clean-field bits (APM figure 15-4). */
enum nsvm_clean_bit {
	NSVM_CLEAN_I = 0,       /* intercept vectors, TSC offset, pause filter */
	NSVM_CLEAN_IOPM = 1,    /* IOPM_BASE, MSRPM_BASE                        */
	NSVM_CLEAN_ASID = 2,
	NSVM_CLEAN_TPR = 3,     /* V_TPR, V_IRQ, V_INTR_* (offset 60h-67h)      */
	NSVM_CLEAN_NP = 4,      /* nCR3, G_PAT                                  */
	NSVM_CLEAN_CRX = 5,     /* CR0, CR3, CR4, EFER                          */
	NSVM_CLEAN_DRX = 6,     /* DR6, DR7                                     */
	NSVM_CLEAN_DT = 7,      /* GDTR, IDTR                                   */
	NSVM_CLEAN_SEG = 8,     /* CS/DS/SS/ES, CPL                             */
	NSVM_CLEAN_CR2 = 9,
	NSVM_CLEAN_LBR = 10,    /* DebugCtl, branch/exception from/to           */
	NSVM_CLEAN_AVIC = 11,   /* AVIC APIC_BAR and table pointers             */
	NSVM_CLEAN_CET = 12,    /* S_CET, SSP, ISST_ADDR                        */
	NSVM_CLEAN_GROUPS = 13
};

#define NSVM_CLEAN_ALL ((1u << NSVM_CLEAN_GROUPS) - 1)

struct nsvm_clean_group {
	uint8_t bit;            /* == index in the table */
	const char *name;       /* "CRx" */
	uint8_t nspans;
	struct nsvm_span spans[4];
};

extern const struct nsvm_clean_group nsvm_clean_table[NSVM_CLEAN_GROUPS];

/* The effective vmcb12 of the last VMRUN / #VMEXIT of one L1 vCPU. */
struct nsvm_vmcb12_cache {
	bool valid;
	uint64_t gpa;           /* vmcb12's guest-physical address          */
	struct vmcb v;
};

/*
 * Turn v12 (just copied out of L1 memory from gpa) into the effective
 * vmcb12: for each group whose bit is set in v12->ctl.clean, if the cache
 * is valid for the same gpa, copy the group's fields from the cache over
 * v12's.  Returns the mask of groups that were NOT taken from the cache
 * (the dirty ones: all of them when the cache does not match).
 */
uint32_t nsvm_clean_apply(struct vmcb *v12, const struct nsvm_vmcb12_cache *cache,
			  uint64_t gpa);

/* Remember v12 as the state cached for gpa (after VMRUN's merge, and
 * again after writing the #VMEXIT): the bytes of the groups, which is all
 * nsvm_clean_apply reads back. */
void nsvm_clean_store(struct nsvm_vmcb12_cache *cache, uint64_t gpa, const struct vmcb *v12);

/* Forget the cache (L1 vCPU reset, VM_HSAVE_PA or EFER.SVME changes). */
void nsvm_clean_forget(struct nsvm_vmcb12_cache *cache);

#endif
