/*
 * For test guests that are small SVM hypervisors themselves (nested SVM):
 * turning SVM on, a VMCB for an L2 that runs in L1's own 64-bit world
 * (same page tables, flat segments, NP off), and VMRUN.  AMD APM vol. 2
 * chapter 15.  Header-only: each guest is one C file on the runtime.
 */
#ifndef GUEST_SVM_L1_H
#define GUEST_SVM_L1_H
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "svm/vmcb.h"

#define SVM_EFER_SVME (1ull << 12)

/* EFER.SVME on, a host save area (15.4, 15.30.4). */
static inline void svm_l1_enable(void *hsave_page)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | SVM_EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)hsave_page);
}

static inline void svm_l1_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib)
{
	s->selector = sel;
	s->attrib = attrib;
	s->limit = 0xffffffff;
	s->base = 0;
}

/* A VMCB whose guest starts at rip on stack_top in L1's 64-bit world:
 * L1's CR0/CR3/CR4/EFER, flat segments, ASID 1, only VMRUN and SHUTDOWN
 * intercepted (add more after).  The maps must be 4 KiB aligned. */
static inline void svm_l1_flat_vmcb(struct vmcb *v, uint64_t rip, uint64_t stack_top,
				    void *iopm, void *msrpm)
{
	uint16_t cs, ds;
	__asm__ volatile("mov %%cs, %0; mov %%ds, %1" : "=r"(cs), "=r"(ds));
	memset(v, 0, sizeof(*v));
	v->ctl.intercept_misc1 = SVM_INTERCEPT_SHUTDOWN;
	v->ctl.intercept_misc2 = SVM_INTERCEPT_VMRUN;
	v->ctl.iopm_base_pa = (uint64_t)iopm;
	v->ctl.msrpm_base_pa = (uint64_t)msrpm;
	v->ctl.asid = 1;
	v->ctl.tlb_control = 1;
	svm_l1_seg(&v->save.cs, cs, 0xa9b);     /* 64-bit code: L=1, D=0 */
	svm_l1_seg(&v->save.ds, ds, 0xc93);
	v->save.es = v->save.ss = v->save.ds;
	svm_l1_seg(&v->save.tr, 0, 0x8b);
	v->save.efer = rdmsr(MSR_EFER);
	v->save.cr0 = read_cr0();
	v->save.cr3 = read_cr3();
	v->save.cr4 = read_cr4();
	v->save.dr6 = 0xffff0ff0;
	v->save.dr7 = 0x400;
	v->save.rflags = 2;
	v->save.rip = rip;
	v->save.rsp = stack_top;
	v->save.g_pat = 0x0007040600070406ull;
}

/* VMRUN, then STGI (#VMEXIT cleared GIF).  The GPRs other than RAX/RSP
 * are L2's afterwards: the L2s of these tests leave them alone or name
 * what they clobber. */
static inline void svm_l1_vmrun(struct vmcb *v)
{
	__asm__ volatile("vmrun %%rax\n\tstgi" : : "a"((uint64_t)v) : "memory", "cc");
}
#endif
