/*
 * gwalk: the guest page-table walker.  See mm/gwalk.h for the contract.
 *
 * All four paging modes are one loop over a small table of mode shapes
 * (how many levels, how wide an entry, how many index bits per level);
 * what differs per mode and level is collected in three questions asked
 * of every entry: which bits are reserved, may it map a page here, and
 * where does it point.  References are to Intel SDM vol. 3A chapter 4.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* The shape of each mode's tree (SDM Figures 4-2, 4-5, 4-8; 5-level adds
 * one 9-bit level on top).  Level 1 is the page table; an entry at level L
 * translates linear-address bits from 12 + index_bits (L - 1) upwards. */
static const struct mode_shape {
	unsigned levels;      /* top level number                         */
	unsigned entry_bytes; /* 4 for 32-bit paging, else 8              */
	unsigned index_bits;  /* 10 for 32-bit paging, else 9             */
} shapes[] = {
	[MODE_32]     = { 2, 4, 10 },
	[MODE_PAE]    = { 3, 8, 9 },  /* level 3: the 4 PDPTEs (bits 31:30) */
	[MODE_4LEVEL] = { 4, 8, 9 },
	[MODE_5LEVEL] = { 5, 8, 9 },
};

/* What the walk needs to know besides the shape. */
struct walk {
	enum mode mode;
	unsigned m;     /* MAXPHYADDR                                     */
	bool nxe;       /* XD bits exist (PAE and 4/5-level, EFER.NXE)    */
	bool pse;       /* 32-bit paging: 4 MiB pages allowed (CR4.PSE)   */
};

static unsigned level_shift(const struct mode_shape *s, unsigned level)
{
	return 12 + s->index_bits * (level - 1);
}

/* Bits 51:M: above MAXPHYADDR inside the address field of 8-byte entries. */
static uint64_t above_maxphy(unsigned m)
{
	return m >= 52 ? 0 : BITS(51, m);
}

/* Whether this entry maps a page (rather than referencing a table). */
static bool maps_page(const struct walk *w, unsigned level, uint64_t e)
{
	if (level == 1)
		return true;
	switch (w->mode) {
	case MODE_32:
		return level == 2 && w->pse && (e & PTE_PS);   /* SDM 4.3 */
	case MODE_PAE:
		return level == 2 && (e & PTE_PS);             /* SDM 4.4.2 */
	default:
		return (level == 2 || level == 3) && (e & PTE_PS); /* SDM 4.5.4 */
	}
}

/*
 * The bits of a present entry that must be 0 (SDM 4.3 Table 4-4, 4.4.2
 * Tables 4-8 to 4-11, 4.5.4 Tables 4-15 to 4-20).  Setting one makes the
 * entry invalid: #PF with P = 1 and RSVD = 1.
 */
static uint64_t reserved_bits(const struct walk *w, unsigned level, uint64_t e)
{
	bool large = level > 1 && maps_page(w, level, e);
	uint64_t rsvd;

	if (w->mode == MODE_32) {
		/* Only a 4 MiB PDE has reserved bits: with PSE-36, bits
		 * (M' - 20):13 hold physical-address bits (M' - 1):32 and bits
		 * 21:(M' - 19) are reserved, M' = min(MAXPHYADDR, 40). */
		unsigned m = w->m < 40 ? w->m : 40;
		return large ? BITS(21, m - 19) : 0;
	}
	if (w->mode == MODE_PAE && level == 3) {
		/* PAE PDPTE (Table 4-8): bits 2:1, 8:5 and 63:M reserved; it
		 * has no R/W, U/S, PS or XD. */
		return BITS(2, 1) | BITS(8, 5) | BITS(63, w->m);
	}

	if (w->mode == MODE_PAE)
		rsvd = BITS(62, w->m);          /* PAE: 62:M reserved */
	else
		rsvd = above_maxphy(w->m);      /* 4/5-level: 51:M; 62:52 ignored */
	if (!w->nxe)
		rsvd |= PTE_XD;                 /* no XD without EFER.NXE */
	if (w->mode != MODE_PAE && level >= 4)
		rsvd |= PTE_PS;                 /* PML4E, PML5E: bit 7 reserved */
	if (large)                              /* between PAT (bit 12) and the */
		rsvd |= BITS(level == 3 ? 29 : 20, 13); /* 1G / 2M address      */
	return rsvd;
}

/* The GPA an entry points to: the next table, or the page it maps. */
static uint64_t entry_address(const struct walk *w, unsigned level, uint64_t e,
			      uint64_t page_size)
{
	if (w->mode == MODE_32) {
		if (!(level == 2 && maps_page(w, level, e)))
			return e & 0xfffff000u;
		/* 4 MiB page: bits 31:22, plus PSE-36 bits 39:32 from 20:13. */
		return (e & 0xffc00000u) | (((e >> 13) & 0xff) << 32);
	}
	/* 8-byte entries: bits (M-1):12 (reserved bits were checked, so
	 * bits 51:M are 0; 62:52 may be ignored bits, 63 XD). */
	return e & BITS(51, 12) & ~(page_size - 1);
}

/* Read one paging-structure entry from guest memory (little-endian). */
static int read_entry(const struct gmem *g, uint64_t gpa, unsigned bytes, uint64_t *e)
{
	if (bytes == 4) {
		uint32_t v;
		if (gmem_read(g, gpa, &v, sizeof(v)) != 0)
			return -1;
		*e = v;
		return 0;
	}
	return gmem_read(g, gpa, e, sizeof(*e));
}

