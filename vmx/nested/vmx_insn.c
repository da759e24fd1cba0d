/*
 * vmx_insn: the emulated VMX instructions.  See vmx/nested/vmx_insn.h.
 * Each function follows the "Operation" section of its instruction in
 * SDM vol. 3C chapter 31 (31.3 "VMX Instructions"), quoted briefly.
 */
#include "vmx/nested/vmx_insn.h"

#include <string.h>

#include "vmx/nested/vmcs12.h"

#define CR0_PE          (1ull << 0)
#define CR4_VMXE        (1ull << 13)
#define CR4_LA57        (1ull << 12)
#define FC_LOCK         (1ull << 0)
#define FC_VMXON_OUTSIDE_SMX (1ull << 2)
#define BASIC_PA32      (1ull << 48)    /* IA32_VMX_BASIC: 32-bit addresses */
#define PROC2_EPT       (1u << 1)
#define PROC2_VPID      (1u << 5)
#define PROC2_SHADOW    (1u << 14)
#define EPT_INVVPID_ADDR    (1ull << 40)
#define EPT_INVVPID_SINGLE  (1ull << 41)
#define EPT_INVVPID_ALL     (1ull << 42)
#define EPT_INVVPID_SINGLE_NG (1ull << 43)

void nvmx_state_init(struct nvmx_state *st)
{
	memset(st, 0, sizeof *st);
	st->current = NVMX_NO_VMCS;
}

/* ---- SDM 31.2 "Conventions" ---- */

static struct nvmx_result result(enum nvmx_outcome o, uint64_t rflags)
{
	struct nvmx_result r;

	memset(&r, 0, sizeof r);
	r.outcome = o;
	r.rflags = rflags;
	return r;
}

struct nvmx_result nvmx_succeed(uint64_t rflags)
{
	return result(NVMX_SUCCEED, rflags & ~NVMX_RFLAGS_ARITH);
}

struct nvmx_result nvmx_fail_invalid(uint64_t rflags)
{
	return result(NVMX_FAIL_INVALID, (rflags & ~NVMX_RFLAGS_ARITH) | NVMX_RFLAGS_CF);
}

struct nvmx_result nvmx_fail(struct nvmx_state *st, uint64_t rflags, uint32_t error)
{
	struct nvmx_result r;

	if (st->current == NVMX_NO_VMCS)
		return nvmx_fail_invalid(rflags);
	r = result(NVMX_FAIL_VALID, (rflags & ~NVMX_RFLAGS_ARITH) | NVMX_RFLAGS_ZF);
	r.error = error;
	vmcs_set(&st->vmcs12, VMCS_VM_INSTRUCTION_ERROR, error);
	return r;
}

static struct nvmx_result fault(enum nvmx_outcome o, uint64_t rflags)
{
	return result(o, rflags);       /* RFLAGS unchanged */
}

/* ---- common checks ---- */

static bool fixed_ok(uint64_t v, uint64_t fixed0, uint64_t fixed1)
{
	return (v & fixed0) == fixed0 && (v & ~fixed1) == 0;
}

static bool needs_memory_operand(enum nvmx_insn insn)
{
	switch (insn) {
	case NVMX_VMXON: case NVMX_VMCLEAR: case NVMX_VMPTRLD: case NVMX_VMPTRST:
	case NVMX_INVEPT: case NVMX_INVVPID:
		return true;
	default:
		return false;
	}
}

