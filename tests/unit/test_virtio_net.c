/*
 * Unit tests: drivers/virtio/virtio_net.c -- two virtio-net devices, in
 * two "VMs" (each its own guest RAM and memory map), on one switch, driven
 * the way guest drivers would (tests/unit/virtio_test_drv.h): frames from
 * one transmit queue arrive in the other's receive queue; the drops the
 * device owes the spec (no buffer, bad lengths, a writable transmit
 * buffer, an offload not offered, a receive buffer too small).
 *
 * Per VM: guest RAM [0x100000, 0x140000); receive ring at +0, transmit
 * ring at +0x4000, indirect tables at +0x8000, buffers from +0x10000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virtio/virtio_net.h"
#include "tests/unit/virtio_test_drv.h"

#define HPA(p)       ((uint64_t)(uintptr_t)(p))
#define RAM_GPA      0x100000ull
#define RAM_SIZE     0x40000ull
#define RX_RING      (RAM_GPA + 0x0000)
#define TX_RING      (RAM_GPA + 0x4000)
#define TABLES       (RAM_GPA + 0x8000)
#define TX_BUF       (RAM_GPA + 0x10000)
#define RX_BUF       (RAM_GPA + 0x20000)     /* RX_BUF + i * RX_STRIDE */
#define RX_STRIDE    0x800
#define HDR          VIRTIO_NET_HDR_BYTES
#define F(bit)       (1ull << (bit))

struct vm {
	uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
	struct gmem g;
	struct virtio_net net;
	struct tdrv rx, tx;
	unsigned irq_used, irq_config, log_lines;
	const char *last_log;
};

static struct vm vms[2];
static struct vnet_switch sw;
static const uint8_t mac_a[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };

static void on_interrupt(void *t, uint32_t why)
{
	struct vm *v = t;

	v->irq_used += !!(why & VIRTIO_INT_USED);
	v->irq_config += !!(why & VIRTIO_INT_CONFIG);
}

static void on_log(void *ctx, bool fatal, const char *what, uint64_t value)
{
	struct vm *v = ctx;

	(void)fatal;
	(void)value;
	v->log_lines++;
	v->last_log = what;
}

static uint8_t *host(struct vm *v, uint64_t gpa)
{
	return v->ram + (gpa - RAM_GPA);
}

/* 3.1.1 with both queues; the ring features as asked. */
static void bring_up(struct vm *v, bool packed, bool event_idx, bool driver_ok)
{
	struct virtio_dev *vd = &v->net.vd;
	uint64_t f = vd->device_features;

	if (!packed)
		f &= ~F(VIRTIO_F_RING_PACKED);
	if (!event_idx)
		f &= ~F(VIRTIO_F_EVENT_IDX);
	virtio_dev_set_status(vd, 0);
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_driver_features(vd, 0, (uint32_t)f);
	virtio_dev_set_driver_features(vd, 1, (uint32_t)(f >> 32));
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_true(vd->status & VIRTIO_STATUS_FEATURES_OK);
	tdrv_init(&v->rx, v->ram, RAM_GPA, packed, event_idx, 16, RX_RING, TABLES);
	tdrv_init(&v->tx, v->ram, RAM_GPA, packed, event_idx, 16, TX_RING, TABLES + 0x2000);
	tdrv_configure(&v->rx, &vd->vq[VIRTIO_NET_RXQ]);
	tdrv_configure(&v->tx, &vd->vq[VIRTIO_NET_TXQ]);
	virtio_dev_queue_ready(vd, VIRTIO_NET_RXQ, true);
	virtio_dev_queue_ready(vd, VIRTIO_NET_TXQ, true);
	assert_true(vd->vq[0].ready && vd->vq[1].ready);
	if (driver_ok) {
		virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
		assert_true(virtio_dev_live(vd));
	}
}

