/*
 * The NPT12 test guest: run as L2 under svmhv (tests/guests/svmhv.c) or
 * vmxhv (tests/guests/vmxhv.c), it asks its L1 to change the second-level
 * table that maps L2's memory into L1's — NPT12 (AMD APM vol. 2, 15.25) or
 * EPT12 (Intel SDM vol. 3C, 29.3) — while it runs, and checks that the
 * change takes effect at once: the hypervisor below L1 (QEMU's or Bochs's
 * CPU, or Nestor, which caches NPT12/EPT12 in its NPT02/EPT02) must follow
 * L1's edits once L1 flushes (TLB_CONTROL, APM 15.16.1; INVEPT, SDM
 * 29.4.3.4).
 *   (a) a 4 KiB page remapped to another L1 page: new contents seen, writes
 *       land there, the old page untouched;
 *   (b) a page unmapped: touching it makes exactly one #NPF (EPT violation)
 *       in L1, which maps it back, and the access completes;
 *   (c) a 2 MiB page replaced by 512 4 KiB pages pointing elsewhere;
 *   (d) one 1 GiB page (PDPTE.PS) at L2 GPA 4 GiB onto L1 GPAs 0..1 GiB,
 *       where L1's CPU has 1 GiB pages (else skipped): L2 reads a page L1
 *       filled, and its write lands there.  Only L1's RAM in that GiB is
 *       memory, so L2 touches nothing else there.
 * Both L1s speak one ABI (rt/svm_guest.h, rt/vmx_guest.h); l1hv_call()
 * uses VMMCALL on AMD and VMCALL on Intel.  Not under either, it says so
 * and checks nothing.  L2's own page tables are the runtime's identity
 * map, so its addresses are L2 GPAs.
 */
#include <stdio.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/svm_guest.h"

#define MIB (1024 * 1024ull)
#define UNMAP_2M_GPA (12 * MIB + 5 * 4096)  /* a 4 KiB page inside a 2 MiB NPT12 page */
#define SPLIT_GPA (16 * MIB)                 /* a whole 2 MiB NPT12 page */
#define MAP_1G_GPA (4096 * MIB)              /* a 1 GiB NPT12 page, above L2's RAM */

static uint64_t page_a[512] __attribute__((aligned(4096)));
static uint64_t page_b[512] __attribute__((aligned(4096)));
static uint64_t pd_4g[512] __attribute__((aligned(4096)));   /* L2's PD for VAs 4..5 GiB */

/* The L1 and its fault in result names, per vendor.  On AMD the names are
 * the ones the nested-svm scenario has always matched. */
static const char *hv = "svmhv", *npf = "#NPF";
static char label[128];
static const char *nm(const char *fmt, const char *a)
{
	snprintf(label, sizeof(label), fmt, a);
	return label;
}

/* Op 0 (VMMCALL or VMCALL, 3 bytes either way); a #UD (no hypervisor) or
 * another answer means no L1 of ours. */
static bool under_l1hv(void)
{
	if (!l1hv_amd()) {
		hv = "vmxhv";
		npf = "EPT violation";
	}
	rt_expect_fault(3);
	long r = l1hv_call(SVMHV_PRESENT, 0, 0);
	return !rt_fault_taken(NULL) && r == 1;
}

static void test_remap(void)
{
	volatile uint64_t *p = page_a;
	uint64_t gpa = (uint64_t)page_a;
	for (unsigned i = 0; i < 512; i++)
		p[i] = ~svmhv_pattern(gpa + 8 * i);
	CHECK(l1hv_call(SVMHV_REMAP, gpa, 0) == 0, nm("remap: %s maps a 4 KiB L2 page to a new L1 page", hv));
	unsigned bad = 0;
	for (unsigned i = 0; i < 512; i++)
		bad += p[i] != svmhv_pattern(gpa + 8 * i);
	rt_check(bad == 0, "remap: L2 reads the new L1 page", "%u of 512 qwords are not %s's (page at %#lx)",
		 bad, hv, (unsigned long)gpa);
	p[7] = 0x0123456789abcdefull;
	CHECK(l1hv_call(SVMHV_READ_BACKING, gpa + 56, 0) == 0x0123456789abcdefll,
	      "remap: L2's write lands in the new L1 page");
	CHECK(l1hv_call(SVMHV_READ_ORIGINAL, gpa + 56, 0) == (long)~svmhv_pattern(gpa + 56),
	      "remap: the old L1 page is untouched");
	CHECK(l1hv_call(SVMHV_RESTORE, gpa, 0) == 0, nm("remap: %s maps the old L1 page back", hv));
	rt_check(p[7] == ~svmhv_pattern(gpa + 56) && p[511] == ~svmhv_pattern(gpa + 8 * 511),
		 "remap: L2 reads the old page's contents again", "qword 7 is %#lx", (unsigned long)p[7]);
}

