/*
 * enter.S: the last step of the loader, the jump into the kernel.
 *
 *   void nestor_efi_enter(uint64_t boot_info, uint64_t entry,
 *                         uint64_t stack_top);        -- System V ABI
 *
 * Called after ExitBootServices() (UEFI 2.10 sec. 7.4.6): from here on no
 * firmware service but the runtime ones may be used, and the kernel owns the
 * machine.  The CPU is still in the state the firmware handed us
 * (UEFI 2.10 sec. 2.3.4 "x64 Platforms"): long mode, paging on with an identity
 * mapping of all memory in the map, a flat GDT, interrupts possibly enabled.
 *
 * We switch to a stack allocated as EfiLoaderData (reported MEM_RESERVED in
 * boot_info) because the firmware's stack lives in boot-services memory,
 * which boot_info hands to the kernel as usable RAM.
 *
 * The kernel contract: RDI = boot_info, interrupts off, never returns.
 * Written in assembly so no compiler ABI question (gnu-efi's ms_abi vs the
 * kernel's System V) can arise at this boundary.
 */
	.text
	.globl nestor_efi_enter
	.type nestor_efi_enter, @function
nestor_efi_enter:
	cli                     /* firmware timer interrupts must not reach a
	                           kernel that has no IDT yet */
	mov	%rdx, %rsp      /* 16-byte aligned top of our own stack */
	xor	%ebp, %ebp      /* end of the frame-pointer chain for backtraces */
	pushq	$0              /* fake return address: at entry RSP % 16 == 8,
	                           as after a call (SysV ABI sec. 3.2.2) */
	jmp	*%rsi           /* RDI already holds boot_info */
	.size nestor_efi_enter, . - nestor_efi_enter

	.section .note.GNU-stack, "", @progbits
