/* Unit tests: kernel/exit_cost.c, the log2 cost histogram. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "kernel/exit_cost.h"

static void test_add_and_stats(void **state)
{
	(void)state;
	struct exit_cost e;
	memset(&e, 0, sizeof(e));
	for (uint64_t t = 1; t <= 100; t++)
		exit_cost_add(&e, t * 10);   /* 10 .. 1000 */
	assert_int_equal(e.count, 100);
	assert_int_equal(e.min, 10);
	assert_int_equal(e.max, 1000);
	assert_int_equal(e.sum / e.count, 505);
	/* 50th value is 500, in bucket [256, 512): bound 511 */
	assert_int_equal(exit_cost_percentile(&e, 50), 511);
	/* 99th is 990 in [512, 1024): bound clamped to max 1000 */
	assert_int_equal(exit_cost_percentile(&e, 99), 1000);
}

static void test_edges(void **state)
{
	(void)state;
	struct exit_cost e, empty;
	memset(&e, 0, sizeof(e));
	memset(&empty, 0, sizeof(empty));
	exit_cost_add(&e, 0);
	exit_cost_add(&e, UINT64_MAX);
	assert_int_equal(e.bucket[0], 1);
	assert_int_equal(e.bucket[EXIT_COST_BUCKETS - 1], 1);
	assert_int_equal(e.min, 0);
	assert_true(e.max == UINT64_MAX);
	assert_int_equal(exit_cost_percentile(&empty, 50), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_stats),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
