/*
 * Moving a guest's general registers between the CPU and its gpr[] array
 * (kernel/vcpu.h: RAX=0 ... R15=15), shared by the SVM and VMX entry code.
 * RAX and RSP are left out: each backend handles them (the VMCB/VMCS hold
 * RSP; RAX carries the VMCB address on SVM).  Assembler macros, for .S files.
 */
#ifndef NESTOR_GUEST_GPRS_H
#define NESTOR_GUEST_GPRS_H

/* Load every GPR but RAX/RSP from the array at \base (a register not loaded). */
.macro LOAD_GUEST_GPRS base
	mov 1*8(\base), %rcx
	mov 2*8(\base), %rdx
	mov 3*8(\base), %rbx
	mov 5*8(\base), %rbp
	mov 6*8(\base), %rsi
	mov 7*8(\base), %rdi
	mov 8*8(\base), %r8
	mov 9*8(\base), %r9
	mov 10*8(\base), %r10
	mov 11*8(\base), %r11
	mov 12*8(\base), %r12
	mov 13*8(\base), %r13
	mov 14*8(\base), %r14
	mov 15*8(\base), %r15
.endm

/* Store every GPR but RAX/RSP into the array at \base. */
.macro SAVE_GUEST_GPRS base
	mov %rcx, 1*8(\base)
	mov %rdx, 2*8(\base)
	mov %rbx, 3*8(\base)
	mov %rbp, 5*8(\base)
	mov %rsi, 6*8(\base)
	mov %rdi, 7*8(\base)
	mov %r8, 8*8(\base)
	mov %r9, 9*8(\base)
	mov %r10, 10*8(\base)
	mov %r11, 11*8(\base)
	mov %r12, 12*8(\base)
	mov %r13, 13*8(\base)
	mov %r14, 14*8(\base)
	mov %r15, 15*8(\base)
.endm
#endif
