/*
 * Nested SVM microbenchmarks: this guest is an L1 hypervisor that runs a
 * tiny L2 (in its own 64-bit world, NP off) and measures, in L1's TSC
 * ticks (= instructions under QEMU -icount shift=0):
 *
 *   vmmcall_by_l1  VMRUN -> L2 VMMCALL -> #VMEXIT to L1 -> next VMRUN:
 *                  the round trip docs/benchmarks.md compares with KVM's
 *                  9,794 (performance-targets.md);
 *   cpuid_by_l1    the same with an L2 CPUID that L1 intercepts;
 *   cpuid_by_l0    an L2 CPUID that L1 does not intercept, which L0
 *                  answers without involving L1 (measured inside L2);
 *   pio_by_l0      the same with an L2 OUT to port 0x3FF (COM1's scratch
 *                  register): L1 sets no IOIO intercept, L0 emulates it;
 *   mmio_by_l0     the same with an L2 load from 0xd0000000, a hole in
 *                  L1's map (no NPT12): L0 answers it as unassigned MMIO;
 *   rdmsr_by_l0    the same with an L2 RDMSR of IA32_PAT (0x277): L1 sets
 *                  no MSR intercept (its MSRPM is all zero), L0 emulates it;
 *   first_touch    L2 writes to 4 KiB pages it never touched, with nested
 *                  paging on: L1's NPT12 maps them with 4 KiB pages, so
 *                  each costs L0 one #NPF and an NPT02 fill (the
 *                  composition of npt_compose.c) without involving L1;
 *                  measured inside L2, per page;
 *   hlt_timer_by_l0  L2 arms the LAPIC timer, HLTs and takes the
 *                  interrupt, which L1 lets through (rt/l2_bench.h): L0
 *                  halts the vCPU at L2 and injects into vmcb02;
 *   ipi_by_l0      with two vCPUs (cfg/nested-bench-ipi.cfg) only: an L2 on
 *                  each, IPI ping-pong between them through L0 alone.
 *
 * and L0 exits per operation from the exit-statistics hypercall (the
 * floor for an exit L1 handles is 2: L2's exit and L1's VMRUN).  Lines:
 *   BENCHRAW svm <op> <ticks per op> <L0 exits per op x100> <TSC kHz>
 */
#include "tests/guests/rt/svm_l1.h"

#define BATCH 2000
#define ROUNDS 5

static struct vmcb vmcb __attribute__((aligned(4096)));
static uint8_t hsave[4096] __attribute__((aligned(4096)));
static uint8_t msrpm[8192] __attribute__((aligned(4096)));
static uint8_t iopm[12288] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));

/* first_touch: ROUNDS x FT_PAGES pages L2 writes once each, 2 MiB aligned so
 * that NPT12 maps exactly them with 4 KiB pages (FT_PTS page tables). */
#define FT_PAGES 512
#define FT_PTS (ROUNDS * FT_PAGES / 512)
static uint8_t ft_area[ROUNDS * FT_PAGES * 4096] __attribute__((aligned(2 << 20)));
/* NPT12 (APM 15.25, long-mode format): PML4, PDPT, 4 PDs of 2 MiB pages
 * for the first 4 GiB (L2 GPA = L1 GPA), and the page tables of ft_area. */
static uint64_t npt12[6 + FT_PTS][512] __attribute__((aligned(4096)));

void l2_vmmcall_loop(void);
void l2_cpuid_loop(void);
__asm__(".text\n"
	".globl l2_vmmcall_loop\nl2_vmmcall_loop:\n\tvmmcall\n\tjmp l2_vmmcall_loop\n"
	".globl l2_cpuid_loop\nl2_cpuid_loop:\n\tcpuid\n\tjmp l2_cpuid_loop\n");

#define L2_BENCH_EXIT "vmmcall"
#include "tests/guests/rt/l2_bench.h"

/* A CPUID L1 does not intercept, which L0 answers (on SVM it may). */
L2_TIMED(l2_cpuid_timed, cpuid(0, 0))

/* Identity NPT12 over 4 GiB in 2 MiB pages, ft_area in 4 KiB pages; every
 * entry user and writable (nested accesses are user accesses, 15.25.5);
 * A/D left clear, for the composer to set as the CPU would. */
static uint64_t npt12_build(void)
{
	uint64_t (*t)[512] = npt12;
	memset(npt12, 0, sizeof(npt12));
	t[0][0] = (uint64_t)t[1] | 7;
	for (unsigned g = 0; g < 4; g++) {
		t[1][g] = (uint64_t)t[2 + g] | 7;
		for (unsigned i = 0; i < 512; i++)
			t[2 + g][i] = ((uint64_t)g << 30) | ((uint64_t)i << 21) | 0x87;
	}
	for (unsigned p = 0; p < FT_PTS; p++) {
		uint64_t base = (uint64_t)ft_area + ((uint64_t)p << 21);
		for (unsigned i = 0; i < 512; i++)
			t[6 + p][i] = (base + ((uint64_t)i << 12)) | 7;
		t[2 + (base >> 30)][(base >> 21) & 511] = (uint64_t)t[6 + p] | 7;
	}
	return (uint64_t)t[0];
}

