/* Unit tests: kernel/trace.c, the exit-trace ring, its serial dump and the decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernel/trace.h"

/* ---- helpers ---- */

/* trace_dump's lines, collected as a serial log would hold them. */
struct capture {
	char text[64 * 1024];
	size_t len;
	unsigned lines;
};

static void capture_line(const char *line, void *ctx)
{
	struct capture *c = ctx;
	size_t n = strlen(line);
	assert_true(n < TRACE_LINE_MAX);
	assert_true(c->len + n + 1 < sizeof(c->text));
	for (size_t i = 0; i < n; i++)  /* printable ASCII only: it crosses a serial line */
		assert_true(line[i] >= 0x20 && line[i] < 0x7f);
	memcpy(c->text + c->len, line, n);
	c->len += n;
	c->text[c->len++] = '\n';
	c->text[c->len] = 0;
	c->lines++;
}

static void add_text(struct capture *c, const char *s)
{
	size_t n = strlen(s);
	assert_true(c->len + n < sizeof(c->text));
	memcpy(c->text + c->len, s, n + 1);
	c->len += n;
}

/* What decoding a whole text gave. */
struct decoded {
	struct trace_decoder d;
	struct trace_rec rec[512];
	unsigned n, begins, ends, rejected;
	bool clean;
};

static void decode_text(const char *text, size_t len, struct decoded *out)
{
	memset(out, 0, sizeof(*out));
	trace_decoder_init(&out->d);
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;   /* with its '\n' */
		struct trace_rec r[TRACE_CHUNK_RECS];
		unsigned n = 99;
		enum trace_line_type t = trace_decode_line(&out->d, text + i, end - i, r, &n);
		assert_true(n <= TRACE_CHUNK_RECS);
		if (t == TRACE_LINE_CHUNK) {
			assert_true(n >= 1 && out->n + n <= 512);
			memcpy(out->rec + out->n, r, n * sizeof(*r));
			out->n += n;
		} else {
			assert_int_equal(n, 0);
		}
		out->begins += t == TRACE_LINE_BEGIN;
		out->ends += t == TRACE_LINE_END;
		out->rejected += t == TRACE_LINE_ERROR;
		i = end;
	}
	out->clean = trace_decode_finish(&out->d);
}

static struct trace_rec make_rec(unsigned i)
{
	struct trace_rec r = {
		.tsc = 1000000 + 37ull * i, .reason = 0x72 + i % 3, .info = 0xdead0000beef0000ull + i,
		.rip = 0xffffffff81000000ull + 2 * i, .vm = (uint16_t)(i % 2), .vcpu = (uint16_t)(i % 3),
		.level = (uint8_t)(1 + i % 2), .kind = (uint8_t)(1 + i % 4), .vendor = TRACE_SVM,
	};
	return r;
}

/* A ring of `cap` records with `puts` records put, dumped into c. */
static struct trace_rec ring_store[256];
static void dump_ring(struct capture *c, unsigned cap, unsigned puts, uint16_t cpu)
{
	struct trace_ring ring;
	assert_int_equal(trace_ring_init(&ring, ring_store, cap, cpu), 0);
	for (unsigned i = 0; i < puts; i++) {
		struct trace_rec r = make_rec(i);
		trace_put(&ring, &r);
	}
	trace_dump(&ring, capture_line, c);
}

static bool rec_equal(const struct trace_rec *a, const struct trace_rec *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* The offset of the start of line `no` (1-based) in text. */
static size_t line_offset(const char *text, unsigned no)
{
	const char *p = text;
	while (--no)
		p = strchr(p, '\n') + 1;
	return (size_t)(p - text);
}

/* ---- tests ---- */

static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(trace_crc32("123456789", 9), 0xcbf43926u);  /* the standard check value */
	assert_int_equal(trace_crc32("", 0), 0);
	assert_int_equal(trace_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414fa339u);
}

