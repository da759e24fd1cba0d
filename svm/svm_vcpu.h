/*
 * The SVM backend's per-vCPU state, shared by svm/svm.c (the backend) and
 * svm/nested/nsvm.c (nested SVM at run time).
 *
 * `vmcb` is the VMCB that runs next: vmcb01 while L1 runs, vmcb02 while
 * L1's guest (L2) runs.  Every backend op (registers, event injection,
 * windows) works on it, so the common exit handlers in kernel/ serve an
 * L2 exit that L0 keeps exactly as they serve an L1 exit.
 */
#ifndef NESTOR_SVM_VCPU_H
#define NESTOR_SVM_VCPU_H
#include <stdbool.h>
#include <stdint.h>
#include "svm/vmcb.h"

struct nsvm_vcpu;

struct svm_vcpu {
	struct vmcb *vmcb;      /* the current VMCB: vmcb01 or vmcb02 */
	struct vmcb *vmcb01;    /* L1 as L0 runs it */
	/* NMI blocking, which SVM does not show (APM 15.20): set when Nestor
	 * injects an NMI, ended by the guest's IRET, which is intercepted
	 * meanwhile; the window opens once RIP has moved past that IRET. */
	bool nmi_blocked;
	uint64_t iret_rip;
	bool efer_svme;         /* EFER.SVME as L1 wrote it (vmcb01 always has
				   it set: VMRUN requires it, APM 15.5.1) */
	struct nsvm_vcpu *nested; /* nested = on: the emulated SVM (svm/nested/nsvm.c) */
};

/* L0's permission maps (all VMs share one policy). */
extern uint64_t svm_iopm_pa, svm_msrpm_pa;

/* Enter a guest on a VMCB: VMLOAD/VMRUN/VMSAVE around it (svm_entry.S). */
void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_vmcb_pa);

#define SVM_FEATURE_NRIPS        (1u << 3)
#define SVM_FEATURE_FLUSH_BY_ASID (1u << 6)
#define SVM_FEATURE_VGIF         (1u << 16)
#endif