enum nvmx_outcome nvmx_insn_precheck(const struct nvmx_state *st, const struct nvmx_cpu *cpu,
				     const struct vmx_caps *caps, enum nvmx_insn insn,
				     bool reg_operand)
{
	uint32_t proc2 = vmx_ctl_allowed1(caps->procbased2);

	/* "IF (register operand) or (not in VMX operation) or (CR0.PE = 0) or
	 *  (RFLAGS.VM = 1) or (IA32_EFER.LMA = 1 and CS.L = 0) THEN #UD" */
	if (reg_operand && needs_memory_operand(insn))
		return NVMX_INJECT_UD;
	if (cpu->mode == NVMX_MODE_REAL || cpu->mode == NVMX_MODE_V86 ||
	    cpu->mode == NVMX_MODE_COMPAT || !(cpu->cr0 & CR0_PE) ||
	    (cpu->rflags & NVMX_RFLAGS_VM))
		return NVMX_INJECT_UD;
	if (insn == NVMX_VMXON) {
		/* VMXON: "(CR4.VMXE = 0) ... THEN #UD" */
		if (!(cpu->cr4 & CR4_VMXE))
			return NVMX_INJECT_UD;
		if (!st->vmxon) {
			/* "IF (CPL > 0) or (in A20M mode) or (the values of CR0
			 *  and CR4 are not supported in VMX operation) or (bit 0
			 *  (lock bit) of IA32_FEATURE_CONTROL is clear) or
			 *  (outside SMX operation and bit 2 ... is clear)
			 *  THEN #GP(0)" */
			if (cpu->cpl > 0 ||
			    !fixed_ok(cpu->cr0, caps->cr0_fixed0, caps->cr0_fixed1) ||
			    !fixed_ok(cpu->cr4, caps->cr4_fixed0, caps->cr4_fixed1) ||
			    !(cpu->feature_control & FC_LOCK) ||
			    !(cpu->feature_control & FC_VMXON_OUTSIDE_SMX))
				return NVMX_INJECT_GP0;
			return NVMX_SUCCEED;
		}
	} else if (!st->vmxon) {
		return NVMX_INJECT_UD;
	}
	/* INVEPT: "#UD if the logical processor does not support EPTs, or
	 * supports EPTs but not INVEPT"; INVVPID likewise for VPIDs. */
	if (insn == NVMX_INVEPT &&
	    (!(proc2 & PROC2_EPT) || !(caps->ept_vpid & VMX_EPT_INVEPT)))
		return NVMX_INJECT_UD;
	if (insn == NVMX_INVVPID &&
	    (!(proc2 & PROC2_VPID) || !(caps->ept_vpid & VMX_VPID_INVVPID)))
		return NVMX_INJECT_UD;
	/* "ELSIF CPL > 0 THEN #GP(0)" */
	if (cpu->cpl > 0)
		return NVMX_INJECT_GP0;
	return NVMX_SUCCEED;
}

/* Physical-address width for VMX pointers: MAXPHYADDR, or 32 when
 * IA32_VMX_BASIC bit 48 is advertised (A.1). */
static unsigned pa_width(const struct nvmx_cpu *cpu, const struct vmx_caps *caps)
{
	unsigned w = cpu->maxphyaddr;

	if (w < 32 || w > 52)
		w = 52;
	if ((caps->basic & BASIC_PA32) && w > 32)
		w = 32;
	return w;
}

/* "addr is not 4KB-aligned or addr sets any bits beyond the physical-
 * address width" */
static bool vmx_ptr_ok(const struct nvmx_cpu *cpu, const struct vmx_caps *caps, uint64_t addr)
{
	return (addr & 0xfffull) == 0 && (addr >> pa_width(cpu, caps)) == 0;
}

static bool mode64(const struct nvmx_cpu *cpu)
{
	return cpu->mode == NVMX_MODE_64;
}

/* Write the cached current vmcs12 back to L1 memory (best effort: the
 * region was RAM when it was loaded). */
static void flush_current(struct nvmx_state *st, const struct gmem *l1)
{
	if (st->current != NVMX_NO_VMCS)
		(void)vmcs12_store(l1, st->current, &st->vmcs12, st->launched);
}

#define PRECHECK(insn, reg) do {                                                  \
		enum nvmx_outcome o_ = nvmx_insn_precheck(st, cpu, caps, (insn), (reg)); \
		if (o_ != NVMX_SUCCEED)                                           \
			return fault(o_, cpu->rflags);                            \
	} while (0)

/* ---- VMXON (31.3 "VMXON-Enter VMX Operation") ---- */

