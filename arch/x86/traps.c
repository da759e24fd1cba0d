/*
 * GDT, TSS and IDT for every CPU, and the C side of exception handling.
 *
 * An unexpected exception in L0 is a bug in Nestor: we print everything a
 * developer needs (vector, error code, RIP, CR2, registers) and end the run
 * as a failure, so that the harness sees it and a human on a serial console
 * too.
 */
#include <stddef.h>
#include <stdlib.h>
#include "arch/x86/traps.h"
#include "arch/x86/cpu.h"
#include "arch/x86/percpu.h"
#include "kernel/log.h"
#include "mm/frame.h"
#include "mm/paging.h"

#define GDT_CODE64 0x08
#define GDT_DATA   0x10
#define GDT_TSS    0x18

#define IST_DF  1
#define IST_NMI 2
#define IST_MC  3
#define IST_STACK_SIZE 8192

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern char trap_stubs[];
extern char rdmsr_safe_insn[], rdmsr_safe_fault[];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static trap_handler_fn handlers[256];

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
	"reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26",
	"reserved 27", "#HV hypervisor injection", "#VC VMM communication", "#SX security",
	"reserved 31",
};

const char *exception_name(unsigned vector)
{
	return vector < 32 ? exception_names[vector] : "interrupt";
}

static void set_gate(unsigned vec, uint8_t ist)
{
	uint64_t addr = (uint64_t)(trap_stubs + 16 * vec);
	idt[vec] = (struct idt_gate){
		.offset_lo = (uint16_t)addr,
		.selector = GDT_CODE64,
		.ist = ist,
		.type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
		.offset_mid = (uint16_t)(addr >> 16),
		.offset_hi = (uint32_t)(addr >> 32),
	};
}

void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++)
		set_gate(v, 0);
}

void idt_load(void)
{
	struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void trap_register(unsigned vector, trap_handler_fn fn)
{
	handlers[vector & 0xff] = fn;
}

static uint64_t ist_stack(void)
{
	/* A guard page under it too: an overflow inside a fault handler then
	 * faults again instead of corrupting memory. */
	return paging_alloc_stack(IST_STACK_SIZE / 4096);
}

void gdt_init_this_cpu(void)
{
	struct percpu *cpu = this_cpu();
	uint64_t tss = (uint64_t)&cpu->tss;
	uint64_t limit = sizeof(cpu->tss) - 1;

	cpu->gdt[0] = 0;
	cpu->gdt[1] = 0x00af9a000000ffffull; /* code: present, DPL0, L=1 */
	cpu->gdt[2] = 0x00cf92000000ffffull; /* data */
	/* 16-byte TSS descriptor (SDM 3A 8.2.3): type 9 = available 64-bit TSS */
	cpu->gdt[3] = (limit & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
		      ((limit & 0xf0000) << 32) | ((tss & 0xff000000ull) << 32);
	cpu->gdt[4] = tss >> 32;

	cpu->tss.iomap_base = sizeof(cpu->tss); /* no I/O bitmap */

	struct desc_ptr p = { sizeof(cpu->gdt) - 1, (uint64_t)cpu->gdt };
	__asm__ volatile(
		"lgdt %0\n\t"
		"mov %1, %%ds\n\t mov %1, %%es\n\t mov %1, %%ss\n\t"
		"pushq %2\n\t lea 1f(%%rip), %%rax\n\t pushq %%rax\n\t lretq\n"
		"1:\n\t ltr %w3"
		: : "m"(p), "r"(GDT_DATA), "i"(GDT_CODE64), "r"(GDT_TSS) : "rax", "memory");
}

/* Faults that can arrive on a broken stack (#DF, NMI, #MC) get stacks of
 * their own through the TSS's IST (SDM 3A 6.14.5).  Called once the frame
 * allocator works, on every CPU before it enables interrupts. */
void tss_init_ist(void)
{
	struct percpu *cpu = this_cpu();
	cpu->tss.ist[IST_DF - 1] = ist_stack();
	cpu->tss.ist[IST_NMI - 1] = ist_stack();
	cpu->tss.ist[IST_MC - 1] = ist_stack();
	set_gate(VEC_DF, IST_DF);
	set_gate(VEC_NMI, IST_NMI);
	set_gate(VEC_MC, IST_MC);
}

static void dump_and_die(struct trap_frame *tf)
{
	uint64_t cr2 = read_cr2();
	kprint("\n*** L0 EXCEPTION on cpu %u: vector %lu (%s) error_code %#lx\n",
	       this_cpu()->index, tf->vector, exception_name(tf->vector), tf->error_code);
	kprint("RIP %016lx CS %04lx RFLAGS %016lx RSP %016lx SS %04lx\n",
	       tf->rip, tf->cs, tf->rflags, tf->rsp, tf->ss);
	kprint("CR2 %016lx CR3 %016lx CR0 %016lx CR4 %016lx\n",
	       cr2, read_cr3(), read_cr0(), read_cr4());
	kprint("RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	kprint("RSI %016lx RDI %016lx RBP %016lx R8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	kprint("R9  %016lx R10 %016lx R11 %016lx R12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	kprint("R13 %016lx R14 %016lx R15 %016lx\n", tf->r13, tf->r14, tf->r15);
	if (tf->vector == VEC_PF)
		kprint("page fault: %s %s%s at %#lx\n",
		       (tf->error_code & 1) ? "protection violation" : "not-present page",
		       (tf->error_code & 2) ? "write" : "read",
		       (tf->error_code & 16) ? " (instruction fetch)" : "", cr2);
	run_end(RUN_FAIL);
}

/* An interrupt the CPU acknowledged for us on a VM exit (VMX "acknowledge
 * interrupt on exit"): run its handler as if it had arrived normally. */
void trap_dispatch_vector(uint8_t vector)
{
	struct trap_frame tf = { .vector = vector };
	if (handlers[vector])
		handlers[vector](&tf);
	else if (vector != VEC_SPURIOUS)
		log_warn("interrupt %u with no handler", vector);
}

void trap_dispatch(struct trap_frame *tf);
void trap_dispatch(struct trap_frame *tf)
{
	unsigned vec = (unsigned)tf->vector;

	/* rdmsr_safe(): a #GP on its RDMSR means "no such MSR" (SDM RDMSR). */
	if (vec == VEC_GP && tf->rip == (uint64_t)rdmsr_safe_insn) {
		tf->rip = (uint64_t)rdmsr_safe_fault;
		return;
	}
	if (handlers[vec]) {
		handlers[vec](tf);
		return;
	}
	if (vec == VEC_SPURIOUS)
		return; /* SDM 3A 11.9: spurious vector, no EOI */
	dump_and_die(tf);
}
