/*
 * Tools test: tools/nestor-trace over a synthetic serial log.  The log is
 * made with the kernel's own encoder (kernel/trace.c) from a scripted run
 * whose costs are known, so every figure the tool prints can be checked:
 * the exit table, the cost statistics, the nested exit anatomy, the CSV and
 * SVG outputs, and the report and exit status for a damaged log.
 *
 * The tool's path comes from the Makefile (NESTOR_TRACE_TOOL) or from the
 * environment variable NESTOR_TRACE.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "kernel/trace.h"
#include "kernel/exit_names.h"

#ifndef NESTOR_TRACE_TOOL
#define NESTOR_TRACE_TOOL "build/tools/nestor-trace"
#endif

static char dir[64];

static const char *tool(void)
{
	const char *env = getenv("NESTOR_TRACE");
	return env ? env : NESTOR_TRACE_TOOL;
}

static char *path_of(const char *name)
{
	static char buf[4][160];
	static int next;
	char *p = buf[next++ & 3];
	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[256 * 1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return strdup(buf);
}

/* ---- the synthetic run ---- */

static struct trace_rec store[2][1024];
static struct trace_ring ring[2];
static uint64_t now;

static void ev(int cpu, uint16_t vm, uint16_t vcpu, uint8_t vendor, uint8_t kind, uint8_t level, uint64_t reason,
	       uint64_t at)
{
	struct trace_rec r = { .tsc = at, .reason = reason, .info = 0x1234, .rip = 0x100000 + at % 4096,
			       .vm = vm, .vcpu = vcpu, .level = level, .kind = kind, .vendor = vendor };
	if (trace_on(&ring[cpu]))
		trace_put(&ring[cpu], &r);
}

#define SVM_CPUID 0x72
#define SVM_IOIO  0x7b
#define SVM_MSR   0x7c
#define SVM_VMRUN 0x80
#define VMX_CPUID 10

/*
 * CPU 0 runs VM 0 vCPU 0 on SVM:
 *   10 L1 CPUID exits, 100 ticks each;
 *   3 L1 IOIO exits of 50, 60 and 1000 ticks (median 60, p99 1000);
 *   5 L2 CPUID exits reflected to L1, each: L0 before 300, then L1 takes
 *     two MSR exits (200 each) and a VMRUN (L0 after 400), L1's handling
 *     lasting 2000: anatomy 300 / 2000 / 400, total 2700, 2 other L1 exits.
 * CPU 1 runs VM 1 vCPU 1 on VMX: 4 L1 CPUID exits of 77 ticks.
 */
static void synth_run(void)
{
	for (int c = 0; c < 2; c++) {
		assert_int_equal(trace_ring_init(&ring[c], store[c], 1024, (uint16_t)c), 0);
		trace_ring_enable(&ring[c], true);
	}
	now = 1000;
	for (int i = 0; i < 10; i++, now += 1000) {
		ev(0, 0, 0, TRACE_SVM, TRACE_EXIT, 1, SVM_CPUID, now);
		ev(0, 0, 0, TRACE_SVM, TRACE_ENTRY, 1, 0, now + 100);
	}
	static const uint64_t io_cost[] = { 1000, 50, 60 };
	for (int i = 0; i < 3; i++, now += 2000) {
		ev(0, 0, 0, TRACE_SVM, TRACE_EXIT, 1, SVM_IOIO, now);
		ev(0, 0, 0, TRACE_SVM, TRACE_ENTRY, 1, 0, now + io_cost[i]);
	}
	for (int i = 0; i < 5; i++, now += 5000) {
		ev(0, 0, 0, TRACE_SVM, TRACE_EXIT, 2, SVM_CPUID, now);          /* L2 -> L0 */
		ev(0, 0, 0, TRACE_SVM, TRACE_REFLECT, 1, SVM_CPUID, now + 300); /* L0 -> L1 */
		ev(0, 0, 0, TRACE_SVM, TRACE_EXIT, 1, SVM_MSR, now + 1000);     /* L1's own exits */
		ev(0, 0, 0, TRACE_SVM, TRACE_ENTRY, 1, 0, now + 1200);
		ev(0, 0, 0, TRACE_SVM, TRACE_EXIT, 1, SVM_MSR, now + 1500);
		ev(0, 0, 0, TRACE_SVM, TRACE_ENTRY, 1, 0, now + 1700);
		ev(0, 0, 0, TRACE_SVM, TRACE_VMRUN, 1, SVM_VMRUN, now + 2300);  /* L1 -> L0 */
		ev(0, 0, 0, TRACE_SVM, TRACE_ENTRY, 2, 0, now + 2700);          /* L0 -> L2 */
	}
	for (int i = 0; i < 4; i++) {
		ev(1, 1, 1, TRACE_VMX, TRACE_EXIT, 1, VMX_CPUID, 500 + 1000 * (uint64_t)i);
		ev(1, 1, 1, TRACE_VMX, TRACE_ENTRY, 1, 0, 577 + 1000 * (uint64_t)i);
	}
}

