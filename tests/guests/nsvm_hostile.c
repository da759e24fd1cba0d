/*
 * A hostile guest hypervisor (nested SVM): it hands Nestor one broken
 * vmcb12 after another and checks that each gets the architectural
 * answer (AMD APM vol. 2 15.5.1): VMEXIT_INVALID written into the VMCB
 * with L1 resuming after its VMRUN, or #GP(0) for a VMCB address Nestor
 * cannot use — and that a good VMCB then runs L2 and exits to L1 with the
 * right EXITCODE and nRIP.  Also VMLOAD/VMSAVE and STGI/CLGI.
 *
 * L2 here runs in L1's own physical space (NP off) on L1's page tables:
 * a two-instruction loop that executes VMMCALL.
 */
#include <string.h>
#include "tests/guests/rt/svm_l1.h"

#define EXIT_INVALID ((uint64_t)-1)
#define EXIT_VMMCALL 0x81

static struct vmcb vmcb __attribute__((aligned(4096)));
static struct vmcb good __attribute__((aligned(4096)));
static struct vmcb saved __attribute__((aligned(4096)));
static uint8_t hsave[4096] __attribute__((aligned(4096)));
static uint8_t msrpm[8192] __attribute__((aligned(4096)));
static uint8_t iopm[12288] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));

/* L2: VMMCALL forever (each one exits to L1, which intercepts it). */
void l2_loop(void);
__asm__(".text\n.globl l2_loop\nl2_loop:\n\tvmmcall\n\tjmp l2_loop\n");

/* L2 in L1's 64-bit world, intercepting VMMCALL too. */
static void build_good(void)
{
	svm_l1_flat_vmcb(&good, (uint64_t)l2_loop, (uint64_t)(l2_stack + sizeof(l2_stack)), iopm, msrpm);
	good.ctl.intercept_misc2 |= SVM_INTERCEPT_VMMCALL;
}

/* VMRUN rAX = pa; the other GPRs are whatever L2 left (L2 leaves them). */
static void vmrun(uint64_t pa)
{
	svm_l1_vmrun((struct vmcb *)pa);
}

static bool vmrun_faults(uint64_t pa, int vector)
{
	struct rt_fault f;
	rt_expect_fault(3);
	__asm__ volatile("vmrun %%rax" : : "a"(pa) : "memory", "cc");
	return rt_fault_taken(&f) && f.vector == vector;
}

/* One broken copy of the good VMCB: VMRUN must give VMEXIT_INVALID and
 * not run L2 (its RIP stays where it was). */
static void expect_invalid(const char *name, void (*breakit)(struct vmcb *))
{
	vmcb = good;
	breakit(&vmcb);
	vmcb.ctl.exit_code = 0x1234;
	vmrun((uint64_t)&vmcb);
	rt_check(vmcb.ctl.exit_code == EXIT_INVALID && vmcb.save.rip == (uint64_t)l2_loop, name,
		 "EXITCODE %#lx RIP %#lx", vmcb.ctl.exit_code, vmcb.save.rip);
}

