/*
 * libFuzzer target: memmap_sanitize and memmap_reserve against a brute-force
 * model.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_memmap.c \
 *       mm/memmap.c -o build/fuzz/fuzz_memmap
 *   build/fuzz/fuzz_memmap tests/fuzz/corpus/memmap
 *
 * Input layout: byte 0 says how many of the trailing records are
 * reservations (0-3); the rest is a sequence of 24-byte records
 * (u64 base, u64 length, u32 type, u32 pad), at most MAX_IN of them.  The
 * leading records are the firmware map, the trailing ones [base, base+length)
 * ranges to reserve after sanitizing.
 *
 * Besides the structural invariants (sorted, disjoint, merged, usable
 * page-aligned), every address where something could change (each boundary
 * and the byte before it) is checked against the definition:
 *   - the type there is the largest type of the input regions covering it;
 *   - except that usable memory survives only in pages that are usable
 *     throughout.
 * After each reservation: usable bytes in the widened range became
 * reserved, and nothing else changed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz_check.h"

#define MAX_IN 48
#define PAGE MEMMAP_PAGE_SIZE

static struct mem_region in[MAX_IN];
static unsigned nin;

static uint32_t norm(uint32_t t)
{
	return (t >= MEM_USABLE && t <= MEM_BAD) ? t : MEM_RESERVED;
}

/* The largest type of the input regions covering p, 0 if none. */
static uint32_t model_type(uint64_t p)
{
	uint32_t t = 0;

	for (unsigned i = 0; i < nin; i++)
		if (in[i].length && p >= in[i].base && p - in[i].base < in[i].length &&
		    norm(in[i].type) > t)
			t = norm(in[i].type);
	return t;
}

/* Whether the model is usable at every byte of p's page.  The model type
 * only changes at input boundaries, so checking the page start and each
 * boundary inside the page is enough. */
static int model_page_usable(uint64_t p)
{
	uint64_t ps = p & ~(PAGE - 1);

	if (ps > UINT64_MAX - PAGE)
		return 0; /* the last page: its last byte is never in a region */
	if (model_type(ps) != MEM_USABLE)
		return 0;
	for (unsigned i = 0; i < nin; i++) {
		uint64_t b = in[i].base, e = in[i].base + in[i].length;
		if (!in[i].length)
			continue;
		if (b > ps && b < ps + PAGE && model_type(b) != MEM_USABLE)
			return 0;
		if (e > ps && e < ps + PAGE && model_type(e) != MEM_USABLE)
			return 0;
	}
	return 1;
}

static uint32_t map_type(const struct mem_region *m, unsigned n, uint64_t p)
{
	for (unsigned i = 0; i < n; i++)
		if (p >= m[i].base && p - m[i].base < m[i].length)
			return m[i].type;
	return 0;
}

static void check_point(const struct mem_region *m, unsigned n, uint64_t p)
{
	uint32_t want = model_type(p), got = map_type(m, n, p);

	if (want == MEM_USABLE)
		CHECK(got == (model_page_usable(p) ? MEM_USABLE : 0));
	else
		CHECK(got == want);
}

static void check_against_model(const struct mem_region *m, unsigned n)
{
	for (unsigned i = 0; i < nin; i++) {
		uint64_t b = in[i].base, e = in[i].base + in[i].length;
		if (!in[i].length)
			continue;
		check_point(m, n, b);
		check_point(m, n, b | (PAGE - 1));
		if (b)
			check_point(m, n, b - 1);
		check_point(m, n, e - 1);
		check_point(m, n, e & ~(PAGE - 1));
		if (e != UINT64_MAX)
			check_point(m, n, e);
	}
	for (unsigned i = 0; i < n; i++) {
		check_point(m, n, m[i].base);
		check_point(m, n, m[i].base + m[i].length - 1);
	}
}

