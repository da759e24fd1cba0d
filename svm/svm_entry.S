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
	mov 1*8(%rax), %rcx
	mov 2*8(%rax), %rdx
	mov 3*8(%rax), %rbx
	mov 5*8(%rax), %rbp
	mov 6*8(%rax), %rsi
	mov 7*8(%rax), %rdi
	mov 8*8(%rax), %r8
	mov 9*8(%rax), %r9
	mov 10*8(%rax), %r10
	mov 11*8(%rax), %r11
	mov 12*8(%rax), %r12
	mov 13*8(%rax), %r13
	mov 14*8(%rax), %r14
	mov 15*8(%rax), %r15
	mov 16(%rsp), %rax
	vmload %rax
	vmrun %rax
	vmsave %rax                    /* RAX is the guest VMCB again after #VMEXIT */

	mov 8(%rsp), %rax
	mov %rcx, 1*8(%rax)
	mov %rdx, 2*8(%rax)
	mov %rbx, 3*8(%rax)
	mov %rbp, 5*8(%rax)
	mov %rsi, 6*8(%rax)
	mov %rdi, 7*8(%rax)
	mov %r8, 8*8(%rax)
	mov %r9, 9*8(%rax)
	mov %r10, 10*8(%rax)
	mov %r11, 11*8(%rax)
	mov %r12, 12*8(%rax)
	mov %r13, 13*8(%rax)
	mov %r14, 14*8(%rax)
	mov %r15, 15*8(%rax)
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
