/*
 * gwalk: the guest page-table walker.  See mm/gwalk.h for the contract.
 *
 * All four paging modes are one loop over a small table of mode shapes
 * (how many levels, how wide an entry, how many index bits per level, and
 * which bits each level's format reserves); what differs per mode and
 * level is collected in three questions asked of every entry: which bits
 * are reserved, may it map a page here, and where does it point.
 * References are to Intel SDM vol. 3A chapter 4.
 *
 * Speed matters here: on CPUs without next-RIP (QEMU's SVM) L0 walks the
 * guest's tables to fetch the instruction bytes of every intercepted
 * instruction.  So everything that depends only on the registers is
 * worked out once per walk (struct walk), the format's fixed reserved bits
 * come from a constant table, each mode gets its own compiled copy of the
 * walk (walk_mode()), and each entry costs a compare and a load.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/gwalk.h"

/* Control-register and EFER bits used here (SDM 2.5, 2.2.1). */
#define CR0_WP    (1ull << 16)
#define CR0_PG    (1ull << 31)
#define CR4_PSE   (1ull << 4)
#define CR4_PAE   (1ull << 5)
#define CR4_LA57  (1ull << 12)
#define CR4_SMEP  (1ull << 20)
#define EFER_LME  (1ull << 8)
#define EFER_NXE  (1ull << 11)

/* Paging-structure entry bits common to all modes (SDM 4.3-4.5). */
#define PTE_P     (1ull << 0)
#define PTE_RW    (1ull << 1)
#define PTE_US    (1ull << 2)
#define PTE_PS    (1ull << 7)
#define PTE_XD    (1ull << 63)

/* Bits hi..lo set (hi >= lo, both <= 63). */
#define BITS(hi, lo) ((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1))

enum mode { MODE_32, MODE_PAE, MODE_4LEVEL, MODE_5LEVEL };

/*
 * The shape of each mode's tree (SDM Figures 4-2, 4-5, 4-8; 5-level adds
 * one 9-bit level on top).  Level 1 is the page table; an entry at level L
 * translates linear-address bits from 12 + index_bits (L - 1) upwards.
 *
 * The reserved bits fixed by each level's entry format (SDM 4.3 Table
 * 4-4, 4.4.2 Tables 4-8 to 4-11, 4.5.4 Tables 4-15 to 4-20) are here too;
 * the bits that depend on MAXPHYADDR and EFER.NXE are added per walk
 * (struct walk).  Arrays are indexed by level; 0 means none.
 */
static const struct mode_shape {
	unsigned levels;        /* top level number                       */
	unsigned entry_bytes;   /* 4 for 32-bit paging, else 8            */
	unsigned index_bits;    /* 10 for 32-bit paging, else 9           */
	unsigned ps_levels;     /* bit L set: PS = 1 at level L maps a    */
				/* page (32-bit paging: only with CR4.PSE) */
	uint64_t rsvd_table[6]; /* entry referencing a table, or a 4 KiB  */
				/* PTE (level 1)                          */
	uint64_t rsvd_page[6];  /* entry mapping a large page             */
} shapes[] = {
	/* 32-bit paging: the only reserved bits are in a 4 MiB PDE, and
	 * depend on MAXPHYADDR (struct walk). */
	[MODE_32] = { 2, 4, 10, 1u << 2, { 0 }, { 0 } },
	[MODE_PAE] = {
		3, 8, 9, 1u << 2,
		/* level 3: the 4 PDPTEs (bits 31:30).  Bits 2:1 and 8:5 are
		 * reserved; they have no R/W, U/S, PS or XD (so bit 63 is
		 * reserved even with EFER.NXE). */
		.rsvd_table = { [3] = BITS(2, 1) | BITS(8, 5) | PTE_XD },
		/* 2 MiB page: bits 20:13 lie between PAT and the address */
		.rsvd_page = { [2] = BITS(20, 13) },
	},
	[MODE_4LEVEL] = {
		4, 8, 9, (1u << 2) | (1u << 3),
		.rsvd_table = { [4] = PTE_PS },  /* PML4E: bit 7 reserved */
		/* 2 MiB / 1 GiB pages: bits 20:13 / 29:13, between PAT and
		 * the address */
		.rsvd_page = { [2] = BITS(20, 13), [3] = BITS(29, 13) },
	},
	[MODE_5LEVEL] = {
		5, 8, 9, (1u << 2) | (1u << 3),
		.rsvd_table = { [4] = PTE_PS, [5] = PTE_PS }, /* PML4E, PML5E */
		.rsvd_page = { [2] = BITS(20, 13), [3] = BITS(29, 13) },
	},
};