static void test_record_layout(void **state)
{
	(void)state;
	struct trace_rec r = {
		.tsc = 0x0807060504030201ull, .reason = 0x72, .info = 0x1122334455667788ull, .rip = 0xfff0,
		.seq = 0xa1b2c3d4, .cpu = 0x0102, .vm = 3, .vcpu = 4, .level = 2, .kind = TRACE_REFLECT,
		.vendor = TRACE_VMX,
	}, back;
	uint8_t b[TRACE_REC_SIZE];
	trace_rec_pack(&r, b);
	assert_int_equal(b[0], 0x01);   /* little endian */
	assert_int_equal(b[7], 0x08);
	assert_int_equal(b[8], 0x72);
	assert_int_equal(b[16], 0x88);
	assert_int_equal(b[24], 0xf0);
	assert_int_equal(b[25], 0xff);
	assert_int_equal(b[32], 0xd4);
	assert_int_equal(b[36], 0x02);
	assert_int_equal(b[37], 0x01);
	assert_int_equal(b[38], 3);
	assert_int_equal(b[40], 4);
	assert_int_equal(b[42], 2);
	assert_int_equal(b[43], TRACE_REFLECT);
	assert_int_equal(b[44], TRACE_VMX);
	trace_rec_unpack(b, &back);
	assert_true(rec_equal(&r, &back));
}

static void test_ring_init(void **state)
{
	(void)state;
	struct trace_ring ring;
	assert_int_equal(trace_ring_init(&ring, ring_store, 0, 0), -1);
	assert_int_equal(trace_ring_init(&ring, ring_store, 12, 0), -1);
	assert_int_equal(trace_ring_init(&ring, ring_store, 1, 0), 0);
	assert_int_equal(trace_ring_init(&ring, ring_store, 16, 5), 0);
	assert_false(trace_on(&ring));   /* off until switched on */
	trace_ring_enable(&ring, true);
	assert_true(trace_on(&ring));
	trace_ring_enable(&ring, false);
	assert_false(trace_on(&ring));
	assert_int_equal(trace_ring_count(&ring), 0);
	assert_int_equal(trace_ring_dropped(&ring), 0);
}

static void test_ring_wrap_and_drops(void **state)
{
	(void)state;
	struct trace_ring ring;
	assert_int_equal(trace_ring_init(&ring, ring_store, 8, 3), 0);
	for (unsigned i = 0; i < 5; i++) {
		struct trace_rec r = make_rec(i);
		trace_put(&ring, &r);
	}
	assert_int_equal(trace_ring_count(&ring), 5);
	assert_int_equal(trace_ring_dropped(&ring), 0);
	for (unsigned i = 5; i < 20; i++) {
		struct trace_rec r = make_rec(i);
		trace_put(&ring, &r);
	}
	assert_int_equal(trace_ring_count(&ring), 8);
	assert_int_equal(trace_ring_dropped(&ring), 12);
	/* The slots hold the newest 8 (12..19), each stamped with its put
	 * number and the ring's CPU. */
	for (unsigned i = 12; i < 20; i++) {
		const struct trace_rec *r = &ring_store[i & 7];
		assert_int_equal(r->seq, i);
		assert_int_equal(r->cpu, 3);
		assert_int_equal(r->tsc, make_rec(i).tsc);
	}
	trace_ring_reset(&ring);
	assert_int_equal(trace_ring_count(&ring), 0);
	assert_int_equal(trace_ring_dropped(&ring), 0);
}

static void test_round_trip(void **state)
{
	(void)state;
	static struct capture c;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	add_text(&c, "[cpu0 I] nestor: VM linux ended\n");
	dump_ring(&c, 16, 11, 2);   /* 11 records: chunks of 4, 4, 3 */
	assert_int_equal(c.lines, 1 + 3 + 1);  /* begin, chunks, end */
	decode_text(c.text, c.len, &out);
	assert_true(out.clean);
	assert_int_equal(out.d.errors, 0);
	assert_int_equal(out.begins, 1);
	assert_int_equal(out.ends, 1);
	assert_int_equal(out.d.dumps, 1);
	assert_int_equal(out.d.dump.cpu, 2);
	assert_int_equal(out.d.dump.count, 11);
	assert_int_equal(out.d.dump.dropped, 0);
	assert_int_equal(out.n, 11);
	for (unsigned i = 0; i < 11; i++) {
		struct trace_rec want = make_rec(i);
		want.seq = i;
		want.cpu = 2;
		assert_true(rec_equal(&out.rec[i], &want));
	}
	/* The first line is the text of the docs' example: check its shape. */
	assert_non_null(strstr(c.text, "\nNTRACE v1 begin cpu=2 count=11 dropped=0 "));
	assert_non_null(strstr(c.text, "\nNTRACE v1 end cpu=2 chunks=3 "));
}

static void test_wrapped_dump_oldest_first(void **state)
{
	(void)state;
	static struct capture c;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	dump_ring(&c, 8, 21, 0);
	decode_text(c.text, c.len, &out);
	assert_true(out.clean);
	assert_int_equal(out.d.dump.count, 8);
	assert_int_equal(out.d.dump.dropped, 13);
	assert_int_equal(out.n, 8);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(out.rec[i].seq, 13 + i);
		assert_int_equal(out.rec[i].tsc, make_rec(13 + i).tsc);
	}
}

