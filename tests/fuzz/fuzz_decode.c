/*
 * libFuzzer: the x86 instruction decoder and MMIO layer over arbitrary bytes.
 *
 * Input layout: byte 0 selects the mode (low 2 bits: enum x86_mode), the
 * rest are the instruction bytes (a guest's code page, as far as the decoder
 * knows).  For every input the target checks the decoder's contract:
 *
 *   - fields of a successful decode are in range (len 1..15 and within the
 *     bytes, sizes 1/2/4/8, registers -1..15, ...);
 *   - the answer is consistent over every prefix of the bytes: TRUNCATED for
 *     each cut shorter than the instruction, then one final answer (OK with
 *     the same decode, or INVALID) for every longer cut, so a caller can
 *     fetch more bytes across a page boundary and never see the answer flip;
 *   - decoding reads nothing past the instruction (the bytes are copied into
 *     an exact-size heap buffer, so ASan catches an over-read);
 *   - x86_decode_mmio and its value helpers stay in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/decode.h"

#include "tests/fuzz/fuzz_assert.h"

static int is_size(unsigned s)
{
	return s == 1 || s == 2 || s == 4 || s == 8;
}

static int same(const struct x86_insn *a, const struct x86_insn *b)
{
	return a->len == b->len && a->mode == b->mode && a->opsize == b->opsize &&
	       a->addrsize == b->addrsize && a->prefixes == b->prefixes && a->rep == b->rep &&
	       a->seg == b->seg && a->rex == b->rex && a->vex == b->vex && a->opcode == b->opcode &&
	       a->has_modrm == b->has_modrm && a->modrm == b->modrm && a->reg == b->reg &&
	       a->rm_reg == b->rm_reg && a->mem == b->mem && a->rip_relative == b->rip_relative &&
	       a->base_reg == b->base_reg && a->index_reg == b->index_reg && a->scale == b->scale &&
	       a->disp == b->disp && a->has_imm == b->has_imm && a->imm == b->imm &&
	       a->imm2 == b->imm2;
}

static void check_insn(const struct x86_insn *in, enum x86_mode mode, size_t avail)
{
	CHECK(in->len >= 1 && in->len <= X86_MAX_INSN_LEN && in->len <= avail);
	CHECK(in->mode == mode);
	CHECK(is_size(in->opsize));
	CHECK(in->addrsize == 2 || in->addrsize == 4 || in->addrsize == 8);
	CHECK((in->addrsize == 8) == (mode == X86_MODE_LONG64 && !(in->prefixes & X86_PFX_ADDRSIZE)));
	CHECK(in->opsize != 8 || mode == X86_MODE_LONG64);
	CHECK(in->rep == 0 || in->rep == 0xf2 || in->rep == 0xf3);
	CHECK(in->seg >= -1 && in->seg <= X86_SEG_GS);
	CHECK(in->rex == 0 || (mode == X86_MODE_LONG64 && (in->rex & 0xf0) == 0x40));
	CHECK(in->vex == 0 || in->vex == 0xc4 || in->vex == 0xc5 || in->vex == 0x62);
	CHECK(in->vex == 0 || mode != X86_MODE_REAL16);
	CHECK(in->reg >= -1 && in->reg <= 15);
	CHECK(in->rm_reg >= -1 && in->rm_reg <= 15);
	CHECK(in->base_reg >= -1 && in->base_reg <= 15);
	CHECK(in->index_reg >= -1 && in->index_reg <= 15);
	CHECK(in->index_reg != X86_RSP);
	CHECK(is_size(in->scale) && (in->index_reg >= 0 || in->scale == 1));
	CHECK(in->has_modrm || (in->reg == -1 && in->rm_reg == -1));
	CHECK(!(in->mem && in->rm_reg >= 0));
	CHECK(!in->rip_relative || (mode == X86_MODE_LONG64 && in->base_reg == -1 && in->index_reg == -1));
	if (mode != X86_MODE_LONG64)
		CHECK(in->reg <= 7 && in->rm_reg <= 7 && in->base_reg <= 7 && in->index_reg <= 7);
}

static void check_mmio(const struct x86_insn *in)
{
	struct mmio_access a;

	if (x86_decode_mmio(in, &a) != 0)
		return;
	CHECK(in->mem && !in->vex && !(in->prefixes & X86_PFX_LOCK));
	CHECK(a.op >= MMIO_LOAD && a.op <= MMIO_MOVS);
	CHECK(is_size(a.size) && is_size(a.dst_size) && a.dst_size >= a.size);
	CHECK(a.reg >= -1 && a.reg <= 15);
	CHECK(!a.reg_high8 || (a.reg >= 0 && a.reg <= 3 && a.size == 1));
	CHECK(a.seg >= X86_SEG_ES && a.seg <= X86_SEG_GS);
	CHECK(!a.rep || a.op == MMIO_STOS || a.op == MMIO_MOVS);
	CHECK((a.reg == -1) == (a.op == MMIO_MOVS || (in->opcode & ~1u) == 0xc6));
	uint64_t mask = a.size == 8 ? ~0ull : (1ull << (8 * a.size)) - 1;
	CHECK((x86_mmio_store_value(&a, ~0ull) & ~mask) == 0);
	CHECK((a.imm & ~mask) == 0);
	if (a.op == MMIO_LOAD || a.op == MMIO_LOAD_ZX || a.op == MMIO_LOAD_SX) {
		uint64_t r = x86_mmio_load_result(&a, 0x5555555555555555ull, in->disp);
		if (a.dst_size == 4)
			CHECK(r >> 32 == 0);
		if (a.op == MMIO_LOAD_ZX && a.dst_size > 4)
			CHECK((r & ~mask) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum x86_mode mode = (enum x86_mode)(data[0] & 3);
	const uint8_t *code = data + 1;
	size_t n = size - 1;
	if (n > 2 * X86_MAX_INSN_LEN)
		n = 2 * X86_MAX_INSN_LEN;

	/* The full answer first, from an exact-size copy (ASan bounds). */
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, code, n);
	struct x86_insn full;
	int r = x86_decode(copy, n, mode, &full);
	CHECK(r == X86_DECODE_OK || r == X86_DECODE_INVALID || r == X86_DECODE_TRUNCATED);
	CHECK(r != X86_DECODE_TRUNCATED || n < X86_MAX_INSN_LEN);
	if (r == X86_DECODE_OK) {
		check_insn(&full, mode, n);
		check_mmio(&full);
	}

	/* Every cut: TRUNCATED, then the final answer from some point on. */
	int settled = 0;
	for (size_t k = 0; k <= n; k++) {
		struct x86_insn in;
		int rk = x86_decode(copy, k, mode, &in);
		if (rk == X86_DECODE_TRUNCATED) {
			CHECK(!settled);
			continue;
		}
		settled = 1;
		CHECK(rk == r);
		if (rk == X86_DECODE_OK) {
			CHECK(same(&in, &full));
			CHECK(k >= full.len);
			if (k == full.len) {
				/* decoding from exactly len bytes: nothing read beyond */
				uint8_t *exact = malloc(k);
				memcpy(exact, code, k);
				CHECK(x86_decode(exact, k, mode, &in) == 0 && same(&in, &full));
				free(exact);
			}
		}
	}
	if (r == X86_DECODE_OK)
		CHECK(x86_decode(copy, full.len - 1u, mode, &full) == X86_DECODE_TRUNCATED);
	free(copy);
	return 0;
}
