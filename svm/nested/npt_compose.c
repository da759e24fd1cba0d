/*
 * npt_compose: walk NPT12, look up NPT01, produce the NPT02 leaf or the
 * fault.  See svm/nested/npt_compose.h for the rules and the reasons.
 *
 * Entry format: AMD64 long-mode paging (APM vol. 2 5.3; the same table as
 * mm/s2pt.h's NPT bits): P 0, R/W 1, U/S 2, A 5, D 6 (leaves), PS 7
 * (levels 3 and 2), address 51:12, NX 63.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "svm/nested/npt_compose.h"
#include "svm/nested/nsvm_arch.h"

#define E_P   (1ull << 0)
#define E_RW  (1ull << 1)
#define E_US  (1ull << 2)
#define E_A   (1ull << 5)
#define E_D   (1ull << 6)
#define E_PS  (1ull << 7)
#define E_NX  (1ull << 63)

/* The same values as mm/s2pt.h's S2_R/S2_W/S2_X (not included: the
 * composer only produces them). */
enum { P_R = 1, P_W = 2, P_X = 4 };

#define BITS(hi, lo) ((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1))
#define ADDR_MASK BITS(51, 12)

#define SIZE_4K (1ull << 12)

typedef uint64_t __attribute__((may_alias)) entry_t;

static unsigned maxphy(const struct nptc_regs *r)
{
	unsigned m = r->maxphyaddr;

	if (m == 0 || m > 52)
		return 52;
	return m < 32 ? 32 : m;
}

/* Reserved bits of an entry at 'level' (4..1) that maps a page ('leaf')
 * or points to a table (APM vol. 2 5.3.x, tables of the long-mode
 * entries).  PS at level 4 is reserved; PS at level 3 is reserved without
 * 1 GiB pages. */
static uint64_t reserved(const struct nptc_regs *r, unsigned level, uint64_t e)
{
	uint64_t rsvd = BITS(51, 0) & ~BITS(maxphy(r) - 1, 0);  /* 51:M */

	if (!r->nxe)
		rsvd |= E_NX;
	if (level == 4)
		rsvd |= E_PS;
	else if (level == 3 && (e & E_PS))
		rsvd |= r->allow_1g ? BITS(29, 13) : E_PS;
	else if (level == 2 && (e & E_PS))
		rsvd |= BITS(20, 13);
	return rsvd;
}

static int npf(struct nptc_result *out, uint64_t l2_gpa, uint64_t npf_info1, uint64_t cause,
	       unsigned level, uint64_t entry_gpa, bool outside)
{
	/* The access as the CPU reported it for this L2 access, and which
	 * walk (bits 32/33); the cause as NPT12 gives it. */
	uint64_t keep = NSVM_NPF_RW | NSVM_NPF_ID | NSVM_NPF_FINAL | NSVM_NPF_GUEST_PT;

	out->kind = NPTC_NPF_L1;
	out->exit_info1 = (npf_info1 & keep) | NSVM_NPF_US | cause;
	out->exit_info2 = l2_gpa;
	out->level = level;
	out->entry_gpa = entry_gpa;
	out->table_outside = outside;
	return out->kind;
}

/* Set 'bits' in the entry at p, which held 'old' when we read it.  False
 * if L1 changed the entry meanwhile. */
