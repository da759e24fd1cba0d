/*
 * ept_compose: nested EPT — one L2 guest-physical address through L1's
 * EPT12 and L0's EPT01, giving either one EPT02 leaf or the exit L1 must
 * see.
 *
 *          L2 GPA --EPT12 (L1's tables, in L1 memory)--> L1 GPA
 *          L1 GPA --EPT01 (L0's tables)----------------> host PA
 *          L2 GPA --EPT02 (L0's shadow, built here)----> host PA
 *
 * When L2 touches a GPA that EPT02 does not map (an EPT violation or
 * misconfiguration of vmcs02 reaches L0), L0 calls nvmx_ept_compose():
 *
 *   1. Walk EPT12 from EPTP12 (SDM vol. 3C 29.3.2 "EPT Translation
 *      Mechanism"), reading each entry from L1 memory through gmem.  Per
 *      entry (29.3.3):
 *        - not present (bits 2:0 = 0)                  -> EPT violation
 *        - misconfigured (29.3.3.1): W without R; X without R when
 *          execute-only is not advertised; reserved bits (address bits at
 *          or above L1's MAXPHYADDR, bits 7:3 of a non-leaf entry, bit 7 of
 *          a PML4E/PML5E, a large page where 2M/1G is not advertised, the
 *          unused address bits of a large page, memory type 2, 3 or 7)
 *                                                       -> EPT misconfig
 *      and at the end, the access (read, write or fetch) must be allowed
 *      by every entry                                   -> else EPT violation
 *   2. Look the resulting L1 GPA up in EPT01 (the caller's callback: what
 *      L0 maps for L1, with permissions).  Not mapped, or the access not
 *      allowed (MMIO of L1's devices, L1's ROM)         -> L0's own fault:
 *      L0 handles it (e.g. emulates the device for L2's access) and
 *      resumes L2.
 *   3. Otherwise the EPT02 leaf: L2 GPA -> host PA with the permissions of
 *      both, the smaller page size of the two, EPT12's memory type.
 *
 * EPT violation exit qualification (SDM 28.2.1, table "Exit Qualification
 * for EPT Violations"): bit 0 read, bit 1 write, bit 2 fetch (the access);
 * bits 3/4/5 the AND of bits 0/1/2 of the EPT12 entries used (so 0 when
 * an entry was not present); bit 7 guest-linear address valid and bit 8
 * "the access was to the translation of the linear address (not to a
 * paging-structure entry)" as the caller says (from the vmcs02 exit);
 * bit 12 "NMI unblocking due to IRET" is the caller's, as are the
 * guest-physical and guest-linear address fields.
 *
 * Accessed and dirty flags (29.3.5), when EPTP12 bit 6 is set: on a
 * successful translation the accessed flag (bit 8) of every entry used is
 * set, and for a write the dirty flag (bit 9) of the leaf, atomically in
 * L1 memory.  The EPT02 leaf of a clean page is made read-only even if
 * both sides allow writing, so the first write faults again and sets D.
 * (The caller passes guest paging-structure accesses as writes, as the
 * SDM says for A/D-enabled EPT.)
 *
 * Nestor's defined result where hardware would read the bus (DESIGN.md
 * principle 4): an EPT12 table that is not in L1 RAM/ROM reads as all
 * ones — present, with reserved bits set — i.e. an EPT misconfiguration
 * reflected to L1.
 *
 * Coherence (docs/nested-vmx.md): EPT02 leaves are a cache of EPT12;
 * L0 drops them when L1 executes INVEPT (the SDM requires L1 to do so after
 * changing an EPT12 entry that may be cached), not by write-protecting
 * EPT12.
 *
 * Pure code over plain data; L1 memory only through mm/gmem.h.  Tested in
 * tests/unit/test_nvmx_ept.c, fuzzed in tests/fuzz/fuzz_nvmx_ept.c.
 */
#ifndef NESTOR_VMX_NESTED_EPT_COMPOSE_H
#define NESTOR_VMX_NESTED_EPT_COMPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "vmx/vmx_caps.h"

enum { NVMX_EPT_R = 1, NVMX_EPT_W = 2, NVMX_EPT_X = 4 };

enum nvmx_ept_kind {
	NVMX_EPT_MAP,            /* install the EPT02 leaf in out */
	NVMX_EPT_VIOLATION,      /* reflect an EPT violation (exit 48) to L1 */
	NVMX_EPT_MISCONFIG,      /* reflect an EPT misconfiguration (49) */
	NVMX_EPT_L0_FAULT,       /* L1 GPA not mapped for this access by EPT01 */
};

/*
 * EPT01 as the caller knows it: translate an L1 GPA.  Returns 0 and fills
 * *hpa (for exactly l1_gpa), *perms (NVMX_EPT_*) and *page_size (4K, 2M
 * or 1G, the EPT01 page containing l1_gpa), or -1 if not mapped.
 */
typedef int (*nvmx_ept01_fn)(void *ctx, uint64_t l1_gpa, uint64_t *hpa,
			     unsigned *perms, uint64_t *page_size);

struct nvmx_ept_walk {
	uint64_t eptp12;         /* vmcs12's EPT pointer (checked at entry) */
	uint64_t l2_gpa;
	unsigned access;         /* one of NVMX_EPT_R / _W / _X */
	bool gla_valid;          /* qualification bit 7 */
	bool gla_translation;    /* qualification bit 8 (if gla_valid) */
	unsigned maxphyaddr;     /* L1's: 32..52, 0 = 52 */
};

struct nvmx_ept_result {
	enum nvmx_ept_kind kind;
	/* MAP: the EPT02 leaf */
	uint64_t gpa;            /* L2 GPA, aligned to size */
	uint64_t hpa;            /* host PA, aligned to size */
	uint64_t size;           /* 4K, 2M or 1G */
	unsigned perms;          /* NVMX_EPT_* */
	uint8_t memtype;         /* EPT12 leaf bits 5:3 */
	bool ipat;               /* EPT12 leaf bit 6 */
	/* VIOLATION: exit qualification (caller adds bit 12) */
	uint64_t qual;
	/* all kinds: where the walk stopped */
	unsigned level;          /* 1..5, the level of the last entry read */
	uint64_t entry;          /* its value */
	uint64_t l1_gpa;         /* MAP / L0_FAULT: the L1 GPA */
};

/*
 * Compose one translation (see above).  adv: the capabilities Nestor
 * advertises to L1 (execute-only, 2M/1G pages, A/D, 5-level).  Returns
 * out->kind.
 */
enum nvmx_ept_kind nvmx_ept_compose(const struct gmem *l1, const struct vmx_caps *adv,
				    const struct nvmx_ept_walk *w, nvmx_ept01_fn ept01,
				    void *ctx, struct nvmx_ept_result *out);

#endif
