/*
 * vmcb12_check: what VMRUN checks before it enters a guest (AMD APM vol. 2
 * 15.5.1 "Basic Operation", "Canonicalization and Consistency Checks"),
 * applied to vmcb12 — the VMCB that L1 built for its guest L2 — when L1
 * executes VMRUN and Nestor emulates it.
 *
 * The answer is architectural, never a crash of L0 (DESIGN.md principle 4):
 *   - the VMCB address itself (rAX of VMRUN) is checked first: not 4 KiB
 *     aligned or beyond MAXPHYADDR is #GP(0) in L1 (APM vol. 3, VMRUN
 *     "Exceptions"); not in L1 RAM is also #GP(0) (Nestor's choice, as
 *     KVM does: there is nothing to read the VMCB from nor to write the
 *     #VMEXIT into) — NSVM_VMRUN_GP;
 *   - every consistency check of 15.5.1 (and 15.20 for EVENTINJ, 15.25.4
 *     for nCR3) that fails makes VMRUN exit at once with EXITCODE =
 *     VMEXIT_INVALID (-1) written into vmcb12 — NSVM_VMRUN_INVALID;
 *   - plus what Nestor itself needs because it will follow L1's pointers
 *     (the MSRPM, IOPM and nCR3 must lie in L1 memory that Nestor can
 *     read).  Real hardware would read whatever is at those addresses; a
 *     VMEXIT_INVALID is the closest architectural answer.  These rows are
 *     marked NSVM_CHK_NESTOR.
 *
 * Time of check and time of use.  The caller copies vmcb12 out of L1
 * memory ONCE (gmem_read into a struct vmcb of its own) and passes the
 * copy here, then merges from that same copy (svm/nested/vmcb02_merge.h).
 * It must never check a pointer into guest memory: L1 has other vCPUs, and
 * one of them could rewrite, say, the ASID or the MSRPM address between
 * our check and our use of it, turning a checked-good value into an
 * unchecked bad one (a TOCTOU race).  With a private copy, what was checked
 * is exactly what is used.
 *
 * Why check at all when the CPU checks vmcb02 again?  Two reasons.  Nestor
 * replaces some of L1's values before the CPU sees them (intercepts, ASID,
 * MSRPM/IOPM addresses, nCR3), so the CPU can no longer find L1's mistakes
 * in them; and a deterministic, named answer ("ASID is zero, APM 15.5.1")
 * is what a student debugging a guest hypervisor needs.  Guest-state
 * checks that Nestor does not do (CR3 upper bits outside long mode,
 * G_PAT encodings, the CET rows) are still done by the CPU on vmcb02; the
 * resulting VMEXIT_INVALID is reflected to L1 (svm/nested/exit_reflect.h).
 *
 * Table-driven (DESIGN.md principle 3): one row per condition, in APM
 * order; each row names its APM section.  Pure code over plain data.
 * Tested in tests/unit/test_nsvm_check.c, fuzzed in
 * tests/fuzz/fuzz_nsvm_check.c.
 */
#ifndef NESTOR_SVM_NESTED_VMCB12_CHECK_H
#define NESTOR_SVM_NESTED_VMCB12_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "svm/vmcb.h"

/* What L1's (virtual) CPU supports, as L1 sees it. */
struct nsvm_limits {
	unsigned maxphyaddr;    /* CPUID 0x80000008 EAX[7:0] given to L1:   */
				/* 32..52; 0 means 52; others clamped       */
	uint64_t efer_valid;    /* EFER bits that exist for L1 (LME/LMA only */
				/* if long mode is offered; SVME, NXE, ...) */
	uint64_t cr4_valid;     /* CR4 bits that exist for L1               */
	const struct gmem *l1_mem; /* L1's guest-physical memory map        */
};

enum nsvm_verdict {
	NSVM_VMRUN_OK = 0,
	NSVM_VMRUN_GP = 1,       /* #GP(0) in L1; vmcb12 untouched         */
	NSVM_VMRUN_INVALID = 2,  /* #VMEXIT(VMEXIT_INVALID) into vmcb12    */
};

enum nsvm_check_kind {
	NSVM_CHK_APM = 0,        /* an architectural condition of the APM  */
	NSVM_CHK_NESTOR = 1,     /* Nestor's own: it follows the pointer   */
};

/* One id per row, in evaluation order.  The first three look only at the
 * VMCB's address (before it is read); the others at its contents. */
