/*
 * nsvm: nested SVM at run time — the hardware edge that ties the pure
 * cores of svm/nested/ (vmcb12 checks, vmcb02 merge, exit reflection,
 * NPT composition) to the SVM backend (svm/svm.c).  docs/nested-svm.md
 * walks through it for a student.
 *
 * For a VM with `nested = on`, L1 executes VMRUN, VMLOAD, VMSAVE, STGI,
 * CLGI and INVLPGA; each exits to L0 (vmcb01 intercepts them all) and is
 * emulated here.  L1's VMRUN switches the vCPU to vmcb02, on which L0
 * runs L1's guest L2; each exit of L2 is then either L1's (reflected: a
 * #VMEXIT written into vmcb12, the vCPU back on vmcb01 after L1's VMRUN)
 * or L0's (handled by kernel/'s common handlers on L2's state, and L2
 * resumes).
 */
#ifndef NESTOR_SVM_NESTED_NSVM_H
#define NESTOR_SVM_NESTED_NSVM_H
#include <stdbool.h>
#include "kernel/vcpu.h"
#include "svm/svm_vcpu.h"

/* Allocate the nested state of a vCPU of a nested VM.  0, or -1. */
int nsvm_vcpu_init(struct vcpu *v, struct svm_vcpu *s);

/* After every #VMEXIT of a nested VM's vCPU (exit already decoded for
 * the level that ran): emulate L1's SVM instructions, decide L2's exits.
 * What L0 did itself here comes back as EXIT_NESTED; anything else is
 * for kernel/exits.c, on the state of the level that is current now. */
void nsvm_after_exit(struct vcpu *v, struct vm_exit *e);

/* Before entering: an interrupt or NMI for L1 that L1 intercepts ends
 * L2's run with a #VMEXIT(INTR/NMI) to L1.  true: done, e = EXIT_NESTED. */
bool nsvm_before_run(struct vcpu *v, struct vm_exit *e);

/* Interrupt and NMI delivery (svm.c's window ops ask): may L0 inject
 * L1's event into the current level now?  false while L1's GIF is 0, and
 * while L2 runs if L1 intercepts that event (it becomes a #VMEXIT). */
bool nsvm_irq_injectable(struct vcpu *v);
bool nsvm_nmi_injectable(struct vcpu *v);
/* A window was requested for a pending event: true if nested handles it
 * (GIF = 0: STGI will exit anyway; L1 intercepts: a #VMEXIT is queued). */
bool nsvm_irq_window_nested(struct vcpu *v);
bool nsvm_nmi_window_nested(struct vcpu *v);

/* L1 changed its EFER.SVME. */
void nsvm_svme_changed(struct vcpu *v, bool on);

/* One line of nested counters, for the table printed when a VM ends. */
void nsvm_report(struct vcpu *v);

/* Counters of nested work per vCPU (DESIGN.md principle 5). */
struct nsvm_stats {
	uint64_t vmrun, vmrun_invalid, vmrun_gp;      /* L1's VMRUNs, refused ones */
	uint64_t reflected;                           /* L2 exits given to L1      */
	uint64_t l2_exits_l0;                         /* L2 exits L0 kept          */
	uint64_t npt02_fills, npf_to_l1, npt02_zaps;  /* nested paging             */
	uint64_t vmload, vmsave, stgi, clgi, invlpga;
	uint64_t intr_to_l1;                          /* made-up #VMEXIT(INTR/NMI) */
	uint64_t asid02_leases;                       /* ASIDs leased to L2 contexts */
	uint64_t exit_after_inj;                      /* ... deferred: EVENTINJ first */
};
#endif
