/* Unit tests: drivers/platform/vpit.c, the i8254 as Linux's TSC
 * calibration drives it (quick_pit_calibrate, pit_calibrate_tsc). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "drivers/platform/vpit.h"

/* quick_pit_calibrate: gate on, channel 2 mode 0 LSB+MSB, 0xffff, then
 * the MSB read (after the LSB) goes down by one every 256 ticks. */
static void test_channel2_mode0_counts_down(void **state)
{
	(void)state;
	struct vpit p;
	vpit_reset(&p);
	vpit_write(&p, 0x61, 0x01, 0);
	vpit_write(&p, 0x43, 0xb0, 0);          /* ch 2, LSB then MSB, mode 0 */
	vpit_write(&p, 0x42, 0xff, 0);
	vpit_write(&p, 0x42, 0xff, 100);        /* loaded at tick 100 */
	vpit_read(&p, 0x42, 100);
	assert_int_equal(vpit_read(&p, 0x42, 100), 0xff);
	vpit_read(&p, 0x42, 100 + 256 * 3 + 1);
	assert_int_equal(vpit_read(&p, 0x42, 100 + 256 * 3 + 1), 0xfc);
	/* OUT2 (port 0x61 bit 5) low until terminal count, then high */
	assert_int_equal(vpit_read(&p, 0x61, 100 + 65534) & 0x20, 0);
	assert_int_equal(vpit_read(&p, 0x61, 100 + 65535) & 0x20, 0x20);
	assert_int_equal(vpit_read(&p, 0x61, 5) & 0x01, 0x01);   /* the gate as written */
}

/* The counter latch command freezes the value until both bytes are read. */
static void test_latch(void **state)
{
	(void)state;
	struct vpit p;
	vpit_reset(&p);
	vpit_write(&p, 0x43, 0x34, 0);          /* ch 0, LSB+MSB, mode 2 */
	vpit_write(&p, 0x40, 0x00, 0);
	vpit_write(&p, 0x40, 0x10, 0);          /* 0x1000 */
	vpit_write(&p, 0x43, 0x00, 0x100);      /* latch ch 0 at 0x1000 - 0x100 */
	assert_int_equal(vpit_read(&p, 0x40, 0x800), 0x00);
	assert_int_equal(vpit_read(&p, 0x40, 0x900), 0x0f);
	/* unlatched: counting on, periodic */
	vpit_read(&p, 0x40, 0x1000 + 0x10);
	assert_int_equal(vpit_read(&p, 0x40, 0x1000 + 0x10), 0x0f);
}

/* Mode 0 with an LSB-only access and a reload of 0 (65536). */
static void test_access_modes(void **state)
{
	(void)state;
	struct vpit p;
	vpit_reset(&p);
	vpit_write(&p, 0x43, 0x90, 0);          /* ch 2, LSB only, mode 0 */
	vpit_write(&p, 0x42, 0x20, 10);
	assert_int_equal(vpit_read(&p, 0x42, 10 + 5), 0x1b);
	assert_int_equal(vpit_read(&p, 0x61, 10 + 0x20) & 0x20, 0x20);
	vpit_write(&p, 0x43, 0xa0, 50);         /* MSB only */
	vpit_write(&p, 0x42, 0x00, 50);         /* reload 0: 65536 */
	assert_int_equal(vpit_read(&p, 0x42, 50 + 256), 0xff);
	assert_int_equal(vpit_read(&p, 0x43, 0), 0xff);      /* write-only */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel2_mode0_counts_down),
		cmocka_unit_test(test_latch),
		cmocka_unit_test(test_access_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
