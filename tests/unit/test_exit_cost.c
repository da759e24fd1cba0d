/* Unit tests: kernel/exit_cost.c, per-kind exit cost histograms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "kernel/exit_cost.h"

static void test_record_and_stats(void **state)
{
	(void)state;
	struct exit_costs c;
	memset(&c, 0, sizeof(c));
	for (uint64_t t = 1; t <= 100; t++)
		exit_cost_record(&c, EXIT_CPUID, t * 10);   /* 10 .. 1000 */
	const struct exit_cost *e = &c.by_kind[EXIT_CPUID];
	assert_int_equal(e->count, 100);
	assert_int_equal(e->min, 10);
	assert_int_equal(e->max, 1000);
	assert_int_equal(e->sum / e->count, 505);
	/* 50th value is 500, in bucket [256, 512): bound 511 */
	assert_int_equal(exit_cost_percentile(e, 50), 511);
	/* 99th is 990 in [512, 1024): bound clamped to max 1000 */
	assert_int_equal(exit_cost_percentile(e, 99), 1000);
	assert_int_equal(c.by_kind[EXIT_HLT].count, 0);
}

static void test_edges(void **state)
{
	(void)state;
	struct exit_costs c;
	memset(&c, 0, sizeof(c));
	exit_cost_record(&c, EXIT_IO, 0);
	exit_cost_record(&c, EXIT_IO, UINT64_MAX);
	exit_cost_record(&c, EXIT_KIND_COUNT + 5, 7); /* ignored, no overflow */
	assert_int_equal(c.by_kind[EXIT_IO].bucket[0], 1);
	assert_int_equal(c.by_kind[EXIT_IO].bucket[EXIT_COST_BUCKETS - 1], 1);
	assert_int_equal(exit_cost_percentile(&c.by_kind[EXIT_HLT], 50), 0);
}

static void test_format(void **state)
{
	(void)state;
	static const char *const names[] = {
#define X(n) #n,
		EXIT_KIND_LIST(X)
#undef X
	};
	struct exit_costs c;
	memset(&c, 0, sizeof(c));
	exit_cost_record(&c, EXIT_CPUID, 300);
	exit_cost_record(&c, EXIT_IO, 40);
	char buf[512];
	exit_cost_format(&c, names, buf, sizeof(buf));
	assert_string_equal(buf, "CPUID count=1 mean=300 min=300 p50<=300 p99<=300 max=300\n"
				 "IO count=1 mean=40 min=40 p50<=40 p99<=40 max=40\n");
	char tiny[20];
	exit_cost_format(&c, names, tiny, sizeof(tiny));  /* truncated, terminated */
	assert_true(strlen(tiny) < sizeof(tiny));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_and_stats),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests_name("exit_cost", tests, NULL, NULL);
}
