/*
 * Unit tests: drivers/virtio/virtio_console.c -- one output port: the
 * bytes of transmit chains reach the output hook in order, however the
 * driver split them; chains come back with length 0; a device-writable
 * buffer in the transmitq is logged and left untouched.
 *
 * Guest RAM [0x100000, 0x140000): receive ring at +0, transmit ring at
 * +0x4000, tables at +0x8000, text from +0x10000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virtio/virtio_console.h"
#include "tests/unit/virtio_test_drv.h"

#define HPA(p)    ((uint64_t)(uintptr_t)(p))
#define RAM_GPA   0x100000ull
#define RAM_SIZE  0x40000ull
#define RX_RING   (RAM_GPA + 0x0000)
#define TX_RING   (RAM_GPA + 0x4000)
#define TABLES    (RAM_GPA + 0x8000)
#define TEXT      (RAM_GPA + 0x10000)
#define F(bit)    (1ull << (bit))

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct gmem g;
static struct virtio_console cons;
static struct tdrv rx, tx;
static char out[16384];
static size_t out_len;
static unsigned log_lines;
static const char *last_log;

static void on_output(void *ctx, const char *bytes, size_t len)
{
	(void)ctx;
	assert_true(out_len + len <= sizeof(out));
	memcpy(out + out_len, bytes, len);
	out_len += len;
}

static void on_log(void *ctx, bool fatal, const char *what, uint64_t value)
{
	(void)ctx;
	(void)fatal;
	(void)value;
	log_lines++;
	last_log = what;
}

static uint8_t *host(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static void bring_up(bool packed)
{
	struct virtio_dev *vd = &cons.vd;
	uint64_t f = vd->device_features & ~F(VIRTIO_F_EVENT_IDX) & ~(packed ? 0 : F(VIRTIO_F_RING_PACKED));

	virtio_dev_set_status(vd, 0);
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_driver_features(vd, 0, (uint32_t)f);
	virtio_dev_set_driver_features(vd, 1, (uint32_t)(f >> 32));
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_true(vd->status & VIRTIO_STATUS_FEATURES_OK);
	tdrv_init(&rx, ram, RAM_GPA, packed, false, 8, RX_RING, TABLES);
	tdrv_init(&tx, ram, RAM_GPA, packed, false, 8, TX_RING, TABLES);
	tdrv_configure(&rx, &vd->vq[VIRTIO_CONSOLE_RXQ]);
	tdrv_configure(&tx, &vd->vq[VIRTIO_CONSOLE_TXQ]);
	virtio_dev_queue_ready(vd, VIRTIO_CONSOLE_RXQ, true);
	virtio_dev_queue_ready(vd, VIRTIO_CONSOLE_TXQ, true);
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_true(virtio_dev_live(vd));
}

static int setup(void **state)
{
	struct virtio_console_params p = { .mem = &g, .output = on_output, .ring_features = VIRTIO_RING_FEATURES };

	(void)state;
	memset(ram, 0, sizeof(ram));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, RAM_GPA, RAM_SIZE, GMEM_RAM, HPA(ram), 0), 0);
	assert_int_equal(virtio_console_init(&cons, &p), 0);
	cons.vd.log = on_log;
	out_len = 0;
	log_lines = 0;
	last_log = NULL;
	return 0;
}

static uint32_t transmit(const struct tbuf *b, unsigned n, bool indirect)
{
	uint16_t id, uid;
	uint32_t len = 0xdeadbeef;

	id = tdrv_add(&tx, b, n, indirect);
	if (tdrv_kick_needed(&tx))
		virtio_dev_notify(&cons.vd, VIRTIO_CONSOLE_TXQ);
	assert_true(tdrv_get_used(&tx, &uid, &len));
	assert_int_equal(uid, id);
	return len;
}

static void features_and_config(void **state)
{
	uint8_t c[VIRTIO_CONSOLE_CONFIG_SIZE];

	(void)state;
	assert_int_equal(cons.vd.device_id, VIRTIO_ID_CONSOLE);
	assert_int_equal(cons.vd.device_features & 0xffffff, 0);  /* no SIZE, MULTIPORT, EMERG_WRITE */
	assert_true(cons.vd.device_features & F(VIRTIO_F_VERSION_1));
	assert_int_equal(cons.vd.num_queues, 2);
	memset(c, 0xee, sizeof(c));
	for (unsigned i = 0; i < sizeof(c); i++)
		cons.vd.ops->config_read(&cons.vd, i, &c[i], 1);
	for (unsigned i = 0; i < sizeof(c); i++)
		assert_int_equal(c[i], 0);
}