static void no_svme(struct vmcb *v) { v->save.efer &= ~SVM_EFER_SVME; }
static void cd0_nw1(struct vmcb *v) { v->save.cr0 = (v->save.cr0 & ~(1ull << 30)) | (1ull << 29); }
static void cr0_high(struct vmcb *v) { v->save.cr0 |= 1ull << 40; }
static void cr3_mbz(struct vmcb *v) { v->save.cr3 |= 1ull << 62; }
static void cr4_mbz(struct vmcb *v) { v->save.cr4 |= 1ull << 15; }
static void dr6_high(struct vmcb *v) { v->save.dr6 |= 1ull << 33; }
static void dr7_high(struct vmcb *v) { v->save.dr7 |= 1ull << 40; }
static void efer_mbz(struct vmcb *v) { v->save.efer |= 1ull << 3; }
static void no_pae(struct vmcb *v) { v->save.cr4 &= ~(1ull << 5); }
static void no_pe(struct vmcb *v) { v->save.cr0 &= ~1ull; }
static void cs_l_and_d(struct vmcb *v) { v->save.cs.attrib |= 1u << 10; }
static void no_vmrun_icpt(struct vmcb *v) { v->ctl.intercept_misc2 &= ~SVM_INTERCEPT_VMRUN; }
static void asid0(struct vmcb *v) { v->ctl.asid = 0; }
static void evt_reserved(struct vmcb *v) { v->ctl.event_inj = SVM_EVTINJ_VALID | (1ull << 8) | 32; }
static void evt_exc_vec(struct vmcb *v) { v->ctl.event_inj = SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXC | 2; }
static void msrpm_away(struct vmcb *v) { v->ctl.intercept_misc1 |= SVM_INTERCEPT_MSR; v->ctl.msrpm_base_pa = 0xfec00000; }
static void iopm_maxphy(struct vmcb *v) { v->ctl.intercept_misc1 |= SVM_INTERCEPT_IOIO; v->ctl.iopm_base_pa = 1ull << 52; }
static void ncr3_away(struct vmcb *v) { v->ctl.np_enable = 1; v->ctl.n_cr3 = 0xfee00000; }
static void ncr3_mbz(struct vmcb *v) { v->ctl.np_enable = 1; v->ctl.n_cr3 = (uint64_t)hsave | (1ull << 60); }

static const struct { const char *name; void (*fn)(struct vmcb *); } broken[] = {
	{ "vmrun: EFER.SVME clear gives VMEXIT_INVALID", no_svme },
	{ "vmrun: CR0.CD=0 NW=1 gives VMEXIT_INVALID", cd0_nw1 },
	{ "vmrun: CR0[63:32] set gives VMEXIT_INVALID", cr0_high },
	{ "vmrun: CR3 MBZ bit gives VMEXIT_INVALID", cr3_mbz },
	{ "vmrun: CR4 reserved bit gives VMEXIT_INVALID", cr4_mbz },
	{ "vmrun: DR6[63:32] set gives VMEXIT_INVALID", dr6_high },
	{ "vmrun: DR7[63:32] set gives VMEXIT_INVALID", dr7_high },
	{ "vmrun: EFER reserved bit gives VMEXIT_INVALID", efer_mbz },
	{ "vmrun: long mode without PAE gives VMEXIT_INVALID", no_pae },
	{ "vmrun: long mode without PE gives VMEXIT_INVALID", no_pe },
	{ "vmrun: CS.L and CS.D gives VMEXIT_INVALID", cs_l_and_d },
	{ "vmrun: VMRUN intercept clear gives VMEXIT_INVALID", no_vmrun_icpt },
	{ "vmrun: ASID 0 gives VMEXIT_INVALID", asid0 },
	{ "vmrun: reserved EVENTINJ type gives VMEXIT_INVALID", evt_reserved },
	{ "vmrun: EVENTINJ exception with vector 2 gives VMEXIT_INVALID", evt_exc_vec },
	{ "vmrun: MSRPM in MMIO gives VMEXIT_INVALID", msrpm_away },
	{ "vmrun: IOPM beyond MAXPHYADDR gives VMEXIT_INVALID", iopm_maxphy },
	{ "vmrun: nCR3 in MMIO gives VMEXIT_INVALID", ncr3_away },
	{ "vmrun: nCR3 MBZ bits give VMEXIT_INVALID", ncr3_mbz },
};