static void put_line(const char *line, void *ctx)
{
	fprintf(ctx, "%s\n", line);
}

/* The serial log: L0's chatter, guest output, then both rings' dumps. */
static void write_log(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "Nestor 0.1: booting\n[cpu0 I] vm 0: l1 started\n[l1] PASS: cpuid\n");
	trace_dump(&ring[0], put_line, f);
	fprintf(f, "[cpu1 I] vm 1 ended\n");
	trace_dump(&ring[1], put_line, f);
	fprintf(f, "[cpu0 I] RESULT PASS\n");
	fclose(f);
}

static int run_tool(const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s > %s 2> %s", tool(), args, path_of("out.txt"), path_of("err.txt"));
	int st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Is there a line whose words are exactly these words (in order)? */
static bool has_row(const char *text, const char *words)
{
	char want[256];
	const char *p = text;
	snprintf(want, sizeof(want), " %s ", words);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char norm[512];
		size_t n = 0;
		norm[n++] = ' ';
		for (size_t i = 0; i < len && n < sizeof(norm) - 2; i++)
			if (p[i] != ' ' || norm[n - 1] != ' ')
				norm[n++] = p[i];
		if (norm[n - 1] != ' ')
			norm[n++] = ' ';
		norm[n] = 0;
		if (strcmp(norm, want) == 0)
			return true;
		p += len + (nl != NULL);
	}
	return false;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nestor-trace-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	synth_run();
	write_log(path_of("serial.log"));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_tables(void **state)
{
	(void)state;
	char args[512];
	snprintf(args, sizeof(args), "--csv %s --svg %s --timeline %s %s", path_of("exits.csv"), path_of("cost.svg"),
		 path_of("timeline.svg"), path_of("serial.log"));
	assert_int_equal(run_tool(args), 0);
	char *out = slurp(path_of("out.txt"));
	char *err = slurp(path_of("err.txt"));
	assert_string_equal(err, "");
	assert_non_null(strstr(out, "2 dumps, 74 records, 37 exits"));

	/* Exit table: vm vcpu level vendor reason name count */
	assert_true(has_row(out, "0 0 L1 svm 0x72 CPUID 10"));
	assert_true(has_row(out, "0 0 L1 svm 0x7b IOIO 3"));
	assert_true(has_row(out, "0 0 L1 svm 0x7c MSR 10"));
	assert_true(has_row(out, "0 0 L1 svm 0x80 VMRUN 5"));
	assert_true(has_row(out, "0 0 L2 svm 0x72 CPUID 5"));
	assert_true(has_row(out, "1 1 L1 vmx 0xa CPUID 4"));

	/* Costs: level vendor reason name count min median p99 max */
	assert_true(has_row(out, "L1 svm 0x72 CPUID 10 100 100 100 100"));
	assert_true(has_row(out, "L1 svm 0x7b IOIO 3 50 60 1000 1000"));
	assert_true(has_row(out, "L1 svm 0x7c MSR 10 200 200 200 200"));
	assert_true(has_row(out, "L1 svm 0x80 VMRUN 5 400 400 400 400"));
	assert_true(has_row(out, "L2 svm 0x72 CPUID 5 300 300 300 300"));
	assert_true(has_row(out, "L1 vmx 0xa CPUID 4 77 77 77 77"));

	/* Anatomy: ... count L0-before L1-handling L0-after total L1-exits */
	assert_true(has_row(out, "L2 svm 0x72 CPUID 5 300 2000 400 2700 2.00"));
	free(out);
	free(err);

	char *csv = slurp(path_of("exits.csv"));
	unsigned rows = 0;
	for (char *p = csv; *p; p++)
		rows += *p == '\n';
	assert_int_equal(rows, 1 + 37);
	assert_non_null(strstr(csv, "vm,vcpu,cpu,level,vendor,reason,name,"));
	assert_non_null(strstr(csv, ",2,svm,0x72,CPUID,"));
	assert_non_null(strstr(csv, ",300,reflect,300,2000,400,2\n"));
	free(csv);

	char *svg = slurp(path_of("cost.svg"));
	assert_true(strncmp(svg, "<svg ", 5) == 0);
	assert_non_null(strstr(svg, "L2 svm CPUID"));
	assert_non_null(strstr(svg, "</svg>\n"));
	free(svg);

	/* Exits over time: a polyline for each level that exited (L1, L2),
	 * none for a level that did not. */
	char *tl = slurp(path_of("timeline.svg"));
	assert_true(strncmp(tl, "<svg ", 5) == 0);
	assert_non_null(strstr(tl, "<title>L1</title>"));
	assert_non_null(strstr(tl, "<title>L2</title>"));
	assert_null(strstr(tl, "<title>L3</title>"));
	assert_non_null(strstr(tl, "</svg>\n"));
	free(tl);
}

/* A damaged chunk line: named by line and byte offset, the exits before it
 * are still reported, exit status 2. */
static void test_damaged_log(void **state)
{
	(void)state;
	char *log = slurp(path_of("serial.log"));
	/* Line 6 is cpu 0's chunk 1: the 3 lines of chatter, begin, chunk 0. */
	char *p = log;
	for (int i = 0; i < 5; i++)
		p = strchr(p, '\n') + 1;
	size_t offset = (size_t)(p - log);
	p[30] = p[30] == 'Q' ? 'R' : 'Q';
	FILE *f = fopen(path_of("bad.log"), "w");
	assert_non_null(f);
	fputs(log, f);
	fclose(f);
	free(log);

	char args[256];
	snprintf(args, sizeof(args), "%s", path_of("bad.log"));
	assert_int_equal(run_tool(args), 2);
	char *err = slurp(path_of("err.txt"));
	char want[128];
	snprintf(want, sizeof(want), "bad.log:6: byte %zu: checksum mismatch", offset);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "1 problem, the first at line 6"));
	char *out = slurp(path_of("out.txt"));
	/* Chunk 0 (4 records: 2 exits) of cpu 0, and all of cpu 1. */
	assert_non_null(strstr(out, "2 dumps, 12 records, 6 exits"));
	assert_true(has_row(out, "0 0 L1 svm 0x72 CPUID 2"));
	assert_true(has_row(out, "1 1 L1 vmx 0xa CPUID 4"));
	assert_non_null(strstr(out, "INCOMPLETE"));
	free(err);
	free(out);

	/* The same log cut short inside cpu 0's dump. */
	log = slurp(path_of("serial.log"));
	log[offset + 100] = 0;
	f = fopen(path_of("cut.log"), "w");
	assert_non_null(f);
	fputs(log, f);
	fclose(f);
	free(log);
	snprintf(args, sizeof(args), "< %s", path_of("cut.log"));
	assert_int_equal(run_tool(args), 2);
	err = slurp(path_of("err.txt"));
	assert_non_null(strstr(err, "<stdin>:6: byte"));
	free(err);
}

