/*
 * libFuzzer: the exit-trace decoder (kernel/trace.c) over arbitrary text.
 *
 * Build and run from the repository root:
 *   make build/fuzz/fuzz_trace_decode
 *   build/fuzz/fuzz_trace_decode -max_total_time=30 tests/fuzz/corpus/trace_decode
 *
 * The input is used twice.
 *
 * 1. As a serial log: split at '\n' and fed line by line.  Beyond "no
 *    crash, no out-of-bounds access" (each line is copied into an
 *    exact-size heap buffer, so ASan sees any read past it) the decoder's
 *    promises are checked: at most TRACE_CHUNK_RECS records per line and
 *    none on other lines, never more records in a dump than its begin line
 *    announced, line numbers and offsets that match the input, and every
 *    error message terminated and non-empty.
 *
 * 2. As trace records: its bytes fill a ring (which may wrap), the ring is
 *    dumped and decoded back, and must come back exactly; then one byte of
 *    the dump, chosen by the input, is changed: the decoder must report a
 *    problem, and whatever it delivered must be the true records, in order
 *    (what is readable before damage stays right).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/trace.h"

#include "tests/fuzz/fuzz_assert.h"

#define RING 16
#define MAX_RECS 64

static bool terminated(const char *s, size_t size) { return memchr(s, 0, size) != NULL; }

static void check_error(const struct trace_error *e, uint64_t lines, size_t size)
{
	CHECK(terminated(e->msg, sizeof(e->msg)) && e->msg[0]);
	CHECK(e->line >= 1 && e->line <= lines);
	CHECK(e->offset <= size);
}

/* Feeds text line by line; true records go to out (if not NULL). */
static unsigned decode_all(const char *text, size_t size, struct trace_decoder *d, struct trace_rec *out,
			   unsigned max_out)
{
	unsigned total = 0;
	uint64_t lines = 0;
	unsigned errors = 0;
	trace_decoder_init(d);
	for (size_t i = 0; i < size;) {
		const char *nl = memchr(text + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - text) + 1 : size;
		char *line = malloc(end - i ? end - i : 1);
		CHECK(line);
		memcpy(line, text + i, end - i);
		struct trace_rec r[TRACE_CHUNK_RECS];
		unsigned n = 12345;
		enum trace_line_type t = trace_decode_line(d, line, end - i, r, &n);
		free(line);
		lines++;
		CHECK(d->line == lines);
		CHECK(d->offset == i);
		if (t == TRACE_LINE_CHUNK) {
			CHECK(n >= 1 && n <= TRACE_CHUNK_RECS);
			CHECK(d->in_dump && d->got <= d->dump.count);
			for (unsigned k = 0; k < n; k++) {
				if (out && total < max_out)
					out[total] = r[k];
				total++;
			}
		} else {
			CHECK(n == 0);
		}
		CHECK(t != TRACE_LINE_ERROR || d->errors > errors);
		CHECK(d->errors - errors <= 1);   /* one problem per line at most */
		if (d->errors != errors)
			check_error(&d->last, lines, size);
		errors = d->errors;
		CHECK(!(d->in_dump && d->skipping));
		i = end;
	}
	bool clean = trace_decode_finish(d);
	CHECK(clean == (d->errors == 0));
	CHECK(!d->in_dump);
	CHECK(d->records == total);
	if (d->errors) {
		check_error(&d->first, lines, size);
		check_error(&d->last, lines, size);
	}
	return total;
}

struct text {
	char buf[64 * 1024];
	size_t len;
};

static void put_line(const char *line, void *ctx)
{
	struct text *t = ctx;
	size_t n = strlen(line);
	CHECK(n < TRACE_LINE_MAX);
	CHECK(t->len + n + 1 <= sizeof(t->buf));
	memcpy(t->buf + t->len, line, n);
	t->len += n;
	t->buf[t->len++] = '\n';
}

static void round_trip(const uint8_t *data, size_t size)
{
	static struct trace_rec store[RING], want[MAX_RECS], got[MAX_RECS];
	static struct text t;
	struct trace_ring ring;
	struct trace_decoder d;
	unsigned puts = (unsigned)(size / TRACE_REC_SIZE);
	if (puts > MAX_RECS)
		puts = MAX_RECS;

	CHECK(trace_ring_init(&ring, store, RING, (uint16_t)size) == 0);
	for (unsigned i = 0; i < puts; i++) {
		struct trace_rec r;
		trace_rec_unpack(data + i * TRACE_REC_SIZE, &r);
		trace_put(&ring, &r);
		r.seq = i;                 /* what trace_put stamps */
		r.cpu = (uint16_t)size;
		want[i] = r;
	}
	unsigned held = puts < RING ? puts : RING, first = puts - held;
	CHECK(trace_ring_count(&ring) == held);
	CHECK(trace_ring_dropped(&ring) == first);

	t.len = 0;
	trace_dump(&ring, put_line, &t);
	CHECK(decode_all(t.buf, t.len, &d, got, MAX_RECS) == held);
	CHECK(d.errors == 0 && d.dumps == 1);
	CHECK(d.dump.count == held && d.dump.dropped == first);
	for (unsigned i = 0; i < held; i++)
		CHECK(memcmp(&got[i], &want[first + i], sizeof(got[i])) == 0);

	/* One changed byte anywhere in the dump is always noticed (CRC-32
	 * catches every burst up to 32 bits, and a changed tag, sequence or
	 * line break shows as a gap or a cut dump), and never corrupts what
	 * is delivered before it. */
	if (size == 0)
		return;
	size_t at = (size_t)(data[0] | (size > 1 ? data[1] << 8 : 0)) % t.len;
	uint8_t flip = size > 2 && data[2] ? data[2] : 0x20;
	/* ...except the dump's last newline turned into a carriage return:
	 * a line may end in CR (serial logs with CRLF), so that dump is intact */
	if (at == t.len - 1 && (char)(t.buf[at] ^ flip) == '\r')
		return;
	t.buf[at] = (char)(t.buf[at] ^ flip);
	unsigned n = decode_all(t.buf, t.len, &d, got, MAX_RECS);
	CHECK(d.errors >= 1);
	CHECK(n <= held);
	for (unsigned i = 0; i < n; i++)
		CHECK(memcmp(&got[i], &want[first + i], sizeof(got[i])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_decoder d;
	decode_all((const char *)data, size, &d, NULL, 0);
	round_trip(data, size);
	return 0;
}
