/*
 * s2pt: second-stage page-table builder for AMD NPT and Intel EPT.  See
 * mm/s2pt.h for the formats and the contract.
 *
 * Levels are numbered as the manuals do: 4 is the root (PML4), 3 the PDPT
 * (1 GiB leaves), 2 the PD (2 MiB leaves), 1 the PT (4 KiB leaves).  An
 * entry at level L covers 2^(12 + 9 (L - 1)) bytes of GPA.
 *
 * The only format-specific code is the handful of encode/decode helpers
 * below; the tree editing is shared.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mm/s2pt.h"

#define ENTRIES 512u

static unsigned level_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

static uint64_t level_size(unsigned level)
{
	return 1ull << level_shift(level);
}

static unsigned index_at(uint64_t gpa, unsigned level)
{
	return (unsigned)(gpa >> level_shift(level)) & (ENTRIES - 1);
}

/* A table's host physical address is a pointer (identity map; s2pt.h). */
static uint64_t *table_at(uint64_t hpa)
{
	return (uint64_t *)(uintptr_t)hpa;
}

/* ---- entry encoding: the only place the two formats differ ------------ */

static bool present(enum s2_format fmt, uint64_t e)
{
	/* NPT: the P bit.  EPT: "not present" means bits 2:0 all clear
	 * (SDM 29.3.2). */
	return fmt == S2_NPT ? (e & S2_NPT_P) != 0
			     : (e & (S2_EPT_R | S2_EPT_W | S2_EPT_X)) != 0;
}

/* Whether a present entry at this level maps a page (rather than pointing
 * to a table).  Level 1 entries always map; levels 3 and 2 map when bit 7
 * is set (NPT PS, EPT "large page": the same bit in both formats). */
static bool is_leaf(uint64_t e, unsigned level)
{
	return level == 1 || (level <= 3 && (e & S2_NPT_PS));
}

static uint64_t table_entry(enum s2_format fmt, uint64_t table_hpa)
{
	if (fmt == S2_NPT)
		return table_hpa | S2_NPT_P | S2_NPT_RW | S2_NPT_US;
	return table_hpa | S2_EPT_R | S2_EPT_W | S2_EPT_X;
}

static uint64_t leaf_entry(enum s2_format fmt, uint64_t hpa, unsigned level,
			   unsigned perms, uint8_t memtype)
{
	uint64_t e = hpa;

	if (fmt == S2_NPT) {
		/* APM vol. 2 15.25: nested walks are user accesses, so U/S = 1. */
		e |= S2_NPT_P | S2_NPT_US;
		if (perms & S2_W)
			e |= S2_NPT_RW;
		if (!(perms & S2_X))
			e |= S2_NPT_NX;
		if (level > 1)
			e |= S2_NPT_PS;
	} else {
		e |= perms & (S2_R | S2_W | S2_X); /* bits 2:0, same order */
		e |= (uint64_t)memtype << S2_EPT_MT_SHIFT;
		if (level > 1)
			e |= S2_EPT_LARGE;
	}
	return e;
}

/* What a leaf at 'level' maps to: the page's hpa, permissions and (EPT)
 * memory type.  The address field of a large leaf starts at the page
 * size: lower bits (e.g. NPT's PAT bit 12) are attributes. */
static uint64_t leaf_hpa(uint64_t e, unsigned level)
{
	return e & S2_ADDR_MASK & ~(level_size(level) - 1);
}

static unsigned leaf_perms(enum s2_format fmt, uint64_t e)
{
	if (fmt == S2_EPT)
		return (unsigned)(e & (S2_EPT_R | S2_EPT_W | S2_EPT_X));
	return S2_R | ((e & S2_NPT_RW) ? S2_W : 0) | ((e & S2_NPT_NX) ? 0 : S2_X);
}

static uint8_t leaf_memtype(enum s2_format fmt, uint64_t e)
{
	return fmt == S2_EPT ? (uint8_t)((e >> S2_EPT_MT_SHIFT) & 7) : S2_EPT_MT_WB;
}

/* ---- argument checks ---------------------------------------------------- */

#define PAGE_MASK (S2_SIZE_4K - 1)

/* Aligned, non-empty, and [base, base + size) inside the first 2^bits. */
static bool range_ok(uint64_t base, uint64_t size, unsigned bits)
{
	uint64_t limit = 1ull << bits;

	return size != 0 && !(base & PAGE_MASK) && !(size & PAGE_MASK) &&
	       base < limit && size <= limit - base;
}

static bool perms_ok(enum s2_format fmt, unsigned perms, uint8_t memtype)
{
	if (perms == 0 || (perms & ~(unsigned)(S2_R | S2_W | S2_X)))
		return false;
	if (fmt == S2_NPT)
		return (perms & S2_R) != 0;       /* present means readable */
	if ((perms & S2_W) && !(perms & S2_R))
		return false;                      /* SDM 29.3.3.1 misconfig */
	return memtype == S2_EPT_MT_UC || memtype == S2_EPT_MT_WC ||
	       memtype == S2_EPT_MT_WT || memtype == S2_EPT_MT_WP ||
	       memtype == S2_EPT_MT_WB;
}

