/*
 * vmx_insn: what the VMX instructions L1 executes do, as pure decisions
 * (SDM vol. 3C chapter 31 "VMX Instruction Reference"; 30.x in editions
 * before 2022).
 *
 * L1 runs in VMX non-root operation under L0, so every VMX instruction it
 * executes exits to L0 (SDM 26.1.2 "Instructions That Cause VM Exits
 * Unconditionally").  L0 must then do what a CPU in VMX *root* operation
 * would have done for L1.  The caller (the thin edge in vmx/) decodes the
 * exit, fetches the operands (a register, or memory through L1's page
 * tables with mm/gwalk.h, using nvmx_decode_insn_info() below to find the
 * address), and calls one function here with
 *
 *   - struct nvmx_state: the vCPU's nested VMX state, which the functions
 *     update (in VMX operation?  VMXON pointer, current-VMCS pointer, the
 *     cached current vmcs12 and its launch state);
 *   - struct nvmx_cpu: L1's registers at the instruction (CPL, mode, CR0,
 *     CR4, EFER, RFLAGS, MOV-SS blocking, IA32_FEATURE_CONTROL);
 *   - the capabilities Nestor advertises to L1 (struct vmx_caps) and L1's
 *     memory map (mm/gmem.h) for the VMCS regions.
 *
 * It returns a struct nvmx_result: one of the architectural outcomes
 *
 *   NVMX_SUCCEED       VMsucceed: CF PF AF ZF SF OF cleared   (SDM 31.2)
 *   NVMX_FAIL_INVALID  VMfailInvalid: CF set, the others cleared
 *   NVMX_FAIL_VALID    VMfailValid(n): ZF set, the others cleared, and n
 *                      written to the current vmcs12's VM-instruction
 *                      error field (done here, in st->vmcs12)
 *   NVMX_INJECT_UD     the instruction faults: inject #UD, RIP unchanged
 *   NVMX_INJECT_GP0    inject #GP(0), RIP unchanged
 *   NVMX_ENTER         VMLAUNCH/VMRESUME passed the instruction checks:
 *                      run vmx_check_entry() on st->vmcs12, then merge
 *                      (vmx/nested/vmcs02_merge.h)
 *
 * with the RFLAGS value to install (SUCCEED/FAIL_*), and for VMREAD and
 * VMPTRST the value to store.  For SUCCEED and FAIL_* the caller advances
 * RIP past the instruction.
 *
 * SDM 31.2 "VMfail": an error "VMfail(n)" is VMfailValid(n) when there is
 * a current VMCS and VMfailInvalid otherwise; nvmx_fail() applies it.
 *
 * The ordering of checks follows each instruction's "Operation" pseudo-code
 * in chapter 31: #UD conditions, then (non-root: VM exit — not relevant,
 * L1 is root from its own point of view), then CPL > 0 -> #GP(0), then the
 * VMfail conditions.  Because a memory operand must not be fetched before
 * the #UD/#GP checks (a #PF on the fetch would be the wrong fault), the
 * caller calls nvmx_insn_precheck() before fetching; every function here
 * repeats it, so calling it twice is harmless.
 *
 * Not modelled: SMX/SMM (dual-monitor treatment: VMXOFF never fails with
 * 23), A20M, Intel PT, VMX non-root semantics for L1's own guest (L3: a
 * VMREAD of L2 through a shadow VMCS is emulated by L1, not here).
 * Decisions Nestor takes where the SDM leaves the result to the memory
 * system (DESIGN.md principle 4):
 *   - VMXON/VMPTRLD of a region not in L1 RAM: its revision id cannot be
 *     read; VMXON gives VMfailInvalid, VMPTRLD VMfail(9 "invalid address");
 *   - VMCLEAR of a region not in L1 RAM: VMfail(2).
 *
 * Pure code over plain data.  Tested in tests/unit/test_nvmx_insn.c.
 */
#ifndef NESTOR_VMX_NESTED_VMX_INSN_H
#define NESTOR_VMX_NESTED_VMX_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_caps.h"

#define NVMX_NO_VMCS (~0ull)     /* the current-VMCS pointer when invalid */

/* The vCPU's nested VMX state (one per L1 vCPU). */
struct nvmx_state {
	bool vmxon;                  /* in VMX operation */
	uint64_t vmxon_ptr;          /* VMXON region (L1 GPA) */
	uint64_t current;            /* current-VMCS pointer, or NVMX_NO_VMCS */
	bool launched;               /* launch state of the current vmcs12 */
	bool shadow;                 /* current has the shadow-VMCS indicator */
	struct vmcs_image vmcs12;    /* cached current vmcs12 (valid iff current
					!= NVMX_NO_VMCS) */
};