struct nvmx_result nvmx_vmxon(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			      const struct vmx_caps *caps, const struct gmem *l1,
			      bool reg_operand, uint64_t ptr)
{
	uint32_t rev;

	PRECHECK(NVMX_VMXON, reg_operand);
	/* "ELSE VMfail("VMXON executed in VMX root operation")" */
	if (st->vmxon)
		return nvmx_fail(st, cpu->rflags, VMXERR_VMXON_IN_ROOT);
	/* "IF addr is not 4KB-aligned or ... beyond the physical-address
	 *  width THEN VMfailInvalid" */
	if (!vmx_ptr_ok(cpu, caps, ptr))
		return nvmx_fail_invalid(cpu->rflags);
	/* "rev := 32 bits located at physical address addr; IF rev[30:0] !=
	 *  VMCS revision identifier supported by processor OR rev[31] = 1
	 *  THEN VMfailInvalid" (and Nestor: not in L1 RAM -> VMfailInvalid) */
	if (vmcs12_read_revision(l1, ptr, &rev) != 0 ||
	    (rev & 0x7fffffffu) != VMX_BASIC_REVISION(caps->basic) ||
	    (rev & VMCS12_SHADOW_INDICATOR))
		return nvmx_fail_invalid(cpu->rflags);
	/* "current-VMCS pointer := FFFFFFFF_FFFFFFFFH; enter VMX operation" */
	st->vmxon = true;
	st->vmxon_ptr = ptr;
	st->current = NVMX_NO_VMCS;
	st->launched = false;
	st->shadow = false;
	return nvmx_succeed(cpu->rflags);
}

/* ---- VMXOFF (31.3 "VMXOFF-Leave VMX Operation") ---- */

struct nvmx_result nvmx_vmxoff(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			       const struct vmx_caps *caps, const struct gmem *l1)
{
	PRECHECK(NVMX_VMXOFF, false);
	/* Dual-monitor treatment (error 23) is never active under Nestor.
	 * The SDM asks software to VMCLEAR first; the cached vmcs12 is
	 * written back anyway so that nothing L1 wrote is lost. */
	flush_current(st, l1);
	st->vmxon = false;
	st->current = NVMX_NO_VMCS;
	st->launched = false;
	st->shadow = false;
	return nvmx_succeed(cpu->rflags);
}

/* ---- VMCLEAR (31.3 "VMCLEAR-Clear Virtual-Machine Control Structure") ---- */

struct nvmx_result nvmx_vmclear(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, const struct gmem *l1,
				bool reg_operand, uint64_t ptr)
{
	PRECHECK(NVMX_VMCLEAR, reg_operand);
	if (!vmx_ptr_ok(cpu, caps, ptr))
		return nvmx_fail(st, cpu->rflags, VMXERR_VMCLEAR_INVALID_ADDR);
	if (ptr == st->vmxon_ptr)
		return nvmx_fail(st, cpu->rflags, VMXERR_VMCLEAR_VMXON_PTR);
	/* "ensure that data for VMCS referenced by the operand is in memory;
	 *  launch state := clear; IF operand addr = current-VMCS pointer THEN
	 *  current-VMCS pointer := FFFFFFFF_FFFFFFFFH" */
	if (ptr == st->current) {
		if (vmcs12_store(l1, ptr, &st->vmcs12, false) != 0)
			return nvmx_fail(st, cpu->rflags, VMXERR_VMCLEAR_INVALID_ADDR);
		st->current = NVMX_NO_VMCS;
		st->launched = false;
		st->shadow = false;
	} else if (vmcs12_set_launch_state(l1, ptr, false) != 0) {
		return nvmx_fail(st, cpu->rflags, VMXERR_VMCLEAR_INVALID_ADDR);
	}
	return nvmx_succeed(cpu->rflags);
}

/* ---- VMPTRLD (31.3 "VMPTRLD-Load Pointer to Virtual-Machine Control
 * Structure") ---- */

