/*
 * The smallest VMX guest hypervisor: VMXON, one VMCS for an L2 that runs
 * in L1's own 64-bit world (same page tables, EPT off), VMLAUNCH, and L2
 * executing VMCALL and CPUID, each exiting to L1 — the nested VMX path of
 * Nestor end to end, with the figures of one round trip.  Intel SDM vol.
 * 3C chapters 24-27; the host/guest state rules of 26.2-26.3.
 */
#include <string.h>
#include "tests/guests/rt/rt.h"

#define MSR_FEATURE_CONTROL 0x3a
#define MSR_VMX_BASIC 0x480
#define CR4_VMXE_BIT (1ull << 13)

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));
static uint8_t host_stack[4096] __attribute__((aligned(16)));

/* A GDT of our own with a TSS: VM exits need a host TR (26.2.3). */
static uint64_t gdt[6] __attribute__((aligned(16)));
static uint8_t tss[104] __attribute__((aligned(16)));

static void load_gdt_with_tss(void)
{
	uint64_t base = (uint64_t)tss, limit = sizeof(tss) - 1;
	gdt[1] = 0x00af9b000000ffffull;     /* 0x08: 64-bit code */
	gdt[2] = 0x00cf93000000ffffull;     /* 0x10: data */
	gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);  /* 0x18: TSS */
	gdt[4] = base >> 32;
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } p = { sizeof(gdt) - 1, (uint64_t)gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "pushq $0x08\n\tleaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n1:\n\t"
			 "mov $0x10, %%eax\n\tmov %%eax, %%ds\n\tmov %%eax, %%es\n\tmov %%eax, %%ss\n\t"
			 "mov %%eax, %%fs\n\tmov %%eax, %%gs\n\t"
			 "mov $0x18, %%eax\n\tltr %%ax" : : "m"(p) : "rax", "memory");
}

/* VMX instructions: 0 success, 1 VMfailInvalid, 2 VMfailValid (SDM 31.2). */
static int vm_result(void)
{
	uint64_t fl = read_rflags();
	return (fl & 1) ? 1 : (fl & 0x40) ? 2 : 0;
}
static int vmwrite(uint64_t enc, uint64_t val)
{
	__asm__ volatile("vmwrite %1, %0" : : "r"(enc), "rm"(val) : "cc");
	return vm_result();
}
static uint64_t vmread(uint64_t enc)
{
	uint64_t v = 0;
	__asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(enc) : "cc");
	return v;
}

