/*
 * Nested-page faults: a guest access to a guest-physical address that NPT01
 * / EPT01 does not map.  RAM is mapped up front, so what arrives here is an
 * emulated device page or a hole.  Without decode assists (QEMU TCG) the
 * only way to know what the guest did is to fetch its instruction through
 * its own page tables and decode it (arch/x86/decode.c).
 *
 * Holes behave like an empty bus: reads return all-ones, writes are
 * dropped; both logged once per VM so a misbehaving guest cannot flood the
 * console.
 */
#include <string.h>
#include "kernel/platform.h"
#include "kernel/log.h"
#include "kernel/guest_insn.h"
#include "arch/x86/traps.h"
#include "mm/gwalk.h"
#include "kernel/vintr.h"
#include "kernel/virtio_l0.h"

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t device_read(struct vcpu *v, uint64_t gpa, unsigned size)
{
	struct vm *vm = v->vm;
	uint64_t val = 0;
	if (vintr_mmio(v, gpa, size, false, &val) == 0)
		return val;
	if (vm_ioapic_mmio(vm, gpa, size, false, &val) == 0)
		return val;
	if (virtio_l0_mmio(vm, gpa, size, false, &val) == 0)
		return val & size_mask(size);
	if (!vm->logged_hole_read) {
		vm->logged_hole_read = true;
		log_warn("vm %s: read of unassigned guest-physical %#lx: all-ones (logged once)",
			 vm->cfg->name, gpa);
	}
	return size_mask(size);
}

static void device_write(struct vcpu *v, uint64_t gpa, unsigned size, uint64_t val)
{
	struct vm *vm = v->vm;
	if (vintr_mmio(v, gpa, size, true, &val) == 0)
		return;
	if (vm_ioapic_mmio(vm, gpa, size, true, &val) == 0)
		return;
	if (virtio_l0_mmio(vm, gpa, size, true, &val) == 0)
		return;
	if (!vm->logged_hole_write) {
		vm->logged_hole_write = true;
		log_warn("vm %s: write %#lx to unassigned guest-physical %#lx: dropped (logged once)",
			 vm->cfg->name, val, gpa);
	}
}

/* One element of a string instruction at a linear address: RAM through
 * gmem, anything else through the device path. */
static enum gva_result linear_access(struct vcpu *v, uint64_t la, unsigned size, bool write, uint64_t *val)
{
	struct gwalk_regs regs;
	guest_walk_regs(v, &regs);
	struct gwalk_result w;
	unsigned access = (write ? GW_WRITE : 0) | (vcpu_ops->guest_cpl(v) == 3 ? GW_USER : 0);
	int f = gwalk(v->mem, &regs, la, access, &w);
	if (f == 1) {
		vcpu_ops->set_cr(v, 2, la);
		vcpu_ops->inject_exception(v, VEC_PF, true, w.pf_error);
		return GVA_PAGE_FAULT;
	}
	if (f) {
		/* The guest's page tables lie outside its RAM (or the address is
		 * not canonical): nothing sensible to emulate. */
		vm_end(v->vm, -1, "string MMIO through page tables outside RAM");
		return GVA_NOT_RAM;
	}
	const struct gmem_range *r = gmem_lookup(v->mem, w.gpa);
	if (r && r->kind == GMEM_RAM) {
		int bad = write ? gmem_write(v->mem, w.gpa, val, size) : gmem_read(v->mem, w.gpa, val, size);
		if (bad)
			vm_end(v->vm, -1, "string MMIO element straddles the end of RAM");
		return bad ? GVA_NOT_RAM : GVA_OK;
	}
	if (write)
		device_write(v, w.gpa, size, *val & size_mask(size));
	else
		*val = device_read(v, w.gpa, size);
	return GVA_OK;
}

/* Write a loaded value into a GPR with the x86 rules: 32-bit results zero
 * the upper half, 8/16-bit results keep the rest (SDM vol. 1 3.4.1.1). */
static void write_reg(struct vcpu *v, int reg, bool high8, unsigned size, uint64_t val)
{
	if (high8) {
		v->gpr[reg] = (v->gpr[reg] & ~0xff00ull) | ((val & 0xff) << 8);
		return;
	}
	if (size == 4)
		v->gpr[reg] = (uint32_t)val;
	else if (size == 8)
		v->gpr[reg] = val;
	else
		v->gpr[reg] = (v->gpr[reg] & ~size_mask(size)) | (val & size_mask(size));
}

