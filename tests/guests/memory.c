/*
 * The memory test guest: all of RAM is there and keeps what is written,
 * the guest's own page tables work (4 KiB and 2 MiB mappings, #PF with the
 * right error code and CR2), MMIO to an emulated hole decodes right for
 * each instruction form, and memory beyond RAM reads all-ones and never
 * reaches anything (writes are dropped).
 */
#include <string.h>
#include "tests/guests/rt/rt.h"

#define HOLE 0xd0000000ull           /* no device there: an empty bus */
extern char __kernel_end[];

static void test_all_ram(void)
{
	uint64_t start = ((uint64_t)__kernel_end + 0x1fffff) & ~0x1fffffull;
	uint64_t end = rt_boot.ram_bytes, pages = 0, bad = 0;
	for (uint64_t pa = start; pa < end; pa += 4096)
		*(volatile uint64_t *)pa = pa ^ 0x5a5a5a5a5a5a5a5aull, pages++;
	for (uint64_t pa = start; pa < end; pa += 4096)
		if (*(volatile uint64_t *)pa != (pa ^ 0x5a5a5a5a5a5a5a5aull))
			bad++;
	rt_check(pages > 0 && bad == 0, "memory: every RAM page keeps its pattern",
		 "%lu of %lu pages wrong", (unsigned long)bad, (unsigned long)pages);
}

/* Extra mappings at 1 GiB: one 2 MiB page and one 4 KiB page table. */
static uint64_t pd_extra[512] __attribute__((aligned(4096)));
static uint64_t pt_extra[512] __attribute__((aligned(4096)));

static void test_own_page_tables(void)
{
	uint64_t *pml4 = (uint64_t *)(read_cr3() & ~0xfffull);
	uint64_t *pdpt = (uint64_t *)(pml4[0] & 0x000ffffffffff000ull);
	pdpt[1] = (uint64_t)pd_extra | 3;                 /* 1 GiB - 2 GiB */
	pd_extra[0] = 0x400000 | 0x83;                    /* 2 MiB page -> 4 MiB */
	pd_extra[1] = (uint64_t)pt_extra | 3;
	pt_extra[5] = 0x600000 | 3;                       /* 4 KiB page -> 6 MiB */
	write_cr3(read_cr3());
	volatile uint64_t *big = (volatile uint64_t *)(0x40000000ull + 0x1230);
	*big = 0x1122334455667788ull;
	CHECK(*(volatile uint64_t *)(0x400000ull + 0x1230) == 0x1122334455667788ull,
	      "paging: guest 2 MiB page maps where the guest said");
	volatile uint32_t *small = (volatile uint32_t *)(0x40200000ull + 5 * 4096 + 8);
	*small = 0xcafe;
	CHECK(*(volatile uint32_t *)(0x600000ull + 8) == 0xcafe, "paging: guest 4 KiB page maps where the guest said");

	struct rt_fault f;
	rt_expect_fault(2); /* mov (%rbx), %eax: 8b 03 */
	uint64_t addr = 0x40200000ull + 7 * 4096 + 16; /* PTE 7 not present */
	uint32_t val;
	__asm__ volatile("mov (%%rbx), %%eax" : "=a"(val) : "b"(addr));
	(void)val;
	rt_fault_taken(&f);
	CHECK(f.vector == 14 && f.cr2 == addr && (f.error & 3) == 0, "paging: #PF on a not-present guest page, CR2 and error code");
}

static void test_mmio_forms(void)
{
	volatile uint8_t *b = (volatile uint8_t *)HOLE;
	volatile uint16_t *w = (volatile uint16_t *)HOLE;
	volatile uint32_t *d = (volatile uint32_t *)HOLE;
	volatile uint64_t *q = (volatile uint64_t *)HOLE;
	CHECK(*b == 0xff, "mmio: 8-bit load reads all-ones");
	CHECK(*w == 0xffff, "mmio: 16-bit load reads all-ones");
	CHECK(*d == 0xffffffffu, "mmio: 32-bit load reads all-ones");
	CHECK(*q == ~0ull, "mmio: 64-bit load reads all-ones");
	uint64_t r = 0x1234567812345678ull;
	__asm__ volatile("movzbl (%1), %k0" : "+r"(r) : "r"(HOLE));
	CHECK(r == 0xff, "mmio: MOVZX byte zero-extends");
	__asm__ volatile("movsbq (%1), %0" : "=r"(r) : "r"(HOLE));
	CHECK(r == ~0ull, "mmio: MOVSX byte sign-extends");
	r = 0x1111111111111111ull;
	__asm__ volatile("movw (%1), %w0" : "+r"(r) : "r"(HOLE));
	CHECK(r == 0x111111111111ffffull, "mmio: 16-bit load keeps the upper register bits");
	r = 0x1111111111111111ull;
	__asm__ volatile("movl (%1), %k0" : "+r"(r) : "r"(HOLE));
	CHECK(r == 0xffffffffull, "mmio: 32-bit load zero-extends to 64");
	uint64_t ax = 0x1234;
	__asm__ volatile("movb (%%rbx), %%ah" : "+a"(ax) : "b"(HOLE));
	CHECK(ax == 0xff34, "mmio: load into AH");
	*d = 0x12345678;                 /* stores: dropped, must not fault */
	*q = 0x1122334455667788ull;
	__asm__ volatile("movl $0x55, (%0)" : : "r"(HOLE) : "memory");
	CHECK(*d == 0xffffffffu, "mmio: stores to a hole are dropped");
	uint8_t buf[32];
	memset(buf, 0, sizeof(buf));
	uint64_t n = sizeof(buf), src = HOLE, dst = (uint64_t)buf;
	__asm__ volatile("rep movsb" : "+c"(n), "+S"(src), "+D"(dst) : : "memory");
	bool all = true;
	for (unsigned i = 0; i < sizeof(buf); i++)
		all &= buf[i] == 0xff;
	CHECK(all && n == 0 && src == HOLE + 32, "mmio: REP MOVSB from a hole into RAM");
	n = 8;
	dst = HOLE;
	__asm__ volatile("rep stosl" : "+c"(n), "+D"(dst) : "a"(0xabcd) : "memory");
	CHECK(n == 0 && dst == HOLE + 32, "mmio: REP STOSD into a hole");
}

static void test_beyond_ram(void)
{
	uint64_t beyond = (rt_boot.ram_bytes + 0x200000) & ~0xfffull;
	volatile uint64_t *p = (volatile uint64_t *)beyond;
	CHECK(*p == ~0ull, "boundaries: memory beyond RAM reads all-ones");
	*p = 0;
	CHECK(*p == ~0ull, "boundaries: writes beyond RAM are dropped");
	volatile uint32_t *top = (volatile uint32_t *)(0xfffff000ull);
	CHECK(*top == 0xffffffffu, "boundaries: the top of 4 GiB reads all-ones");
}

void guest_main(void)
{
	rt_printf("memory test guest: %lu MiB RAM\n", (unsigned long)(rt_boot.ram_bytes >> 20));
	test_all_ram();
	test_own_page_tables();
	if (!rt_under_nestor()) {
		rt_printf("memory: MMIO and boundary checks need Nestor's platform; skipped\n");
		return;
	}
	test_mmio_forms();
	test_beyond_ram();
}
