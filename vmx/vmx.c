/*
 * The Intel VMX backend (SDM vol. 3C chapters 24-29): VMXON per CPU, a VMCS
 * per vCPU (vmcs01 in nested terms) built from the capability MSRs with
 * EPT, VPID and unrestricted guest, checked against the VM-entry rules
 * before its first VMLAUNCH, and each VM exit turned into the neutral
 * struct vm_exit for kernel/exits.c.  The same ops table as svm/svm.c.
 */
#include <string.h>
#include "vmx/vmx.h"
#include "vmx/vmx_vcpu.h"
#include "vmx/nested/nvmx.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_check.h"
#include "kernel/vcpu.h"
#include "kernel/platform.h"
#include "kernel/log.h"
#include "kernel/trace_l0.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/percpu.h"
#include "arch/x86/traps.h"
#include "mm/frame.h"
#include "arch/x86/lapic.h"

int vmx_enter(uint64_t *gpr, int launched);
extern char vmx_exit[];

/* Controls Nestor wants (SDM 24.6, 24.7, 24.8); vmx_ctl_adjust() adds what
 * the CPU requires and drops what it cannot do, then we check the must-haves. */
#define PIN_EXTINT_EXITING   (1u << 0)
#define PIN_NMI_EXITING      (1u << 3)
#define PIN_VIRTUAL_NMIS     (1u << 5)
#define PIN_PREEMPT_TIMER    (1u << 6)
#define PROC_IRQ_WINDOW      (1u << 2)
#define PROC_HLT_EXITING     (1u << 7)
#define PROC_NMI_WINDOW      (1u << 22)
#define PROC_MWAIT_EXITING   (1u << 10)
#define PROC_CR3_LOAD        (1u << 15)
#define PROC_CR3_STORE       (1u << 16)
#define PROC_IO_BITMAPS      (1u << 25)
#define PROC_MSR_BITMAPS     (1u << 28)
#define PROC_MONITOR_EXITING (1u << 29)
#define PROC_SECONDARY       (1u << 31)
#define PROC2_EPT            (1u << 1)
#define PROC2_RDTSCP         (1u << 3)
#define PROC2_VPID           (1u << 5)
#define PROC2_UNRESTRICTED   (1u << 7)
#define PROC2_INVPCID        (1u << 12)
#define EXIT_HOST_64         (1u << 9)
#define EXIT_ACK_INTR        (1u << 15)
#define EXIT_SAVE_PAT        (1u << 18)
#define EXIT_LOAD_PAT        (1u << 19)
#define EXIT_SAVE_EFER       (1u << 20)
#define EXIT_LOAD_EFER       (1u << 21)
#define ENTRY_IA32E_GUEST    (1u << 9)
#define ENTRY_LOAD_PAT       (1u << 14)
#define ENTRY_LOAD_EFER      (1u << 15)

#define INTR_INFO_VALID      (1u << 31)
#define INTR_INFO_ERROR      (1u << 11)
#define INTR_TYPE_EXT        (0u << 8)
#define INTR_TYPE_NMI        (2u << 8)
#define INTR_TYPE_HW_EXC     (3u << 8)

#define FC_LOCKED            (1ull << 0)
#define FC_VMXON_OUTSIDE_SMX (1ull << 2)


static struct vmx_caps caps;
const struct vmx_caps *vmx_hw_caps(void) { return &caps; }
static uint32_t want_pin, want_proc, want_proc2, want_exit, want_entry;
static uint64_t vmxon_region[MAX_CPUS];
static uint64_t current_vmcs[MAX_CPUS];
static struct vcpu *last_vcpu[MAX_CPUS];
uint64_t vmx_io_bitmaps_pa, vmx_msr_bitmap_pa;
static struct spinlock setup_lock;

/* ---- VMX instructions (SDM vol. 3C chapter 31): CF = VMfailInvalid,
 * ZF = VMfailValid with the error number in VM_INSTRUCTION_ERROR. ---- */

static const char *field_name(uint32_t field)
{
	const struct vmcs_field *f = vmcs_field_find(field);
	return f ? f->name : "unknown field";
}

static int vmx_insn_result(uint8_t cf, uint8_t zf)
{
	return cf ? -1 : zf ? -2 : 0;
}

uint64_t vmcs_read(uint32_t field)
{
	uint64_t v = 0;
	uint8_t cf, zf;
	__asm__ volatile("vmread %3, %0; setc %1; setz %2" : "=rm"(v), "=qm"(cf), "=qm"(zf) : "r"((uint64_t)field) : "cc");
	if (cf || zf)
		log_err("vmx: VMREAD %s (%#x) failed", field_name(field), field);
	return v;
}