/* After reserving [rb, re) (already page-widened): compare before/after. */
static void check_reserve_point(const struct mem_region *before, unsigned nb,
				const struct mem_region *after, unsigned na,
				uint64_t rb, uint64_t re, uint64_t p)
{
	uint32_t was = map_type(before, nb, p), now = map_type(after, na, p);

	if (p >= rb && p < re && was == MEM_USABLE)
		CHECK(now == MEM_RESERVED);
	else
		CHECK(now == was);
}

static void reserve_and_check(struct mem_region *map, unsigned *n, unsigned max,
			      uint64_t base, uint64_t len)
{
	static struct mem_region before[2 * MAX_IN + 8];
	unsigned nb = *n;
	uint64_t rb, re;
	int rc;

	memcpy(before, map, nb * sizeof map[0]);
	rc = memmap_reserve(map, n, max, base, len);
	if (len > UINT64_MAX - base)
		CHECK(rc == -1);
	if (rc) {
		CHECK(*n == nb && memcmp(before, map, nb * sizeof map[0]) == 0);
		return;
	}
	check_sane_map(map, *n, 0);
	if (len == 0) {
		CHECK(*n == nb && memcmp(before, map, nb * sizeof map[0]) == 0);
		return;
	}
	rb = base & ~(PAGE - 1);
	re = base + len > UINT64_MAX - (PAGE - 1) ? UINT64_MAX
						  : (base + len + PAGE - 1) & ~(PAGE - 1);
	check_reserve_point(before, nb, map, *n, rb, re, rb);
	if (rb)
		check_reserve_point(before, nb, map, *n, rb, re, rb - 1);
	check_reserve_point(before, nb, map, *n, rb, re, re - 1);
	if (re != UINT64_MAX)
		check_reserve_point(before, nb, map, *n, rb, re, re);
	for (unsigned i = 0; i < nb; i++) {
		uint64_t b = before[i].base, e = b + before[i].length;
		check_reserve_point(before, nb, map, *n, rb, re, b);
		check_reserve_point(before, nb, map, *n, rb, re, e - 1);
	}
	CHECK(memmap_usable_bytes(map, *n) <= memmap_usable_bytes(before, nb));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mem_region out[2 * MAX_IN + 8];
	struct mem_region rsv[3];
	unsigned nrec, nrsv, nout = 12345, max_out;
	int overflow = 0, rc;

	if (size < 1)
		return 0;
	nrsv = data[0] % 4;
	data++, size--;
	nrec = (unsigned)(size / 24);
	if (nrec > MAX_IN)
		nrec = MAX_IN;
	if (nrsv > nrec)
		nrsv = nrec;
	nin = nrec - nrsv;
	for (unsigned i = 0; i < nrec; i++) {
		struct mem_region r;
		memcpy(&r.base, data + 24 * i, 8);
		memcpy(&r.length, data + 24 * i + 8, 8);
		memcpy(&r.type, data + 24 * i + 16, 4);
		memcpy(&r.reserved, data + 24 * i + 20, 4);
		if (i < nin)
			in[i] = r;
		else
			rsv[i - nin] = r;
	}
	for (unsigned i = 0; i < nin; i++)
		if (in[i].length > UINT64_MAX - in[i].base)
			overflow = 1;

	/* 2n - 1 is the documented bound; also try a tight max sometimes */
	max_out = nin ? 2 * nin - 1 : 0;
	rc = memmap_sanitize(in, nin, out, max_out, &nout);
	if (overflow) {
		CHECK(rc == -1 && nout == 0);
		return 0;
	}
	CHECK(rc == 0);
	CHECK(nout <= max_out);
	check_sane_map(out, nout, 1);
	check_against_model(out, nout);
	if (nout > 0) {
		unsigned n2 = 999;
		CHECK(memmap_sanitize(in, nin, out, nout - 1, &n2) == -1 && n2 == 0);
		CHECK(memmap_sanitize(in, nin, out, nout, &n2) == 0 && n2 == nout);
	}

	for (unsigned i = 0; i < nrsv; i++)
		reserve_and_check(out, &nout, 2 * MAX_IN + 8, rsv[i].base, rsv[i].length);
	return 0;
}
