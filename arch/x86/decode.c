/*
 * decode: x86 instruction length and operand decoding, and the MMIO layer.
 * See arch/x86/decode.h for the contract.
 *
 * An instruction is (Intel SDM vol. 2, 2.1, figure 2-1):
 *
 *   [legacy prefixes] [REX] opcode [ModRM] [SIB] [displacement] [immediate]
 *
 * or, with a VEX (C4/C5) or EVEX (62) prefix in place of the legacy
 * escape bytes and REX (2.3 and 2.7):
 *
 *   [segment / 67 prefixes] VEX-or-EVEX opcode [ModRM] [SIB] [disp] [imm8]
 *
 * The opcode decides whether a ModRM byte follows and what immediate comes
 * last; the ModRM byte (with the address size) decides SIB and displacement.
 * So the heart of the decoder is two 256-entry tables of per-opcode flags,
 * one per opcode map of appendix A, which the code below just follows.  The
 * few opcodes whose immediate or validity depend on ModRM.reg (the "group"
 * opcodes, table A-6) are marked and resolved in decode_group().
 *
 * The decoder reads through a cursor that enforces the two limits, in this
 * order: an instruction may not exceed 15 bytes (X86_DECODE_INVALID, SDM
 * 2.1.1: #GP), and may not run past the bytes available
 * (X86_DECODE_TRUNCATED).  Checking the architectural limit first keeps the
 * answer independent of how many bytes the caller happened to fetch.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/decode.h"

/* ---- per-opcode flags ---- */

/* Immediate kinds (SDM vol. 2, A.2.1/A.2.2 operand-size codes). */
enum imm_kind {
	I_NONE,
	I_B,      /* Ib, unsigned: 1 byte */
	I_BS,     /* Ib sign-extended (6A, 6B, 83) or Jb: 1 byte */
	I_W,      /* Iw: 2 bytes (RET/RETF imm16) */
	I_Z,      /* Iz or Jz: 2 bytes with 16-bit operand size, else 4, sign-extended */
	I_V,      /* Iv: 2, 4 or 8 bytes by operand size (MOV r, imm: B8+r) */
	I_ENTER,  /* Iw then Ib (ENTER) */
	I_AP,     /* Ap: far pointer, offset (2 or 4 bytes by operand size) then selector */
	I_MOFFS,  /* Ob/Ov: an offset of address size (2, 4 or 8 bytes), not an immediate */
	I_BB,     /* Ib Ib (SSE4a EXTRQ/INSERTQ) */
};

#define F_IMM_MASK 0x000f  /* enum imm_kind */
#define F_MODRM    0x0010  /* a ModRM byte follows the opcode */
#define F_BYTE     0x0020  /* byte operands: operand size 1 */
#define F_INV64    0x0040  /* invalid in 64-bit mode (table A-2 superscript i64) */
#define F_UNDEF    0x0080  /* no instruction in any mode */
#define F_D64      0x0100  /* 64-bit default operand size in 64-bit mode (d64) */
#define F_GROUP    0x0200  /* immediate/validity depend on ModRM.reg: decode_group() */
#define F_REGRM    0x0400  /* ModRM.mod ignored, rm always a register (MOV CR/DR) */
#define F_STR_SI   0x0800  /* string instruction, memory operand at seg:rSI */
#define F_STR_DI   0x1000  /* string instruction, memory operand at ES:rDI */
#define F_ESC      0x2000  /* not an opcode: prefix or escape byte, handled in code */

/* Short names for the tables only. */
#define M   F_MODRM
#define B   F_BYTE
#define X64 F_INV64
#define U   F_UNDEF
#define D64 F_D64
#define G   F_GROUP
#define P   F_ESC
#define SI  F_STR_SI
#define DI  F_STR_DI
#define Ib  I_B
#define Ibs I_BS
#define Iw  I_W
#define Iz  I_Z
#define Iv  I_V
#define Ob  I_MOFFS
/* The eight classic ALU rows (ADD OR ADC SBB AND SUB XOR CMP), columns 0-5:
 * Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev  AL,Ib  rAX,Iz */
#define ALU M | B, M, M | B, M, Ib | B, Iz

