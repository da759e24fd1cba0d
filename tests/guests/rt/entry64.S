/*
 * 64-bit entry for test guests booted as plain ELF64 (`format = elf64`):
 * Nestor enters here in long mode on its identity map with EAX = the
 * Multiboot2 magic and RBX = RDI = the information structure.  Link a guest
 * with `-e elf64_entry` to use it; the runtime then runs as usual.
 */
	.text
	.global elf64_entry
elf64_entry:
	cli
	mov $elf64_stack_top, %rsp
	mov %eax, %edi
	mov %ebx, %esi
	call mb_boot_main
1:	hlt
	jmp 1b

	.section .bss
	.balign 16
	.skip 16384
elf64_stack_top:
