/*
 * 64-bit kernel entry from the UEFI loader (ELF e_entry) and the BSP boot
 * stack.  The loader calls efi_entry64 with RDI = struct boot_info *, in
 * long mode on the firmware's identity map, interrupts off (see
 * boot/efi/loader.c).  kmain installs Nestor's own GDT/IDT before anything
 * else, because the firmware's live in memory we are about to reuse.
 */
	.text
	.global efi_entry64
efi_entry64:
	cli
	cld
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	call kmain
1:	hlt
	jmp 1b

	/* The BSP stack, with a guard page below it that paging leaves unmapped
	 * (mm/paging.c), so an overflow faults instead of corrupting .bss. */
	.section .bss
	.balign 4096
	.global boot_stack_guard, boot_stack_top
boot_stack_guard:
	.skip 4096
boot_stack:
	.skip 32768
boot_stack_top:
