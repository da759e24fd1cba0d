/*
 * nvmx: nested VMX at run time — the hardware edge that ties the pure
 * cores of vmx/nested/ (VMX instruction semantics, vmcs12, the VM-entry
 * checks, the vmcs02 merge, exit reflection, EPT composition) to the VMX
 * backend (vmx/vmx.c).  The sibling of svm/nested/nsvm.h; docs/nested-vmx.md
 * walks through it.
 *
 * For a VM with `nested = on` on an Intel host, L1's VMX instructions exit
 * to L0 (they always do in VMX non-root operation, SDM 26.1.2) and are
 * emulated here.  VMLAUNCH/VMRESUME switch the vCPU to vmcs02, on which L0
 * runs L1's guest L2; each exit of L2 is then L1's (reflected: written
 * into vmcs12, L1 resumes with vmcs12's host state) or L0's (handled by
 * kernel/'s common handlers on L2's state, and L2 resumes).
 */
#ifndef NESTOR_VMX_NESTED_NVMX_H
#define NESTOR_VMX_NESTED_NVMX_H
#include <stdbool.h>
#include <stdint.h>
#include "kernel/vcpu.h"
#include "vmx/vmx_vcpu.h"

/* Allocate the nested state of a vCPU of a nested VM.  0, or -1. */
int nvmx_vcpu_init(struct vcpu *v, struct vmx_vcpu *x);

/* After every VM exit of a nested VM's vCPU (decoded for the level that
 * ran): emulate L1's VMX instructions, decide L2's exits.  What L0 did
 * itself comes back as EXIT_NESTED. */
void nvmx_after_exit(struct vcpu *v, struct vm_exit *e);

/* Before entering: an event for L1 that L1 takes as a VM exit ends L2's
 * run first.  true: done, e = EXIT_NESTED. */
bool nvmx_before_run(struct vcpu *v, struct vm_exit *e);

/* Event delivery while L2 runs (vmx.c's window ops ask). */
bool nvmx_irq_injectable(struct vcpu *v);
bool nvmx_nmi_injectable(struct vcpu *v);
bool nvmx_irq_window_nested(struct vcpu *v);
bool nvmx_nmi_window_nested(struct vcpu *v);

/* The VMX capability MSRs and IA32_FEATURE_CONTROL as L1 sees them
 * (SDM appendix A).  0, or -1 if msr is none of them. */
int nvmx_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);

void nvmx_report(struct vcpu *v);

/* The CPU refused to enter vmcs02 (VMfailValid err, or VMfailInvalid when
 * err is 0): L1's VMLAUNCH/VMRESUME fails with that error, as L1's own CPU
 * would have failed it, and L1 continues after it. */
void nvmx_entry_vmfail(struct vcpu *v, uint32_t err);
bool nvmx_in_l2(struct vcpu *v);

struct nvmx_stats {
	uint64_t entries, entry_fail_valid, entry_fail_exit; /* VMLAUNCH/VMRESUME */
	uint64_t fast_entries;                                /* VMRESUMEs without a merge */
	uint64_t insns;                                       /* other VMX insns  */
	uint64_t reflected, l2_exits_l0;
	uint64_t ept02_fills, ept_to_l1, ept02_zaps;
	uint64_t intr_to_l1;
	uint64_t exit_after_inj;                              /* of those: L2 entered first to deliver an injection */
	uint64_t vpid02_assigned;                             /* VPID12s given a VPID02 */
	uint64_t l2_shadow_vmcs;                              /* L2 VMREAD/VMWRITE done by L0 */
};
#endif