void vmcs_write(uint32_t field, uint64_t v)
{
	uint8_t cf, zf;
	__asm__ volatile("vmwrite %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "rm"(v), "r"((uint64_t)field) : "cc");
	if (cf || zf) {
		uint32_t err = zf ? (uint32_t)vmcs_read(VMCS_VM_INSTRUCTION_ERROR) : 0;
		log_err("vmx: VMWRITE %s (%#x) <- %#lx failed: %s", field_name(field), field, v,
			cf ? "no current VMCS" : vmx_insn_error_name(err));
	}
}

int vmptrld(uint64_t pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmptrld %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
	return vmx_insn_result(cf, zf);
}

int vmclear(uint64_t pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmclear %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
	return vmx_insn_result(cf, zf);
}

/* ---- enabling (SDM 24.7 "Enabling and entering VMX operation") ---- */

static void read_caps(void)
{
	bool tru = (cpu_caps.vmx_basic >> 55) & 1;
	caps.basic = cpu_caps.vmx_basic;
	caps.true_ctls = tru;
	caps.pinbased = cpu_caps.vmx_pin;
	caps.procbased = cpu_caps.vmx_proc;
	caps.exit = cpu_caps.vmx_exit;
	caps.entry = cpu_caps.vmx_entry;
	caps.procbased2 = cpu_caps.vmx_proc2;
	caps.misc = cpu_caps.vmx_misc;
	caps.ept_vpid = cpu_caps.vmx_ept_vpid;
	caps.cr0_fixed0 = rdmsr(0x486);
	caps.cr0_fixed1 = rdmsr(0x487);
	caps.cr4_fixed0 = rdmsr(0x488);
	caps.cr4_fixed1 = rdmsr(0x489);

	/* Virtual NMIs: the CPU tracks the guest's NMI blocking, which
	 * NMI-window exiting needs (SDM 25.3, 26.2.1.1). */
	want_pin = vmx_ctl_adjust(caps.pinbased, PIN_EXTINT_EXITING | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS |
				  PIN_PREEMPT_TIMER);
	want_proc = vmx_ctl_adjust(caps.procbased, PROC_HLT_EXITING | PROC_MWAIT_EXITING | PROC_IO_BITMAPS |
				   PROC_MSR_BITMAPS | PROC_MONITOR_EXITING | PROC_SECONDARY);
	want_proc &= ~(PROC_CR3_LOAD | PROC_CR3_STORE) | (uint32_t)caps.procbased; /* keep if required */
	want_proc2 = vmx_ctl_adjust(caps.procbased2, PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED |
				    PROC2_RDTSCP | PROC2_INVPCID);
	want_exit = vmx_ctl_adjust(caps.exit, EXIT_HOST_64 | EXIT_ACK_INTR | EXIT_SAVE_PAT | EXIT_LOAD_PAT |
				   EXIT_SAVE_EFER | EXIT_LOAD_EFER);
	want_entry = vmx_ctl_adjust(caps.entry, ENTRY_LOAD_PAT | ENTRY_LOAD_EFER);
}

static int vmx_make_bitmaps(void)
{
	spin_lock(&setup_lock);
	if (!vmx_msr_bitmap_pa) {
		uint64_t io = frame_alloc_pages(2, 0), msr = frame_alloc_pages(1, 0);
		if (io && msr) {
			/* Every port and every MSR exits, except the MSRs whose guest
			 * values the CPU keeps in the VMCS (FS/GS base, SYSENTER) or
			 * Nestor switches per vCPU (STAR..KERNEL_GS_BASE, switch_msrs). */
			memset((void *)io, 0xff, 2 * PAGE_SIZE);
			memset((void *)msr, 0xff, PAGE_SIZE);
			uint8_t *m = (uint8_t *)msr;
			for (unsigned i = 0; i < guest_owned_msrs_count; i++) {
				/* SDM 24.6.9: read-low 0x000, read-high 0x400, write-low 0x800, write-high 0xc00 */
				uint32_t msr_no = guest_owned_msrs[i], base = 0;
				if (msr_no >= 0xc0000000u)
					base = 0x400, msr_no -= 0xc0000000u;
				m[base + msr_no / 8] &= (uint8_t)~(1u << (msr_no % 8));
				m[base + 0x800 + msr_no / 8] &= (uint8_t)~(1u << (msr_no % 8));
			}
			vmx_io_bitmaps_pa = io;
			vmx_msr_bitmap_pa = msr;
			read_caps();
		}
	}
	spin_unlock(&setup_lock);
	return vmx_msr_bitmap_pa ? 0 : -1;
}

static int vmx_hw_enable(void)
{
	unsigned cpu = this_cpu()->index;
	if (vmxon_region[cpu])
		return 0;
	if (vmx_make_bitmaps())
		return -1;
	/* IA32_FEATURE_CONTROL (SDM 24.7): respect a locked value. */
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	if (!(fc & FC_LOCKED)) {
		wrmsr(MSR_FEATURE_CONTROL, fc | FC_LOCKED | FC_VMXON_OUTSIDE_SMX);
	} else if (!(fc & FC_VMXON_OUTSIDE_SMX)) {
		log_err("vmx: IA32_FEATURE_CONTROL is locked with VMX off; enable VT-x in the firmware setup");
		return -1;
	}
	/* CR0/CR4 fixed bits (SDM A.7, A.8): e.g. CR0.NE and CR4.VMXE must be 1. */
	write_cr0((read_cr0() | caps.cr0_fixed0) & caps.cr0_fixed1);
	write_cr4((read_cr4() | caps.cr4_fixed0 | CR4_VMXE) & caps.cr4_fixed1);
	uint64_t region = frame_alloc_pages(1, 0);
	if (!region)
		return -1;
	*(uint32_t *)region = (uint32_t)(caps.basic & 0x7fffffff); /* revision identifier */
	uint8_t cf, zf;
	__asm__ volatile("vmxon %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(region) : "cc", "memory");
	if (cf || zf) {
		log_err("vmx: VMXON failed (%s)", cf ? "VMfailInvalid" : "VMfailValid");
		return -1;
	}
	vmxon_region[cpu] = region;
	return 0;
}

static struct vmx_vcpu *vx(struct vcpu *v) { return v->arch; }

static int vmx_vcpu_create(struct vcpu *v)
{
	if (vmx_make_bitmaps())
		return -1;
	struct vmx_vcpu *x = (struct vmx_vcpu *)frame_alloc_pages(1, 0);
	uint64_t vmcs = frame_alloc_pages(1, 0);
	if (!x || !vmcs)
		return -1;
	*(uint32_t *)vmcs = (uint32_t)(caps.basic & 0x7fffffff);
	x->vmcs_pa = x->vmcs01_pa = vmcs;
	v->arch = x;
	v->rflags = 0x2;
	/* Nested: VMX emulated for this guest (vmx/nested/nvmx.c). */
	if (v->vm->cfg->nested && nvmx_vcpu_init(v, x))
		return -1;
	return 0;
}

/* ---- guest segment state ---- */

struct seg_fields { uint32_t sel, base, limit, ar; };
static const struct seg_fields segs[] = {
	{ VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR },
	{ VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR },
	{ VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR },
	{ VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR },
	{ VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR },
	{ VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR },
};

static void set_seg(int i, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
	vmcs_write(segs[i].sel, sel);
	vmcs_write(segs[i].base, base);
	vmcs_write(segs[i].limit, limit);
	vmcs_write(segs[i].ar, ar);
}

/* CR0/CR4 bits the guest may not own (SDM 25.3, 26.3.1.1): the fixed ones,
 * except PE/PG which unrestricted guest frees, and VMXE.  Guest reads of
 * owned bits see the read shadow. */
static uint64_t cr0_host_mask(void)
{
	return (caps.cr0_fixed0 | ~caps.cr0_fixed1) & ~(uint64_t)(CR0_PE | CR0_PG) & 0xffffffffull;
}
static uint64_t cr4_host_mask(void)
{
	return (caps.cr4_fixed0 | ~caps.cr4_fixed1) & 0xffffffffull;
}

static void set_guest_cr0(uint64_t guest_view)
{
	vmcs_write(VMCS_CR0_READ_SHADOW, guest_view);
	vmcs_write(VMCS_GUEST_CR0, (guest_view | (caps.cr0_fixed0 & ~(uint64_t)(CR0_PE | CR0_PG))) & caps.cr0_fixed1);
}

static void set_guest_cr4(uint64_t guest_view)
{
	vmcs_write(VMCS_CR4_READ_SHADOW, guest_view);
	vmcs_write(VMCS_GUEST_CR4, (guest_view | caps.cr4_fixed0) & caps.cr4_fixed1);
}

/* Multiboot's promise (spec 3.2): 32-bit protected mode, flat segments,
 * paging off.  With unrestricted guest, paging off is legal in VMX. */
static void guest_boot_state(struct vcpu *v)
{
	for (int i = 0; i < 6; i++)
		set_seg(i, i == 1 ? 0x08 : 0x10, 0, 0xffffffff, i == 1 ? 0xc09b : 0xc093);
	vmcs_write(VMCS_GUEST_LDTR_SELECTOR, 0);
	vmcs_write(VMCS_GUEST_LDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_LDTR_LIMIT, 0);
	vmcs_write(VMCS_GUEST_LDTR_AR, 1u << 16); /* unusable */
	vmcs_write(VMCS_GUEST_TR_SELECTOR, 0);
	vmcs_write(VMCS_GUEST_TR_BASE, 0);
	vmcs_write(VMCS_GUEST_TR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_TR_AR, 0x8b);      /* busy 32-bit TSS, present */
	vmcs_write(VMCS_GUEST_GDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_IDTR_BASE, 0);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, 0xffff);
	set_guest_cr0(CR0_PE | (1u << 4));
	set_guest_cr4(0);
	vmcs_write(VMCS_GUEST_CR3, 0);
	vmcs_write(VMCS_GUEST_DR7, 0x400);
	vmcs_write(VMCS_GUEST_IA32_EFER, 0);
	vmcs_write(VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
	vmcs_write(VMCS_GUEST_IA32_DEBUGCTL, 0);
	vmcs_write(VMCS_GUEST_IA32_SYSENTER_CS, 0);
	vmcs_write(VMCS_GUEST_IA32_SYSENTER_ESP, 0);
	vmcs_write(VMCS_GUEST_IA32_SYSENTER_EIP, 0);
	vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmcs_write(VMCS_GUEST_ACTIVITY_STATE, 0);
	vmcs_write(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmcs_write(VMCS_ENTRY_CONTROLS, want_entry & ~ENTRY_IA32E_GUEST);
	(void)v;
}

static void host_state(void)
{
	struct percpu *cpu = this_cpu();
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;
	__asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
	vmcs_write(VMCS_HOST_CR0, read_cr0());
	vmcs_write(VMCS_HOST_CR3, read_cr3());
	vmcs_write(VMCS_HOST_CR4, read_cr4());
	vmcs_write(VMCS_HOST_ES_SELECTOR, 0x10);
	vmcs_write(VMCS_HOST_CS_SELECTOR, 0x08);
	vmcs_write(VMCS_HOST_SS_SELECTOR, 0x10);
	vmcs_write(VMCS_HOST_DS_SELECTOR, 0x10);
	vmcs_write(VMCS_HOST_FS_SELECTOR, 0);
	vmcs_write(VMCS_HOST_GS_SELECTOR, 0);
	vmcs_write(VMCS_HOST_TR_SELECTOR, 0x18);
	vmcs_write(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmcs_write(VMCS_HOST_GS_BASE, (uint64_t)cpu);
	vmcs_write(VMCS_HOST_TR_BASE, (uint64_t)&cpu->tss);
	vmcs_write(VMCS_HOST_GDTR_BASE, gdtr.base);
	vmcs_write(VMCS_HOST_IDTR_BASE, idtr.base);
	vmcs_write(VMCS_HOST_IA32_SYSENTER_CS, 0);
	vmcs_write(VMCS_HOST_IA32_SYSENTER_ESP, 0);
	vmcs_write(VMCS_HOST_IA32_SYSENTER_EIP, 0);
	vmcs_write(VMCS_HOST_IA32_EFER, rdmsr(MSR_EFER));
	vmcs_write(VMCS_HOST_IA32_PAT, rdmsr(0x277));
	vmcs_write(VMCS_HOST_RIP, (uint64_t)vmx_exit);
}

/* Snapshot the current VMCS into an image for the pure checker. */
void vmcs_snapshot(struct vmcs_image *img)
{
	memset(img, 0, sizeof(*img));
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++) {
		const struct vmcs_field *f = &vmcs_field_table[i];
		if (vmcs_field_exists(f, &caps))
			img->v[i] = vmcs_read(f->encoding);
	}
}

/* Name the SDM checks the current VMCS fails (never silently retried). */
static int report_entry_checks(struct vcpu *v)
{
	struct vmcs_image img;
	struct vmx_check_failure fails[8];
	vmcs_snapshot(&img);
	int n = vmx_check_entry(&img, &caps, cpu_caps.phys_bits, fails, 8);
	for (int i = 0; i < n && i < 8; i++)
		log_err("vmx: vCPU %u's VMCS fails SDM %s: %s", v->index, fails[i].sdm_ref, fails[i].name);
	return n;
}

/* First run on its CPU: the VMCS gets every field (SDM 24.11.3: VMCLEAR
 * then VMPTRLD), then Nestor checks its own work before VMLAUNCH. */
static int vmcs01_setup(struct vcpu *v)
{
	struct vmx_vcpu *x = vx(v);
	if (vmclear(x->vmcs_pa) || vmptrld(x->vmcs_pa)) {
		log_err("vmx: VMCLEAR/VMPTRLD of vCPU %u's VMCS failed", v->index);
		return -1;
	}
	current_vmcs[this_cpu()->index] = x->vmcs_pa;
	x->proc_ctls = want_proc;
	vmcs_write(VMCS_PIN_BASED_CONTROLS, want_pin & ~PIN_PREEMPT_TIMER);
	vmcs_write(VMCS_PROC_BASED_CONTROLS, x->proc_ctls);
	vmcs_write(VMCS_SECONDARY_CONTROLS, want_proc2);
	vmcs_write(VMCS_EXIT_CONTROLS, want_exit);
	vmcs_write(VMCS_EXCEPTION_BITMAP, 0);
	vmcs_write(VMCS_PF_ERROR_CODE_MASK, 0);
	vmcs_write(VMCS_PF_ERROR_CODE_MATCH, 0);
	vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
	vmcs_write(VMCS_IO_BITMAP_A, vmx_io_bitmaps_pa);
	vmcs_write(VMCS_IO_BITMAP_B, vmx_io_bitmaps_pa + PAGE_SIZE);
	vmcs_write(VMCS_MSR_BITMAP, vmx_msr_bitmap_pa);
	vmcs_write(VMCS_EPT_POINTER, s2pt_eptp(&v->vm->s2));
	vmcs_write(VMCS_VPID, v->vm->asid);
	vmcs_write(VMCS_VMCS_LINK_POINTER, ~0ull);
	vmcs_write(VMCS_CR0_GUEST_HOST_MASK, cr0_host_mask());
	vmcs_write(VMCS_CR4_GUEST_HOST_MASK, cr4_host_mask());
	host_state();
	guest_boot_state(v);
	x->ready = true;

	vmcs_write(VMCS_GUEST_RIP, v->rip);
	vmcs_write(VMCS_GUEST_RSP, v->gpr[RSP]);
	vmcs_write(VMCS_GUEST_RFLAGS, v->rflags);
	return report_entry_checks(v) ? -1 : 0;
}

/* MSRs the CPU does not switch and Nestor lets the guest own: swap them
 * when this CPU changes from one vCPU to another (L0 never uses them). */
static void switch_msrs(struct vcpu *v)
{
	unsigned cpu = this_cpu()->index;
	struct vcpu *old = last_vcpu[cpu];
	if (old == v)
		return;
	if (old) {
		struct vmx_vcpu *o = vx(old);
		o->msr_star = rdmsr(0xc0000081);
		o->msr_lstar = rdmsr(0xc0000082);
		o->msr_cstar = rdmsr(0xc0000083);
		o->msr_sfmask = rdmsr(0xc0000084);
		o->msr_kgsbase = rdmsr(MSR_KERNEL_GS_BASE);
	}
	struct vmx_vcpu *x = vx(v);
	wrmsr(0xc0000081, x->msr_star);
	wrmsr(0xc0000082, x->msr_lstar);
	wrmsr(0xc0000083, x->msr_cstar);
	wrmsr(0xc0000084, x->msr_sfmask);
	wrmsr(MSR_KERNEL_GS_BASE, x->msr_kgsbase);
	last_vcpu[cpu] = v;
}

void vmx_make_current(uint64_t pa)
{
	unsigned cpu = this_cpu()->index;
	if (current_vmcs[cpu] != pa) {
		vmptrld(pa);
		current_vmcs[cpu] = pa;
	}
}

void vmx_clear(uint64_t pa)
{
	unsigned cpu = this_cpu()->index;
	vmclear(pa);
	if (current_vmcs[cpu] == pa)
		current_vmcs[cpu] = 0;
}

static void vmx_ensure_current(struct vcpu *v)
{
	struct vmx_vcpu *x = vx(v);
	unsigned cpu = this_cpu()->index;
	if (!x->ready) {
		if (vmcs01_setup(v)) {
			vm_end(v->vm, -1, "vmcs01 fails the VM-entry checks");
			return;
		}
	} else if (current_vmcs[cpu] != x->vmcs_pa) {
		vmptrld(x->vmcs_pa);
		current_vmcs[cpu] = x->vmcs_pa;
	}
}

static void decode_exit(struct vcpu *v, uint32_t reason, struct vm_exit *e)
{
	uint64_t qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
	*e = (struct vm_exit){ .reason = reason, .insn_len = (uint8_t)vmcs_read(VMCS_EXIT_INSTRUCTION_LEN) };
	switch (reason & 0xffff) {
	case VMX_EXIT_EXCEPTION_NMI: {
		uint32_t info = (uint32_t)vmcs_read(VMCS_EXIT_INTR_INFO);
		e->kind = ((info >> 8) & 7) == 2 ? EXIT_INTR : EXIT_EXCEPTION;
		e->exc.vector = (uint8_t)info;
		e->exc.error = (uint32_t)vmcs_read(VMCS_EXIT_INTR_ERROR_CODE);
		e->insn_len = 0;
		break;
	}
	case VMX_EXIT_EXTERNAL_INTERRUPT: {
		/* Acknowledged on exit (SDM 27.2.2): dispatch the vector ourselves. */
		uint32_t info = (uint32_t)vmcs_read(VMCS_EXIT_INTR_INFO);
		e->kind = EXIT_INTR;
		e->exc.vector = (uint8_t)info;
		e->insn_len = 0;
		if (info & INTR_INFO_VALID)
			trap_dispatch_vector((uint8_t)info);
		break;
	}
	case VMX_EXIT_TRIPLE_FAULT: e->kind = EXIT_SHUTDOWN; break;
	case VMX_EXIT_PREEMPTION_TIMER: e->kind = EXIT_TIMER; e->insn_len = 0; break;
	case VMX_EXIT_INTERRUPT_WINDOW: e->kind = EXIT_IRQ_WINDOW; e->insn_len = 0; break;
	case VMX_EXIT_NMI_WINDOW: e->kind = EXIT_NMI_WINDOW; e->insn_len = 0; break;
	case VMX_EXIT_CPUID: e->kind = EXIT_CPUID; break;
	case VMX_EXIT_HLT: e->kind = EXIT_HLT; break;
	case VMX_EXIT_INVD: e->kind = EXIT_INVD; break;
	case VMX_EXIT_VMCALL: e->kind = EXIT_HYPERCALL; break;
	case VMX_EXIT_CR_ACCESS: e->kind = EXIT_CR; e->cr.qual = qual; break;
	case VMX_EXIT_IO:
		/* SDM table 28-5 (exit qualification for I/O instructions) */
		e->kind = EXIT_IO;
		e->io.size = (uint8_t)((qual & 7) + 1);
		e->io.in = (qual >> 3) & 1;
		e->io.string = (qual >> 4) & 1;
		e->io.rep = (qual >> 5) & 1;
		e->io.port = (uint16_t)(qual >> 16);
		break;
	case VMX_EXIT_RDMSR: e->kind = EXIT_MSR_READ; e->msr.msr = (uint32_t)v->gpr[RCX]; break;
	case VMX_EXIT_WRMSR: e->kind = EXIT_MSR_WRITE; e->msr.msr = (uint32_t)v->gpr[RCX]; break;
	case VMX_EXIT_EPT_VIOLATION:
		/* SDM table 28-7: bits 0-2 = read, write, fetch */
		e->kind = EXIT_NPF;
		e->npf.gpa = vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS);
		e->npf.write = (qual >> 1) & 1;
		e->npf.fetch = (qual >> 2) & 1;
		e->npf.present = (qual & 0x38) != 0;
		e->insn_len = 0;
		break;
	case VMX_EXIT_ENTRY_FAIL_GUEST:
	case VMX_EXIT_ENTRY_FAIL_MSR:
	case VMX_EXIT_EPT_MISCONFIG:
		e->kind = EXIT_INVALID;
		break;
	case VMX_EXIT_ENTRY_FAIL_MCE:
		panic("vmx: machine check while a guest ran");
	default:
		e->kind = EXIT_OTHER; /* VMX instructions, MONITOR/MWAIT, XSETBV...: #UD */
		break;
	}
}

static void vmx_vcpu_run(struct vcpu *v, struct vm_exit *exit)
{
	struct vmx_vcpu *x = vx(v);
	vmx_ensure_current(v);
	/* An event for L1 that L1 takes as a VM exit ends L2's run before it starts. */
	if (x->nested && v->vm->state == VM_RUNNING && nvmx_before_run(v, exit)) {
		v->exit_tsc = rdtsc();
		return;
	}
	if (v->vm->state != VM_RUNNING) {
		memset(exit, 0, sizeof(*exit));
		exit->kind = EXIT_INVALID;
		return;
	}
	switch_msrs(v);
	/* Skipping the exiting instruction ends blocking by STI / MOV SS, which
	 * covered that instruction only (SDM 25.4.2, table 25-3). */
	if (v->rip != x->exit_rip) {
		uint64_t intr = vmcs_read(VMCS_GUEST_INTERRUPTIBILITY);
		if (intr & 3)
			vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, intr & ~3ull);
	}
	vmcs_write(VMCS_GUEST_RIP, v->rip);
	vmcs_write(VMCS_GUEST_RSP, v->gpr[RSP]);
	vmcs_write(VMCS_GUEST_RFLAGS, v->rflags);
	/* The VMX preemption timer (SDM 26.5.1) makes the guest exit by
	 * run_until: it counts down every 2^MISC[4:0] TSC ticks. */
	if (want_pin & PIN_PREEMPT_TIMER) {
		/* while L2 runs, L1's own timer too (nvmx.c, vmcs02_l1_timer_deadline) */
		uint64_t until = v->nested_deadline < v->run_until ? v->nested_deadline : v->run_until;
		bool armed = until != UINT64_MAX;
		if (armed) {
			uint64_t now = rdtsc();
			uint64_t ticks = until > now ? (until - now) >> (caps.misc & 31) : 0;
			vmcs_write(VMCS_PREEMPTION_TIMER_VALUE, ticks > 0xffffffffu ? 0xffffffffu : ticks);
		}
		if (armed != x->timer_armed) {
			/* read-modify-write: vmcs02's pin controls are merged ones */
			uint64_t pin = vmcs_read(VMCS_PIN_BASED_CONTROLS);
			vmcs_write(VMCS_PIN_BASED_CONTROLS, armed ? pin | PIN_PREEMPT_TIMER : pin & ~(uint64_t)PIN_PREEMPT_TIMER);
			x->timer_armed = armed;
		}
	} else if (v->run_until != UINT64_MAX) {
		lapic_timer_until(VEC_LAPIC_TIMER, v->run_until);
	}
	write_cr2(x->cr2);
	__asm__ volatile("fxrstor64 %0" : : "m"(v->fpu));
	trace_entry(v);
	int r = vmx_enter(v->gpr, x->launched);
	v->exit_tsc = rdtsc();
	__asm__ volatile("fxsave64 %0" : "=m"(v->fpu));
	x->cr2 = read_cr2();
	if (r && x->nested && nvmx_in_l2(v)) {
		/* vmcs02 refused: L1's VMLAUNCH/VMRESUME fails as its CPU would */
		nvmx_entry_vmfail(v, r == 2 ? (uint32_t)vmcs_read(VMCS_VM_INSTRUCTION_ERROR) : 0);
		memset(exit, 0, sizeof(*exit));
		exit->kind = EXIT_NESTED;
		return;
	}
	if (r) {
		uint32_t err = r == 2 ? (uint32_t)vmcs_read(VMCS_VM_INSTRUCTION_ERROR) : 0;
		log_err("vmx: %s failed: %s", x->launched ? "VMRESUME" : "VMLAUNCH",
			r == 1 ? "VMfailInvalid" : vmx_insn_error_name(err));
		memset(exit, 0, sizeof(*exit));
		exit->kind = EXIT_INVALID;
		return;
	}
	x->launched = true;
	v->rip = x->exit_rip = vmcs_read(VMCS_GUEST_RIP);
	v->gpr[RSP] = vmcs_read(VMCS_GUEST_RSP);
	v->rflags = vmcs_read(VMCS_GUEST_RFLAGS);
	uint32_t reason = (uint32_t)vmcs_read(VMCS_EXIT_REASON);
	/* Traced before nested code may switch levels: the level that exited.
	 * L1's VMLAUNCH/VMRESUME is marked: there ends its handling of an L2 exit. */
	bool l1_entry = x->nested && v->level == 1 &&
			((reason & 0xffff) == VMX_EXIT_VMLAUNCH || (reason & 0xffff) == VMX_EXIT_VMRESUME);
	trace_exit(v, l1_entry ? TRACE_VMRUN : TRACE_EXIT, reason, vmcs_read(VMCS_EXIT_QUALIFICATION));
	/* An event being delivered when the exit happened is delivered again
	 * on the next entry (SDM 28.2.4, IDT-vectoring information). */
	uint32_t idt = (uint32_t)vmcs_read(VMCS_IDT_VECTORING_INFO);
	if (idt & INTR_INFO_VALID) {
		vmcs_write(VMCS_ENTRY_INTR_INFO, idt & ~(1u << 12));
		if (idt & INTR_INFO_ERROR)
			vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(VMCS_IDT_VECTORING_ERROR_CODE));
		vmcs_write(VMCS_ENTRY_INSTRUCTION_LEN, vmcs_read(VMCS_EXIT_INSTRUCTION_LEN));
	}
	if (reason & (1u << 31)) {
		log_err("vmx: VM-entry failure, exit reason %u (%s), qualification %#lx", reason & 0xffff,
			vmx_exit_reason_name(reason & 0xffff), vmcs_read(VMCS_EXIT_QUALIFICATION));
		report_entry_checks(v);
	}
	decode_exit(v, reason, exit);
	/* Nested VMX: the VMX instructions of L1, and every exit of L2. */
	if (x->nested)
		nvmx_after_exit(v, exit);
}