enum nsvm_check_id {
	NSVM_CHK_VMCB_ALIGNED,
	NSVM_CHK_VMCB_MAXPHY,
	NSVM_CHK_VMCB_IN_RAM,
	NSVM_CHK_ADDR_ROWS,             /* rows before this: address phase */
	NSVM_CHK_EFER_SVME = NSVM_CHK_ADDR_ROWS,
	NSVM_CHK_CR0_CD_NW,
	NSVM_CHK_CR0_HIGH,
	NSVM_CHK_CR3_MBZ,
	NSVM_CHK_CR4_MBZ,
	NSVM_CHK_DR6_HIGH,
	NSVM_CHK_DR7_HIGH,
	NSVM_CHK_EFER_MBZ,
	NSVM_CHK_LME_PG_NO_PAE,
	NSVM_CHK_LME_PG_NO_PE,
	NSVM_CHK_LME_PG_PAE_CSL_CSD,
	NSVM_CHK_VMRUN_INTERCEPT,
	NSVM_CHK_MSRPM_MAXPHY,
	NSVM_CHK_IOPM_MAXPHY,
	NSVM_CHK_EVENTINJ_TYPE,
	NSVM_CHK_EVENTINJ_VECTOR,
	NSVM_CHK_EVENTINJ_MODE,
	NSVM_CHK_ASID_ZERO,
	NSVM_CHK_NCR3_MBZ,
	NSVM_CHK_MSRPM_IN_RAM,
	NSVM_CHK_IOPM_IN_RAM,
	NSVM_CHK_NCR3_IN_RAM,
	NSVM_CHECK_COUNT
};

struct nsvm_check_ctx {
	const struct vmcb *v;            /* the private copy (content rows) */
	uint64_t gpa;                    /* vmcb12's GPA (address rows)     */
	const struct nsvm_limits *lim;
};

struct nsvm_check {
	uint16_t id;            /* enum nsvm_check_id == index in the table */
	uint8_t verdict;        /* enum nsvm_verdict when it fails          */
	uint8_t kind;           /* enum nsvm_check_kind                     */
	const char *apm_ref;    /* "15.5.1"                                 */
	const char *name;       /* "ASID is zero"                           */
	/* true if the condition is fine; else *bad = the offending value */
	bool (*fn)(const struct nsvm_check_ctx *c, uint64_t *bad);
};

extern const struct nsvm_check nsvm_check_table[NSVM_CHECK_COUNT];

struct nsvm_check_failure {
	uint16_t id;
	uint8_t verdict;
	uint8_t kind;
	const char *apm_ref;
	const char *name;
	uint64_t value;         /* the value found wrong */
};

/*
 * Phase 1, before reading vmcb12: is gpa (rAX of L1's VMRUN) a VMCB
 * Nestor can use?  True if so; else fills *fail (if not NULL) with the
 * first failing row (verdict NSVM_VMRUN_GP).
 */
bool nsvm_vmcb12_addr_ok(uint64_t gpa, const struct nsvm_limits *lim,
			 struct nsvm_check_failure *fail);

/*
 * Phase 2, on the private copy: run every content row.  Writes the first
 * max_fails failures in table order to fails[] (may be NULL if max_fails
 * is 0) and returns the total number of failures (0: VMRUN may enter).
 * All failures of this phase have verdict NSVM_VMRUN_INVALID.
 */
int nsvm_vmcb12_check(const struct vmcb *v12, const struct nsvm_limits *lim,
		      struct nsvm_check_failure *fails, unsigned max_fails);

/* Run one row (either phase; v12 may be NULL for address rows). */
bool nsvm_check_one(unsigned id, const struct vmcb *v12, uint64_t gpa,
		    const struct nsvm_limits *lim, struct nsvm_check_failure *fail);

/*
 * The checks again, for a hypervisor that runs the same VMCB over and
 * over: what the rows read of vmcb12 is CR0, CR3, CR4, EFER, DR6, DR7,
 * CS's attributes, the intercept words, ASID, the map bases, nCR3 and
 * NP_ENABLE, and EVENTINJ (and the limits, which are the VM's and do
 * not change).  The memo holds them as they were at the last VMRUN that
 * passed; when none of them changed, the result is that pass again, with
 * no row run.  Anything else runs every row and, on a pass, remembers.
 * tests/unit/test_nsvm_check.c checks every broken input against a memo
 * of the golden vmcb12, so a field a row reads cannot be left out here.
 */
struct nsvm_check_memo {
	bool valid;
	uint64_t cr0, cr3, cr4, efer, dr6, dr7;
	uint64_t msrpm, iopm, n_cr3, np_enable, event_inj;
	uint32_t misc1, misc2, asid;
	uint16_t cs_attrib;
};
int nsvm_vmcb12_check_memo(const struct vmcb *v12, const struct nsvm_limits *lim, struct nsvm_check_memo *m,
			   struct nsvm_check_failure *fails, unsigned max_fails);

/*
 * Write the #VMEXIT of a failed VMRUN into (the copy of) vmcb12:
 * EXITCODE = VMEXIT_INVALID, EXITINFO1/2 = 0, EXITINTINFO = 0.  Guest
 * state is left as L1 wrote it (the guest never ran).  The caller writes
 * the copy back to L1 memory and resumes L1 after its VMRUN.
 */
void nsvm_vmexit_invalid(struct vmcb *v12);

/*
 * The exceptions of the SVM instructions themselves, checked before any
 * intercept or VMCB access (APM vol. 3 VMRUN/VMLOAD/VMSAVE/CLGI/INVLPGA:
 * #UD unless EFER.SVME = 1 and protected mode; #GP(0) unless CPL 0).
 * Returns 6 (#UD), 13 (#GP) or 0 (fine), for L1's state.
 */
unsigned nsvm_svm_insn_fault(unsigned cpl, uint64_t cr0, uint64_t efer, uint64_t rflags);

#endif
