#include <string.h>
#include "kernel/guest_insn.h"
#include "kernel/vcpu.h"
#include "mm/gwalk.h"
#include "arch/x86/cpu_caps.h"

void guest_walk_regs(struct vcpu *v, struct gwalk_regs *r)
{
	/* Every field set: pdpte stays NULL, so PAE walks read the PDPTEs
	 * from guest memory rather than through a stray pointer. */
	*r = (struct gwalk_regs){
		.cr0 = vcpu_ops->get_cr(v, 0), .cr3 = vcpu_ops->get_cr(v, 3),
		.cr4 = vcpu_ops->get_cr(v, 4), .efer = vcpu_ops->get_cr(v, VREG_EFER),
		.maxphyaddr = cpu_caps.phys_bits,
	};
}

/* One page at a time: a range may cross into a page mapped elsewhere. */
static enum gva_result linear_copy(struct vcpu *v, uint64_t la, void *buf, size_t len,
				   unsigned access, uint32_t *pf_error, uint64_t *fault_la)
{
	struct gwalk_regs regs;
	guest_walk_regs(v, &regs);
	if (vcpu_ops->guest_cpl(v) == 3)
		access |= GW_USER;
	uint8_t *p = buf;
	while (len) {
		struct gwalk_result w;
		size_t chunk = 4096 - (la & 4095);
		if (chunk > len)
			chunk = len;
		int f = gwalk(v->mem, &regs, la, access, &w);
		if (f == 1 || f == 2) {
			if (pf_error)
				*pf_error = w.pf_error;
			if (fault_la)
				*fault_la = la;
			return f == 1 ? GVA_PAGE_FAULT : GVA_NOT_RAM;
		}
		if (f)
			return GVA_GP;
		int bad = (access & GW_WRITE) ? gmem_write(v->mem, w.gpa, p, chunk)
					      : gmem_read(v->mem, w.gpa, p, chunk);
		if (bad)
			return GVA_NOT_RAM;
		la += chunk;
		p += chunk;
		len -= chunk;
	}
	return GVA_OK;
}

enum gva_result guest_linear_read(struct vcpu *v, uint64_t la, void *buf, size_t len,
				  unsigned access, uint32_t *pf_error, uint64_t *fault_la)
{
	return linear_copy(v, la, buf, len, access & ~GW_WRITE, pf_error, fault_la);
}

enum gva_result guest_linear_write(struct vcpu *v, uint64_t la, const void *buf, size_t len,
				   uint32_t *pf_error, uint64_t *fault_la)
{
	return linear_copy(v, la, (void *)buf, len, GW_WRITE, pf_error, fault_la);
}

static uint64_t rip_linear(struct vcpu *v, unsigned bits)
{
	uint64_t la = vcpu_ops->seg_base(v, 1) + v->rip;
	return bits == 64 ? la : la & 0xffffffffu;
}

/* Is the cached code page still what a walk of la would give? */
static bool fetch_cache_hit(const struct insn_fetch_cache *c, const struct vcpu *v,
			    const struct gwalk_regs *r, bool user, uint64_t la)
{
	if (!c->valid || c->mem != v->mem || c->gen != gmem_generation(v->mem) ||
	    c->la_page != (la & ~4095ull) || c->user != user || c->cr3 != r->cr3 ||
	    c->cr0 != r->cr0 || c->cr4 != r->cr4 || c->efer != r->efer)
		return false;
	for (unsigned i = 0; i < c->nent; i++) {
		uint64_t now = c->ent_bytes == 8 ? *(const volatile uint64_t *)c->ent[i]
						 : *(const volatile uint32_t *)c->ent[i];
		if (now != c->val[i])
			return false;
	}
	return true;
}

