/*
 * Interrupt and exception entry stubs: one per vector, all funnelling into
 * trap_common, which saves the general registers into a struct trap_frame
 * (traps.h) and calls trap_dispatch(frame).
 */
	.text
	.global trap_stubs
	.balign 16
trap_stubs:
.set vec, 0
.rept 256
	.balign 16                           /* stub n is at trap_stubs + 16 * n */
	/* Exceptions 8, 10-14, 17, 21, 29, 30 push an error code (SDM 3A 6.13) */
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	push $0
	.endif
	push $vec
	jmp trap_common
	.set vec, vec + 1
.endr

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call trap_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                             /* vector, error code */
	iretq

/* int rdmsr_safe(uint32_t msr, uint64_t *val): 0, or -1 if RDMSR faulted.
 * trap_dispatch resumes a #GP at rdmsr_safe_insn at rdmsr_safe_fault. */
	.global rdmsr_safe, rdmsr_safe_insn, rdmsr_safe_fault
rdmsr_safe:
	mov %edi, %ecx
rdmsr_safe_insn:
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	mov %rax, (%rsi)
	xor %eax, %eax
	ret
rdmsr_safe_fault:
	mov $-1, %eax
	ret
