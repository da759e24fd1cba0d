/*
 * nestor-trace: turn the exit-trace dumps in a Nestor serial log into
 * tables (docs/trace-format.md).
 *
 *   nestor-trace [--csv FILE] [--svg FILE] [--timeline FILE] [LOG]
 *                                                   (LOG "-" or absent: stdin)
 *
 * It prints
 *   - the exits per VM / vCPU / level, counted by the vendor's exit reason;
 *   - what each reason costs L0: TSC ticks from an exit record (Lx -> L0)
 *     to the next entry record (L0 -> Ly) of the same vCPU, as count, min,
 *     median, p99, max;
 *   - the anatomy of reflected nested exits: L0's work before the
 *     reflection, L1's handling, L0's work after, and how many other L1
 *     exits happened in between (exit multiplication);
 * and writes one CSV row per exit (--csv), an SVG histogram of the log2
 * cost buckets per reason (--svg), and an SVG of the exits over time, per
 * level (--timeline).
 *
 * Damaged input (a bad checksum, a lost line, a cut dump) is named by line
 * and byte offset on stderr; everything decoded before the problem is still
 * reported, and the exit status is 2.  0 when the input is clean; 1 for a
 * usage or file error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/exit_names.h"
#include "kernel/trace.h"

#define MAX_SHOWN_ERRORS 20

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "nestor-trace: out of memory\n");
		exit(1);
	}
	return p;
}

/* ---- input ---- */

struct dump_note {
	uint16_t cpu;
	uint64_t count, dropped, line;
	bool complete;
};

struct input {
	struct trace_rec *rec;     /* in input order */
	size_t nrec, caprec;
	struct dump_note *dumps;
	size_t ndumps;
	struct trace_decoder dec;
};

static void report_error(const char *name, const struct trace_error *e, unsigned nth)
{
	if (nth > MAX_SHOWN_ERRORS)
		return;
	if (nth == MAX_SHOWN_ERRORS) {
		fprintf(stderr, "nestor-trace: %s: more problems follow (not shown)\n", name);
		return;
	}
	fprintf(stderr, "nestor-trace: %s:%" PRIu64 ": byte %" PRIu64 ": %s\n", name, e->line, e->offset,
		e->msg);
}

static void read_input(FILE *f, const char *name, struct input *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct trace_rec out[TRACE_CHUNK_RECS];
	unsigned n, errors = 0;

	trace_decoder_init(&in->dec);
	while ((len = getline(&line, &cap, f)) >= 0) {
		enum trace_line_type t = trace_decode_line(&in->dec, line, (size_t)len, out, &n);
		if (in->dec.errors != errors) {
			/* At most one new problem per line (a begin line may
			 * report the dump before it as cut and still start). */
			report_error(name, &in->dec.last, errors);
			errors = in->dec.errors;
		}
		if (t == TRACE_LINE_BEGIN) {
			in->dumps = xrealloc(in->dumps, (in->ndumps + 1) * sizeof(*in->dumps));
			in->dumps[in->ndumps++] = (struct dump_note){ in->dec.dump.cpu, in->dec.dump.count,
								      in->dec.dump.dropped, in->dec.line, false };
		} else if (t == TRACE_LINE_END) {
			in->dumps[in->ndumps - 1].complete = true;
		} else if (t == TRACE_LINE_CHUNK) {
			if (in->nrec + n > in->caprec) {
				in->caprec = in->caprec ? 2 * in->caprec : 1024;
				in->rec = xrealloc(in->rec, in->caprec * sizeof(*in->rec));
			}
			memcpy(in->rec + in->nrec, out, n * sizeof(*out));
			in->nrec += n;
		}
	}
	free(line);
	if (!trace_decode_finish(&in->dec) && in->dec.errors != errors)
		report_error(name, &in->dec.last, errors);
}

/* ---- from records to exits ---- */