static void test_good_vmrun(void)
{
	vmcb = good;
	vmrun((uint64_t)&vmcb);
	CHECK(vmcb.ctl.exit_code == EXIT_VMMCALL, "vmrun: a good vmcb12 runs L2 to its VMMCALL");
	CHECK(vmcb.save.rip == (uint64_t)l2_loop, "vmrun: #VMEXIT saves L2's RIP");
	CHECK(vmcb.ctl.next_rip == (uint64_t)l2_loop + 3, "vmrun: nRIP is the end of the VMMCALL");
	/* L1 resumes L2 after its VMMCALL, as a hypervisor does with nRIP. */
	vmcb.save.rip = vmcb.ctl.next_rip;
	vmcb.ctl.tlb_control = 0;
	vmrun((uint64_t)&vmcb);
	CHECK(vmcb.ctl.exit_code == EXIT_VMMCALL && vmcb.save.rip == (uint64_t)l2_loop,
	      "vmrun: L2 resumed at nRIP and looped to its VMMCALL again");
}

static void test_bad_addresses(void)
{
	vmcb = good;
	CHECK(vmrun_faults((uint64_t)&vmcb + 8, 13), "vmrun: unaligned VMCB address gives #GP");
	CHECK(vmrun_faults(0xfee00000ull, 13), "vmrun: VMCB in MMIO (LAPIC page) gives #GP");
	CHECK(vmrun_faults(rt_boot.ram_bytes + (1ull << 30), 13), "vmrun: VMCB beyond RAM gives #GP");
	CHECK(vmrun_faults(1ull << 52, 13), "vmrun: VMCB beyond MAXPHYADDR gives #GP");
	struct rt_fault f;
	rt_expect_fault(3);
	__asm__ volatile("vmload %%rax" : : "a"(0xfee00000ull) : "memory");
	CHECK(rt_fault_taken(&f) && f.vector == 13, "vmload: VMCB in MMIO gives #GP");
}

static void test_vmload_vmsave(void)
{
	uint64_t fs = 0x123456789000ull;
	wrmsr(MSR_FS_BASE, fs);
	memset(&saved, 0, sizeof(saved));
	__asm__ volatile("vmsave %%rax" : : "a"((uint64_t)&saved) : "memory");
	CHECK(saved.save.fs.base == fs, "vmsave: stores FS.base into the VMCB");
	CHECK(saved.save.cr0 == 0 && saved.save.rip == 0, "vmsave: leaves the rest of the VMCB alone");
	saved.save.fs.base = 0x777000ull;
	__asm__ volatile("vmload %%rax" : : "a"((uint64_t)&saved) : "memory");
	CHECK(rdmsr(MSR_FS_BASE) == 0x777000ull, "vmload: loads FS.base from the VMCB");
	wrmsr(MSR_FS_BASE, 0);
	__asm__ volatile("clgi; stgi" ::: "memory");
	CHECK(true, "clgi/stgi: execute at CPL 0 with EFER.SVME");
}

/* An interrupt for L1 while L2 spins (15.21): L1 intercepts INTR, so
 * its LAPIC timer ends L2's run with #VMEXIT(INTR); L1 then takes the
 * interrupt itself once it sets GIF and IF. */
void l2_spin(void);
__asm__(".text\n.globl l2_spin\nl2_spin:\n\tjmp l2_spin\n");
static volatile unsigned l1_ticks;
static void on_l1_timer(void)
{
	l1_ticks++;
	lapic_wr(0xb0, 0);
}

static void test_intr_for_l1(void)
{
	uint32_t bus_khz = cpuid(0x40000010, 0).ebx;
	rt_irq_register(0x40, on_l1_timer);
	lapic_wr(0xf0, 0x1ff);                     /* SVR: enabled */
	lapic_wr(0x3e0, 0xb);                      /* divide by 1 */
	lapic_wr(0x320, 0x40);                     /* one-shot, vector 0x40 */
	svm_l1_flat_vmcb(&vmcb, (uint64_t)l2_spin, (uint64_t)(l2_stack + sizeof(l2_stack)), iopm, msrpm);
	vmcb.ctl.intercept_misc1 |= SVM_INTERCEPT_INTR;
	vmcb.ctl.vintr = SVM_VINTR_V_INTR_MASKING;
	__asm__ volatile("clgi" ::: "memory");
	lapic_wr(0x380, bus_khz);                  /* 1 ms */
	__asm__ volatile("vmrun %%rax" : : "a"((uint64_t)&vmcb) : "memory", "cc");
	CHECK(vmcb.ctl.exit_code == 0x60, "intr: L1's timer ends L2's spin with #VMEXIT(INTR)");
	CHECK(l1_ticks == 0, "intr: held while GIF is 0");
	__asm__ volatile("stgi; sti; nop; nop; cli" ::: "memory");
	CHECK(l1_ticks == 1, "intr: taken by L1 after STGI and STI");
	lapic_wr(0x320, 1u << 16);
}

