/*
 * decode: a pure x86 instruction decoder, and the MMIO layer built on it.
 *
 * Why the hypervisor needs one: QEMU TCG's SVM has neither nRIP save nor
 * decode assists (docs: shared/notes/emulators.md), so after an intercept
 * L0 must work out the length of the guest's instruction itself to advance
 * RIP, and on a nested-page fault in an emulated device page it must fetch
 * and decode the faulting instruction to learn what access it was.  Without
 * decode assists, a CR-access intercept doesn't name the GPR either; that
 * comes from modrm.rm (x86_insn.rm_reg).
 *
 * x86_decode() covers the whole general-purpose one-byte and two-byte maps
 * (Intel SDM vol. 2, appendix A, tables ), the 0F 38 / 0F 3A
 * three-byte maps, x87, 3DNow!, and VEX/EVEX-encoded instructions (for
 * their length).  It understands the instruction format of SDM vol. 2
 * chapter 2: legacy prefixes, REX, opcode, ModRM, SIB, displacement,
 * immediate, and the 16-bit ModRM addressing forms real-mode guests use.
 *
 * x86_decode_mmio() turns a decoded instruction into the one memory access
 * a device model needs to perform, for the move instructions compilers and
 * drivers use on device registers (see enum mmio_op).
 *
 * Pure code (DESIGN.md "Principles" 1): no allocation, no global mutable
 * state, no I/O.  Host-tested (tests/unit/test_decode.c) and fuzzed
 * (tests/fuzz/fuzz_decode.c).
 */
#ifndef NESTOR_ARCH_X86_DECODE_H
#define NESTOR_ARCH_X86_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The code segment the instruction is fetched through. */
enum x86_mode {
	X86_MODE_REAL16,  /* real mode (and virtual-8086): 16-bit, no VEX/EVEX */
	X86_MODE_PROT16,  /* protected or compatibility mode, CS.D = 0 */
	X86_MODE_PROT32,  /* protected or compatibility mode, CS.D = 1 */
	X86_MODE_LONG64,  /* 64-bit mode: IA32_EFER.LMA = 1 and CS.L = 1 */
};

/* Results of x86_decode(). */
#define X86_DECODE_OK          0
#define X86_DECODE_INVALID   (-1)  /* undefined, invalid in this mode, or > 15 bytes */
#define X86_DECODE_TRUNCATED (-2)  /* the bytes end before the instruction does */

#define X86_MAX_INSN_LEN 15        /* SDM vol. 2, 2.1.1 */

/* Segment register numbers, as in a segment-override prefix or Sreg field. */
enum x86_seg { X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS };

/* General-purpose register numbers (the 4-bit REX-extended encoding). */
enum x86_gpr {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
};

/*
 * x86_insn.opcode: which map and which opcode byte.
 *   0x00..0xff        one-byte map (table A-2)
 *   0x0f00 | op       two-byte map 0F (table A-3); 3DNow! is 0x0f0f with
 *                     its opcode suffix byte in imm
 *   0x0f3800 | op     three-byte map 0F 38 (table A-4)
 *   0x0f3a00 | op     three-byte map 0F 3A (table A-5)
 * VEX/EVEX instructions use the same numbering for their map (VEX.mmmmm 1,
 * 2, 3 = 0F, 0F 38, 0F 3A); EVEX maps 5 and 6 (AVX512-FP16) are 0x0f0500
 * | op and 0x0f0600 | op.  x86_insn.vex says which encoding was used.
 */
#define X86_OP_0F(op)   (0x0f00u | (op))
#define X86_OP_0F38(op) (0x0f3800u | (op))
#define X86_OP_0F3A(op) (0x0f3a00u | (op))

/* x86_insn.prefixes bits */
#define X86_PFX_LOCK     0x01
#define X86_PFX_REPNE    0x02   /* F2 seen */
#define X86_PFX_REP      0x04   /* F3 seen */
#define X86_PFX_OPSIZE   0x08   /* 66 seen */
#define X86_PFX_ADDRSIZE 0x10   /* 67 seen */
#define X86_PFX_SEG      0x20   /* any segment override seen (even one ignored in 64-bit mode) */

