/*
 * The CPU test guest: the CPUID view, MSRs (incl. #GP on unknown ones),
 * exceptions taken inside the guest, RDTSC, hypercalls, and SVM/VMX
 * instructions refused when the VM is not nested.
 */
#include <string.h>
#include "tests/guests/rt/rt.h"

static bool faults(void (*fn)(void), unsigned len, int vector)
{
	struct rt_fault f;
	rt_expect_fault(len);
	fn();
	return rt_fault_taken(&f) && f.vector == vector;
}

static uint64_t wr_value;
static uint32_t wr_msr;
static void do_wrmsr(void) { __asm__ volatile("wrmsr" : : "c"(wr_msr), "a"((uint32_t)wr_value), "d"((uint32_t)(wr_value >> 32))); }
static void do_ud2(void) { __asm__ volatile("ud2"); }
static void do_int3(void) { __asm__ volatile("int3"); }
static void do_div0(void) { __asm__ volatile("xor %%ecx, %%ecx; div %%ecx" ::: "eax", "ecx", "edx"); }
static void do_vmload(void) { __asm__ volatile("mov %0, %%rax; vmload %%rax" : : "r"(0x200000ul) : "rax"); }
static void do_stgi(void) { __asm__ volatile("stgi"); }
static void do_vmxon(void) { static uint64_t region; __asm__ volatile("vmxon %0" : : "m"(region)); }

static void test_cpuid(void)
{
	struct cpuid_regs r = cpuid(1, 0);
	CHECK(r.ecx & (1u << 31), "cpuid: hypervisor bit");
	CHECK(!(r.ecx & (1u << 5)), "cpuid: VMX hidden (not nested)");
	CHECK(!(r.ecx & (1u << 26)), "cpuid: XSAVE hidden");
	CHECK((r.ebx >> 24) == 0, "cpuid: initial APIC ID of vCPU 0");
	CHECK(!(cpuid(7, 0).ecx & (1u << 16)), "cpuid: LA57 hidden");
	CHECK(!(cpuid(0x80000001, 0).ecx & (1u << 2)), "cpuid: SVM hidden (not nested)");
	r = cpuid(0x40000000, 0);
	CHECK(r.eax >= 0x40000010 && !memcmp(&r.ebx, "Nest", 4), "cpuid: hypervisor leaf signature");
	r = cpuid(0x40000010, 0);
	CHECK(r.eax > 0, "cpuid: TSC frequency leaf");
}

static void test_msr(void)
{
	uint64_t v;
	CHECK(rdmsr_safe(0xc0000080, &v) == 0 && (v & (1u << 10)) && !(v & (1u << 12)),
	      "msr: EFER reads LMA, not SVME");
	CHECK(rdmsr_safe(0x12345, &v) == -1, "msr: unknown MSR read gives #GP");
	CHECK(rdmsr_safe(0xc0011234, &v) == -1, "msr: unknown AMD-range MSR read gives #GP");
	wr_msr = 0x277;
	wr_value = 0x0007010600070106ull;
	CHECK(!faults(do_wrmsr, 2, 13) && rdmsr_safe(0x277, &v) == 0 && v == wr_value, "msr: PAT write/read back");
	wr_value = 0x0007010600070102ull; /* memory type 2 is reserved */
	CHECK(faults(do_wrmsr, 2, 13), "msr: PAT reserved type gives #GP");
	wr_msr = 0xc0000080;
	rdmsr_safe(0xc0000080, &wr_value);
	wr_value |= 1ull << 20; /* reserved EFER bit */
	CHECK(faults(do_wrmsr, 2, 13), "msr: EFER reserved bit gives #GP");
	wr_msr = 0x12345;
	wr_value = 1;
	CHECK(faults(do_wrmsr, 2, 13), "msr: unknown MSR write gives #GP");
	CHECK(rdmsr_safe(0x174, &v) == 0, "msr: SYSENTER_CS passes through");
}

static void test_exceptions(void)
{
	CHECK(faults(do_ud2, 2, 6), "exceptions: #UD delivered in the guest");
	CHECK(faults(do_int3, 1, 3), "exceptions: #BP delivered in the guest");
	CHECK(faults(do_div0, 2, 0), "exceptions: #DE delivered in the guest");
}

static void test_virt_insns(void)
{
	struct rt_fault f;
	rt_expect_fault(2);
	__asm__ volatile("invd" ::: "memory");
	CHECK(!rt_fault_taken(&f), "invd: executes (as a no-op) at CPL 0");
	if (rt_is_amd()) {
		CHECK(faults(do_vmload, 3, 6), "svm: VMLOAD gives #UD when not nested");
		CHECK(faults(do_stgi, 3, 6), "svm: STGI gives #UD when not nested");
	} else {
		CHECK(faults(do_vmxon, 8, 6), "vmx: VMXON gives #UD when not nested");
	}
}

static void test_tsc_and_hypercalls(void)
{
	uint64_t a = rdtsc(), b = rdtsc();
	for (int i = 0; i < 100; i++)
		cpuid(0, 0);
	uint64_t c = rdtsc();
	/* Non-decreasing, and advancing over time: Bochs's TSC may give the same
	 * value to two back-to-back reads (docs/emulators.md). */
	CHECK(b >= a && c > b, "rdtsc: monotonic and advancing");
	if (!rt_under_nestor())
		return;
	CHECK(rt_hypercall(HC_NOP, 0, 0, 0) == 0, "hypercall: NOP returns 0");
	CHECK(rt_hypercall(999, 0, 0, 0) == HC_ERR_INVALID, "hypercall: unknown number refused");
	CHECK(rt_hypercall(HC_CONSOLE, 0xfff00000ull, 16, 0) == HC_ERR_FAULT,
	      "hypercall: console buffer outside RAM refused");
	static const char msg[] = "hello through HC_CONSOLE\n";
	CHECK(rt_hypercall(HC_CONSOLE, (uint64_t)msg, sizeof(msg) - 1, 0) == (long)sizeof(msg) - 1,
	      "hypercall: console write");
	struct hc_exit_stats s;
	CHECK(rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0) == (long)sizeof(s) &&
	      s.by_kind[EXIT_CPUID] > 0 && s.by_kind[EXIT_HYPERCALL] >= 4, "hypercall: exit statistics");
}

void guest_main(void)
{
	rt_printf("cpu test guest: %s, %s\n", rt_is_amd() ? "AMD" : "Intel",
		  rt_under_nestor() ? "under Nestor" : "bare");
	test_cpuid();
	test_msr();
	test_exceptions();
	test_virt_insns();
	test_tsc_and_hypercalls();
}
