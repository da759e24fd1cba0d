/*
 * kernel_blob.S: the kernel ELF (build/nestor.elf), carried as data.
 *
 * BOOTX64.EFI is one file on the ESP; the non-PIC kernel travels inside it
 * and loader.c copies its segments to their link addresses (DESIGN.md "One
 * kernel, three ways in").  The path comes from the build:
 *     -DNESTOR_ELF=\"build/nestor.elf\"
 * efi.mk also lists the ELF as a prerequisite, since the assembler cannot
 * tell make that it depends on an .incbin file.
 *
 * .rodata lands in the .data output section of gnu-efi's elf_x86_64_efi.lds
 * (*(.rodata*)), which objcopy copies into the PE image.
 */
#ifndef NESTOR_ELF
#error "define NESTOR_ELF as the quoted path of the kernel ELF"
#endif

	.section .rodata.nestor_kernel, "a"
	.balign 4096 /* page-aligned: ELF headers read in place, no misaligned loads */
	.globl nestor_kernel_elf
	.globl nestor_kernel_elf_end
nestor_kernel_elf:
	.incbin NESTOR_ELF
nestor_kernel_elf_end:

	.section .note.GNU-stack, "", @progbits
