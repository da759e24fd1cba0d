/*
 * vmcb12_check: VMRUN's consistency checks as a table.  See
 * svm/nested/vmcb12_check.h for the contract and the TOCTOU rule.
 *
 * Each check is one small function answering one line of the APM list in
 * 15.5.1 (quoted above it).  A check whose condition does not apply passes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "svm/nested/vmcb12_check.h"
#include "svm/nested/nsvm_arch.h"

#define PAGE_MASK 0xfffull

/* MAXPHYADDR as the limits say: 0 means 52, others clamped to 32..52. */
static unsigned maxphy(const struct nsvm_limits *l)
{
	unsigned m = l->maxphyaddr;

	if (m == 0 || m > 52)
		return 52;
	return m < 32 ? 32 : m;
}

/* Bits 63:m. */
static uint64_t above(unsigned m)
{
	return ~0ull << m;
}

/* Does [base, base + size) end at or beyond 2^m (or wrap)?  APM 15.10.1 /
 * 15.11: "if the address of the last byte ... is greater than or equal to
 * the maximum supported physical address". */
static bool ends_beyond(uint64_t base, uint64_t size, unsigned m)
{
	uint64_t last;

	if (base > UINT64_MAX - (size - 1))
		return true;
	last = base + (size - 1);
	return (last & above(m)) != 0;
}

/* Long mode as VMRUN's checks define it: EFER.LME and CR0.PG both set. */
static bool lme_pg(const struct vmcb_save *s)
{
	return (s->efer & NSVM_EFER_LME) && (s->cr0 & NSVM_CR0_PG);
}

/* ---- phase 1: the VMCB address (APM vol. 3 "VMRUN", #GP(0)) ---- */

/* "The address in rAX is not aligned on a 4-Kbyte boundary." */
static bool vmcb_aligned(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->gpa;
	return (c->gpa & PAGE_MASK) == 0;
}

/* "rAX referenced a physical address above the maximum supported
 * physical address." */
static bool vmcb_maxphy(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->gpa;
	return !ends_beyond(c->gpa & ~PAGE_MASK, 4096, maxphy(c->lim));
}

/* Nestor: the page must be L1 RAM — it is read now and written at
 * #VMEXIT.  (KVM also answers #GP(0) when it cannot map vmcb12.) */
static bool vmcb_in_ram(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->gpa;
	return gmem_ptr(c->lim->l1_mem, c->gpa & ~PAGE_MASK, 4096, true) != NULL;
}

/* ---- phase 2: contents (APM 15.5.1 list, then 15.20, 15.25.4) ---- */

/* "EFER.SVME is zero." */
static bool efer_svme(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.efer;
	return (c->v->save.efer & NSVM_EFER_SVME) != 0;
}

/* "CR0.CD is zero and CR0.NW is set." */
static bool cr0_cd_nw(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	uint64_t cr0 = c->v->save.cr0;

	*bad = cr0;
	return !(!(cr0 & NSVM_CR0_CD) && (cr0 & NSVM_CR0_NW));
}

/* "CR0[63:32] are not zero." */
static bool cr0_high(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.cr0;
	return (c->v->save.cr0 >> 32) == 0;
}

/*
 * "Any MBZ bit of CR3 is set."  In long mode (EFER.LME and CR0.PG) CR3
 * holds a 52-bit table address; bits 63:52 are MBZ (APM vol. 2 figure
 * 3-5) and so are address bits at or above MAXPHYADDR.  Outside long mode
 * Nestor does not check CR3: the legacy formats' reserved bits are not
 * all MBZ on every model, and the CPU checks vmcb02's CR3 (L2's, passed
 * through unchanged) again anyway.
 */
static bool cr3_mbz(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.cr3;
	if (!lme_pg(&c->v->save))
		return true;
	return (c->v->save.cr3 & above(maxphy(c->lim))) == 0;
}

/* "Any MBZ bit of CR4 is set." (the bits L1's CPU does not have) */
static bool cr4_mbz(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.cr4;
	return (c->v->save.cr4 & ~c->lim->cr4_valid) == 0;
}