/* One exit (Lx -> L0), with what the records after it tell about it. */
struct exit_row {
	struct trace_rec r;          /* the exit record */
	bool has_cost;
	uint8_t next_kind;           /* the entry that ended it: TRACE_ENTRY or TRACE_REFLECT */
	uint64_t cost;               /* ticks from the exit to that entry */
	bool nested;                 /* a reflected exit with its anatomy below */
	uint64_t l0_before, l1, l0_after;
	uint64_t l1_exits;           /* other exits of L1 while it handled this one */
};

struct exits {
	struct exit_row *row;
	size_t n, cap;
};

/* Where a vCPU is in the story of a nested exit. */
enum phase { IDLE, NESTED_EXIT, IN_L1 };

struct vstate {
	uint16_t vm, vcpu;
	long open;                   /* the exit waiting for its entry, or -1 */
	enum phase phase;
	long nested;                 /* the L2 exit being followed */
	uint8_t nested_level;
	uint64_t reflect_tsc, last_l1_exit_tsc, l1_exits;
};

static bool is_exit(const struct trace_rec *r) { return r->kind == TRACE_EXIT || r->kind == TRACE_VMRUN; }
static bool is_entry(const struct trace_rec *r) { return r->kind == TRACE_ENTRY || r->kind == TRACE_REFLECT; }

/* Records of all CPUs in time order.  TSCs are synchronised across CPUs
 * (invariant TSC); ties keep the input order, which is each ring's order. */
struct ordered {
	const struct trace_rec *r;
	size_t pos;
};