/* CR0/CR4 as the guest sees them: the bits L0 owns (the guest/host mask)
 * come from the read shadow (SDM 25.6.6).  The VMCS is current. */
static uint64_t guest_cr_seen(uint32_t field, uint32_t mask_field, uint32_t shadow_field)
{
	uint64_t m = vmcs_read(mask_field);
	return (vmcs_read(field) & ~m) | (vmcs_read(shadow_field) & m);
}

static uint64_t vmx_get_cr(struct vcpu *v, int cr)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	switch (cr) {
	case 0: return guest_cr_seen(VMCS_GUEST_CR0, VMCS_CR0_GUEST_HOST_MASK, VMCS_CR0_READ_SHADOW);
	case 2: return vx(v)->cr2;
	case 3: return vmcs_read(VMCS_GUEST_CR3);
	case 4: return guest_cr_seen(VMCS_GUEST_CR4, VMCS_CR4_GUEST_HOST_MASK, VMCS_CR4_READ_SHADOW);
	case VREG_EFER: return vmcs_read(VMCS_GUEST_IA32_EFER);
	case VREG_PAT: return vmcs_read(VMCS_GUEST_IA32_PAT);
	default: return 0;
	}
}

/* EFER.LMA follows CR0.PG && EFER.LME, and so does the "IA-32e mode
 * guest" entry control (SDM 26.3.1.1, 25.8.1 note). */
