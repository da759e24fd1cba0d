/*
 * L0 page tables (SDM vol. 3A 4.5, 4-level paging).
 *
 * Nestor identity-maps physical memory: a frame's physical address is also
 * its virtual address, which keeps the code that hands memory to guests
 * simple.  Protection comes from the leaf flags: the kernel image is mapped
 * with 4 KiB pages, text read-execute, rodata read-only no-execute, data and
 * bss read-write no-execute; everything else is read-write no-execute.  Page
 * 0 and the page under each stack are left unmapped so that a null pointer
 * or a stack overflow faults at once.
 */
#include <string.h>
#include "mm/paging.h"
#include "mm/frame.h"
#include "arch/x86/cpu.h"
#include "kernel/log.h"

#define ADDR_MASK 0x000ffffffffff000ull
#define GiB ((uint64_t)1 << 30)
#define MiB ((uint64_t)1 << 20)

extern char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];
extern char boot_stack_guard[];

static uint64_t *pml4;
static int have_1g_pages;

static uint64_t level_size(int level) /* 1: 4K, 2: 2M, 3: 1G */
{
	return 1ull << (12 + 9 * (level - 1));
}
static unsigned index_at(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t *alloc_table(void)
{
	/* Below 4 GiB: APs load CR3 while still in 32-bit mode (smp.c). */
	uint64_t pa = frame_alloc_pages(1, 4 * GiB);
	if (!pa)
		panic("paging: out of memory for page tables");
	return (uint64_t *)pa;
}

/* Replace a large-page entry at `level` by a table of next-smaller pages
 * with the same flags, so one part of it can change. */
static void split(uint64_t *entry, int level)
{
	uint64_t *t = alloc_table();
	uint64_t base = *entry & ADDR_MASK & ~(level_size(level) - 1);
	uint64_t flags = *entry & ~ADDR_MASK & ~PTE_PS;
	for (unsigned i = 0; i < 512; i++)
		t[i] = (base + i * level_size(level - 1)) | flags | (level - 1 > 1 ? PTE_PS : 0);
	/* Non-leaf entries are permissive; the leaf decides (SDM 4.6). */
	*entry = (uint64_t)t | PTE_P | PTE_RW;
}

/* The entry that maps va at `level`, creating or splitting tables above it. */
static uint64_t *entry_at(uint64_t va, int level)
{
	uint64_t *t = pml4;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[index_at(va, l)];
		if (!(*e & PTE_P))
			*e = (uint64_t)alloc_table() | PTE_P | PTE_RW;
		else if (*e & PTE_PS)
			split(e, l);
		t = (uint64_t *)(*e & ADDR_MASK);
	}
	return &t[index_at(va, level)];
}

/* Is there already a finer table below the entry for va at level? Then a
 * large page must not overwrite it (it would drop the finer mappings). */
static int has_subtable(uint64_t va, int level)
{
	uint64_t *t = pml4;
	for (int l = 4; l >= level; l--) {
		uint64_t e = t[index_at(va, l)];
		if (!(e & PTE_P) || (e & PTE_PS))
			return 0;
		if (l == level)
			return 1;
		t = (uint64_t *)(e & ADDR_MASK);
	}
	return 0;
}

static void flush_tlb(void)
{
	write_cr3(read_cr3());
}

void paging_map(uint64_t va, uint64_t pa, uint64_t len, uint64_t flags)
{
	while (len) {
		int level = 1;
		for (int l = have_1g_pages ? 3 : 2; l > 1; l--) {
			uint64_t sz = level_size(l);
			if (!(va & (sz - 1)) && !(pa & (sz - 1)) && len >= sz && !has_subtable(va, l)) {
				level = l;
				break;
			}
		}
		*entry_at(va, level) = pa | flags | (level > 1 ? PTE_PS : 0);
		va += level_size(level);
		pa += level_size(level);
		len -= level_size(level);
	}
	if (pml4 == (uint64_t *)read_cr3())
		flush_tlb();
}

void paging_unmap(uint64_t va, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PAGE_SIZE)
		*entry_at(va + off, 1) = 0;
	if (pml4 == (uint64_t *)read_cr3())
		flush_tlb();
}

uint64_t paging_lookup(uint64_t va, uint64_t *page_size)
{
	uint64_t *t = pml4;
	for (int l = 4; l >= 1; l--) {
		uint64_t e = t[index_at(va, l)];
		if (!(e & PTE_P))
			return 0;
		if (l == 1 || (e & PTE_PS)) {
			if (page_size)
				*page_size = level_size(l);
			return e;
		}
		t = (uint64_t *)(e & ADDR_MASK);
	}
	return 0;
}

uint64_t paging_alloc_stack(unsigned pages)
{
	uint64_t base = frame_alloc_pages(pages + 1, 0);
	if (!base)
		panic("paging: out of memory for a stack");
	paging_unmap(base, PAGE_SIZE); /* guard page: an overflow faults */
	return base + (pages + 1) * PAGE_SIZE;
}

uint64_t paging_root(void)
{
	return (uint64_t)pml4;
}

void paging_init(uint64_t top)
{
	have_1g_pages = (cpuid(0x80000001, 0).edx >> 26) & 1;
	if (top < 4 * GiB)
		top = 4 * GiB; /* the MMIO hole below 4 GiB (LAPIC, IOAPIC, PCI) */
	top = (top + GiB - 1) & ~(GiB - 1);

	pml4 = alloc_table();
	paging_map(0, 0, top, MAP_RW);

	uint64_t k0 = (uint64_t)__kernel_start, t1 = (uint64_t)__text_end;
	uint64_t r1 = (uint64_t)__rodata_end, k1 = (uint64_t)__kernel_end;
	paging_map(k0, k0, t1 - k0, MAP_RX);
	paging_map(t1, t1, r1 - t1, MAP_RO);
	paging_map(r1, r1, k1 - r1, MAP_RW);
	paging_unmap(0, PAGE_SIZE);
	paging_unmap((uint64_t)boot_stack_guard, PAGE_SIZE);

	/* SDM 4.1.3: CR0.WP makes read-only pages read-only for ring 0 too;
	 * EFER.NXE makes the NX bit valid (the MB entry set it; UEFI may not). */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	write_cr3((uint64_t)pml4);
	log_info("paging: identity map of %lu GiB (%s pages), kernel %#lx-%#lx W^X",
		 top / GiB, have_1g_pages ? "1G" : "2M", k0, k1);
}