enum nvmx_mode {
	NVMX_MODE_REAL,              /* CR0.PE = 0 */
	NVMX_MODE_V86,               /* RFLAGS.VM = 1 */
	NVMX_MODE_PROT,              /* legacy protected mode (EFER.LMA = 0) */
	NVMX_MODE_COMPAT,            /* IA-32e, CS.L = 0 */
	NVMX_MODE_64,                /* IA-32e, CS.L = 1 */
};

/* L1's processor state at the instruction. */
struct nvmx_cpu {
	unsigned cpl;
	enum nvmx_mode mode;
	uint64_t cr0, cr4, efer, rflags;
	bool movss_blocking;         /* interruptibility bit 1 (VMLAUNCH: 26) */
	uint64_t feature_control;    /* IA32_FEATURE_CONTROL as L1 sees it */
	unsigned maxphyaddr;         /* L1's physical-address width */
};

enum nvmx_outcome {
	NVMX_SUCCEED,
	NVMX_FAIL_INVALID,
	NVMX_FAIL_VALID,
	NVMX_INJECT_UD,
	NVMX_INJECT_GP0,
	NVMX_ENTER,
};

/* What INVEPT/INVVPID ask L0 to flush (NVMX_SUCCEED only). */
enum nvmx_flush {
	NVMX_FLUSH_NONE,
	NVMX_FLUSH_EPT_SINGLE,       /* EPT02 built from EPTP12 'eptp' */
	NVMX_FLUSH_EPT_ALL,          /* every EPT02 of this L1 */
	NVMX_FLUSH_VPID_ADDR,        /* VPID02 of 'vpid', linear address 'gla' */
	NVMX_FLUSH_VPID_SINGLE,      /* VPID02 of 'vpid' */
	NVMX_FLUSH_VPID_ALL,         /* every VPID02 of this L1 (not VPID 0) */
	NVMX_FLUSH_VPID_SINGLE_NG,   /* 'vpid', retaining global translations */
};

struct nvmx_result {
	enum nvmx_outcome outcome;
	uint32_t error;              /* FAIL_VALID: VM-instruction error */
	uint64_t rflags;             /* SUCCEED / FAIL_*: RFLAGS to install */
	uint64_t value;              /* VMREAD: value for the destination;
					VMPTRST: the pointer to store */
	unsigned value_bytes;        /* 4 or 8 (VMREAD), 8 (VMPTRST), else 0 */
	enum nvmx_flush flush;       /* INVEPT / INVVPID */
	uint64_t eptp;
	uint16_t vpid;
	uint64_t gla;
};

/* RFLAGS bits of SDM 31.2. */
#define NVMX_RFLAGS_CF (1ull << 0)
#define NVMX_RFLAGS_PF (1ull << 2)
#define NVMX_RFLAGS_AF (1ull << 4)
#define NVMX_RFLAGS_ZF (1ull << 6)
#define NVMX_RFLAGS_SF (1ull << 7)
#define NVMX_RFLAGS_OF (1ull << 11)
#define NVMX_RFLAGS_VM (1ull << 17)
#define NVMX_RFLAGS_ARITH (NVMX_RFLAGS_CF | NVMX_RFLAGS_PF | NVMX_RFLAGS_AF | \
			   NVMX_RFLAGS_ZF | NVMX_RFLAGS_SF | NVMX_RFLAGS_OF)

/* Initial state: not in VMX operation, no current VMCS. */
void nvmx_state_init(struct nvmx_state *st);

/* The three conventions of SDM 31.2 (VMfail(n) chooses Valid/Invalid). */
struct nvmx_result nvmx_succeed(uint64_t rflags);
struct nvmx_result nvmx_fail_invalid(uint64_t rflags);
struct nvmx_result nvmx_fail(struct nvmx_state *st, uint64_t rflags, uint32_t error);

/* Which instruction (VM-exit reasons, for the precheck). */
enum nvmx_insn {
	NVMX_VMXON, NVMX_VMXOFF, NVMX_VMCLEAR, NVMX_VMPTRLD, NVMX_VMPTRST,
	NVMX_VMREAD, NVMX_VMWRITE, NVMX_VMLAUNCH, NVMX_VMRESUME,
	NVMX_INVEPT, NVMX_INVVPID,
};

/*
 * The #UD and #GP(0) conditions common to the instruction's pseudo-code,
 * evaluated before any operand is fetched.  reg_operand: the instruction
 * information says the (memory-only) operand is a register (bit 10), which
 * is #UD for VMXON, VMCLEAR, VMPTRLD, VMPTRST, INVEPT, INVVPID.  Returns
 * NVMX_SUCCEED (meaning "go on") or NVMX_INJECT_UD / NVMX_INJECT_GP0.
 */
enum nvmx_outcome nvmx_insn_precheck(const struct nvmx_state *st, const struct nvmx_cpu *cpu,
				     const struct vmx_caps *caps, enum nvmx_insn insn,
				     bool reg_operand);