static void sync_long_mode(void)
{
	uint64_t efer = vmcs_read(VMCS_GUEST_IA32_EFER);
	bool lma = (efer & EFER_LME) && (vmcs_read(VMCS_GUEST_CR0) & CR0_PG);
	efer = lma ? efer | (1ull << 10) : efer & ~(1ull << 10);
	vmcs_write(VMCS_GUEST_IA32_EFER, efer);
	uint32_t entry = (uint32_t)vmcs_read(VMCS_ENTRY_CONTROLS);
	vmcs_write(VMCS_ENTRY_CONTROLS, lma ? entry | ENTRY_IA32E_GUEST : entry & ~ENTRY_IA32E_GUEST);
}

static void vmx_set_cr(struct vcpu *v, int cr, uint64_t val)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	switch (cr) {
	case 0: set_guest_cr0(val); sync_long_mode(); break;
	case 2: vx(v)->cr2 = val; break;
	case 3: vmcs_write(VMCS_GUEST_CR3, val); break;
	case 4: set_guest_cr4(val); break;
	case VREG_EFER: vmcs_write(VMCS_GUEST_IA32_EFER, val); sync_long_mode(); break;
	case VREG_PAT: vmcs_write(VMCS_GUEST_IA32_PAT, val); break;
	default: break;
	}
}

