#include <string.h>
#include "kernel/vintr.h"
#include "kernel/guest_insn.h"
#include "kernel/vcpu.h"
#include "kernel/log.h"
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/traps.h"

#define RFLAGS_IF (1u << 9)

static void note_ipi(void *ctx, uint32_t dest, uint8_t shorthand, uint8_t mode,
		     uint8_t vector, bool logical, bool level, bool assert);
static void flush_ipi(struct vcpu *v);
/* A level-triggered EOI (the LAPIC calls this under the vCPU's irq_lock):
 * noted here, told to the IOAPIC once the lock is dropped (flush_eois),
 * because the IOAPIC may deliver again — possibly to this very vCPU. */
static void lapic_eoi_cb(void *ctx, uint8_t vector)
{
	struct vcpu *v = ctx;
	v->eoi_pending[vector / 32] |= 1u << (vector % 32);
}

static void flush_eois(struct vcpu *v)
{
	for (unsigned w = 0; w < 8; w++) {
		uint32_t bits = __atomic_exchange_n(&v->eoi_pending[w], 0, __ATOMIC_ACQ_REL);
		while (bits) {
			unsigned b = (unsigned)__builtin_ctz(bits);
			bits &= bits - 1;
			spin_lock(&v->vm->dev_lock);
			vioapic_eoi(&v->vm->ioapic, (uint8_t)(w * 32 + b));
			spin_unlock(&v->vm->dev_lock);
		}
	}
}

static void ioapic_deliver(void *ctx, uint8_t dest, bool logical, uint8_t mode, uint8_t vector, bool level)
{
	vintr_deliver(ctx, dest, logical, mode, vector, level);
}

static const struct vioapic_ops ioapic_ops = { .deliver = ioapic_deliver };

/* The date a VM's RTC starts at: Nestor has no wall clock of its own
 * (L0 reads no RTC), so a fixed one, 2026-01-01 00:00:00 UTC. */
#define VM_RTC_EPOCH 1767225600ull

void vm_platform_init(struct vm *vm)
{
	vioapic_init(&vm->ioapic, VIOAPIC_DEFAULT_BASE, (uint8_t)vm->nvcpus, &ioapic_ops, vm);
	vpic_init(&vm->pic);
	vpit_reset(&vm->pit);
	vrtc_reset(&vm->rtc, VM_RTC_EPOCH);
	vm->created_tsc = rdtsc();
}

void vm_set_irq(struct vm *vm, unsigned gsi, bool asserted)
{
	spin_lock(&vm->dev_lock);
	vioapic_set_irq(&vm->ioapic, gsi, asserted);
	if (gsi < 16)
		vpic_set_irq(&vm->pic, gsi, asserted);
	spin_unlock(&vm->dev_lock);
}

/* The IOAPIC page (called with no vCPU lock held). */
int vm_ioapic_mmio(struct vm *vm, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	if (gpa < vm->ioapic.base || gpa >= vm->ioapic.base + VIOAPIC_MMIO_SIZE)
		return -1;
	uint32_t off = (uint32_t)(gpa - vm->ioapic.base), v32 = (uint32_t)*val;
	spin_lock(&vm->dev_lock);
	int r = write ? vioapic_mmio_write(&vm->ioapic, off, size, v32)
		      : vioapic_mmio_read(&vm->ioapic, off, size, &v32);
	spin_unlock(&vm->dev_lock);
	if (!write)
		*val = v32;
	if (r)
		log_debug("vm %s: IOAPIC %s of %u bytes at offset %#x ignored", vm->cfg->name,
			  write ? "write" : "read", size, off);
	return 0;
}

static const struct vlapic_ops lapic_ops = { .send_ipi = note_ipi, .eoi = lapic_eoi_cb };