/* "DR6[63:32] are not zero." */
static bool dr6_high(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.dr6;
	return (c->v->save.dr6 >> 32) == 0;
}

/* "DR7[63:32] are not zero." */
static bool dr7_high(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.dr7;
	return (c->v->save.dr7 >> 32) == 0;
}

/* "Any MBZ bit of EFER is set." and "EFER.LMA or EFER.LME is non-zero and
 * this processor does not support long mode." (LME/LMA are simply not in
 * efer_valid then). */
static bool efer_mbz(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.efer;
	return (c->v->save.efer & ~c->lim->efer_valid) == 0;
}

/* "EFER.LME and CR0.PG are both set and CR4.PAE is zero." */
static bool lme_pg_pae(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.cr4;
	return !(lme_pg(&c->v->save) && !(c->v->save.cr4 & NSVM_CR4_PAE));
}

/* "EFER.LME and CR0.PG are both non-zero and CR0.PE is zero." */
static bool lme_pg_pe(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->save.cr0;
	return !(lme_pg(&c->v->save) && !(c->v->save.cr0 & NSVM_CR0_PE));
}

/* "EFER.LME, CR0.PG, CR4.PAE, CS.L, and CS.D are all non-zero." */
static bool lme_csl_csd(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	const struct vmcb_save *s = &c->v->save;

	*bad = s->cs.attrib;
	return !(lme_pg(s) && (s->cr4 & NSVM_CR4_PAE) &&
		 (s->cs.attrib & NSVM_SEG_L) && (s->cs.attrib & NSVM_SEG_DB));
}

/* "The VMRUN intercept bit is clear." */
static bool vmrun_intercept(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.intercept_misc2;
	return (c->v->ctl.intercept_misc2 & NSVM_MISC2_VMRUN) != 0;
}

/* "The MSR or IOIO intercept tables extend to a physical address that is
 * greater than or equal to the maximum supported physical address."  The
 * low 12 bits of the base are ignored (15.10.1, 15.11).  Checked whether
 * or not the intercept is on, as the APM lists it unconditionally. */
static bool msrpm_maxphy(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.msrpm_base_pa;
	return !ends_beyond(c->v->ctl.msrpm_base_pa & ~PAGE_MASK, NSVM_MSRPM_SIZE,
			    maxphy(c->lim));
}

static bool iopm_maxphy(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.iopm_base_pa;
	return !ends_beyond(c->v->ctl.iopm_base_pa & ~PAGE_MASK, NSVM_IOPM_SIZE,
			    maxphy(c->lim));
}

/* "Illegal event injection (Section 15.20)": "VMRUN exits with
 * VMEXIT_INVALID error code if ... reserved values of TYPE have been
 * specified" (0, 2, 3, 4 are defined, table 15-11). */
static bool eventinj_type(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	uint64_t e = c->v->ctl.event_inj;
	unsigned t = NSVM_EVT_TYPE(e);

	*bad = e;
	if (!(e & NSVM_EVT_V))
		return true;
	return t == NSVM_EVT_INTR || t == NSVM_EVT_NMI || t == NSVM_EVT_EXC ||
	       t == NSVM_EVT_SOFT_INT;
}

/*
 * "... or TYPE = 3 (exception) has been specified with a vector that does
 * not correspond to an exception (this includes vector 2, which is an
 * NMI, not an exception)."  The exceptions are those of APM vol. 2 table
 * 8-1: #DE 0, #DB 1, #BP 3, #OF 4, #BR 5, #UD 6, #NM 7, #DF 8, #TS 10,
 * #NP 11, #SS 12, #GP 13, #PF 14, #MF 16, #AC 17, #MC 18, #XF 19, #CP 21,
 * #HV 28, #VC 29, #SX 30.  Vectors 9, 15, 20, 22-27, 31 are reserved and
 * 32-255 are not exceptions.  (QEMU's TCG accepts more: it refuses only
 * vector 2 and vectors >= 31.)
 */
#define EXCEPTION_VECTORS 0x702f7dfbu

