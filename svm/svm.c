/*
 * The AMD SVM backend (APM vol. 2 chapter 15): enabling SVM, building a
 * VMCB for each vCPU (vmcb01 in nested terms), entering the guest and
 * turning each #VMEXIT into a neutral struct vm_exit for kernel/exits.c.
 *
 * Everything the guest controls stays in the VMCB; L0 intercepts what it
 * must emulate (CPUID, MSRs, I/O, HLT, VMMCALL, SVM instructions, shutdown)
 * and runs the guest on nested paging (NPT01, built from the VM's memory
 * map by mm/s2pt.c).
 */
#include <string.h>
#include "svm/vmcb.h"
#include "svm/svm_vcpu.h"
#include "svm/nested/nsvm.h"
#include "kernel/vcpu.h"
#include "kernel/platform.h"
#include "kernel/log.h"
#include "kernel/guest_insn.h"
#include "kernel/trace_l0.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/percpu.h"
#include "mm/frame.h"
#include "arch/x86/lapic.h"
#include "arch/x86/traps.h"

#define VM_CR_SVMDIS (1u << 4)

void svm_vmsave(uint64_t pa);

static uint64_t host_vmcb[MAX_CPUS];  /* L0's hidden state, per physical CPU */
/* The host save area (VM_HSAVE_PA) per CPU, and a canary in its control
 * area, which VMRUN does not use (it saves the host's state in the save
 * area, APM 15.5.1): a diagnostic for the open intermittent bug
 * (docs/emulators.md), whose evidence says that page is written by
 * someone else.  Checked after every #VMEXIT; a change is logged once
 * per CPU with what ran. */
static uint64_t host_save[MAX_CPUS];
static bool host_save_hit[MAX_CPUS];
#define HSAVE_CANARY 0x4e53484156450a5aull   /* "Z\nEVAHSN" */
static const unsigned hsave_canary_at[] = { 0x000, 0x0c8, 0x200, 0x3f8 };
uint64_t svm_iopm_pa, svm_msrpm_pa;   /* one policy for every VM */
static struct spinlock maps_lock;

/* The MSR permission map (APM 15.11): 2 bits per MSR (read, write) in three
 * 2 KiB blocks for MSRs 0-0x1fff, 0xc0000000-0xc0001fff, 0xc0010000-0xc0011fff.
 * A clear bit lets the guest access the MSR directly. */
static void msrpm_allow(uint8_t *map, uint32_t msr)
{
	uint32_t base;
	if (msr < 0x2000)
		base = 0;
	else if (msr - 0xc0000000u < 0x2000)
		base = 0x800, msr -= 0xc0000000u;
	else
		return;
	unsigned bit = msr * 2;
	map[base + bit / 8] &= (uint8_t)~(3u << (bit % 8));
}


static int svm_make_maps(void)
{
	spin_lock(&maps_lock);
	if (!svm_iopm_pa) {
		/* I/O permission map: 12 KiB, one bit per port, all intercepted. */
		uint64_t io = frame_alloc_pages(3, 0);
		uint64_t msr = frame_alloc_pages(2, 0);
		if (io && msr) {
			memset((void *)io, 0xff, 3 * PAGE_SIZE);
			memset((void *)msr, 0xff, 2 * PAGE_SIZE);
			/* Their guest values live in the VMCB, switched by VMRUN/VMLOAD/VMSAVE. */
			for (unsigned i = 0; i < guest_owned_msrs_count; i++)
				msrpm_allow((uint8_t *)msr, guest_owned_msrs[i]);
			svm_iopm_pa = io;
			svm_msrpm_pa = msr;
		}
	}
	spin_unlock(&maps_lock);
	return svm_iopm_pa ? 0 : -1;
}

static int svm_hw_enable(void)
{
	unsigned cpu = this_cpu()->index;
	if (host_vmcb[cpu])
		return 0;
	/* APM 15.4: SVM may be disabled by firmware (VM_CR.SVMDIS). */
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		log_err("svm: disabled by firmware (VM_CR.SVMDIS); enable SVM in the setup");
		return -1;
	}
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	uint64_t hsave = frame_alloc_pages(1, 0);
	uint64_t host = frame_alloc_pages(1, 0);
	if (!hsave || !host)
		return -1;
	wrmsr(MSR_VM_HSAVE_PA, hsave);
	for (unsigned i = 0; i < sizeof(hsave_canary_at) / sizeof(hsave_canary_at[0]); i++)
		*(volatile uint64_t *)(hsave + hsave_canary_at[i]) = HSAVE_CANARY;
	host_save[cpu] = hsave;
	svm_vmsave(host);
	host_vmcb[cpu] = host;
	return 0;
}