struct nvmx_result nvmx_vmptrld(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, const struct gmem *l1,
				bool reg_operand, uint64_t ptr)
{
	uint32_t rev;
	bool launched;

	PRECHECK(NVMX_VMPTRLD, reg_operand);
	if (!vmx_ptr_ok(cpu, caps, ptr))
		return nvmx_fail(st, cpu->rflags, VMXERR_VMPTRLD_INVALID_ADDR);
	if (ptr == st->vmxon_ptr)
		return nvmx_fail(st, cpu->rflags, VMXERR_VMPTRLD_VMXON_PTR);
	if (vmcs12_read_revision(l1, ptr, &rev) != 0)
		return nvmx_fail(st, cpu->rflags, VMXERR_VMPTRLD_INVALID_ADDR);
	/* "IF rev[30:0] != VMCS revision identifier supported by processor OR
	 *  rev[31] = 1 AND processor does not support 1-setting of "VMCS
	 *  shadowing" THEN VMfail(incorrect VMCS revision identifier)" */
	if ((rev & 0x7fffffffu) != VMX_BASIC_REVISION(caps->basic) ||
	    ((rev & VMCS12_SHADOW_INDICATOR) &&
	     !(vmx_ctl_allowed1(caps->procbased2) & PROC2_SHADOW)))
		return nvmx_fail(st, cpu->rflags, VMXERR_VMPTRLD_BAD_REVISION);
	if (ptr != st->current) {
		struct vmcs_image *img = &st->vmcs12;

		flush_current(st, l1);
		if (vmcs12_load(l1, ptr, img, &launched) != 0)
			return nvmx_fail(st, cpu->rflags, VMXERR_VMPTRLD_INVALID_ADDR);
		st->current = ptr;
		st->launched = launched;
	}
	st->shadow = (rev & VMCS12_SHADOW_INDICATOR) != 0;
	return nvmx_succeed(cpu->rflags);
}

/* ---- VMPTRST (31.3 "VMPTRST-Store Pointer to Virtual-Machine Control
 * Structure") ---- */

struct nvmx_result nvmx_vmptrst(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, bool reg_operand)
{
	struct nvmx_result r;

	PRECHECK(NVMX_VMPTRST, reg_operand);
	/* "m64 := current-VMCS pointer; VMsucceed" */
	r = nvmx_succeed(cpu->rflags);
	r.value = st->current;
	r.value_bytes = 8;
	return r;
}

/* ---- VMREAD / VMWRITE (31.3) ---- */

struct nvmx_result nvmx_vmread(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			       const struct vmx_caps *caps, uint64_t enc)
{
	struct nvmx_result r;
	uint64_t v = 0;
	uint32_t err;

	PRECHECK(NVMX_VMREAD, false);
	/* "ELSIF (in VMX root operation AND current-VMCS pointer is not
	 *  valid) ... THEN VMfailInvalid" */
	if (st->current == NVMX_NO_VMCS)
		return nvmx_fail_invalid(cpu->rflags);
	if (!mode64(cpu))
		enc &= 0xffffffffull;   /* 32-bit operand size */
	/* "ELSIF (register operand) does not correspond to any VMCS field
	 *  THEN VMfailValid(VMREAD/VMWRITE from/to unsupported VMCS
	 *  component)" */
	err = vmcs12_vmread(&st->vmcs12, caps, enc, &v);
	if (err)
		return nvmx_fail(st, cpu->rflags, err);
	/* "DEST := contents of field": truncated to the operand size */
	r = nvmx_succeed(cpu->rflags);
	r.value_bytes = mode64(cpu) ? 8 : 4;
	r.value = mode64(cpu) ? v : (v & 0xffffffffull);
	return r;
}

struct nvmx_result nvmx_vmwrite(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, uint64_t enc, uint64_t val)
{
	uint32_t err;

	PRECHECK(NVMX_VMWRITE, false);
	if (st->current == NVMX_NO_VMCS)
		return nvmx_fail_invalid(cpu->rflags);
	if (!mode64(cpu)) {
		enc &= 0xffffffffull;
		val &= 0xffffffffull;   /* a 32-bit source, zero-extended */
	}
	/* "ELSIF VMCS field indexed by (register operand) is read-only and
	 *  IA32_VMX_MISC[29] = 0 THEN VMfailValid(VMWRITE to read-only VMCS
	 *  component)" -- after the "unsupported" check */
	err = vmcs12_vmwrite(&st->vmcs12, caps, enc, val);
	if (err)
		return nvmx_fail(st, cpu->rflags, err);
	return nvmx_succeed(cpu->rflags);
}

/* ---- VMLAUNCH / VMRESUME (31.3; 27.1 "Basic VM-Entry Checks") ---- */