static int vmx_guest_cpl(struct vcpu *v)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	return (int)((vmcs_read(VMCS_GUEST_SS_AR) >> 5) & 3);
}

static bool vmx_long_mode(struct vcpu *v)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	return (vmcs_read(VMCS_GUEST_CS_AR) >> 13) & 1;
}

/* The code size from CR0 and CS's access rights (L bit 13, D/B bit 14). */
static unsigned cs_bits_of(uint64_t cr0, uint64_t cs_ar)
{
	if (!(cr0 & CR0_PE))
		return 16;
	if ((cs_ar >> 13) & 1)
		return 64;
	return (cs_ar >> 14) & 1 ? 32 : 16;
}

static unsigned vmx_cs_size(struct vcpu *v)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	return cs_bits_of(vmx_get_cr(v, 0), vmcs_read(VMCS_GUEST_CS_AR));
}

static uint64_t vmx_seg_base(struct vcpu *v, int seg)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	return seg >= 0 && seg < 6 ? vmcs_read(segs[seg].base) : 0;
}

static void vmx_code_regs(struct vcpu *v, struct guest_code_regs *c)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	uint64_t cr0 = guest_cr_seen(VMCS_GUEST_CR0, VMCS_CR0_GUEST_HOST_MASK, VMCS_CR0_READ_SHADOW);
	*c = (struct guest_code_regs){
		.cr0 = cr0, .cr3 = vmcs_read(VMCS_GUEST_CR3),
		.cr4 = guest_cr_seen(VMCS_GUEST_CR4, VMCS_CR4_GUEST_HOST_MASK, VMCS_CR4_READ_SHADOW),
		.efer = vmcs_read(VMCS_GUEST_IA32_EFER), .cs_base = vmcs_read(VMCS_GUEST_CS_BASE),
		.cs_bits = cs_bits_of(cr0, vmcs_read(VMCS_GUEST_CS_AR)),
		.cpl = (int)((vmcs_read(VMCS_GUEST_SS_AR) >> 5) & 3),   /* as vmx_guest_cpl */
	};
}