static struct vmcb *vmcb_of(struct vcpu *v)
{
	return ((struct svm_vcpu *)v->arch)->vmcb;
}

static void set_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib, uint32_t limit, uint64_t base)
{
	s->selector = sel;
	s->attrib = attrib;
	s->limit = limit;
	s->base = base;
}

/* The vCPU starts in the state the Multiboot protocol promises (spec 3.2):
 * 32-bit protected mode, flat 4 GiB segments, paging off, interrupts off.
 * Unlike VMX, SVM runs any mode directly, so no real-mode tricks. */
static int svm_vcpu_create(struct vcpu *v)
{
	/* The permission maps must exist before any VMCB points at them: a
	 * zero IOPM/MSRPM base would let the guest at every port and MSR. */
	if (svm_make_maps())
		return -1;
	struct svm_vcpu *s = (struct svm_vcpu *)frame_alloc_pages(1, 0);
	uint64_t vmcb_pa = frame_alloc_pages(1, 0);
	if (!s || !vmcb_pa)
		return -1;
	s->vmcb = s->vmcb01 = (struct vmcb *)vmcb_pa;
	v->arch = s;
	struct vmcb_control *c = &s->vmcb->ctl;
	struct vmcb_save *g = &s->vmcb->save;

	c->intercept_misc1 = SVM_INTERCEPT_INTR | SVM_INTERCEPT_NMI | SVM_INTERCEPT_INIT |
			     SVM_INTERCEPT_CPUID | SVM_INTERCEPT_HLT | SVM_INTERCEPT_INVLPGA |
			     SVM_INTERCEPT_IOIO | SVM_INTERCEPT_MSR | SVM_INTERCEPT_SHUTDOWN |
			     SVM_INTERCEPT_INVD;
	/* VMRUN must be intercepted (APM 15.5.1, else VMEXIT_INVALID); the other
	 * SVM instructions would reach host state, so they are all ours. */
	c->intercept_misc2 = SVM_INTERCEPT_VMRUN | SVM_INTERCEPT_VMMCALL | SVM_INTERCEPT_VMLOAD |
			     SVM_INTERCEPT_VMSAVE | SVM_INTERCEPT_STGI | SVM_INTERCEPT_CLGI |
			     SVM_INTERCEPT_SKINIT | SVM_INTERCEPT_MONITOR | SVM_INTERCEPT_MWAIT |
			     SVM_INTERCEPT_XSETBV;
	c->intercept_exc = 1u << 18; /* #MC: a machine check belongs to L0 */
	c->iopm_base_pa = svm_iopm_pa;
	c->msrpm_base_pa = svm_msrpm_pa;
	c->asid = v->vm->asid;
	c->tlb_control = 1; /* flush this ASID on the first VMRUN */
	c->vintr = SVM_VINTR_V_INTR_MASKING;
	c->np_enable = 1;
	c->n_cr3 = v->vm->s2.root;

	set_seg(&g->cs, 0x08, 0xc9b, 0xffffffff, 0); /* code, 32-bit, 4 KiB granular */
	set_seg(&g->ds, 0x10, 0xc93, 0xffffffff, 0);
	g->es = g->ss = g->fs = g->gs = g->ds;
	set_seg(&g->gdtr, 0, 0, 0xffff, 0);
	set_seg(&g->idtr, 0, 0, 0xffff, 0);
	set_seg(&g->ldtr, 0, 0x82, 0xffff, 0);
	set_seg(&g->tr, 0, 0x8b, 0xffff, 0);
	g->cr0 = CR0_PE | (1u << 4); /* PE, ET */
	g->efer = EFER_SVME;         /* required by VMRUN; the guest reads it as 0 (msr.c) */
	g->dr6 = 0xffff0ff0;
	g->dr7 = 0x400;
	g->g_pat = 0x0007040600070406ull; /* power-on PAT */
	v->rflags = 0x2;
	/* Nested: SVM emulated for this guest (svm/nested/nsvm.c). */
	if (v->vm->cfg->nested && nsvm_vcpu_init(v, s))
		return -1;
	return 0;
}