static int cmp_time(const void *a, const void *b)
{
	const struct ordered *x = a, *y = b;
	if (x->r->tsc != y->r->tsc)
		return x->r->tsc < y->r->tsc ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static struct vstate *vstate_of(struct vstate **vs, size_t *nvs, const struct trace_rec *r)
{
	for (size_t i = 0; i < *nvs; i++)
		if ((*vs)[i].vm == r->vm && (*vs)[i].vcpu == r->vcpu)
			return &(*vs)[i];
	*vs = xrealloc(*vs, (*nvs + 1) * sizeof(**vs));
	(*vs)[*nvs] = (struct vstate){ .vm = r->vm, .vcpu = r->vcpu, .open = -1, .nested = -1 };
	return &(*vs)[(*nvs)++];
}

/*
 * The anatomy of one reflected exit, as a vCPU's records tell it:
 *
 *   EXIT@2 ... REFLECT@1 [EXIT@1 ... ENTRY@1]* EXIT/VMRUN@1 ... ENTRY@2
 *   |L0 before|         L1 handling           |   L0 after  |
 *
 * L1's handling ends with its last exit before L0 enters L2 again: its
 * VMRUN / VMRESUME, whether or not the kernel marked it TRACE_VMRUN.  The
 * other L1 exits in between are the exit multiplication.  Any record out
 * of this order (a lost record, a dropped ring start) drops the story.
 */
static void follow_nested(struct vstate *v, struct exits *ex, const struct trace_rec *r, long row)
{
	if (is_exit(r)) {
		if (r->level >= 2) {
			v->phase = NESTED_EXIT;
			v->nested = row;
			v->nested_level = r->level;
		} else if (v->phase == IN_L1 && r->level == v->nested_level - 1) {
			v->l1_exits++;
			v->last_l1_exit_tsc = r->tsc;
		} else {
			v->phase = IDLE;
		}
		return;
	}
	if (r->kind == TRACE_REFLECT) {
		if (v->phase == NESTED_EXIT && r->level == v->nested_level - 1) {
			v->phase = IN_L1;
			v->reflect_tsc = r->tsc;
			v->l1_exits = 0;
		} else {
			v->phase = IDLE;
		}
		return;
	}
	/* TRACE_ENTRY */
	if (v->phase == IN_L1 && r->level == v->nested_level - 1)
		return;  /* L1 resumed after one of its own exits */
	if (v->phase == IN_L1 && r->level == v->nested_level && v->l1_exits > 0) {
		struct exit_row *e = &ex->row[v->nested];
		e->nested = true;
		e->l0_before = v->reflect_tsc - e->r.tsc;
		e->l1 = v->last_l1_exit_tsc - v->reflect_tsc;
		e->l0_after = r->tsc - v->last_l1_exit_tsc;
		e->l1_exits = v->l1_exits - 1;
	}
	v->phase = IDLE;  /* done, or an L2 exit L0 handled alone */
}

static void build_exits(const struct input *in, struct exits *ex)
{
	struct ordered *o = xrealloc(NULL, in->nrec * sizeof(*o));
	struct vstate *vs = NULL;
	size_t nvs = 0;

	for (size_t i = 0; i < in->nrec; i++)
		o[i] = (struct ordered){ &in->rec[i], i };
	qsort(o, in->nrec, sizeof(*o), cmp_time);

	for (size_t i = 0; i < in->nrec; i++) {
		const struct trace_rec *r = o[i].r;
		struct vstate *v = vstate_of(&vs, &nvs, r);
		long row = -1;
		if (is_exit(r)) {
			if (ex->n == ex->cap) {
				ex->cap = ex->cap ? 2 * ex->cap : 1024;
				ex->row = xrealloc(ex->row, ex->cap * sizeof(*ex->row));
			}
			row = (long)ex->n++;
			ex->row[row] = (struct exit_row){ .r = *r };
			v->open = row;   /* an earlier open exit lost its entry: no cost */
		} else if (is_entry(r)) {
			if (v->open >= 0 && r->tsc >= ex->row[v->open].r.tsc) {
				struct exit_row *e = &ex->row[v->open];
				e->has_cost = true;
				e->cost = r->tsc - e->r.tsc;
				e->next_kind = r->kind;
			}
			v->open = -1;
		} else {
			continue;  /* a kind this tool does not know */
		}
		follow_nested(v, ex, r, row);
	}
	free(o);
	free(vs);
}

/* ---- grouping and statistics ---- */

static const char *vendor_name(unsigned v)
{
	return v == TRACE_SVM ? "svm" : v == TRACE_VMX ? "vmx" : "?";
}

static const char *reason_name(const struct trace_rec *r)
{
	static char buf[EXIT_NAME_MAX];
	return exit_reason_name(r->vendor, r->reason, buf, sizeof(buf));
}

/* Rows sorted by (level, vendor, reason): one group per reason. */
static int cmp_reason(const void *a, const void *b)
{
	const struct exit_row *x = *(struct exit_row *const *)a, *y = *(struct exit_row *const *)b;
	if (x->r.level != y->r.level)
		return x->r.level < y->r.level ? -1 : 1;
	if (x->r.vendor != y->r.vendor)
		return x->r.vendor < y->r.vendor ? -1 : 1;
	if (x->r.reason != y->r.reason)
		return x->r.reason < y->r.reason ? -1 : 1;
	return 0;
}

/* ... and by VM and vCPU first, for the exit table. */
static int cmp_vcpu_reason(const void *a, const void *b)
{
	const struct exit_row *x = *(struct exit_row *const *)a, *y = *(struct exit_row *const *)b;
	if (x->r.vm != y->r.vm)
		return x->r.vm < y->r.vm ? -1 : 1;
	if (x->r.vcpu != y->r.vcpu)
		return x->r.vcpu < y->r.vcpu ? -1 : 1;
	return cmp_reason(a, b);
}

static struct exit_row **sorted_rows(const struct exits *ex, int (*cmp)(const void *, const void *))
{
	struct exit_row **p = xrealloc(NULL, ex->n * sizeof(*p));
	for (size_t i = 0; i < ex->n; i++)
		p[i] = &ex->row[i];
	qsort(p, ex->n, sizeof(*p), cmp);
	return p;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p% of the values at or
 * below it (the lower median for p = 50). */
static uint64_t percentile(const uint64_t *sorted, size_t n, unsigned p)
{
	size_t rank = (n * p + 99) / 100;
	return sorted[rank ? rank - 1 : 0];
}

static void print_summary(const struct input *in, const struct exits *ex)
{
	printf("nestor-trace: %zu dump%s, %zu records, %zu exits\n", in->ndumps, in->ndumps == 1 ? "" : "s",
	       in->nrec, ex->n);
	for (size_t i = 0; i < in->ndumps; i++) {
		const struct dump_note *d = &in->dumps[i];
		printf("  cpu %u (line %" PRIu64 "): %" PRIu64 " records, %" PRIu64 " dropped%s\n", d->cpu, d->line,
		       d->count, d->dropped, d->complete ? "" : ", INCOMPLETE");
		if (d->dropped)
			printf("    (the ring overwrote its oldest records: the first exits may lack their context)\n");
	}
}

static void print_exit_table(const struct exits *ex)
{
	struct exit_row **p = sorted_rows(ex, cmp_vcpu_reason);
	printf("\nExits by VM / vCPU / level\n");
	printf("  %4s %4s %5s %-6s %10s  %-24s %9s\n", "vm", "vcpu", "level", "vendor", "reason", "name", "count");
	for (size_t i = 0, j; i < ex->n; i = j) {
		for (j = i + 1; j < ex->n && cmp_vcpu_reason(&p[i], &p[j]) == 0; j++)
			;
		const struct trace_rec *r = &p[i]->r;
		printf("  %4u %4u    L%u %-6s %#10" PRIx64 "  %-24s %9zu\n", r->vm, r->vcpu, r->level,
		       vendor_name(r->vendor), r->reason, reason_name(r), j - i);
	}
	free(p);
}

static void print_costs(const struct exits *ex)
{
	struct exit_row **p = sorted_rows(ex, cmp_reason);
	uint64_t *c = xrealloc(NULL, ex->n * sizeof(*c));
	printf("\nCost per reason: TSC ticks from the exit to the next entry of its vCPU\n");
	printf("  %5s %-6s %10s  %-24s %9s %10s %10s %10s %10s\n", "level", "vendor", "reason", "name", "count", "min",
	       "median", "p99", "max");
	for (size_t i = 0, j; i < ex->n; i = j) {
		size_t n = 0;
		for (j = i; j < ex->n && cmp_reason(&p[i], &p[j]) == 0; j++)
			if (p[j]->has_cost)
				c[n++] = p[j]->cost;
		if (!n)
			continue;
		qsort(c, n, sizeof(*c), cmp_u64);
		const struct trace_rec *r = &p[i]->r;
		printf("     L%u %-6s %#10" PRIx64 "  %-24s %9zu %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
		       r->level, vendor_name(r->vendor), r->reason, reason_name(r), n, c[0], percentile(c, n, 50),
		       percentile(c, n, 99), c[n - 1]);
	}
	free(c);
	free(p);
}

static uint64_t median_of(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return percentile(v, n, 50);
}

static void print_anatomy(const struct exits *ex)
{
	struct exit_row **p = sorted_rows(ex, cmp_reason);
	uint64_t *v[4];
	bool any = false;
	for (int k = 0; k < 4; k++)
		v[k] = xrealloc(NULL, ex->n * sizeof(uint64_t));
	for (size_t i = 0, j; i < ex->n; i = j) {
		size_t n = 0;
		uint64_t mult = 0;
		for (j = i; j < ex->n && cmp_reason(&p[i], &p[j]) == 0; j++) {
			const struct exit_row *e = p[j];
			if (!e->nested)
				continue;
			v[0][n] = e->l0_before;
			v[1][n] = e->l1;
			v[2][n] = e->l0_after;
			v[3][n] = e->l0_before + e->l1 + e->l0_after;
			mult += e->l1_exits;
			n++;
		}
		if (!n)
			continue;
		if (!any) {
			printf("\nNested exit anatomy: reflected exits, median TSC ticks per phase\n");
			printf("  %5s %-6s %10s  %-24s %9s %10s %11s %10s %10s %9s\n", "level", "vendor", "reason", "name",
			       "count", "L0-before", "L1-handling", "L0-after", "total", "L1-exits");
			any = true;
		}
		const struct trace_rec *r = &p[i]->r;
		printf("     L%u %-6s %#10" PRIx64 "  %-24s %9zu %10" PRIu64 " %11" PRIu64 " %10" PRIu64 " %10" PRIu64
		       " %9.2f\n",
		       r->level, vendor_name(r->vendor), r->reason, reason_name(r), n, median_of(v[0], n),
		       median_of(v[1], n), median_of(v[2], n), median_of(v[3], n), (double)mult / (double)n);
	}
	if (any)
		printf("  (L1-exits: other exits of L1 per reflected exit, the exit multiplication)\n");
	for (int k = 0; k < 4; k++)
		free(v[k]);
	free(p);
}

/* ---- CSV and SVG ---- */

static void csv_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void write_csv(FILE *f, const struct exits *ex)
{
	fprintf(f, "vm,vcpu,cpu,level,vendor,reason,name,info,rip,tsc,cost,next,"
		   "l0_before,l1_handling,l0_after,l1_exits\n");
	for (size_t i = 0; i < ex->n; i++) {
		const struct exit_row *e = &ex->row[i];
		const struct trace_rec *r = &e->r;
		fprintf(f, "%u,%u,%u,%u,%s,%#" PRIx64 ",", r->vm, r->vcpu, r->cpu, r->level, vendor_name(r->vendor),
			r->reason);
		csv_text(f, reason_name(r));
		fprintf(f, ",%#" PRIx64 ",%#" PRIx64 ",%" PRIu64 ",", r->info, r->rip, r->tsc);
		if (e->has_cost)
			fprintf(f, "%" PRIu64 ",%s", e->cost, e->next_kind == TRACE_REFLECT ? "reflect" : "entry");
		else
			fputs(",", f);
		if (e->nested)
			fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", e->l0_before, e->l1,
				e->l0_after, e->l1_exits);
		else
			fputs(",,,,\n", f);
	}
}

static void svg_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

static unsigned log2_bucket(uint64_t v) { return v ? 63u - (unsigned)__builtin_clzll(v) : 0; }

/* One row of bars per reason: bar b counts the exits that cost [2^b, 2^(b+1))
 * ticks (bar 0 also 0), scaled to the row's tallest bar. */
static void write_svg(FILE *f, const struct exits *ex)
{
	enum { LABEL_W = 260, BAR_W = 16, ROW_H = 70, TOP = 40, BAR_MAX = 50 };
	struct exit_row **p = sorted_rows(ex, cmp_reason);
	unsigned lo = 63, hi = 0, rows = 0;
	for (size_t i = 0; i < ex->n; i++)
		if (p[i]->has_cost) {
			unsigned b = log2_bucket(p[i]->cost);
			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
		}
	for (size_t i = 0, j; i < ex->n; i = j) {
		bool costed = false;
		for (j = i; j < ex->n && cmp_reason(&p[i], &p[j]) == 0; j++)
			costed |= p[j]->has_cost;
		rows += costed;
	}
	if (!rows)
		lo = hi = 0;
	unsigned width = LABEL_W + (hi - lo + 1) * BAR_W + 20, height = TOP + rows * ROW_H + 30;
	if (width < 720)
		width = 720;  /* room for the title */
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		   "font-family=\"monospace\" font-size=\"11\">\n", width, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\">Exit cost per reason: exits per log2 bucket of "
		   "TSC ticks (exit to next entry)</text>\n");
	unsigned row = 0;
	for (size_t i = 0, j; i < ex->n; i = j) {
		uint64_t count[64] = { 0 }, most = 0, n = 0;
		for (j = i; j < ex->n && cmp_reason(&p[i], &p[j]) == 0; j++)
			if (p[j]->has_cost) {
				count[log2_bucket(p[j]->cost)]++;
				n++;
			}
		if (!n)
			continue;
		for (unsigned b = lo; b <= hi; b++)
			most = count[b] > most ? count[b] : most;
		const struct trace_rec *r = &p[i]->r;
		unsigned base = TOP + row * ROW_H + BAR_MAX;
		fprintf(f, "<text x=\"10\" y=\"%u\">L%u %s ", base - 20, r->level, vendor_name(r->vendor));
		svg_text(f, reason_name(r));
		fprintf(f, "</text>\n<text x=\"10\" y=\"%u\" fill=\"#555\">%" PRIu64 " exits</text>\n", base - 6, n);
		for (unsigned b = lo; b <= hi; b++) {
			unsigned h = (unsigned)(count[b] * BAR_MAX / most), x = LABEL_W + (b - lo) * BAR_W;
			if (count[b] && !h)
				h = 1;
			fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#3a6ea5\">"
				   "<title>[2^%u, 2^%u): %" PRIu64 "</title></rect>\n",
				x, base - h, BAR_W - 2, h, b, b + 1, count[b]);
		}
		fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#999\"/>\n", LABEL_W, base,
			LABEL_W + (hi - lo + 1) * BAR_W, base);
		row++;
	}
	for (unsigned b = lo; b <= hi && rows; b++)
		fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"9\">%u</text>\n", LABEL_W + (b - lo) * BAR_W,
			TOP + rows * ROW_H + 10, b);
	if (rows)
		fprintf(f, "<text x=\"%u\" y=\"%u\">log2(ticks)</text>\n", LABEL_W, TOP + rows * ROW_H + 24);
	fprintf(f, "</svg>\n");
	free(p);
}

