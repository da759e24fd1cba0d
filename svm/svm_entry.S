/*
 * void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_vmcb_pa)
 *
 * One trip into the guest (AMD APM vol. 2 15.5 "VMRUN", 15.17 "global
 * interrupt flag").  VMRUN itself switches RAX, RSP, RIP, RFLAGS, CRs, EFER
 * and the segment registers; the other GPRs are ours to swap, and the
 * "hidden" state (FS/GS/TR/LDTR bases, KERNEL_GS_BASE, STAR/LSTAR/CSTAR/
 * SFMASK, SYSENTER_*) moves with VMLOAD/VMSAVE: the guest's from its VMCB,
 * L0's (its GS base is the per-CPU pointer) from a host VMCB saved at
 * svm_hw_enable().
 *
 * GIF is cleared around the switch so no interrupt or NMI lands between
 * VMLOAD and VMRUN; with RFLAGS.IF = 1 at VMRUN, a physical interrupt while
 * the guest runs causes an INTR #VMEXIT (V_INTR_MASKING = 1).  We return
 * with IF = 0 and GIF = 1: the interrupt stays pending in the LAPIC until
 * the run loop opens an interrupt window.
 */
#include "arch/x86/guest_gprs.h"

	.text
	.global svm_vmrun
svm_vmrun:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi                      /* 16(%rsp): guest VMCB */
	push %rsi                      /*  8(%rsp): gpr[] */
	push %rdx                      /*  0(%rsp): host VMCB */

	clgi
	sti                            /* held by GIF = 0 until VMRUN */
	mov %rsi, %rax
	LOAD_GUEST_GPRS %rax
	mov 16(%rsp), %rax
	vmload %rax
	vmrun %rax
	vmsave %rax                    /* RAX is the guest VMCB again after #VMEXIT */

	mov 8(%rsp), %rax
	SAVE_GUEST_GPRS %rax
	mov 0(%rsp), %rax
	vmload %rax                    /* L0's GS base (per-CPU data), TR, ... */
	cli
	stgi
	add $24, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	/* void svm_vmsave(uint64_t pa): capture L0's hidden state once per CPU. */
	.global svm_vmsave
svm_vmsave:
	mov %rdi, %rax
	vmsave %rax
	ret