/* The reason names the tool prints (kernel/exit_names.h). */
static void test_reason_names(void **state)
{
	(void)state;
	char buf[EXIT_NAME_MAX];
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x72, buf, sizeof(buf)), "CPUID");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x03, buf, sizeof(buf)), "CR3_READ");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x18, buf, sizeof(buf)), "CR8_WRITE");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x37, buf, sizeof(buf)), "DR7_WRITE");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x4e, buf, sizeof(buf)), "EXCP14");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x93, buf, sizeof(buf)), "CR3_WRITE_TRAP");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x400, buf, sizeof(buf)), "NPF");
	assert_string_equal(exit_reason_name(TRACE_SVM, (uint64_t)-1, buf, sizeof(buf)), "INVALID");
	assert_string_equal(exit_reason_name(TRACE_SVM, 0x3ff, buf, sizeof(buf)), "?");
	assert_string_equal(exit_reason_name(TRACE_VMX, 48, buf, sizeof(buf)), "EPT violation");
	assert_string_equal(exit_reason_name(TRACE_VMX, 0x80000021, buf, sizeof(buf)),
			    "VM-entry failure: invalid guest state");
	assert_string_equal(exit_reason_name(TRACE_VMX, 0x8000000a, buf, sizeof(buf)), "VM-entry failure: CPUID");
	assert_string_equal(exit_reason_name(TRACE_VMX, 1ull << 40, buf, sizeof(buf)), "?");
	assert_string_equal(exit_reason_name(0, 0x72, buf, sizeof(buf)), "?");
	/* Each code is named once. */
	size_t n = sizeof(svm_exit_names) / sizeof(svm_exit_names[0]);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_true(svm_exit_names[i].code != svm_exit_names[j].code);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_damaged_log),
	};
	return cmocka_run_group_tests_name("trace_tool", tests, setup, teardown);
}
