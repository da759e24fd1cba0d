/* Per-CPU data, reached through GS (gs:0 holds the structure's own address). */
#ifndef NESTOR_PERCPU_H
#define NESTOR_PERCPU_H

#include <stdint.h>

#define MAX_CPUS 64

/* 64-bit TSS (SDM vol. 3A 8.7): only the stack pointers matter to us. */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct percpu {
	struct percpu *self; /* must stay first: this_cpu() reads gs:0 */
	unsigned index;      /* 0 = BSP, dense */
	uint32_t apic_id;
	uint64_t stack_top;
	volatile int online;
	void (*volatile work)(void); /* set by smp_run_on() */
	uint64_t gdt[5];     /* null, code64, data, TSS (two slots) */
	struct tss64 tss;
};

extern struct percpu percpu_area[MAX_CPUS];
extern unsigned cpu_count;        /* CPUs found in the MADT (or 1) */
extern volatile unsigned cpus_online;

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

#endif
