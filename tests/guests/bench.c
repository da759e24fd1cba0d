/*
 * Microbenchmarks of single-level exits, run as an L1 guest.  For each
 * operation: the best of several batches of TSC ticks per round trip, and
 * L0 exits per operation from the exit-statistics hypercall.  Under QEMU
 * with -icount shift=0 a TSC tick is one instruction, so the figure is an
 * exact instruction count (docs/benchmarks.md).  Output lines:
 *   BENCHRAW <vendor> <operation> <ticks per op> <L0 exits per op x100> <TSC kHz>
 * which tests/integ/run.py --bench turns into BENCH lines.
 */
#include "tests/guests/rt/rt.h"

#define BATCH 2000
#define ROUNDS 5

static void op_cpuid(void) { cpuid(0, 0); }
static bool amd;
static void op_hypercall(void)
{
	if (amd)
		__asm__ volatile("vmmcall" : : "a"(HC_NOP) : "rbx", "rcx", "rdx", "memory");
	else
		__asm__ volatile("vmcall" : : "a"(HC_NOP) : "rbx", "rcx", "rdx", "memory");
}
static void op_pio(void) { outb(0x3ff, 0x5a); }
static void op_mmio(void) { (void)*(volatile uint32_t *)0xd0000000ull; }
static void op_rdmsr(void) { uint64_t v; rdmsr_safe(0x277, &v); }

static const struct { const char *name; void (*fn)(void); } ops[] = {
	{ "cpuid", op_cpuid },
	{ "hypercall", op_hypercall },
	{ "pio", op_pio },
	{ "mmio", op_mmio },
	{ "rdmsr", op_rdmsr },
};

static uint64_t total_exits(void)
{
	struct hc_exit_stats s;
	rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0);
	return s.total;
}

void guest_main(void)
{
	amd = rt_is_amd();
	const char *vendor = amd ? "svm" : "vmx";
	uint32_t khz = cpuid(0x40000010, 0).eax;
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint64_t best = ~0ull;
		uint64_t e0 = total_exits();
		for (int r = 0; r < ROUNDS; r++) {
			uint64_t t0 = rdtsc();
			for (int k = 0; k < BATCH; k++)
				ops[i].fn();
			uint64_t t = rdtsc() - t0;
			if (t < best)
				best = t;
		}
		/* exits per op, minus the one exit of the statistics call itself */
		uint64_t exits = total_exits() - e0 - 1;
		rt_printf("BENCHRAW %s %s %lu %lu %u\n", vendor, ops[i].name,
			  (unsigned long)(best / BATCH), (unsigned long)(exits * 100 / (ROUNDS * BATCH)), khz);
	}
	CHECK(true, "bench: done");
}
