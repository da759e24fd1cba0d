/*
 * Nested VMX microbenchmarks, the twin of nsvm_bench: this guest is an L1
 * hypervisor that runs a tiny L2 in its own 64-bit world (identity EPT and
 * VPID where offered, Intel SDM vol. 3C 29.3) and measures, in L1's TSC
 * ticks (= instructions under Bochs and QEMU -icount):
 *
 *   vmcall_by_l1   VMRESUME -> L2 VMCALL -> VM exit to L1 -> RIP advanced by
 *                  the VM-exit instruction length -> VMRESUME: the nested
 *                  round trip (VMCALL exits unconditionally, 26.1.2);
 *   cpuid_by_l1    the same with an L2 CPUID (on VMX, CPUID always exits to
 *                  L1: there is no CPUID control to leave it to L0);
 *   pio_by_l0      an L2 OUT to port 0x3FF (COM1's scratch register), which
 *                  L1's I/O bitmaps do not intercept, so that L0 handles it
 *                  as an access of L1's own device without involving L1
 *                  (measured inside L2) — the VMX stand-in for nsvm_bench's
 *                  cpuid_by_l0;
 *   mmio_by_l0     an L2 load from 0xd0000000, a hole in L1's map that the
 *                  identity EPT12 passes through: L0 takes the EPT
 *                  violation and answers it as unassigned MMIO;
 *   rdmsr_by_l0    an L2 RDMSR of IA32_PAT (0x277), which L1's MSR bitmap
 *                  (all zero) does not intercept: L0 emulates it for L2;
 *   first_touch    L2 writes to 4 KiB pages it never touched: a second
 *                  EPT12 maps them with 4 KiB pages (the identity EPT uses
 *                  2 MiB ones), so each costs L0 one EPT violation and an
 *                  EPT02 fill (ept_compose.c) without involving L1; timed
 *                  inside L2, per page;
 *   hlt_timer_by_l0  L2 arms the LAPIC timer, HLTs and takes the
 *                  interrupt, which L1 lets through (rt/l2_bench.h): L0
 *                  halts the vCPU at L2 and injects the interrupt into it;
 *   ipi_by_l0      with two vCPUs (cfg/nested-vmx-bench-ipi.cfg) only: an L2
 *                  on each, IPI ping-pong between them through L0 alone.
 *
 * Per operation it prints
 *   BENCHRAW vmx <op> <ticks per op> <L0 exits per op x100> <TSC kHz>
 *   BENCHVMCS vmx <op> <VMREADs per op> <VMWRITEs per op>
 * The second line counts the VMREAD/VMWRITE instructions L1's loop issues
 * per round trip (counted in the loop itself).  Each is an L0 exit unless
 * L0 shadows that field (VMCS shadowing, docs/nested-vmx.md), so the L0
 * exits per round trip are 2 (L2's exit, L1's VMRESUME) plus the VMREAD/
 * VMWRITEs that still exit: "L1 VMREAD/VMWRITE exits on the hot path" =
 * BENCHRAW exits - 2, out of the BENCHVMCS count.  L0 exits come from
 * Nestor's exit-statistics hypercall; elsewhere (Bochs as L0) they are
 * printed as 0, and so is the TSC rate.
 */
#include "tests/guests/rt/vmx_l1.h"

#define BATCH 1000
#define ROUNDS 3

static uint8_t vmxon_page[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmaps[2][4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint64_t ept[6][512] __attribute__((aligned(4096)));
/* first_touch: ROUNDS x FT_PAGES pages, 2 MiB aligned, mapped by their own
 * EPT12 page tables (FT_PTS of them) in ept_ft. */
#define FT_PAGES 512
#define FT_PTS (ROUNDS * FT_PAGES / 512)
static uint8_t ft_area[ROUNDS * FT_PAGES * 4096] __attribute__((aligned(2 << 20)));
static uint64_t ept_ft[6 + FT_PTS][512] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));
static struct vmx_l1_gprs g;
static uint64_t eptp;
static bool under_nestor;

void l2_vmcall_loop(void);
void l2_cpuid_loop(void);
__asm__(".text\n"
	".globl l2_vmcall_loop\nl2_vmcall_loop:\n\tvmcall\n\tjmp l2_vmcall_loop\n"
	".globl l2_cpuid_loop\nl2_cpuid_loop:\n\txor %eax, %eax\n\tcpuid\n\tjmp l2_cpuid_loop\n");