static void make_vm(struct vm *v, const uint8_t *mac)
{
	struct virtio_net_params p = { .mem = &v->g, .sw = &sw, .ring_features = VIRTIO_RING_FEATURES };

	memset(v->ram, 0, sizeof(v->ram));
	gmem_init(&v->g);
	assert_int_equal(gmem_add(&v->g, RAM_GPA, RAM_SIZE, GMEM_RAM, HPA(v->ram), 0), 0);
	memcpy(p.mac, mac, 6);
	assert_int_equal(virtio_net_init(&v->net, &p), 0);
	v->net.vd.interrupt = on_interrupt;
	v->net.vd.transport = v;
	v->net.vd.log = on_log;
	v->net.vd.log_ctx = v;
	v->irq_used = v->irq_config = v->log_lines = 0;
	v->last_log = NULL;
}

static int setup(void **state)
{
	(void)state;
	vnet_switch_init(&sw);
	make_vm(&vms[0], mac_a);
	make_vm(&vms[1], mac_b);
	return 0;
}

/* n receive buffers of len bytes each (one descriptor, device-writable). */
static void post_rx(struct vm *v, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		struct tbuf b = { RX_BUF + i * RX_STRIDE, len, true };

		tdrv_add(&v->rx, &b, 1, false);
	}
	if (tdrv_kick_needed(&v->rx))
		virtio_dev_notify(&v->net.vd, VIRTIO_NET_RXQ);
}

/* A frame of len bytes (Ethernet header included) from v to dst, after a
 * zeroed header at TX_BUF; seed fills the payload. */
static void put_frame(struct vm *v, const uint8_t *dst, size_t len, uint8_t seed)
{
	uint8_t *p = host(v, TX_BUF);

	memset(p, 0, HDR);
	memcpy(p + HDR, dst, 6);
	memcpy(p + HDR + 6, v->net.port.mac, 6);
	p[HDR + 12] = 0x88;
	p[HDR + 13] = 0xb5;
	for (size_t i = VNET_ETH_HLEN; i < len; i++)
		p[HDR + i] = (uint8_t)(seed + i * 3);
}

/* Transmit a chain, kick, return the used length of the transmit chain. */
static uint32_t transmit(struct vm *v, const struct tbuf *b, unsigned n, bool indirect)
{
	uint16_t id, uid;
	uint32_t len = 0xdeadbeef;

	id = tdrv_add(&v->tx, b, n, indirect);
	if (tdrv_kick_needed(&v->tx))
		virtio_dev_notify(&v->net.vd, VIRTIO_NET_TXQ);
	assert_true(tdrv_get_used(&v->tx, &uid, &len));
	assert_int_equal(uid, id);
	return len;
}

static uint32_t send_frame(struct vm *v, size_t len)
{
	struct tbuf b = { TX_BUF, (uint32_t)(HDR + len), false };

	return transmit(v, &b, 1, false);
}

/* ---- tests --------------------------------------------------------------------- */

