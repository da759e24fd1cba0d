/*
 * libFuzzer target: the second-stage table builder (mm/s2pt.c), driven by a
 * sequence of map/unmap operations and checked against a simple model.
 *
 *   clang -g -O1 -I. -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_s2pt.c \
 *       mm/s2pt.c mm/gmem.c -o build/fuzz/fuzz_s2pt
 *   build/fuzz/fuzz_s2pt tests/fuzz/corpus/s2pt
 *
 * Input layout:
 *   byte 0   bit 0: format (0 EPT, 1 NPT); bit 1: allow 1 GiB pages
 *   byte 1   table budget: how many tables the allocator hands out before
 *            failing (255: the whole pool)
 *   then up to MAX_OPS records of 8 bytes:
 *     b0  bit 0: 0 map, 1 unmap; bits 3:1 perms (S2_R|S2_W|S2_X, 0 is
 *         invalid on purpose); bits 6:4 EPT memory type (2, 3, 7 invalid);
 *         bit 7: instead, set the remaining table budget to b1
 *     b1  bits 1:0 GPA unit, 3:2 size unit, 5:4 HPA unit:
 *         0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, 3 = 64 KiB
 *     b2-b3  GPA = (u16 & 0x3ff) * GPA unit
 *     b4     size = (b4 % 32 + 1) * size unit
 *     b5-b7  HPA = u24 * HPA unit, kept below 2^52
 *   Operations that would take too many steps (more than 16384 pages of
 *   the size their alignment allows) are skipped, to keep runs fast.
 *
 * The model is the list of operations that succeeded: the translation of
 * a GPA is given by the last one covering it.  After every operation, at
 * every address where the model can change (each operation's first page,
 * last page, the page after, and its middle) s2pt_lookup must agree with
 * the model, the leaf entry must be encoded as the manuals say, and the
 * whole page lookup reports must be uniform in the model.  A map or unmap
 * must fail exactly when its arguments are invalid or the allocator ran
 * out, and a failure must leave every translation as it was.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm/s2pt.h"

#include "tests/fuzz/fuzz_assert.h"

#define PAGE 4096ull
#define MAX_OPS 24
#define POOL_PAGES 4096

static uint8_t pool_mem[POOL_PAGES][PAGE] __attribute__((aligned(4096)));
static struct { unsigned used, limit, fails; } pool;

static uint64_t pool_alloc(void *ctx)
{
	(void)ctx;
	if (pool.used >= pool.limit || pool.used >= POOL_PAGES) {
		pool.fails++;
		return 0;
	}
	memset(pool_mem[pool.used], 0, PAGE);
	return (uint64_t)(uintptr_t)pool_mem[pool.used++];
}

struct op {
	bool unmap;
	uint64_t gpa, size, hpa;
	unsigned perms;
	uint8_t memtype;
};

static struct op done[MAX_OPS];
static unsigned ndone;

struct expect {
	bool mapped;
	uint64_t hpa;
	unsigned perms;
	uint8_t memtype;
};

static struct expect model(uint64_t gpa)
{
	for (unsigned i = ndone; i-- > 0;) {
		const struct op *o = &done[i];
		if (gpa >= o->gpa && gpa - o->gpa < o->size) {
			if (o->unmap)
				break;
			return (struct expect){ true, o->hpa + (gpa - o->gpa), o->perms, o->memtype };
		}
	}
	return (struct expect){ false, 0, 0, 0 };
}

/* The raw leaf entry for gpa and its level (walking like the hardware). */
static uint64_t raw_leaf(const struct s2pt *t, uint64_t gpa, unsigned *level)
{
	const uint64_t *table = (const uint64_t *)(uintptr_t)t->root;

	for (unsigned l = 4;; l--) {
		uint64_t e = table[(gpa >> (12 + 9 * (l - 1))) & 511];
		if (l == 1 || (l <= 3 && (e & 0x80))) {
			*level = l;
			return e;
		}
		table = (const uint64_t *)(uintptr_t)(e & 0x000ffffffffff000ull);
	}
}

static void check_point(const struct s2pt *t, uint64_t gpa)
{
	struct expect want = model(gpa);
	uint64_t hpa, ps;
	unsigned perms, level;

	if (gpa >= (1ull << 48))
		return;
	if (!want.mapped) {
		CHECK(s2pt_lookup(t, gpa, &hpa, &perms, &ps) == -1);
		return;
	}
	CHECK(s2pt_lookup(t, gpa, &hpa, &perms, &ps) == 0);
	CHECK(hpa == want.hpa);
	CHECK(perms == want.perms);
	CHECK(ps == PAGE || ps == (1ull << 21) || (ps == (1ull << 30) && t->allow_1g));

	/* the leaf as the manuals say (SDM 29.3.2 / APM 15.25) */
	uint64_t e = raw_leaf(t, gpa, &level);
	CHECK((1ull << (12 + 9 * (level - 1))) == ps);
	if (t->fmt == S2_EPT) {
		CHECK((e & 7) == want.perms);
		CHECK(((e >> 3) & 7) == want.memtype);
		CHECK(!(e & 0x40));                         /* ignore-PAT clear */
		CHECK(!!(e & 0x80) == (level > 1));
		CHECK((e & 0xfff0000000000f00ull) == 0);    /* A/D, high bits */
	} else {
		CHECK((e & 0x5) == 0x5);                    /* P, U/S */
		CHECK(!!(e & 2) == !!(want.perms & S2_W));
		CHECK(!!(e >> 63) == !(want.perms & S2_X));
		CHECK(!!(e & 0x80) == (level > 1));
		CHECK((e & 0x7ff0000000000f78ull) == 0);    /* PWT PCD A D G, high */
	}

	/* Uniformity: the page lookup reported must be one piece in the
	 * model.  The model only changes at operation boundaries, so check
	 * the page's first and last 4K and both sides of each boundary in it. */
	uint64_t base = gpa & ~(ps - 1), hbase = hpa - (gpa - base);
	uint64_t probes[2 + 4 * MAX_OPS];
	unsigned n = 0;
	probes[n++] = base;
	probes[n++] = base + ps - PAGE;
	for (unsigned i = 0; i < ndone; i++) {
		uint64_t b[2] = { done[i].gpa, done[i].gpa + done[i].size };
		for (int k = 0; k < 2; k++)
			if (b[k] > base && b[k] < base + ps) {
				probes[n++] = b[k];
				probes[n++] = b[k] - PAGE;
			}
	}
	for (unsigned i = 0; i < n; i++) {
		struct expect w = model(probes[i]);
		CHECK(w.mapped);
		CHECK(w.hpa == hbase + (probes[i] - base));
		CHECK(w.perms == want.perms && w.memtype == want.memtype);
	}
}

