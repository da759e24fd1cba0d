/*
 * The MSRs a guest may touch, one table.  Anything not in it raises #GP,
 * as a CPU does for an MSR it lacks: guests (Linux's rdmsr_safe, KVM's
 * probes) rely on that.  MSRs whose state lives in the VMCB/VMCS and is
 * switched by hardware are not intercepted at all (guest_owned_msrs below).
 */
#include "kernel/platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_caps.h"
#include "kernel/vintr.h"
#include "kernel/log.h"
#include "kernel/msr_rules.h"

#define EFER_GUEST_BITS (EFER_SCE | EFER_LME | (1ull << 10) /* LMA */ | EFER_NXE | \
			 (1ull << 14) /* LMSLE */ | (1ull << 15) /* FFXSR */)

const uint32_t guest_owned_msrs[] = {
	0x174, 0x175, 0x176,                            /* SYSENTER_CS/ESP/EIP */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR LSTAR CSTAR SFMASK */
	0xc0000100, 0xc0000101, 0xc0000102,             /* FS_BASE GS_BASE KERNEL_GS_BASE */
};
const unsigned guest_owned_msrs_count = sizeof(guest_owned_msrs) / sizeof(guest_owned_msrs[0]);

struct msr_def {
	uint32_t msr;
	const char *name;
	int (*read)(struct vcpu *v, uint32_t msr, uint64_t *val);
	int (*write)(struct vcpu *v, uint32_t msr, uint64_t val); /* NULL: read-only, writes #GP */
};

static int efer_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	/* SVME is on in the VMCB for VMRUN's sake; the guest did not set it. */
	*val = vcpu_ops->get_cr(v, VREG_EFER) & ~(v->vm->cfg->nested ? 0 : EFER_SVME);
	return 0;
}

static int efer_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)msr;
	uint64_t allowed = EFER_GUEST_BITS | (v->vm->cfg->nested ? EFER_SVME : 0);
	if (val & ~allowed)
		return -1; /* reserved bit: #GP (APM vol. 2 3.1.7) */
	/* LMA is read-only: the CPU derives it; keep the current value. */
	uint64_t cur = vcpu_ops->get_cr(v, VREG_EFER);
	val = (val & ~(1ull << 10)) | (cur & (1ull << 10));
	vcpu_ops->set_cr(v, VREG_EFER, val);
	return 0;
}

static int pat_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	*val = vcpu_ops->get_cr(v, VREG_PAT);
	return 0;
}

static int pat_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)msr;
	/* Each byte must be a valid memory type: 0, 1, 4, 5, 6, 7 (SDM 11.12.2). */
	for (int i = 0; i < 8; i++) {
		uint8_t t = (uint8_t)(val >> (8 * i));
		if (t > 7 || t == 2 || t == 3)
			return -1;
	}
	vcpu_ops->set_cr(v, VREG_PAT, val);
	return 0;
}

static int tsc_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)v; (void)msr;
	*val = rdtsc();
	return 0;
}

/* Registers with a stored value and no side effect (MTRR default type). */
static int stored_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	*val = v->mtrr_def_type;
	return 0;
}
static int stored_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)msr;
	if (val & ~0xcffull)
		return -1;
	v->mtrr_def_type = val;
	return 0;
}

static int zero_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)v; (void)msr;
	*val = 0;
	return 0;
}

static int ignore_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)v; (void)msr; (void)val;
	return 0;
}

/* VM_CR: SVM disabled and locked unless the VM is nested (APM 15.30.1). */
static int vm_cr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	*val = v->vm->cfg->nested ? 0 : (1u << 3) | (1u << 4);
	return 0;
}

/* VM_HSAVE_PA (APM 15.30.4): where L1's VMRUN would save its host state.
 * Exists when SVM is offered (nested VMs); must be page aligned and below
 * the physical address width, else #GP.  Nestor keeps L1's host state
 * itself, so the page is only remembered. */
static int hsave_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	if (!v->vm->cfg->nested)
		return -1;
	*val = v->vm_hsave_pa;
	return 0;
}

static int hsave_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)msr;
	if (!v->vm->cfg->nested || (val & 0xfff) || (val >> cpu_caps.phys_bits))
		return -1;
	v->vm_hsave_pa = val;
	return 0;
}

/*
 * DEBUGCTL (0x1d9): every x86-64 CPU has it (APM vol. 2 13.1.1.6 on AMD:
 * LBR bit 0, BTF bit 1, PB0-PB3 bits 2-5, the rest reserved and #GP; the
 * SDM's IA32_DEBUGCTL on Intel, with more bits).  Linux's KVM reads it
 * with a plain RDMSR before every VMRUN (x86.c, vcpu_enter_guest) to
 * restore the host's value afterwards, so a #GP there is an "unchecked
 * MSR access" and a #GP on every L2 entry.  The value is kept; the
 * features it switches on (last-branch records, single-step on branches,
 * the PB pins) are not emulated, which the log says the first time a
 * guest sets one of them.  Which bits exist: kernel/msr_rules.h.
 */