struct nvmx_result nvmx_vmentry(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, bool launch)
{
	PRECHECK(launch ? NVMX_VMLAUNCH : NVMX_VMRESUME, false);
	/* "ELSIF current-VMCS pointer is not valid THEN VMfailInvalid" (27.1:
	 * also when the current VMCS is a shadow VMCS) */
	if (st->current == NVMX_NO_VMCS || st->shadow)
		return nvmx_fail_invalid(cpu->rflags);
	/* "ELSIF events are being blocked by MOV SS THEN VMfailValid(VM entry
	 *  with events blocked by MOV SS)" */
	if (cpu->movss_blocking)
		return nvmx_fail(st, cpu->rflags, VMXERR_ENTRY_MOV_SS_BLOCKING);
	/* "ELSIF (VMLAUNCH and launch state of current VMCS is not "clear")
	 *  THEN VMfailValid(VMLAUNCH with non-clear VMCS)" */
	if (launch && st->launched)
		return nvmx_fail(st, cpu->rflags, VMXERR_VMLAUNCH_NONCLEAR);
	/* "ELSIF (VMRESUME and launch state of current VMCS is not
	 *  "launched") THEN VMfailValid(VMRESUME with non-launched VMCS)" */
	if (!launch && !st->launched)
		return nvmx_fail(st, cpu->rflags, VMXERR_VMRESUME_NONLAUNCHED);
	/* "ELSE Check settings in the VMCS..." (the caller: vmx_check_entry) */
	return fault(NVMX_ENTER, cpu->rflags);
}

void nvmx_entry_done(struct nvmx_state *st)
{
	st->launched = true;
}

/* ---- INVEPT / INVVPID (31.3) ---- */

bool nvmx_eptp_valid(const struct vmx_caps *caps, uint64_t eptp, unsigned maxphyaddr)
{
	unsigned mt = eptp & 7, walk = (eptp >> 3) & 7;

	if (maxphyaddr < 32 || maxphyaddr > 52)
		maxphyaddr = 52;
	if (!((mt == 0 && (caps->ept_vpid & VMX_EPT_MT_UC)) ||
	      (mt == 6 && (caps->ept_vpid & VMX_EPT_MT_WB))))
		return false;
	if (!((walk == 3 && (caps->ept_vpid & VMX_EPT_WALK_4)) ||
	      (walk == 4 && (caps->ept_vpid & VMX_EPT_WALK_5))))
		return false;
	if ((eptp & (1ull << 6)) && !(caps->ept_vpid & VMX_EPT_AD))
		return false;
	if (eptp & 0xf80ull)                    /* bits 11:7 */
		return false;
	return (eptp >> maxphyaddr) == 0;
}

static uint64_t type_operand(const struct nvmx_cpu *cpu, uint64_t type)
{
	return mode64(cpu) ? type : (type & 0xffffffffull);
}

struct nvmx_result nvmx_invept(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			       const struct vmx_caps *caps, bool reg_operand,
			       uint64_t type, const uint64_t desc[2])
{
	struct nvmx_result r;

	PRECHECK(NVMX_INVEPT, reg_operand);
	type = type_operand(cpu, type);
	/* "IF IA32_VMX_EPT_VPID_CAP MSR indicates that processor does not
	 *  support INVEPT_TYPE THEN VMfail(Invalid operand to INVEPT/INVVPID)" */
	if (!((type == 1 && (caps->ept_vpid & VMX_EPT_INVEPT_SINGLE)) ||
	      (type == 2 && (caps->ept_vpid & VMX_EPT_INVEPT_ALL))))
		return nvmx_fail(st, cpu->rflags, VMXERR_INVALID_INVEPT_INVVPID);
	if (type == 1) {
		/* "IF INVEPT_DESC[63:0] is not a valid EPTP (26.2.1.1) THEN
		 *  VMfail(Invalid operand to INVEPT/INVVPID)" */
		if (!nvmx_eptp_valid(caps, desc[0], cpu->maxphyaddr))
			return nvmx_fail(st, cpu->rflags, VMXERR_INVALID_INVEPT_INVVPID);
		r = nvmx_succeed(cpu->rflags);
		r.flush = NVMX_FLUSH_EPT_SINGLE;
		r.eptp = desc[0];
		return r;
	}
	r = nvmx_succeed(cpu->rflags);
	r.flush = NVMX_FLUSH_EPT_ALL;
	return r;
}