/* allowed-0 bits must be 1, allowed-1 bits may be 1 (A.3). */
static uint32_t adjust(uint32_t msr, uint32_t want)
{
	uint64_t cap = rdmsr(msr);
	return (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

static bool tru_caps(void) { return (rdmsr(MSR_VMX_BASIC) >> 55) & 1; }

static int invvpid(uint64_t type, uint16_t vpid)
{
	struct { uint64_t vpid, gla; } desc = { vpid, 0 };
	__asm__ volatile("invvpid %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
	return vm_result();
}

int l1_enter(int launched);   /* below */

/* VPID (SDM 29.1): L2 under VPID 1, 2, then 1 again; INVVPID of a VPID
 * that ran, of one that never did, and all-context all succeed.  L0 gives
 * each VPID12 a VPID02 of its own (its report counts them). */
static void vpid_checks(bool tru)
{
	uint64_t proc2_cap = rdmsr(0x48b), ept_vpid = rdmsr(0x48c);
	if (!((proc2_cap >> 32) & (1u << 5)) || !(ept_vpid & (1ull << 32))) {
		rt_printf("vpid: not offered, skipped\n");
		return;
	}
	vmwrite(0x4002, adjust(tru ? 0x48e : 0x482, (1u << 28) | (1u << 31)));   /* + secondary controls */
	vmwrite(0x401e, adjust(0x48b, 1u << 5));                                  /* enable VPID */
	static const uint16_t order[] = { 1, 2, 1 };
	bool ok = true;
	for (unsigned i = 0; i < 3; i++) {
		vmwrite(0x0000, order[i]);
		vmwrite(0x681e, vmread(0x681e) + vmread(0x440c));
		int r = l1_enter(1);
		ok &= r == 0 && (vmread(0x4402) == 18 || vmread(0x4402) == 10);
	}
	CHECK(ok, "vpid: L2 runs under VPID 1, 2, 1");
	if (ept_vpid & (1ull << 41)) {
		CHECK(invvpid(1, 2) == 0, "invvpid: single-context of a VPID that ran");
		CHECK(invvpid(1, 7) == 0, "invvpid: single-context of a VPID that never ran");
	}
	if (ept_vpid & (1ull << 42))
		CHECK(invvpid(2, 0) == 0, "invvpid: all-context");
	vmwrite(0x681e, vmread(0x681e) + vmread(0x440c));
	CHECK(l1_enter(1) == 0, "vpid: L2 runs on after the flushes");
}

/* L2s that never exit by themselves: a spin loop, and HLT with
 * interrupts off (which L1 does not intercept: L0 halts the vCPU). */
void l2_spin(void);
void l2_halt(void);
__asm__(".text\n.globl l2_spin\nl2_spin:\n\tpause\n\tjmp l2_spin\n"
	".globl l2_halt\nl2_halt:\n\tcli\n\thlt\n\tjmp l2_halt\n");

/* L1's VMX-preemption timer (SDM 26.5.1) while L2 runs: L0 offers it, runs
 * it beside its own slices, and reflects its expiry as exit 52. */
static void preemption_timer_checks(bool tru)
{
	uint64_t pin_cap = rdmsr(tru ? 0x48d : 0x481);
	if (!((pin_cap >> 32) & (1u << 6))) {
		rt_printf("preemption timer: not offered, skipped\n");
		return;
	}
	unsigned rate = rdmsr(0x485) & 31;
	uint32_t pin = adjust(tru ? 0x48d : 0x481, 0);
	uint32_t exitc = adjust(tru ? 0x48f : 0x483, (1u << 9) | (1u << 20) | (1u << 21));
	vmwrite(0x4000, pin | (1u << 6));             /* activate the timer */
	vmwrite(0x400c, exitc | (1u << 22));          /* save its value on exit */
	vmwrite(0x482e, 2000);
	vmwrite(0x681e, (uint64_t)l2_spin);
	uint64_t t0 = rdtsc();
	int r = l1_enter(1);
	uint64_t t = rdtsc() - t0;
	uint64_t reason = vmread(0x4402);
	rt_check(r == 0 && reason == 52, "preemption timer: L2's spin loop exits to L1 with reason 52",
		 "r=%d reason=%lu", r, reason);
	CHECK(vmread(0x482e) == 0, "preemption timer: the value saved at the exit is 0");
	rt_check(t >= (2000ull << rate), "preemption timer: not before 2000 units of 2^rate TSC ticks",
		 "%lu ticks, rate %u", t, rate);
	vmwrite(0x482e, 2000);
	vmwrite(0x681e, (uint64_t)l2_halt);
	r = l1_enter(1);
	reason = vmread(0x4402);
	rt_check(r == 0 && reason == 52, "preemption timer: wakes L2 from HLT with interrupts off",
		 "r=%d reason=%lu", r, reason);
	/* the exit saves the HLT activity state (27.3.4); resuming L2 in it
	 * with interrupts off would halt it for good, so back to active */
	CHECK(vmread(0x4826) == 1, "preemption timer: the exit saves activity state HLT");
	vmwrite(0x4826, 0);
	vmwrite(0x4000, pin);
	vmwrite(0x400c, exitc);
}

/* L2 using L1's VMCS shadowing (SDM 25.10): a VMREAD and a VMWRITE that
 * L1's bitmaps let through, then VMCALL; then a VMREAD whose bitmap bit
 * is set, which exits to L1.  Results in memory (L2 shares L1's). */
volatile uint64_t l2_sh_read, l2_sh_flags;
void l2_shadow_user(void);
__asm__(".text\n.globl l2_shadow_user\nl2_shadow_user:\n"
	"\tmov $0x6802, %eax\n\tvmread %rax, %rbx\n"           /* GUEST_CR3 of the shadow VMCS */
	"\tpushfq\n\tpop %rcx\n\tmov %rcx, l2_sh_flags(%rip)\n\tmov %rbx, l2_sh_read(%rip)\n"
	"\tmov $0x681e, %eax\n\tmov $0x5555, %ecx\n\tvmwrite %rcx, %rax\n" /* its GUEST_RIP */
	"\tvmcall\n"
	"\tmov $0x6800, %eax\n\tvmread %rax, %rbx\n"           /* GUEST_CR0: bitmap bit set */
	"\tvmcall\n\tjmp l2_shadow_user\n");

/* VMCS shadowing offered to L1, emulated by Nestor for L2's VMREAD and
 * VMWRITE (it is L1's, not the CPU's); a link pointer that names no shadow
 * VMCS fails the VM entry (26.3.1.5). */
static uint8_t shadow_vmcs[4096] __attribute__((aligned(4096)));
static uint8_t vmread_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t vmwrite_bitmap[4096] __attribute__((aligned(4096)));
static void shadow_vmcs_checks(bool tru)
{
	(void)tru;
	if (!((rdmsr(0x48b) >> 32) & (1u << 14))) {
		rt_printf("shadow VMCS: not offered, skipped\n");
		return;
	}
	uint64_t proc = vmread(0x4002), proc2 = vmread(0x401e);
	*(uint32_t *)shadow_vmcs = ((uint32_t)rdmsr(MSR_VMX_BASIC) & 0x7fffffff) | 0x80000000u;
	__asm__ volatile("vmclear %0" : : "m"(*(uint64_t[]){ (uint64_t)shadow_vmcs }) : "cc", "memory");
	__asm__ volatile("vmptrld %0" : : "m"(*(uint64_t[]){ (uint64_t)shadow_vmcs }) : "cc", "memory");
	CHECK(vm_result() == 0 && vmwrite(0x6802, 0x1234000) == 0, "shadow VMCS: L1 loads one and writes a field");
	__asm__ volatile("vmptrld %0" : : "m"(*(uint64_t[]){ (uint64_t)vmcs }) : "cc", "memory");
	memset(vmread_bitmap, 0xff, sizeof(vmread_bitmap));
	memset(vmwrite_bitmap, 0xff, sizeof(vmwrite_bitmap));
	vmread_bitmap[0x6802 >> 3] &= (uint8_t)~(1u << (0x6802 & 7));
	vmwrite_bitmap[0x681e >> 3] &= (uint8_t)~(1u << (0x681e & 7));
	vmwrite(0x4002, proc | (1u << 31));
	vmwrite(0x401e, adjust(0x48b, (uint32_t)proc2 | (1u << 14)));
	vmwrite(0x2026, (uint64_t)vmread_bitmap);
	vmwrite(0x2028, (uint64_t)vmwrite_bitmap);
	vmwrite(0x2800, (uint64_t)shadow_vmcs);
	vmwrite(0x681e, (uint64_t)l2_shadow_user);
	int r = l1_enter(1);
	uint64_t reason = vmread(0x4402);
	rt_check(r == 0 && reason == 18, "shadow VMCS: L2's VMREAD and VMWRITE run without an exit to L1",
		 "r=%d reason=%lu", r, reason);
	rt_check(l2_sh_read == 0x1234000 && !(l2_sh_flags & 0x41), "shadow VMCS: L2's VMREAD reads the shadow VMCS",
		 "read %#lx flags %#lx", (unsigned long)l2_sh_read, (unsigned long)l2_sh_flags);
	uint64_t rip = vmread(0x681e), len = vmread(0x440c);
	__asm__ volatile("vmptrld %0" : : "m"(*(uint64_t[]){ (uint64_t)shadow_vmcs }) : "cc", "memory");
	uint64_t written = vmread(0x681e);
	__asm__ volatile("vmptrld %0" : : "m"(*(uint64_t[]){ (uint64_t)vmcs }) : "cc", "memory");
	CHECK(written == 0x5555, "shadow VMCS: L2's VMWRITE went into the shadow VMCS");
	vmwrite(0x681e, rip + len);
	r = l1_enter(1);
	reason = vmread(0x4402);
	rt_check(r == 0 && reason == 23, "shadow VMCS: a VMREAD whose bitmap bit is set exits to L1 (reason 23)",
		 "r=%d reason=%lu", r, reason);
	/* a link pointer to an ordinary VMCS: VM-entry failure, qualification 4 */
	vmwrite(0x2800, (uint64_t)vmcs);
	vmwrite(0x681e, vmread(0x681e) + vmread(0x440c));
	r = l1_enter(1);
	reason = vmread(0x4402);
	rt_check(r == 0 && reason == (0x80000000u | 33) && vmread(0x6400) == 4,
		 "shadow VMCS: a link pointer to an ordinary VMCS fails the entry (33, qualification 4)",
		 "r=%d reason=%#lx qualification %lu", r, reason, vmread(0x6400));
	vmwrite(0x2800, ~0ull);
	vmwrite(0x401e, proc2);
	vmwrite(0x4002, proc);
}

/* L2: VMCALL, then CPUID, forever. */
void l2_code(void);
__asm__(".text\n.globl l2_code\nl2_code:\n\tvmcall\n\tcpuid\n\tjmp l2_code\n");

/* VMLAUNCH/VMRESUME with L1's GPRs kept on its stack; a VM exit lands at
 * vmx_l1_exit with RSP = HOST_RSP (our stack). Returns 0 after an exit. */
int l1_enter(int launched);
__asm__(".text\n.globl l1_enter\nl1_enter:\n"
	"\tpush %rbx\n\tpush %rbp\n\tpush %r12\n\tpush %r13\n\tpush %r14\n\tpush %r15\n"
	"\tmov $0x6c14, %eax\n\tvmwrite %rsp, %rax\n"      /* HOST_RSP */
	"\ttest %edi, %edi\n\tjnz 1f\n\tvmlaunch\n\tjmp 2f\n1:\tvmresume\n"
	"2:\tmov $1, %eax\n\tjmp 3f\n"
	".globl l1_exit\nl1_exit:\n\txor %eax, %eax\n"
	"3:\tpop %r15\n\tpop %r14\n\tpop %r13\n\tpop %r12\n\tpop %rbp\n\tpop %rbx\n\tret\n");
extern char l1_exit[];

static uint64_t seg_base_of(uint16_t sel) { (void)sel; return 0; }

static void setup_vmcs(void)
{
	uint64_t basic = rdmsr(MSR_VMX_BASIC);
	bool tru = (basic >> 55) & 1;
	uint64_t efer = rdmsr(MSR_EFER);
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr, idtr;
	__asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
	/* controls (24.6-24.8): VMCALL and CPUID exit unconditionally */
	CHECK(vmwrite(0x4000, adjust(tru ? 0x48d : 0x481, 0)) == 0, "vmwrite: pin-based controls");
	vmwrite(0x4002, adjust(tru ? 0x48e : 0x482, 1u << 28 /* MSR bitmaps: none exit */));
	vmwrite(0x400c, adjust(tru ? 0x48f : 0x483, (1u << 9) | (1u << 20) | (1u << 21)));  /* host 64, save/load EFER */
	vmwrite(0x4012, adjust(tru ? 0x490 : 0x484, (1u << 9) | (1u << 15)));             /* IA-32e guest, load EFER */
	static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
	vmwrite(0x2004, (uint64_t)msr_bitmap);
	vmwrite(0x4004, 0);                     /* exception bitmap */
	vmwrite(0x2800, ~0ull);                 /* VMCS link pointer */
	/* host state (24.5): this CPU as it is now */
	vmwrite(0x6c00, read_cr0());
	vmwrite(0x6c02, read_cr3());
	vmwrite(0x6c04, read_cr4());
	vmwrite(0x0c00, 0x10); vmwrite(0x0c02, 0x08); vmwrite(0x0c04, 0x10);
	vmwrite(0x0c06, 0x10); vmwrite(0x0c08, 0x10); vmwrite(0x0c0a, 0x10); vmwrite(0x0c0c, 0x18);
	vmwrite(0x6c06, 0); vmwrite(0x6c08, 0);  /* FS, GS base */
	vmwrite(0x6c0a, (uint64_t)tss);
	vmwrite(0x6c0c, gdtr.base);
	vmwrite(0x6c0e, idtr.base);
	vmwrite(0x2c02, efer);
	vmwrite(0x6c16, (uint64_t)l1_exit);      /* HOST_RIP */
	/* guest state (24.4): L2 in the same world */
	vmwrite(0x6800, read_cr0());
	vmwrite(0x6802, read_cr3());
	vmwrite(0x6804, read_cr4());
	vmwrite(0x681a, 0x400);                  /* DR7 */
	static const uint32_t sel[8] = { 0x0800, 0x0802, 0x0804, 0x0806, 0x0808, 0x080a, 0x080c, 0x080e };
	static const uint16_t val[8] = { 0x10, 0x08, 0x10, 0x10, 0x10, 0x10, 0, 0x18 };
	static const uint32_t ar[8] = { 0xc093, 0xa09b, 0xc093, 0xc093, 0xc093, 0xc093, 0x10000, 0x8b };
	for (int i = 0; i < 8; i++) {
		vmwrite(sel[i], val[i]);                              /* selector */
		vmwrite(0x6806 + 2 * i, seg_base_of(val[i]));          /* base */
		vmwrite(0x4800 + 2 * i, i == 7 ? sizeof(tss) - 1 : 0xffffffff); /* limit */
		vmwrite(0x4814 + 2 * i, ar[i]);                        /* access rights */
	}
	vmwrite(0x6814 + 0, (uint64_t)tss);      /* TR base: 0x6814 */
	vmwrite(0x6816, gdtr.base); vmwrite(0x4810, gdtr.limit);
	vmwrite(0x6818, idtr.base); vmwrite(0x4812, idtr.limit);
	vmwrite(0x2806, efer);
	vmwrite(0x681c, (uint64_t)(l2_stack + sizeof(l2_stack)));
	vmwrite(0x681e, (uint64_t)l2_code);
	vmwrite(0x6820, 2);                      /* RFLAGS */
	vmwrite(0x4824, 0); vmwrite(0x4826, 0);  /* interruptibility, activity */
	(void)host_stack;
}

void guest_main(void)
{
	if (!(cpuid(1, 0).ecx & (1u << 5))) {
		rt_check(false, "vmx: offered to this nested VM", "CPUID.1:ECX.VMX clear");
		return;
	}
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	CHECK((fc & 1) && (fc & 4), "vmx: IA32_FEATURE_CONTROL locked with VMXON outside SMX");
	load_gdt_with_tss();
	uint64_t basic = rdmsr(MSR_VMX_BASIC);
	write_cr0(read_cr0() | rdmsr(0x486));
	write_cr4(read_cr4() | CR4_VMXE_BIT | rdmsr(0x488));
	*(uint32_t *)vmxon_region = (uint32_t)basic & 0x7fffffff;
	*(uint32_t *)vmcs = (uint32_t)basic & 0x7fffffff;
	__asm__ volatile("vmxon %0" : : "m"(*(uint64_t[]){ (uint64_t)vmxon_region }) : "cc", "memory");
	CHECK(vm_result() == 0, "vmxon: succeeds");
	__asm__ volatile("vmclear %0" : : "m"(*(uint64_t[]){ (uint64_t)vmcs }) : "cc", "memory");
	CHECK(vm_result() == 0, "vmclear: succeeds");
	__asm__ volatile("vmptrld %0" : : "m"(*(uint64_t[]){ (uint64_t)vmcs }) : "cc", "memory");
	CHECK(vm_result() == 0, "vmptrld: succeeds");
	setup_vmcs();
	int r = l1_enter(0);
	uint64_t reason = vmread(0x4402), len = vmread(0x440c), rip = vmread(0x681e);
	rt_check(r == 0 && reason == 18, "vmlaunch: L2 runs to its VMCALL", "r=%d reason=%lu err=%lu",
		 r, reason, vmread(0x4400));
	CHECK(rip == (uint64_t)l2_code && len == 3, "vmlaunch: exit RIP and instruction length");
	vmwrite(0x681e, rip + len);
	r = l1_enter(1);
	reason = vmread(0x4402);
	rt_check(r == 0 && reason == 10, "vmresume: L2 continues to its CPUID", "r=%d reason=%lu", r, reason);
	/* round trips: VMRESUME -> L2 exits -> L1 advances RIP */
	uint64_t best = ~0ull;
	for (int round = 0; round < 3; round++) {
		uint64_t t0 = rdtsc();
		for (int k = 0; k < 500; k++) {
			vmwrite(0x681e, vmread(0x681e) + vmread(0x440c));
			l1_enter(1);
		}
		uint64_t t = rdtsc() - t0;
		if (t < best)
			best = t;
	}
	rt_printf("BENCHRAW vmx exit_by_l1 %lu 0 %u\n", (unsigned long)(best / 500), cpuid(0x40000010, 0).eax);
	CHECK(vmread(0x4402) == 18 || vmread(0x4402) == 10, "vmresume: many round trips");
	vpid_checks(tru_caps());
	preemption_timer_checks(tru_caps());
	shadow_vmcs_checks(tru_caps());
	__asm__ volatile("vmxoff" ::: "cc");
	CHECK(vm_result() == 0, "vmxoff: succeeds");
}