void vintr_vcpu_init(struct vcpu *v)
{
	struct vlapic_config c = {
		.apic_id = v->index, .bsp = v->index == 0, .x2apic = true,
		.phys_addr_bits = 36, .tsc_hz = tsc_khz() * 1000, .bus_hz = lapic_timer_khz() * 16 * 1000,
		.ops = &lapic_ops, .ctx = v,
	};
	vlapic_init(&v->lapic, &c);
	v->pending_sipi = -1;
}

void vintr_kick(struct vcpu *v)
{
	if (v->pcpu != this_cpu()->index)
		lapic_send_ipi(percpu_area[v->pcpu].apic_id, VEC_IPI_WAKE);
}

/* Deliver to one vCPU: IRR bit under its lock, then make it look. */
static void accept(struct vcpu *t, uint8_t vector, bool level)
{
	spin_lock(&t->irq_lock);
	vlapic_accept(&t->lapic, vector, level);
	spin_unlock(&t->irq_lock);
	vintr_kick(t);
}

static bool is_target(struct vcpu *self, struct vcpu *t, uint32_t dest, uint8_t shorthand, bool logical)
{
	switch (shorthand) {
	case 1: return t == self;                       /* self */
	case 2: return true;                            /* all including self */
	case 3: return t != self;                       /* all excluding self */
	default: return vlapic_match_dest(&t->lapic, dest, logical);
	}
}

/*
 * The guest wrote its ICR (SDM 11.6.1).  The LAPIC calls this under the
 * sender's irq_lock, but delivering takes each target's irq_lock: two
 * vCPUs sending each other IPIs at the same moment would take the two
 * locks in opposite orders and spin forever (Linux on 2 vCPUs did, now
 * and then: docs/linux-guests.md).  So the IPI is only noted here and
 * sent by flush_ipi once the lock is dropped, as flush_eois does for
 * EOIs.  One ICR write sends one IPI: one slot is enough.
 */
static void note_ipi(void *ctx, uint32_t dest, uint8_t shorthand, uint8_t mode,
		     uint8_t vector, bool logical, bool level, bool assert)
{
	struct vcpu *self = ctx;
	if (self->ipi_pending.valid)
		log_warn("vm %s: vCPU %u: two IPIs in one LAPIC access: the first is lost",
			 self->vm->cfg->name, self->index);
	self->ipi_pending.dest = dest;
	self->ipi_pending.shorthand = shorthand;
	self->ipi_pending.mode = mode;
	self->ipi_pending.vector = vector;
	self->ipi_pending.logical = logical;
	self->ipi_pending.level = level;
	self->ipi_pending.assert = assert;
	self->ipi_pending.valid = true;
}

/* Deliver an IPI to the matching vCPUs; no irq_lock held. */
static void send_ipi(struct vcpu *self, uint32_t dest, uint8_t shorthand, uint8_t mode,
		     uint8_t vector, bool logical, bool level, bool assert)
{
	struct vm *vm = self->vm;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *t = &vm->vcpu[i];
		if (!is_target(self, t, dest, shorthand, logical))
			continue;
		switch (mode) {
		case 0: /* fixed */
		case 1: /* lowest priority: the first match will do */
			accept(t, vector, level);
			if (mode == 1)
				return;
			break;
		case 4: /* NMI */
			__atomic_store_n(&t->pending_nmi, true, __ATOMIC_RELEASE);
			vintr_kick(t);
			break;
		case 5: /* INIT; a level de-assert INIT only resynchronises arbitration IDs */
			if (!level || assert) {
				__atomic_store_n(&t->pending_init, true, __ATOMIC_RELEASE);
				vintr_kick(t);
			}
			break;
		case 6: /* STARTUP */
			__atomic_store_n(&t->pending_sipi, vector, __ATOMIC_RELEASE);
			vintr_kick(t);
			break;
		default:
			log_warn("vm %s: vCPU %u sent an IPI with delivery mode %u: not modelled",
				 vm->cfg->name, self->index, mode);
			break;
		}
	}
}

