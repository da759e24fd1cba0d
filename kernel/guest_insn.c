#include <string.h>
#include "kernel/guest_insn.h"
#include "kernel/vcpu.h"
#include "mm/gwalk.h"
#include "arch/x86/cpu_caps.h"

/* The paging registers of a code_regs read, as mm/gwalk.c wants them.
 * Every field set: pdpte stays NULL, so PAE walks read the PDPTEs from
 * guest memory rather than through a stray pointer. */
static struct gwalk_regs walk_regs_of(const struct guest_code_regs *c)
{
	return (struct gwalk_regs){ .cr0 = c->cr0, .cr3 = c->cr3, .cr4 = c->cr4, .efer = c->efer,
				    .maxphyaddr = cpu_caps.phys_bits };
}

void guest_walk_regs(struct vcpu *v, struct gwalk_regs *r)
{
	struct guest_code_regs c;
	vcpu_ops->code_regs(v, &c);
	*r = walk_regs_of(&c);
}

/* One page at a time: a range may cross into a page mapped elsewhere. */
static enum gva_result linear_copy(struct vcpu *v, uint64_t la, void *buf, size_t len,
				   unsigned access, uint32_t *pf_error, uint64_t *fault_la)
{
	struct guest_code_regs c;
	vcpu_ops->code_regs(v, &c);
	struct gwalk_regs regs = walk_regs_of(&c);
	if (c.cpl == 3)
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

static uint64_t rip_linear(const struct vcpu *v, const struct guest_code_regs *c)
{
	uint64_t la = c->cs_base + v->rip;
	return c->cs_bits == 64 ? la : la & 0xffffffffu;
}

/* Is the cached code page still what a walk of la would give? */
static bool fetch_cache_hit(const struct insn_fetch_cache *c, const struct vcpu *v,
			    const struct guest_code_regs *r, bool user, uint64_t la)
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

/* A few bytes: a loop, not a call into the C library (the exit path). */
static void copy_small(uint8_t *dst, const uint8_t *src, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		dst[i] = src[i];
}

/* The cache missed: walk, read, and keep the walk for next time.  Out of
 * line, so that the hit below needs no room for a walk's result. */
static __attribute__((noinline)) bool fetch_code_walk(struct vcpu *v, const struct guest_code_regs *r,
						      struct insn_fetch_cache *c, bool user, uint64_t la,
						      uint8_t *buf, unsigned len)
{
	struct gwalk_regs regs = walk_regs_of(r);
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
			return copy_small(buf, page + (la & 4095), len), true;  /* use, don't keep */
	}
	c->valid = true;
	copy_small(buf, page + (la & 4095), len);
	return true;
}

/* Read len bytes (within one page) of code at la, through the cache;
 * r: the guest's code registers, read once by the caller. */
static inline bool fetch_code(struct vcpu *v, const struct guest_code_regs *r, uint64_t la,
			      uint8_t *buf, unsigned len)
{
	/* one entry per level: L1's exits and L2's alternate in nested runs */
	struct insn_fetch_cache *c = &v->fetch[v->mem->view != NULL];
	bool user = r->cpl == 3;
	if (fetch_cache_hit(c, v, r, user, la)) {
		copy_small(buf, c->page + (la & 4095), len);
		return true;
	}
	return fetch_code_walk(v, r, c, user, la, buf, len);
}

unsigned guest_exiting_insn_len(struct vcpu *v, const uint8_t *expect, unsigned expect_len)
{
	uint8_t bytes[4];
	struct guest_code_regs r;
	vcpu_ops->code_regs(v, &r);
	uint64_t la = rip_linear(v, &r);
	/* The opcode bytes never start with a prefix byte, so a match means no
	 * prefixes: the length is exact (SDM vol. 2 2.1). */
	if (expect_len && expect_len <= sizeof(bytes) && (la & 4095) + expect_len <= 4096 &&
	    fetch_code(v, &r, la, bytes, expect_len)) {
		unsigned i = 0;
		while (i < expect_len && bytes[i] == expect[i])
			i++;
		if (i == expect_len)
			return expect_len;
	}
	struct x86_insn insn;
	return guest_decode_at_rip(v, &insn) ? 0 : insn.len;
}

int guest_decode_at_rip(struct vcpu *v, struct x86_insn *insn)
{
	struct guest_code_regs r;
	vcpu_ops->code_regs(v, &r);
	enum x86_mode mode = r.cs_bits == 64 ? X86_MODE_LONG64 : r.cs_bits == 32 ? X86_MODE_PROT32
			   : (r.cr0 & 1) ? X86_MODE_PROT16 : X86_MODE_REAL16;
	uint64_t la = rip_linear(v, &r);
	uint8_t bytes[15];
	/* Fetch what is there: up to the end of the page first, the rest only
	 * if the decoder asks for more (the next page may be unmapped). */
	size_t first = 4096 - (la & 4095);
	if (first > sizeof(bytes))
		first = sizeof(bytes);
	int rr = guest_linear_read(v, la, bytes, first, GW_FETCH, NULL, NULL);
	if (rr)
		return rr;
	int d = x86_decode(bytes, first, mode, insn);
	if (d == -2 && first < sizeof(bytes)) {
		rr = guest_linear_read(v, la + first, bytes + first, sizeof(bytes) - first, GW_FETCH, NULL, NULL);
		if (rr)
			return rr;
		d = x86_decode(bytes, sizeof(bytes), mode, insn);
	}
	return d ? GVA_GP : 0;
}

bool guest_rip_at_hlt(struct vcpu *v)
{
	uint8_t op;
	struct guest_code_regs r;
	vcpu_ops->code_regs(v, &r);
	return fetch_code(v, &r, rip_linear(v, &r), &op, 1) && op == 0xf4;
}