/* What the walk needs to know besides the shape: everything that depends
 * only on the registers, worked out once before the loop. */
struct walk {
	enum mode mode;
	unsigned ps_levels;  /* the shape's, less 4 MiB pages without CR4.PSE */
	bool nxe;            /* XD bits exist (PAE and 4/5-level, EFER.NXE) */
	/* Reserved bits of every entry, beyond the shape's fixed ones:
	 * address bits above MAXPHYADDR, and XD without EFER.NXE. */
	uint64_t rsvd_table; /* ... of an entry referencing a table, or a PTE */
	uint64_t rsvd_page;  /* ... of an entry mapping a large page */
};

static inline unsigned level_shift(const struct mode_shape *s, unsigned level)
{
	return 12 + s->index_bits * (level - 1);
}

/* Bits 51:M: above MAXPHYADDR inside the address field of 8-byte entries
 * (none when M = 52).  M <= 52, so the shift is defined. */
static inline uint64_t above_maxphy(unsigned m)
{
	return BITS(51, 0) & (~0ull << m);
}

/* Fill in w for a walk in the given mode with paging on. */
static inline void walk_setup(struct walk *w, enum mode mode, const struct gwalk_regs *r)
{
	/* MAXPHYADDR: 0 means 52, other values are clamped into 32..52. */
	unsigned m = r->maxphyaddr;

	if (m < 32 || m > 52)
		m = m == 0 || m > 52 ? 52 : 32;

	w->mode = mode;
	w->ps_levels = shapes[mode].ps_levels;
	w->nxe = mode != MODE_32 && (r->efer & EFER_NXE);

	switch (mode) {
	case MODE_32: {
		/* Only a 4 MiB PDE has reserved bits: with PSE-36, bits
		 * (M' - 20):13 hold physical-address bits (M' - 1):32 and bits
		 * 21:(M' - 19) are reserved, M' = min(MAXPHYADDR, 40). */
		unsigned m32 = m < 40 ? m : 40;

		if (!(r->cr4 & CR4_PSE))
			w->ps_levels = 0;       /* no 4 MiB pages (SDM 4.3) */
		w->rsvd_table = 0;
		w->rsvd_page = BITS(21, m32 - 19);
		return;
	}
	case MODE_PAE:
		w->rsvd_table = BITS(62, m);    /* PAE: 62:M reserved */
		break;
	default:
		w->rsvd_table = above_maxphy(m); /* 4/5-level: 51:M; 62:52 ignored */
		break;
	}
	if (!w->nxe)
		w->rsvd_table |= PTE_XD;        /* no XD without EFER.NXE */
	w->rsvd_page = w->rsvd_table;
}

/* The GPA an entry points to: the next table, or the page it maps
 * (page_size 4 KiB for a table or a PTE). */
static inline uint64_t entry_address(const struct walk *w, uint64_t e, uint64_t page_size)
{
	if (w->mode == MODE_32) {
		if (page_size == 0x1000)
			return e & 0xfffff000u;
		/* 4 MiB page: bits 31:22, plus PSE-36 bits 39:32 from 20:13. */
		return (e & 0xffc00000u) | (((e >> 13) & 0xff) << 32);
	}
	/* 8-byte entries: bits (M-1):12 (reserved bits were checked, so
	 * bits 51:M are 0; 62:52 may be ignored bits, 63 XD). */
	return e & BITS(51, 12) & ~(page_size - 1);
}

