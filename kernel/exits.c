/*
 * The exit handlers common to both vendors (DESIGN.md principle 2): the
 * backend decoded the exit into a struct vm_exit; here we emulate what the
 * guest asked for and advance its RIP, or give it the architectural answer
 * (#GP, #UD), or end its VM.  Nothing here knows VMCB from VMCS.
 */
#include <string.h>
#include "kernel/vcpu.h"
#include "kernel/log.h"
#include "kernel/cpuid_view.h"
#include "kernel/guest_insn.h"
#include "kernel/platform.h"
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "arch/x86/traps.h"

#define VEC_UD 6

/* The opcode bytes of the instruction behind each exit kind that needs
 * its length (SDM vol. 2 / APM vol. 3 opcode tables), by kind; the
 * hypercall's depends on the vendor (VMMCALL 0F 01 D9, VMCALL 0F 01 C1). */
static const struct { uint8_t len; uint8_t op[3]; } exit_opcodes[EXIT_KIND_COUNT] = {
	[EXIT_CPUID] = { 2, { 0x0f, 0xa2 } },
	[EXIT_MSR_READ] = { 2, { 0x0f, 0x32 } },
	[EXIT_MSR_WRITE] = { 2, { 0x0f, 0x30 } },
	[EXIT_HLT] = { 1, { 0xf4 } },
	[EXIT_INVD] = { 2, { 0x0f, 0x08 } },
};

static bool advance(struct vcpu *v, const struct vm_exit *e)
{
	unsigned len = e->insn_len;
	if (!len) {
		static const uint8_t vmmcall[3] = { 0x0f, 0x01, 0xd9 }, vmcall[3] = { 0x0f, 0x01, 0xc1 };
		const uint8_t *op = exit_opcodes[e->kind].op;
		unsigned op_len = exit_opcodes[e->kind].len;
		if (e->kind == EXIT_HYPERCALL)
			op = vcpu_ops == &svm_ops ? vmmcall : vmcall, op_len = 3;
		len = guest_exiting_insn_len(v, op, op_len);
		if (!len) {
			vm_end(v->vm, -1, "cannot fetch or decode the exiting instruction");
			return false;
		}
	}
	/* A 16/32-bit guest's RIP wraps at its operand size; keep it in range
	 * (asked only when the sum leaves the low 4 GiB, a rare event). */
	uint64_t next = v->rip + len;
	if (((next ^ v->rip) >> 32) && vcpu_ops->guest_cs_size(v) != 64)
		next &= 0xffffffffu;
	v->rip = next;
	return true;
}

static void inject_gp(struct vcpu *v) { vcpu_ops->inject_exception(v, VEC_GP, true, 0); }
static void inject_ud(struct vcpu *v) { vcpu_ops->inject_exception(v, VEC_UD, false, 0); }

static void set_gpr32(struct vcpu *v, enum gpr r, uint32_t val) { v->gpr[r] = val; }

static bool handle_cpuid(struct vcpu *v, struct vm_exit *e)
{
	uint32_t leaf = (uint32_t)v->gpr[RAX], sub = (uint32_t)v->gpr[RCX];
	struct cpuid_regs h = cpuid(leaf, sub);
	struct cpuid_guest g = {
		.vcpu_index = v->index, .nvcpus = v->vm->nvcpus, .nested = v->vm->cfg->nested,
		.x2apic = true, .tsc_khz = (uint32_t)tsc_khz(), .bus_khz = (uint32_t)(lapic_timer_khz() * 16),
	};
	struct cpuid_out o = cpuid_guest_view(&g, leaf, sub, (struct cpuid_out){ h.eax, h.ebx, h.ecx, h.edx });
	set_gpr32(v, RAX, o.eax);
	set_gpr32(v, RBX, o.ebx);
	set_gpr32(v, RCX, o.ecx);
	set_gpr32(v, RDX, o.edx);
	return advance(v, e);
}

static bool handle_msr(struct vcpu *v, struct vm_exit *e)
{
	uint32_t msr = e->msr.msr;
	if (e->kind == EXIT_MSR_READ) {
		uint64_t val;
		if (msr_read(v, msr, &val)) {
			log_debug("vm %s: rdmsr %#x: #GP", v->vm->cfg->name, msr);
			inject_gp(v);
			return true;
		}
		set_gpr32(v, RAX, (uint32_t)val);
		set_gpr32(v, RDX, (uint32_t)(val >> 32));
	} else {
		uint64_t val = (v->gpr[RDX] << 32) | (uint32_t)v->gpr[RAX];
		if (msr_write(v, msr, val)) {
			log_debug("vm %s: wrmsr %#x <- %#lx: #GP", v->vm->cfg->name, msr, val);
			inject_gp(v);
			return true;
		}
	}
	return advance(v, e);
}

static bool handle_io(struct vcpu *v, struct vm_exit *e)
{
	if (e->io.string) {
		if (!io_string(v, e))
			return true; /* a fault was injected, or the VM ended */
		return v->vm->state == VM_RUNNING ? advance(v, e) : false;
	}
	uint32_t mask = e->io.size == 4 ? 0xffffffffu : (1u << (8 * e->io.size)) - 1;
	if (e->io.in) {
		uint32_t val = pio_read(v, e->io.port, e->io.size) & mask;
		/* IN to AL/AX keeps the other bits; IN to EAX zero-extends (SDM IN). */
		v->gpr[RAX] = e->io.size == 4 ? val : (v->gpr[RAX] & ~(uint64_t)mask) | val;
	} else {
		pio_write(v, e->io.port, e->io.size, (uint32_t)v->gpr[RAX] & mask);
	}
	if (v->vm->state != VM_RUNNING)
		return false;
	return advance(v, e);
}

static bool handle_hypercall(struct vcpu *v, struct vm_exit *e)
{
	if (vcpu_ops->guest_cpl(v) != 0) {
		inject_ud(v);
		return true;
	}
	v->gpr[RAX] = (uint64_t)hypercall(v, v->gpr[RAX], v->gpr[RBX], v->gpr[RCX], v->gpr[RDX]);
	if (v->vm->state != VM_RUNNING)
		return false;
	return advance(v, e);
}

bool handle_exit(struct vcpu *v, struct vm_exit *e)
{
	unsigned l = exit_level(e->level);
	v->stats.total++;
	v->stats.by_kind[e->kind]++;
	v->stats.level_total[l]++;
	v->stats.by_level[l][e->kind]++;
	if (v->reasons)
		exit_reasons_on_exit(v->reasons, e->level, (uint32_t)e->reason, v->exit_tsc);
	switch (e->kind) {
	case EXIT_CPUID:
		return handle_cpuid(v, e);
	case EXIT_MSR_READ:
	case EXIT_MSR_WRITE:
		return handle_msr(v, e);
	case EXIT_IO:
		return handle_io(v, e);
	case EXIT_HYPERCALL:
		return handle_hypercall(v, e);
	case EXIT_NPF:
		return mmio_exit(v, e);
	case EXIT_HLT:
		if (!advance(v, e))
			return false;
		v->halted = true;
		return true;
	case EXIT_INTR:
		/* A physical interrupt for L0 (e.g. its timer): let it in, then resume. */
		sti();
		__asm__ volatile("nop");
		cli();
		return true;
	case EXIT_INVD:
		/* INVD would throw away dirty cache lines that may be L0's: it is
		 * intercepted and done as a no-op, which is what a cache-coherent
		 * virtual machine can tell apart from it (nothing). */
		return advance(v, e);
	case EXIT_TIMER:
		return true; /* L0's deadline: the run loop looks at timers and slices */
	case EXIT_NESTED:
		return v->vm->state == VM_RUNNING; /* the backend's nested code did it all */
	case EXIT_NMI_WINDOW:
		vcpu_ops->request_nmi_window(v, false);
		return true;
	case EXIT_IRQ_WINDOW:
		vcpu_ops->request_irq_window(v, false);
		return true;
	case EXIT_SHUTDOWN:
		log_err("vm %s: vCPU %u shut down (triple fault); state:", v->vm->cfg->name, v->index);
		vcpu_ops->dump(v);
		vm_end(v->vm, -1, "triple fault");
		return false;
	case EXIT_INVALID:
		log_err("vm %s: vCPU %u: VM entry failed (invalid guest state); state:", v->vm->cfg->name, v->index);
		vcpu_ops->dump(v);
		vm_end(v->vm, -1, "invalid guest state");
		return false;
	case EXIT_EXCEPTION:
		/* No exception is intercepted but #MC: a machine check is the host's problem. */
		panic("vm %s: exception %u exit while the guest ran", v->vm->cfg->name, e->exc.vector);
	case EXIT_CR:
		if (vcpu_ops->emulate_cr && vcpu_ops->emulate_cr(v, e))
			return true;
		vm_end(v->vm, -1, "unexpected control-register access exit");
		return false;
	case EXIT_MMIO:
	case EXIT_OTHER:
	default:
		/* SVM/VMX instructions, MONITOR/MWAIT, XSETBV...: not offered to
		 * this guest, so #UD as on a CPU without them. */
		log_debug("vm %s: exit %#lx -> #UD", v->vm->cfg->name, e->reason);
		inject_ud(v);
		return true;
	}
}
