/*
 * libFuzzer target: nvmx_ept_compose (vmx/nested/ept_compose.c) over random
 * EPT12 memory, EPTP, L2 GPA, access and advertised capabilities.
 *
 * Input: 24 bytes of parameters (eptp 8, gpa 8, access 1, caps 1 [bit 0
 * exec-only, 1 2M, 2 1G, 3 A/D, 4 5-level], maxphyaddr 1, EPT01 1 [bits
 * 1:0 page size, bit 2..4 perms, bit 5 limit], 4 spare), then up to 64 KiB
 * of L1 memory (GPA 0..64K) holding the tables.
 *
 * Invariants: no crash, no access outside L1 memory (ASan); a MAP result is
 * consistent (size 4K/2M/1G, gpa/hpa aligned, the access allowed); a
 * violation qualification names the access and EPT12 permissions that do
 * not allow it; the walk is deterministic (A/D writes only add bits).
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined \
 *       tests/fuzz/fuzz_nvmx_ept.c vmx/nested/ept_compose.c mm/gmem.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/nested/ept_compose.h"

#include "tests/fuzz/fuzz_assert.h"

#define RAM 0x10000
static uint8_t ram[RAM] __attribute__((aligned(4096)));

struct e01 { uint64_t page, limit; unsigned perms; };

static int ept01(void *ctx, uint64_t gpa, uint64_t *hpa, unsigned *perms, uint64_t *size)
{
	struct e01 *e = ctx;
	if (gpa >= e->limit)
		return -1;
	*hpa = 0x1000000000ull + gpa;
	*perms = e->perms;
	*size = e->page;
	return 0;
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t pages[4] = { 0x1000, 0x200000, 0x40000000, 0x1000 };
	struct nvmx_ept_walk w;
	struct nvmx_ept_result r1, r2;
	struct vmx_caps adv;
	struct gmem g;
	struct e01 e;
	size_t n;

	if (size < 24)
		return 0;
	memset(&w, 0, sizeof w);
	memset(&adv, 0, sizeof adv);
	w.eptp12 = get_le(data, 8);
	w.l2_gpa = get_le(data + 8, 8);
	w.access = 1u << (data[16] % 3);
	w.gla_valid = data[16] & 0x10;
	w.gla_translation = data[16] & 0x20;
	adv.ept_vpid = VMX_EPT_WALK_4 |
		       ((data[17] & 1) ? VMX_EPT_EXEC_ONLY : 0) |
		       ((data[17] & 2) ? VMX_EPT_2M : 0) |
		       ((data[17] & 4) ? VMX_EPT_1G : 0) |
		       ((data[17] & 8) ? VMX_EPT_AD : 0) |
		       ((data[17] & 16) ? VMX_EPT_WALK_5 : 0);
	w.maxphyaddr = data[18];
	e.page = pages[data[19] & 3];
	e.perms = (data[19] >> 2) & 7;
	e.limit = (data[19] & 0x20) ? RAM / 2 : ~0ull;

	memset(ram, 0, RAM);
	n = size - 24 < RAM ? size - 24 : RAM;
	memcpy(ram, data + 24, n);
	gmem_init(&g);
	CHECK(gmem_add(&g, 0, RAM, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0) == 0);

	nvmx_ept_compose(&g, &adv, &w, ept01, &e, &r1);
	switch (r1.kind) {
	case NVMX_EPT_MAP:
		CHECK(r1.size == 0x1000 || r1.size == 0x200000 || r1.size == 0x40000000);
		CHECK(r1.size <= e.page);
		CHECK((r1.gpa & (r1.size - 1)) == 0 && (r1.hpa & (r1.size - 1)) == 0);
		CHECK(r1.gpa == (w.l2_gpa & ~(r1.size - 1)));
		CHECK(r1.hpa + (w.l2_gpa & (r1.size - 1)) == 0x1000000000ull + r1.l1_gpa);
		CHECK((r1.perms & w.access) == w.access);
		CHECK((r1.perms & ~e.perms) == 0);
		CHECK(r1.memtype != 2 && r1.memtype != 3 && r1.memtype != 7);
		break;
	case NVMX_EPT_VIOLATION:
		CHECK((r1.qual & 7) == w.access);
		CHECK((((r1.qual >> 3) & 7) & w.access) != w.access);
		CHECK(!(r1.qual & 0x80) == !w.gla_valid);
		CHECK((r1.qual & ~0x1bfull) == 0);
		break;
	case NVMX_EPT_MISCONFIG:
	case NVMX_EPT_L0_FAULT:
		break;
	default:
		CHECK(0);
	}
	/* again, over memory the first walk may have marked A/D */
	nvmx_ept_compose(&g, &adv, &w, ept01, &e, &r2);
	CHECK(r2.kind == r1.kind);
	if (r1.kind == NVMX_EPT_MAP)
		CHECK(r2.hpa == r1.hpa && r2.size == r1.size && (r2.perms & r1.perms) == r1.perms);
	return 0;
}