/* Exit code -> neutral exit kind (APM appendix C). */
static void decode_exit(struct vcpu *v, struct vmcb *vm, struct vm_exit *e)
{
	uint64_t code = vm->ctl.exit_code, info1 = vm->ctl.exit_info1;
	*e = (struct vm_exit){ .reason = code };
	switch (code) {
	case SVM_EXIT_CPUID:
		e->kind = EXIT_CPUID;
		break;
	case SVM_EXIT_MSR:
		e->kind = info1 ? EXIT_MSR_WRITE : EXIT_MSR_READ;
		e->msr.msr = (uint32_t)v->gpr[RCX];
		break;
	case SVM_EXIT_IOIO:
		/* APM 15.10.2: EXITINFO1 describes the access, EXITINFO2 is the next RIP. */
		e->kind = EXIT_IO;
		e->io.port = (uint16_t)(info1 >> 16);
		e->io.in = info1 & 1;
		e->io.string = (info1 >> 2) & 1;
		e->io.rep = (info1 >> 3) & 1;
		e->io.size = (info1 >> 4) & 1 ? 1 : (info1 >> 5) & 1 ? 2 : 4;
		e->insn_len = (uint8_t)(vm->ctl.exit_info2 - v->rip);
		break;
	case SVM_EXIT_HLT:
		e->kind = EXIT_HLT;
		break;
	case SVM_EXIT_INVD:
		e->kind = EXIT_INVD;
		break;
	case SVM_EXIT_IRET: {
		/* The IRET has not run yet: wait until the guest is past it. */
		struct svm_vcpu *s = v->arch;
		s->iret_rip = v->rip;
		vm->ctl.intercept_misc1 &= ~SVM_INTERCEPT_IRET;
		e->kind = EXIT_NMI_WINDOW;
		break;
	}
	case SVM_EXIT_VMMCALL:
		e->kind = EXIT_HYPERCALL;
		break;
	case SVM_EXIT_NPF:
		/* APM 15.25.6: EXITINFO1 is a #PF-style error code, EXITINFO2 the GPA. */
		e->kind = EXIT_NPF;
		e->npf.gpa = vm->ctl.exit_info2;
		e->npf.present = info1 & 1;
		e->npf.write = (info1 >> 1) & 1;
		e->npf.fetch = (info1 >> 4) & 1;
		break;
	case SVM_EXIT_SHUTDOWN:
		e->kind = EXIT_SHUTDOWN;
		break;
	case SVM_EXIT_INTR:
	case SVM_EXIT_NMI:
		e->kind = EXIT_INTR;
		break;
	case SVM_EXIT_VINTR:
		e->kind = EXIT_IRQ_WINDOW;
		break;
	case SVM_EXIT_INVALID:
		e->kind = EXIT_INVALID;
		break;
	default:
		if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
			e->kind = EXIT_EXCEPTION;
			e->exc.vector = (uint8_t)(code - SVM_EXIT_EXCP_BASE);
			e->exc.error = (uint32_t)info1;
		} else {
			e->kind = EXIT_OTHER; /* SVM instructions, INVD, MONITOR...: exits.c decides */
		}
		break;
	}
	/* Instruction length: from nRIP where the CPU saves it (APM 15.7.1);
	 * QEMU TCG does not, so kernel/guest_insn.c decodes the instruction. */
	if (!e->insn_len && (cpu_caps.svm_features & SVM_FEATURE_NRIPS) && vm->ctl.next_rip > v->rip)
		e->insn_len = (uint8_t)(vm->ctl.next_rip - v->rip);
}

/* The canary of this CPU's host save area (host_save above). */
static void hsave_check(struct vcpu *v, const struct vmcb *vm)
{
	uint64_t hs = host_save[v->pcpu];
	for (unsigned i = 0; i < sizeof(hsave_canary_at) / sizeof(hsave_canary_at[0]); i++) {
		volatile uint64_t *p = (volatile uint64_t *)(hs + hsave_canary_at[i]);
		if (*p == HSAVE_CANARY)
			continue;
		if (!host_save_hit[v->pcpu]) {
			host_save_hit[v->pcpu] = true;
			log_err("svm: CPU %u's host save area %#lx was written at +%#x (%#lx) by someone else; "
				"last ran: vm %s vCPU %u L%u, exit %#lx at RIP %#lx, nCR3 %#lx, VMCB %#lx",
				v->pcpu, hs, hsave_canary_at[i], (unsigned long)*p, v->vm->cfg->name, v->index, v->level,
				vm->ctl.exit_code, vm->save.rip, vm->ctl.n_cr3, (uint64_t)vm);
		}
		*p = HSAVE_CANARY;
	}
}

