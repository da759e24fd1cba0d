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

struct gmem {
	unsigned count;                      /* r[0..count) in use        */
	struct gmem_range r[GMEM_MAX_RANGES]; /* sorted by gpa, disjoint  */
	uint64_t ram_top;                    /* end of the highest RAM    */
					     /* range (0 if none)         */
};

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
 * This, gmem_read, gmem_write and gmem_cursor_ptr (a cached gmem_ptr
 * for reading, below) are the only ways Nestor turns a guest-controlled
 * address into host memory ("guests never touch L0").
 */
void *gmem_ptr(const struct gmem *g, uint64_t gpa, uint64_t len, bool write);

/*
 * Many small reads that mostly fall in one range — a guest page-table walk
 * reads 2 to 5 entries, nearly always all in the same RAM range — go
 * through a cursor: it remembers the last range it read from, so most
 * reads cost a few compares instead of a search of the map.
 *
 * A cursor belongs to its caller (on its stack, for one job such as one
 * walk).  The map itself stays read-only, so it can be shared by all CPUs
 * without locks; that is why the memo lives here and not in struct gmem.
 */
struct gmem_cursor {
	const struct gmem *g;
	const struct gmem_range *r; /* last range read: RAM or ROM, or NULL */
};

static inline void gmem_cursor_init(struct gmem_cursor *c, const struct gmem *g)
{
	c->g = g;
	c->r = NULL;
}

/* The slow path of gmem_cursor_ptr (mm/gmem.c): search the map. */
const void *gmem_cursor_find(struct gmem_cursor *c, uint64_t gpa, uint64_t len);

/*
 * Exactly gmem_ptr(c->g, gpa, len, false): a host pointer for READING
 * [gpa, gpa + len) iff it lies wholly in one RAM or ROM range, else NULL
 * (and NULL for len == 0).  Inline so that the common case — inside the
 * range of the previous read — costs no call.
 */
static inline const void *gmem_cursor_ptr(struct gmem_cursor *c, uint64_t gpa, uint64_t len)
{
	const struct gmem_range *r = c->r;

	if (r != NULL) {
		/* Unsigned: gpa below r->gpa wraps to an offset >= r->size
		 * (ranges end below 2^64), so one compare bounds both ends. */
		uint64_t off = gpa - r->gpa;

		if (off < r->size && len != 0 && len <= r->size - off)
			return (const void *)(uintptr_t)(r->hpa + off);
	}
	return gmem_cursor_find(c, gpa, len);
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