/* Unmap a page, touch it (a read or a write): L1 takes one #NPF (EPT
 * violation) there, maps the page back, and the access completes. */
static void unmap_and_touch(uint64_t gpa, bool write, const char *where)
{
	volatile uint64_t *p = (volatile uint64_t *)gpa;
	char name[128];
	p[3] = 0xfeedface00000000ull | gpa;
	snprintf(name, sizeof(name), "unmap %s: %s clears the %s entry", where, hv, l1hv_amd() ? "NPT12" : "EPT12");
	CHECK(l1hv_call(SVMHV_UNMAP, gpa, 0) == 0 && l1hv_call(SVMHV_NPF_COUNT, gpa, 0) == 0, name);
	uint64_t v;
	if (write) {
		p[4] = 0x4444;
		v = p[3];
	} else {
		v = p[3];
	}
	long faults = l1hv_call(SVMHV_NPF_COUNT, gpa, 0);
	snprintf(name, sizeof(name), "unmap %s: the %s takes exactly one %s in %s", where, write ? "write" : "read", npf, hv);
	rt_check(faults == 1, name, "%ld %s exits at L2 GPA %#lx", faults, npf, (unsigned long)gpa);
	snprintf(name, sizeof(name), "unmap %s: the access completes once %s maps the page back", where, hv);
	CHECK(v == (0xfeedface00000000ull | gpa) && (!write || p[4] == 0x4444), name);
	snprintf(name, sizeof(name), "unmap %s: no more %s after that", where, npf);
	(void)p[5];
	CHECK(l1hv_call(SVMHV_NPF_COUNT, gpa, 0) == 1, name);
}

static void test_split(void)
{
	volatile uint64_t *p = (volatile uint64_t *)SPLIT_GPA;
	for (unsigned i = 0; i < 512; i++) {
		p[i * 512] = ~svmhv_pattern(SPLIT_GPA + i * 4096);
		p[i * 512 + 511] = ~svmhv_pattern(SPLIT_GPA + i * 4096 + 8 * 511);
	}
	CHECK(l1hv_call(SVMHV_SPLIT_REMAP, SPLIT_GPA, 0) == 0, nm("split: %s replaces a 2 MiB page by 512 4 KiB pages", hv));
	unsigned bad = 0;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t g = SPLIT_GPA + i * 4096;
		bad += p[i * 512] != svmhv_pattern(g) || p[i * 512 + 511] != svmhv_pattern(g + 8 * 511);
	}
	rt_check(bad == 0, "split: each 4 KiB page shows its new L1 page", "%u of 512 pages wrong", bad);
	p[300 * 512 + 9] = 0x5a5a;
	CHECK(l1hv_call(SVMHV_READ_BACKING, SPLIT_GPA + 300 * 4096 + 72, 0) == 0x5a5a,
	      "split: a write lands in its new L1 page");
	CHECK(l1hv_call(SVMHV_RESTORE, SPLIT_GPA, 1) == 0, nm("split: %s maps the 2 MiB page back", hv));
	bad = 0;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t g = SPLIT_GPA + i * 4096;
		bad += p[i * 512] != ~svmhv_pattern(g) || p[i * 512 + 511] != ~svmhv_pattern(g + 8 * 511);
	}
	rt_check(bad == 0, "split: the old 2 MiB page is back, untouched", "%u of 512 pages wrong", bad);
}

/* The runtime's identity map covers 4 GiB (PML4[0] -> PDPT[0..3]); add
 * PDPT[4] -> pd_4g, identity in 2 MiB pages, to reach MAP_1G_GPA. */
