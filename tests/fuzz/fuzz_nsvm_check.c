/*
 * libFuzzer target: VMRUN's checks on vmcb12 (svm/nested/vmcb12_check.c),
 * then — for images that pass — the vmcb02 merge, the #VMEXIT save and
 * the clean-bit cache (svm/nested/vmcb02_merge.c, vmcb_clean.c): the path
 * every VMRUN of L1 takes.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_nsvm_check.c \
 *       svm/nested/vmcb12_check.c svm/nested/vmcb02_merge.c svm/nested/vmcb_clean.c \
 *       mm/gmem.c -o build/fuzz/fuzz_nsvm_check
 *   mkdir -p build/fuzz/corpus-nsvm_check
 *   build/fuzz/fuzz_nsvm_check build/fuzz/corpus-nsvm_check tests/fuzz/corpus/nsvm_check
 *
 * Input layout (little-endian):
 *    0  u8  MAXPHYADDR for L1
 *    1  u8  flags: bit 0 no long mode (EFER LME/LMA not valid)
 *    2  6 bytes unused
 *    8  u64 vmcb12 GPA (rAX of VMRUN)
 *   16  the vmcb12 image, up to 4096 bytes, zero-padded
 * L1 memory: 64 KiB RAM at 0, an MMIO page at 64 KiB, a ROM page at
 * 128 KiB.  The seed (tests/fuzz/corpus/nsvm_check/golden) is the golden
 * image of tests/unit/test_nsvm_check.c.
 *
 * Invariants:
 *   - the address phase agrees with its rows run one by one;
 *   - the count equals the rows that fail one by one; failures come in
 *     table order with their row's name, reference and verdict; asking
 *     for one failure gives the same count and first failure;
 *   - an image that passes merges into a vmcb02 that intercepts all L1
 *     asked plus the SVM instructions, with V_INTR_MASKING, NP, the
 *     caller's ASID and maps, and L2's state unchanged; saving vmcb02
 *     back gives L1 its L2 state unchanged;
 *   - the clean-bit cache of an image, applied to itself, changes nothing
 *     and reports dirty exactly the groups whose bits are clear.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svm/nested/vmcb12_check.h"
#include "svm/nested/vmcb02_merge.h"
#include "svm/nested/vmcb_clean.h"

#include "tests/fuzz/fuzz_assert.h"

#define HDR 16

static uint8_t ram[64 * 1024] __attribute__((aligned(4096)));
static uint8_t rom[4096] __attribute__((aligned(4096)));
static struct vmcb v12, v01, v02, back;
static struct nsvm_vmcb12_cache cache;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem g;
	struct nsvm_limits lim;
	struct nsvm_check_failure fails[NSVM_CHECK_COUNT], one;
	uint64_t gpa = 0;
	bool addr_ok, row_ok;
	int n, expect = 0;

	if (size < HDR)
		return 0;
	gmem_init(&g);
	gmem_add(&g, 0, sizeof(ram), GMEM_RAM, (uint64_t)(uintptr_t)ram, 0);
	gmem_add(&g, 64 * 1024, 4096, GMEM_MMIO, 0, 1);
	gmem_add(&g, 128 * 1024, 4096, GMEM_ROM, (uint64_t)(uintptr_t)rom, 0);
	lim.maxphyaddr = data[0];
	lim.efer_valid = (data[1] & 1) ? 0x1801 : 0x1d01;
	lim.cr4_valid = 0x003707ff;
	lim.l1_mem = &g;
	memcpy(&gpa, data + 8, 8);
	memset(&v12, 0, sizeof(v12));
	memcpy(&v12, data + HDR, size - HDR < sizeof(v12) ? size - HDR : sizeof(v12));

	/* ---- phase 1 ---- */
	addr_ok = nsvm_vmcb12_addr_ok(gpa, &lim, &one);
	row_ok = true;
	for (unsigned id = 0; id < NSVM_CHK_ADDR_ROWS; id++) {
		struct nsvm_check_failure f;

		if (!nsvm_check_one(id, NULL, gpa, &lim, &f)) {
			if (row_ok) {   /* the first failing row is the one reported */
				CHECK(!addr_ok && one.id == id && one.verdict == NSVM_VMRUN_GP);
				CHECK(one.value == gpa);
			}
			row_ok = false;
		}
	}
	CHECK(addr_ok == row_ok);
	if (addr_ok)
		CHECK((gpa & 0xfff) == 0);

	/* ---- phase 2 ---- */
	n = nsvm_vmcb12_check(&v12, &lim, fails, NSVM_CHECK_COUNT);
	CHECK(n >= 0 && n <= NSVM_CHECK_COUNT - NSVM_CHK_ADDR_ROWS);
	for (unsigned id = NSVM_CHK_ADDR_ROWS; id < NSVM_CHECK_COUNT; id++) {
		struct nsvm_check_failure f;

		if (nsvm_check_one(id, &v12, 0, &lim, &f))
			continue;
		CHECK(expect < n);
		CHECK(fails[expect].id == id);
		CHECK(fails[expect].verdict == NSVM_VMRUN_INVALID);
		CHECK(fails[expect].name == nsvm_check_table[id].name);
		CHECK(fails[expect].apm_ref == nsvm_check_table[id].apm_ref);
		CHECK(fails[expect].value == f.value);
		expect++;
	}
	CHECK(expect == n);
	CHECK(nsvm_vmcb12_check(&v12, &lim, &one, 1) == n);
	if (n > 0)
		CHECK(one.id == fails[0].id);

	/* ---- clean bits: the cache of an image applied to itself ---- */
	nsvm_clean_store(&cache, gpa, &v12);
	back = v12;
	CHECK(nsvm_clean_apply(&back, &cache, gpa) ==
	      (~v12.ctl.clean & NSVM_CLEAN_ALL));
	CHECK(memcmp(&back, &v12, sizeof(back)) == 0);
	CHECK(nsvm_clean_apply(&back, &cache, gpa ^ 0x1000) == NSVM_CLEAN_ALL);

	if (n != 0)
		return 0;

	/* ---- merge what passed ---- */
	struct nsvm_merge_params p;
	memset(&v01, 0, sizeof(v01));
	v01.ctl.intercept_misc1 = 0x9d4c001b;
	v01.ctl.intercept_misc2 = 0x3c7f;
	v01.ctl.intercept_exc = 1u << 18;
	memset(&p, 0, sizeof(p));
	nsvm_l0_intercepts(&v01.ctl, &p.l0);
	p.asid02 = 5;
	p.n_cr3_02 = 0x5000;
	p.msrpm02_pa = 0x6000;
	p.iopm02_pa = 0x9000;
	p.tlb_flush_cmd = 3;
	unsigned flush = nsvm_merge_vmcb02(&v02, &v12, &v01, &p);
	CHECK((flush != 0) == (v12.ctl.tlb_control != 0));
	CHECK((v02.ctl.tlb_control != 0) == (flush != 0));
	CHECK((v02.ctl.intercept_cr & v12.ctl.intercept_cr) == v12.ctl.intercept_cr);
	CHECK((v02.ctl.intercept_dr & v12.ctl.intercept_dr) == v12.ctl.intercept_dr);
	CHECK((v02.ctl.intercept_exc & v12.ctl.intercept_exc) == v12.ctl.intercept_exc);
	CHECK((v02.ctl.intercept_misc1 & v12.ctl.intercept_misc1) == v12.ctl.intercept_misc1);
	CHECK((v02.ctl.intercept_misc2 & v12.ctl.intercept_misc2) == v12.ctl.intercept_misc2);
	CHECK((v02.ctl.intercept_misc3 & v12.ctl.intercept_misc3) == v12.ctl.intercept_misc3);
	CHECK((v02.ctl.intercept_misc2 & 0x7d) == 0x7d);
	CHECK(v02.ctl.intercept_misc1 & (1u << 26));
	CHECK(v02.ctl.asid == 5 && v02.ctl.np_enable == 1 && v02.ctl.n_cr3 == 0x5000);
	CHECK(v02.ctl.msrpm_base_pa == 0x6000 && v02.ctl.iopm_base_pa == 0x9000);
	CHECK(v02.ctl.vintr & (1ull << 24));
	CHECK(!(v02.ctl.vintr & ((1ull << 25) | (1ull << 31) | (1ull << 30))));
	CHECK(v02.ctl.event_inj == v12.ctl.event_inj && v02.ctl.virt_ext == 0);
	CHECK(v02.save.cr3 == v12.save.cr3 && v02.save.efer == v12.save.efer);
	CHECK(memcmp(&v02.save.cs, &v12.save.cs, sizeof(v02.save.cs)) == 0);

	/* ---- and back: L1 gets its L2 state unchanged ---- */
	back = v12;
	v02.ctl.exit_code = 0x72;
	nsvm_save_l2_state(&back, &v02, false);
	CHECK(back.save.cr0 == v12.save.cr0 && back.save.rip == v12.save.rip);
	CHECK(back.save.rflags == v12.save.rflags && back.save.cpl == v12.save.cpl);
	CHECK(memcmp(&back.save.ds, &v12.save.ds, sizeof(back.save.ds)) == 0);
	CHECK((back.ctl.vintr & ~0x1ffull) == (v12.ctl.vintr & ~0x1ffull));
	CHECK(back.ctl.exit_code == 0x72 && back.ctl.insn_len == 0);
	/* #VMEXIT leaves TLB_CONTROL and clears EVENTINJ (APM vol. 3 VMRUN:
	 * "clear EVENTINJ field in VMCB") */
	CHECK(back.ctl.tlb_control == v12.ctl.tlb_control && back.ctl.event_inj == 0);
	return 0;
}
