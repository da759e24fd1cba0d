/*
 * Multiboot entry: headers for both Multiboot2 (GRUB, Bochs) and Multiboot1
 * with address fields (QEMU -kernel), and the 32-bit code that switches to
 * long mode and calls mb_boot_main(magic, info) in C.
 *
 * The loader leaves us in 32-bit protected mode, paging off, EAX = magic,
 * EBX = physical address of the boot information (MB1 spec 3.2, MB2 spec 3.3).
 * We build a throw-away identity map of the first 4 GiB with 2 MiB pages
 * (enough to reach the kernel, the boot information and the modules, which
 * loaders place below 4 GiB); kmain replaces it with the real one.
 */
#define MB2_MAGIC      0xe85250d6
#define MB1_MAGIC      0x1badb002
#define MB1_FLAGS      ((1 << 0) | (1 << 1) | (1 << 16)) /* page-align mods, mem info, address fields */

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long 0                                   /* architecture: i386 protected mode */
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + 0 + (mb2_header_end - mb2_header))
	/* information request tag (type 1): we need these or we cannot boot */
	.balign 8
mb2_info_req:
	.short 1, 0
	.long mb2_info_req_end - mb2_info_req
	.long 1, 3, 6                             /* cmdline, modules, memory map */
mb2_info_req_end:
	/* entry address tag (type 3): ELF e_entry is the 64-bit UEFI entry */
	.balign 8
	.short 3, 0
	.long 12
	.long mb_entry32
	/* module alignment tag (type 6): page-aligned modules */
	.balign 8
	.short 6, 0
	.long 8
	.balign 8
	.short 0, 0                               /* end tag */
	.long 8
mb2_header_end:

	.balign 4
mb1_header:
	.long MB1_MAGIC
	.long MB1_FLAGS
	.long -(MB1_MAGIC + MB1_FLAGS)
	.long mb1_header                          /* header_addr */
	.long __kernel_start                      /* load_addr */
	.long __data_end                          /* load_end_addr */
	.long __kernel_end                        /* bss_end_addr */
	.long mb_entry32                          /* entry_addr */

	.section .boot.text, "ax"
	.code32
	.global mb_entry32
mb_entry32:
	cli
	cld
	mov $boot_stack_top, %esp
	mov %eax, %edi                            /* keep magic and info for C */
	mov %ebx, %esi

	/* Long mode needs CPUID 0x80000001 EDX.LM (bit 29). */
	mov $0x80000000, %eax
	cpuid
	cmp $0x80000001, %eax
	jb no_long_mode
	mov $0x80000001, %eax
	cpuid
	bt $29, %edx
	jnc no_long_mode

	/* PML4[0] -> PDPT, PDPT[0..3] -> PD0..PD3, each PD maps 1 GiB in 2 MiB pages. */
	mov $boot_pdpt, %eax
	or $3, %eax
	mov %eax, boot_pml4
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	add $boot_pd, %eax
	or $3, %eax
	mov %eax, boot_pdpt(,%ecx,8)
	inc %ecx
	cmp $4, %ecx
	jb 1b
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax                            /* present, writable, 2 MiB page */
	mov %eax, boot_pd(,%ecx,8)
	mov %ecx, %eax
	shr $11, %eax                             /* bits 32+ of the address */
	mov %eax, boot_pd+4(,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jb 2b

	mov %cr4, %eax
	or $(1 << 5), %eax                        /* CR4.PAE */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx                     /* IA32_EFER */
	rdmsr
	or $((1 << 8) | (1 << 11)), %eax          /* LME, NXE */
	wrmsr
	mov %cr0, %eax
	or $((1 << 31) | 1), %eax                 /* PG, PE */
	mov %eax, %cr0
	lgdt boot_gdt_ptr
	ljmp $0x08, $mb_entry64

no_long_mode:
	/* Tell the serial line why we stop: no C, no stack discipline needed. */
	mov $msg_no_lm, %esi
3:	lodsb
	test %al, %al
	jz 4f
	mov $0x3f8, %dx
	outb %al, %dx
	jmp 3b
4:	hlt
	jmp 4b

	.code64
mb_entry64:
	xor %eax, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	/* edi = magic, esi = info (zero-extended by the 32-bit moves above) */
	call mb_boot_main
5:	hlt
	jmp 5b

	.section .rodata
msg_no_lm:
	.asciz "nestor: this CPU has no long mode; cannot boot\r\n"

	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff                  /* 64-bit code */
	.quad 0x00cf92000000ffff                  /* data */
boot_gdt_ptr:
	.short boot_gdt_ptr - boot_gdt - 1
	.long boot_gdt

	.section .bss
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt:	.skip 4096
boot_pd:	.skip 4 * 4096