#define L2_BENCH_EXIT "vmcall"
#include "tests/guests/rt/l2_bench.h"

/* The identity EPT again, with ft_area's 2 MiB pages split into 4 KiB
 * ones (RWX, WB: SDM 29.3.2, 29.3.7); no accessed/dirty flags (EPTP bit 6
 * clear, as vmx_l1_identity_ept leaves it). */
static uint64_t ept_ft_build(void)
{
	uint64_t p = vmx_l1_identity_ept(ept_ft);
	for (unsigned t = 0; t < FT_PTS; t++) {
		uint64_t base = (uint64_t)ft_area + ((uint64_t)t << 21);
		for (unsigned i = 0; i < 512; i++)
			ept_ft[6 + t][i] = (base + ((uint64_t)i << 12)) | VX_EPT_RWX | VX_EPT_WB_MT;
		ept_ft[2 + (base >> 30)][(base >> 21) & 511] = (uint64_t)ept_ft[6 + t] | VX_EPT_RWX;
	}
	return p;
}

/* L1's VMCALL in VMX root operation is still Nestor's hypercall: it exits
 * to L0 like every VMCALL of a guest. */
static uint64_t total_exits(void)
{
	struct hc_exit_stats s;
	if (!under_nestor)
		return 0;
	rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0);
	return s.total;
}

static void report(const char *op, uint64_t ticks_per_op, uint64_t exits, uint64_t ops, uint32_t khz,
		   uint64_t vmreads, uint64_t vmwrites)
{
	rt_printf("BENCHRAW vmx %s %lu %lu %u\n", op, (unsigned long)ticks_per_op,
		  (unsigned long)(exits * 100 / ops), khz);
	rt_printf("BENCHVMCS vmx %s %lu %lu\n", op, (unsigned long)(vmreads / ops), (unsigned long)(vmwrites / ops));
}

/* The VMCS for an L2 at rip: exits only for what VMX forces (VMCALL,
 * CPUID), empty I/O and MSR bitmaps. */
/* The VMCS in page made current and filled for an L2 at rip on stack_top,
 * on eptp_l2 (0: no EPT), with L1's I/O and MSR bitmaps (all zero). */
static bool setup_l2_on(void *page, void (*rip)(void), void *stack_top, uint64_t eptp_l2)
{
	if (vmx_l1_vmcs_load(page)) {
		rt_check(false, "vmx: VMCS", "VMCLEAR/VMPTRLD failed");
		return false;
	}
	vmx_l1_flat_vmcs((uint64_t)rip, (uint64_t)stack_top, 0, VX_PROC_IO_BITMAPS | VX_PROC_MSR_BITMAPS, 0, eptp_l2);
	vmw(VX_IO_BITMAP_A, (uint64_t)io_bitmaps[0]);
	vmw(VX_IO_BITMAP_B, (uint64_t)io_bitmaps[1]);
	vmw(VX_MSR_BITMAP, (uint64_t)msr_bitmap);
	return true;
}
static bool setup_l2_ept(void (*rip)(void), uint64_t eptp_l2)
{
	return setup_l2_on(vmcs, rip, l2_stack + sizeof(l2_stack), eptp_l2);
}
static bool setup_l2(void (*rip)(void)) { return setup_l2_ept(rip, eptp); }

/* L1's loop, as a hypervisor's exit handler does it: read the exit reason,
 * the instruction length and RIP, write RIP past the instruction, VMRESUME.
 * Every VMREAD/VMWRITE is counted. */
