/*
 * ept_compose: EPT12 walk + EPT01 lookup -> EPT02 leaf or the exit to
 * reflect.  See vmx/nested/ept_compose.h.
 */
#include "vmx/nested/ept_compose.h"

#include <string.h>

#define EPT_AD_ENABLE   (1ull << 6)     /* EPTP bit 6 */
#define EPTE_LARGE      (1ull << 7)
#define EPTE_A          (1ull << 8)
#define EPTE_D          (1ull << 9)
#define QUAL_GLA_VALID  (1ull << 7)
#define QUAL_GLA_XLATE  (1ull << 8)

static uint64_t addr_mask(unsigned maxphy)
{
	return ((1ull << maxphy) - 1) & ~0xfffull;
}

/* 29.3.3.1: is a present entry at level L (1 = PTE) misconfigured?  Also
 * says whether it is a leaf. */
static bool misconfigured(const struct vmx_caps *adv, uint64_t e, unsigned level,
			  unsigned maxphy, bool *leaf)
{
	unsigned rwx = e & 7u;

	if ((rwx & 3u) == 2u)                           /* W without R */
		return true;
	if (rwx == 4u && !(adv->ept_vpid & VMX_EPT_EXEC_ONLY))
		return true;
	if (maxphy < 52 && (e & (((1ull << 52) - 1) & ~((1ull << maxphy) - 1))))
		return true;                            /* beyond MAXPHYADDR */
	*leaf = level == 1 || (e & EPTE_LARGE);
	if (level >= 4 && (e & EPTE_LARGE))
		return true;                            /* bit 7 of PML4E/PML5E */
	if (level == 3 && (e & EPTE_LARGE) && !(adv->ept_vpid & VMX_EPT_1G))
		return true;
	if (level == 2 && (e & EPTE_LARGE) && !(adv->ept_vpid & VMX_EPT_2M))
		return true;
	if (!*leaf)
		return (e & 0x78ull) != 0;              /* bits 6:3 (7 checked) */
	{
		unsigned mt = (e >> 3) & 7u;
		if (mt == 2 || mt == 3 || mt == 7)
			return true;
	}
	if (level == 2 && (e & 0x1ff000ull))            /* bits 20:12 */
		return true;
	if (level == 3 && (e & 0x3ffff000ull))          /* bits 29:12 */
		return true;
	return false;
}

/* Set flags in an entry of L1's EPT12 atomically: L1's other vCPUs may be
 * editing the same entry, and an OR must not undo their store. */
static void set_flags(const struct gmem *l1, uint64_t gpa, uint64_t flags)
{
	uint64_t *p = gmem_ptr(l1, gpa, 8, true);

	if (p != NULL)
		__atomic_fetch_or(p, flags, __ATOMIC_SEQ_CST);
}

enum nvmx_ept_kind nvmx_ept_compose(const struct gmem *l1, const struct vmx_caps *adv,
				    const struct nvmx_ept_walk *w, nvmx_ept01_fn ept01,
				    void *ctx, struct nvmx_ept_result *out)
{
	unsigned maxphy = (w->maxphyaddr < 32 || w->maxphyaddr > 52) ? 52 : w->maxphyaddr;
	unsigned levels = ((w->eptp12 >> 3) & 7u) == 4 ? 5 : 4;
	bool ad = (w->eptp12 & EPT_AD_ENABLE) && (adv->ept_vpid & VMX_EPT_AD);
	uint64_t table = w->eptp12 & addr_mask(maxphy);
	uint64_t entry_gpa[5] = { 0 };
	unsigned perms = 7, used = 0, level;
	uint64_t e = 0, size = 0, hpa, size01;
	unsigned perms01;
	struct gmem_cursor cur;
	bool leaf = false;

	memset(out, 0, sizeof *out);
	gmem_cursor_init(&cur, l1);

	if ((w->l2_gpa >> (12 + 9 * levels)) != 0) {
		/* beyond what the walk translates: no entry allows it */
		perms = 0;
		level = levels;
		goto violation;
	}
	for (level = levels; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t gpa = table + ((w->l2_gpa >> shift) & 511u) * 8;

		entry_gpa[used++] = gpa;
		if (!gmem_cursor_read(&cur, gpa, 8, &e))
			e = ~0ull;              /* not L1 RAM: reads as all ones */
		out->level = level;
		out->entry = e;
		perms &= e & 7u;
		if ((e & 7u) == 0)
			goto violation;
		if (misconfigured(adv, e, level, maxphy, &leaf)) {
			out->kind = NVMX_EPT_MISCONFIG;
			return out->kind;
		}
		if (leaf) {
			size = 1ull << shift;
			break;
		}
		table = e & addr_mask(maxphy);
	}
	if ((perms & w->access) != w->access)
		goto violation;

	/* A/D (29.3.5): only for a translation that succeeds */
	if (ad) {
		for (unsigned i = 0; i < used; i++)
			set_flags(l1, entry_gpa[i],
				  EPTE_A | (i + 1 == used && (w->access & NVMX_EPT_W) ? EPTE_D : 0));
		if (w->access & NVMX_EPT_W)
			e |= EPTE_D;
	}

	out->l1_gpa = (e & addr_mask(maxphy) & ~(size - 1)) | (w->l2_gpa & (size - 1));
	if (ept01(ctx, out->l1_gpa, &hpa, &perms01, &size01) != 0 ||
	    (perms01 & w->access) != w->access) {
		out->kind = NVMX_EPT_L0_FAULT;
		return out->kind;
	}
	if (size01 < size)
		size = size01;
	out->kind = NVMX_EPT_MAP;
	out->size = size;
	out->gpa = w->l2_gpa & ~(size - 1);
	out->hpa = hpa - (out->l1_gpa & (size - 1));
	out->perms = perms & perms01 & 7u;
	if (ad && !(e & EPTE_D))
		out->perms &= ~(unsigned)NVMX_EPT_W;    /* first write must set D */
	out->memtype = (e >> 3) & 7u;
	out->ipat = (e >> 6) & 1u;
	return out->kind;

violation:
	out->kind = NVMX_EPT_VIOLATION;
	out->qual = (uint64_t)(w->access & 7u) | ((uint64_t)(perms & 7u) << 3);
	if (w->gla_valid) {
		out->qual |= QUAL_GLA_VALID;
		if (w->gla_translation)
			out->qual |= QUAL_GLA_XLATE;
	}
	return out->kind;
}