static void test_empty_dump(void **state)
{
	(void)state;
	static struct capture c;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	dump_ring(&c, 4, 0, 1);
	assert_int_equal(c.lines, 2);
	decode_text(c.text, c.len, &out);
	assert_true(out.clean);
	assert_int_equal(out.ends, 1);
	assert_int_equal(out.n, 0);
}

/* Around and inside a dump: L0's log (also with its prefix on the trace
 * lines), guest output that merely looks like a dump, CRLF line ends. */
static void test_interleaved_log(void **state)
{
	(void)state;
	static struct capture c, mixed;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	memset(&mixed, 0, sizeof(mixed));
	dump_ring(&c, 16, 9, 0);
	unsigned no = 0;
	for (char *line = strtok(c.text, "\n"); line; line = strtok(NULL, "\n"), no++) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s%s\r\n", no % 2 ? "[cpu0 I] " : "", line);
		add_text(&mixed, buf);
		add_text(&mixed, "[cpu1 W] vlapic: timer re-armed\n");
		add_text(&mixed, "[l1] NTRACE 7 AAAA 00000000\n");  /* a guest's line: ignored */
		add_text(&mixed, "\n");
	}
	decode_text(mixed.text, mixed.len, &out);
	assert_true(out.clean);
	assert_int_equal(out.n, 9);
	assert_int_equal(out.d.dumps, 1);
}

/* One damaged character: the line is named, by number and offset; what
 * came before stays; the rest of that dump is skipped without more noise. */
static void test_flipped_byte(void **state)
{
	(void)state;
	static struct capture c;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	add_text(&c, "booting\n");
	dump_ring(&c, 16, 14, 0);     /* lines: 1 booting, 2 begin, 3..6 chunks, 7 end */
	size_t at = line_offset(c.text, 4) + 40;  /* inside chunk 1's base64 */
	c.text[at] = c.text[at] == 'A' ? 'B' : 'A';
	decode_text(c.text, c.len, &out);
	assert_false(out.clean);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 4);
	assert_int_equal(out.d.first.offset, line_offset(c.text, 4));
	assert_non_null(strstr(out.d.first.msg, "checksum mismatch"));
	assert_int_equal(out.rejected, 1);
	assert_int_equal(out.n, 4);   /* chunk 0 */
	assert_int_equal(out.ends, 0);
	assert_int_equal(out.d.dumps, 0);
}

static void test_bad_base64_named_exactly(void **state)
{
	(void)state;
	/* A well-sealed line whose payload is not base64: the character's
	 * own offset is reported. */
	char body[] = "NTRACE 0 ", line[400];
	char payload[65];
	memset(payload, 'A', 64);
	payload[64] = 0;
	payload[10] = '*';
	char text[1024];
	snprintf(line, sizeof(line), "%s%s", body, payload);
	snprintf(text, sizeof(text), "NTRACE v1 begin cpu=0 count=1 dropped=0 %08x\n%s %08x\n",
		 trace_crc32("NTRACE v1 begin cpu=0 count=1 dropped=0", 39), line,
		 trace_crc32(line, strlen(line)));
	static struct decoded out;
	decode_text(text, strlen(text), &out);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 2);
	assert_int_equal(out.d.first.offset, line_offset(text, 2) + strlen(body) + 10);
	assert_non_null(strstr(out.d.first.msg, "base64"));
}

static void test_truncated_dump(void **state)
{
	(void)state;
	static struct capture c;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	dump_ring(&c, 16, 14, 0);
	/* The log stops after chunk 1 (line 3). */
	size_t cut = line_offset(c.text, 4);
	decode_text(c.text, cut, &out);
	assert_false(out.clean);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.n, 8);
	assert_int_equal(out.d.first.line, 3);
	assert_int_equal(out.d.first.offset, cut - 1);  /* the end of the input */
	assert_non_null(strstr(out.d.first.msg, "8 of 14 records"));

	/* The log stops in the middle of chunk 2's line. */
	decode_text(c.text, cut + 100, &out);
	assert_false(out.clean);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 4);
	assert_int_equal(out.n, 8);
}