static uint64_t read_reg(struct vcpu *v, int reg, bool high8)
{
	return high8 ? (v->gpr[reg] >> 8) & 0xff : v->gpr[reg];
}

static bool string_op(struct vcpu *v, const struct x86_insn *insn, const struct mmio_access *a)
{
	uint64_t amask = size_mask(insn->addrsize);
	uint64_t count = a->rep ? (v->gpr[RCX] & amask) : 1;
	int64_t step = (v->rflags & (1u << 10)) ? -(int64_t)a->size : (int64_t)a->size;
	uint64_t es = vcpu_ops->seg_base(v, 0);
	uint64_t src_seg = vcpu_ops->seg_base(v, insn->seg >= 0 ? insn->seg : 3);
	bool lm = vcpu_ops->guest_cs_size(v) == 64;

	for (; count; count--) {
		uint64_t val = v->gpr[RAX];
		if (a->op == MMIO_MOVS) {
			uint64_t src = src_seg + (v->gpr[RSI] & amask);
			if (linear_access(v, lm ? src : (uint32_t)src, a->size, false, &val))
				return false;
			v->gpr[RSI] = (v->gpr[RSI] & ~amask) | ((v->gpr[RSI] + (uint64_t)step) & amask);
		}
		uint64_t dst = es + (v->gpr[RDI] & amask);
		if (linear_access(v, lm ? dst : (uint32_t)dst, a->size, true, &val))
			return false;
		v->gpr[RDI] = (v->gpr[RDI] & ~amask) | ((v->gpr[RDI] + (uint64_t)step) & amask);
		if (a->rep)
			v->gpr[RCX] = (v->gpr[RCX] & ~amask) | ((v->gpr[RCX] - 1) & amask);
	}
	return true;
}

bool mmio_exit(struct vcpu *v, const struct vm_exit *e)
{
	struct vm *vm = v->vm;
	uint64_t gpa = e->npf.gpa;
	const struct gmem_range *r = gmem_lookup(&vm->mem, gpa);
	v->stats.by_kind[EXIT_MMIO]++;
	v->stats.by_level[exit_level(e->level)][EXIT_MMIO]++;
	if (r && r->kind == GMEM_RAM) {
		log_err("vm %s: nested page fault on RAM at %#lx (NPT01 should map it)", vm->cfg->name, gpa);
		vcpu_ops->dump(v);
		vm_end(vm, -1, "unexpected nested page fault on RAM");
		return false;
	}
	if (e->npf.fetch) {
		log_err("vm %s: instruction fetch from non-RAM guest-physical %#lx", vm->cfg->name, gpa);
		vcpu_ops->dump(v);
		vm_end(vm, -1, "executing outside RAM");
		return false;
	}
	struct x86_insn insn;
	struct mmio_access a;
	int d = guest_decode_at_rip(v, &insn);
	if (d || x86_decode_mmio(&insn, &a)) {
		log_err("vm %s: cannot emulate the instruction at RIP %#lx touching %#lx", vm->cfg->name, v->rip, gpa);
		vcpu_ops->dump(v);
		vm_end(vm, -1, "unsupported MMIO instruction");
		return false;
	}
	uint64_t val;
	switch (a.op) {
	case MMIO_LOAD:
		write_reg(v, a.reg, a.reg_high8, a.size, device_read(v, gpa, a.size));
		break;
	case MMIO_LOAD_ZX:
		write_reg(v, a.reg, false, a.dst_size, device_read(v, gpa, a.size));
		break;
	case MMIO_LOAD_SX: {
		uint64_t raw = device_read(v, gpa, a.size);
		unsigned shift = 64 - 8 * a.size;
		write_reg(v, a.reg, false, a.dst_size, (uint64_t)((int64_t)(raw << shift) >> shift));
		break;
	}
	case MMIO_STORE:
		val = a.reg >= 0 ? read_reg(v, a.reg, a.reg_high8) : a.imm;
		device_write(v, gpa, a.size, val & size_mask(a.size));
		break;
	case MMIO_STOS:
	case MMIO_MOVS:
		if (!string_op(v, &insn, &a))
			return vm->state == VM_RUNNING; /* fault injected: retry after the handler */
		break;
	}
	v->rip += insn.len;
	if (vcpu_ops->guest_cs_size(v) != 64)
		v->rip &= 0xffffffffu;
	return true;
}