static void round_trips(const char *op, void (*l2)(void), uint32_t want_exit, uint32_t khz)
{
	if (!setup_l2(l2))
		return;
	int r = vmx_l1_enter(&g, 0);                 /* warm up: EPT02, caches */
	bool ok = r == VX_OK && (uint32_t)vmr(VX_EXIT_REASON) == want_exit;
	uint64_t best = ~0ull, e0 = total_exits(), nread = 0, nwrite = 0;
	for (int round = 0; round < ROUNDS && ok; round++) {
		uint64_t t0 = rdtsc();
		for (int k = 0; k < BATCH; k++) {
			uint64_t len, rip, reason;
			vx_vmread(VX_EXIT_INSTRUCTION_LEN, &len);
			vx_vmread(VX_GUEST_RIP, &rip);
			vx_vmwrite(VX_GUEST_RIP, rip + len);
			nread += 2;
			nwrite += 1;
			r = vmx_l1_enter(&g, 1);
			vx_vmread(VX_EXIT_REASON, &reason);
			nread += 1;
			ok &= r == VX_OK && (uint32_t)reason == want_exit;
		}
		uint64_t t = rdtsc() - t0;
		if (t < best)
			best = t;
	}
	uint64_t exits = under_nestor ? total_exits() - e0 - 1 : 0;
	uint64_t last = r == VX_OK ? vmr(VX_EXIT_REASON) : 0xffff;
	rt_check(ok, op, "every exit to L1 is %u (last: entry %d, reason %#lx)", want_exit, r, (unsigned long)last);
	if (ok)
		report(op, best / BATCH, exits, (uint64_t)ROUNDS * BATCH, khz, nread, nwrite);
}

/* One VM entry of an L2 that times its own operations (l2_best: the best
 * round of per_round operations, ops in all) and ends in VMCALL, on
 * eptp_l2.  op NULL: a warm-up, nothing reported.  L0 exits are all of
 * them from the entry to the exit, per operation. */
static void timed_by_l2(const char *op, void (*l2)(void), uint64_t eptp_l2, uint64_t per_round, uint64_t ops,
			uint32_t khz)
{
	if (!setup_l2_ept(l2, eptp_l2))
		return;
	l2_best = ~0ull;
	uint64_t e0 = total_exits();
	int r = vmx_l1_enter(&g, 0);
	uint64_t exits = under_nestor ? total_exits() - e0 - 1 : 0;
	bool ok = r == VX_OK && vmr(VX_EXIT_REASON) == VX_EXIT_VMCALL;
	if (!op) {
		rt_check(ok, "l2 warm-up", "entry %d, exit reason %#lx", r, (unsigned long)vmr(VX_EXIT_REASON));
		return;
	}
	ok &= l2_best != ~0ull;
	rt_check(ok, op, "L2 ran its operations and came back (entry %d)", r);
	if (ok)
		report(op, l2_best / per_round, exits, ops, khz, 0, 0);
}

/* ---- ipi_by_l0: an L2 on each vCPU (rt/l2_bench.h) */
static uint8_t ap_vmxon[4096] __attribute__((aligned(4096)));
static uint8_t ap_vmcs[4096] __attribute__((aligned(4096)));
static uint8_t ap_l1_stack[16384] __attribute__((aligned(16)));
static uint8_t ap_l2_stack[4096] __attribute__((aligned(16)));
static struct vmx_l1_gprs ap_g;
static volatile bool ap_in_l2, ap_done;
static volatile uint64_t ap_exits, ap_exit_reason;
static const char *volatile ap_why;

static void ap_l1_main(void)              /* L1 on vCPU 1 */
{
	ap_why = vmx_l1_enable(ap_vmxon);
	if (!ap_why && !setup_l2_on(ap_vmcs, l2_ipi_responder, ap_l2_stack + sizeof(ap_l2_stack), eptp))
		ap_why = "VMCS";
	if (!ap_why) {
		uint64_t e0 = total_exits();
		ap_in_l2 = true;
		int r = vmx_l1_enter(&ap_g, 0);
		ap_exits = total_exits() - e0 - 1;
		ap_exit_reason = r == VX_OK ? vmr(VX_EXIT_REASON) : 0xffff;
	}
	__atomic_store_n(&ap_done, true, __ATOMIC_RELEASE);
}

