/*
 * npt_compose: nested NPT — one shadow table NPT02 standing for two.
 *
 * L2's memory is translated twice: L2 GPA -> L1 GPA by L1's nested table
 * NPT12 (in L1 memory, rooted at vmcb12's nCR3), and L1 GPA -> host PA by
 * L0's NPT01.  The CPU walks only one nested table, so L0 gives it NPT02
 * (L2 GPA -> host PA), built lazily: vmcb02 starts with an empty NPT02,
 * every L2 access to an unmapped page exits with #NPF, and L0 calls
 * npt_compose() for the faulting L2 GPA.  It answers one of:
 *
 *   NPTC_MAP     install this leaf in NPT02: [gpa02, gpa02 + size) ->
 *                [hpa, hpa + size) with perms (S2_R|S2_W|S2_X, as
 *                mm/s2pt.h's s2pt_map() takes them);
 *   NPTC_NPF_L1  the walk of NPT12 faults: reflect #VMEXIT(NPF) to L1
 *                with exit_info1/exit_info2 (APM 15.25.6);
 *   NPTC_L0_FAULT the L1 GPA is not mapped (or not so) in NPT01: L0's
 *                business — e.g. L1 gave L2 a page of its MMIO, which
 *                L0's device model then emulates for L2;
 *   NPTC_RETRY   L1 changed an NPT12 entry while we set its A/D bits:
 *                resume L2, which faults again if it still has to.
 *
 * The walk (APM 15.25.5-15.25.7).  NPT12 has the format of the paging
 * mode L1 ran VMRUN in ("the extra translation uses the same paging mode
 * as the VMM used when it executed the most recent VMRUN"); Nestor
 * supports a long-mode L1 (4-level tables: 4 KiB, 2 MiB and, when offered
 * to L1, 1 GiB pages; NX when L1's EFER.NXE).  A legacy-mode L1 with NP is
 * answered NPTC_UNSUPPORTED (the caller ends the VM with a log line).
 * Every nested access is a user access: U/S must be 1 at every level.
 * A page is writable iff R/W is 1 at every level, executable iff NX is 0
 * at every level.
 *
 * Why a walker of its own and not mm/gwalk.c (which reads the same
 * long-mode format): NPT02 needs the *effective permissions* of the
 * translation (to install a leaf that will not fault again for the next
 * access of another kind), while gwalk answers yes/no for one access —
 * three walks would read each entry three times and could see three
 * different values while L1 edits its table; and the nested walk must set
 * accessed/dirty bits in NPT12 (the CPU does, 15.25.6), while gwalk is
 * read-only by design.  Each entry here is loaded once.
 *
 * Accessed and dirty bits.  The CPU sets A/D in the nested table it walks
 * (NPT02, L0's); L1 expects them in NPT12.  So the composer sets A in
 * every NPT12 entry of a successful walk and D in the leaf for a write,
 * with an atomic compare-and-exchange (L1's other vCPUs may be editing
 * the entry).  To catch the first write to a clean page, a leaf whose D is
 * 0 is installed without W even if NPT12 allows writes; the write then
 * faults in NPT02 and comes back here to set D.  Entries in L1 ROM are
 * not updated (writes to ROM are dropped).  A/D are set only on success.
 *
 * Faults reported to L1 (EXITINFO1, 15.25.6): P = 0 if an entry was not
 * present, 1 for a protection or reserved-bit fault; RW, US, ID
 * describe the access (taken from vmcb02's #NPF, which the CPU reported
 * for this same L2 access: guest page-table walks are writes); RSV for
 * reserved bits; bits 32 ("final physical address") and 33 ("guest page
 * table") copied from vmcb02's EXITINFO1.  EXITINFO2 = the L2 GPA.
 *
 * NPT12 pointing outside L1 memory.  An NPT12 table address that is not
 * L1 RAM/ROM (a hole or MMIO) has no architectural fault: the CPU would
 * just read the bus.  On a PC a read from nowhere returns all ones, and an
 * all-ones entry is present with reserved bits (PS in a PML4E; bits 29:13
 * or 20:13 of a large page; bits 51:MAXPHYADDR; NX without EFER.NXE), so
 * the CPU would take #NPF(P=1, RSV=1).  Nestor reflects exactly that, for
 * a table at any level, and flags it (table_outside) so that the caller
 * can log it.  (MMIO would be read as a device register on real hardware;
 * Nestor never walks through MMIO.)  An L2 GPA that 4 levels cannot
 * translate (bits 63:48 not zero) is reflected as not present.
 *
 * Page sizes (15.25.9 "splintering"): the NPT02 leaf is the smaller of
 * the NPT12 and NPT01 pages containing the address; a 1 GiB NPT12 page
 * over 2 MiB or 4 KiB NPT01 pages, or a 2 MiB one over 4 KiB pages, is
 * mapped piecewise, one NPF at a time.
 *
 * Pure code over plain data (plus the caller's NPT01 lookup).  Tested in
 * tests/unit/test_nsvm_npt.c, fuzzed in tests/fuzz/fuzz_nsvm_npt.c.
 */