/* One-byte opcode map: SDM vol. 2, table A-2. */
static const uint16_t map1[256] = {
/* 00 */ ALU,                          X64,         X64,          /* PUSH/POP ES */
/* 08 */ ALU,                          X64,         P,            /* PUSH CS, 0F escape */
/* 10 */ ALU,                          X64,         X64,          /* PUSH/POP SS */
/* 18 */ ALU,                          X64,         X64,          /* PUSH/POP DS */
/* 20 */ ALU,                          P,           X64,          /* ES:, DAA */
/* 28 */ ALU,                          P,           X64,          /* CS:, DAS */
/* 30 */ ALU,                          P,           X64,          /* SS:, AAA */
/* 38 */ ALU,                          P,           X64,          /* DS:, AAS */
/* 40 */ 0, 0, 0, 0, 0, 0, 0, 0,       /* INC r (REX in 64-bit mode, taken as a prefix) */
/* 48 */ 0, 0, 0, 0, 0, 0, 0, 0,       /* DEC r (REX) */
/* 50 */ D64, D64, D64, D64, D64, D64, D64, D64,   /* PUSH r */
/* 58 */ D64, D64, D64, D64, D64, D64, D64, D64,   /* POP r */
/* 60 */ X64, X64, M | X64, M, P, P, P, P,
	 /* PUSHA, POPA, BOUND (EVEX in 64-bit mode), ARPL / MOVSXD, FS: GS: 66 67 */
/* 68 */ Iz | D64, M | Iz, Ibs | D64, M | Ibs, B | DI, DI, B | SI, SI,
	 /* PUSH Iz, IMUL Gv,Ev,Iz, PUSH Ib, IMUL Gv,Ev,Ib, INS, INS, OUTS, OUTS */
/* 70 */ Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64,
/* 78 */ Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64,
	 /* Jcc rel8 */
/* 80 */ M | B | Ib, M | Iz, M | B | Ib | X64, M | Ibs, M | B, M, M | B, M,
	 /* group 1 Eb,Ib / Ev,Iz / Eb,Ib (alias) / Ev,Ib; TEST; XCHG */
/* 88 */ M | B, M, M | B, M, M | G, M, M | G, M | G | D64,
	 /* MOV Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev; MOV Ev,Sw; LEA; MOV Sw,Ew; group 1A (POP Ev) */
/* 90 */ 0, 0, 0, 0, 0, 0, 0, 0,       /* NOP/PAUSE, XCHG r, rAX */
/* 98 */ 0, 0, I_AP | X64, 0, D64, D64, 0, 0,
	 /* CBW, CWD, CALL far Ap, FWAIT, PUSHF, POPF, SAHF, LAHF */
/* A0 */ Ob | B, Ob, Ob | B, Ob, B | SI, SI, B | SI, SI,
	 /* MOV AL,Ob / rAX,Ov / Ob,AL / Ov,rAX; MOVS; CMPS */
/* A8 */ Ib | B, Iz, B | DI, DI, B | SI, SI, B | DI, DI,
	 /* TEST AL,Ib / rAX,Iz; STOS; LODS; SCAS */
/* B0 */ Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Ib | B, Ib | B,  /* MOV r8, Ib */
/* B8 */ Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv,                                  /* MOV r, Iv */
/* C0 */ M | B | Ib, M | Ib, Iw | D64, D64, M | X64, M | X64, M | B | G, M | G,
	 /* group 2 Eb,Ib / Ev,Ib; RET Iw; RET; LES, LDS (VEX in 64-bit mode);
	  * group 11: C6 /0 MOV Eb,Ib, /7 XABORT Ib; C7 /0 MOV Ev,Iz, /7 XBEGIN Jz */
/* C8 */ I_ENTER | D64, D64, Iw, 0, 0, Ib, X64, 0,
	 /* ENTER Iw,Ib; LEAVE; RETF Iw; RETF; INT3; INT Ib; INTO; IRET */
/* D0 */ M | B, M, M | B, M, Ib | X64, Ib | X64, X64, B,
	 /* group 2 by 1 / by CL; AAM Ib; AAD Ib; SALC (undocumented); XLAT */
/* D8 */ M, M, M, M, M, M, M, M,       /* x87 escapes (tables) */
/* E0 */ Ibs | D64, Ibs | D64, Ibs | D64, Ibs | D64, Ib | B, Ib, Ib | B, Ib,
	 /* LOOPNE, LOOPE, LOOP, JrCXZ rel8; IN AL,Ib; IN eAX,Ib; OUT Ib,AL; OUT Ib,eAX */
/* E8 */ Iz | D64, Iz | D64, I_AP | X64, Ibs | D64, B, 0, B, 0,
	 /* CALL rel, JMP rel, JMP far Ap, JMP rel8, IN/OUT with DX */
/* F0 */ P, 0, P, P, 0, 0, M | B | G, M | G,
	 /* LOCK, INT1, REPNE, REP, HLT, CMC; group 3: /0 /1 TEST with Ib / Iz */
/* F8 */ 0, 0, 0, 0, 0, 0, M | B | G, M | G,
	 /* CLC STC CLI STI CLD STD; group 4 (FE /0 /1); group 5 (FF /0../6) */
};