/* Send the IPI the last LAPIC access noted (the sender's lock is dropped). */
static void flush_ipi(struct vcpu *v)
{
	if (!v->ipi_pending.valid)
		return;
	v->ipi_pending.valid = false;
	send_ipi(v, v->ipi_pending.dest, v->ipi_pending.shorthand, v->ipi_pending.mode,
		 v->ipi_pending.vector, v->ipi_pending.logical, v->ipi_pending.level,
		 v->ipi_pending.assert);
}

void vintr_deliver(struct vm *vm, uint32_t dest, bool logical, uint8_t mode, uint8_t vector, bool level)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *t = &vm->vcpu[i];
		if (!vlapic_match_dest(&t->lapic, dest, logical))
			continue;
		if (mode == 0 || mode == 1)
			accept(t, vector, level);
		if (mode == 1)
			return;
	}
}

bool vintr_runnable(struct vcpu *v)
{
	/* A halted L2 wakes when L1's VMX-preemption timer expires: the
	 * timer counts in HLT and its exit ends the halt (SDM 26.5.1). */
	if (v->halted && v->nested_deadline != UINT64_MAX && rdtsc() >= v->nested_deadline)
		v->halted = false;
	return !v->halted && !v->lapic.wait_for_sipi;
}

/* Only the owner CPU changes the timer state (MMIO, MSRs, updates), so the
 * owner reads it without the lock. */
uint64_t vintr_next_deadline(struct vcpu *v)
{
	uint64_t d = vlapic_timer_deadline(&v->lapic);
	return v->nested_deadline < d ? v->nested_deadline : d;
}

static bool irr_empty(const struct vlapic *l)
{
	uint32_t any = 0;
	for (unsigned i = 0; i < 8; i++)
		any |= __atomic_load_n(&l->irr[i], __ATOMIC_RELAXED);
	return !any;
}

void vintr_before_entry(struct vcpu *v)
{
	/* The common case on the exit path: nothing sent, nothing requested,
	 * no timer due — no lock.  An interrupt another CPU accepts after this
	 * look comes with a kick (IPI), which makes the guest exit again. */
	bool init = __atomic_load_n(&v->pending_init, __ATOMIC_ACQUIRE);
	bool sipi = __atomic_load_n(&v->pending_sipi, __ATOMIC_ACQUIRE) >= 0;
	bool nmi = __atomic_load_n(&v->pending_nmi, __ATOMIC_ACQUIRE);
	if (!init && !sipi && !nmi && !v->lapic.wait_for_sipi && irr_empty(&v->lapic) &&
	    rdtsc() < vlapic_timer_deadline(&v->lapic))
		return;
	if (init && __atomic_exchange_n(&v->pending_init, false, __ATOMIC_ACQ_REL)) {
		spin_lock(&v->irq_lock);
		vlapic_init_reset(&v->lapic);
		spin_unlock(&v->irq_lock);
		v->halted = false;
	}
	int vec = sipi ? __atomic_exchange_n(&v->pending_sipi, -1, __ATOMIC_ACQ_REL) : -1;
	if (vec >= 0) {
		spin_lock(&v->irq_lock);
		bool start = vlapic_sipi(&v->lapic, (uint8_t)vec);
		spin_unlock(&v->irq_lock);
		if (start) {
			vcpu_ops->reset_for_sipi(v, (uint8_t)vec);
			log_debug("vm %s: vCPU %u started at %#x:0000", v->vm->cfg->name, v->index, vec << 8);
		}
	}
	if (v->lapic.wait_for_sipi)
		return;
	/* An NMI goes first (SDM 6.9 priority) and wakes HLT whatever IF says;
	 * while NMIs are blocked (handler running), wait for the NMI window. */
	bool injected = false;
	if (nmi) {
		v->halted = false;
		if (vcpu_ops->nmi_window_open(v)) {
			__atomic_store_n(&v->pending_nmi, false, __ATOMIC_RELEASE);
			vcpu_ops->inject_nmi(v);
			injected = true;
		} else {
			vcpu_ops->request_nmi_window(v, true);
		}
	}
	spin_lock(&v->irq_lock);
	vlapic_timer_update(&v->lapic, rdtsc());
	vec = vlapic_pending(&v->lapic);
	if (vec >= 0 && injected) {
		vcpu_ops->request_irq_window(v, true); /* one event per entry */
	} else if (vec >= 0) {
		/* HLT ends when an interrupt can be taken (SDM vol. 2 HLT). */
		if (v->halted && (v->rflags & RFLAGS_IF))
			v->halted = false;
		if (!v->halted) {
			if (vcpu_ops->irq_window_open(v)) {
				/* An interrupt delivered just before a HLT would
				 * return to it and halt for good (the STI; HLT
				 * idiom).  Deliver it as the CPU does when it
				 * wakes a HLT: after it.  That is what happens on
				 * hardware, where STI's shadow covers the HLT; QEMU's
				 * SVM was seen to let L0 inject right at the HLT
				 * (docs/emulators.md). */
				if (v->rflags & RFLAGS_IF && guest_rip_at_hlt(v))
					v->rip += 1;
				vcpu_ops->inject_irq(v, (uint8_t)vec);
				vlapic_ack(&v->lapic, (uint8_t)vec);
			} else {
				vcpu_ops->request_irq_window(v, true);
			}
		}
	}
	spin_unlock(&v->irq_lock);
}