struct x86_insn {
	uint8_t len;        /* total length in bytes, 1..15 */
	uint8_t mode;       /* enum x86_mode it was decoded in */
	uint8_t opsize;     /* effective operand size: 1 for byte-operand opcodes,
	                     * else 2, 4 or 8 from the mode, 66h and REX.W; 8 for
	                     * the opcodes that default to 64-bit in 64-bit mode
	                     * (PUSH, POP, near branches: SDM 2.2.1.7) unless 66h */
	uint8_t addrsize;   /* effective address size: 2, 4 or 8 (mode and 67h) */
	uint8_t prefixes;   /* X86_PFX_* */
	uint8_t rep;        /* 0, 0xf3 (REP/REPE) or 0xf2 (REPNE): the last one seen */
	int8_t seg;         /* segment override (enum x86_seg) or -1; the last one
	                     * seen wins; in 64-bit mode ES/CS/SS/DS overrides are
	                     * ignored by the CPU and reported as -1 */
	uint8_t rex;        /* REX byte (0x40..0x4f) in effect, or 0 */
	uint8_t vex;        /* 0, or 0xc4 / 0xc5 (VEX) / 0x62 (EVEX) */
	uint32_t opcode;    /* see X86_OP_* above */

	bool has_modrm;
	uint8_t modrm;
	int8_t reg;         /* modrm.reg extended by REX.R (0..15), -1 without ModRM */
	int8_t rm_reg;      /* modrm.rm extended by REX.B when mod = 3 (or for
	                     * MOV CR/DR, which ignore mod), else -1: the register
	                     * operand, or an opcode extension as in 0F 01 D8 */

	/* The memory operand: ModRM with mod != 3, moffs (A0-A3), or the
	 * implicit rSI/rDI operand of a string instruction (for MOVS and CMPS
	 * the source, DS:rSI; their other operand is always ES:rDI). */
	bool mem;
	bool rip_relative;  /* 64-bit mode mod=00 rm=101: disp is relative to the
	                     * next instruction (rIP + len) */
	int8_t base_reg;    /* 0..15, or -1 (none) */
	int8_t index_reg;   /* 0..15, or -1 (none) */
	uint8_t scale;      /* 1, 2, 4, 8 (1 when there is no index) */
	int64_t disp;       /* sign-extended displacement; for moffs the
	                     * (zero-extended) absolute offset */

	bool has_imm;
	uint64_t imm;       /* the immediate: sign-extended to 64 bits where the
	                     * instruction sign-extends it (Iz, the Ib of 6A, 6B,
	                     * 83, rel8/rel16/rel32 branch displacements), else
	                     * zero-extended.  MOV r64, imm64 gives all 64 bits. */
	uint16_t imm2;      /* a second immediate: ENTER's nesting level (imm is
	                     * the frame size), a far pointer's selector (imm is
	                     * the offset), EXTRQ/INSERTQ's second imm8 */
};

/*
 * Decode the instruction at bytes[0..avail) as fetched in the given mode.
 *
 * Returns X86_DECODE_OK (0) and fills *out; X86_DECODE_TRUNCATED (-2) if
 * avail bytes are not enough to tell (fetch more, e.g. from the next page,
 * and call again); X86_DECODE_INVALID (-1) if the bytes can't start a valid
 * instruction: an opcode appendix A leaves undefined, one invalid in this
 * mode (e.g. PUSH ES or far JMP ptr16:32 in 64-bit mode), a group encoding
 * with no instruction (FE /2..7, FF /7, C6/C7 /1..6, 8F /1..7, which is
 * AMD's XOP), a VEX/EVEX prefix in real mode or after 66/F2/F3/LOCK/REX,
 * or a length above 15 bytes.  -1 never depends on bytes past the end of the
 * instruction or on avail: more bytes never turn -1 into something else.
 *
 * This is a length and operand decoder, not a validator of every encoding:
 * an opcode that is defined in its map is accepted even if it would fault
 * in context (privileged, needs a CPUID feature, LOCK where LOCK is not
 * allowed, a register form of a memory-only instruction), and the 0F 38 /
 * 0F 3A / VEX / EVEX maps are decoded by their uniform format (ModRM, plus
 * imm8 where the map or opcode has one) without checking the opcode is
 * assigned.  Where Intel and AMD differ in length, AMD's rule is used (the
 * platform without nRIP save is QEMU's AMD SVM): 66h shortens near branch
 * displacements to 16 bits in 64-bit mode, and 66/F2 0F 78 are SSE4a
 * EXTRQ/INSERTQ with two imm8 (no prefix: VMREAD).
 */
