/*
 * libFuzzer target: exit reflection (svm/nested/exit_reflect.c) against a
 * small independent model, on arbitrary intercept words, permission maps
 * and exits.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_nsvm_reflect.c \
 *       svm/nested/exit_reflect.c mm/gmem.c -o build/fuzz/fuzz_nsvm_reflect
 *   mkdir -p build/fuzz/corpus-nsvm_reflect
 *   build/fuzz/fuzz_nsvm_reflect build/fuzz/corpus-nsvm_reflect tests/fuzz/corpus/nsvm_reflect
 *
 * Input layout (little-endian):
 *    0  u32 x 6  intercept words CR DR EXC MISC1 MISC2 MISC3
 *   24  u8      np_enable (bit 0)
 *   25  u16     exit code selector: 0xffff -> VMEXIT_INVALID, 0xfffe ->
 *               0x400 + low byte, else the value & 0x7ff
 *   27  u64     EXITINFO1
 *   35  u32     MSR number
 *   39  u32     IOPM base, u32 MSRPM base (as L1 wrote them)
 *   47  map bytes: L1 RAM from 0x4000 up (IOPM normally at 0x4000,
 *       MSRPM at 0x7000), zero-padded
 * L1 memory: RAM 0-0xafff, MMIO page at 0xb000, holes elsewhere.
 *
 * Model: the APM rules written out plainly — physical events, #MC, NPF,
 * AVIC/VMGEXIT go to L0; VMEXIT_INVALID to L1; IOIO by IOIO_PROT and any
 * IOPM bit of port..port+size-1 (unreadable bytes count as set); MSR by
 * MSR_PROT and the MSRPM bit (outside the ranges: set); the rest by the
 * bit the exit code names.  Unknown codes: L0.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svm/nested/exit_reflect.h"

#include "tests/fuzz/fuzz_assert.h"

#define HDR 47
#define RAM_SIZE 0xb000u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* One bit of L1 memory at gpa, or 1 if it is not RAM. */
static int mem_bit(uint64_t gpa, unsigned bit)
{
	gpa += bit / 8;
	if (gpa >= RAM_SIZE)
		return 1;
	return (ram[gpa] >> (bit % 8)) & 1;
}

static int model(const struct vmcb_control *c, const struct nsvm_exit *e)
{
	uint32_t w[6] = { c->intercept_cr, c->intercept_dr, c->intercept_exc,
			  c->intercept_misc1, c->intercept_misc2, c->intercept_misc3 };
	uint64_t code = e->code;

	if (code == (uint64_t)-1)
		return 1;
	if (code == 0x52 || (code >= 0x60 && code <= 0x63) || (code >= 0x400 && code <= 0x403))
		return 0;
	if (code == 0x7b) {
		unsigned port = (e->info1 >> 16) & 0xffff;
		unsigned sz = (e->info1 & 0x40) ? 4 : (e->info1 & 0x20) ? 2 : 1;
		int any = 0;

		if (!(w[3] & (1u << 27)))
			return 0;
		for (unsigned b = port; b < port + sz; b++)
			any |= mem_bit(c->iopm_base_pa & ~0xfffull, b);
		return any;
	}
	if (code == 0x7c) {
		uint32_t m = e->msr;
		unsigned off;

		if (!(w[3] & (1u << 28)))
			return 0;
		if (m < 0x2000)
			off = 0;
		else if (m >= 0xc0000000u && m < 0xc0002000u)
			off = 0x800;
		else if (m >= 0xc0010000u && m < 0xc0012000u)
			off = 0x1000;
		else
			return 1;
		return mem_bit((c->msrpm_base_pa & ~0xfffull) + off,
			       (m & 0x1fff) * 2 + (e->info1 & 1));
	}
	if (code < 0x20)
		return (w[0] >> code) & 1;
	if (code < 0x40)
		return (w[1] >> (code - 0x20)) & 1;
	if (code < 0x60)
		return (w[2] >> (code - 0x40)) & 1;
	if (code < 0x80)
		return (w[3] >> (code - 0x60)) & 1;
	if (code < 0xa0)
		return (w[4] >> (code - 0x80)) & 1;
	if (code <= 0xa6)
		return (w[5] >> (code - 0xa0)) & 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem g;
	struct vmcb_control c;
	struct nsvm_exit e;
	const struct nsvm_exit_class *cls;
	uint16_t sel;
	enum nsvm_exit_owner o;

	if (size < HDR)
		return 0;
	gmem_init(&g);
	gmem_add(&g, 0, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0);
	gmem_add(&g, RAM_SIZE, 4096, GMEM_MMIO, 0, 1);
	memset(ram, 0, sizeof(ram));
	memcpy(ram + 0x4000, data + HDR,
	       size - HDR < RAM_SIZE - 0x4000 ? size - HDR : RAM_SIZE - 0x4000);

	memset(&c, 0, sizeof(c));
	c.intercept_cr = rd32(data);
	c.intercept_dr = rd32(data + 4);
	c.intercept_exc = rd32(data + 8);
	c.intercept_misc1 = rd32(data + 12);
	c.intercept_misc2 = rd32(data + 16);
	c.intercept_misc3 = rd32(data + 20);
	c.np_enable = data[24] & 1;
	memcpy(&sel, data + 25, 2);
	memset(&e, 0, sizeof(e));
	e.code = sel == 0xffff ? (uint64_t)-1 : sel == 0xfffe ? 0x400u + (sel & 0xff) % 5 : sel & 0x7ffu;
	memcpy(&e.info1, data + 27, 8);
	memcpy(&e.msr, data + 35, 4);
	c.iopm_base_pa = rd32(data + 39);
	c.msrpm_base_pa = rd32(data + 43);

	o = nsvm_reflect_exit(&c, &g, &e, &cls);
	CHECK(o == NSVM_TO_L0 || o == NSVM_TO_L1);
	CHECK((int)o == model(&c, &e));
	CHECK(cls == nsvm_exit_class_of(e.code));
	CHECK(nsvm_reflect_exit(&c, &g, &e, NULL) == o);
	/* whatever goes to L1 is something L1 intercepts */
	if (o == NSVM_TO_L1)
		CHECK(nsvm_l1_intercepts(&c, &g, &e));
	if (e.code == 0x400)
		CHECK(nsvm_l1_intercepts(&c, &g, &e) == (c.np_enable & 1));
	return 0;
}