/* ---- tree editing ------------------------------------------------------- */

/* A new zeroed table from the caller, or 0. */
static uint64_t new_table(struct s2pt *t)
{
	uint64_t hpa = t->alloc_table(t->ctx);

	if (hpa == 0 || (hpa & PAGE_MASK) || (hpa >> S2_HPA_BITS))
		return 0; /* none, or not something an entry can point at */
	t->tables++;
	return hpa;
}

/*
 * Replace the large leaf *e at 'level' by a pointer to a new table of 512
 * leaves one level down that together map exactly what *e mapped, with the
 * same permissions and memory type.  The new table is filled before *e is
 * switched, so the translation never changes.  -1 if allocation fails.
 */
static int split(struct s2pt *t, uint64_t *e, unsigned level)
{
	uint64_t hpa = leaf_hpa(*e, level);
	unsigned perms = leaf_perms(t->fmt, *e);
	uint8_t memtype = leaf_memtype(t->fmt, *e);
	uint64_t child_size = level_size(level - 1);
	uint64_t table = new_table(t);
	uint64_t *child;

	if (table == 0)
		return -1;
	child = table_at(table);
	for (unsigned i = 0; i < ENTRIES; i++)
		child[i] = leaf_entry(t->fmt, hpa + i * child_size, level - 1,
				      perms, memtype);
	*e = table_entry(t->fmt, table);
	return 0;
}

/*
 * Find the entry where a mapping of gpa may be written: walk down from the
 * root and stop at the first level <= max_level whose entry is empty or
 * already a leaf.  Above that, missing tables are allocated and large
 * leaves split (when may_alloc; otherwise needing to is an error).  Stops
 * at level 1 at the latest.  Returns 0 with *slot and *level, or -1.
 */
static int find_slot(struct s2pt *t, uint64_t gpa, unsigned max_level, bool may_alloc,
		     uint64_t **slot, unsigned *level)
{
	uint64_t *table = table_at(t->root);

	for (unsigned l = S2_LEVELS;; l--) {
		uint64_t *e = &table[index_at(gpa, l)];

		if (l <= max_level && (!present(t->fmt, *e) || is_leaf(*e, l))) {
			*slot = e;
			*level = l;
			return 0;
		}
		/* We must go one level down through *e. */
		if (!present(t->fmt, *e)) {
			uint64_t hpa;
			if (!may_alloc || (hpa = new_table(t)) == 0)
				return -1;
			*e = table_entry(t->fmt, hpa);
		} else if (is_leaf(*e, l)) {
			if (!may_alloc || split(t, e, l) != 0)
				return -1;
		}
		table = table_at(*e & S2_ADDR_MASK);
	}
}

/* The largest level whose page fits at gpa/hpa with 'left' bytes to go. */
static unsigned fit_level(const struct s2pt *t, uint64_t gpa, uint64_t hpa, uint64_t left)
{
	unsigned top = t->allow_1g ? 3 : 2;

	for (unsigned l = top; l > 1; l--) {
		uint64_t sz = level_size(l);
		if (!((gpa | hpa) & (sz - 1)) && left >= sz)
			return l;
	}
	return 1;
}

/*
 * One pass over [gpa, gpa + size).  Pass 1 (write == false) only makes
 * room: allocates tables and splits large pages, which never changes a
 * translation and is the only step that can fail for lack of memory.
 * Pass 2 (write == true) writes the leaves; everything it walks through
 * exists by then, because each step's path only touches entries above its
 * own slot, and its slot covers only its own part of the range.
 */
static int map_pass(struct s2pt *t, uint64_t gpa, uint64_t hpa, uint64_t size,
		    unsigned perms, uint8_t memtype, bool write)
{
	while (size > 0) {
		uint64_t *slot;
		unsigned level;
		uint64_t step;

		if (find_slot(t, gpa, fit_level(t, gpa, hpa, size), !write, &slot, &level) != 0)
			return -1;
		step = level_size(level);
		if (write)
			*slot = leaf_entry(t->fmt, hpa, level, perms, memtype);
		gpa += step;
		hpa += step;
		size -= step;
	}
	return 0;
}

int s2pt_init(struct s2pt *t, enum s2_format fmt, uint64_t (*alloc)(void *),
	      void *ctx, bool allow_1g)
{
	memset(t, 0, sizeof(*t));
	if ((fmt != S2_NPT && fmt != S2_EPT) || alloc == NULL)
		return -1;
	t->fmt = fmt;
	t->alloc_table = alloc;
	t->ctx = ctx;
	t->allow_1g = allow_1g;
	t->root = new_table(t);
	return t->root ? 0 : -1;
}