static void map_l2_4g(void)
{
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	uint64_t *pml4 = (uint64_t *)(cr3 & 0x000ffffffffff000ull);
	uint64_t *pdpt = (uint64_t *)(pml4[0] & 0x000ffffffffff000ull);
	for (unsigned i = 0; i < 512; i++)
		pd_4g[i] = (MAP_1G_GPA + i * 2 * MIB) | 0x83;           /* P, RW, PS */
	pdpt[4] = (uint64_t)pd_4g | 3;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static void test_map_1g(void)
{
	const char *tbl = l1hv_amd() ? "NPT12" : "EPT12";
	char name[128];
	long page = l1hv_call(SVMHV_MAP_1G, MAP_1G_GPA, 0);
	if (page == -1) {
		rt_printf("INFO: 1G: %s offers no 1 GiB %s pages here; skipped\n", hv, tbl);
		return;
	}
	snprintf(name, sizeof(name), "1G: %s maps L1's first GiB with one 1 GiB %s page", hv, tbl);
	rt_check(page > 0 && !(page & 0xfff) && page < 1024 * (long)MIB, name, "returned %#lx", (unsigned long)page);
	if (page <= 0 || (page & 0xfff) || page >= 1024 * (long)MIB)
		return;
	map_l2_4g();
	uint64_t gpa = MAP_1G_GPA + (uint64_t)page;
	volatile uint64_t *p = (volatile uint64_t *)gpa;
	unsigned bad = 0;
	for (unsigned i = 0; i < 512; i++)
		bad += p[i] != svmhv_pattern(gpa + 8 * i);
	snprintf(name, sizeof(name), "1G: L2 reads L1 memory through a 1 GiB %s page", tbl);
	rt_check(bad == 0, name, "%u of 512 qwords at L2 %#lx (L1 %#lx) are not %s's; qword 0 is %#lx", bad,
		 (unsigned long)gpa, (unsigned long)page, hv, (unsigned long)p[0]);
	p[9] = 0x1617181920212223ull;
	snprintf(name, sizeof(name), "1G: L2's write through the 1 GiB %s page lands in L1 memory", tbl);
	CHECK(l1hv_call(SVMHV_READ_BACKING, gpa + 72, 0) == 0x1617181920212223ll &&
	      l1hv_call(SVMHV_READ_BACKING, gpa + 80, 0) == (long)svmhv_pattern(gpa + 80), name);
}

/* Execute-only EPT12 (VMX only; SDM 29.3.2): code in an execute-only
 * page runs, and a read of it is one EPT violation whose qualification
 * says "read; the entry allowed execute only" (28.2.1: bits 2:0 the
 * access, 5:3 the entry's rights).  vmxhv then maps the page back. */
static uint8_t xo_page[4096] __attribute__((aligned(4096)));
static void test_exec_only(void)
{
	/* mov eax, 0x5a17; ret */
	static const uint8_t code[] = { 0xb8, 0x17, 0x5a, 0x00, 0x00, 0xc3 };
	for (unsigned i = 0; i < sizeof(code); i++)
		xo_page[i] = code[i];
	xo_page[100] = 0x77;
	uint64_t gpa = (uint64_t)xo_page;
	if (l1hv_call(SVMHV_EXEC_ONLY, gpa, 0) != 0) {
		rt_printf("INFO: exec-only: %s offers no execute-only EPT12 pages here; skipped\n", hv);
		return;
	}
	CHECK(true, "exec-only: vmxhv maps a page execute-only in EPT12");
	uint32_t (*fn)(void) = (uint32_t (*)(void))(void *)xo_page;
	uint32_t got = fn();
	CHECK(got == 0x5a17 && l1hv_call(SVMHV_NPF_COUNT, gpa, 0) == 0,
	      "exec-only: L2 runs code from it without an EPT violation");
	uint8_t v = *(volatile uint8_t *)(xo_page + 100);
	long faults = l1hv_call(SVMHV_NPF_COUNT, gpa, 0), qual = l1hv_call(SVMHV_LAST_QUAL, gpa, 0);
	rt_check(faults == 1 && qual == (1 | (4 << 3)), "exec-only: a read is one EPT violation: read, entry X only",
		 "%ld violations, qualification bits 5:0 %#lx", faults, (unsigned long)qual);
	CHECK(v == 0x77, "exec-only: the read completes once vmxhv maps the page back");
}

void guest_main(void)
{
	if (!under_l1hv()) {
		rt_printf("npt12: not running under %s; nothing to test\n", hv);
		return;
	}
	rt_printf("npt12: under %s, %lu MiB of L2 RAM, command line \"%s\", test pages at %#lx and %#lx\n", hv,
		  (unsigned long)(rt_boot.ram_bytes / MIB), rt_boot.cmdline ? rt_boot.cmdline : "",
		  (unsigned long)(uint64_t)page_a, (unsigned long)(uint64_t)page_b);
	if (rt_boot.ram_bytes < SPLIT_GPA + 2 * MIB) {
		rt_check(false, "npt12: L2 RAM", "%lu MiB; the tests need 18", (unsigned long)(rt_boot.ram_bytes / MIB));
		return;
	}
	test_remap();
	unmap_and_touch((uint64_t)page_b, false, "4K page");
	unmap_and_touch(UNMAP_2M_GPA, true, "page in a 2M page");
	test_split();
	test_map_1g();
	if (!l1hv_amd())
		test_exec_only();    /* NPT has no execute-only pages */
}