/* An L1 without nested paging keeps L2 on shadow page tables by
 * intercepting CR3 writes, INVLPG and #PF (APM 15.9, 15.12; the pieces
 * any such L1 needs): each must reach L1 with its exit information and
 * nRIP.  L2 runs on L1's own tables here (NP off), so L1 only watches. */
void l2_shadowed(void);
__asm__(".text\n.globl l2_shadowed\nl2_shadowed:\n"
	"\tmov %cr3, %rax\n\tmov %rax, %cr3\n"     /* CR3 write: exit 0x13 */
	"\tinvlpg (%rbx)\n"                       /* INVLPG: exit 0x79 */
	"\tmovb (%rcx), %al\n"                    /* not mapped: #PF exit 0x4e */
	"\tvmmcall\n\tjmp l2_shadowed\n");

static void test_l1_without_npt(void)
{
	const uint64_t unmapped = 0x8000000000ull;   /* PML4 entry 1: no tables */
	svm_l1_flat_vmcb(&vmcb, (uint64_t)l2_shadowed, (uint64_t)(l2_stack + sizeof(l2_stack)), iopm, msrpm);
	vmcb.ctl.intercept_cr = 1u << (16 + 3);          /* CR3 writes */
	vmcb.ctl.intercept_misc1 |= 1u << 25;             /* INVLPG */
	vmcb.ctl.intercept_exc = 1u << 14;                /* #PF */
	vmcb.ctl.intercept_misc2 |= SVM_INTERCEPT_VMMCALL;
	uint64_t rbx = 0x123000, rcx = unmapped + 0x42;
	__asm__ volatile("vmrun %%rax\n\tstgi" : : "a"((uint64_t)&vmcb), "b"(rbx), "c"(rcx) : "memory", "cc");
	uint64_t at = (uint64_t)l2_shadowed + 3;             /* after MOV from CR3 */
	CHECK(vmcb.ctl.exit_code == 0x13 && vmcb.save.rip == at && vmcb.ctl.next_rip == at + 3,
	      "no NPT: L2's CR3 write exits to L1 with nRIP");
	vmcb.save.rip = vmcb.ctl.next_rip;
	__asm__ volatile("vmrun %%rax\n\tstgi" : : "a"((uint64_t)&vmcb), "b"(rbx), "c"(rcx) : "memory", "cc");
	CHECK(vmcb.ctl.exit_code == 0x79 && vmcb.ctl.next_rip == vmcb.save.rip + 3,
	      "no NPT: L2's INVLPG exits to L1 with nRIP");
	vmcb.save.rip = vmcb.ctl.next_rip;
	__asm__ volatile("vmrun %%rax\n\tstgi" : : "a"((uint64_t)&vmcb), "b"(rbx), "c"(rcx) : "memory", "cc");
	CHECK(vmcb.ctl.exit_code == 0x4e && vmcb.ctl.exit_info2 == rcx && !(vmcb.ctl.exit_info1 & 1),
	      "no NPT: L2's #PF exits to L1 with the address and a not-present error code");
	/* L1 "fixes" the fault by skipping the load, as a shadow pager would
	 * after filling its table, and L2 reaches its VMMCALL */
	vmcb.save.rip += 2;
	__asm__ volatile("vmrun %%rax\n\tstgi" : : "a"((uint64_t)&vmcb), "b"(rbx), "c"(rcx) : "memory", "cc");
	CHECK(vmcb.ctl.exit_code == 0x81, "no NPT: L2 continues to its VMMCALL");
}

