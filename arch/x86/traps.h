#ifndef NESTOR_TRAPS_H
#define NESTOR_TRAPS_H

#include <stdint.h>

/* Saved by the stubs in traps.S; the last seven words are what the CPU pushed
 * (with a zero error code where the CPU pushes none, SDM vol. 3A 6.13). */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

#define VEC_NMI 2
#define VEC_DF 8
#define VEC_GP 13
#define VEC_PF 14
#define VEC_MC 18
#define VEC_LAPIC_TIMER 0x20
#define VEC_IPI_WAKE    0x21
#define VEC_SPURIOUS    0xff

typedef void (*trap_handler_fn)(struct trap_frame *tf);

void idt_init(void);              /* build the shared IDT (BSP, once) */
void idt_load(void);              /* every CPU */
void gdt_init_this_cpu(void);     /* GDT + TSS with IST stacks, every CPU */
void tss_init_ist(void);          /* IST stacks; needs the frame allocator */
void trap_register(unsigned vector, trap_handler_fn fn);
void trap_dispatch_vector(uint8_t vector);
const char *exception_name(unsigned vector);

#endif