/* Two-byte opcode map (after 0F): SDM vol. 2, table A-3. */
static const uint16_t map2[256] = {
/* 00 */ M, M, M, M, U, 0, 0, 0,
	 /* group 6, group 7 (incl. VMCALL.., VMRUN.., XSETBV, RDTSCP), LAR, LSL,
	  * -, SYSCALL, CLTS, SYSRET */
/* 08 */ 0, 0, U, 0, U, M, 0, M | Ib,
	 /* INVD, WBINVD, -, UD2, -, PREFETCH(W), FEMMS, 3DNow! (suffix as imm8) */
/* 10 */ M, M, M, M, M, M, M, M,       /* SSE moves, unpacks */
/* 18 */ M, M, M, M, M, M, M, M,       /* group 16 prefetch, MPX, hint NOPs, ENDBR, NOP Ev */
/* 20 */ M | F_REGRM, M | F_REGRM, M | F_REGRM, M | F_REGRM, U, U, U, U,
	 /* MOV r,CR / r,DR / CR,r / DR,r; 24-27 were 386/486 test registers */
/* 28 */ M, M, M, M, M, M, M, M,
/* 30 */ 0, 0, 0, 0, 0, 0, U, 0,       /* WRMSR RDTSC RDMSR RDPMC SYSENTER SYSEXIT - GETSEC */
/* 38 */ P, U, P, U, U, U, U, U,       /* 0F 38 and 0F 3A escapes */
/* 40 */ M, M, M, M, M, M, M, M,       /* CMOVcc */
/* 48 */ M, M, M, M, M, M, M, M,
/* 50 */ M, M, M, M, M, M, M, M,       /* SSE */
/* 58 */ M, M, M, M, M, M, M, M,
/* 60 */ M, M, M, M, M, M, M, M,       /* MMX/SSE2 */
/* 68 */ M, M, M, M, M, M, M, M,
/* 70 */ M | Ib, M | Ib, M | Ib, M | Ib, M, M, M, 0,
	 /* PSHUF Ib, groups 12-14 (shift by Ib), PCMPEQ, EMMS */
/* 78 */ M | G, M, U, U, M, M, M, M,
	 /* VMREAD / EXTRQ / INSERTQ (decode_group), VMWRITE, -, -, HADD, HSUB, MOVD/Q */
/* 80 */ Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64,
/* 88 */ Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64, Iz | D64,
	 /* Jcc rel16/32 */
/* 90 */ M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B,   /* SETcc Eb */
/* 98 */ M | B, M | B, M | B, M | B, M | B, M | B, M | B, M | B,
/* A0 */ D64, D64, 0, M, M | Ib, M, U, U,
	 /* PUSH FS, POP FS, CPUID, BT, SHLD Ib, SHLD CL */
/* A8 */ D64, D64, 0, M, M | Ib, M, M, M,
	 /* PUSH GS, POP GS, RSM, BTS, SHRD Ib, SHRD CL, group 15 (fences, FXSAVE..), IMUL */
/* B0 */ M | B, M, M, M, M, M, M, M,
	 /* CMPXCHG Eb / Ev, LSS, BTR, LFS, LGS, MOVZX Gv,Eb, MOVZX Gv,Ew */
/* B8 */ M, M, M | Ib, M, M, M, M, M,
	 /* POPCNT/JMPE, UD1, group 8 Ev,Ib, BTC, BSF/TZCNT, BSR/LZCNT, MOVSX Gv,Eb / Gv,Ew */
/* C0 */ M | B, M, M | Ib, M, M | Ib, M | Ib, M | Ib, M,
	 /* XADD Eb / Ev, CMPPS Ib, MOVNTI, PINSRW Ib, PEXTRW Ib, SHUFPS Ib, group 9 */
/* C8 */ 0, 0, 0, 0, 0, 0, 0, 0,       /* BSWAP r */
/* D0 */ M, M, M, M, M, M, M, M,       /* MMX/SSE */
/* D8 */ M, M, M, M, M, M, M, M,
/* E0 */ M, M, M, M, M, M, M, M,
/* E8 */ M, M, M, M, M, M, M, M,
/* F0 */ M, M, M, M, M, M, M, M,
/* F8 */ M, M, M, M, M, M, M, M,       /* ..., UD0 (0F FF /r) */
};

#undef M
#undef B
#undef X64
#undef U
#undef D64
#undef G
#undef P
#undef SI
#undef DI
#undef Ib
#undef Ibs
#undef Iw
#undef Iz
#undef Iv
#undef Ob
#undef ALU

/* REX bits (SDM 2.2.1.2), also synthesised from VEX/EVEX's inverted R X B. */
#define REX_B 0x1
#define REX_X 0x2
#define REX_R 0x4
#define REX_W 0x8

/* ---- reading bytes ---- */

struct cursor {
	const uint8_t *bytes;
	size_t avail;
	unsigned pos;   /* bytes consumed so far: the instruction length at the end */
};

/* Take the next n (1..8) bytes as a little-endian unsigned value. */
static int take(struct cursor *c, unsigned n, uint64_t *val)
{
	uint64_t v = 0;

	if (c->pos + n > X86_MAX_INSN_LEN)
		return X86_DECODE_INVALID;
	if (c->pos + n > c->avail)
		return X86_DECODE_TRUNCATED;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->bytes[c->pos + i] << (8 * i);
	c->pos += n;
	*val = v;
	return X86_DECODE_OK;
}

static int take8(struct cursor *c, uint8_t *b)
{
	uint64_t v;
	int r = take(c, 1, &v);

	*b = (uint8_t)v;
	return r;
}

/* Look at the next byte without consuming it (same limits as take). */
static int peek8(const struct cursor *c, uint8_t *b)
{
	struct cursor t = *c;

	return take8(&t, b);
}

/* Sign-extend the low 'bytes' bytes of v to 64 bits. */
static uint64_t sext(uint64_t v, unsigned bytes)
{
	uint64_t sign = 1ull << (8 * bytes - 1);

	if (bytes < 8)
		v &= (sign << 1) - 1;
	return (v ^ sign) - sign;
}