static uint64_t total_exits(void)
{
	struct hc_exit_stats s;
	rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0);
	return s.total;
}

static void report(const char *op, uint64_t ticks_per_op, uint64_t exits, uint64_t ops, uint32_t khz)
{
	rt_printf("BENCHRAW svm %s %lu %lu %u\n", op, (unsigned long)ticks_per_op,
		  (unsigned long)(exits * 100 / ops), khz);
}

/* L1's loop: resume L2 past the intercepted instruction, BATCH times. */
static void round_trips(const char *op, void (*l2)(void), uint32_t extra_icpt, uint64_t want_exit, uint32_t khz)
{
	svm_l1_flat_vmcb(&vmcb, (uint64_t)l2, (uint64_t)(l2_stack + sizeof(l2_stack)), iopm, msrpm);
	vmcb.ctl.intercept_misc1 |= extra_icpt;
	vmcb.ctl.intercept_misc2 |= SVM_INTERCEPT_VMMCALL;
	svm_l1_vmrun(&vmcb);               /* warm up: NPT02, caches */
	vmcb.ctl.tlb_control = 0;
	bool ok = vmcb.ctl.exit_code == want_exit;
	uint64_t best = ~0ull, e0 = total_exits();
	for (int r = 0; r < ROUNDS && ok; r++) {
		uint64_t t0 = rdtsc();
		for (int k = 0; k < BATCH; k++) {
			vmcb.save.rip = vmcb.ctl.next_rip;
			svm_l1_vmrun(&vmcb);
		}
		uint64_t t = rdtsc() - t0;
		if (t < best)
			best = t;
		ok = vmcb.ctl.exit_code == want_exit;
	}
	uint64_t exits = total_exits() - e0 - 1;
	rt_check(ok, op, "every exit to L1 is %#lx (last %#lx)", want_exit, vmcb.ctl.exit_code);
	if (ok)
		report(op, best / BATCH, exits, (uint64_t)ROUNDS * BATCH, khz);
}

/* One VMRUN of an L2 that times its own operations (l2_best: the best
 * round of per_round operations, ops in all) and ends in VMMCALL; with
 * ncr3, nested paging on NPT12.  op NULL: a warm-up, nothing reported.
 * L0 exits are all of them from VMRUN to the #VMEXIT, per operation. */
/* v: a VMCB for an L2 at l2() on stack_top in L1's world, with L1's GDT
 * and IDT (an interrupt L2 takes runs L1's handlers), VMMCALL intercepted. */
static void l2_vmcb(struct vmcb *v, void (*l2)(void), void *stack_top)
{
	svm_l1_flat_vmcb(v, (uint64_t)l2, (uint64_t)stack_top, iopm, msrpm);
	v->ctl.intercept_misc2 |= SVM_INTERCEPT_VMMCALL;
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;
	__asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
	v->save.gdtr = (struct vmcb_seg){ 0, 0, gdtr.limit, gdtr.base };
	v->save.idtr = (struct vmcb_seg){ 0, 0, idtr.limit, idtr.base };
}

/* VMRUN of an L2 running C code, which leaves its registers behind: L1
 * keeps RBP itself (VMRUN restores RSP), the rest are clobbers. */
static void l2_run(struct vmcb *v)
{
	__asm__ volatile("push %%rbp\n\tvmrun %%rax\n\tpop %%rbp\n\tstgi" : : "a"((uint64_t)v)
			 : "memory", "cc", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
			   "r12", "r13", "r14", "r15");
}

static void timed_by_l2(const char *op, void (*l2)(void), uint64_t ncr3, uint64_t per_round, uint64_t ops,
			uint32_t khz)
{
	l2_vmcb(&vmcb, l2, l2_stack + sizeof(l2_stack));
	if (ncr3) {
		vmcb.ctl.np_enable = 1;
		vmcb.ctl.n_cr3 = ncr3;
		if (op)
			vmcb.ctl.tlb_control = 0;   /* keep what the warm-up filled */
	}
	l2_best = ~0ull;
	uint64_t e0 = total_exits();
	l2_run(&vmcb);
	uint64_t exits = total_exits() - e0 - 1;
	if (!op) {
		rt_check(vmcb.ctl.exit_code == 0x81, "l2 warm-up", "exit %#lx", vmcb.ctl.exit_code);
		return;
	}
	bool ok = vmcb.ctl.exit_code == 0x81 && l2_best != ~0ull;
	rt_check(ok, op, "L2 ran its operations and came back (exit %#lx)", vmcb.ctl.exit_code);
	if (ok)
		report(op, l2_best / per_round, exits, ops, khz);
}