static bool eventinj_vector(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	uint64_t e = c->v->ctl.event_inj;
	unsigned v = NSVM_EVT_VECTOR(e);

	*bad = e;
	if (!(e & NSVM_EVT_V) || NSVM_EVT_TYPE(e) != NSVM_EVT_EXC)
		return true;
	return v < 32 && ((EXCEPTION_VECTORS >> v) & 1);
}

/* "If the VMM attempts to inject an event that is impossible for the guest
 * mode (e.g., a #BR exception when the guest is in 64-bit mode), the event
 * injection will fail ... VMRUN will immediately exit with an error code
 * of VMEXIT_INVALID."  The APM's one example is the one checked: BOUND
 * does not exist in 64-bit mode (EFER.LME, CR0.PG and CS.L). */
static bool eventinj_mode(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	uint64_t e = c->v->ctl.event_inj;
	const struct vmcb_save *s = &c->v->save;

	*bad = e;
	if (!(e & NSVM_EVT_V) || NSVM_EVT_TYPE(e) != NSVM_EVT_EXC || NSVM_EVT_VECTOR(e) != 5)
		return true;
	return !(lme_pg(s) && (s->cs.attrib & NSVM_SEG_L));
}

/* "ASID is equal to zero." */
static bool asid_zero(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.asid;
	return c->v->ctl.asid != 0;
}

/* 15.25.4: with NP_ENABLE, "Any MBZ bit of nCR3 is set": address bits at
 * or above MAXPHYADDR (bits 11:0 hold PWT/PCD and ignored bits). */
static bool ncr3_mbz(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.n_cr3;
	if (!(c->v->ctl.np_enable & 1))
		return true;
	return (c->v->ctl.n_cr3 & above(maxphy(c->lim))) == 0;
}

/*
 * Nestor: the maps it will read (the MSRPM when MSR_PROT is on, the IOPM
 * when IOIO_PROT is on) and the top NPT12 table (when NP is on) must be
 * readable L1 memory (RAM or ROM) — each wholly: 8 KiB, 12 KiB, 4 KiB.
 * A map that is not read need not exist.
 */
static bool readable(const struct nsvm_limits *l, uint64_t gpa, uint64_t size)
{
	uint64_t base = gpa & ~PAGE_MASK;

	/* gmem_ptr wants one range; maps may span adjacent ranges, so ask
	 * page by page. */
	for (uint64_t off = 0; off < size; off += 4096) {
		if (base > UINT64_MAX - off ||
		    gmem_ptr(l->l1_mem, base + off, 4096, false) == NULL)
			return false;
	}
	return true;
}

static bool msrpm_in_ram(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.msrpm_base_pa;
	if (!(c->v->ctl.intercept_misc1 & NSVM_MISC1_MSR_PROT))
		return true;
	return readable(c->lim, c->v->ctl.msrpm_base_pa, NSVM_MSRPM_SIZE);
}

static bool iopm_in_ram(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.iopm_base_pa;
	if (!(c->v->ctl.intercept_misc1 & NSVM_MISC1_IOIO_PROT))
		return true;
	return readable(c->lim, c->v->ctl.iopm_base_pa, NSVM_IOPM_SIZE);
}

static bool ncr3_in_ram(const struct nsvm_check_ctx *c, uint64_t *bad)
{
	*bad = c->v->ctl.n_cr3;
	if (!(c->v->ctl.np_enable & 1))
		return true;
	return readable(c->lim, c->v->ctl.n_cr3, 4096);
}

#define GP  NSVM_VMRUN_GP
#define INV NSVM_VMRUN_INVALID
#define APM NSVM_CHK_APM
#define NES NSVM_CHK_NESTOR
#define ROW(id_, verdict_, kind_, ref_, name_, fn_) \
	[id_] = { id_, verdict_, kind_, ref_, name_, fn_ }