/* Take a signed displacement of n bytes. */
static int take_disp(struct cursor *c, unsigned n, int64_t *disp)
{
	uint64_t v;
	int r = take(c, n, &v);

	if (r == X86_DECODE_OK)
		*disp = (int64_t)sext(v, n);
	return r;
}

/* ---- ModRM, SIB, displacement ---- */

/* 16-bit addressing, SDM vol. 2 table 2-1: rm selects one of eight base +
 * index pairs; mod 00 rm 110 is a bare disp16 instead of [BP]. */
static const int8_t modrm16_base[8]  = { X86_RBX, X86_RBX, X86_RBP, X86_RBP, X86_RSI, X86_RDI, X86_RBP, X86_RBX };
static const int8_t modrm16_index[8] = { X86_RSI, X86_RDI, X86_RSI, X86_RDI, -1, -1, -1, -1 };

static int modrm16(struct cursor *c, struct x86_insn *in, unsigned mod, unsigned rm)
{
	if (mod == 0 && rm == 6)
		return take_disp(c, 2, &in->disp);
	in->base_reg = modrm16_base[rm];
	in->index_reg = modrm16_index[rm];
	if (mod == 1)
		return take_disp(c, 1, &in->disp);
	if (mod == 2)
		return take_disp(c, 2, &in->disp);
	return X86_DECODE_OK;
}

/*
 * 32/64-bit addressing, SDM vol. 2 tables 2-2 and 2-3, and 2.2.1.3/2.2.1.6
 * for REX and RIP-relative: rm 100 means a SIB byte follows; mod 00 rm 101
 * is disp32 (RIP-relative in 64-bit mode); in the SIB byte index 100 is
 * "no index" and base 101 with mod 00 is "no base, disp32".  These special
 * cases look at the 3-bit fields only: REX.B/X don't change them (r12 as a
 * base needs a SIB byte, r13 with mod 00 means disp32; only index 100 with
 * REX.X clear is "none", r12 is a valid index).
 */
static int modrm32(struct cursor *c, struct x86_insn *in, unsigned mod, unsigned rm,
		   unsigned rex, bool m64)
{
	int r;

	if (rm == 4) {
		uint8_t sib;
		unsigned base, index;

		if ((r = take8(c, &sib)) != X86_DECODE_OK)
			return r;
		base = sib & 7;
		index = ((sib >> 3) & 7) | ((rex & REX_X) ? 8 : 0);
		if (index != 4) {
			in->index_reg = (int8_t)index;
			in->scale = (uint8_t)(1u << (sib >> 6));
		}
		if (base == 5 && mod == 0)
			return take_disp(c, 4, &in->disp);
		in->base_reg = (int8_t)(base | ((rex & REX_B) ? 8 : 0));
	} else if (rm == 5 && mod == 0) {
		in->rip_relative = m64;
		return take_disp(c, 4, &in->disp);
	} else {
		in->base_reg = (int8_t)(rm | ((rex & REX_B) ? 8 : 0));
	}
	if (mod == 1)
		return take_disp(c, 1, &in->disp);
	if (mod == 2)
		return take_disp(c, 4, &in->disp);
	return X86_DECODE_OK;
}

static int decode_modrm(struct cursor *c, struct x86_insn *in, unsigned rex, bool m64,
			bool reg_only)
{
	uint8_t modrm;
	unsigned mod, rm;
	int r;

	if ((r = take8(c, &modrm)) != X86_DECODE_OK)
		return r;
	mod = modrm >> 6;
	rm = modrm & 7;
	in->has_modrm = true;
	in->modrm = modrm;
	in->reg = (int8_t)(((modrm >> 3) & 7) | ((rex & REX_R) ? 8 : 0));
	if (mod == 3 || reg_only) {
		in->rm_reg = (int8_t)(rm | ((rex & REX_B) ? 8 : 0));
		return X86_DECODE_OK;
	}
	in->mem = true;
	if (in->addrsize == 2)
		return modrm16(c, in, mod, rm);
	return modrm32(c, in, mod, rm, rex, m64);
}

/*
 * Group opcodes (SDM vol. 2 table A-6), and MOV to/from Sreg, whose
 * immediate or validity depend on ModRM.reg.  Updates *flags with the immediate kind (and d64 for FF's
 * near branches and PUSH); returns X86_DECODE_INVALID for encodings with no
 * instruction.
 */