/* Every field of the result, in one place. */
static inline int finish(struct gwalk_result *out, int fault, uint64_t gpa,
			 uint64_t page_size, uint32_t pf_error, unsigned levels)
{
	out->gpa = gpa;
	out->page_size = page_size;
	out->pf_error = pf_error;
	out->fault = fault;
	out->levels = levels;
	return fault;
}

/*
 * The #PF error code (SDM 4.7): 'cause' (0 for not present, or P, or
 * P | RSVD) plus the access bits.  I is reported only when SMEP is on or
 * XD exists (CR4.PAE and EFER.NXE).  Worked out only when there is a
 * fault, off the path of a walk that succeeds.
 */
static inline uint32_t pf_error(const struct walk *w, const struct gwalk_regs *r,
				unsigned access, uint32_t cause)
{
	uint32_t pfec = cause;

	if (access & GW_WRITE)
		pfec |= GW_PF_W;
	if (access & GW_USER)
		pfec |= GW_PF_U;
	if ((access & GW_FETCH) && ((r->cr4 & CR4_SMEP) || w->nxe))
		pfec |= GW_PF_I;
	return pfec;
}

/*
 * Whether the access is allowed to the page (SDM 4.6.1), given the AND
 * (all_of) and the OR (any_of) of the bits of the entries that carry
 * rights: a page is a user page if U/S = 1 in every entry, writable if
 * R/W = 1 in every entry, executable unless XD = 1 in some entry.
 */
static inline bool access_allowed(const struct gwalk_regs *r, unsigned access,
				  uint64_t all_of, uint64_t any_of)
{
	bool user = access & GW_USER, fetch = access & GW_FETCH;
	uint64_t need = 0;      /* bits the access needs in every entry */

	if (user)
		need |= PTE_US;                 /* user access: a user page */
	if ((access & GW_WRITE) && (user || (r->cr0 & CR0_WP)))
		need |= PTE_RW;                 /* write: writable (WP=0 lets CPL<3 write) */
	if ((all_of & need) != need)
		return false;
	/* XD can only be set here with EFER.NXE: without it bit 63 is
	 * reserved in 8-byte entries (the walk faulted), and 4-byte entries
	 * have none. */
	if (fetch && (any_of & PTE_XD))
		return false;                   /* no-execute */
	if (fetch && !user && (all_of & PTE_US) && (r->cr4 & CR4_SMEP))
		return false;                   /* SMEP: supervisor fetch from user page */
	return true;
}

static inline bool canonical(uint64_t va, unsigned bits)
{
	/* bits 63:(bits - 1) all equal to bit (bits - 1) */
	return (uint64_t)((int64_t)(va << (64 - bits)) >> (64 - bits)) == va;
}

/*
 * The walk in one mode (paging on).  Always inlined, and only ever called
 * with a constant mode: gwalk() gets one copy per mode, in which the
 * mode's shape (levels, entry width, index bits, fixed reserved bits) is
 * constants rather than loads from the table, and the loop over the
 * levels is unrolled.  That more than halves the cost of a walk, for a
 * few KiB of code.
 */
