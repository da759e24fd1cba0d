/*
 * Microbenchmarks of single-level exits, run as an L1 guest.  For each
 * operation: the best of several batches of TSC ticks per round trip, and
 * L0 exits per operation from the exit-statistics hypercall.  Under QEMU
 * with -icount shift=0 a TSC tick is one instruction, so the figure is an
 * exact instruction count (docs/benchmarks.md).  Output lines:
 *   BENCHRAW <vendor> <operation> <ticks per op> <L0 exits per op x100> <TSC kHz>
 * which tests/integ/run.py --bench turns into BENCH lines.
 *
 * With one vCPU: the exits (cpuid ... rdmsr), then
 *   first_touch  a store to a 4 KiB page this guest never touched before:
 *                Nestor builds NPT01/EPT01 for all of a VM's RAM when it
 *                creates the VM (kernel/vm.c), so there is no L0 exit and
 *                the figure is the guest's own loop (its page tables map
 *                2 MiB pages: no #PF either);
 *   hlt_timer    arm the LAPIC timer (x2APIC, TSC-deadline mode) for a
 *                deadline already due when L0 looks, STI; HLT, take the
 *                interrupt, EOI: ticks from the arming WRMSR to the first
 *                instruction of the handler's C code;
 *   hlt_sleep_late  the same with a deadline far enough ahead (HT_SLEEP_*)
 *                that the vCPU is halted before it and L0 really idles:
 *                ticks from the deadline to the handler, i.e. how late the
 *                wake-up is (under icount this includes the idle time QEMU
 *                skips, so run.py reports it in ticks, not instructions).
 * With two vCPUs (tests/integ/cfg/bench-ipi.cfg) only
 *   ipi          vCPU 0 sends a fixed IPI to vCPU 1, whose handler answers
 *                through a shared variable and an IPI back; both wait in
 *                HLT.  Ticks per round trip on vCPU 0's TSC; L0 exits are
 *                both vCPUs'.
 */
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/svm_guest.h"
#include "tests/guests/rt/ipi_pingpong.h"

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

static const char *vendor;
static uint32_t khz;

static uint64_t total_exits(void)
{
	struct hc_exit_stats s;
	rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0);
	return s.total;
}

static void report(const char *op, uint64_t ticks_per_op, uint64_t exits, uint64_t n)
{
	rt_printf("BENCHRAW %s %s %lu %lu %u\n", vendor, op, (unsigned long)ticks_per_op,
		  (unsigned long)(exits * 100 / n), khz);
}

/* ---- first_touch: ROUNDS x FT_PAGES pages no one has touched (bss: the
 * loader does not write it, the runtime does not clear it). */
#define FT_PAGES 512
static uint8_t ft_area[ROUNDS * FT_PAGES * 4096] __attribute__((aligned(4096)));

static void bench_first_touch(void)
{
	uint64_t best = ~0ull, e0 = total_exits();
	for (int r = 0; r < ROUNDS; r++) {
		volatile uint64_t *p = (volatile uint64_t *)(ft_area + (uint64_t)r * FT_PAGES * 4096);
		uint64_t t0 = rdtsc();
		for (int k = 0; k < FT_PAGES; k++, p += 512)
			*p = 1;
		uint64_t t = rdtsc() - t0;
		if (t < best)
			best = t;
	}
	report("first_touch", best / FT_PAGES, total_exits() - e0 - 1, (uint64_t)ROUNDS * FT_PAGES);
}

/* ---- the LAPIC in x2APIC mode (SDM 10.12): every access is one WRMSR */
#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define X2_EOI 0x80b
#define X2_SVR 0x80f
#define X2_LVT_TIMER 0x832
#define VEC_TIMER 0x40

static bool x2apic_on(void)
{
	struct cpuid_regs c = cpuid(1, 0);
	if (!(c.ecx & (1u << 21)) || !(c.ecx & (1u << 24)))
		return false;   /* x2APIC, TSC deadline */
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11) | (1u << 10));
	wrmsr(X2_SVR, 0x1ff);
	return true;
}

#define HT_BATCH 200
#define HT_SLEEP_US 200          /* at least this far ahead, */
#define HT_SLEEP_TICKS 20000     /* and at least this many ticks (Bochs: 10 per us) */
static volatile uint64_t t_irq;
static volatile unsigned timer_irqs;
static void on_timer(void)
{
	t_irq = rdtsc();
	timer_irqs++;
	wrmsr(X2_EOI, 0);
}

/* One arm-HLT-wake per op, ahead ticks from the arming; the sum of
 * (handler - arming - ahead) over the batch.  Interrupts are off except
 * inside STI; HLT (the STI shadow covers the HLT). */
static uint64_t timer_batch(uint64_t ahead, unsigned n)
{
	uint64_t sum = 0;
	for (unsigned k = 0; k < n; k++) {
		unsigned seen = timer_irqs;
		uint64_t t0 = rdtsc();
		wrmsr(MSR_TSC_DEADLINE, t0 + ahead);
		while (timer_irqs == seen)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		sum += t_irq - t0 - ahead;
	}
	return sum;
}

static void bench_timer(const char *op, uint64_t ahead)
{
	uint64_t best = ~0ull;
	timer_batch(ahead, 2);                     /* warm up */
	uint64_t e0 = total_exits();
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t = timer_batch(ahead, HT_BATCH);
		if (t < best)
			best = t;
	}
	report(op, best / HT_BATCH, total_exits() - e0 - 1, (uint64_t)ROUNDS * HT_BATCH);
}

static void bench_hlt_timer(void)
{
	if (!x2apic_on()) {
		rt_check(false, "hlt_timer", "no x2APIC or TSC deadline in CPUID");
		return;
	}
	rt_irq_register(VEC_TIMER, on_timer);
	wrmsr(X2_LVT_TIMER, VEC_TIMER | (2u << 17));   /* TSC-deadline mode */
	bench_timer("hlt_timer", 0);
	uint64_t ahead = (uint64_t)HT_SLEEP_US * khz / 1000;
	bench_timer("hlt_sleep_late", ahead > HT_SLEEP_TICKS ? ahead : HT_SLEEP_TICKS);
	wrmsr(X2_LVT_TIMER, 1u << 16);
}

/* ---- ipi: two vCPUs, ping-pong (rt/ipi_pingpong.h) */
#define IPI_BATCH 200
static uint8_t ap_stack[16384] __attribute__((aligned(16)));
static volatile bool want_stats;
static volatile uint64_t ap_exits;

static void ap_stats_hook(void)           /* vCPU 1, in its PING handler */
{
	if (want_stats)
		ap_exits = total_exits();
}

static uint64_t ap_total_exits(void)
{
	want_stats = true;
	pp_ping();
	want_stats = false;
	return ap_exits;
}

static void bench_ipi(void)
{
	pp_ping_hook = ap_stats_hook;
	if (!pp_start(ap_stack + sizeof(ap_stack), NULL, khz)) {
		rt_check(false, "ipi", "vCPU 1 did not start, or no x2APIC");
		return;
	}
	for (int k = 0; k < 10; k++)               /* warm up */
		pp_ping();
	uint64_t best = ~0ull, a0 = ap_total_exits(), e0 = total_exits();
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = rdtsc();
		for (int k = 0; k < IPI_BATCH; k++)
			pp_ping();
		uint64_t t = rdtsc() - t0;
		if (t < best)
			best = t;
	}
	uint64_t e = total_exits() - e0 - 1;
	/* vCPU 1's count: minus the stats call and the stats round trip */
	uint64_t a = ap_total_exits() - a0 - 1;
	uint64_t n = (uint64_t)ROUNDS * IPI_BATCH;
	pp_print_exits("ipi", e, a, n);
	report("ipi", best / IPI_BATCH, e + a, n);
}

void guest_main(void)
{
	amd = rt_is_amd();
	vendor = amd ? "svm" : "vmx";
	khz = cpuid(0x40000010, 0).eax;
	if (((cpuid(1, 0).ebx >> 16) & 0xff) >= 2) {
		bench_ipi();
		CHECK(true, "bench: done");
		return;
	}
	/* Under a guest hypervisor of ours (svmhv/vmxhv: at L2, or at L3 when
	 * they run each other), only CPUID, in short batches: each one costs
	 * tens of L0 exits there (tests/integ/cfg/bench-l3-svm.cfg). */
	rt_expect_fault(3);
	bool nested = l1hv_call(SVMHV_PRESENT, 0, 0) == 1;
	if (rt_fault_taken(NULL))
		nested = false;
	if (nested) {
		uint64_t best = ~0ull, e0 = total_exits();
		for (int r = 0; r < 3; r++) {
			uint64_t t0 = rdtsc();
			for (int k = 0; k < 100; k++)
				cpuid(0, 0);
			uint64_t t = rdtsc() - t0;
			if (t < best)
				best = t;
		}
		report("cpuid", best / 100, total_exits() - e0 - 1, 300);
		CHECK(true, "bench: done");
		return;
	}
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
	bench_first_touch();
	bench_hlt_timer();
	CHECK(true, "bench: done");
}