static int decode_group(const struct x86_insn *in, uint16_t *flags)
{
	unsigned reg = (in->modrm >> 3) & 7;
	unsigned imm = I_NONE;

	switch (in->opcode) {
	case 0x8c:      /* MOV Ev,Sw: Sreg 6 and 7 don't exist */
	case 0x8e:      /* MOV Sw,Ew: nor can CS be loaded (SDM MOV: #UD) */
		if (reg > 5 || (in->opcode == 0x8e && reg == X86_SEG_CS))
			return X86_DECODE_INVALID;
		break;
	case 0x8f:      /* group 1A: /0 POP Ev; /1../7 is AMD's XOP prefix, not decoded */
		if (reg != 0)
			return X86_DECODE_INVALID;
		break;
	case 0xc6:      /* group 11: /0 MOV Eb,Ib; C6 F8 XABORT Ib */
	case 0xc7:      /* group 11: /0 MOV Ev,Iz; C7 F8 XBEGIN rel16/32 */
		if (reg != 0 && in->modrm != 0xf8)
			return X86_DECODE_INVALID;
		imm = in->opcode == 0xc6 ? I_B : I_Z;
		break;
	case 0xf6:      /* group 3: /0 /1 TEST Eb,Ib (/1 is an undocumented alias) */
		if (reg <= 1)
			imm = I_B;
		break;
	case 0xf7:      /* group 3: /0 /1 TEST Ev,Iz */
		if (reg <= 1)
			imm = I_Z;
		break;
	case 0xfe:      /* group 4: INC/DEC Eb only */
		if (reg > 1)
			return X86_DECODE_INVALID;
		break;
	case 0xff:      /* group 5: /7 is undefined; CALL, JMP, PUSH are d64 */
		if (reg == 7)
			return X86_DECODE_INVALID;
		if (reg == 2 || reg == 4 || reg == 6)
			*flags |= F_D64;
		break;
	case X86_OP_0F(0x78):
		/* AMD SSE4a: F2 0F 78 /r ib ib INSERTQ, 66 0F 78 /0 ib ib EXTRQ
		 * (their register-only and /0 rules are left to the CPU); without
		 * a prefix VMREAD Ey,Gy; F3 0F 78 is nothing. */
		if (in->rep == 0xf3)
			return X86_DECODE_INVALID;
		if (in->rep == 0xf2 || (in->prefixes & X86_PFX_OPSIZE))
			imm = I_BB;
		break;
	default:
		break;
	}
	*flags = (uint16_t)((*flags & ~F_IMM_MASK) | imm);
	return X86_DECODE_OK;
}

/* ---- VEX and EVEX (SDM vol. 2, 2.3 and 2.7) ---- */

/* Map-1 (0F) opcodes that take an imm8 under VEX/EVEX as in legacy form:
 * PSHUFx, the shift groups 12-14, CMPPS, PINSRW, PEXTRW, SHUFPS. */
static bool vex_map1_has_imm8(uint8_t op)
{
	return (op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6);
}

/*
 * The bytes after a C4, C5 or 62 already known to be VEX/EVEX (not LES,
 * LDS, BOUND).  Every VEX/EVEX instruction has a ModRM byte except
 * VZEROUPPER/VZEROALL (VEX 0F 77); imm8 follows for map 0F 3A and the map
 * 0F opcodes of vex_map1_has_imm8().
 */
static int decode_vex(struct cursor *c, struct x86_insn *in, uint8_t esc, bool m64)
{
	uint8_t p0, p1, p2, op;
	unsigned map, rex = 0;
	uint64_t v;
	int r;

	if ((r = take8(c, &p0)) != X86_DECODE_OK)
		return r;
	if (esc == 0xc5) {              /* 2-byte VEX: R vvvv L pp, map 0F */
		map = 1;
		rex = (p0 & 0x80) ? 0 : REX_R;
	} else if (esc == 0xc4) {       /* 3-byte VEX: R X B mmmmm, W vvvv L pp */
		map = p0 & 0x1f;
		if (map < 1 || map > 3)
			return X86_DECODE_INVALID;
		if ((r = take8(c, &p1)) != X86_DECODE_OK)
			return r;
		rex = (~p0 >> 5) & 7;   /* R X B, stored inverted */
		if (p1 & 0x80)
			rex |= REX_W;
	} else {                        /* EVEX: R X B R' 0 mmm, W vvvv 1 pp, z L'L b V' aaa */
		map = p0 & 7;
		if ((p0 & 0x08) || map == 0 || map == 4 || map == 7)
			return X86_DECODE_INVALID;
		if ((r = take8(c, &p1)) != X86_DECODE_OK)
			return r;
		if (!(p1 & 0x04))
			return X86_DECODE_INVALID;
		if ((r = take8(c, &p2)) != X86_DECODE_OK)
			return r;
		(void)p2;
		rex = (~p0 >> 5) & 7;
		if (p1 & 0x80)
			rex |= REX_W;
	}
	/* Outside 64-bit mode R and X are the 1s that made this VEX rather than
	 * LES/LDS/BOUND, B is ignored, and W doesn't widen GPRs. */
	if (!m64)
		rex = 0;
	if (rex & REX_W)
		in->opsize = 8;

	if ((r = take8(c, &op)) != X86_DECODE_OK)
		return r;
	static const uint32_t map_base[8] = {
		0, 0x0f00, 0x0f3800, 0x0f3a00, 0, 0x0f0500, 0x0f0600, 0,
	};
	in->opcode = map_base[map] | op;

	if (!(map == 1 && op == 0x77 && esc != 0x62)) {
		if ((r = decode_modrm(c, in, rex, m64, false)) != X86_DECODE_OK)
			return r;
	}
	if (map == 3 || (map == 1 && vex_map1_has_imm8(op))) {
		if ((r = take(c, 1, &v)) != X86_DECODE_OK)
			return r;
		in->has_imm = true;
		in->imm = v;
	}
	return X86_DECODE_OK;
}

