/*
 * The exit trace (DESIGN.md principle 5, issue 8): a per-CPU ring of fixed
 * records, one per transition between L0 and a guest level, and the text
 * encoding that carries a ring over a serial console to tools/nestor-trace.
 * The format is documented in docs/trace-format.md; keep the two in step.
 *
 * Pure: plain C over plain data, compiled into the kernel and into host
 * tests, the fuzzer and the host tool.  The kernel supplies the TSC values
 * and the line sink; nothing here touches hardware.
 */
#ifndef NESTOR_TRACE_H
#define NESTOR_TRACE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version in "NTRACE v1 begin"; bump it whenever the record layout or
 * the line grammar changes in a way an older decoder would misread. */
#define TRACE_FORMAT_VERSION 1

/*
 * What a record's transition is.  With `level` (the level of the guest
 * that exits or is entered) the four kinds name every transition:
 *
 *   L1 -> L0  single-level exit ......... TRACE_EXIT    level 1
 *   L0 -> L1  resume after it ........... TRACE_ENTRY   level 1
 *   L2 -> L0  ........................... TRACE_EXIT    level 2
 *   L0 -> L1  reflect L2's exit to L1 ... TRACE_REFLECT level 1
 *   L1 -> L0  L1 runs L2 (VMRUN/VMRESUME) TRACE_VMRUN   level 1
 *   L0 -> L2  ........................... TRACE_ENTRY   level 2
 *
 * and L3 the same way one level down.  TRACE_VMRUN is an exit like
 * TRACE_EXIT, marked so that a reader needs no table of reasons to see
 * where L1's handling of a reflected exit ends.
 */
enum trace_kind {
	TRACE_EXIT    = 1,
	TRACE_ENTRY   = 2,
	TRACE_REFLECT = 3,
	TRACE_VMRUN   = 4,
};

enum trace_vendor { TRACE_SVM = 1, TRACE_VMX = 2 };

/*
 * One transition, 48 bytes.  The wide fields come first so every field is
 * naturally aligned without padding; the dump encodes the same layout in
 * little-endian byte order (trace_rec_pack), so the wire format does not
 * depend on the compiler.
 */
struct trace_rec {
	uint64_t tsc;     /*  0: TSC at the transition */
	uint64_t reason;  /*  8: vendor's raw exit code (SVM EXITCODE, VMX exit reason) */
	uint64_t info;    /* 16: SVM EXITINFO1 / VMX exit qualification */
	uint64_t rip;     /* 24: guest RIP (of the exiting instruction, or where it resumes) */
	uint32_t seq;     /* 32: low 32 bits of the ring's put count (set by trace_put) */
	uint16_t cpu;     /* 36: physical CPU (set by trace_put from the ring) */
	uint16_t vm;      /* 38: VM id */
	uint16_t vcpu;    /* 40: vCPU index in its VM */
	uint8_t level;    /* 42: 1..3, the guest level that exits or is entered */
	uint8_t kind;     /* 43: enum trace_kind */
	uint8_t vendor;   /* 44: enum trace_vendor */
	uint8_t flags;    /* 45: reserved, 0 */
	uint16_t reserved;/* 46: reserved, 0 */
};
#define TRACE_REC_SIZE 48
_Static_assert(sizeof(struct trace_rec) == TRACE_REC_SIZE, "trace record is 48 bytes");
_Static_assert(offsetof(struct trace_rec, reason) == 8, "layout");
_Static_assert(offsetof(struct trace_rec, info) == 16, "layout");
_Static_assert(offsetof(struct trace_rec, rip) == 24, "layout");
_Static_assert(offsetof(struct trace_rec, seq) == 32, "layout");
_Static_assert(offsetof(struct trace_rec, cpu) == 36, "layout");
_Static_assert(offsetof(struct trace_rec, vm) == 38, "layout");
_Static_assert(offsetof(struct trace_rec, vcpu) == 40, "layout");
_Static_assert(offsetof(struct trace_rec, level) == 42, "layout");
_Static_assert(offsetof(struct trace_rec, kind) == 43, "layout");
_Static_assert(offsetof(struct trace_rec, vendor) == 44, "layout");
_Static_assert(offsetof(struct trace_rec, reserved) == 46, "layout");

/* Wire form of one record (little endian, the layout above). */
void trace_rec_pack(const struct trace_rec *r, uint8_t out[TRACE_REC_SIZE]);
void trace_rec_unpack(const uint8_t in[TRACE_REC_SIZE], struct trace_rec *r);

/*
 * A ring of records for one physical CPU, over an array the caller owns.
 * One writer (its CPU); a dump reads it while that writer is stopped or is
 * the dumping CPU itself.  `head` counts every record ever put, so the
 * number overwritten (dropped) is derived, not counted on the hot path.
 */