static void bytes_in_order(bool packed, bool indirect)
{
	static const char a[] = "hello, ", b[] = "virtio ", c[] = "console\n";

	bring_up(packed);
	memcpy(host(TEXT), a, 7);
	memcpy(host(TEXT + 0x100), b, 7);
	memcpy(host(TEXT + 0x200), c, 8);
	struct tbuf t[3] = { { TEXT, 7, false }, { TEXT + 0x100, 7, false }, { TEXT + 0x200, 8, false } };
	assert_int_equal(transmit(t, 3, indirect), 0);
	assert_int_equal(transmit(t, 1, false), 0);
	assert_int_equal(out_len, 22 + 7);
	assert_memory_equal(out, "hello, virtio console\nhello, ", out_len);
	assert_int_equal(cons.chains, 2);
	assert_int_equal(cons.bytes, 29);
	assert_int_equal(log_lines, 0);
}

static void split_direct(void **state) { (void)state; bytes_in_order(false, false); }
static void split_indirect(void **state) { (void)state; bytes_in_order(false, true); }
static void packed_direct(void **state) { (void)state; bytes_in_order(true, false); }
static void packed_indirect(void **state) { (void)state; bytes_in_order(true, true); }

static void writable_buffer_logged_untouched(void **state)
{
	(void)state;
	bring_up(false);
	memcpy(host(TEXT), "text", 4);
	memset(host(TEXT + 0x100), 0xa5, 32);
	struct tbuf t[2] = { { TEXT, 4, false }, { TEXT + 0x100, 32, true } };
	assert_int_equal(transmit(t, 2, false), 0);
	assert_int_equal(out_len, 4);
	assert_int_equal(cons.writable_chains, 1);
	assert_int_equal(log_lines, 1);
	assert_non_null(last_log);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(*host(TEXT + 0x100 + i), 0xa5);
	assert_false(cons.vd.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void long_chain_capped(void **state)
{
	(void)state;
	bring_up(false);
	memset(host(TEXT), 'x', 0x8000);
	struct tbuf t = { TEXT, 0x8000, false };
	assert_int_equal(transmit(&t, 1, false), 0);
	assert_int_equal(out_len, VIRTIO_CONSOLE_CHAIN_MAX);
	assert_int_equal(cons.bytes_dropped, 0x8000 - VIRTIO_CONSOLE_CHAIN_MAX);
}

static void receive_queue_stays(void **state)
{
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(false);
	struct tbuf r = { TEXT, 64, true };
	tdrv_add(&rx, &r, 1, false);
	if (tdrv_kick_needed(&rx))
		virtio_dev_notify(&cons.vd, VIRTIO_CONSOLE_RXQ);
	assert_false(tdrv_get_used(&rx, &id, &len));   /* no input: kept */
	tdrv_add(&rx, &r, 1, false);
	assert_false(tdrv_kick_needed(&rx));            /* and no kicks wanted */
}

static void beyond_ram_needs_reset(void **state)
{
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(false);
	struct tbuf t = { RAM_GPA + RAM_SIZE, 16, false };
	tdrv_add(&tx, &t, 1, false);
	virtio_dev_notify(&cons.vd, VIRTIO_CONSOLE_TXQ);
	assert_true(cons.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(tdrv_get_used(&tx, &id, &len));
	assert_int_equal(out_len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(features_and_config, setup),
		cmocka_unit_test_setup(split_direct, setup),
		cmocka_unit_test_setup(split_indirect, setup),
		cmocka_unit_test_setup(packed_direct, setup),
		cmocka_unit_test_setup(packed_indirect, setup),
		cmocka_unit_test_setup(writable_buffer_logged_untouched, setup),
		cmocka_unit_test_setup(long_chain_capped, setup),
		cmocka_unit_test_setup(receive_queue_stays, setup),
		cmocka_unit_test_setup(beyond_ram_needs_reset, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
