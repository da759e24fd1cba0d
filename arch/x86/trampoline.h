/*
 * The AP start-up trampoline (trampoline.S), shared by L0's own SMP
 * bring-up and by the test guests that start their vCPUs the same way.
 * Code lives in one page below 1 MiB; what the AP needs lives in the page
 * after it, as struct tramp_data.
 */
#ifndef NESTOR_TRAMPOLINE_H
#define NESTOR_TRAMPOLINE_H
#include <stdint.h>
#include <string.h>

struct tramp_data {
	uint64_t gdt[4];                 /* null, code32 (0x08), data (0x10), code64 (0x18) */
	uint16_t gdtr_limit;
	uint32_t gdtr_base;
	uint16_t pad0;
	uint32_t far32_off;
	uint16_t far32_sel, pad1;
	uint32_t far64_off;
	uint16_t far64_sel, pad2;
	uint64_t cr3, stack, entry, arg;
} __attribute__((packed));

_Static_assert(__builtin_offsetof(struct tramp_data, gdtr_limit) == 32, "layout in trampoline.S");
_Static_assert(__builtin_offsetof(struct tramp_data, far32_off) == 40, "layout in trampoline.S");
_Static_assert(__builtin_offsetof(struct tramp_data, far64_off) == 48, "layout in trampoline.S");
_Static_assert(__builtin_offsetof(struct tramp_data, cr3) == 56, "layout in trampoline.S");
_Static_assert(__builtin_offsetof(struct tramp_data, arg) == 80, "layout in trampoline.S");

extern char tramp_start[], tramp_end[];
extern uint32_t tramp_offsets[2];

/* Copy the code to a page-aligned physical page below 1 MiB. */
static inline void tramp_install(uint64_t page)
{
	memcpy((void *)page, tramp_start, (size_t)(tramp_end - tramp_start));
}

/* Fill the data page for the next AP: it will call entry(arg) on stack,
 * in long mode on the page tables at cr3 (which must be below 4 GiB). */
static inline void tramp_fill(uint64_t page, uint64_t cr3, uint64_t stack, uint64_t entry, uint64_t arg)
{
	struct tramp_data *d = (struct tramp_data *)(page + 4096);
	memset(d, 0, sizeof(*d));
	d->gdt[1] = 0x00cf9a000000ffffull; /* 32-bit code */
	d->gdt[2] = 0x00cf92000000ffffull; /* data */
	d->gdt[3] = 0x00af9a000000ffffull; /* 64-bit code */
	d->gdtr_limit = sizeof(d->gdt) - 1;
	d->gdtr_base = (uint32_t)(uint64_t)d->gdt;
	d->far32_off = (uint32_t)page + tramp_offsets[0];
	d->far32_sel = 0x08;
	d->far64_off = (uint32_t)page + tramp_offsets[1];
	d->far64_sel = 0x18;
	d->cr3 = cr3;
	d->stack = stack;
	d->entry = entry;
	d->arg = arg;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif
