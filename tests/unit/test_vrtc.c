/* Unit tests: drivers/platform/vrtc.c, the MC146818 RTC/CMOS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "drivers/platform/vrtc.h"

static uint8_t reg(struct vrtc *r, uint8_t i, uint64_t secs)
{
	vrtc_write(r, 0x70, i);
	return vrtc_read(r, 0x71, secs);
}

static void test_civil(void **state)
{
	(void)state;
	unsigned y, mo, d, h, mi, s, wd;
	vrtc_civil(0, &y, &mo, &d, &h, &mi, &s, &wd);
	assert_true(y == 1970 && mo == 1 && d == 1 && h == 0 && wd == 5);   /* a Thursday */
	vrtc_civil(951782400, &y, &mo, &d, &h, &mi, &s, &wd);              /* 2000-02-29 */
	assert_true(y == 2000 && mo == 2 && d == 29);
	vrtc_civil(1796428799, &y, &mo, &d, &h, &mi, &s, &wd);             /* 2026-12-04 23:59:59 */
	assert_true(y == 2026 && mo == 12 && d == 4 && h == 23 && mi == 59 && s == 59 && wd == 6);
}

/* What Linux reads: UIP clear, BCD 24-hour, the date, and time moving on. */
static void test_registers(void **state)
{
	(void)state;
	struct vrtc r;
	vrtc_reset(&r, 1796428799);                /* 2026-12-04 23:59:59 */
	assert_int_equal(reg(&r, 0x0a, 0) & 0x80, 0);
	assert_int_equal(reg(&r, 0x0b, 0), 0x02);
	assert_int_equal(reg(&r, 0x0d, 0), 0x80);
	assert_int_equal(reg(&r, 0x00, 0), 0x59);
	assert_int_equal(reg(&r, 0x04, 0), 0x23);
	assert_int_equal(reg(&r, 0x07, 0), 0x04);
	assert_int_equal(reg(&r, 0x08, 0), 0x12);
	assert_int_equal(reg(&r, 0x09, 0), 0x26);
	assert_int_equal(reg(&r, 0x32, 0), 0x20);
	/* one second later: the next day */
	assert_int_equal(reg(&r, 0x07, 1), 0x05);
	assert_int_equal(reg(&r, 0x00, 1), 0x00);
	/* NMI-mask bit in the index is ignored; the clock is read-only; CMOS RAM keeps bytes */
	assert_int_equal(reg(&r, 0x80 | 0x09, 0), 0x26);
	vrtc_write(&r, 0x70, 0x00);
	vrtc_write(&r, 0x71, 0x42);
	assert_int_equal(vrtc_read(&r, 0x71, 0), 0x59);
	vrtc_write(&r, 0x70, 0x40);
	vrtc_write(&r, 0x71, 0x42);
	assert_int_equal(vrtc_read(&r, 0x71, 0), 0x42);
	assert_int_equal(vrtc_read(&r, 0x70, 0), 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil),
		cmocka_unit_test(test_registers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