/* The instructions.  ptr/enc/val/type/desc are the fetched operands. */
struct nvmx_result nvmx_vmxon(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			      const struct vmx_caps *caps, const struct gmem *l1,
			      bool reg_operand, uint64_t ptr);
struct nvmx_result nvmx_vmxoff(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			       const struct vmx_caps *caps, const struct gmem *l1);
struct nvmx_result nvmx_vmclear(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, const struct gmem *l1,
				bool reg_operand, uint64_t ptr);
struct nvmx_result nvmx_vmptrld(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, const struct gmem *l1,
				bool reg_operand, uint64_t ptr);
struct nvmx_result nvmx_vmptrst(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, bool reg_operand);
/* enc: the encoding register (64 bits in 64-bit mode, else 32). */
struct nvmx_result nvmx_vmread(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			       const struct vmx_caps *caps, uint64_t enc);
/* val: the source operand (register or memory, 64 bits in 64-bit mode). */
struct nvmx_result nvmx_vmwrite(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, uint64_t enc, uint64_t val);
/* launch: VMLAUNCH (true) or VMRESUME (false).  NVMX_ENTER on success of
 * the instruction checks (SDM 27.1 "Basic VM-entry checks"). */
struct nvmx_result nvmx_vmentry(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, bool launch);
/* After a VM entry to L2 completed (VMLAUNCH): launch state := launched. */
void nvmx_entry_done(struct nvmx_state *st);
/* type: the register operand; desc: the 128-bit memory descriptor. */
struct nvmx_result nvmx_invept(struct nvmx_state *st, const struct nvmx_cpu *cpu,
			       const struct vmx_caps *caps, bool reg_operand,
			       uint64_t type, const uint64_t desc[2]);
struct nvmx_result nvmx_invvpid(struct nvmx_state *st, const struct nvmx_cpu *cpu,
				const struct vmx_caps *caps, bool reg_operand,
				uint64_t type, const uint64_t desc[2]);

/*
 * Is eptp a valid EPTP under caps (SDM 26.2.1.1, as INVEPT single-context
 * checks it): memory type UC/WB as advertised, walk length 4 (or 5 if
 * advertised), A/D only if advertised, bits 11:7 and maxphyaddr..63 zero.
 */
bool nvmx_eptp_valid(const struct vmx_caps *caps, uint64_t eptp, unsigned maxphyaddr);

/* ---- VM-exit instruction information (SDM 28.2.5 "Information for VM
 * Exits Due to Instruction Execution", tables "Format of the VM-Exit
 * Instruction-Information Field as Used for VMREAD and VMWRITE", "... for
 * INVEPT, INVPCID, INVVPID", "... for VMCLEAR, VMPTRLD, VMPTRST, VMXON,
 * XRSTORS, and XSAVES") ---- */

enum nvmx_seg { NVMX_SEG_ES, NVMX_SEG_CS, NVMX_SEG_SS, NVMX_SEG_DS, NVMX_SEG_FS,
		NVMX_SEG_GS };

struct nvmx_operand {
	bool is_reg;            /* bit 10: register operand (VMREAD/VMWRITE) */
	unsigned reg1;          /* bits 6:3: the register operand (VMREAD
				   destination / VMWRITE source), if is_reg */
	unsigned reg2;          /* bits 31:28: VMREAD/VMWRITE encoding register,
				   INVEPT/INVVPID type register */
	unsigned addr_bits;     /* bits 9:7: 16, 32 or 64 (0 if reserved) */
	unsigned scale;         /* bits 1:0: 1, 2, 4, 8 */
	unsigned seg;           /* bits 17:15: enum nvmx_seg */
	bool has_index;         /* bit 22 clear */
	unsigned index;         /* bits 21:18 */
	bool has_base;          /* bit 27 clear */
	unsigned base;          /* bits 26:23 */
	uint64_t disp;          /* the exit qualification (sign-extended
				   displacement) */
};

/*
 * Decode the instruction-information field and exit qualification of a
 * VMX-instruction exit.  Returns false if a reserved encoding appears
 * (address size 3, segment > 5).
 */
bool nvmx_decode_insn_info(uint32_t info, uint64_t qual, struct nvmx_operand *op);

/*
 * The memory operand's offset (base + index * scale + displacement,
 * truncated to the address size) and linear address (seg_base + offset;
 * truncated to 32 bits outside 64-bit mode, and in 64-bit mode the segment
 * base counts only for FS and GS, which the caller expresses by passing
 * 0 for the others).  gpr[16] in the order of the encoding (RAX=0 .. R15).
 */
uint64_t nvmx_operand_offset(const struct nvmx_operand *op, const uint64_t gpr[16]);
uint64_t nvmx_operand_linear(const struct nvmx_operand *op, const uint64_t gpr[16],
			     uint64_t seg_base, bool mode64);

#endif
