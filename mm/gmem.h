/*
 * gmem: the guest memory map — what each guest-physical address (GPA) of
 * one VM is.
 *
 * A VM's physical address space is a short, sorted list of ranges, each of
 * one kind:
 *   GMEM_RAM   backed by host memory at hpa, readable and writable;
 *   GMEM_ROM   backed by host memory at hpa, read-only for the guest
 *              (firmware images, option ROMs);
 *   GMEM_MMIO  no backing: every access exits to L0, which hands it to the
 *              device model named by mmio_id.
 * Addresses in no range are holes (reads as nothing, like a bus abort).
 *
 * This map is the single gate between guest-controlled numbers and host
 * memory (DESIGN.md "Principles" 4, "Guests never touch L0"): every address
 * a guest gives Nestor (a vmcs12 pointer, an EPT12/NPT12 entry, a virtqueue
 * descriptor, a guest page-table entry) is turned into host memory only by
 * gmem_ptr(), gmem_read() or gmem_write(), which refuse anything that is not
 * wholly inside guest RAM (or ROM, for reads).
 *
 * Host physical addresses and pointers.  In L0 host physical memory is
 * identity-mapped (mm/paging.c), so a host physical address *is* a pointer:
 * gmem turns hpa + offset into (void *)(uintptr_t)(hpa + offset).  In the
 * host-side unit tests and fuzzers the "hpa" values are simply the
 * addresses of ordinary host buffers, cast to uint64_t, which keeps that
 * arithmetic valid.
 *
 * Pure code over plain data (DESIGN.md "Principles" 1): no allocation, no
 * global state.  Tested in tests/unit/test_gmem.c; used by mm/s2pt.c (to
 * build the second-stage tables) and mm/gwalk.c (to read guest page tables).
 */
#ifndef NESTOR_MM_GMEM_H
#define NESTOR_MM_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_PAGE_SIZE 4096ull

enum gmem_kind { GMEM_RAM = 1, GMEM_ROM, GMEM_MMIO };

struct gmem_range {
	uint64_t gpa, size;     /* [gpa, gpa + size), both 4 KiB aligned   */
	enum gmem_kind kind;
	uint64_t hpa;           /* RAM/ROM backing: host physical address,  */
				/* which is a pointer in L0 (see above); 0  */
				/* for MMIO                                 */
	uint32_t mmio_id;       /* device id for MMIO, 0 otherwise          */
};

#define GMEM_MAX_RANGES 32

/*
 * A translated view: the guest-physical space of a nested guest (L2),
 * which has no ranges of its own — each lookup asks the owner to
 * translate one page (L2 GPA -> L1 GPA -> host, svm/nested) and returns
 * it from one slot.  So a pointer gmem_lookup() returned for a view is
 * valid until the next lookup in the same view.  Everything that reads
 * guest memory (walker, decoder, copies) works unchanged on a view.
 */
struct gmem_view {
	/* Fill *out with the range (4 KiB or larger, aligned) that holds gpa;
	 * false if gpa translates to nothing. */
	bool (*xlate)(void *ctx, uint64_t gpa, struct gmem_range *out);
	void *ctx;
	struct gmem_range slot;
	/* Bumped by the owner whenever translations may have changed (a
	 * shadow table dropped, another one used): what a caller cached
	 * through the view under an older generation is stale. */
	uint32_t gen;
};


struct gmem {
	unsigned count;                      /* r[0..count) in use        */
	struct gmem_range r[GMEM_MAX_RANGES]; /* sorted by gpa, disjoint  */
	uint64_t ram_top;                    /* end of the highest RAM    */
					     /* range (0 if none)         */
	struct gmem_view *view;              /* set: a translated view,   */
					     /* r[] unused (see above)    */
};

/* The generation of what lookups in g return: 0 for a plain map (its
 * ranges never change once the VM runs), the view's otherwise. */
static inline uint32_t gmem_generation(const struct gmem *g)
{
	return g->view ? g->view->gen : 0;
}

/* An empty map: every address is a hole. */
void gmem_init(struct gmem *g);

/*
 * Add [gpa, gpa + size) of the given kind.  Returns 0, or -1 leaving the
 * map unchanged if:
 *   - size is 0, or gpa or size is not 4 KiB aligned;
 *   - gpa + size does not fit in 64 bits (the end must be <= 2^64 - 1);
 *   - kind is not one of the three kinds;
 *   - for RAM/ROM, hpa is not 4 KiB aligned or hpa + size does not fit;
 *   - the range overlaps one already in the map;
 *   - the map is full (GMEM_MAX_RANGES).
 * For MMIO hpa is ignored (stored as 0); for RAM/ROM mmio_id is stored as 0.
 * Adjacent ranges are kept separate (never merged): their backings need not
 * be contiguous in host memory.
 */
int gmem_add(struct gmem *g, uint64_t gpa, uint64_t size, enum gmem_kind kind,
	     uint64_t hpa, uint32_t mmio_id);

/* The range containing gpa, or NULL for a hole. */
const struct gmem_range *gmem_lookup(const struct gmem *g, uint64_t gpa);