static void set_fault(struct gwalk_result *out, int fault, uint64_t gpa, uint32_t pf_error)
{
	out->fault = fault;
	out->gpa = gpa;
	out->page_size = 0;
	out->pf_error = pf_error;
}

static bool canonical(uint64_t va, unsigned bits)
{
	/* bits 63:(bits - 1) all equal to bit (bits - 1) */
	return (uint64_t)((int64_t)(va << (64 - bits)) >> (64 - bits)) == va;
}

int gwalk(const struct gmem *g, const struct gwalk_regs *r, uint64_t gva,
	  unsigned access, struct gwalk_result *out)
{
	bool write = access & GW_WRITE, user = access & GW_USER, fetch = access & GW_FETCH;
	const struct mode_shape *s;
	struct walk w;
	uint64_t table, e = 0, page_size = 0;
	unsigned leaf_level = 1;
	/* Access rights accumulated over the levels (SDM 4.6): a page is a
	 * user page if U/S = 1 in every entry, writable if R/W = 1 in every
	 * entry, executable unless XD = 1 in some entry. */
	bool us = true, rw = true, xd = false;
	uint32_t pfec;

	memset(out, 0, sizeof(*out));

	/* ---- which mode (SDM Table 4-1) ---- */
	if (!(r->cr0 & CR0_PG)) {
		out->gpa = gva & 0xffffffffu;
		out->page_size = 4096;
		return GW_OK;
	}
	if (!(r->cr4 & CR4_PAE))
		w.mode = MODE_32;
	else if (!(r->efer & EFER_LME))
		w.mode = MODE_PAE;
	else
		w.mode = (r->cr4 & CR4_LA57) ? MODE_5LEVEL : MODE_4LEVEL;
	w.m = r->maxphyaddr == 0 ? 52 : r->maxphyaddr < 32 ? 32 :
	      r->maxphyaddr > 52 ? 52 : r->maxphyaddr;
	w.nxe = w.mode != MODE_32 && (r->efer & EFER_NXE);
	w.pse = (r->cr4 & CR4_PSE) != 0;
	s = &shapes[w.mode];

	/* ---- linear address and root (SDM 4.3, 4.4.1, 4.5.2) ---- */
	switch (w.mode) {
	case MODE_32:
		gva &= 0xffffffffu;
		table = r->cr3 & 0xfffff000u;
		break;
	case MODE_PAE:
		gva &= 0xffffffffu;
		table = r->cr3 & 0xffffffe0u;   /* 32-byte aligned PDPT */
		break;
	default:
		if (!canonical(gva, w.mode == MODE_5LEVEL ? 57 : 48)) {
			set_fault(out, GW_FAULT_NONCANONICAL, 0, 0);
			return out->fault;
		}
		table = r->cr3 & BITS(51, 12) & ~above_maxphy(w.m);
		break;
	}

	/* The error code's access bits (SDM 4.7).  I is reported only when
	 * SMEP is on or XD exists (CR4.PAE and EFER.NXE). */
	pfec = (write ? GW_PF_W : 0) | (user ? GW_PF_U : 0);
	if (fetch && ((r->cr4 & CR4_SMEP) || w.nxe))
		pfec |= GW_PF_I;

	/* ---- the walk, top level down ---- */
	for (unsigned level = s->levels; level >= 1; level--) {
		unsigned shift = level_shift(s, level);
		unsigned index = (unsigned)(gva >> shift) & ((1u << s->index_bits) - 1);
		uint64_t entry_gpa = table + (uint64_t)index * s->entry_bytes;

		if (w.mode == MODE_PAE && level == 3 && r->pdpte != NULL) {
			e = r->pdpte[index];            /* loaded PDPTE registers */
		} else if (read_entry(g, entry_gpa, s->entry_bytes, &e) != 0) {
			set_fault(out, GW_FAULT_TABLE, entry_gpa, 0);
			return out->fault;
		}
		out->levels++;

		if (!(e & PTE_P)) {
			set_fault(out, GW_FAULT_PF, 0, pfec);
			return out->fault;
		}
		if (e & reserved_bits(&w, level, e)) {
			set_fault(out, GW_FAULT_PF, 0, pfec | GW_PF_P | GW_PF_RSVD);
			return out->fault;
		}
		if (!(w.mode == MODE_PAE && level == 3)) { /* PDPTEs carry no rights */
			us = us && (e & PTE_US);
			rw = rw && (e & PTE_RW);
			xd = xd || (w.nxe && (e & PTE_XD));
		}
		if (maps_page(&w, level, e)) {
			leaf_level = level;
			page_size = 1ull << shift;
			break;
		}
		table = entry_address(&w, level, e, 0x1000);
	}

	/* ---- access rights (SDM 4.6.1) ---- */
	{
		bool ok = true;

		if (user && !us)
			ok = false;                 /* user access, supervisor page */
		if (write && !rw && (user || (r->cr0 & CR0_WP)))
			ok = false;                 /* read-only; WP=0 lets CPL<3 write */
		if (fetch && xd)
			ok = false;                 /* no-execute */
		if (fetch && !user && us && (r->cr4 & CR4_SMEP))
			ok = false;                 /* SMEP: supervisor fetch from user page */
		if (!ok) {
			set_fault(out, GW_FAULT_PF, 0, pfec | GW_PF_P);
			return out->fault;
		}
	}

	out->gpa = entry_address(&w, leaf_level, e, page_size) |
		   (gva & (page_size - 1));
	out->page_size = page_size;
	return GW_OK;
}