struct trace_ring {
	struct trace_rec *rec;
	uint64_t mask;      /* capacity - 1; the capacity is a power of two */
	uint64_t head;      /* records put so far; the next goes to rec[head & mask] */
	uint16_t cpu;
	bool enabled;       /* read with trace_on(); flipped by config or hypercall */
};

/* 0, or -1 when count is not a power of two (>= 1). Starts disabled. */
int trace_ring_init(struct trace_ring *r, struct trace_rec *array, size_t count, uint16_t cpu);
void trace_ring_reset(struct trace_ring *r);
void trace_ring_enable(struct trace_ring *r, bool on);
uint64_t trace_ring_count(const struct trace_ring *r);    /* records held */
uint64_t trace_ring_dropped(const struct trace_ring *r);  /* records overwritten */

/* The check the hot path pays when tracing is off: one load, one branch
 * predicted not taken.  Build the record only behind it. */
static inline bool trace_on(const struct trace_ring *r)
{
	return __builtin_expect(__atomic_load_n(&r->enabled, __ATOMIC_RELAXED), 0);
}

/* Append one record, overwriting the oldest when full.  No division (the
 * mask), no lock (one writer), no branch. */
static inline void trace_put(struct trace_ring *r, const struct trace_rec *rec)
{
	uint64_t h = r->head;
	struct trace_rec *slot = &r->rec[h & r->mask];
	*slot = *rec;
	slot->seq = (uint32_t)h;
	slot->cpu = r->cpu;
	r->head = h + 1;
}

/* ---- the serial encoding (docs/trace-format.md) ----
 *
 *   NTRACE v1 begin cpu=0 count=5 dropped=0 <crc>
 *   NTRACE 0 <base64 of 1..4 records> <crc>
 *   NTRACE 1 <base64 ...> <crc>
 *   NTRACE v1 end cpu=0 chunks=2 <crc>
 *
 * <crc> is the CRC-32 (IEEE) of every byte of the line before the space
 * that precedes it, as 8 lower-case hex digits.
 */
#define TRACE_CHUNK_RECS 4      /* records per chunk line (192 bytes, 256 base64 chars) */
#define TRACE_LINE_MAX   320    /* longest line trace_dump writes, with its NUL */

uint32_t trace_crc32(const void *data, size_t len);

/* Receives each line, NUL-terminated and without a newline. */
typedef void (*trace_line_fn)(const char *line, void *ctx);

/* Writes the ring's records, oldest first, as begin, chunk and end lines. */
void trace_dump(const struct trace_ring *r, trace_line_fn put, void *ctx);

/* ---- the decoder, shared by tools/nestor-trace, the tests and the fuzzer ----
 *
 * Feed it every line of a log (without its '\n'; a trailing '\r' is
 * ignored).  Lines that are not trace lines pass as TRACE_LINE_OTHER: the
 * L0 log around a dump, and guest output ("[vmname] ...").  A trace line
 * may carry L0's log prefix "[cpuN X] ".
 *
 * Every problem is counted in `errors` with its line and byte offset
 * (the first one is kept in `first`, the latest in `last`).  Records
 * delivered before a problem stay valid; the dump it happened in is cut
 * there, and decoding starts again at the next begin line.
 */
enum trace_line_type {
	TRACE_LINE_OTHER,   /* not a trace line */
	TRACE_LINE_BEGIN,   /* a dump starts: d->dump describes it */
	TRACE_LINE_CHUNK,   /* *n records were stored in out[] */
	TRACE_LINE_END,     /* the dump ended complete */
	TRACE_LINE_ERROR,   /* a trace line that was rejected: d->last says why */
};

struct trace_error {
	uint64_t line;      /* 1-based line number */
	uint64_t offset;    /* byte offset in the input of the problem */
	char msg[112];
};

struct trace_dump_info {
	uint16_t cpu;
	uint64_t count, dropped; /* from the begin line */
	uint64_t begin_line;
};

struct trace_decoder {
	uint64_t line;          /* number of the line being decoded (1-based) */
	uint64_t offset;        /* byte offset where that line starts */
	uint64_t next_offset;   /* where the next one starts */
	uint64_t end_offset;    /* where the input seen so far ends */
	bool in_dump;           /* between a begin line and its end line */
	bool skipping;          /* a dump cut by an error: ignore it up to its end */
	struct trace_dump_info dump;  /* the current (or last) dump */
	uint64_t next_chunk;    /* sequence number the next chunk must carry */
	uint64_t got;           /* records delivered in the current dump */
	uint64_t records;       /* records delivered in all */
	unsigned dumps;         /* dumps that ended complete */
	unsigned errors;
	struct trace_error first, last;
};

void trace_decoder_init(struct trace_decoder *d);
enum trace_line_type trace_decode_line(struct trace_decoder *d, const char *line, size_t len,
				       struct trace_rec out[TRACE_CHUNK_RECS], unsigned *n);
/* End of input: a dump without its end line is an error.  True when the
 * whole input decoded without error. */
bool trace_decode_finish(struct trace_decoder *d);

#endif