/* ---- the decoder ---- */

/* Immediate bytes for Iz/Jz: 2 with a 16-bit operand size, else 4 (a
 * 64-bit operation sign-extends an imm32). */
static unsigned z_bytes(unsigned osize)
{
	return osize == 2 ? 2 : 4;
}

static int decode_imm(struct cursor *c, struct x86_insn *in, unsigned kind, unsigned osize)
{
	uint64_t v, w;
	int r = X86_DECODE_OK;

	switch (kind) {
	case I_NONE:
		return X86_DECODE_OK;
	case I_B:
		r = take(c, 1, &v);
		break;
	case I_BS:
		r = take(c, 1, &v);
		v = sext(v, 1);
		break;
	case I_W:
		r = take(c, 2, &v);
		break;
	case I_Z:
		r = take(c, z_bytes(osize), &v);
		v = sext(v, z_bytes(osize));
		break;
	case I_V:
		r = take(c, osize, &v);
		break;
	case I_ENTER:
	case I_AP:
	case I_BB:
		/* two immediates: ENTER Iw,Ib; far pointer offset,selector; Ib,Ib */
		if ((r = take(c, kind == I_ENTER ? 2 : kind == I_AP ? z_bytes(osize) : 1, &v)) != 0)
			return r;
		if ((r = take(c, kind == I_AP ? 2 : 1, &w)) != 0)
			return r;
		in->imm2 = (uint16_t)w;
		break;
	case I_MOFFS:
		/* Not an immediate: the memory operand's absolute offset. */
		if ((r = take(c, in->addrsize, &v)) != X86_DECODE_OK)
			return r;
		in->mem = true;
		in->disp = (int64_t)v;
		return X86_DECODE_OK;
	default:
		return X86_DECODE_INVALID;
	}
	if (r != X86_DECODE_OK)
		return r;
	in->has_imm = true;
	in->imm = v;
	return X86_DECODE_OK;
}