#ifndef NESTOR_SVM_NESTED_NPT_COMPOSE_H
#define NESTOR_SVM_NESTED_NPT_COMPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"

/* L1's nested-paging state, latched at L1's VMRUN. */
struct nptc_regs {
	uint64_t ncr3;          /* vmcb12's nCR3: L1 GPA of NPT12's PML4   */
	unsigned maxphyaddr;    /* L1's MAXPHYADDR: 32..52, 0 means 52     */
	bool long_mode;         /* L1's EFER.LMA at VMRUN                  */
	bool nxe;               /* L1's EFER.NXE at VMRUN                  */
	bool allow_1g;          /* 1 GiB pages offered to L1 (Page1GB)     */
};

/*
 * L0's NPT01: translate an L1 GPA.  Returns 0 and fills hpa (of exactly
 * l1_gpa), perms (S2_R|S2_W|S2_X) and page_size (4K, 2M or 1G) — the
 * contract of s2pt_lookup() — or -1 if it is not mapped.
 */
typedef int (*nptc_npt01_fn)(const void *ctx, uint64_t l1_gpa, uint64_t *hpa,
			     unsigned *perms, uint64_t *page_size);

enum nptc_kind {
	NPTC_MAP = 0,
	NPTC_NPF_L1 = 1,
	NPTC_L0_FAULT = 2,
	NPTC_RETRY = 3,
	NPTC_UNSUPPORTED = 4,
};

struct nptc_result {
	int kind;               /* enum nptc_kind                           */
	uint64_t l1_gpa;        /* MAP, L0_FAULT: where NPT12 maps the GPA  */
	/* NPTC_MAP: the NPT02 leaf */
	uint64_t gpa02, hpa, size;
	unsigned perms;         /* S2_R | S2_W | S2_X                       */
	/* NPTC_NPF_L1 */
	uint64_t exit_info1, exit_info2;
	bool table_outside;     /* an NPT12 table is not in L1 RAM/ROM      */
	unsigned level;         /* NPT12 level of the faulting entry (4..1) */
	uint64_t entry_gpa;     /* its L1 GPA                               */
};

/*
 * Compose the NPT02 translation of l2_gpa for the access vmcb02's #NPF
 * describes (npf_info1: its EXITINFO1).  l1: L1's memory map (NPT12 is
 * read and A/D-updated through it); npt01/ctx: L0's NPT01 lookup.
 * Returns out->kind.
 */
int npt_compose(const struct gmem *l1, const struct nptc_regs *r, uint64_t l2_gpa,
		uint64_t npf_info1, nptc_npt01_fn npt01, const void *ctx,
		struct nptc_result *out);

#endif
