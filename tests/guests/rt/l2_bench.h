/*
 * The L2 half of nsvm_bench and nvmx_bench: L2 code (flat, CPL 0, IF = 0)
 * that times an operation L0 answers for it, keeps the best round in
 * l2_best, and then ends in the vendor's hypercall, which L1 intercepts.
 * Included once by each, after it defines ROUNDS, BATCH, FT_PAGES,
 * ft_area and L2_BENCH_EXIT ("vmmcall" or "vmcall").
 */
#ifndef GUEST_L2_BENCH_H
#define GUEST_L2_BENCH_H
#include "tests/guests/rt/ipi_pingpong.h"

static volatile uint64_t l2_best;

/* name(): BATCH times the statement(s) given (k counts them), best of
 * ROUNDS rounds.  A macro, not a function taking the operation, so that
 * the timed loop holds nothing but the operation and its counter. */
#define L2_TIMED(name, ...)                                     \
	static void name(void)                                  \
	{                                                       \
		for (int r = 0; r < ROUNDS; r++) {              \
			uint64_t t0 = rdtsc();                  \
			for (int k = 0; k < BATCH; k++) {       \
				__VA_ARGS__;                    \
			}                                       \
			uint64_t t = rdtsc() - t0;              \
			if (t < l2_best)                        \
				l2_best = t;                    \
		}                                               \
		for (;;)                                        \
			__asm__ volatile(L2_BENCH_EXIT ::: "memory"); \
	}

/* An OUT to port 0x3FF (COM1's scratch register), which L1 does not
 * intercept: L0 emulates it for L2. */
L2_TIMED(l2_pio_timed, outb(0x3ff, (uint8_t)k))

/* A load from 0xd0000000, a hole in L1's map that L1 passes through to L2
 * (identity): L0 decodes the load at L2's RIP (through L2's paging) and
 * answers it as unassigned MMIO, as at L1 (bench.c's mmio). */
L2_TIMED(l2_mmio_timed, (void)*(volatile uint32_t *)0xd0000000ull)

/* RDMSR of IA32_PAT (0x277), which L1's MSR map does not intercept. */
L2_TIMED(l2_rdmsr_timed, uint64_t v; rdmsr_safe(0x277, &v))

/* first_touch: ft_rounds rounds of FT_PAGES pages of ft_area L2 never
 * touched, one store each.  ft_rounds = 0: a warm-up that fills NPT02/EPT02
 * for L2's code, stack and data and L1's page tables (which L2's walks
 * read), touching nothing else. */
static volatile int ft_rounds;
static void l2_touch_timed(void)
{
	for (int r = 0; r < ft_rounds; r++) {
		volatile uint64_t *p = (volatile uint64_t *)(ft_area + (uint64_t)r * FT_PAGES * 4096);
		uint64_t t0 = rdtsc();
		for (int k = 0; k < FT_PAGES; k++, p += 512)
			*p = 1;
		uint64_t t = rdtsc() - t0;
		if (t < l2_best)
			l2_best = t;
	}
	for (;;)
		__asm__ volatile(L2_BENCH_EXIT ::: "memory");
}

/* hlt_timer_by_l0: L2 arms the vCPU's LAPIC timer (x2APIC, TSC-deadline
 * mode, a deadline already due), STI; HLT, and takes the interrupt through
 * the IDT it shares with L1; ticks from the arming WRMSR to the handler,
 * as bench.c's hlt_timer at L1.  L1 lets it all through: its MSR map
 * passes the x2APIC MSRs, it intercepts neither HLT nor INTR (nor sets
 * external-interrupt exiting), and V_INTR_MASKING is 0 (APM 15.21.1; SDM
 * 25.2): so L0 halts the vCPU at L2, and the timer's interrupt is L2's, as
 * the CPU would deliver it in guest mode.  L1 prepares the LAPIC and the
 * handler first (l2_hlt_timer_prepare). */
#define L2_HT_BATCH 200
#define L2_VEC_TIMER 0x40
#define L2_MSR_APIC_BASE 0x1b
#define L2_MSR_TSC_DEADLINE 0x6e0
#define L2_X2_EOI 0x80b
#define L2_X2_SVR 0x80f
#define L2_X2_LVT_TIMER 0x832
static volatile uint64_t l2_t_irq;
static volatile unsigned l2_timer_irqs;
static void l2_on_timer(void)
{
	l2_t_irq = rdtsc();
	l2_timer_irqs++;
	wrmsr(L2_X2_EOI, 0);
}

/* L1's part: x2APIC on, the timer in TSC-deadline mode, the handler in
 * the IDT.  False when the vCPU has no x2APIC or TSC deadline. */
static bool l2_hlt_timer_prepare(bool on)
{
	struct cpuid_regs c = cpuid(1, 0);
	if (!(c.ecx & (1u << 21)) || !(c.ecx & (1u << 24)))
		return false;
	if (!on) {
		wrmsr(L2_X2_LVT_TIMER, 1u << 16);         /* masked */
		return true;
	}
	wrmsr(L2_MSR_APIC_BASE, rdmsr(L2_MSR_APIC_BASE) | (1u << 11) | (1u << 10));
	wrmsr(L2_X2_SVR, 0x1ff);
	rt_irq_register(L2_VEC_TIMER, l2_on_timer);
	wrmsr(L2_X2_LVT_TIMER, L2_VEC_TIMER | (2u << 17));
	return true;
}

static void l2_hlt_timer_timed(void)
{
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t sum = 0;
		for (int k = 0; k < L2_HT_BATCH; k++) {
			unsigned seen = l2_timer_irqs;
			uint64_t t0 = rdtsc();
			wrmsr(L2_MSR_TSC_DEADLINE, t0);
			while (l2_timer_irqs == seen)
				__asm__ volatile("sti; hlt; cli" ::: "memory");
			sum += l2_t_irq - t0;
		}
		if (sum < l2_best)
			l2_best = sum;
	}
	for (;;)
		__asm__ volatile(L2_BENCH_EXIT ::: "memory");
}
/* ipi_by_l0: two L2s, one on each vCPU, each run by its L1 vCPU in L1's
 * world: the pinger (vCPU 0) and the responder (vCPU 1) of
 * rt/ipi_pingpong.h, both waiting in HLT.  L1 lets the x2APIC MSRs, HLT
 * and INTR through as for hlt_timer_by_l0: every IPI goes from one L2 to
 * the other through L0 alone.  Timed by the pinger: the best of ROUNDS
 * rounds of L2_IPI_BATCH round trips; l2_pp_pings counts all of them
 * (the warm-up and the last one that lets the responder go). */
#define L2_IPI_BATCH 200
static volatile bool l2_pp_stop;
static volatile uint64_t l2_pp_pings;

static void l2_ipi_responder(void)
{
	while (!l2_pp_stop)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	for (;;)
		__asm__ volatile(L2_BENCH_EXIT ::: "memory");
}

static void l2_ipi_pinger(void)
{
	for (int k = 0; k < 10; k++)            /* warm up */
		pp_ping();
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = rdtsc();
		for (int k = 0; k < L2_IPI_BATCH; k++)
			pp_ping();
		uint64_t t = rdtsc() - t0;
		if (t < l2_best)
			l2_best = t;
	}
	l2_pp_stop = true;
	pp_ping();
	l2_pp_pings = 10 + (uint64_t)ROUNDS * L2_IPI_BATCH + 1;
	for (;;)
		__asm__ volatile(L2_BENCH_EXIT ::: "memory");
}
#endif
