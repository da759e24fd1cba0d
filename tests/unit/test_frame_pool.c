/* Unit tests: mm/frame_pool.c, the physical frame bitmap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "mm/frame_pool.h"

#define MiB (1ull << 20)
static uint64_t bitmap[(64 * MiB / PAGE_SIZE) / 64];

static void init_pool(struct frame_pool *p)
{
	/* 1 MiB-16 MiB usable, 16-17 MiB reserved, 17-64 MiB usable */
	struct mem_region map[] = {
		{ 1 * MiB, 15 * MiB, MEM_USABLE, 0 },
		{ 16 * MiB, 1 * MiB, MEM_RESERVED, 0 },
		{ 17 * MiB, 47 * MiB, MEM_USABLE, 0 },
	};
	frame_pool_init(p, bitmap, 64 * MiB, map, 3);
}

static void test_init_counts_only_usable(void **state)
{
	(void)state;
	struct frame_pool p;
	init_pool(&p);
	assert_int_equal(p.free, (15 + 47) * MiB / PAGE_SIZE);
	assert_int_equal(frame_pool_bitmap_bytes(64 * MiB), sizeof(bitmap));
}

static void test_alloc_never_reserved_or_zero(void **state)
{
	(void)state;
	struct frame_pool p;
	init_pool(&p);
	uint64_t n = p.free;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t a = frame_pool_alloc(&p, 1, PAGE_SIZE, 0);
		assert_true(a >= 1 * MiB);
		assert_false(a >= 16 * MiB && a < 17 * MiB);
	}
	assert_int_equal(p.free, 0);
	assert_int_equal(frame_pool_alloc(&p, 1, PAGE_SIZE, 0), 0);
}

static void test_alloc_aligned_contiguous(void **state)
{
	(void)state;
	struct frame_pool p;
	init_pool(&p);
	assert_int_not_equal(frame_pool_alloc(&p, 3, PAGE_SIZE, 0), 0); /* break alignment */
	uint64_t a = frame_pool_alloc(&p, 512, 2 * MiB, 0);
	assert_int_not_equal(a, 0);
	assert_int_equal(a % (2 * MiB), 0);
	/* the run must not cross the reserved MiB */
	assert_true(a + 2 * MiB <= 16 * MiB || a >= 17 * MiB);
	/* 14 MiB contiguous only fits in the upper region */
	uint64_t big = frame_pool_alloc(&p, 14 * MiB / PAGE_SIZE, PAGE_SIZE, 0);
	assert_true(big >= 17 * MiB);
}

static void test_max_addr(void **state)
{
	(void)state;
	struct frame_pool p;
	init_pool(&p);
	for (int i = 0; i < 100; i++) {
		uint64_t a = frame_pool_alloc(&p, 1, PAGE_SIZE, 4 * MiB);
		assert_true(a && a + PAGE_SIZE <= 4 * MiB);
	}
	assert_int_equal(frame_pool_alloc(&p, 4 * MiB / PAGE_SIZE, PAGE_SIZE, 4 * MiB), 0);
}

static void test_free_and_double_free(void **state)
{
	(void)state;
	struct frame_pool p;
	init_pool(&p);
	uint64_t before = p.free;
	uint64_t a = frame_pool_alloc(&p, 8, PAGE_SIZE, 0);
	assert_int_equal(p.free, before - 8);
	assert_int_equal(frame_pool_free(&p, a, 8), 0);
	assert_int_equal(p.free, before);
	assert_int_equal(frame_pool_free(&p, a, 8), -1);      /* double free detected */
	assert_int_equal(p.free, before);
	assert_int_equal(frame_pool_free(&p, 0, 1), -1);      /* frame 0 */
	assert_int_equal(frame_pool_free(&p, 63 * MiB, 1024), -1); /* past the end */
}

static void test_reserve(void **state)
{
	(void)state;
	struct frame_pool p;
	init_pool(&p);
	uint64_t before = p.free;
	frame_pool_reserve(&p, 2 * MiB + 100, 5000); /* touches two frames */
	assert_int_equal(p.free, before - 2);
	frame_pool_reserve(&p, 2 * MiB, PAGE_SIZE);  /* already reserved: no change */
	assert_int_equal(p.free, before - 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_counts_only_usable),
		cmocka_unit_test(test_alloc_never_reserved_or_zero),
		cmocka_unit_test(test_alloc_aligned_contiguous),
		cmocka_unit_test(test_max_addr),
		cmocka_unit_test(test_free_and_double_free),
		cmocka_unit_test(test_reserve),
	};
	return cmocka_run_group_tests_name("frame_pool", tests, NULL, NULL);
}