/* Exits over time: TIMELINE_BINS equal slices of the TSC span of the
 * records, a polyline per level of the exits in each slice. */
#define TIMELINE_BINS 100
static void write_timeline(FILE *f, const struct exits *ex)
{
	enum { LEFT = 70, TOP = 40, W = 800, H = 300, LEVELS = 4 };
	static const char *const color[LEVELS] = { "#3a6ea5", "#d94801", "#31a354", "#756bb1" };
	uint64_t t0 = UINT64_MAX, t1 = 0, bins[LEVELS][TIMELINE_BINS] = { { 0 } }, most = 1;
	for (size_t i = 0; i < ex->n; i++) {
		uint64_t t = ex->row[i].r.tsc;
		t0 = t < t0 ? t : t0;
		t1 = t > t1 ? t : t1;
	}
	uint64_t span = ex->n && t1 > t0 ? t1 - t0 + 1 : 1;
	bool seen[LEVELS] = { false };
	for (size_t i = 0; i < ex->n; i++) {
		unsigned l = ex->row[i].r.level;
		l = l >= 1 && l <= LEVELS ? l - 1 : LEVELS - 1;
		unsigned b = (unsigned)((ex->row[i].r.tsc - t0) * TIMELINE_BINS / span);
		bins[l][b]++;
		seen[l] = true;
		most = bins[l][b] > most ? bins[l][b] : most;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
		   "font-family=\"monospace\" font-size=\"11\">\n", LEFT + W + 120, TOP + H + 50);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\">Exits over time, per level that exited "
		   "(%u slices of %" PRIu64 " TSC ticks)</text>\n", TIMELINE_BINS, (span + TIMELINE_BINS - 1) / TIMELINE_BINS);
	fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#999\"/>\n", LEFT, TOP + H, LEFT + W,
		TOP + H);
	fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#999\"/>\n", LEFT, TOP, LEFT, TOP + H);
	fprintf(f, "<text x=\"10\" y=\"%u\">%" PRIu64 "</text>\n<text x=\"10\" y=\"%u\">0</text>\n", TOP + 10, most,
		TOP + H);
	fprintf(f, "<text x=\"%u\" y=\"%u\">TSC %" PRIu64 " .. %" PRIu64 "</text>\n", LEFT, TOP + H + 20,
		ex->n ? t0 : 0, ex->n ? t1 : 0);
	for (unsigned l = 0; l < LEVELS; l++) {
		if (!seen[l])
			continue;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color[l]);
		for (unsigned b = 0; b < TIMELINE_BINS; b++)
			fprintf(f, "%u,%u ", LEFT + b * W / (TIMELINE_BINS - 1),
				(unsigned)(TOP + H - bins[l][b] * H / most));
		fprintf(f, "\"><title>L%u</title></polyline>\n", l + 1);
		fprintf(f, "<text x=\"%u\" y=\"%u\" fill=\"%s\">L%u exits</text>\n", LEFT + W + 10, TOP + 14 * (l + 1),
			color[l], l + 1);
	}
	fprintf(f, "</svg>\n");
}

