/*
 * vmcb02_merge: building the VMCB that L0 really runs for L2 (vmcb02) out
 * of what L1 asked for (vmcb12: L2's state and L1's controls) and what L0
 * needs (vmcb01: L0's VMCB for L1), and the way back after a #VMEXIT.
 *
 *      vmcb12 (L1's, in L1 memory)        vmcb01 (L0's, for L1)
 *        L2 guest state ----------+   +---- L0's intercepts, TSC offset,
 *        L1's intercepts ---------+-+-+     L1's VMLOAD state (FS, GS,
 *        L1's MSRPM/IOPM (maps) --+ | |     TR, LDTR, STAR, ...), L1's PAT
 *        L1's TSC offset, ASID,   | | |
 *        V_INTR, EVENTINJ, nCR3   v v v
 *                              vmcb02 (L0's, for L2) --> VMRUN
 *
 * Who decides what in vmcb02 (APM vol. 2 chapter 15):
 *   - intercepts: the union of L0's set and L1's (a bit set in either
 *     exits; exit_reflect then tells whose exit it is), with VMRUN,
 *     VMLOAD, VMSAVE, STGI, CLGI, SKINIT and INVLPGA always intercepted
 *     by L0: each would reach host state if L2 ran it for real;
 *   - MSRPM/IOPM: L0-owned maps that are the bitwise OR of L0's map and
 *     L1's (when L1 enables MSR_PROT/IOIO_PROT), rebuilt on every VMRUN:
 *     L1 may change its maps' contents at any time (the IOPM clean bit
 *     covers only the base addresses);
 *   - TSC_OFFSET: L2 sees host TSC + L0's offset for L1 + L1's for L2;
 *   - ASID: a caller-chosen asid02 (one per (VM, L1 ASID), so L2's TLB
 *     entries never mix with L1's or another VM's);
 *   - TLB_CONTROL: L1's request (or L0's own reason) becomes a flush of
 *     asid02, never of the whole TLB;
 *   - nested paging: always on in vmcb02; nCR3 is NPT02 (caller's) when
 *     L1 uses NP for L2, else NPT01 (L2's "physical" is L1's);
 *   - V_INTR: V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_VECTOR as L1
 *     set them; V_INTR_MASKING is always 1 so that L2's RFLAGS.IF can
 *     never mask L0's physical interrupts (15.21.1); vGIF, AVIC and LBR
 *     virtualization are not offered to L1, so their bits stay 0;
 *   - EVENTINJ and the interrupt shadow: L1's;
 *   - guest state: what VMRUN loads (15.5.1 "Loading Guest State") comes
 *     from vmcb12; what VMLOAD loads (15.5.2: FS, GS, TR, LDTR,
 *     KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*) is whatever L1's
 *     registers hold at VMRUN — on real hardware VMRUN does not touch
 *     them — and Nestor holds L1's registers in vmcb01.
 *
 * The way back (15.6 "#VMEXIT"): nsvm_save_l2_state() writes L2's state
 * and the exit information into (the copy of) vmcb12, and
 * nsvm_vmexit_writeback() stores exactly the fields a #VMEXIT writes into
 * L1 memory.  L1's VMLOAD state goes back into vmcb01 (the CPU leaves
 * L2's FS/GS/... in the registers until L1's own VMSAVE/VMLOAD), and
 * nsvm_vmexit_l1_state() applies what #VMEXIT does to the host.
 *
 * Pure code over plain data.  Tested in tests/unit/test_nsvm_merge.c.
 */
#ifndef NESTOR_SVM_NESTED_VMCB02_MERGE_H
#define NESTOR_SVM_NESTED_VMCB02_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "svm/vmcb.h"
#include "svm/nested/vmcb_span.h"
#include "svm/nested/nsvm_arch.h"

/* The six intercept words (enum nsvm_icpt_word order). */
struct nsvm_intercepts {
	uint32_t w[NSVM_ICPT_WORDS];
};

/*
 * What L0 needs intercepted while L2 runs, derived from vmcb01: the same
 * intercepts it has for L1, less the window requests that concern only
 * L1's own event delivery (VINTR, IRET), plus the always-intercepted SVM
 * instructions.  The caller may add its own (e.g. VINTR when it must
 * inject an L1 interrupt into L2) after the merge.
 */
void nsvm_l0_intercepts(const struct vmcb_control *c01, struct nsvm_intercepts *out);

struct nsvm_merge_params {
	struct nsvm_intercepts l0;  /* from nsvm_l0_intercepts()             */
	uint64_t msrpm02_pa;        /* host PA of the merged 8 KiB MSRPM     */
	uint64_t iopm02_pa;         /* host PA of the merged 12 KiB IOPM     */
	uint32_t asid02;            /* L0's ASID for this (VM, L1 ASID)      */
	uint64_t n_cr3_02;          /* NPT02 root if vmcb12 enables NP, else */
				    /* NPT01's root                          */
	uint8_t tlb_flush_cmd;      /* TLB_CONTROL that flushes asid02: 3    */
				    /* with FlushByAsid, else 1              */
	bool flush;                 /* L0's own reason to flush asid02 (a    */
				    /* reused asid02, NPT02 zapped)          */
};