static bool canonical(uint64_t a, bool la57)
{
	unsigned bits = la57 ? 57 : 48;
	int64_t s = (int64_t)(a << (64 - bits)) >> (64 - bits);

	return (uint64_t)s == a;
}

struct nvmx_result nvmx_invvpid(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, bool reg_operand,
				uint64_t type, const uint64_t desc[2])
{
	static const uint64_t type_cap[4] = {
		EPT_INVVPID_ADDR, EPT_INVVPID_SINGLE, EPT_INVVPID_ALL, EPT_INVVPID_SINGLE_NG
	};
	static const enum nvmx_flush type_flush[4] = {
		NVMX_FLUSH_VPID_ADDR, NVMX_FLUSH_VPID_SINGLE, NVMX_FLUSH_VPID_ALL,
		NVMX_FLUSH_VPID_SINGLE_NG
	};
	struct nvmx_result r;
	uint16_t vpid = (uint16_t)desc[0];

	PRECHECK(NVMX_INVVPID, reg_operand);
	type = type_operand(cpu, type);
	if (type > 3 || !(caps->ept_vpid & type_cap[type]))
		return nvmx_fail(st, cpu->rflags, VMXERR_INVALID_INVEPT_INVVPID);
	/* "IF INVVPID_DESC[63:16] != 0 THEN VMfail(Invalid operand...)" */
	if (desc[0] >> 16)
		return nvmx_fail(st, cpu->rflags, VMXERR_INVALID_INVEPT_INVVPID);
	/* individual-address: "IF INVVPID_DESC[15:0] = 0000H THEN VMfail...
	 * ELSE IF INVVPID_DESC[127:64] is not in canonical form THEN VMfail";
	 * single-context (with or without globals): "IF INVVPID_DESC[15:0] =
	 * 0000H THEN VMfail" */
	if (type != 2 && vpid == 0)
		return nvmx_fail(st, cpu->rflags, VMXERR_INVALID_INVEPT_INVVPID);
	if (type == 0 && !canonical(desc[1], (cpu->cr4 & CR4_LA57) != 0))
		return nvmx_fail(st, cpu->rflags, VMXERR_INVALID_INVEPT_INVVPID);
	r = nvmx_succeed(cpu->rflags);
	r.flush = type_flush[type];
	r.vpid = vpid;
	r.gla = type == 0 ? desc[1] : 0;
	return r;
}

/* ---- instruction information (28.2.5) ---- */

bool nvmx_decode_insn_info(uint32_t info, uint64_t qual, struct nvmx_operand *op)
{
	static const unsigned addr_bits[4] = { 16, 32, 64, 0 };

	memset(op, 0, sizeof *op);
	op->scale = 1u << (info & 3u);
	op->reg1 = (info >> 3) & 15u;
	op->addr_bits = addr_bits[(info >> 7) & 3u];
	op->is_reg = (info >> 10) & 1u;
	op->seg = (info >> 15) & 7u;
	op->index = (info >> 18) & 15u;
	op->has_index = !((info >> 22) & 1u);
	op->base = (info >> 23) & 15u;
	op->has_base = !((info >> 27) & 1u);
	op->reg2 = (info >> 28) & 15u;
	op->disp = qual;
	if (((info >> 7) & 7u) > 2)     /* bits 9:7: 0, 1, 2 only */
		return false;
	if (!op->is_reg && op->seg > NVMX_SEG_GS)
		return false;
	return true;
}

uint64_t nvmx_operand_offset(const struct nvmx_operand *op, const uint64_t gpr[16])
{
	uint64_t off = op->disp;

	if (op->has_base)
		off += gpr[op->base & 15u];
	if (op->has_index)
		off += gpr[op->index & 15u] * op->scale;
	if (op->addr_bits == 16)
		off &= 0xffffull;
	else if (op->addr_bits == 32)
		off &= 0xffffffffull;
	return off;
}

uint64_t nvmx_operand_linear(const struct nvmx_operand *op, const uint64_t gpr[16],
			     uint64_t seg_base, bool is64)
{
	uint64_t la = seg_base + nvmx_operand_offset(op, gpr);

	return is64 ? la : (la & 0xffffffffull);
}
