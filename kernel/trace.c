/*
 * The exit trace ring, its serial text encoding and the decoder
 * (kernel/trace.h, docs/trace-format.md).
 *
 * The encoding is made for a serial console: every line stands alone, says
 * what it is ("NTRACE"), carries its own sequence number and checksum, and
 * uses only printable ASCII, so a dump survives being mixed with other log
 * lines, and any lost or damaged line is found and named.
 *
 * Only <stdint.h>, <stdbool.h>, <stddef.h> and <string.h>: the same file
 * builds freestanding in the kernel and on the host.
 */
#include <string.h>
#include "kernel/trace.h"
#include "kernel/textbuf.h"

/* ---- records on the wire: little endian, the layout of struct trace_rec ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void trace_rec_pack(const struct trace_rec *r, uint8_t out[TRACE_REC_SIZE])
{
	put_le(out + 0, r->tsc, 8);
	put_le(out + 8, r->reason, 8);
	put_le(out + 16, r->info, 8);
	put_le(out + 24, r->rip, 8);
	put_le(out + 32, r->seq, 4);
	put_le(out + 36, r->cpu, 2);
	put_le(out + 38, r->vm, 2);
	put_le(out + 40, r->vcpu, 2);
	out[42] = r->level;
	out[43] = r->kind;
	out[44] = r->vendor;
	out[45] = r->flags;
	put_le(out + 46, r->reserved, 2);
}

void trace_rec_unpack(const uint8_t in[TRACE_REC_SIZE], struct trace_rec *r)
{
	r->tsc = get_le(in + 0, 8);
	r->reason = get_le(in + 8, 8);
	r->info = get_le(in + 16, 8);
	r->rip = get_le(in + 24, 8);
	r->seq = (uint32_t)get_le(in + 32, 4);
	r->cpu = (uint16_t)get_le(in + 36, 2);
	r->vm = (uint16_t)get_le(in + 38, 2);
	r->vcpu = (uint16_t)get_le(in + 40, 2);
	r->level = in[42];
	r->kind = in[43];
	r->vendor = in[44];
	r->flags = in[45];
	r->reserved = (uint16_t)get_le(in + 46, 2);
}

/* ---- the ring ---- */

int trace_ring_init(struct trace_ring *r, struct trace_rec *array, size_t count, uint16_t cpu)
{
	if (count == 0 || (count & (count - 1)) != 0)
		return -1;
	r->rec = array;
	r->mask = count - 1;
	r->head = 0;
	r->cpu = cpu;
	r->enabled = false;
	return 0;
}

void trace_ring_reset(struct trace_ring *r) { r->head = 0; }

void trace_ring_enable(struct trace_ring *r, bool on)
{
	__atomic_store_n(&r->enabled, on, __ATOMIC_RELAXED);
}

uint64_t trace_ring_count(const struct trace_ring *r)
{
	return r->head <= r->mask ? r->head : r->mask + 1;
}

uint64_t trace_ring_dropped(const struct trace_ring *r)
{
	return r->head - trace_ring_count(r);
}

/* ---- CRC-32/IEEE (reflected polynomial 0xEDB88320, init and final xor
 * all ones: the zlib/Ethernet CRC, so `python3 -c 'import zlib; ...'`
 * can check a line by hand).  Bit by bit: dumps are rare and a table
 * would cost 1 KiB of kernel data for nothing. ---- */

uint32_t trace_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/* ---- base64 (RFC 4648 alphabet).  A chunk holds whole 48-byte records,
 * a multiple of 3 bytes, so there is never any '=' padding. ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* ---- building a line in a fixed buffer ---- */

static void t_init(struct textbuf *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->len = 0;
	t->cap = cap;
	buf[0] = 0;
}

static void t_hex32(struct textbuf *t, uint32_t v)
{
	for (int i = 7; i >= 0; i--)
		tb_char(t, "0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static void t_b64(struct textbuf *t, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		tb_char(t, b64_alphabet[v >> 18]);
		tb_char(t, b64_alphabet[(v >> 12) & 63]);
		tb_char(t, b64_alphabet[(v >> 6) & 63]);
		tb_char(t, b64_alphabet[v & 63]);
	}
}