static bool set_bits(entry_t *p, uint64_t old, uint64_t bits)
{
	uint64_t expect = old;

	if ((old & bits) == bits)
		return true;
	return __atomic_compare_exchange_n(p, &expect, old | bits, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

int npt_compose(const struct gmem *l1, const struct nptc_regs *r, uint64_t l2_gpa,
		uint64_t npf_info1, nptc_npt01_fn npt01, const void *ctx,
		struct nptc_result *out)
{
	bool write = npf_info1 & NSVM_NPF_RW, fetch = npf_info1 & NSVM_NPF_ID;
	/* The entries of this walk, to set A/D in once it succeeds. */
	struct { entry_t *p; uint64_t e, gpa; } used[4];
	unsigned n = 0;
	uint64_t table, all = E_RW | E_US, any = 0, leaf = 0, size12 = 0, l1_gpa = 0;
	uint64_t hpa01, size01, size;
	unsigned perms01, perms;

	memset(out, 0, sizeof(*out));
	if (!r->long_mode) {
		out->kind = NPTC_UNSUPPORTED;
		return out->kind;
	}
	if (l2_gpa >> 48)
		return npf(out, l2_gpa, npf_info1, 0, 4, 0, false);

	table = r->ncr3 & ADDR_MASK & ~reserved(r, 1, 0);  /* address bits < M */

	/* ---- NPT12, top level down (15.25.5) ---- */
	for (unsigned level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t entry_gpa = table + ((l2_gpa >> shift) & 511) * 8;
		entry_t *p = gmem_ptr(l1, entry_gpa, 8, false);
		uint64_t e;

		if (p == NULL)  /* not L1 RAM/ROM: reads as all ones, see .h */
			return npf(out, l2_gpa, npf_info1, NSVM_NPF_P | NSVM_NPF_RSV, level,
				   entry_gpa, true);
		/* One load: L1 may rewrite the entry on another vCPU, and we
		 * must check and use the same value. */
		e = __atomic_load_n(p, __ATOMIC_RELAXED);
		if (!(e & E_P))
			return npf(out, l2_gpa, npf_info1, 0, level, entry_gpa, false);
		if (e & reserved(r, level, e))
			return npf(out, l2_gpa, npf_info1, NSVM_NPF_P | NSVM_NPF_RSV, level,
				   entry_gpa, false);
		all &= e;
		any |= e;
		/* Entries in ROM are read but never updated. */
		used[n].p = gmem_ptr(l1, entry_gpa, 8, true) ? p : NULL;
		used[n].e = e;
		used[n].gpa = entry_gpa;
		n++;
		if (level == 1 || (e & E_PS)) {
			size12 = 1ull << shift;
			leaf = e;
			l1_gpa = (e & ADDR_MASK & ~(size12 - 1)) | (l2_gpa & (size12 - 1));
			break;
		}
		table = e & ADDR_MASK;
	}

	/* ---- rights (15.25.7): every nested access is a user access ---- */
	if (!(all & E_US) || (write && !(all & E_RW)) || (fetch && (any & E_NX)))
		return npf(out, l2_gpa, npf_info1, NSVM_NPF_P, 5 - n, used[n - 1].gpa, false);

	/* ---- NPT01: L0's translation of the L1 GPA ---- */
	out->l1_gpa = l1_gpa;
	if (npt01(ctx, l1_gpa, &hpa01, &perms01, &size01) != 0 ||
	    !(perms01 & P_R) || (write && !(perms01 & P_W)) || (fetch && !(perms01 & P_X))) {
		out->kind = NPTC_L0_FAULT;
		return out->kind;
	}

	/* ---- A and D in NPT12, now that the walk succeeded ---- */
	for (unsigned i = 0; i < n; i++) {
		uint64_t bits = E_A | (i == n - 1 && write ? E_D : 0);

		if (used[i].p != NULL && !set_bits(used[i].p, used[i].e, bits)) {
			out->kind = NPTC_RETRY;
			return out->kind;
		}
	}
	if (write && used[n - 1].p != NULL)
		leaf |= E_D;

	/* ---- the NPT02 leaf: smaller page, intersected rights ---- */
	size = size12 < size01 ? size12 : size01;
	perms = P_R;
	/* W only once NPT12's D is set, so that the first write comes back
	 * here to set it — unless the leaf entry is in L1 ROM, where D can
	 * never be recorded (withholding W would fault for ever). */
	if ((all & E_RW) && (perms01 & P_W) && ((leaf & E_D) || used[n - 1].p == NULL))
		perms |= P_W;
	if (!(any & E_NX) && (perms01 & P_X))
		perms |= P_X;
	out->kind = NPTC_MAP;
	out->gpa02 = l2_gpa & ~(size - 1);
	out->hpa = hpa01 - (l1_gpa & (size - 1));
	out->size = size;
	out->perms = perms;
	return out->kind;
}