static int debugctl_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	*val = v->debugctl;
	return 0;
}

static int debugctl_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)msr;
	if (!msr_debugctl_write_ok(cpu_caps.vendor == VENDOR_INTEL, val))
		return -1;   /* reserved bit: #GP */
	if (val && !v->debugctl_warned) {
		v->debugctl_warned = true;
		log_warn("vm %s: vCPU %u: DEBUGCTL %#lx: kept, but LBR/BTF/PB are not emulated",
			 v->vm->cfg->name, v->index, val);
	}
	v->debugctl = val;
	return 0;
}

/* IA32_MISC_ENABLE: Intel only; which bits exist and which may change:
 * kernel/msr_rules.h.  The value is per vCPU, as on hardware. */
static int misc_enable_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)msr;
	if (cpu_caps.vendor != VENDOR_INTEL)
		return -1;
	*val = v->misc_enable;
	return 0;
}

static int misc_enable_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)msr;
	if (cpu_caps.vendor != VENDOR_INTEL)
		return -1;
	if (!msr_misc_enable_write_ok(v->misc_enable, val)) {
		log_warn("vm %s: vCPU %u: IA32_MISC_ENABLE %#lx -> %#lx changes a bit Nestor does not offer: #GP",
			 v->vm->cfg->name, v->index, v->misc_enable, val);
		return -1;
	}
	v->misc_enable = val;
	return 0;
}

/* IA32_BIOS_SIGN_ID (0x8b, SDM vol. 3 10.11.7.1), Intel only: the loaded
 * microcode's revision, in bits 63:32 after software writes 0 and runs
 * CPUID(1).  Linux's early_init_intel does exactly that with plain
 * WRMSR/RDMSR.  Nestor offers no microcode update (MSR 0x79 is absent), so
 * the revision is a constant 1, as KVM reports; writes are accepted and
 * change nothing. */
static int bios_sign_id_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	(void)v; (void)msr;
	if (cpu_caps.vendor != VENDOR_INTEL)
		return -1;
	*val = 1ull << 32;
	return 0;
}

static int bios_sign_id_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	(void)v; (void)msr; (void)val;
	return cpu_caps.vendor == VENDOR_INTEL ? 0 : -1;
}

static const struct msr_def msr_table[] = {
	{ 0x10, "IA32_TIME_STAMP_COUNTER", tsc_read, NULL },
	{ 0x8b, "IA32_BIOS_SIGN_ID", bios_sign_id_read, bios_sign_id_write },
	{ 0xfe, "IA32_MTRRCAP", zero_read, NULL },            /* no variable MTRRs, no fixed */
	{ 0x1a0, "IA32_MISC_ENABLE", misc_enable_read, misc_enable_write },
	{ 0x1d9, "DEBUGCTL", debugctl_read, debugctl_write },
	{ 0x277, "IA32_PAT", pat_read, pat_write },
	{ 0x2ff, "IA32_MTRR_DEF_TYPE", stored_read, stored_write },
	{ 0xc0000080, "EFER", efer_read, efer_write },
	{ 0xc0010015, "HWCR", zero_read, ignore_write },
	/* K8 interrupt pending message: Linux reads it on the family 0xf CPUs
	 * of erratum 400 (QEMU's TCG CPU is one) to see whether C1E is on: no. */
	{ 0xc0010055, "INT_PENDING_MSG", zero_read, ignore_write },
	{ 0xc0010114, "VM_CR", vm_cr_read, NULL },
	{ 0xc0010117, "VM_HSAVE_PA", hsave_read, hsave_write },
};

static const struct msr_def *find(uint32_t msr)
{
	for (unsigned i = 0; i < sizeof(msr_table) / sizeof(msr_table[0]); i++)
		if (msr_table[i].msr == msr)
			return &msr_table[i];
	return NULL;
}

int msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	bool handled;
	int r = vintr_msr_read(v, msr, val, &handled); /* APIC base, x2APIC, TSC deadline */
	if (handled)
		return r;
	const struct msr_def *d = find(msr);
	if (d)
		return d->read(v, msr, val);
	return vcpu_ops->nested_msr_read ? vcpu_ops->nested_msr_read(v, msr, val) : -1;
}

int msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	bool handled;
	int r = vintr_msr_write(v, msr, val, &handled);
	if (handled)
		return r;
	const struct msr_def *d = find(msr);
	return d && d->write ? d->write(v, msr, val) : -1;
}
