/*
 * s2pt: building second-stage ("nested") page tables, which translate a
 * guest-physical address (GPA) into a host-physical address (HPA).
 *
 * Both vendors walk a 4-level radix tree of 4 KiB tables of 512 8-byte
 * entries, indexed by GPA bits 47:39, 38:30, 29:21 and 20:12, with 1 GiB
 * leaves allowed at level 3 and 2 MiB leaves at level 2.  They differ only
 * in how an entry is encoded:
 *
 *   AMD NPT (APM vol. 2, 15.25 "Nested Paging"): exactly the x86-64 4-level
 *   paging format (SDM vol. 3A 4.5, APM vol. 2 5.3):
 *     bit 0 P, bit 1 R/W, bit 2 U/S, bit 7 PS (large page, levels 3 and 2),
 *     bit 63 NX, address in bits 51:12.
 *   Guest accesses are checked as user accesses in the nested walk
 *   (APM vol. 2 15.25), so U/S must be 1 at every level.  There is no
 *   "write-only" or "execute-only": a present entry is always readable.
 *   NX is only defined when the host runs with EFER.NXE = 1 (the nested
 *   walk uses the host's paging controls), which L0 always sets.  The
 *   memory type comes from PAT/PCD/PWT; Nestor leaves them 0 (PAT entry 0,
 *   write-back by default), so ept_memtype is ignored for NPT.
 *
 *   Intel EPT (SDM vol. 3C 29.3 "The Extended Page Table Mechanism"; 28.3
 *   in editions before 2023):
 *     bit 0 R, bit 1 W, bit 2 X (entry present iff any of them is set),
 *     leaves: bits 5:3 EPT memory type, bit 6 ignore-PAT, bit 7 large page
 *     (levels 3 and 2; ignored at level 1), bits 8/9 accessed/dirty (only
 *     with EPTP bit 6, which Nestor leaves off), address in bits 51:12.
 *   W without R is an EPT misconfiguration (SDM 29.3.3.1), so s2pt_map
 *   refuses it.  Execute-only (X without R) is legal only on CPUs that
 *   report it in IA32_VMX_EPT_VPID_CAP bit 0: the caller checks that.
 *   Nestor leaves ignore-PAT clear, so the guest's PAT combines with the
 *   EPT memory type (SDM 29.3.7.2).
 *
 * Non-leaf entries are always fully permissive (NPT: P|RW|US; EPT: R|W|X):
 * permissions are decided at the leaf, which keeps splitting and remapping
 * local to one entry.
 *
 * Tables live in host memory handed out by the caller's alloc_table()
 * (zeroed 4 KiB pages); the tree is edited through their host physical
 * addresses used as pointers, which is valid in L0 because host memory is
 * identity-mapped (see mm/gmem.h).  In the host tests alloc_table() hands
 * out aligned host buffers.  Tables are never freed: there is no free
 * callback, so an unmap leaves empty tables in place (they are reused by a
 * later map) and 'tables' only grows.  A VM's tables are released with
 * the VM.
 *
 * Failure is clean: s2pt_map and s2pt_unmap first make room (allocate
 * missing tables, split large pages — both leave every existing
 * translation unchanged) and only then change leaves, so when an
 * allocation fails they return -1 with every translation as it was.
 *
 * Pure code over plain data (DESIGN.md "Principles" 1).  Tested in
 * tests/unit/test_s2pt.c, fuzzed against a model in tests/fuzz/fuzz_s2pt.c.
 * Not thread-safe: the owner of the VM serialises edits, and issues
 * INVEPT / flushes the NPT TLB (ASID) after unmaps and remaps.
 */
#ifndef NESTOR_MM_S2PT_H
#define NESTOR_MM_S2PT_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"

enum s2_format { S2_NPT, S2_EPT };
enum { S2_R = 1, S2_W = 2, S2_X = 4 };

/* Entry bits, as the manuals name them (see above). */
#define S2_NPT_P        (1ull << 0)
#define S2_NPT_RW       (1ull << 1)
#define S2_NPT_US       (1ull << 2)
#define S2_NPT_PS       (1ull << 7)
#define S2_NPT_NX       (1ull << 63)
#define S2_EPT_R        (1ull << 0)
#define S2_EPT_W        (1ull << 1)
#define S2_EPT_X        (1ull << 2)
#define S2_EPT_MT_SHIFT 3               /* bits 5:3, leaves only         */
#define S2_EPT_IPAT     (1ull << 6)
#define S2_EPT_LARGE    (1ull << 7)
#define S2_ADDR_MASK    0x000ffffffffff000ull /* bits 51:12                */