/* nsvm_merge_vmcb02() result bits: what L1's TLB_CONTROL asked. */
#define NSVM_MERGE_L1_FLUSH_ALL  1u  /* TLB_CONTROL = 1: every ASID of L1's */
#define NSVM_MERGE_L1_FLUSH_ASID 2u  /* 3 or 7 (or reserved): this ASID    */

/*
 * Build vmcb02 (all of it; nothing of the previous contents survives)
 * from the effective vmcb12 (checked by nsvm_vmcb12_check(), clean bits
 * applied), vmcb01 and p.  vmcb02's Clean field is 0.  Returns the
 * NSVM_MERGE_L1_FLUSH_* bits, for the caller's NPT02/ASID bookkeeping.
 */
unsigned nsvm_merge_vmcb02(struct vmcb *v02, const struct vmcb *v12, const struct vmcb *v01,
			   const struct nsvm_merge_params *p);

/*
 * The merged permission maps into L0-owned buffers: out = l0_map | L1's
 * map (read from L1 memory at the base in c12) when L1 sets MSR_PROT
 * (IOIO_PROT), else a copy of l0_map.  Returns 0, or -1 if L1's map could
 * not be read, in which case out is all ones (everything exits: safe;
 * nsvm_vmcb12_check() makes this unreachable).
 */
int nsvm_merge_msrpm(uint8_t out[NSVM_MSRPM_SIZE], const uint8_t l0_map[NSVM_MSRPM_SIZE],
		     const struct gmem *l1, const struct vmcb_control *c12);
int nsvm_merge_iopm(uint8_t out[NSVM_IOPM_SIZE], const uint8_t l0_map[NSVM_IOPM_SIZE],
		    const struct gmem *l1, const struct vmcb_control *c12);

/* Copy the VMLOAD/VMSAVE state (APM 15.5.2) from src to dst. */
void nsvm_carry_vmload_state(struct vmcb *dst, const struct vmcb *src);

/*
 * After a #VMEXIT from L2 that goes to L1: write into (the copy of)
 * vmcb12 what the CPU writes (15.6): the guest state VMRUN loaded, V_TPR,
 * V_IRQ and the interrupt shadow, EXITCODE, EXITINFO1/2, EXITINTINFO,
 * nRIP, and the guest instruction bytes for #NPF/#PF exits (15.8.4; their
 * count is cleared for other exits).  TLB_CONTROL and EVENTINJ are not
 * written (15.16.1: VMRUN "reads, but does not change" TLB_CONTROL).
 *
 * The caller fills vmcb02's exit fields first (for an exit L0 makes up,
 * such as an #NPF from NPT12 or an INTR for L1) and vmcb02.next_rip where
 * the host lacks NRIPS (Nestor knows the instruction length).  If
 * event_pending, vmcb02.event_inj holds an event L0 was about to inject
 * into L2 that L2 has not received; it is reported in EXITINTINFO, as
 * the CPU reports an event interrupted during delivery.
 */
void nsvm_save_l2_state(struct vmcb *v12, const struct vmcb *v02, bool event_pending);

/*
 * What #VMEXIT does to the host context (15.6), applied to L1's state in
 * vmcb01: L2's VMLOAD state is carried over from vmcb02, DR7's
 * breakpoints are disabled, CR0.PE forced to 1, RFLAGS.VM to 0, CPL to 0.
 * The rest of L1's state is as Nestor kept it since L1's VMRUN (Nestor
 * keeps L1's host state itself; the VM_HSAVE_PA page belongs to L1 and
 * is neither read nor written, APM 15.30.4 / 15.5.1: "software must not
 * rely on the format or contents of the host state save area").  The
 * caller sets RIP past the VMRUN, clears its emulated GIF, and restores
 * vmcb01's own controls.
 */
void nsvm_vmexit_l1_state(struct vmcb *v01, const struct vmcb *v02);

/* The byte ranges of a VMCB that #VMEXIT writes (a table), and the store
 * of just those ranges of v12 into L1 memory at gpa.  Returns 0, or -1 if
 * some range is not L1 RAM (then nothing was written). */
extern const struct nsvm_span nsvm_vmexit_spans[];
extern const unsigned nsvm_vmexit_span_count;
/* The byte ranges of a VMCB that VMRUN reads, and the copy of just those
 * from vmcb12's page (host memory, checked by the caller) into v12: the
 * one private copy the checks and the merge then use. */
extern const struct nsvm_span nsvm_vmrun_spans[];
extern const unsigned nsvm_vmrun_span_count;
void nsvm_vmrun_copy(struct vmcb *v12, const uint8_t *page);
int nsvm_vmexit_writeback(const struct gmem *l1, uint64_t gpa, const struct vmcb *v12);

#endif