int s2pt_map(struct s2pt *t, uint64_t gpa, uint64_t hpa, uint64_t size,
	     unsigned perms, uint8_t ept_memtype)
{
	if (t->root == 0 || !range_ok(gpa, size, S2_GPA_BITS) ||
	    !range_ok(hpa, size, S2_HPA_BITS) || !perms_ok(t->fmt, perms, ept_memtype))
		return -1;
	if (map_pass(t, gpa, hpa, size, perms, ept_memtype, false) != 0)
		return -1;
	return map_pass(t, gpa, hpa, size, perms, ept_memtype, true);
}

/*
 * One pass of unmapping [gpa, end), like map_pass: pass 1 (clear == false)
 * splits the large pages the range only partly covers; pass 2 clears every
 * leaf inside the range.  Empty entries are stepped over whole.
 */
static int unmap_pass(struct s2pt *t, uint64_t gpa, uint64_t end, bool clear)
{
	while (gpa < end) {
		uint64_t *table = table_at(t->root);
		uint64_t step = 0;

		for (unsigned l = S2_LEVELS; step == 0; l--) {
			uint64_t *e = &table[index_at(gpa, l)];
			uint64_t sz = level_size(l);

			if (!present(t->fmt, *e)) {
				step = sz - (gpa & (sz - 1)); /* to the entry's end */
			} else if (is_leaf(*e, l)) {
				if (!(gpa & (sz - 1)) && end - gpa >= sz) {
					if (clear)
						*e = 0;
					step = sz;
				} else if (clear || split(t, e, l) != 0) {
					return -1; /* pass 1 split it; or no memory */
				} else {
					table = table_at(*e & S2_ADDR_MASK);
				}
			} else {
				table = table_at(*e & S2_ADDR_MASK);
			}
		}
		gpa += step; /* stays <= 2^48: no wrap */
	}
	return 0;
}

int s2pt_unmap(struct s2pt *t, uint64_t gpa, uint64_t size)
{
	if (t->root == 0 || !range_ok(gpa, size, S2_GPA_BITS))
		return -1;
	if (unmap_pass(t, gpa, gpa + size, false) != 0)
		return -1;
	return unmap_pass(t, gpa, gpa + size, true);
}

int s2pt_lookup(const struct s2pt *t, uint64_t gpa, uint64_t *hpa,
		unsigned *perms, uint64_t *page_size)
{
	const uint64_t *table;
	unsigned allowed = S2_R | S2_W | S2_X;

	if (t->root == 0 || (gpa >> S2_GPA_BITS))
		return -1;
	table = table_at(t->root);
	for (unsigned l = S2_LEVELS; l >= 1; l--) {
		uint64_t e = table[index_at(gpa, l)];

		if (!present(t->fmt, e))
			return -1;
		/* Permissions are the AND over every level (SDM 29.3.3.2,
		 * APM vol. 2 5.6 for the NPT/x86 format). */
		allowed &= leaf_perms(t->fmt, e);
		if (is_leaf(e, l)) {
			uint64_t sz = level_size(l);
			if (hpa)
				*hpa = leaf_hpa(e, l) | (gpa & (sz - 1));
			if (perms)
				*perms = allowed;
			if (page_size)
				*page_size = sz;
			return 0;
		}
		table = table_at(e & S2_ADDR_MASK);
	}
	return -1; /* not reached: level 1 entries are leaves */
}

int s2pt_build_from_gmem(struct s2pt *t, const struct gmem *g)
{
	for (unsigned i = 0; i < g->count; i++) {
		const struct gmem_range *r = &g->r[i];
		int rc;

		switch (r->kind) {
		case GMEM_RAM:
			rc = s2pt_map(t, r->gpa, r->hpa, r->size, S2_R | S2_W | S2_X,
				      S2_EPT_MT_WB);
			break;
		case GMEM_ROM:
			rc = s2pt_map(t, r->gpa, r->hpa, r->size, S2_R | S2_X, S2_EPT_MT_WB);
			break;
		default: /* MMIO: must exit, so nothing may map it */
			rc = s2pt_unmap(t, r->gpa, r->size);
			break;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

uint64_t s2pt_eptp(const struct s2pt *t)
{
	if (t->fmt == S2_NPT)
		return t->root;
	return t->root | ((uint64_t)(S2_LEVELS - 1) << 3) | S2_EPT_MT_WB;
}

/* Free every table under the entries of the table at hpa (a table at
 * 'level': its non-leaf entries point at tables of level - 1). */
static void free_below(struct s2pt *t, uint64_t hpa, unsigned level,
		       void (*free_table)(void *ctx, uint64_t hpa))
{
	uint64_t *tab = table_at(hpa);

	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = tab[i];

		if (level > 1 && present(t->fmt, e) && !is_leaf(e, level)) {
			uint64_t sub = e & S2_ADDR_MASK;

			free_below(t, sub, level - 1, free_table);
			free_table(t->ctx, sub);
			t->tables--;
		}
		tab[i] = 0;
	}
}

void s2pt_clear(struct s2pt *t, void (*free_table)(void *ctx, uint64_t hpa))
{
	free_below(t, t->root, S2_LEVELS, free_table);
}