/* ---- ipi_by_l0: an L2 on each vCPU (rt/l2_bench.h) */
static struct vmcb ap_vmcb __attribute__((aligned(4096)));
static uint8_t ap_hsave[4096] __attribute__((aligned(4096)));
static uint8_t ap_l1_stack[16384] __attribute__((aligned(16)));
static uint8_t ap_l2_stack[4096] __attribute__((aligned(16)));
static volatile bool ap_in_l2, ap_done;
static volatile uint64_t ap_exits, ap_exit_code;

static void ap_l1_main(void)              /* L1 on vCPU 1 */
{
	svm_l1_enable(ap_hsave);
	l2_vmcb(&ap_vmcb, l2_ipi_responder, ap_l2_stack + sizeof(ap_l2_stack));
	uint64_t e0 = total_exits();
	ap_in_l2 = true;
	l2_run(&ap_vmcb);
	ap_exits = total_exits() - e0 - 1;
	ap_exit_code = ap_vmcb.ctl.exit_code;
	__atomic_store_n(&ap_done, true, __ATOMIC_RELEASE);
}

static void bench_ipi_l2(uint32_t khz)
{
	if (!pp_start(ap_l1_stack + sizeof(ap_l1_stack), ap_l1_main, khz)) {
		rt_check(false, "ipi_by_l0", "vCPU 1 did not start, or no x2APIC");
		return;
	}
	while (!ap_in_l2)
		cpu_relax();
	l2_vmcb(&vmcb, l2_ipi_pinger, l2_stack + sizeof(l2_stack));
	l2_best = ~0ull;
	uint64_t e0 = total_exits();
	l2_run(&vmcb);
	uint64_t exits = total_exits() - e0 - 1;
	uint64_t end = rdtsc() + 2000ull * (khz ? khz : 1000000);
	while (!__atomic_load_n(&ap_done, __ATOMIC_ACQUIRE) && rdtsc() < end)
		cpu_relax();
	bool ok = vmcb.ctl.exit_code == 0x81 && ap_done && ap_exit_code == 0x81 && l2_best != ~0ull;
	rt_check(ok, "ipi_by_l0", "both L2s came back by VMMCALL (vCPU 0 %#lx, vCPU 1 %s %#lx)",
		 vmcb.ctl.exit_code, ap_done ? "exit" : "not back,", ap_exit_code);
	if (ok) {
		pp_print_exits("ipi_by_l0", exits, ap_exits, l2_pp_pings);
		report("ipi_by_l0", l2_best / L2_IPI_BATCH, exits + ap_exits, l2_pp_pings, khz);
	}
}

void guest_main(void)
{
	if (!(cpuid(0x80000001, 0).ecx & (1u << 2))) {
		rt_check(false, "svm offered", "this guest needs nested = on");
		return;
	}
	uint32_t khz = cpuid(0x40000010, 0).eax;
	svm_l1_enable(hsave);
	if (((cpuid(1, 0).ebx >> 16) & 0xff) >= 2) {   /* two vCPUs: only the IPI */
		bench_ipi_l2(khz);
		return;
	}
	round_trips("vmmcall_by_l1", l2_vmmcall_loop, 0, 0x81, khz);
	round_trips("cpuid_by_l1", l2_cpuid_loop, SVM_INTERCEPT_CPUID, 0x72, khz);

	/* L2 times its own operations, which L0 answers; one VMRUN each. */
	timed_by_l2("cpuid_by_l0", l2_cpuid_timed, 0, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	timed_by_l2("pio_by_l0", l2_pio_timed, 0, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	timed_by_l2("mmio_by_l0", l2_mmio_timed, 0, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	timed_by_l2("rdmsr_by_l0", l2_rdmsr_timed, 0, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	uint64_t ncr3 = npt12_build();
	ft_rounds = 0;
	timed_by_l2(NULL, l2_touch_timed, ncr3, 1, 1, khz);       /* warm up */
	ft_rounds = ROUNDS;
	timed_by_l2("first_touch", l2_touch_timed, ncr3, FT_PAGES, (uint64_t)ROUNDS * FT_PAGES, khz);
	if (l2_hlt_timer_prepare(true)) {
		timed_by_l2("hlt_timer_by_l0", l2_hlt_timer_timed, 0, L2_HT_BATCH, (uint64_t)ROUNDS * L2_HT_BATCH, khz);
		l2_hlt_timer_prepare(false);
	} else {
		rt_check(false, "hlt_timer_by_l0", "no x2APIC or TSC deadline in CPUID");
	}
}
