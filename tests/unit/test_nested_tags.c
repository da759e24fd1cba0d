/* Unit tests: kernel/nested_tags.c, tag12 -> tag02 (VPID02/ASID02). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "kernel/nested_tags.h"

static void test_same_tag12_same_tag02(void **state)
{
	(void)state;
	struct nested_tags t;
	nested_tags_init(&t, 0x100);
	bool fresh;
	uint32_t a = nested_tags_get(&t, 1, &fresh);
	assert_true(fresh);                        /* first use: flush what it held */
	assert_int_equal(nested_tags_get(&t, 1, &fresh), a);
	assert_false(fresh);
	uint32_t b = nested_tags_get(&t, 2, &fresh);
	assert_true(fresh);
	assert_int_not_equal(a, b);
	assert_true(a >= 0x100 && a < 0x100 + NESTED_TAG_SLOTS);
	assert_int_equal(nested_tags_find(&t, 2), b);
	assert_int_equal(nested_tags_find(&t, 3), 0);   /* never seen: nothing cached */
}

/* More tag12s than slots: the least recently used goes, and comes back
 * fresh (its old mappings must be flushed). */
static void test_lru_eviction(void **state)
{
	(void)state;
	struct nested_tags t;
	nested_tags_init(&t, 0x200);
	bool fresh;
	uint32_t tag02[NESTED_TAG_SLOTS];
	for (uint32_t k = 0; k < NESTED_TAG_SLOTS; k++)
		tag02[k] = nested_tags_get(&t, 10 + k, &fresh);
	nested_tags_get(&t, 10, &fresh);                 /* 10 used again: 11 is the oldest */
	uint32_t n = nested_tags_get(&t, 99, &fresh);
	assert_true(fresh);
	assert_int_equal(n, tag02[1]);                   /* took 11's slot */
	assert_int_equal(nested_tags_find(&t, 11), 0);
	assert_int_equal(nested_tags_find(&t, 10), tag02[0]);
	unsigned live = 0;
	for (unsigned i = 0; i < NESTED_TAG_SLOTS; i++)
		live += nested_tags_slot(&t, i) != 0;
	assert_int_equal(live, NESTED_TAG_SLOTS);
	assert_int_equal(nested_tags_slot(&t, NESTED_TAG_SLOTS), 0);
}

/* Two vCPUs never share a tag02. */
static void test_ranges_apart(void **state)
{
	(void)state;
	assert_int_equal(nested_tags_base(0x100, 1) - nested_tags_base(0x100, 0), NESTED_TAG_SLOTS);
}

/* Per-CPU generations: a lease lasts until the range runs out; then a
 * new generation, a full flush, and every context leases again. */
static void test_tag_pool_generations(void **state)
{
	(void)state;
	struct tag_pool p;
	tag_pool_init(&p, 9, 11);                 /* three ASIDs */
	struct tag_lease a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	bool flush;
	assert_int_equal(tag_pool_lease(&p, &a, &flush), 9);
	assert_false(flush);
	assert_int_equal(tag_pool_lease(&p, &b, &flush), 10);
	assert_int_equal(tag_pool_lease(&p, &a, &flush), 9);   /* kept */
	assert_false(flush);
	assert_int_equal(tag_pool_lease(&p, &c, &flush), 11);
	assert_false(flush);
	/* a fourth context: out of tags, a new generation, flush all */
	assert_int_equal(tag_pool_lease(&p, &d, &flush), 9);
	assert_true(flush);
	/* the old leases are void: a leases anew, no second flush */
	assert_int_equal(tag_pool_lease(&p, &a, &flush), 10);
	assert_false(flush);
	/* dropping a lease gives a tag unused since the flush */
	tag_lease_drop(&a);
	assert_int_equal(tag_pool_lease(&p, &a, &flush), 11);
	assert_false(flush);
}

static void test_tag_pool_empty(void **state)
{
	(void)state;
	struct tag_pool p;
	tag_pool_init(&p, 16, 15);                /* a CPU with no ASIDs to spare */
	struct tag_lease a = { 0 };
	bool flush = true;
	assert_int_equal(tag_pool_lease(&p, &a, &flush), 0);
	assert_false(flush);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_tag12_same_tag02),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_ranges_apart),
		cmocka_unit_test(test_tag_pool_generations),
		cmocka_unit_test(test_tag_pool_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