static void bench_ipi_l2(uint32_t khz)
{
	if (!pp_start(ap_l1_stack + sizeof(ap_l1_stack), ap_l1_main, khz)) {
		rt_check(false, "ipi_by_l0", "vCPU 1 did not start, or no x2APIC");
		return;
	}
	while (!ap_in_l2 && !ap_done)
		cpu_relax();
	if (ap_why) {
		rt_check(false, "ipi_by_l0", "vCPU 1's L1: %s", ap_why);
		return;
	}
	if (!setup_l2(l2_ipi_pinger))
		return;
	l2_best = ~0ull;
	uint64_t e0 = total_exits();
	int r = vmx_l1_enter(&g, 0);
	uint64_t exits = total_exits() - e0 - 1;
	uint64_t end = rdtsc() + 2000ull * (khz ? khz : 1000000);
	while (!__atomic_load_n(&ap_done, __ATOMIC_ACQUIRE) && rdtsc() < end)
		cpu_relax();
	uint64_t reason = r == VX_OK ? vmr(VX_EXIT_REASON) : 0xffff;
	bool ok = reason == VX_EXIT_VMCALL && ap_done && ap_exit_reason == VX_EXIT_VMCALL && l2_best != ~0ull;
	rt_check(ok, "ipi_by_l0", "both L2s came back by VMCALL (vCPU 0 %#lx, vCPU 1 %s %#lx)",
		 (unsigned long)reason, ap_done ? "exit" : "not back,", (unsigned long)ap_exit_reason);
	if (ok) {
		pp_print_exits("ipi_by_l0", exits, ap_exits, l2_pp_pings);
		report("ipi_by_l0", l2_best / L2_IPI_BATCH, exits + ap_exits, l2_pp_pings, khz, 0, 0);
	}
}

void guest_main(void)
{
	if (!(cpuid(1, 0).ecx & VX_CPUID1_ECX_VMX)) {
		rt_check(false, "vmx offered", "this guest needs nested = on");
		return;
	}
	under_nestor = rt_under_nestor();
	uint32_t khz = under_nestor ? cpuid(0x40000010, 0).eax : 0;
	const char *why = vmx_l1_enable(vmxon_page);
	if (why) {
		rt_check(false, "vmx: VMXON", "%s", why);
		return;
	}
	bool ept_ok = vmx_l1_may(vmx_l1.proc2, VX_PROC2_EPT) && (vmx_l1.ept_vpid & VX_EPT_WALK_4) &&
		      (vmx_l1.ept_vpid & VX_EPT_WB) && (vmx_l1.ept_vpid & VX_EPT_2M);
	eptp = ept_ok ? vmx_l1_identity_ept(ept) : 0;
	if (((cpuid(1, 0).ebx >> 16) & 0xff) >= 2) {   /* two vCPUs: only the IPI */
		bench_ipi_l2(khz);
		return;
	}
	rt_printf("nvmx_bench: L2 on %s, VPID %s, VMCS shadowing offered to L1: %s\n",
		  ept_ok ? "an identity EPT" : "L1's memory (no EPT)",
		  ept_ok && vmx_l1_may(vmx_l1.proc2, VX_PROC2_VPID) ? "yes" : "no",
		  vmx_l1_may(vmx_l1.proc2, VX_PROC2_SHADOW_VMCS) ? "yes" : "no");
	round_trips("vmcall_by_l1", l2_vmcall_loop, VX_EXIT_VMCALL, khz);
	round_trips("cpuid_by_l1", l2_cpuid_loop, VX_EXIT_CPUID, khz);

	/* L2 times its own operations, which L0 answers; one VM entry each. */
	timed_by_l2("pio_by_l0", l2_pio_timed, eptp, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	timed_by_l2("mmio_by_l0", l2_mmio_timed, eptp, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	timed_by_l2("rdmsr_by_l0", l2_rdmsr_timed, eptp, BATCH, (uint64_t)ROUNDS * BATCH, khz);
	if (ept_ok) {
		uint64_t p = ept_ft_build();
		ft_rounds = 0;
		timed_by_l2(NULL, l2_touch_timed, p, 1, 1, khz);      /* warm up */
		ft_rounds = ROUNDS;
		timed_by_l2("first_touch", l2_touch_timed, p, FT_PAGES, (uint64_t)ROUNDS * FT_PAGES, khz);
	}
	if (l2_hlt_timer_prepare(true)) {
		timed_by_l2("hlt_timer_by_l0", l2_hlt_timer_timed, eptp, L2_HT_BATCH, (uint64_t)ROUNDS * L2_HT_BATCH, khz);
		l2_hlt_timer_prepare(false);
	} else {
		rt_check(false, "hlt_timer_by_l0", "no x2APIC or TSC deadline in CPUID");
	}
}
