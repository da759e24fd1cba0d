/* Unit tests: kernel/exit_reasons.c, exits by raw reason and the split of
 * reflected nested exits into L0-before / L1 / L0-after. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernel/exit_reasons.h"

static struct exit_reasons *fresh(void)
{
	struct exit_reasons *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	return r;
}

/* Exits that L0 keeps: each priced from its exit to the next entry, per
 * level and code; nothing counted as reflected. */
static void test_kept_exits_priced_per_code(void **state)
{
	(void)state;
	struct exit_reasons *r = fresh();
	uint64_t t = 1000;
	exit_reasons_on_entry(r, 1, t);          /* the first entry prices nothing */
	for (int i = 0; i < 10; i++) {
		exit_reasons_on_exit(r, 1, 0x72, t += 50);   /* CPUID */
		exit_reasons_on_entry(r, 1, t += 300);
	}
	exit_reasons_on_exit(r, 1, 0x7b, t += 50);           /* IOIO */
	exit_reasons_on_entry(r, 1, t += 900);
	const struct exit_reason_stat *cpuid = exit_reasons_find(r, 1, 0x72);
	assert_non_null(cpuid);
	assert_int_equal(cpuid->count, 10);
	assert_int_equal(cpuid->cost.count, 10);
	assert_int_equal(cpuid->cost.min, 300);
	assert_int_equal(cpuid->cost.max, 300);
	assert_int_equal(cpuid->reflected, 0);
	assert_int_equal(exit_reasons_find(r, 1, 0x7b)->cost.sum, 900);
	assert_null(exit_reasons_find(r, 2, 0x72));  /* levels are apart */
	free(r);
}

/* L2 VMMCALL reflected to L1, which handles it with one extra exit (a
 * CPUID L0 answers) and resumes L2 with VMRUN. */
static void test_reflected_exit_split(void **state)
{
	(void)state;
	struct exit_reasons *r = fresh();
	for (int trip = 0; trip < 3; trip++) {
		uint64_t t = 10000 * (uint64_t)(trip + 1);
		exit_reasons_on_entry(r, 2, t);
		exit_reasons_on_exit(r, 2, 0x81, t + 100);      /* L2 VMMCALL */
		exit_reasons_on_entry(r, 1, t + 400);           /* reflected: before = 300 */
		exit_reasons_on_exit(r, 1, 0x72, t + 1400);     /* L1's CPUID */
		exit_reasons_on_entry(r, 1, t + 1600);
		exit_reasons_on_exit(r, 1, 0x80, t + 2400);     /* L1's VMRUN */
		exit_reasons_on_entry(r, 2, t + 3100);          /* after = 700 */
	}
	const struct exit_reason_stat *s = exit_reasons_find(r, 2, 0x81);
	assert_non_null(s);
	assert_int_equal(s->count, 3);
	assert_int_equal(s->reflected, 3);
	assert_int_equal(s->l1_exits, 6);                 /* 2 per trip */
	assert_int_equal(s->before.min, 300);
	assert_int_equal(s->before.max, 300);
	assert_int_equal(s->l1.sum / s->l1.count, 2000);  /* L1 entry to its VMRUN exit */
	assert_int_equal(s->after.sum / s->after.count, 700);
	/* L1's own exits are priced as L1 exits, not as reflections */
	assert_int_equal(exit_reasons_find(r, 1, 0x80)->cost.sum, 3 * 700);
	assert_int_equal(exit_reasons_find(r, 1, 0x80)->reflected, 0);
	char buf[2048];
	exit_reasons_format(r, 2, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "?(0x81) count=3 cost: mean=300"));
	assert_non_null(strstr(buf, "reflected=3 l1_exits/trip=2.00 before: mean=300"));
	assert_non_null(strstr(buf, "| l1: mean=2000"));
	assert_non_null(strstr(buf, "| after: mean=700"));
	free(r);
}

/* An L2 exit L0 keeps while no reflection is open is not a reflection;
 * a round trip that ends without L1 exiting (impossible on hardware, but
 * the counters must not divide by it) is not counted. */
static void test_kept_l2_exit_not_reflected(void **state)
{
	(void)state;
	struct exit_reasons *r = fresh();
	exit_reasons_on_entry(r, 2, 100);
	exit_reasons_on_exit(r, 2, 0x7b, 200);
	exit_reasons_on_entry(r, 2, 500);
	const struct exit_reason_stat *s = exit_reasons_find(r, 2, 0x7b);
	assert_int_equal(s->cost.sum, 300);
	assert_int_equal(s->reflected, 0);
	assert_false(r->watch.open);
	free(r);
}

/* Deeper levels share the last row; a full table drops and counts. */
static void test_levels_clamp_and_table_full(void **state)
{
	(void)state;
	struct exit_reasons *r = fresh();
	exit_reasons_on_exit(r, 5, 0x72, 10);
	assert_non_null(exit_reasons_find(r, EXIT_REASON_LEVELS, 0x72));
	for (uint32_t c = 0; c < EXIT_REASON_SLOTS + 4; c++)
		exit_reasons_on_exit(r, 1, 0x1000 + c, 20);
	assert_int_equal(r->level[0].dropped, 4);
	char buf[8192];
	size_t n = exit_reasons_format(r, 1, NULL, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "(4 exits of further codes not kept)"));
	char tiny[40];
	exit_reasons_format(r, 1, NULL, tiny, sizeof(tiny));   /* truncated, terminated */
	assert_true(strlen(tiny) < sizeof(tiny));
	free(r);
}

/* A TSC that goes backwards (another CPU) prices 0, never 2^64. */
static void test_tsc_backwards(void **state)
{
	(void)state;
	struct exit_reasons *r = fresh();
	exit_reasons_on_exit(r, 1, 0x72, 1000);
	exit_reasons_on_entry(r, 1, 900);
	assert_int_equal(exit_reasons_find(r, 1, 0x72)->cost.max, 0);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_exits_priced_per_code),
		cmocka_unit_test(test_reflected_exit_split),
		cmocka_unit_test(test_kept_l2_exit_not_reflected),
		cmocka_unit_test(test_levels_clamp_and_table_full),
		cmocka_unit_test(test_tsc_backwards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