int x86_decode(const uint8_t *bytes, size_t avail, enum x86_mode mode, struct x86_insn *out)
{
	struct cursor c = { bytes, avail, 0 };
	struct x86_insn in;
	bool m64 = mode == X86_MODE_LONG64;
	bool m16 = mode == X86_MODE_REAL16 || mode == X86_MODE_PROT16;
	unsigned rex = 0, osize;
	uint16_t flags;
	uint8_t b;
	int r;

	if ((unsigned)mode > X86_MODE_LONG64)
		return X86_DECODE_INVALID;
	memset(&in, 0, sizeof(in));
	in.mode = (uint8_t)mode;
	in.seg = in.reg = in.rm_reg = in.base_reg = in.index_reg = -1;
	in.scale = 1;

	/*
	 * Prefixes (SDM 2.1.1, 2.2.1): any number, in any order, up to the
	 * 15-byte limit.  REX counts only directly before the opcode: a REX
	 * followed by another prefix is ignored.
	 */
	for (;;) {
		if ((r = take8(&c, &b)) != X86_DECODE_OK)
			return r;
		switch (b) {
		case 0x26: case 0x2e: case 0x36: case 0x3e:   /* ES CS SS DS */
			in.prefixes |= X86_PFX_SEG;
			if (!m64)       /* ignored in 64-bit mode (SDM 3.3.7.1 vol. 1) */
				in.seg = (int8_t)((b >> 3) & 3);
			break;
		case 0x64: case 0x65:                         /* FS GS */
			in.prefixes |= X86_PFX_SEG;
			in.seg = (int8_t)(X86_SEG_FS + (b - 0x64));
			break;
		case 0x66:
			in.prefixes |= X86_PFX_OPSIZE;
			break;
		case 0x67:
			in.prefixes |= X86_PFX_ADDRSIZE;
			break;
		case 0xf0:
			in.prefixes |= X86_PFX_LOCK;
			break;
		case 0xf2:
			in.prefixes |= X86_PFX_REPNE;
			in.rep = b;
			break;
		case 0xf3:
			in.prefixes |= X86_PFX_REP;
			in.rep = b;
			break;
		default:
			if (m64 && (b & 0xf0) == 0x40) {
				rex = b;
				continue;
			}
			goto opcode;
		}
		rex = 0;
	}
opcode:
	in.rex = (uint8_t)rex;

	/* Sizes (SDM 2.2.1.2 table 2-4, vol. 1 3.6): operand 16/32 by the mode
	 * flipped by 66; in 64-bit mode 32, REX.W 64 (over 66), 66 16.  Address
	 * 16/32 flipped by 67; in 64-bit mode 64, 67 32. */
	if (m64)
		osize = (rex & REX_W) ? 8 : (in.prefixes & X86_PFX_OPSIZE) ? 2 : 4;
	else
		osize = (m16 != !!(in.prefixes & X86_PFX_OPSIZE)) ? 2 : 4;
	if (m64)
		in.addrsize = (in.prefixes & X86_PFX_ADDRSIZE) ? 4 : 8;
	else
		in.addrsize = (m16 != !!(in.prefixes & X86_PFX_ADDRSIZE)) ? 2 : 4;
	in.opsize = (uint8_t)osize;

	/*
	 * C4/C5/62: in 64-bit mode always VEX/EVEX; elsewhere LES/LDS/BOUND
	 * unless the next byte has mod = 11, which those can't encode (SDM
	 * 2.3.1 and 2.7.1).  Real and virtual-8086 mode reject VEX/EVEX
	 * (#UD); a preceding 66, F2, F3, LOCK or REX is #UD too (2.3.2).
	 */
	if (b == 0xc4 || b == 0xc5 || b == 0x62) {
		uint8_t next;
		bool vex = m64;

		if (!vex) {
			if ((r = peek8(&c, &next)) != X86_DECODE_OK)
				return r;
			vex = (next & 0xc0) == 0xc0;
		}
		if (vex) {
			if (mode == X86_MODE_REAL16 || rex ||
			    (in.prefixes & (X86_PFX_OPSIZE | X86_PFX_LOCK | X86_PFX_REP | X86_PFX_REPNE)))
				return X86_DECODE_INVALID;
			in.vex = b;
			if ((r = decode_vex(&c, &in, b, m64)) != X86_DECODE_OK)
				return r;
			goto done;
		}
	}

	if (b == 0x0f) {                /* escape to the two- or three-byte maps */
		if ((r = take8(&c, &b)) != X86_DECODE_OK)
			return r;
		if (b == 0x38 || b == 0x3a) {
			/* Tables: every opcode has ModRM; 0F 3A adds Ib. */
			flags = F_MODRM | (b == 0x3a ? I_B : I_NONE);
			in.opcode = b == 0x38 ? X86_OP_0F38(0) : X86_OP_0F3A(0);
			if ((r = take8(&c, &b)) != X86_DECODE_OK)
				return r;
			in.opcode |= b;
		} else {
			flags = map2[b];
			in.opcode = X86_OP_0F(b);
		}
	} else {
		flags = map1[b];
		in.opcode = b;
	}
	if ((flags & F_UNDEF) || (m64 && (flags & F_INV64)))
		return X86_DECODE_INVALID;

	if (flags & F_MODRM) {
		if ((r = decode_modrm(&c, &in, rex, m64, flags & F_REGRM)) != X86_DECODE_OK)
			return r;
	}
	if ((flags & F_GROUP) && (r = decode_group(&in, &flags)) != X86_DECODE_OK)
		return r;
	if ((r = decode_imm(&c, &in, flags & F_IMM_MASK, osize)) != X86_DECODE_OK)
		return r;

	/* The implicit memory operand of string instructions. */
	if (flags & (F_STR_SI | F_STR_DI)) {
		in.mem = true;
		in.base_reg = (flags & F_STR_SI) ? X86_RSI : X86_RDI;
	}
	/* The effective operand size reported. */
	if (flags & F_BYTE)
		in.opsize = 1;
	else if (m64 && (flags & F_D64))
		in.opsize = (in.prefixes & X86_PFX_OPSIZE) && !(rex & REX_W) ? 2 : 8;
	else if (flags & F_REGRM)       /* MOV CR/DR: 32-bit, 64-bit in 64-bit mode */
		in.opsize = m64 ? 8 : 4;
done:
	in.len = (uint8_t)c.pos;
	*out = in;
	return X86_DECODE_OK;
}

/* ---- MMIO ---- */

/*
 * The MMIO forms, one row each.  size 0 means "the operand size"; dst 0
 * means "= size".  reg says where the register operand is: ModRM.reg, rAX
 * (moffs, STOS), or none (an immediate, MOVS).
 */
enum { R_MODRM, R_RAX, R_NONE };

struct mmio_form {
	uint32_t opcode;
	uint8_t op;      /* enum mmio_op */
	uint8_t size;
	uint8_t dst;
	uint8_t reg;
	bool modrm_mem;  /* the memory operand must come from ModRM (mod != 3) */
};