/*
 * A host pointer to [gpa, gpa + len) iff that whole range lies in ONE RAM
 * range, or one RAM or ROM range when !write.  NULL otherwise, and for
 * len == 0 (there is nothing to point at).  The pointer is valid for
 * exactly len bytes: callers needing more must ask again.
 *
 * This, gmem_read, gmem_write and gmem_cursor_read (a word read
 * with a memo, below) are the only ways Nestor turns a guest-controlled
 * address into host memory ("guests never touch L0").
 */
void *gmem_ptr(const struct gmem *g, uint64_t gpa, uint64_t len, bool write);

/*
 * Many small reads that mostly fall in one range — a guest page-table walk
 * reads 2 to 5 entries, nearly always all in the same RAM range — go
 * through a cursor: it remembers the last range it read from, so most
 * reads cost a compare instead of a search of the map.  It reads
 * naturally aligned words (1, 2, 4 or 8 bytes), such as page-table
 * entries.
 *
 * A cursor belongs to its caller (on its stack, for one job such as one
 * walk).  The map itself stays read-only, so it can be shared by all CPUs
 * without locks; that is why the memo lives here and not in struct gmem.
 */
struct gmem_cursor {
	const struct gmem *g;
	/* The last range read (RAM or ROM), copied so that the fast path
	 * needs no pointer chase; size 0 when there is none yet. */
	uint64_t gpa, size, hpa;
};

/*
 * Start with the lowest range as the guess, if it can be read: guest RAM
 * starts at GPA 0 on a PC, and a lone RAM range is the common map.  A
 * wrong guess costs one compare.
 */
static inline void gmem_cursor_init(struct gmem_cursor *c, const struct gmem *g)
{
	const struct gmem_range *r = &g->r[0];

	c->g = g;
	if (g->count > 0 && (r->kind == GMEM_RAM || r->kind == GMEM_ROM)) {
		c->gpa = r->gpa;
		c->size = r->size;
		c->hpa = r->hpa;
	} else {
		c->gpa = c->size = c->hpa = 0;
	}
}

/*
 * Guest memory as words.  may_alias: the guest's bytes have no C type
 * (the host tests back guest RAM with byte arrays).  Volatile: another
 * vCPU may be writing the word, and a reader that checks it and then uses
 * it must see one value, loaded once in one aligned access (single-copy
 * atomic on x86) — never a value the compiler chose to load again.
 */
typedef const volatile uint8_t __attribute__((may_alias)) gmem_u8;
typedef const volatile uint16_t __attribute__((may_alias)) gmem_u16;
typedef const volatile uint32_t __attribute__((may_alias)) gmem_u32;
typedef const volatile uint64_t __attribute__((may_alias)) gmem_u64;

/* Load the naturally aligned little-endian word of len bytes at host
 * address hpa, zero-extended. */
static inline uint64_t gmem_load_word(uint64_t hpa, unsigned len)
{
	const void *p = (const void *)(uintptr_t)hpa;

	switch (len) {
	case 1: return *(gmem_u8 *)p;
	case 2: return *(gmem_u16 *)p;
	case 4: return *(gmem_u32 *)p;
	default: return *(gmem_u64 *)p;
	}
}

/* The slow path of gmem_cursor_read (mm/gmem.c): search the map. */
bool gmem_cursor_read_slow(struct gmem_cursor *c, uint64_t gpa, unsigned len, uint64_t *val);

/*
 * Read the naturally aligned little-endian word of len bytes (1, 2, 4 or
 * 8; gpa a multiple of len) at gpa into *val, zero-extended, if it lies
 * in guest RAM or ROM — the bytes gmem_read() would accept — with one
 * load.  Returns false, leaving *val alone, if it does not, or if len or
 * the alignment is not as above.
 *
 * Inline, and fast when the word is in the range of the previous read:
 * ranges are 4 KiB aligned, so an aligned word lies in a range iff its
 * first byte does, and that is one compare.
 */
static inline bool gmem_cursor_read(struct gmem_cursor *c, uint64_t gpa, unsigned len,
				    uint64_t *val)
{
	bool word = (len == 1 || len == 2 || len == 4 || len == 8) && (gpa & (len - 1)) == 0;
	uint64_t v;

	/* Unsigned: gpa below c->gpa wraps to an offset >= c->size (ranges
	 * end below 2^64), so one compare bounds both ends.  Marked likely
	 * so that the compiler lays the fast path out straight. */
	if (__builtin_expect(word && gpa - c->gpa < c->size, 1)) {
		*val = gmem_load_word(c->hpa + (gpa - c->gpa), len);
		return true;
	}
	/* v, not val, goes to the slow path: the caller's variable then
	 * never has its address taken and can stay in a register. */
	if (!gmem_cursor_read_slow(c, gpa, len, &v))
		return false;
	*val = v;
	return true;
}

/*
 * Copy len bytes at gpa out of the guest.  The bytes may span several
 * adjacent RAM/ROM ranges (the backing of each is looked up separately).
 * Returns 0, or -1 if any byte is not RAM/ROM (or gpa + len wraps); then
 * nothing has been copied.  len == 0 succeeds.
 */
int gmem_read(const struct gmem *g, uint64_t gpa, void *buf, size_t len);

/* The same for writing into the guest; every byte must be RAM (ROM is
 * read-only for everyone, L0's emulation included).  All or nothing. */
int gmem_write(const struct gmem *g, uint64_t gpa, const void *buf, size_t len);

#endif
