/*
 * AP start-up trampoline (SDM 3A 9.4.4, 10.4): an AP woken by INIT-SIPI-SIPI
 * starts in real mode at CS = vector << 8, IP = 0.  smp.c copies this code
 * to a free page below 1 MiB and puts what the AP needs in the page after
 * it (struct tramp_data in smp.c): a GDT, far pointers, CR3, stack, entry.
 * Real mode -> 32-bit protected mode -> long mode -> ap_main(percpu).
 */
#define DATA 0x1000                      /* offset of the data page */
#define D_GDTR   (DATA + 32)
#define D_FAR32  (DATA + 40)
#define D_FAR64  (DATA + 48)
#define D_CR3    (DATA + 56)
#define D_STACK  (DATA + 64)
#define D_ENTRY  (DATA + 72)
#define D_ARG    (DATA + 80)

	.section .rodata
	.global tramp_start, tramp_end
	.code16
tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	xor %ebx, %ebx
	mov %ax, %bx
	shl $4, %ebx                       /* ebx = physical base of this page */
	lgdtl D_GDTR
	mov %cr0, %eax
	or $1, %eax                        /* CR0.PE */
	mov %eax, %cr0
	ljmpl *D_FAR32

	.code32
tramp_32 = . - tramp_start
	.global tramp_32_offset
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %cr4, %eax
	or $(1 << 5), %eax                 /* CR4.PAE */
	mov %eax, %cr4
	mov D_CR3(%ebx), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx              /* EFER: LME, NXE */
	rdmsr
	or $((1 << 8) | (1 << 11)), %eax
	wrmsr
	mov %cr0, %eax
	or $((1 << 31) | (1 << 16) | 1), %eax   /* PG, WP, PE */
	mov %eax, %cr0
	ljmp *D_FAR64(%ebx)

	.code64
tramp_64 = . - tramp_start
	mov %ebx, %ebx                     /* zero-extend the page base */
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov D_STACK(%rbx), %rsp
	mov D_ARG(%rbx), %rdi
	mov D_ENTRY(%rbx), %rax
	call *%rax
1:	hlt
	jmp 1b
tramp_end:

	.balign 4
	.global tramp_offsets
tramp_offsets:
	.long tramp_32, tramp_64