/* Read len bytes (within one page) of code at la, through the cache. */
static bool fetch_code(struct vcpu *v, uint64_t la, uint8_t *buf, unsigned len)
{
	/* one entry per level: L1's exits and L2's alternate in nested runs */
	struct insn_fetch_cache *c = &v->fetch[v->mem->view != NULL];
	struct gwalk_regs regs;
	guest_walk_regs(v, &regs);
	bool user = vcpu_ops->guest_cpl(v) == 3;
	if (fetch_cache_hit(c, v, &regs, user, la)) {
		memcpy(buf, c->page + (la & 4095), len);
		return true;
	}
	struct gwalk_result w;
	c->valid = false;
	if (gwalk(v->mem, &regs, la, GW_FETCH | (user ? GW_USER : 0), &w) != GW_OK)
		return false;
	const uint8_t *page = gmem_ptr(v->mem, w.gpa & ~4095ull, 4096, false);
	if (!page)
		return false;           /* not RAM/ROM: the slow path decides */
	*c = (struct insn_fetch_cache){
		.user = user, .mem = v->mem, .gen = gmem_generation(v->mem), .cr0 = regs.cr0,
		.cr3 = regs.cr3, .cr4 = regs.cr4, .efer = regs.efer, .la_page = la & ~4095ull,
		.nent = w.nent, .ent_bytes = w.ent_bytes, .page = page,
	};
	for (unsigned i = 0; i < w.nent; i++) {
		c->ent[i] = gmem_ptr(v->mem, w.ent_gpa[i], w.ent_bytes, false);
		c->val[i] = w.ent_val[i];
		if (!c->ent[i])
			return memcpy(buf, page + (la & 4095), len), true;  /* use, don't keep */
	}
	c->valid = true;
	memcpy(buf, page + (la & 4095), len);
	return true;
}

unsigned guest_exiting_insn_len(struct vcpu *v, const uint8_t *expect, unsigned expect_len)
{
	uint8_t bytes[4];
	unsigned bits = vcpu_ops->guest_cs_size(v);
	uint64_t la = rip_linear(v, bits);
	/* The opcode bytes never start with a prefix byte, so a match means no
	 * prefixes: the length is exact (SDM vol. 2 2.1). */
	if (expect_len <= sizeof(bytes) && (la & 4095) + expect_len <= 4096 &&
	    fetch_code(v, la, bytes, expect_len) && !memcmp(bytes, expect, expect_len))
		return expect_len;
	struct x86_insn insn;
	return guest_decode_at_rip(v, &insn) ? 0 : insn.len;
}

int guest_decode_at_rip(struct vcpu *v, struct x86_insn *insn)
{
	unsigned bits = vcpu_ops->guest_cs_size(v);
	enum x86_mode mode = bits == 64 ? X86_MODE_LONG64 : bits == 32 ? X86_MODE_PROT32
			   : (vcpu_ops->get_cr(v, 0) & 1) ? X86_MODE_PROT16 : X86_MODE_REAL16;
	uint64_t la = rip_linear(v, bits);
	uint8_t bytes[15];
	/* Fetch what is there: up to the end of the page first, the rest only
	 * if the decoder asks for more (the next page may be unmapped). */
	size_t first = 4096 - (la & 4095);
	if (first > sizeof(bytes))
		first = sizeof(bytes);
	int r = guest_linear_read(v, la, bytes, first, GW_FETCH, NULL, NULL);
	if (r)
		return r;
	int d = x86_decode(bytes, first, mode, insn);
	if (d == -2 && first < sizeof(bytes)) {
		r = guest_linear_read(v, la + first, bytes + first, sizeof(bytes) - first, GW_FETCH, NULL, NULL);
		if (r)
			return r;
		d = x86_decode(bytes, sizeof(bytes), mode, insn);
	}
	return d ? GVA_GP : 0;
}

bool guest_rip_at_hlt(struct vcpu *v)
{
	uint8_t op;
	unsigned bits = vcpu_ops->guest_cs_size(v);
	return fetch_code(v, rip_linear(v, bits), &op, 1) && op == 0xf4;
}