const struct nsvm_check nsvm_check_table[NSVM_CHECK_COUNT] = {
	ROW(NSVM_CHK_VMCB_ALIGNED, GP, APM, "vol3 VMRUN", "VMCB address not 4 KiB aligned", vmcb_aligned),
	ROW(NSVM_CHK_VMCB_MAXPHY, GP, APM, "vol3 VMRUN", "VMCB address beyond MAXPHYADDR", vmcb_maxphy),
	ROW(NSVM_CHK_VMCB_IN_RAM, GP, NES, "15.5.1", "VMCB page not in L1 RAM", vmcb_in_ram),
	ROW(NSVM_CHK_EFER_SVME, INV, APM, "15.5.1", "EFER.SVME is zero", efer_svme),
	ROW(NSVM_CHK_CR0_CD_NW, INV, APM, "15.5.1", "CR0.CD is zero and CR0.NW is set", cr0_cd_nw),
	ROW(NSVM_CHK_CR0_HIGH, INV, APM, "15.5.1", "CR0[63:32] are not zero", cr0_high),
	ROW(NSVM_CHK_CR3_MBZ, INV, APM, "15.5.1", "MBZ bit of CR3 set (long mode)", cr3_mbz),
	ROW(NSVM_CHK_CR4_MBZ, INV, APM, "15.5.1", "MBZ bit of CR4 set", cr4_mbz),
	ROW(NSVM_CHK_DR6_HIGH, INV, APM, "15.5.1", "DR6[63:32] are not zero", dr6_high),
	ROW(NSVM_CHK_DR7_HIGH, INV, APM, "15.5.1", "DR7[63:32] are not zero", dr7_high),
	ROW(NSVM_CHK_EFER_MBZ, INV, APM, "15.5.1", "MBZ bit of EFER set (or LME/LMA without long mode)", efer_mbz),
	ROW(NSVM_CHK_LME_PG_NO_PAE, INV, APM, "15.5.1", "EFER.LME and CR0.PG set, CR4.PAE zero", lme_pg_pae),
	ROW(NSVM_CHK_LME_PG_NO_PE, INV, APM, "15.5.1", "EFER.LME and CR0.PG set, CR0.PE zero", lme_pg_pe),
	ROW(NSVM_CHK_LME_PG_PAE_CSL_CSD, INV, APM, "15.5.1", "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set", lme_csl_csd),
	ROW(NSVM_CHK_VMRUN_INTERCEPT, INV, APM, "15.5.1", "VMRUN intercept bit clear", vmrun_intercept),
	ROW(NSVM_CHK_MSRPM_MAXPHY, INV, APM, "15.11", "MSRPM extends beyond MAXPHYADDR", msrpm_maxphy),
	ROW(NSVM_CHK_IOPM_MAXPHY, INV, APM, "15.10.1", "IOPM extends beyond MAXPHYADDR", iopm_maxphy),
	ROW(NSVM_CHK_EVENTINJ_TYPE, INV, APM, "15.20", "EVENTINJ type reserved", eventinj_type),
	ROW(NSVM_CHK_EVENTINJ_VECTOR, INV, APM, "15.20", "EVENTINJ exception vector is not an exception", eventinj_vector),
	ROW(NSVM_CHK_EVENTINJ_MODE, INV, APM, "15.20", "EVENTINJ impossible in guest mode (#BR in 64-bit mode)", eventinj_mode),
	ROW(NSVM_CHK_ASID_ZERO, INV, APM, "15.5.1", "ASID is zero", asid_zero),
	ROW(NSVM_CHK_NCR3_MBZ, INV, APM, "15.25.4", "MBZ bit of nCR3 set", ncr3_mbz),
	ROW(NSVM_CHK_MSRPM_IN_RAM, INV, NES, "15.11", "MSRPM not wholly in L1 memory", msrpm_in_ram),
	ROW(NSVM_CHK_IOPM_IN_RAM, INV, NES, "15.10.1", "IOPM not wholly in L1 memory", iopm_in_ram),
	ROW(NSVM_CHK_NCR3_IN_RAM, INV, NES, "15.25.4", "nCR3 table not in L1 memory", ncr3_in_ram),
};