/* Every line ends with " <crc of everything before the space>". */
static void t_seal(struct textbuf *t)
{
	uint32_t crc = trace_crc32(t->buf, t->len);
	tb_char(t, ' ');
	t_hex32(t, crc);
}

/* ---- the dump ---- */

void trace_dump(const struct trace_ring *r, trace_line_fn put, void *ctx)
{
	uint64_t count = trace_ring_count(r), first = r->head - count, chunk = 0;
	char buf[TRACE_LINE_MAX];
	uint8_t bin[TRACE_CHUNK_RECS * TRACE_REC_SIZE];
	struct textbuf t;

	t_init(&t, buf, sizeof(buf));
	tb_str(&t, "NTRACE v");
	tb_u64(&t, TRACE_FORMAT_VERSION);
	tb_str(&t, " begin cpu=");
	tb_u64(&t, r->cpu);
	tb_str(&t, " count=");
	tb_u64(&t, count);
	tb_str(&t, " dropped=");
	tb_u64(&t, trace_ring_dropped(r));
	t_seal(&t);
	put(buf, ctx);

	for (uint64_t i = 0; i < count; chunk++) {
		unsigned n = count - i < TRACE_CHUNK_RECS ? (unsigned)(count - i) : TRACE_CHUNK_RECS;
		for (unsigned k = 0; k < n; k++)
			trace_rec_pack(&r->rec[(first + i + k) & r->mask], bin + k * TRACE_REC_SIZE);
		i += n;
		t_init(&t, buf, sizeof(buf));
		tb_str(&t, "NTRACE ");
		tb_u64(&t, chunk);
		tb_char(&t, ' ');
		t_b64(&t, bin, n * TRACE_REC_SIZE);
		t_seal(&t);
		put(buf, ctx);
	}

	t_init(&t, buf, sizeof(buf));
	tb_str(&t, "NTRACE v");
	tb_u64(&t, TRACE_FORMAT_VERSION);
	tb_str(&t, " end cpu=");
	tb_u64(&t, r->cpu);
	tb_str(&t, " chunks=");
	tb_u64(&t, chunk);
	t_seal(&t);
	put(buf, ctx);
}

/* ---- the decoder ---- */

void trace_decoder_init(struct trace_decoder *d)
{
	memset(d, 0, sizeof(*d));
}

/* The line being decoded: its bytes from "NTRACE" on, and where they sit
 * in the input, so every problem can be named by byte offset. */
struct tline {
	const char *s;
	size_t len;
	uint64_t base;   /* input offset of s[0] */
};

/* Start an error report at column col of the trace line; the caller adds
 * the message and calls err_done().  A problem inside a dump cuts it: the
 * rest of its lines are skipped up to its end or the next begin. */
static struct textbuf err_start(struct trace_decoder *d, const struct tline *l, size_t col)
{
	struct textbuf t;
	d->last.line = d->line;
	d->last.offset = l->base + col;
	t_init(&t, d->last.msg, sizeof(d->last.msg));
	return t;
}

static enum trace_line_type err_done(struct trace_decoder *d)
{
	if (d->errors++ == 0)
		d->first = d->last;
	if (d->in_dump) {
		d->in_dump = false;
		d->skipping = true;
	}
	return TRACE_LINE_ERROR;
}