static void test_missing_chunk(void **state)
{
	(void)state;
	static struct capture c, gap;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	memset(&gap, 0, sizeof(gap));
	dump_ring(&c, 16, 14, 0);   /* 1 begin, 2..5 chunks 0..3, 6 end */
	/* Drop line 3 (chunk 1). */
	size_t a = line_offset(c.text, 3), b = line_offset(c.text, 4);
	memcpy(gap.text, c.text, a);
	memcpy(gap.text + a, c.text + b, c.len - b);
	gap.len = c.len - (b - a);
	decode_text(gap.text, gap.len, &out);
	assert_false(out.clean);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 3);    /* chunk 2 now sits on line 3 */
	assert_int_equal(out.d.first.offset, a + 7);
	assert_non_null(strstr(out.d.first.msg, "chunk 2 where chunk 1 was expected"));
	assert_int_equal(out.n, 4);
}

static void test_version_mismatch(void **state)
{
	(void)state;
	static struct decoded out;
	char text[256];
	const char *begin = "NTRACE v2 begin cpu=0 count=0 dropped=0";
	/* Correctly sealed, but of a version this decoder does not read. */
	snprintf(text, sizeof(text), "log\n%s %08x\n", begin, trace_crc32(begin, strlen(begin)));
	decode_text(text, strlen(text), &out);
	assert_false(out.clean);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 2);
	assert_int_equal(out.d.first.offset, 4 + 7);
	assert_non_null(strstr(out.d.first.msg, "unsupported trace format v2"));
	assert_int_equal(out.begins, 0);
}

static void test_resync_after_damage(void **state)
{
	(void)state;
	static struct capture c;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	dump_ring(&c, 16, 10, 0);           /* lines 1..5 */
	dump_ring(&c, 16, 6, 1);            /* lines 6..9 */
	c.text[line_offset(c.text, 3) + 20] ^= 1;
	decode_text(c.text, c.len, &out);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 3);
	assert_int_equal(out.d.dumps, 1);   /* the second one */
	assert_int_equal(out.n, 4 + 6);
	assert_int_equal(out.rec[4].cpu, 1);
}

static void test_begin_without_end(void **state)
{
	(void)state;
	static struct capture c, cut;
	static struct decoded out;
	memset(&c, 0, sizeof(c));
	memset(&cut, 0, sizeof(cut));
	dump_ring(&c, 16, 6, 0);            /* 1 begin, 2..3 chunks, 4 end */
	memcpy(cut.text, c.text, line_offset(c.text, 3));   /* begin + chunk 0 */
	cut.len = line_offset(c.text, 3);
	dump_ring(&cut, 16, 6, 1);          /* a new dump starts on line 3 */
	decode_text(cut.text, cut.len, &out);
	assert_int_equal(out.d.errors, 1);
	assert_int_equal(out.d.first.line, 3);
	assert_non_null(strstr(out.d.first.msg, "has no end line (4 of 6 records)"));
	assert_int_equal(out.d.dumps, 1);
	assert_int_equal(out.n, 4 + 6);
}

static void test_stray_lines(void **state)
{
	(void)state;
	static struct decoded out;
	const char *text =
		"NTRACE\n"                      /* not ours: no space after the tag */
		"NTRACEX 1 2\n"                 /* not ours */
		"NTRACE 0 AAAA\n"               /* ours, but no checksum */
		"NTRACE v1 end cpu=0 chunks=0 5e6b4a1c\n"; /* sealed wrongly */
	decode_text(text, strlen(text), &out);
	assert_int_equal(out.d.errors, 2);
	assert_int_equal(out.d.first.line, 3);
	assert_non_null(strstr(out.d.first.msg, "no checksum"));
	assert_int_equal(out.d.last.line, 4);

	const char *end = "NTRACE v1 end cpu=0 chunks=0";
	char buf[128];
	snprintf(buf, sizeof(buf), "%s %08x\n", end, trace_crc32(end, strlen(end)));
	decode_text(buf, strlen(buf), &out);
	assert_int_equal(out.d.errors, 1);
	assert_non_null(strstr(out.d.first.msg, "end line without a begin"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_record_layout),
		cmocka_unit_test(test_ring_init),
		cmocka_unit_test(test_ring_wrap_and_drops),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrapped_dump_oldest_first),
		cmocka_unit_test(test_empty_dump),
		cmocka_unit_test(test_interleaved_log),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_bad_base64_named_exactly),
		cmocka_unit_test(test_truncated_dump),
		cmocka_unit_test(test_missing_chunk),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_resync_after_damage),
		cmocka_unit_test(test_begin_without_end),
		cmocka_unit_test(test_stray_lines),
	};
	return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