static void fill(struct nsvm_check_failure *f, const struct nsvm_check *row, uint64_t bad)
{
	f->id = row->id;
	f->verdict = row->verdict;
	f->kind = row->kind;
	f->apm_ref = row->apm_ref;
	f->name = row->name;
	f->value = bad;
}

bool nsvm_check_one(unsigned id, const struct vmcb *v12, uint64_t gpa,
		    const struct nsvm_limits *lim, struct nsvm_check_failure *fail)
{
	struct nsvm_check_ctx c = { .v = v12, .gpa = gpa, .lim = lim };
	const struct nsvm_check *row;
	uint64_t bad = 0;

	if (id >= NSVM_CHECK_COUNT || (id >= NSVM_CHK_ADDR_ROWS && v12 == NULL))
		return false;
	row = &nsvm_check_table[id];
	if (row->fn(&c, &bad))
		return true;
	if (fail != NULL)
		fill(fail, row, bad);
	return false;
}

bool nsvm_vmcb12_addr_ok(uint64_t gpa, const struct nsvm_limits *lim,
			 struct nsvm_check_failure *fail)
{
	for (unsigned id = 0; id < NSVM_CHK_ADDR_ROWS; id++)
		if (!nsvm_check_one(id, NULL, gpa, lim, fail))
			return false;
	return true;
}

int nsvm_vmcb12_check(const struct vmcb *v12, const struct nsvm_limits *lim,
		      struct nsvm_check_failure *fails, unsigned max_fails)
{
	int n = 0;

	for (unsigned id = NSVM_CHK_ADDR_ROWS; id < NSVM_CHECK_COUNT; id++) {
		struct nsvm_check_failure f;

		if (nsvm_check_one(id, v12, 0, lim, &f))
			continue;
		if ((unsigned)n < max_fails)
			fails[n] = f;
		n++;
	}
	return n;
}

static void memo_take(struct nsvm_check_memo *m, const struct vmcb *v)
{
	*m = (struct nsvm_check_memo){
		.valid = true,
		.cr0 = v->save.cr0, .cr3 = v->save.cr3, .cr4 = v->save.cr4, .efer = v->save.efer,
		.dr6 = v->save.dr6, .dr7 = v->save.dr7,
		.msrpm = v->ctl.msrpm_base_pa, .iopm = v->ctl.iopm_base_pa, .n_cr3 = v->ctl.n_cr3,
		.np_enable = v->ctl.np_enable, .event_inj = v->ctl.event_inj,
		.misc1 = v->ctl.intercept_misc1, .misc2 = v->ctl.intercept_misc2, .asid = v->ctl.asid,
		.cs_attrib = v->save.cs.attrib,
	};
}

int nsvm_vmcb12_check_memo(const struct vmcb *v12, const struct nsvm_limits *lim, struct nsvm_check_memo *m,
			   struct nsvm_check_failure *fails, unsigned max_fails)
{
	struct nsvm_check_memo now;
	memo_take(&now, v12);
	if (m->valid && memcmp(&now, m, sizeof(now)) == 0)
		return 0;
	int n = nsvm_vmcb12_check(v12, lim, fails, max_fails);
	if (n == 0)
		*m = now;
	else
		m->valid = false;
	return n;
}

void nsvm_vmexit_invalid(struct vmcb *v12)
{
	v12->ctl.exit_code = NSVM_EXIT_INVALID;
	v12->ctl.exit_info1 = 0;
	v12->ctl.exit_info2 = 0;
	v12->ctl.exit_int_info = 0;
	v12->ctl.event_inj = 0;   /* cleared by every #VMEXIT (vol. 3 VMRUN) */
}

unsigned nsvm_svm_insn_fault(unsigned cpl, uint64_t cr0, uint64_t efer, uint64_t rflags)
{
	/* #UD: SVM off, or real mode, or virtual-8086 mode (not protected
	 * mode proper). */
	if (!(efer & NSVM_EFER_SVME) || !(cr0 & NSVM_CR0_PE) || (rflags & NSVM_RFLAGS_VM))
		return 6;
	if (cpl != 0)
		return 13;
	return 0;
}