static void svm_vcpu_run(struct vcpu *v, struct vm_exit *exit)
{
	struct svm_vcpu *s = v->arch;
	/* An event for L1 that L1 intercepts ends L2's run before it starts. */
	if (s->nested && nsvm_before_run(v, exit)) {
		v->exit_tsc = rdtsc();
		return;
	}
	struct vmcb *vm = vmcb_of(v);
	/* Moving RIP past an instruction ends its interrupt shadow (STI, MOV
	 * SS): the shadow covered only that instruction (APM 15.21.5). */
	if (vm->save.rip != v->rip)
		vm->ctl.int_state &= ~1ull;
	vm->save.rax = v->gpr[RAX];
	vm->save.rsp = v->gpr[RSP];
	vm->save.rip = v->rip;
	vm->save.rflags = v->rflags;
	/* No preemption timer on SVM: L0's LAPIC timer interrupts the guest
	 * (an INTR #VMEXIT) by run_until. */
	if (v->run_until != UINT64_MAX) {
		lapic_timer_until(VEC_LAPIC_TIMER, v->run_until);
	}
	__asm__ volatile("fxrstor64 %0" : : "m"(v->fpu));
	trace_entry(v);
	svm_vmrun((uint64_t)vm, v->gpr, host_vmcb[v->pcpu]);
	v->exit_tsc = rdtsc();
	hsave_check(v, vm);
	/* (vm is still the VMCB that ran; nested work below may switch.) */
	__asm__ volatile("fxsave64 %0" : "=m"(v->fpu));
	v->gpr[RAX] = vm->save.rax;
	v->gpr[RSP] = vm->save.rsp;
	v->rip = vm->save.rip;
	v->rflags = vm->save.rflags;
	/* Traced before nested code may switch levels: the level that exited.
	 * L1's VMRUN is marked: there ends its handling of an L2 exit. */
	trace_exit(v, (vm->ctl.exit_code == SVM_EXIT_VMRUN && s->nested) ? TRACE_VMRUN : TRACE_EXIT,
		   vm->ctl.exit_code, vm->ctl.exit_info1);
	vm->ctl.tlb_control = 0;
	vm->ctl.clean = 0;
	/* An event that was being delivered when the exit happened must be
	 * delivered again (APM 15.7.2, EXITINTINFO). */
	if (vm->ctl.exit_int_info & SVM_EVTINJ_VALID)
		vm->ctl.event_inj = vm->ctl.exit_int_info;
	decode_exit(v, vm, exit);
	/* Nested SVM: the SVM instructions of L1, and every exit of L2. */
	if (s->nested)
		nsvm_after_exit(v, exit);
}

static uint64_t svm_get_cr(struct vcpu *v, int cr)
{
	struct vmcb_save *g = &vmcb_of(v)->save;
	switch (cr) {
	case 0: return g->cr0;
	case 2: return g->cr2;
	case 3: return g->cr3;
	case 4: return g->cr4;
	case VREG_EFER: {
		/* L1 reads EFER.SVME as it wrote it; vmcb01 holds it set. */
		struct svm_vcpu *s = v->arch;
		if (s->vmcb == s->vmcb01 && !s->efer_svme)
			return g->efer & ~EFER_SVME;
		return g->efer;
	}
	case VREG_PAT: return g->g_pat;
	default: return 0;
	}
}

static void svm_set_cr(struct vcpu *v, int cr, uint64_t val)
{
	struct vmcb_save *g = &vmcb_of(v)->save;
	switch (cr) {
	case 2: g->cr2 = val; break;
	case VREG_EFER: {
		struct svm_vcpu *s = v->arch;
		if (s->vmcb == s->vmcb01) {
			if (s->nested && !!(val & EFER_SVME) != s->efer_svme)
				nsvm_svme_changed(v, val & EFER_SVME);
			s->efer_svme = val & EFER_SVME;
		}
		g->efer = val | EFER_SVME; /* SVME stays on for VMRUN (APM 15.5.1) */
		break;
	}
	case VREG_PAT: g->g_pat = val; break;
	default: break;
	}
}

static int svm_guest_cpl(struct vcpu *v) { return vmcb_of(v)->save.cpl; }
static bool svm_long_mode(struct vcpu *v) { return (vmcb_of(v)->save.cs.attrib >> 9) & 1; }