static bool write_file(const char *path, void (*writer)(FILE *, const struct exits *), const struct exits *ex)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "nestor-trace: %s: %s\n", path, strerror(errno));
		return false;
	}
	writer(f, ex);
	if (fclose(f) != 0) {
		fprintf(stderr, "nestor-trace: %s: %s\n", path, strerror(errno));
		return false;
	}
	return true;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nestor-trace [--csv FILE] [--svg FILE] [--timeline FILE] [LOG]\n"
		   "  Reads the NTRACE dumps in a Nestor serial log (or stdin) and prints exit\n"
		   "  tables, costs per reason and the nested exit anatomy (docs/trace-format.md).\n"
		   "  Exit status: 0 clean input, 2 damaged or truncated input, 1 usage or file error.\n");
}

int main(int argc, char **argv)
{
	const char *csv = NULL, *svg = NULL, *timeline = NULL, *path = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--csv") || !strcmp(argv[i], "--svg") || !strcmp(argv[i], "--timeline")) &&
		    i + 1 < argc) {
			*(argv[i][2] == 'c' ? &csv : argv[i][2] == 's' ? &svg : &timeline) = argv[i + 1];
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!path && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
			path = argv[i];
		} else {
			usage(stderr);
			return 1;
		}
	}

	FILE *f = stdin;
	const char *name = "<stdin>";
	if (path && strcmp(path, "-") != 0) {
		f = fopen(path, "r");
		if (!f) {
			fprintf(stderr, "nestor-trace: %s: %s\n", path, strerror(errno));
			return 1;
		}
		name = path;
	}
	static struct input in;
	read_input(f, name, &in);
	if (f != stdin)
		fclose(f);

	struct exits ex = { 0 };
	build_exits(&in, &ex);
	if (in.ndumps == 0 && in.dec.errors == 0)
		fprintf(stderr, "nestor-trace: %s: no NTRACE dump found\n", name);
	print_summary(&in, &ex);
	print_exit_table(&ex);
	print_costs(&ex);
	print_anatomy(&ex);

	int status = 0;
	if (csv && !write_file(csv, write_csv, &ex))
		status = 1;
	if (svg && !write_file(svg, write_svg, &ex))
		status = 1;
	if (timeline && !write_file(timeline, write_timeline, &ex))
		status = 1;
	if (in.dec.errors) {
		fprintf(stderr, "nestor-trace: %s: %u problem%s, the first at line %" PRIu64 ", byte %" PRIu64
				": %s; the report covers what was readable\n",
			name, in.dec.errors, in.dec.errors == 1 ? "" : "s", in.dec.first.line, in.dec.first.offset,
			in.dec.first.msg);
		status = 2;
	}
	free(in.rec);
	free(in.dumps);
	free(ex.row);
	return status;
}