static void vmx_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	vmcs_write(VMCS_ENTRY_INTR_INFO, vector | INTR_TYPE_HW_EXC | INTR_INFO_VALID |
		   (has_error ? INTR_INFO_ERROR : 0));
	if (has_error)
		vmcs_write(VMCS_ENTRY_EXCEPTION_ERROR_CODE, error);
}

static void vmx_inject_irq(struct vcpu *v, uint8_t vector)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	vmcs_write(VMCS_ENTRY_INTR_INFO, vector | INTR_TYPE_EXT | INTR_INFO_VALID);
}

static bool vmx_irq_window_open(struct vcpu *v)
{
	if (vx(v)->nested && !nvmx_irq_injectable(v))
		return false;
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	/* Blocking by STI/MOV SS ends once RIP has moved past the exiting
	 * instruction (vmx_vcpu_run clears it then): do not let a stale
	 * shadow from e.g. `sti; hlt` delay the interrupt. */
	uint64_t blocking = v->rip != vx(v)->exit_rip ? 0 : vmcs_read(VMCS_GUEST_INTERRUPTIBILITY) & 3;
	return (v->rflags & (1u << 9)) && !blocking &&
	       !(vmcs_read(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID);
}

static void vmx_request_irq_window(struct vcpu *v, bool on)
{
	if (on && vx(v)->nested && nvmx_irq_window_nested(v))
		return;
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	struct vmx_vcpu *x = vx(v);
	x->proc_ctls = on ? x->proc_ctls | PROC_IRQ_WINDOW : x->proc_ctls & ~PROC_IRQ_WINDOW;
	vmcs_write(VMCS_PROC_BASED_CONTROLS, x->proc_ctls);
}

/* SDM 26.3.1.5: an NMI is injected only without blocking by MOV SS, by
 * STI (some CPUs, Bochs among them, insist) and by NMI. */
static bool vmx_nmi_window_open(struct vcpu *v)
{
	if (vx(v)->nested && !nvmx_nmi_injectable(v))
		return false;
	vmx_ensure_current(v);
	return !(vmcs_read(VMCS_GUEST_INTERRUPTIBILITY) & 0xb) &&
	       !(vmcs_read(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID);
}

static void vmx_inject_nmi(struct vcpu *v)
{
	vmx_ensure_current(v);
	vmcs_write(VMCS_ENTRY_INTR_INFO, 2 | INTR_TYPE_NMI | INTR_INFO_VALID);
}

static void vmx_request_nmi_window(struct vcpu *v, bool on)
{
	if (on && vx(v)->nested && nvmx_nmi_window_nested(v))
		return;
	vmx_ensure_current(v);
	struct vmx_vcpu *x = vx(v);
	if (!(want_pin & PIN_VIRTUAL_NMIS) || !vmx_ctl_ok(caps.procbased, x->proc_ctls | PROC_NMI_WINDOW))
		return; /* the CPU cannot: the NMI waits for the next exit */
	x->proc_ctls = on ? x->proc_ctls | PROC_NMI_WINDOW : x->proc_ctls & ~PROC_NMI_WINDOW;
	vmcs_write(VMCS_PROC_BASED_CONTROLS, x->proc_ctls);
}

/* MOV to/from CR (SDM table 28-3): only CR0/CR4 bits Nestor owns exit. */
static bool vmx_emulate_cr(struct vcpu *v, const struct vm_exit *e)
{
	uint64_t q = e->cr.qual;
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	if (type == 0 && (cr == 0 || cr == 4)) {
		uint64_t val = v->gpr[reg];
		if (cr == 4 && (val & CR4_VMXE) && !v->vm->cfg->nested) {
			vmx_inject_exception(v, 13, true, 0); /* VMX not offered: #GP */
			return true;
		}
		vmx_set_cr(v, (int)cr, val);
		v->rip += e->insn_len;
		return true;
	}
	if (type == 3) { /* LMSW: the low four bits of CR0 */
		uint64_t cr0 = vmx_get_cr(v, 0);
		uint64_t src = (q >> 16) & 0xffff;
		cr0 = (cr0 & ~0xeull) | (src & 0xf) | (cr0 & 1);
		vmx_set_cr(v, 0, cr0);
		v->rip += e->insn_len;
		return true;
	}
	log_err("vm %s: unexpected control-register exit %#lx", v->vm->cfg->name, q);
	return false;
}

static void vmx_reset_for_sipi(struct vcpu *v, uint8_t vector)
{
	vmx_ensure_current(v);
	guest_boot_state(v);
	set_seg(1, (uint16_t)(vector << 8), (uint64_t)vector << 12, 0xffff, 0x9b);
	for (int i = 0; i < 6; i++)
		if (i != 1)
			set_seg(i, 0, 0, 0xffff, 0x93);
	set_guest_cr0(1u << 4); /* real mode: PE = 0 (unrestricted guest) */
	memset(v->gpr, 0, sizeof(v->gpr));
	v->rip = vx(v)->exit_rip = 0;
	v->rflags = 0x2;
	v->halted = false;
	vx(v)->cr2 = 0;
}

static void vmx_dump(struct vcpu *v)
{
	vmx_ensure_current(v); /* ops may be called for any vCPU of this CPU */
	log_err("  exit reason %lu (%s) qualification %#lx", vmcs_read(VMCS_EXIT_REASON) & 0xffff,
		vmx_exit_reason_name(vmcs_read(VMCS_EXIT_REASON) & 0xffff), vmcs_read(VMCS_EXIT_QUALIFICATION));
	log_err("  RIP %#lx RSP %#lx RFLAGS %#lx CS %#lx/%#lx", vmcs_read(VMCS_GUEST_RIP), vmcs_read(VMCS_GUEST_RSP),
		vmcs_read(VMCS_GUEST_RFLAGS), vmcs_read(VMCS_GUEST_CS_SELECTOR), vmcs_read(VMCS_GUEST_CS_AR));
	log_err("  CR0 %#lx CR3 %#lx CR4 %#lx EFER %#lx", vmx_get_cr(v, 0), vmcs_read(VMCS_GUEST_CR3),
		vmx_get_cr(v, 4), vmcs_read(VMCS_GUEST_IA32_EFER));
	log_err("  RAX %#lx RBX %#lx RCX %#lx RDX %#lx", v->gpr[RAX], v->gpr[RBX], v->gpr[RCX], v->gpr[RDX]);
}

static void vmx_set_long_mode_boot(struct vcpu *v, uint64_t cr3)
{
	vmx_ensure_current(v);
	set_seg(1, 0x08, 0, 0xffffffff, 0xa09b);       /* 64-bit code: L = 1, D = 0 */
	set_guest_cr4(CR4_PAE);
	vmcs_write(VMCS_GUEST_CR3, cr3);
	vmcs_write(VMCS_GUEST_IA32_EFER, EFER_LME);
	set_guest_cr0(CR0_PG | CR0_PE | (1u << 4));
	sync_long_mode();                              /* LMA and the IA-32e entry control */
}

static void vmx_report(struct vcpu *v)
{
	if (vx(v)->nested)
		nvmx_report(v);
}

static int vmx_nested_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	return vx(v)->nested ? nvmx_msr_read(v, msr, val) : -1;
}

const struct vcpu_ops vmx_ops = {
	.report = vmx_report,
	.nested_msr_read = vmx_nested_msr_read,
	.set_long_mode_boot = vmx_set_long_mode_boot,
	.name = "VMX",
	.hw_enable = vmx_hw_enable,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_run = vmx_vcpu_run,
	.get_cr = vmx_get_cr,
	.set_cr = vmx_set_cr,
	.guest_cpl = vmx_guest_cpl,
	.guest_long_mode = vmx_long_mode,
	.guest_cs_size = vmx_cs_size,
	.seg_base = vmx_seg_base,
	.code_regs = vmx_code_regs,
	.inject_exception = vmx_inject_exception,
	.inject_irq = vmx_inject_irq,
	.irq_window_open = vmx_irq_window_open,
	.request_irq_window = vmx_request_irq_window,
	.nmi_window_open = vmx_nmi_window_open,
	.inject_nmi = vmx_inject_nmi,
	.request_nmi_window = vmx_request_nmi_window,
	.dump = vmx_dump,
	.reset_for_sipi = vmx_reset_for_sipi,
	.emulate_cr = vmx_emulate_cr,
};