/* L2: CPUID, then VMMCALL; CPUID clobbers RBX, RCX, RDX (RAX comes back
 * from the host save area). */
void l2_cpuid_vmmcall(void);
__asm__(".text\n.globl l2_cpuid_vmmcall\nl2_cpuid_vmmcall:\n\tcpuid\n\tvmmcall\n\tjmp l2_cpuid_vmmcall\n");
static uint64_t vmrun_cpuid_l2(struct vmcb *v)
{
	v->save.rip = (uint64_t)l2_cpuid_vmmcall;
	v->save.rax = 0;
	v->ctl.tlb_control = 0;
	__asm__ volatile("vmrun %%rax\n\tstgi" : : "a"((uint64_t)v) : "rbx", "rcx", "rdx", "memory", "cc");
	return v->ctl.exit_code;
}

/* VMCB clean bits (APM 15.15), offered in CPUID 8000_000A EDX bit 5: a
 * group L1 marks clean comes from what Nestor cached at the last VMRUN or
 * #VMEXIT of the same VMCB, as on a caching CPU; a clear bit, or another
 * VMCB address, always reloads from memory. */
static void test_clean_bits(void)
{
	if (!(cpuid(0x8000000a, 0).edx & (1u << 5))) {
		rt_printf("clean bits: not offered, skipped\n");
		return;
	}
	vmcb = good;
	vmcb.ctl.intercept_misc1 |= SVM_INTERCEPT_CPUID;
	/* a clean bit from the start (CR2, unchanged): Nestor caches a VMCB
	 * once its hypervisor has shown it uses them */
	vmcb.ctl.clean = 1u << 9;
	CHECK(vmrun_cpuid_l2(&vmcb) == 0x72, "clean bits: L2's CPUID exits to L1 while intercepted");
	vmcb.ctl.intercept_misc1 &= ~SVM_INTERCEPT_CPUID;
	vmcb.ctl.clean = 1u << 0;                  /* I: intercepts (and TSC offset) unchanged */
	CHECK(vmrun_cpuid_l2(&vmcb) == 0x72, "clean bits: with I marked clean, the cached CPUID intercept holds");
	vmcb.ctl.clean = 0;
	CHECK(vmrun_cpuid_l2(&vmcb) == 0x81, "clean bits: with I dirty, the new intercepts apply (CPUID runs)");
	saved = vmcb;                              /* another VMCB: nothing cached for it */
	saved.ctl.intercept_misc1 |= SVM_INTERCEPT_CPUID;
	saved.ctl.clean = ~0u;
	CHECK(vmrun_cpuid_l2(&saved) == 0x72, "clean bits: at another VMCB address they count as zero");
}

void guest_main(void)
{
	if (!(cpuid(0x80000001, 0).ecx & (1u << 2))) {
		rt_check(false, "svm: offered to this nested VM", "CPUID 8000_0001 ECX.SVM clear");
		return;
	}
	uint32_t edx = cpuid(0x8000000a, 0).edx;
	CHECK((edx & 1) && (edx & 8) && (edx & 0x20), "svm: CPUID 8000_000A offers NP, nRIP save and VMCB clean bits");
	struct rt_fault f;
	rt_expect_fault(3);
	__asm__ volatile("vmrun %%rax" : : "a"((uint64_t)&vmcb) : "memory");
	CHECK(rt_fault_taken(&f) && f.vector == 6, "vmrun: #UD while EFER.SVME is clear");
	svm_l1_enable(hsave);
	build_good();
	test_good_vmrun();
	for (unsigned i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		expect_invalid(broken[i].name, broken[i].fn);
	test_bad_addresses();
	test_vmload_vmsave();
	test_intr_for_l1();
	test_l1_without_npt();
	test_clean_bits();
	/* After all that, a good VMRUN still works. */
	test_good_vmrun();
}
