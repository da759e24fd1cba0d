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
 *                  answers without involving L1 (measured inside L2).
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

void l2_vmmcall_loop(void);
void l2_cpuid_loop(void);
__asm__(".text\n"
	".globl l2_vmmcall_loop\nl2_vmmcall_loop:\n\tvmmcall\n\tjmp l2_vmmcall_loop\n"
	".globl l2_cpuid_loop\nl2_cpuid_loop:\n\tcpuid\n\tjmp l2_cpuid_loop\n");

/* L2 in C (flat, CPL 0, IF = 0): time BATCH CPUIDs that L0 answers. */
static volatile uint64_t l2_best;
static void l2_cpuid_timed(void)
{
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = rdtsc();
		for (int k = 0; k < BATCH; k++)
			cpuid(0, 0);
		uint64_t t = rdtsc() - t0;
		if (t < l2_best)
			l2_best = t;
	}
	for (;;)
		__asm__ volatile("vmmcall" ::: "memory");
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

void guest_main(void)
{
	if (!(cpuid(0x80000001, 0).ecx & (1u << 2))) {
		rt_check(false, "svm offered", "this guest needs nested = on");
		return;
	}
	uint32_t khz = cpuid(0x40000010, 0).eax;
	svm_l1_enable(hsave);
	round_trips("vmmcall_by_l1", l2_vmmcall_loop, 0, 0x81, khz);
	round_trips("cpuid_by_l1", l2_cpuid_loop, SVM_INTERCEPT_CPUID, 0x72, khz);

	/* L2 times its own CPUIDs, which L0 answers; one VMRUN. */
	svm_l1_flat_vmcb(&vmcb, (uint64_t)l2_cpuid_timed, (uint64_t)(l2_stack + sizeof(l2_stack)), iopm, msrpm);
	vmcb.ctl.intercept_misc2 |= SVM_INTERCEPT_VMMCALL;
	l2_best = ~0ull;
	uint64_t e0 = total_exits();
	/* L2's C code leaves its registers behind: L1 keeps RBP itself
	 * (VMRUN restores RSP), the rest are clobbers. */
	__asm__ volatile("push %%rbp\n\tvmrun %%rax\n\tpop %%rbp\n\tstgi" : : "a"((uint64_t)&vmcb)
			 : "memory", "cc", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
			   "r12", "r13", "r14", "r15");
	uint64_t exits = total_exits() - e0 - 1;
	bool ok = vmcb.ctl.exit_code == 0x81 && l2_best != ~0ull;
	rt_check(ok, "cpuid_by_l0", "L2 ran its CPUIDs and came back (exit %#lx)", vmcb.ctl.exit_code);
	if (ok)
		report("cpuid_by_l0", l2_best / BATCH, exits, (uint64_t)ROUNDS * BATCH, khz);
}