static const struct mmio_form mmio_forms[] = {
	{ 0x88,            MMIO_STORE,   1, 0, R_MODRM, true  },  /* MOV Eb, Gb */
	{ 0x89,            MMIO_STORE,   0, 0, R_MODRM, true  },  /* MOV Ev, Gv */
	{ 0x8a,            MMIO_LOAD,    1, 0, R_MODRM, true  },  /* MOV Gb, Eb */
	{ 0x8b,            MMIO_LOAD,    0, 0, R_MODRM, true  },  /* MOV Gv, Ev */
	{ 0xc6,            MMIO_STORE,   1, 0, R_NONE,  true  },  /* MOV Eb, Ib (/0) */
	{ 0xc7,            MMIO_STORE,   0, 0, R_NONE,  true  },  /* MOV Ev, Iz (/0) */
	{ 0xa0,            MMIO_LOAD,    1, 0, R_RAX,   false },  /* MOV AL, Ob */
	{ 0xa1,            MMIO_LOAD,    0, 0, R_RAX,   false },  /* MOV rAX, Ov */
	{ 0xa2,            MMIO_STORE,   1, 0, R_RAX,   false },  /* MOV Ob, AL */
	{ 0xa3,            MMIO_STORE,   0, 0, R_RAX,   false },  /* MOV Ov, rAX */
	{ X86_OP_0F(0xb6), MMIO_LOAD_ZX, 1, 0, R_MODRM, true  },  /* MOVZX Gv, Eb */
	{ X86_OP_0F(0xb7), MMIO_LOAD_ZX, 2, 0, R_MODRM, true  },  /* MOVZX Gv, Ew */
	{ X86_OP_0F(0xbe), MMIO_LOAD_SX, 1, 0, R_MODRM, true  },  /* MOVSX Gv, Eb */
	{ X86_OP_0F(0xbf), MMIO_LOAD_SX, 2, 0, R_MODRM, true  },  /* MOVSX Gv, Ew */
	{ 0x63,            MMIO_LOAD_SX, 4, 8, R_MODRM, true  },  /* MOVSXD Gq, Ed (REX.W) */
	{ 0xaa,            MMIO_STOS,    1, 0, R_RAX,   false },  /* STOS m8, AL */
	{ 0xab,            MMIO_STOS,    0, 0, R_RAX,   false },  /* STOS m, rAX */
	{ 0xa4,            MMIO_MOVS,    1, 0, R_NONE,  false },  /* MOVS m8, m8 */
	{ 0xa5,            MMIO_MOVS,    0, 0, R_NONE,  false },  /* MOVS m, m */
};

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

int x86_decode_mmio(const struct x86_insn *in, struct mmio_access *out)
{
	const struct mmio_form *f = NULL;
	struct mmio_access a;
	unsigned opsize = in->opsize;

	if (in->vex || (in->prefixes & X86_PFX_LOCK) || !in->mem)
		return -1;
	for (size_t i = 0; i < sizeof(mmio_forms) / sizeof(mmio_forms[0]); i++) {
		if (mmio_forms[i].opcode == in->opcode) {
			f = &mmio_forms[i];
			break;
		}
	}
	/* (C6/C7 with a memory operand are always /0: XABORT and XBEGIN are
	 * mod = 3 forms, the other /n don't decode.) */
	if (!f || (f->modrm_mem && !in->has_modrm))
		return -1;

	memset(&a, 0, sizeof(a));
	a.op = (enum mmio_op)f->op;
	a.size = (uint8_t)(f->size ? f->size : opsize);
	a.dst_size = (uint8_t)(f->dst ? f->dst : (a.op == MMIO_LOAD_ZX || a.op == MMIO_LOAD_SX) ? opsize : a.size);
	if (in->opcode == 0x63) {
		/* 63 is ARPL outside 64-bit mode; MOVSXD without REX.W is a plain
		 * 16/32-bit move (SDM: "use of MOVSXD without REX.W is discouraged"). */
		if (in->mode != X86_MODE_LONG64)
			return -1;
		if (!(in->rex & REX_W)) {
			a.op = MMIO_LOAD;
			a.size = a.dst_size = (uint8_t)opsize;
		}
	}
	a.reg = f->reg == R_MODRM ? in->reg : f->reg == R_RAX ? X86_RAX : -1;
	/* Without REX, byte registers 4-7 are AH CH DH BH (SDM 2.2.1.2, 3.4.1.1). */
	if (f->reg == R_MODRM && a.size == 1 && a.dst_size == 1 && !in->rex && a.reg >= 4 && a.reg <= 7) {
		a.reg_high8 = true;
		a.reg -= 4;
	}
	if (in->opcode == 0xc6 || in->opcode == 0xc7)
		a.imm = in->imm & size_mask(a.size);
	a.rep = (a.op == MMIO_STOS || a.op == MMIO_MOVS) && in->rep != 0;
	/* Segment: STOS writes ES:rDI, no override (SDM STOS); otherwise the
	 * override, else SS for rBP/rSP bases, else DS (vol. 1, 3.7.4). */
	if (a.op == MMIO_STOS)
		a.seg = X86_SEG_ES;
	else if (in->seg >= 0)
		a.seg = in->seg;
	else if (in->base_reg == X86_RSP || in->base_reg == X86_RBP)
		a.seg = X86_SEG_SS;
	else
		a.seg = X86_SEG_DS;
	*out = a;
	return 0;
}

uint64_t x86_mmio_store_value(const struct mmio_access *a, uint64_t reg_value)
{
	if (a->reg < 0)
		return a->imm & size_mask(a->size);
	if (a->reg_high8)
		reg_value >>= 8;
	return reg_value & size_mask(a->size);
}

uint64_t x86_mmio_load_result(const struct mmio_access *a, uint64_t old_reg, uint64_t mem_value)
{
	uint64_t v = mem_value & size_mask(a->size);

	if (a->op == MMIO_LOAD_SX)
		v = sext(v, a->size);
	if (a->reg_high8)
		return (old_reg & ~0xff00ull) | ((v & 0xff) << 8);
	switch (a->dst_size) {
	case 1:
	case 2:
		return (old_reg & ~size_mask(a->dst_size)) | (v & size_mask(a->dst_size));
	case 4:
		return v & 0xffffffffull;       /* 32-bit writes zero-extend */
	default:
		return v;
	}
}
