/*
 * The L2 half of nsvm_bench and nvmx_bench: L2 code (flat, CPL 0, IF = 0)
 * that times an operation L0 answers for it, keeps the best round in
 * l2_best, and then ends in the vendor's hypercall, which L1 intercepts.
 * Included once by each, after it defines ROUNDS, BATCH, FT_PAGES,
 * ft_area and L2_BENCH_EXIT ("vmmcall" or "vmcall").
 */
#ifndef GUEST_L2_BENCH_H
#define GUEST_L2_BENCH_H

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
#endif