int x86_decode(const uint8_t *bytes, size_t avail, enum x86_mode mode, struct x86_insn *out);

/* ---- MMIO: what the instruction does to the emulated device page ---- */

enum mmio_op {
	MMIO_LOAD,     /* MOV reg, mem (8A, 8B, A0, A1; 63 without REX.W) */
	MMIO_STORE,    /* MOV mem, reg / imm (88, 89, C6 /0, C7 /0, A2, A3) */
	MMIO_LOAD_ZX,  /* MOVZX reg, mem (0F B6, 0F B7) */
	MMIO_LOAD_SX,  /* MOVSX reg, mem (0F BE, 0F BF), MOVSXD (REX.W 63) */
	MMIO_STOS,     /* STOS (AA, AB): store rAX to ES:rDI, maybe REP */
	MMIO_MOVS,     /* MOVS (A4, A5): DS:rSI to ES:rDI, maybe REP */
};

struct mmio_access {
	enum mmio_op op;
	uint8_t size;      /* bytes of the memory access: 1, 2, 4, 8 */
	uint8_t dst_size;  /* register width written by loads (= size except
	                    * for ZX/SX); equal to size for stores */
	int8_t reg;        /* GPR 0..15 loaded or stored (rAX for moffs and
	                    * STOS); -1 when the source is an immediate (imm) and
	                    * for MOVS */
	bool reg_high8;    /* byte register AH/CH/DH/BH (no REX): the byte is
	                    * bits 15:8 of GPR reg (then 0..3) */
	uint64_t imm;      /* the immediate to store, already sized: sign-extended
	                    * imm32 for an 8-byte MOV, masked to size otherwise */
	bool rep;          /* STOS/MOVS with a REP prefix (F3, or F2, which
	                    * repeats these the same way): rCX counts, with
	                    * insn->addrsize */
	int8_t seg;        /* segment of the memory operand (of the source, for
	                    * MOVS; its destination is always ES): the override,
	                    * else SS for rBP/rSP-based addresses, else DS; ES for
	                    * STOS */
};

/*
 * The MMIO access performed by a decoded instruction.  Returns 0, or -1 if
 * insn is not one of the forms of enum mmio_op with a memory operand: a
 * register-only form, a VEX/EVEX encoding, or a LOCK prefix (the CPU raises
 * #UD for LOCK on these, before any access, so an MMIO exit can't have one).
 */
int x86_decode_mmio(const struct x86_insn *insn, struct mmio_access *out);

/*
 * The value a store writes to the device: the immediate, or the register
 * (given as its full 64-bit value) shifted for AH..BH and masked to size.
 */
uint64_t x86_mmio_store_value(const struct mmio_access *a, uint64_t reg_value);

/*
 * The new 64-bit value of register a->reg after a load (LOAD, LOAD_ZX,
 * LOAD_SX) that read mem_value (the low a->size bytes count) from the
 * device, given the register's old value: 1- and 2-byte writes keep the
 * rest of the register, 4-byte writes zero the upper half (SDM vol. 1,
 * 3.4.1.1), AH..BH writes bits 15:8.
 */
uint64_t x86_mmio_load_result(const struct mmio_access *a, uint64_t old_reg, uint64_t mem_value);

#endif
