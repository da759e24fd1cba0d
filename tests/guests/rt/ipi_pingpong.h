/*
 * IPI ping-pong between vCPU 0 and vCPU 1, x2APIC, for the benchmarks:
 * bench.c at L1, nsvm_bench/nvmx_bench between two L2s (each L1 vCPU runs
 * one in L1's own world, sharing L1's IDT).  vCPU 0 sends PP_VEC_PING to
 * APIC ID 1 and waits in HLT; vCPU 1's handler copies the sequence number
 * and answers PP_VEC_PONG to APIC ID 0.  Also the second vCPU's start-up:
 * INIT-SIPI-SIPI onto the shared trampoline (arch/x86/trampoline.S) and
 * into the BSP's GDT and IDT.
 */
#ifndef GUEST_IPI_PINGPONG_H
#define GUEST_IPI_PINGPONG_H
#include "tests/guests/rt/rt.h"
#include "arch/x86/trampoline.h"

#define PP_VEC_PING 0x50
#define PP_VEC_PONG 0x51
#define PP_X2_EOI   0x80b
#define PP_X2_SVR   0x80f
#define PP_X2_ICR   0x830
#define PP_MSR_APIC_BASE 0x1b
#define PP_TRAMP    0x6000         /* code page; data page at 0x7000 */

static volatile uint64_t pp_seq, pp_ack;     /* vCPU 0 -> 1, 1 -> 0 */
static void (*volatile pp_ping_hook)(void);  /* run by vCPU 1 before it answers */

static void pp_on_ping(void)                 /* vCPU 1 */
{
	if (pp_ping_hook)
		pp_ping_hook();
	pp_ack = pp_seq;
	wrmsr(PP_X2_EOI, 0);
	wrmsr(PP_X2_ICR, (0ull << 32) | PP_VEC_PONG);
}
static void pp_on_pong(void) { wrmsr(PP_X2_EOI, 0); }  /* vCPU 0 */

/* One round trip, from vCPU 0. */
static void pp_ping(void)
{
	uint64_t s = pp_seq + 1;
	pp_seq = s;
	wrmsr(PP_X2_ICR, (1ull << 32) | PP_VEC_PING);
	while (pp_ack != s)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* "<op>: per round trip X.XX exits of vCPU 0, Y.YY of vCPU 1": each
 * vCPU's L0 exits over n round trips. */
static void pp_print_exits(const char *op, uint64_t exits0, uint64_t exits1, uint64_t n)
{
	rt_printf("%s: per round trip %lu.%02lu exits of vCPU 0, %lu.%02lu of vCPU 1\n", op,
		  (unsigned long)(exits0 / n), (unsigned long)(exits0 * 100 / n % 100),
		  (unsigned long)(exits1 / n), (unsigned long)(exits1 * 100 / n % 100));
}

/* x2APIC mode on this vCPU; false without x2APIC in CPUID. */
static bool pp_x2apic_on(void)
{
	if (!(cpuid(1, 0).ecx & (1u << 21)))
		return false;
	wrmsr(PP_MSR_APIC_BASE, rdmsr(PP_MSR_APIC_BASE) | (1u << 11) | (1u << 10));
	wrmsr(PP_X2_SVR, 0x1ff);
	return true;
}

static volatile unsigned pp_ap_running;
static void (*pp_ap_body)(void);

static void pp_ap_entry(uint64_t gdtr_addr)
{
	/* As in smp.c: the BSP's GDT, whose selectors the IDT gates name. */
	__asm__ volatile("lgdt (%0)\n\t"
			 "pushq $0x08\n\t lea 1f(%%rip), %%rax\n\t pushq %%rax\n\t lretq\n"
			 "1: mov $0x10, %%eax\n\t mov %%eax, %%ds\n\t mov %%eax, %%es\n\t mov %%eax, %%ss"
			 : : "r"(gdtr_addr) : "rax", "memory");
	rt_idt_load();
	pp_x2apic_on();
	__atomic_store_n(&pp_ap_running, 1, __ATOMIC_RELEASE);
	if (pp_ap_body)
		pp_ap_body();
	for (;;)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* Handlers registered, vCPU 1 started on stack_top running body() (or
 * HLT with interrupts on), this vCPU in x2APIC mode.  False with a reason
 * when vCPU 1 did not start or there is no x2APIC. */
static bool pp_start(void *stack_top, void (*body)(void), uint64_t tsc_khz)
{
	static struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr;
	if (!tsc_khz)
		tsc_khz = 1000000;
	rt_irq_register(PP_VEC_PING, pp_on_ping);
	rt_irq_register(PP_VEC_PONG, pp_on_pong);
	pp_ap_body = body;
	lapic_wr(0xf0, 0x1ff);
	tramp_install(PP_TRAMP);
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	tramp_fill(PP_TRAMP, read_cr3(), (uint64_t)stack_top, (uint64_t)pp_ap_entry, (uint64_t)&gdtr);
	lapic_wr(0x310, 1u << 24);
	lapic_wr(0x300, (5u << 8) | (1u << 14) | (1u << 15));   /* INIT, level assert */
	rt_delay_tsc(10 * tsc_khz);
	for (int i = 0; i < 2 && !pp_ap_running; i++) {
		lapic_wr(0x310, 1u << 24);
		lapic_wr(0x300, (6u << 8) | (PP_TRAMP >> 12));   /* STARTUP */
		rt_delay_tsc(tsc_khz);
	}
	uint64_t end = rdtsc() + 2000 * tsc_khz;
	while (!pp_ap_running && rdtsc() < end)
		cpu_relax();
	return pp_ap_running && pp_x2apic_on();
}
#endif