static enum trace_line_type err_simple(struct trace_decoder *d, const struct tline *l, size_t col,
				       const char *msg)
{
	struct textbuf t = err_start(d, l, col);
	tb_str(&t, msg);
	return err_done(d);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal at s[*i], at most UINT64_MAX; false if none or too large. */
static bool parse_u64(const struct tline *l, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;
	while (*i < l->len && is_digit(l->s[*i])) {
		unsigned digit = (unsigned)(l->s[*i] - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return false;
		v = v * 10 + digit;
		(*i)++;
	}
	*out = v;
	return *i > start;
}

static bool parse_hex32(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		char c = s[i];
		unsigned digit;
		if (is_digit(c))
			digit = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			digit = (unsigned)(c - 'a' + 10);
		else  /* lower case only: one spelling, so any changed byte shows */
			return false;
		v = v << 4 | digit;
	}
	*out = v;
	return true;
}

/* Does s[i..] start with the word w (followed by a space or the end)? */
static bool word_at(const struct tline *l, size_t i, const char *w)
{
	size_t n = strlen(w);
	if (i > l->len)
		return false;
	return l->len - i >= n && memcmp(l->s + i, w, n) == 0 && (l->len - i == n || l->s[i + n] == ' ');
}

/* "key=value key=value ..." from s[i] to the end: the values of the keys
 * asked for; keys this decoder does not know are skipped (a v1 writer may
 * add keys).  Returns the column of a malformed pair, or (size_t)-1. */
struct kv {
	const char *key;
	uint64_t value;
	bool seen;
};

static size_t parse_pairs(const struct tline *l, size_t i, struct kv *kv, unsigned nkv)
{
	while (i < l->len) {
		if (l->s[i] != ' ')
			return i;
		i++;
		size_t key = i;
		while (i < l->len && l->s[i] != '=' && l->s[i] != ' ')
			i++;
		if (i == key || i == l->len || l->s[i] != '=')
			return key;
		size_t key_len = i - key;
		i++;
		struct kv *match = NULL;
		for (unsigned k = 0; k < nkv; k++)
			if (strlen(kv[k].key) == key_len && memcmp(kv[k].key, l->s + key, key_len) == 0)
				match = &kv[k];
		if (match) {
			if (!parse_u64(l, &i, &match->value))
				return key;
			match->seen = true;
		}
		while (i < l->len && l->s[i] != ' ')
			i++;
	}
	return (size_t)-1;
}

static enum trace_line_type missing_key(struct trace_decoder *d, const struct tline *l, struct kv *kv,
					unsigned nkv)
{
	for (unsigned k = 0; k < nkv; k++)
		if (!kv[k].seen) {
			struct textbuf t = err_start(d, l, 0);
			tb_str(&t, "line lacks ");
			tb_str(&t, kv[k].key);
			tb_char(&t, '=');
			return err_done(d);
		}
	return TRACE_LINE_ERROR;
}

static enum trace_line_type decode_begin(struct trace_decoder *d, const struct tline *l, size_t i)
{
	struct kv kv[] = { { "cpu", 0, false }, { "count", 0, false }, { "dropped", 0, false } };
	size_t bad = parse_pairs(l, i, kv, 3);
	if (bad != (size_t)-1)
		return err_simple(d, l, bad, "malformed key=value in begin line");
	if (!kv[0].seen || !kv[1].seen || !kv[2].seen)
		return missing_key(d, l, kv, 3);
	if (kv[0].value > UINT16_MAX)
		return err_simple(d, l, 0, "begin line: cpu out of range");
	if (d->in_dump) {
		/* Reported here, where it became visible; this new dump still counts. */
		struct textbuf t = err_start(d, l, 0);
		tb_str(&t, "dump of cpu ");
		tb_u64(&t, d->dump.cpu);
		tb_str(&t, " begun at line ");
		tb_u64(&t, d->dump.begin_line);
		tb_str(&t, " has no end line (");
		tb_u64(&t, d->got);
		tb_str(&t, " of ");
		tb_u64(&t, d->dump.count);
		tb_str(&t, " records)");
		err_done(d);
	}
	d->in_dump = true;
	d->skipping = false;
	d->dump.cpu = (uint16_t)kv[0].value;
	d->dump.count = kv[1].value;
	d->dump.dropped = kv[2].value;
	d->dump.begin_line = d->line;
	d->next_chunk = 0;
	d->got = 0;
	return TRACE_LINE_BEGIN;
}

static enum trace_line_type decode_end(struct trace_decoder *d, const struct tline *l, size_t i)
{
	struct kv kv[] = { { "cpu", 0, false }, { "chunks", 0, false } };
	if (d->skipping) {          /* the end of a dump already reported as cut */
		d->skipping = false;
		return TRACE_LINE_OTHER;
	}
	if (!d->in_dump)
		return err_simple(d, l, 0, "end line without a begin line");
	size_t bad = parse_pairs(l, i, kv, 2);
	if (bad != (size_t)-1)
		return err_simple(d, l, bad, "malformed key=value in end line");
	if (!kv[0].seen || !kv[1].seen)
		return missing_key(d, l, kv, 2);
	if (kv[0].value != d->dump.cpu)
		return err_simple(d, l, 0, "end line names another cpu than its begin line");
	if (kv[1].value != d->next_chunk || d->got != d->dump.count) {
		struct textbuf t = err_start(d, l, 0);
		tb_str(&t, "dump of cpu ");
		tb_u64(&t, d->dump.cpu);
		tb_str(&t, " ends after ");
		tb_u64(&t, d->next_chunk);
		tb_str(&t, " of ");
		tb_u64(&t, kv[1].value);
		tb_str(&t, " chunks, ");
		tb_u64(&t, d->got);
		tb_str(&t, " of ");
		tb_u64(&t, d->dump.count);
		tb_str(&t, " records");
		return err_done(d);
	}
	d->in_dump = false;
	d->dumps++;
	return TRACE_LINE_END;
}

static enum trace_line_type decode_chunk(struct trace_decoder *d, const struct tline *l,
					 struct trace_rec *out, unsigned *n)
{
	size_t i = 7;  /* after "NTRACE " */
	uint64_t seq;
	if (d->skipping)
		return TRACE_LINE_OTHER;
	if (!parse_u64(l, &i, &seq) || i >= l->len || l->s[i] != ' ')
		return err_simple(d, l, 7, "malformed chunk sequence number");
	if (!d->in_dump)
		return err_simple(d, l, 7, "chunk line outside a dump (its begin line is missing)");
	if (seq != d->next_chunk) {
		struct textbuf t = err_start(d, l, 7);
		tb_str(&t, "chunk ");
		tb_u64(&t, seq);
		tb_str(&t, " where chunk ");
		tb_u64(&t, d->next_chunk);
		tb_str(&t, " was expected (lines lost)");
		return err_done(d);
	}
	size_t p = i + 1, chars = l->len - p;
	size_t per_rec = TRACE_REC_SIZE / 3 * 4;
	if (chars == 0 || chars % per_rec != 0 || chars / per_rec > TRACE_CHUNK_RECS)
		return err_simple(d, l, p, "chunk payload is not 1 to 4 whole records of base64");
	unsigned recs = (unsigned)(chars / per_rec);
	if (d->got + recs > d->dump.count)
		return err_simple(d, l, 7, "more records than the begin line announced");
	uint8_t bin[TRACE_CHUNK_RECS * TRACE_REC_SIZE];
	for (size_t c = 0; c < chars; c += 4) {
		uint32_t v = 0;
		for (size_t k = 0; k < 4; k++) {
			int x = b64_value((unsigned char)l->s[p + c + k]);
			if (x < 0)
				return err_simple(d, l, p + c + k, "not a base64 character");
			v = v << 6 | (uint32_t)x;
		}
		bin[c / 4 * 3] = (uint8_t)(v >> 16);
		bin[c / 4 * 3 + 1] = (uint8_t)(v >> 8);
		bin[c / 4 * 3 + 2] = (uint8_t)v;
	}
	for (unsigned k = 0; k < recs; k++)
		trace_rec_unpack(bin + k * TRACE_REC_SIZE, &out[k]);
	*n = recs;
	d->next_chunk++;
	d->got += recs;
	d->records += recs;
	return TRACE_LINE_CHUNK;
}

/* "[cpu<digits> <letter>] ": L0's log prefix (kernel/log.c).  Guest lines
 * ("[vmname] ...") do not match: a VM name has no space. */
static size_t l0_prefix(const char *s, size_t len)
{
	size_t i = 4;
	if (len < 4 || memcmp(s, "[cpu", 4) != 0)
		return 0;
	while (i < len && is_digit(s[i]))
		i++;
	if (i == 4 || len - i < 4 || s[i] != ' ' || s[i + 1] < 'A' || s[i + 1] > 'Z' ||
	    s[i + 2] != ']' || s[i + 3] != ' ')
		return 0;
	return i + 4;
}

enum trace_line_type trace_decode_line(struct trace_decoder *d, const char *line, size_t len,
				       struct trace_rec out[TRACE_CHUNK_RECS], unsigned *n)
{
	*n = 0;
	d->line++;
	d->offset = d->next_offset;
	/* Offsets assume one '\n' after every line the caller strips it from. */
	if (len && line[len - 1] == '\n') {
		d->next_offset = d->offset + len;
		len--;
	} else {
		d->next_offset = d->offset + len + 1;
	}
	d->end_offset = d->offset + len;
	if (len && line[len - 1] == '\r')
		len--;

	size_t skip = l0_prefix(line, len);
	struct tline l = { line + skip, len - skip, d->offset + skip };
	if (l.len < 7 || memcmp(l.s, "NTRACE ", 7) != 0)
		return TRACE_LINE_OTHER;

	/* A version other than ours is named before anything else: a newer
	 * format may seal its lines differently. */
	bool header = l.len > 7 && l.s[7] == 'v';
	size_t i = 8;
	if (header) {
		uint64_t version;
		if (!parse_u64(&l, &i, &version) || i >= l.len || l.s[i] != ' ')
			return err_simple(d, &l, 7, "malformed version");
		if (version != TRACE_FORMAT_VERSION) {
			struct textbuf t = err_start(d, &l, 7);
			tb_str(&t, "unsupported trace format v");
			tb_u64(&t, version);
			tb_str(&t, " (this decoder reads v");
			tb_u64(&t, TRACE_FORMAT_VERSION);
			tb_char(&t, ')');
			return err_done(d);
		}
	}

	/* The checksum seals everything before its space: check it before
	 * believing any number on the line. */
	if (l.len < 7 + 9 || l.s[l.len - 9] != ' ')
		return err_simple(d, &l, l.len, "line has no checksum (truncated?)");
	uint32_t want, got;
	if (!parse_hex32(l.s + l.len - 8, &want))
		return err_simple(d, &l, l.len - 8, "malformed checksum");
	l.len -= 9;
	got = trace_crc32(l.s, l.len);
	if (got != want) {
		struct textbuf t = err_start(d, &l, 0);
		tb_str(&t, "checksum mismatch (line says ");
		t_hex32(&t, want);
		tb_str(&t, ", content gives ");
		t_hex32(&t, got);
		tb_char(&t, ')');
		return err_done(d);
	}

	if (!header)
		return decode_chunk(d, &l, out, n);
	i++;  /* the space after the version */
	if (word_at(&l, i, "begin"))
		return decode_begin(d, &l, i + 5);
	if (word_at(&l, i, "end"))
		return decode_end(d, &l, i + 3);
	return err_simple(d, &l, i, "unknown trace line (neither begin nor end)");
}

bool trace_decode_finish(struct trace_decoder *d)
{
	if (d->in_dump) {
		struct textbuf t;
		d->last.line = d->line;
		d->last.offset = d->end_offset;
		t_init(&t, d->last.msg, sizeof(d->last.msg));
		tb_str(&t, "input ends inside the dump of cpu ");
		tb_u64(&t, d->dump.cpu);
		tb_str(&t, " begun at line ");
		tb_u64(&t, d->dump.begin_line);
		tb_str(&t, " (");
		tb_u64(&t, d->got);
		tb_str(&t, " of ");
		tb_u64(&t, d->dump.count);
		tb_str(&t, " records, no end line)");
		err_done(d);
		d->skipping = false;
	}
	return d->errors == 0;
}
