/*
 * libFuzzer target: the guest page-table walker (mm/gwalk.c) on arbitrary
 * guest memory and paging state.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_gwalk.c \
 *       mm/gwalk.c mm/gmem.c -o build/fuzz/fuzz_gwalk
 *   build/fuzz/fuzz_gwalk tests/fuzz/corpus/gwalk
 *
 * Input layout (little-endian), HDR bytes of header then guest RAM:
 *    0  u64 cr0      8  u64 cr3     16  u64 cr4     24  u64 efer
 *   32  u8  maxphyaddr
 *   33  u64 gva
 *   41  u8  flags: bit 0 use the 4 PDPTEs below as loaded PDPTE registers
 *   42  u64 pdpte[4]
 *   74  guest RAM: at most MAX_RAM bytes, zero-padded to whole pages,
 *       mapped at GPA 0.  Above it: one page of MMIO, then one page of
 *       ROM holding a copy of RAM's first page.
 *
 * The walker must never crash or read outside the map (ASan), and for
 * every input:
 *   - it never writes guest memory (no A/D bits: the walker is read-only);
 *   - results are well-formed for their kind (page sizes, offsets kept,
 *     the error code's W/U/I bits describe the access, RSVD implies P,
 *     fault 2 names an entry that really is not in RAM/ROM);
 *   - the walk itself does not depend on the access: fault 2, fault 3,
 *     not-present and reserved-bit results, the number of entries read and
 *     the translation are the same for all 8 access kinds;
 *   - rights are monotonic: an access that succeeds still succeeds
 *     without its write or fetch part;
 *   - every address in the translated page translates the same way;
 *   - PAE: PDPTE registers equal to memory give the same result as
 *     reading memory at walk time.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/gwalk.h"

#include "tests/fuzz/fuzz_assert.h"

#define HDR 74
#define PAGE 4096u
#define MAX_RAM (16 * PAGE)

static uint8_t ram[MAX_RAM] __attribute__((aligned(4096)));
static uint8_t ram_before[MAX_RAM];
static uint8_t rom[PAGE] __attribute__((aligned(4096)));

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint64_t effective_gva(const struct gwalk_regs *r, uint64_t gva)
{
	bool long_mode = (r->cr0 >> 31 & 1) && (r->cr4 >> 5 & 1) && (r->efer >> 8 & 1);
	return long_mode ? gva : gva & 0xffffffffu;
}

/* The part of a result that must not depend on the kind of access. */
static int structure(const struct gwalk_result *res)
{
	if (res->fault != GW_FAULT_PF)
		return res->fault;
	if (!(res->pf_error & GW_PF_P))
		return 10;                      /* not present */
	if (res->pf_error & GW_PF_RSVD)
		return 11;                      /* reserved bit */
	return 0;                               /* a full walk: rights decided */
}