/* EPT memory types (SDM 29.3.7 / Table "Memory types") */
#define S2_EPT_MT_UC 0
#define S2_EPT_MT_WC 1
#define S2_EPT_MT_WT 4
#define S2_EPT_MT_WP 5
#define S2_EPT_MT_WB 6

#define S2_LEVELS   4
#define S2_GPA_BITS 48                  /* what 4 levels translate       */
#define S2_HPA_BITS 52                  /* architectural MAXPHYADDR max  */

#define S2_SIZE_4K (1ull << 12)
#define S2_SIZE_2M (1ull << 21)
#define S2_SIZE_1G (1ull << 30)

struct s2pt {
	enum s2_format fmt;
	uint64_t root;                   /* hpa of the top (PML4) table      */
	uint64_t (*alloc_table)(void *ctx); /* hpa of a zeroed 4K page, or 0 */
	void *ctx;
	bool allow_1g;                   /* CPU supports 1 GiB second-stage  */
					 /* pages (EPT: IA32_VMX_EPT_VPID_CAP */
					 /* bit 17; NPT: CPUID Page1GB)      */
	unsigned tables;                 /* tables allocated, root included  */
};

/* Allocate the root table.  Returns 0, or -1 if fmt is unknown or the
 * allocation fails (then *t holds no table). */
int s2pt_init(struct s2pt *t, enum s2_format fmt, uint64_t (*alloc)(void *),
	      void *ctx, bool allow_1g);

/*
 * Map [gpa, gpa + size) to [hpa, hpa + size) with perms (S2_R|S2_W|S2_X)
 * and, for EPT, memory type ept_memtype (6 = WB).  Each step uses the
 * largest page that gpa, hpa and the remaining size allow (1 GiB if
 * allow_1g, 2 MiB, 4 KiB), except that where a table already exists the
 * mapping goes into it (smaller pages; nothing is leaked).  Remapping part
 * of a large page splits it: the rest keeps its translation.
 *
 * Returns 0, or -1 with nothing changed if: gpa, hpa or size is not 4 KiB
 * aligned or size is 0; gpa + size > 2^48 or hpa + size > 2^52; perms is 0
 * or has unknown bits; the format cannot express perms (NPT without R,
 * EPT W without R); ept_memtype is not UC/WC/WT/WP/WB (EPT); a table
 * allocation fails.
 */
int s2pt_map(struct s2pt *t, uint64_t gpa, uint64_t hpa, uint64_t size,
	     unsigned perms, uint8_t ept_memtype);

/* Unmap [gpa, gpa + size) (alignment and limits as for map; holes in it
 * are fine).  Partly covered large pages are split first.  Returns 0, or
 * -1 with nothing changed on bad arguments or allocation failure. */
int s2pt_unmap(struct s2pt *t, uint64_t gpa, uint64_t size);

/*
 * Translate gpa.  Returns 0 and fills whichever of hpa, perms (the
 * effective S2_R|S2_W|S2_X: an access must be allowed at every level) and
 * page_size are not NULL; or -1 if gpa is not mapped (or >= 2^48).
 */
int s2pt_lookup(const struct s2pt *t, uint64_t gpa, uint64_t *hpa,
		unsigned *perms, uint64_t *page_size);

/*
 * Drop every translation: the tables below the root go back through
 * free_table(ctx, hpa) and the root is left empty (t->tables == 1).  Used
 * for shadow tables that stand for a TLB (NPT02/EPT02) when the guest
 * hypervisor flushes it.  The caller flushes the hardware TLB (ASID/EPTP).
 */
void s2pt_clear(struct s2pt *t, void (*free_table)(void *ctx, uint64_t hpa));

/*
 * Map a VM's memory map: RAM read/write/execute, ROM read/execute (both
 * write-back), MMIO left unmapped (explicitly unmapped, if an earlier map
 * covered it) so every access to it exits (EPT violation / #NPF) to the
 * device model.  Holes stay unmapped.  Returns 0, or -1 at the first range
 * that fails (ranges before it stay mapped).
 */
int s2pt_build_from_gmem(struct s2pt *t, const struct gmem *g);

/*
 * The value to load as the table pointer.  EPT: the EPTP (SDM 24.6.11 /
 * 25.6.11): root | write-back (6) in bits 2:0 | page-walk length - 1 (3)
 * in bits 5:3; accessed/dirty flags (bit 6) off.  NPT: nCR3 for the VMCB
 * (APM vol. 2 15.25), which is just the root (PWT = PCD = 0: write-back).
 */
uint64_t s2pt_eptp(const struct s2pt *t);

#endif