static unsigned svm_cs_size(struct vcpu *v)
{
	const struct vmcb_save *g = &vmcb_of(v)->save;
	if (!(g->cr0 & CR0_PE))
		return 16;
	if ((g->efer & EFER_LME) && ((g->cs.attrib >> 9) & 1))
		return 64;
	return (g->cs.attrib >> 10) & 1 ? 32 : 16;
}

static uint64_t svm_seg_base(struct vcpu *v, int seg)
{
	struct vmcb_save *g = &vmcb_of(v)->save;
	switch (seg) {
	case 0: return g->es.base;
	case 1: return g->cs.base;
	case 2: return g->ss.base;
	case 3: return g->ds.base;
	case 4: return g->fs.base;
	case 5: return g->gs.base;
	default: return 0;
	}
}

static void svm_code_regs(struct vcpu *v, struct guest_code_regs *c)
{
	const struct vmcb_save *g = &vmcb_of(v)->save;
	*c = (struct guest_code_regs){
		.cr0 = g->cr0, .cr3 = g->cr3, .cr4 = g->cr4, .efer = svm_get_cr(v, VREG_EFER),
		.cs_base = g->cs.base, .cs_bits = svm_cs_size(v), .cpl = g->cpl,
	};
}

static void svm_inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
	vmcb_of(v)->ctl.event_inj = vector | SVM_EVTINJ_TYPE_EXC | SVM_EVTINJ_VALID |
				    (has_error ? SVM_EVTINJ_EV | ((uint64_t)error << 32) : 0);
}

static void svm_inject_irq(struct vcpu *v, uint8_t vector)
{
	vmcb_of(v)->ctl.event_inj = vector | SVM_EVTINJ_TYPE_INTR | SVM_EVTINJ_VALID;
}

static bool svm_irq_window_open(struct vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	/* Nested: L1's GIF closes it; an interrupt L1 intercepts is an exit
	 * to L1, not an injection into L2 (nsvm.c). */
	if (s->nested && !nsvm_irq_injectable(v))
		return false;
	struct vmcb *vm = vmcb_of(v);
	/* The interrupt shadow ends once RIP has moved past the exiting
	 * instruction (svm_vcpu_run clears it then). */
	bool shadow = (vm->ctl.int_state & 1) && vm->save.rip == v->rip;
	return (v->rflags & (1u << 9)) && !shadow && !(vm->ctl.event_inj & SVM_EVTINJ_VALID);
}

/* APM 15.21.4: a virtual interrupt with V_IGN_TPR exits (VINTR) as soon as
 * the guest could take an interrupt. */
static void svm_request_irq_window(struct vcpu *v, bool on)
{
	struct svm_vcpu *s = v->arch;
	struct vmcb *vm = vmcb_of(v);
	if (on && s->nested && nsvm_irq_window_nested(v))
		return;
	if (on) {
		vm->ctl.vintr |= SVM_VINTR_V_IRQ | SVM_VINTR_V_IGN_TPR;
		vm->ctl.intercept_misc1 |= SVM_INTERCEPT_VINTR;
	} else {
		vm->ctl.vintr &= ~(SVM_VINTR_V_IRQ | SVM_VINTR_V_IGN_TPR);
		vm->ctl.intercept_misc1 &= ~SVM_INTERCEPT_VINTR;
	}
}

static void svm_dump(struct vcpu *v)
{
	struct vmcb *vm = vmcb_of(v);
	const struct vmcb_save *g = &vm->save;
	log_err("  exit %#lx info1 %#lx info2 %#lx intinfo %#lx", vm->ctl.exit_code,
		vm->ctl.exit_info1, vm->ctl.exit_info2, vm->ctl.exit_int_info);
	log_err("  RIP %#lx RSP %#lx RFLAGS %#lx CPL %u CS %04x/%#x", g->rip, g->rsp, g->rflags,
		g->cpl, g->cs.selector, g->cs.attrib);
	log_err("  CR0 %#lx CR3 %#lx CR4 %#lx EFER %#lx CR2 %#lx", g->cr0, g->cr3, g->cr4, g->efer, g->cr2);
	log_err("  RAX %#lx RBX %#lx RCX %#lx RDX %#lx", g->rax, v->gpr[RBX], v->gpr[RCX], v->gpr[RDX]);
}

/* The state an AP starts in after INIT-SIPI (SDM 9.1.1 table 9-1 "IA-32
 * processor states following power-up, reset, or INIT"; APM 14.1.3):
 * real mode, CS = vector << 8, IP = 0. */
