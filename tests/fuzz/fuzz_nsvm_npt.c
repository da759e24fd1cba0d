/*
 * libFuzzer target: the nested-NPT composer (svm/nested/npt_compose.c) on
 * arbitrary NPT12 tables in L1 memory, L1 paging state, L2 addresses and
 * NPT01 answers.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_nsvm_npt.c \
 *       svm/nested/npt_compose.c mm/gmem.c -o build/fuzz/fuzz_nsvm_npt
 *   mkdir -p build/fuzz/corpus-nsvm_npt
 *   build/fuzz/fuzz_nsvm_npt build/fuzz/corpus-nsvm_npt tests/fuzz/corpus/nsvm_npt
 *
 * Input layout (little-endian), HDR bytes then L1 RAM:
 *    0  u64 nCR3           8  u64 L2 GPA        16  u64 #NPF EXITINFO1
 *   24  u8  MAXPHYADDR    25  u8 flags: bit 0 long mode, 1 NXE, 2 1 GiB
 *                              pages, bits 4-5 NPT01 page size (4K, 2M,
 *                              1G, 4K), bit 6 NPT01 denies W, bit 7 X
 *   26  u8  NPT01 hole: L1 GPA page number (0xff: none)
 *   27  L1 RAM at GPA 0: up to 16 pages, zero-padded.  Above it one page
 *       of MMIO, then one page of ROM holding a copy of RAM's first page.
 *
 * Invariants, for every input:
 *   - the result kind is one of the five; legacy mode is UNSUPPORTED;
 *   - MAP: size is 4K/2M/1G and no bigger than NPT01's page; gpa02 is
 *     aligned and contains the GPA; hpa + (GPA - gpa02) is NPT01's HPA of
 *     l1_gpa; l1_gpa and the GPA agree below 4 KiB; rights include R, and
 *     W/X only as NPT01 allows; the access itself is allowed;
 *   - NPF: EXITINFO2 is the GPA; US is set; RSV implies P; RW/ID/bits
 *     32-33 are those of the #NPF; no other bits;
 *   - L1 memory changes only by A/D bits going from 0 to 1, only for MAP
 *     (or RETRY), never in ROM;
 *   - composing again gives the same kind and the same translation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svm/nested/npt_compose.h"

#include "tests/fuzz/fuzz_assert.h"

#define HDR 27
#define PAGE 4096u
#define MAX_RAM (16 * PAGE)
#define HPA_BASE 0x100000000ull

static uint8_t ram[MAX_RAM] __attribute__((aligned(4096)));
static uint8_t before[MAX_RAM];
static uint8_t rom[PAGE] __attribute__((aligned(4096)));
static uint8_t rom_before[PAGE];

struct n01 {
	uint64_t page_size;
	unsigned perms;
	uint64_t hole;
};

static int lookup(const void *ctx, uint64_t l1_gpa, uint64_t *hpa, unsigned *perms,
		  uint64_t *page_size)
{
	const struct n01 *n = ctx;

	if ((l1_gpa >> 12) == n->hole)
		return -1;
	*hpa = HPA_BASE + l1_gpa;
	*perms = n->perms;
	*page_size = n->page_size;
	return 0;
}

static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem g;
	struct nptc_regs r;
	struct nptc_result res, again;
	struct n01 n;
	uint64_t gpa, info1, ram_size;
	uint8_t fl;
	bool write, fetch;
	int kind;

	if (size < HDR)
		return 0;
	ram_size = (size - HDR + PAGE - 1) / PAGE * PAGE;
	if (ram_size == 0)
		ram_size = PAGE;
	if (ram_size > MAX_RAM)
		ram_size = MAX_RAM;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + HDR, size - HDR < ram_size ? size - HDR : ram_size);
	memcpy(rom, ram, PAGE);
	gmem_init(&g);
	gmem_add(&g, 0, ram_size, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0);
	gmem_add(&g, ram_size, PAGE, GMEM_MMIO, 0, 1);
	gmem_add(&g, ram_size + PAGE, PAGE, GMEM_ROM, (uint64_t)(uintptr_t)rom, 0);

	r.ncr3 = get64(data);
	gpa = get64(data + 8);
	info1 = get64(data + 16);
	r.maxphyaddr = data[24];
	fl = data[25];
	r.long_mode = fl & 1;
	r.nxe = fl & 2;
	r.allow_1g = fl & 4;
	n.page_size = ((fl >> 4) & 3) == 1 ? 1ull << 21 : ((fl >> 4) & 3) == 2 ? 1ull << 30 : PAGE;
	n.perms = 1 | ((fl & 0x40) ? 0 : 2) | ((fl & 0x80) ? 4 : 0);
	n.hole = data[26] == 0xff ? ~0ull : data[26];
	write = info1 & 2;
	fetch = info1 & 0x10;

	memcpy(before, ram, sizeof(ram));
	memcpy(rom_before, rom, sizeof(rom));
	kind = npt_compose(&g, &r, gpa, info1, lookup, &n, &res);
	CHECK(kind == res.kind && kind >= NPTC_MAP && kind <= NPTC_UNSUPPORTED);
	CHECK((kind == NPTC_UNSUPPORTED) == !r.long_mode);

	if (kind == NPTC_MAP) {
		CHECK(res.size == PAGE || res.size == 1ull << 21 || res.size == 1ull << 30);
		CHECK(res.size <= n.page_size);
		CHECK((res.gpa02 & (res.size - 1)) == 0 && gpa - res.gpa02 < res.size);
		CHECK((res.hpa & (res.size - 1)) == 0);
		CHECK(res.hpa + (gpa - res.gpa02) == HPA_BASE + res.l1_gpa);
		CHECK((res.l1_gpa & 0xfff) == (gpa & 0xfff));
		CHECK((res.perms & 1) && (res.perms & ~n.perms) == 0);
		CHECK(!write || (res.perms & 2));
		CHECK(!fetch || (res.perms & 4));
	}
	if (kind == NPTC_NPF_L1) {
		uint64_t keep = 2 | 0x10 | (3ull << 32);

		CHECK(res.exit_info2 == gpa);
		CHECK(res.exit_info1 & 4);
		CHECK(!(res.exit_info1 & 8) || (res.exit_info1 & 1));
		CHECK((res.exit_info1 & keep) == (info1 & keep));
		CHECK((res.exit_info1 & ~(keep | 0xfull)) == 0);
		CHECK(res.level >= 1 && res.level <= 4);
	}

	/* memory: only A/D bits, only 0 -> 1, only when mapping */
	CHECK(memcmp(rom, rom_before, sizeof(rom)) == 0);
	for (unsigned i = 0; i < MAX_RAM; i += 8) {
		uint64_t o = get64(before + i), nw = get64(ram + i);

		if (o == nw)
			continue;
		CHECK(kind == NPTC_MAP || kind == NPTC_RETRY);
		CHECK((o & ~nw) == 0 && ((o ^ nw) & ~0x60ull) == 0);
	}

	/* again: same answer (A/D already set now) */
	if (kind != NPTC_RETRY) {
		CHECK(npt_compose(&g, &r, gpa, info1, lookup, &n, &again) == kind);
		if (kind == NPTC_MAP)
			CHECK(again.hpa == res.hpa && again.size == res.size &&
			      again.gpa02 == res.gpa02 && again.perms == res.perms);
		if (kind == NPTC_NPF_L1)
			CHECK(again.exit_info1 == res.exit_info1);
	}
	return 0;
}