static void check_all(const struct s2pt *t)
{
	for (unsigned i = 0; i < ndone; i++) {
		const struct op *o = &done[i];
		check_point(t, o->gpa);
		check_point(t, o->gpa + o->size - PAGE);
		check_point(t, o->gpa + o->size);
		check_point(t, o->gpa + (o->size / 2 & ~(PAGE - 1)));
		if (o->gpa >= PAGE)
			check_point(t, o->gpa - PAGE);
	}
	CHECK(t->tables == pool.used);
}

static bool perms_valid(enum s2_format fmt, unsigned perms, uint8_t mt)
{
	if (perms == 0)
		return false;
	if (fmt == S2_NPT)
		return perms & S2_R;
	if ((perms & S2_W) && !(perms & S2_R))
		return false;
	return mt == 0 || mt == 1 || mt == 4 || mt == 5 || mt == 6;
}

/* Steps a map or unmap of o would take at worst, roughly: used to skip
 * operations that would only make the fuzzer slow. */
static uint64_t steps(const struct op *o, bool allow_1g)
{
	uint64_t align = o->unmap ? o->gpa : (o->gpa | o->hpa);

	if (align & ((1ull << 21) - 1))
		return o->size >> 12;
	if ((align & ((1ull << 30) - 1)) || !allow_1g)
		return o->size >> 21;
	return o->size >> 30;
}

static const uint64_t units[4] = { PAGE, 1ull << 21, 1ull << 30, 1ull << 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s2pt t;
	enum s2_format fmt;
	bool allow_1g;

	if (size < 2)
		return 0;
	fmt = (data[0] & 1) ? S2_NPT : S2_EPT;
	allow_1g = (data[0] & 2) != 0;
	memset(&pool, 0, sizeof(pool));
	pool.limit = data[1] == 255 ? POOL_PAGES : data[1];
	ndone = 0;
	if (s2pt_init(&t, fmt, pool_alloc, NULL, allow_1g) != 0) {
		CHECK(pool.limit == 0);
		return 0;
	}

	for (size_t off = 2; off + 8 <= size && ndone < MAX_OPS; off += 8) {
		const uint8_t *b = data + off;
		struct op o;
		unsigned fails_before = pool.fails;
		bool valid;
		int rc;

		if (b[0] & 0x80) {
			pool.limit = b[1] == 255 ? POOL_PAGES : pool.used + b[1];
			continue;
		}
		o.unmap = b[0] & 1;
		o.perms = (b[0] >> 1) & 7;
		o.memtype = (b[0] >> 4) & 7;
		o.gpa = (uint64_t)((b[2] | b[3] << 8) & 0x3ff) * units[b[1] & 3];
		o.size = (uint64_t)(b[4] % 32 + 1) * units[(b[1] >> 2) & 3];
		o.hpa = (uint64_t)(b[5] | b[6] << 8 | (uint32_t)b[7] << 16) * units[(b[1] >> 4) & 3];
		o.hpa &= (1ull << 52) - 1;
		if (steps(&o, allow_1g) > 16384)
			continue;

		valid = o.hpa + o.size <= (1ull << 52) || o.unmap;
		if (!o.unmap)
			valid = valid && perms_valid(fmt, o.perms, o.memtype);
		if (fmt == S2_NPT)
			o.memtype = 0; /* ignored: lookups give back no type */
		if (o.unmap)
			rc = s2pt_unmap(&t, o.gpa, o.size);
		else
			rc = s2pt_map(&t, o.gpa, o.hpa, o.size, o.perms,
				      fmt == S2_NPT ? (uint8_t)((b[0] >> 4) & 7) : o.memtype);

		if (!valid) {
			CHECK(rc == -1);
		} else if (rc == -1) {
			CHECK(pool.fails > fails_before);    /* only for lack of tables */
			check_point(&t, o.gpa);              /* ... and changed nothing */
			check_point(&t, o.gpa + o.size - PAGE);
			check_point(&t, o.gpa + o.size);
		} else {
			CHECK(rc == 0);
			done[ndone++] = o;
		}
		check_all(&t); /* a failure changed nothing; a success did it all */
	}
	return 0;
}