int vintr_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	uint64_t base = vlapic_mmio_base(&v->lapic);
	if (gpa < base || gpa >= base + 4096)
		return -1;
	spin_lock(&v->irq_lock);
	int r;
	if (write) {
		r = vlapic_mmio_write(&v->lapic, (uint32_t)(gpa - base), size, rdtsc(), (uint32_t)*val);
	} else {
		uint32_t v32 = 0;
		r = vlapic_mmio_read(&v->lapic, (uint32_t)(gpa - base), size, rdtsc(), &v32);
		*val = v32;
	}
	spin_unlock(&v->irq_lock);
	flush_ipi(v);
	flush_eois(v);
	if (r == VLAPIC_IGNORED)
		log_debug("vm %s: LAPIC %s of %u bytes at offset %#lx ignored", v->vm->cfg->name,
			  write ? "write" : "read", size, gpa - base);
	return r == VLAPIC_NOT_DECODED ? -1 : 0;
}

int vintr_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val, bool *handled)
{
	int r = 0;
	*handled = true;
	spin_lock(&v->irq_lock);
	if (msr == MSR_IA32_APIC_BASE)
		*val = v->lapic.apic_base;
	else if (msr == MSR_IA32_TSC_DEADLINE)
		*val = vlapic_get_tsc_deadline(&v->lapic);
	else if (msr >= X2APIC_MSR_FIRST && msr <= X2APIC_MSR_LAST)
		r = vlapic_msr_read(&v->lapic, msr, rdtsc(), val);
	else
		*handled = false;
	spin_unlock(&v->irq_lock);
	flush_ipi(v);
	flush_eois(v);
	return r;
}

int vintr_msr_write(struct vcpu *v, uint32_t msr, uint64_t val, bool *handled)
{
	int r = 0;
	*handled = true;
	spin_lock(&v->irq_lock);
	if (msr == MSR_IA32_APIC_BASE)
		r = vlapic_set_apic_base(&v->lapic, val);
	else if (msr == MSR_IA32_TSC_DEADLINE)
		vlapic_set_tsc_deadline(&v->lapic, rdtsc(), val);
	else if (msr >= X2APIC_MSR_FIRST && msr <= X2APIC_MSR_LAST)
		r = vlapic_msr_write(&v->lapic, msr, rdtsc(), val);
	else
		*handled = false;
	spin_unlock(&v->irq_lock);
	flush_ipi(v);
	flush_eois(v);
	return r;
}