static void config_and_features(void **state)
{
	struct virtio_dev *vd = &vms[0].net.vd;
	uint8_t c[VIRTIO_NET_CONFIG_SIZE];

	(void)state;
	assert_int_equal(vd->device_id, VIRTIO_ID_NET);
	assert_true(vd->device_features & F(VIRTIO_NET_F_MAC));
	assert_true(vd->device_features & F(VIRTIO_NET_F_MTU));
	assert_true(vd->device_features & F(VIRTIO_NET_F_STATUS));
	assert_true(vd->device_features & F(VIRTIO_F_VERSION_1));
	assert_false(vd->device_features & F(VIRTIO_NET_F_CSUM));
	assert_false(vd->device_features & F(VIRTIO_NET_F_MRG_RXBUF));
	assert_false(vd->device_features & F(VIRTIO_F_IN_ORDER));
	assert_int_equal(vd->num_queues, 2);
	for (unsigned i = 0; i < sizeof(c); i++)
		vd->ops->config_read(vd, i, &c[i], 1);
	assert_memory_equal(c + VIRTIO_NET_CFG_MAC, mac_a, 6);
	assert_int_equal(c[VIRTIO_NET_CFG_STATUS] | c[VIRTIO_NET_CFG_STATUS + 1] << 8, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(c[VIRTIO_NET_CFG_MTU] | c[VIRTIO_NET_CFG_MTU + 1] << 8, 1500);
	assert_int_equal(sw.nports, 2);
}

static void init_refuses(void **state)
{
	struct virtio_net n;
	struct virtio_net_params p = { .mem = &vms[0].g, .sw = &sw };

	(void)state;
	p.mac[0] = 0x01;                                /* a group address */
	assert_int_equal(virtio_net_init(&n, &p), -1);
	p.mac[0] = 0x02;
	p.sw = NULL;
	assert_int_equal(virtio_net_init(&n, &p), -1);
	p.sw = &sw;
	p.mem = NULL;
	assert_int_equal(virtio_net_init(&n, &p), -1);
}

static void frame_goes_across(bool packed, bool event_idx, bool indirect)
{
	struct vm *a = &vms[0], *b = &vms[1];
	uint16_t id;
	uint32_t len;

	bring_up(a, packed, event_idx, true);
	bring_up(b, packed, event_idx, true);
	post_rx(b, 4, HDR + VNET_FRAME_MAX);
	put_frame(a, mac_b, 1000, 7);
	/* header in one descriptor, the frame in two: the device must not care */
	struct tbuf t[3] = { { TX_BUF, HDR, false }, { TX_BUF + HDR, 300, false },
			     { TX_BUF + HDR + 300, 700, false } };
	assert_int_equal(transmit(a, t, 3, indirect), 0);      /* nothing written */
	assert_true(tdrv_get_used(&b->rx, &id, &len));
	assert_int_equal(len, HDR + 1000);
	/* the header the device wrote: flags 0, GSO_NONE, num_buffers 1 */
	static const uint8_t want_hdr[HDR] = { [10] = 1 };
	assert_memory_equal(host(b, RX_BUF), want_hdr, HDR);
	assert_memory_equal(host(b, RX_BUF + HDR), host(a, TX_BUF + HDR), 1000);
	assert_int_equal(b->irq_used, 1);
	assert_int_equal(a->net.tx_frames, 1);
	assert_int_equal(b->net.rx_frames, 1);
	assert_int_equal(b->net.port.rx_frames, 1);
	/* and back: b -> a (a has buffers now), forwarded to one learned port */
	post_rx(a, 2, HDR + VNET_FRAME_MAX);
	put_frame(b, mac_a, VNET_FRAME_MAX, 9);
	assert_int_equal(send_frame(b, VNET_FRAME_MAX), 0);
	assert_true(tdrv_get_used(&a->rx, &id, &len));
	assert_int_equal(len, HDR + VNET_FRAME_MAX);
	assert_memory_equal(host(a, RX_BUF + HDR), host(b, TX_BUF + HDR), VNET_FRAME_MAX);
	/* a -> b went out flooded (mac_b unknown yet), b -> a forwarded
	 * (mac_a learned from a's frame) */
	assert_int_equal(sw.flooded, 1);
	assert_int_equal(sw.forwarded, 1);
	assert_false(a->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(b->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void across_split(void **state)
{
	(void)state;
	frame_goes_across(false, false, false);
}

static void across_split_event_idx_indirect(void **state)
{
	(void)state;
	frame_goes_across(false, true, true);
}

static void across_packed(void **state)
{
	(void)state;
	frame_goes_across(true, true, false);
}

static void across_packed_indirect(void **state)
{
	(void)state;
	frame_goes_across(true, false, true);
}

static void receive_buffer_in_pieces(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	/* one receive chain: the header alone, then the frame in two */
	struct tbuf r[3] = { { RX_BUF, HDR, true }, { RX_BUF + 0x100, 64, true }, { RX_BUF + 0x400, 1500, true } };
	tdrv_add(&b->rx, r, 3, false);
	put_frame(a, mac_b, 500, 3);
	send_frame(a, 500);
	assert_true(tdrv_get_used(&b->rx, &id, &len));
	assert_int_equal(len, HDR + 500);
	assert_memory_equal(host(b, RX_BUF + 0x100), host(a, TX_BUF + HDR), 64);
	assert_memory_equal(host(b, RX_BUF + 0x400), host(a, TX_BUF + HDR + 64), 500 - 64);
}

static void dropped_without_buffer(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	put_frame(a, mac_b, 200, 1);
	assert_int_equal(send_frame(a, 200), 0);        /* the sender sees nothing */
	assert_int_equal(b->net.port.rx_no_buffer, 1);
	assert_int_equal(b->net.rx_frames, 0);
	/* a buffer now: the next frame arrives, the lost one does not */
	post_rx(b, 1, HDR + VNET_FRAME_MAX);
	put_frame(a, mac_b, 300, 2);
	send_frame(a, 300);
	assert_true(tdrv_get_used(&b->rx, &id, &len));
	assert_int_equal(len, HDR + 300);
	assert_false(tdrv_get_used(&b->rx, &id, &len));
	/* the ring ran dry again: dropped and counted */
	send_frame(a, 300);
	assert_int_equal(b->net.port.rx_no_buffer, 2);
}

static void dropped_before_driver_ok(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, false);               /* no DRIVER_OK yet */
	post_rx(b, 2, HDR + VNET_FRAME_MAX);            /* the kick is ignored */
	put_frame(a, mac_b, 100, 1);
	send_frame(a, 100);
	assert_int_equal(b->net.port.rx_no_buffer, 1);
	assert_int_equal(b->net.rx_frames, 0);
}

static void tx_lengths_checked(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	post_rx(b, 4, HDR + VNET_FRAME_MAX);
	put_frame(a, mac_b, VNET_FRAME_MAX, 1);
	/* one byte over the MTU (the buffer holds it: only the length is wrong) */
	assert_int_equal(send_frame(a, VNET_FRAME_MAX + 1), 0);
	assert_int_equal(a->net.tx_bad_length, 1);
	assert_string_equal(a->last_log,
			    "virtio-net: frame shorter than an Ethernet header or over the MTU: dropped");
	/* a header only; a header and 13 bytes */
	assert_int_equal(send_frame(a, 0), 0);
	assert_int_equal(send_frame(a, VNET_ETH_HLEN - 1), 0);
	assert_int_equal(a->net.tx_bad_length, 3);
	assert_int_equal(b->net.rx_frames, 0);
	assert_int_equal(sw.frames, 0);
	assert_false(a->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	/* exactly an Ethernet header, and exactly the MTU: fine */
	send_frame(a, VNET_ETH_HLEN);
	send_frame(a, VNET_FRAME_MAX);
	assert_int_equal(b->net.rx_frames, 2);
}

static void tx_writable_buffer_dropped(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	post_rx(b, 4, HDR + VNET_FRAME_MAX);
	put_frame(a, mac_b, 100, 1);
	memset(host(a, TX_BUF + 0x1000), 0xa5, 64);
	struct tbuf t[2] = { { TX_BUF, HDR + 100, false }, { TX_BUF + 0x1000, 64, true } };
	assert_int_equal(transmit(a, t, 2, false), 0);
	assert_int_equal(a->net.tx_bad_direction, 1);
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(*host(a, TX_BUF + 0x1000 + i), 0xa5);      /* untouched */
	assert_int_equal(b->net.rx_frames, 0);
	assert_false(a->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	/* an all-writable chain too */
	struct tbuf w = { TX_BUF, HDR + 100, true };
	assert_int_equal(transmit(a, &w, 1, false), 0);
	assert_int_equal(a->net.tx_bad_direction, 2);
	assert_int_equal(b->net.rx_frames, 0);
}

static void tx_offload_refused(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	post_rx(b, 4, HDR + VNET_FRAME_MAX);
	put_frame(a, mac_b, 100, 1);
	host(a, TX_BUF)[1] = 1;                         /* GSO_TCPV4 */
	send_frame(a, 100);
	host(a, TX_BUF)[1] = 0;
	host(a, TX_BUF)[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	send_frame(a, 100);
	assert_int_equal(a->net.tx_bad_offload, 2);
	assert_int_equal(b->net.rx_frames, 0);
	host(a, TX_BUF)[0] = 0;
	send_frame(a, 100);
	assert_int_equal(b->net.rx_frames, 1);
}

static void rx_buffer_too_small(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	post_rx(b, 1, HDR + 100);
	memset(host(b, RX_BUF), 0x5a, HDR + 100);
	put_frame(a, mac_b, 101, 1);
	send_frame(a, 101);
	/* handed back empty, nothing written, never beyond the buffer */
	assert_true(tdrv_get_used(&b->rx, &id, &len));
	assert_int_equal(len, 0);
	for (unsigned i = 0; i < HDR + 100; i++)
		assert_int_equal(*host(b, RX_BUF + i), 0x5a);
	assert_int_equal(*host(b, RX_BUF + HDR + 100), 0);
	assert_int_equal(b->net.rx_too_small, 1);
	assert_int_equal(b->net.port.rx_refused, 1);
	assert_false(b->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	/* the same size fits exactly */
	post_rx(b, 1, HDR + 100);
	put_frame(a, mac_b, 100, 1);
	send_frame(a, 100);
	assert_true(tdrv_get_used(&b->rx, &id, &len));
	assert_int_equal(len, HDR + 100);
}

static void broken_tx_ring_needs_reset(void **state)
{
	struct vm *a = &vms[0];
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(a, false, false, true);
	struct tbuf t = { RAM_GPA + RAM_SIZE, 100, false };     /* beyond RAM */
	tdrv_add(&a->tx, &t, 1, false);
	virtio_dev_notify(&a->net.vd, VIRTIO_NET_TXQ);
	assert_true(a->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(a->irq_config, 1);
	assert_false(tdrv_get_used(&a->tx, &id, &len));
	assert_int_equal(sw.frames, 0);
	/* frames for it are dropped as "no buffer" while it waits for a reset */
	bring_up(&vms[1], false, false, true);
	put_frame(&vms[1], mac_a, 100, 1);
	send_frame(&vms[1], 100);
	assert_int_equal(a->net.port.rx_no_buffer, 1);
	/* a reset and it works again */
	bring_up(a, false, false, true);
	post_rx(a, 1, HDR + VNET_FRAME_MAX);
	send_frame(&vms[1], 100);
	assert_int_equal(a->net.rx_frames, 1);
}

static void broken_rx_ring_needs_reset(void **state)
{
	struct vm *a = &vms[0], *b = &vms[1];

	(void)state;
	bring_up(a, false, false, true);
	bring_up(b, false, false, true);
	struct tbuf r = { RAM_GPA + RAM_SIZE - 8, 100, true };  /* crosses the end of RAM */
	tdrv_add(&b->rx, &r, 1, false);
	put_frame(a, mac_b, 100, 1);
	send_frame(a, 100);
	assert_true(b->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(b->irq_config, 1);
	assert_int_equal(b->net.port.rx_refused, 1);
	assert_false(a->net.vd.status & VIRTIO_STATUS_NEEDS_RESET);   /* the sender is fine */
}

static void no_rx_kicks_wanted(void **state)
{
	struct vm *b = &vms[1];

	(void)state;
	bring_up(b, false, false, true);
	post_rx(b, 1, 64);
	/* the first kick told the device; it asked for no more */
	assert_int_equal(b->net.vd.kicks, 1);
	post_rx(b, 3, 64);
	assert_int_equal(b->net.vd.kicks, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(config_and_features, setup),
		cmocka_unit_test_setup(init_refuses, setup),
		cmocka_unit_test_setup(across_split, setup),
		cmocka_unit_test_setup(across_split_event_idx_indirect, setup),
		cmocka_unit_test_setup(across_packed, setup),
		cmocka_unit_test_setup(across_packed_indirect, setup),
		cmocka_unit_test_setup(receive_buffer_in_pieces, setup),
		cmocka_unit_test_setup(dropped_without_buffer, setup),
		cmocka_unit_test_setup(dropped_before_driver_ok, setup),
		cmocka_unit_test_setup(tx_lengths_checked, setup),
		cmocka_unit_test_setup(tx_writable_buffer_dropped, setup),
		cmocka_unit_test_setup(tx_offload_refused, setup),
		cmocka_unit_test_setup(rx_buffer_too_small, setup),
		cmocka_unit_test_setup(broken_tx_ring_needs_reset, setup),
		cmocka_unit_test_setup(broken_rx_ring_needs_reset, setup),
		cmocka_unit_test_setup(no_rx_kicks_wanted, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
