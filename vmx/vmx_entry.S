/*
 * int vmx_enter(uint64_t *gpr, int launched)
 *
 * One trip into the guest on the current VMCS (SDM vol. 3 chapter "VM
 * Entries" / "VM Exits").  The CPU switches RSP, RIP, RFLAGS, CRs and
 * segments from the VMCS; the general registers are ours: guest values
 * from gpr[] (RSP excluded: it lives in the VMCS), saved back on exit.
 * HOST_RSP is written here, just below the saved host state, so the exit
 * lands in vmx_exit with our stack.  Returns 0 after a VM exit, 1 for
 * VMfailInvalid (CF), 2 for VMfailValid (ZF: read VM_INSTRUCTION_ERROR).
 */
#include "arch/x86/guest_gprs.h"

	.text
	.global vmx_enter
vmx_enter:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi                      /* gpr[] for the exit path */
	mov $0x6c14, %eax              /* HOST_RSP */
	vmwrite %rsp, %rax
	mov %rdi, %rax
	test %esi, %esi
	LOAD_GUEST_GPRS %rax
	mov 0*8(%rax), %rax            /* flags from the test above survive the MOVs */
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	/* Only reached when the entry failed: CF or ZF tells which. */
	mov $1, %eax
	jc 3f
	mov $2, %eax
3:	add $8, %rsp
	jmp vmx_leave

	.global vmx_exit
vmx_exit:
	/* VM exit: RSP = HOST_RSP, i.e. gpr[] is on top of the stack. */
	push %rax
	mov 8(%rsp), %rax
	SAVE_GUEST_GPRS %rax
	pop %rcx
	mov %rcx, 0*8(%rax)
	add $8, %rsp
	xor %eax, %eax
vmx_leave:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