static inline __attribute__((always_inline)) int
walk_mode(enum mode mode, const struct gmem *g, const struct gwalk_regs *r,
	  uint64_t gva, unsigned access, struct gwalk_result *out)
{
	const struct mode_shape *s = &shapes[mode];
	struct walk w;
	struct gmem_cursor tables;
	uint64_t table;
	/* The AND and the OR of the entries' bits, for the rights (see
	 * access_allowed()). */
	uint64_t all_of = PTE_US | PTE_RW, any_of = 0;

	walk_setup(&w, mode, r);
	out->nent = 0;
	out->ent_bytes = s->entry_bytes;

	/* ---- linear address and root (SDM 4.3, 4.4.1, 4.5.2) ---- */
	switch (mode) {
	case MODE_32:
		gva &= 0xffffffffu;
		table = r->cr3 & 0xfffff000u;
		break;
	case MODE_PAE:
		gva &= 0xffffffffu;
		table = r->cr3 & 0xffffffe0u;   /* 32-byte aligned PDPT */
		break;
	default:
		if (!canonical(gva, mode == MODE_5LEVEL ? 57 : 48))
			return finish(out, GW_FAULT_NONCANONICAL, 0, 0, 0, 0);
		/* bits 51:12 less those above MAXPHYADDR, which rsvd_table
		 * holds (besides XD, which is not in 51:12) */
		table = r->cr3 & BITS(51, 12) & ~w.rsvd_table;
		break;
	}

	/* ---- the walk, top level down; level 1 always ends it ---- */
	gmem_cursor_init(&tables, g);
#pragma GCC unroll 5
	for (unsigned level = s->levels; level >= 1; level--) {
		unsigned shift = level_shift(s, level);
		unsigned index = (unsigned)(gva >> shift) & ((1u << s->index_bits) - 1);
		uint64_t entry_gpa = table + (uint64_t)index * s->entry_bytes;
		unsigned levels = s->levels - level + 1;  /* entries read, this one included */
		bool pdpte = mode == MODE_PAE && level == 3;
		bool large;
		uint64_t e, rsvd, page_size;

		/* Entries are naturally aligned (tables are 4 KiB aligned, the
		 * PAE PDPT 32-byte aligned), as gmem_cursor_read() wants: a
		 * compare and a load, refusing exactly what gmem_read() would.
		 * It loads once (see mm/gmem.h), so a guest rewriting the table
		 * on another vCPU cannot make us check one value and use
		 * another. */
		if (pdpte && r->pdpte != NULL)
			e = r->pdpte[index];            /* loaded PDPTE registers */
		else if (!gmem_cursor_read(&tables, entry_gpa, s->entry_bytes, &e))
			return finish(out, GW_FAULT_TABLE, entry_gpa, 0, 0, levels - 1);

		if (!(pdpte && r->pdpte != NULL)) {
			out->ent_gpa[out->nent] = entry_gpa;
			out->ent_val[out->nent++] = e;
		}
		if (!(e & PTE_P))
			return finish(out, GW_FAULT_PF, 0, 0,
				      pf_error(&w, r, access, 0), levels);

		/* Does it map a page here (SDM 4.3, 4.4.2, 4.5.4)?  A PTE
		 * always does; above, PS = 1 does where the mode allows. */
		large = (e & PTE_PS) && (w.ps_levels & (1u << level));
		rsvd = large ? w.rsvd_page | s->rsvd_page[level]
			     : w.rsvd_table | s->rsvd_table[level];
		if (e & rsvd)
			return finish(out, GW_FAULT_PF, 0, 0,
				      pf_error(&w, r, access, GW_PF_P | GW_PF_RSVD), levels);

		if (!pdpte) {                   /* PDPTEs carry no rights */
			all_of &= e;
			any_of |= e;
		}
		if (!large && level > 1) {
			table = entry_address(&w, e, 0x1000);
			continue;
		}

		/* ---- a page: access rights (SDM 4.6.1), translation ---- */
		page_size = 1ull << shift;
		if (!access_allowed(r, access, all_of, any_of))
			return finish(out, GW_FAULT_PF, 0, 0,
				      pf_error(&w, r, access, GW_PF_P), levels);
		return finish(out, GW_OK,
			      entry_address(&w, e, page_size) | (gva & (page_size - 1)),
			      page_size, 0, levels);
	}
	__builtin_unreachable();        /* level 1 maps a page, or faults */
}

int gwalk(const struct gmem *g, const struct gwalk_regs *r, uint64_t gva,
	  unsigned access, struct gwalk_result *out)
{
	/* ---- which mode (SDM Table 4-1) ---- */
	if (!(r->cr0 & CR0_PG)) {
		out->nent = 0;
		out->ent_bytes = 8;
		return finish(out, GW_OK, gva & 0xffffffffu, 4096, 0, 0);
	}
	if (!(r->cr4 & CR4_PAE))
		return walk_mode(MODE_32, g, r, gva, access, out);
	if (!(r->efer & EFER_LME))
		return walk_mode(MODE_PAE, g, r, gva, access, out);
	if (r->cr4 & CR4_LA57)
		return walk_mode(MODE_5LEVEL, g, r, gva, access, out);
	return walk_mode(MODE_4LEVEL, g, r, gva, access, out);
}