static void svm_reset_for_sipi(struct vcpu *v, uint8_t vector)
{
	struct vmcb *vm = vmcb_of(v);
	struct vmcb_save *g = &vm->save;
	set_seg(&g->cs, (uint16_t)(vector << 8), 0x9b, 0xffff, (uint64_t)vector << 12);
	set_seg(&g->ds, 0, 0x93, 0xffff, 0);
	g->es = g->ss = g->fs = g->gs = g->ds;
	set_seg(&g->gdtr, 0, 0, 0xffff, 0);
	set_seg(&g->idtr, 0, 0, 0xffff, 0);
	set_seg(&g->ldtr, 0, 0x82, 0xffff, 0);
	set_seg(&g->tr, 0, 0x8b, 0xffff, 0);
	g->cr0 = 0x60000010; /* CD, NW, ET */
	g->cr2 = 0;
	g->cr3 = 0;
	g->cr4 = 0;
	g->efer = EFER_SVME;
	g->cpl = 0;
	g->dr6 = 0xffff0ff0;
	g->dr7 = 0x400;
	vm->ctl.event_inj = 0;
	vm->ctl.int_state = 0;
	memset(v->gpr, 0, sizeof(v->gpr));
	v->rip = 0;
	v->rflags = 0x2;
	v->halted = false;
}

static void svm_set_long_mode_boot(struct vcpu *v, uint64_t cr3)
{
	struct vmcb_save *g = &vmcb_of(v)->save;
	set_seg(&g->cs, 0x08, 0xa9b, 0xffffffff, 0); /* 64-bit code: L = 1, D = 0 */
	g->cr0 = CR0_PG | CR0_PE | (1u << 4) | CR0_NE;
	g->cr4 = CR4_PAE;
	g->cr3 = cr3;
	g->efer = EFER_SVME | EFER_LME | (1ull << 10) /* LMA */;
}

static bool svm_nmi_window_open(struct vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	struct vmcb *vm = s->vmcb;
	if (s->nested && !nsvm_nmi_injectable(v))
		return false;
	if (s->nmi_blocked && !(vm->ctl.intercept_misc1 & SVM_INTERCEPT_IRET) && v->rip != s->iret_rip)
		s->nmi_blocked = false; /* the handler's IRET has completed */
	return !s->nmi_blocked && !(vm->ctl.int_state & 1) && !(vm->ctl.event_inj & SVM_EVTINJ_VALID);
}

static void svm_inject_nmi(struct vcpu *v)
{
	struct svm_vcpu *s = v->arch;
	s->vmcb->ctl.event_inj = 2 | SVM_EVTINJ_TYPE_NMI | SVM_EVTINJ_VALID;
	s->nmi_blocked = true;
	s->vmcb->ctl.intercept_misc1 |= SVM_INTERCEPT_IRET;
}

/* No NMI-window intercept on SVM: come back soon and look again. */
static void svm_request_nmi_window(struct vcpu *v, bool on)
{
	struct svm_vcpu *s = v->arch;
	if (on && s->nested && nsvm_nmi_window_nested(v))
		return;
	if (on) {
		uint64_t soon = rdtsc() + tsc_khz() / 10; /* 100 us */
		if (soon < v->run_until)
			v->run_until = soon;
	}
}

static void svm_report(struct vcpu *v)
{
	if (((struct svm_vcpu *)v->arch)->nested)
		nsvm_report(v);
}

const struct vcpu_ops svm_ops = {
	.report = svm_report,
	.nmi_window_open = svm_nmi_window_open,
	.inject_nmi = svm_inject_nmi,
	.request_nmi_window = svm_request_nmi_window,
	.set_long_mode_boot = svm_set_long_mode_boot,
	.reset_for_sipi = svm_reset_for_sipi,
	.name = "SVM",
	.hw_enable = svm_hw_enable,
	.vcpu_create = svm_vcpu_create,
	.vcpu_run = svm_vcpu_run,
	.get_cr = svm_get_cr,
	.set_cr = svm_set_cr,
	.guest_cpl = svm_guest_cpl,
	.guest_long_mode = svm_long_mode,
	.guest_cs_size = svm_cs_size,
	.seg_base = svm_seg_base,
	.code_regs = svm_code_regs,
	.inject_exception = svm_inject_exception,
	.inject_irq = svm_inject_irq,
	.irq_window_open = svm_irq_window_open,
	.request_irq_window = svm_request_irq_window,
	.dump = svm_dump,
};