static void check_one(const struct gmem *g, const struct gwalk_regs *r, uint64_t gva,
		      unsigned access, const struct gwalk_result *res, int rc)
{
	CHECK(rc == res->fault);
	CHECK(res->fault >= 0 && res->fault <= 3);
	CHECK(res->levels <= 5);
	switch (res->fault) {
	case GW_OK: {
		uint64_t ps = res->page_size;
		CHECK(ps == 1u << 12 || ps == 1u << 21 || ps == 1u << 22 || ps == 1u << 30);
		CHECK((res->gpa & (ps - 1)) == (effective_gva(r, gva) & (ps - 1)));
		CHECK(res->pf_error == 0);
		CHECK(res->gpa < (1ull << 52));
		break;
	}
	case GW_FAULT_PF:
		CHECK(res->gpa == 0 && res->page_size == 0);
		CHECK((res->pf_error & ~0x1fu) == 0);
		CHECK(!!(res->pf_error & GW_PF_W) == !!(access & GW_WRITE));
		CHECK(!!(res->pf_error & GW_PF_U) == !!(access & GW_USER));
		CHECK(!(res->pf_error & GW_PF_I) || (access & GW_FETCH));
		CHECK(!(res->pf_error & GW_PF_RSVD) || (res->pf_error & GW_PF_P));
		CHECK(res->levels >= 1);
		break;
	case GW_FAULT_TABLE:
		/* entries are naturally aligned: the first byte decides */
		CHECK(gmem_ptr(g, res->gpa, 1, false) == NULL);
		CHECK(res->pf_error == 0);
		break;
	case GW_FAULT_NONCANONICAL:
		CHECK(res->levels == 0 && res->pf_error == 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gmem g;
	struct gwalk_regs r;
	struct gwalk_result res[8], again;
	uint64_t gva, pdpte[4];
	size_t ram_len, ram_pages;

	if (size < HDR)
		return 0;
	memset(&r, 0, sizeof(r));
	r.cr0 = get64(data + 0);
	r.cr3 = get64(data + 8);
	r.cr4 = get64(data + 16);
	r.efer = get64(data + 24);
	r.maxphyaddr = data[32];
	gva = get64(data + 33);
	for (int i = 0; i < 4; i++)
		pdpte[i] = get64(data + 42 + 8 * i);
	if (data[41] & 1)
		r.pdpte = pdpte;

	ram_len = size - HDR < MAX_RAM ? size - HDR : MAX_RAM;
	ram_pages = ram_len / PAGE + 1;
	memset(ram, 0, ram_pages * PAGE);
	memcpy(ram, data + HDR, ram_len);
	memcpy(rom, ram, PAGE);
	memcpy(ram_before, ram, ram_pages * PAGE);

	gmem_init(&g);
	CHECK(gmem_add(&g, 0, ram_pages * PAGE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0) == 0);
	CHECK(gmem_add(&g, ram_pages * PAGE, PAGE, GMEM_MMIO, 0, 1) == 0);
	CHECK(gmem_add(&g, (ram_pages + 1) * PAGE, PAGE, GMEM_ROM, (uint64_t)(uintptr_t)rom, 0) == 0);

	/* all 8 access kinds */
	for (unsigned a = 0; a < 8; a++) {
		int rc = gwalk(&g, &r, gva, a, &res[a]);
		check_one(&g, &r, gva, a, &res[a], rc);
	}
	CHECK(memcmp(ram, ram_before, ram_pages * PAGE) == 0);

	for (unsigned a = 0; a < 8; a++) {
		CHECK(structure(&res[a]) == structure(&res[0]));
		CHECK(res[a].levels == res[0].levels);
		if (res[a].fault == GW_FAULT_TABLE)
			CHECK(res[a].gpa == res[0].gpa);
		if (res[a].fault != GW_OK)
			continue;
		/* monotonic rights */
		CHECK(res[a & ~(unsigned)GW_WRITE].fault == GW_OK);
		CHECK(res[a & ~(unsigned)GW_FETCH].fault == GW_OK);
		/* one translation whatever the access */
		for (unsigned b = 0; b < a; b++)
			if (res[b].fault == GW_OK)
				CHECK(res[b].gpa == res[a].gpa && res[b].page_size == res[a].page_size);
	}

	/* Another address in the same page: same outcome, same page. */
	for (unsigned a = 0; a < 8; a++) {
		uint64_t other, off;

		if (res[a].fault != GW_OK)
			continue;
		off = (gva * 0x9e3779b97f4a7c15ull) & (res[a].page_size - 1);
		other = (gva & ~(res[a].page_size - 1)) | off;
		CHECK(gwalk(&g, &r, other, a, &again) == GW_OK);
		CHECK(again.page_size == res[a].page_size);
		CHECK(again.gpa == (res[a].gpa & ~(res[a].page_size - 1)) + off);
		break;
	}

	/* PAE: loaded PDPTEs equal to memory behave like reading memory. */
	if (r.pdpte == NULL && (r.cr0 >> 31 & 1) && (r.cr4 >> 5 & 1) && !(r.efer >> 8 & 1) &&
	    gmem_read(&g, r.cr3 & 0xffffffe0u, pdpte, sizeof(pdpte)) == 0) {
		struct gwalk_regs loaded = r;
		loaded.pdpte = pdpte;
		for (unsigned a = 0; a < 8; a++) {
			CHECK(gwalk(&g, &loaded, gva, a, &again) == res[a].fault);
			CHECK(again.gpa == res[a].gpa && again.pf_error == res[a].pf_error &&
			      again.page_size == res[a].page_size && again.levels == res[a].levels);
		}
	}
	return 0;
}
