/*
 * The VMX backend's per-vCPU state, shared by vmx/vmx.c (the backend) and
 * vmx/nested/nvmx.c (nested VMX at run time).
 *
 * `vmcs_pa` is the VMCS that runs next: vmcs01 while L1 runs, vmcs02 while
 * L1's guest (L2) runs.  Every backend op makes it current first, so the
 * common exit handlers in kernel/ serve an L2 exit that L0 keeps exactly
 * as they serve an L1 exit (the SVM twin: svm/svm_vcpu.h).
 */
#ifndef NESTOR_VMX_VCPU_H
#define NESTOR_VMX_VCPU_H
#include <stdbool.h>
#include <stdint.h>
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_caps.h"

struct nvmx_vcpu;

struct vmx_vcpu {
	uint64_t vmcs_pa;     /* the current level's VMCS */
	uint64_t vmcs01_pa;   /* L1's */
	bool ready;           /* vmcs01's fields written on its CPU */
	bool launched;        /* the current VMCS was launched: next entry is VMRESUME */
	uint32_t proc_ctls;
	uint64_t cr2;         /* CR2 is not in the VMCS: kept here across exits */
	uint64_t exit_rip;    /* guest RIP at the last exit */
	bool timer_armed;     /* preemption timer enabled in the pin-based controls */
	uint64_t msr_star, msr_lstar, msr_cstar, msr_sfmask, msr_kgsbase;
	struct nvmx_vcpu *nested; /* nested = on: the emulated VMX (vmx/nested/nvmx.c) */
};

/* The CPU's VMX capabilities (IA32_VMX_* MSRs, read at enable). */
const struct vmx_caps *vmx_hw_caps(void);
/* L0's I/O bitmaps (A at the address, B one page up) and MSR bitmap. */
extern uint64_t vmx_io_bitmaps_pa, vmx_msr_bitmap_pa;

int vmptrld(uint64_t pa);
int vmclear(uint64_t pa);
/* Make pa this CPU's current VMCS (VMPTRLD unless it already is). */
void vmx_make_current(uint64_t pa);
/* VMCLEAR pa; this CPU then has no current VMCS if it was pa. */
void vmx_clear(uint64_t pa);
/* Every field of the current VMCS that exists on this CPU. */
void vmcs_snapshot(struct vmcs_image *img);
#endif
