/*
 * Unit tests: drivers/virtio/vnet_switch.c, the L0 learning switch, with
 * fake ports that record what they were given (or refuse it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virtio/vnet_switch.h"

#define NPORTS 4

struct fake_port {
	struct vnet_port port;
	enum vnet_delivery answer;      /* what deliver() says */
	unsigned got;                   /* frames delivered */
	size_t last_len;
	uint8_t last[VNET_FRAME_MAX];
};

static struct vnet_switch sw;
static struct fake_port fp[NPORTS];

static enum vnet_delivery fake_deliver(void *ctx, const uint8_t *frame, size_t len)
{
	struct fake_port *f = ctx;

	assert_true(len >= VNET_ETH_HLEN && len <= VNET_FRAME_MAX);
	if (f->answer != VNET_DELIVERED)
		return f->answer;
	f->got++;
	f->last_len = len;
	memcpy(f->last, frame, len);
	return VNET_DELIVERED;
}

static void mac_of(unsigned i, uint8_t mac[6])
{
	static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x00 };

	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(i + 1);
}

static int setup(void **state)
{
	(void)state;
	vnet_switch_init(&sw);
	memset(fp, 0, sizeof(fp));
	for (unsigned i = 0; i < NPORTS; i++) {
		fp[i].port.deliver = fake_deliver;
		fp[i].port.ctx = &fp[i];
		mac_of(i, fp[i].port.mac);
		assert_int_equal(vnet_switch_attach(&sw, &fp[i].port), (int)i);
	}
	return 0;
}

/* A frame from port `from` to dst (NULL: broadcast), len bytes. */
static uint8_t frame[VNET_FRAME_MAX + 16];

static unsigned send(unsigned from, const uint8_t *dst, size_t len)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	memset(frame, (int)(from + 0x40), sizeof(frame));
	memcpy(frame, dst ? dst : bcast, 6);
	mac_of(from, frame + 6);
	return vnet_switch_input(&sw, from, frame, len);
}

static unsigned total_got(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < NPORTS; i++)
		n += fp[i].got;
	return n;
}

static void broadcast_floods_to_all_others(void **state)
{
	(void)state;
	assert_int_equal(send(1, NULL, 64), NPORTS - 1);
	assert_int_equal(fp[1].got, 0);                 /* never back to the sender */
	assert_int_equal(fp[0].got, 1);
	assert_int_equal(fp[2].got, 1);
	assert_int_equal(fp[3].got, 1);
	assert_int_equal(fp[0].last_len, 64);
	assert_memory_equal(fp[0].last, frame, 64);
	assert_int_equal(sw.flooded, 1);
	assert_int_equal(fp[1].port.tx_frames, 1);
	assert_int_equal(fp[2].port.rx_frames, 1);
}

static void unknown_unicast_floods_then_learned_forwards(void **state)
{
	uint8_t mac2[6], mac0[6];

	(void)state;
	mac_of(2, mac2);
	mac_of(0, mac0);
	/* port 2 has not sent anything: its MAC is unknown, so flood */
	assert_int_equal(vnet_switch_lookup(&sw, mac2), -1);
	assert_int_equal(send(0, mac2, 100), NPORTS - 1);
	assert_int_equal(sw.flooded, 1);
	/* port 0 was learned from that frame */
	assert_int_equal(vnet_switch_lookup(&sw, mac0), 0);
	/* port 2 answers port 0: known, one port only */
	assert_int_equal(send(2, mac0, 100), 1);
	assert_int_equal(sw.forwarded, 1);
	assert_int_equal(fp[0].got, 1);
	assert_int_equal(fp[1].got, 1);                 /* only the first flood */
	assert_int_equal(fp[3].got, 1);
	/* now port 2 is known too: 0 -> 2 goes to 2 alone */
	assert_int_equal(send(0, mac2, 100), 1);
	assert_int_equal(fp[2].got, 2);
	assert_int_equal(fp[1].got, 1);
	assert_int_equal(sw.forwarded, 2);
}

static void moved_mac_is_relearned(void **state)
{
	uint8_t mac1[6];

	(void)state;
	mac_of(1, mac1);
	send(1, NULL, 64);
	assert_int_equal(vnet_switch_lookup(&sw, mac1), 1);
	/* the same source MAC now appears on port 3 (a VM moved, or spoofs) */
	memset(frame, 0, 64);
	memset(frame, 0xff, 6);
	memcpy(frame + 6, mac1, 6);
	vnet_switch_input(&sw, 3, frame, 64);
	assert_int_equal(vnet_switch_lookup(&sw, mac1), 3);
}

static void group_source_not_learned(void **state)
{
	uint8_t group[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

	(void)state;
	memset(frame, 0, 64);
	memset(frame, 0xff, 6);
	memcpy(frame + 6, group, 6);
	vnet_switch_input(&sw, 0, frame, 64);
	assert_int_equal(vnet_switch_lookup(&sw, group), -1);
	/* and a multicast destination is flooded */
	assert_int_equal(send(1, group, 64), NPORTS - 1);
}

static void hairpin_dropped(void **state)
{
	uint8_t mac0[6];

	(void)state;
	mac_of(0, mac0);
	send(0, NULL, 64);                              /* learn port 0 */
	/* port 0 sends to a MAC learned on port 0 (its own) */
	assert_int_equal(send(0, mac0, 64), 0);
	assert_int_equal(sw.dropped_hairpin, 1);
	assert_int_equal(total_got(), NPORTS - 1);      /* only the broadcast */
}

static void lengths_checked(void **state)
{
	(void)state;
	assert_int_equal(send(0, NULL, VNET_ETH_HLEN - 1), 0);
	assert_int_equal(send(0, NULL, 0), 0);
	assert_int_equal(sw.dropped_short, 2);
	assert_int_equal(send(0, NULL, VNET_FRAME_MAX + 1), 0);
	assert_int_equal(sw.dropped_long, 1);
	assert_int_equal(total_got(), 0);
	assert_int_equal(fp[0].port.tx_frames, 0);      /* not counted as sent */
	/* the limits themselves pass */
	assert_int_equal(send(0, NULL, VNET_ETH_HLEN), NPORTS - 1);
	assert_int_equal(send(0, NULL, VNET_FRAME_MAX), NPORTS - 1);
	assert_int_equal(fp[1].last_len, VNET_FRAME_MAX);
}

static void no_buffer_counted_per_port(void **state)
{
	uint8_t mac3[6];

	(void)state;
	fp[2].answer = VNET_NO_BUFFER;
	fp[3].answer = VNET_REFUSED;
	assert_int_equal(send(0, NULL, 64), 1);         /* only port 1 took it */
	assert_int_equal(fp[2].port.rx_no_buffer, 1);
	assert_int_equal(fp[3].port.rx_refused, 1);
	assert_int_equal(fp[1].port.rx_frames, 1);
	/* a unicast to a port without buffers: dropped there, nowhere else */
	mac_of(3, mac3);
	fp[3].answer = VNET_DELIVERED;
	send(3, NULL, 64);                              /* learn port 3 */
	fp[3].answer = VNET_NO_BUFFER;
	assert_int_equal(send(1, mac3, 64), 0);
	assert_int_equal(fp[3].port.rx_no_buffer, 1);
	/* port 0: the flood from 3; port 1: both floods; port 2: none */
	assert_int_equal(fp[0].got + fp[1].got + fp[2].got, 3);
	assert_int_equal(fp[2].port.rx_no_buffer, 2);
}

static void bad_source_port(void **state)
{
	(void)state;
	memset(frame, 0xff, 64);
	assert_int_equal(vnet_switch_input(&sw, NPORTS, frame, 64), 0);
	assert_int_equal(vnet_switch_input(&sw, 1000, frame, 64), 0);
	assert_int_equal(sw.dropped_bad_port, 2);
	assert_int_equal(total_got(), 0);
}

static void table_full_replaces_oldest(void **state)
{
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0 };

	(void)state;
	/* VNET_FDB_SIZE + 1 distinct sources from port 1: the first is forgotten */
	for (unsigned i = 0; i <= VNET_FDB_SIZE; i++) {
		mac[5] = (uint8_t)i;
		memset(frame, 0xff, 6);
		memcpy(frame + 6, mac, 6);
		vnet_switch_input(&sw, 1, frame, 64);
	}
	mac[5] = 0;
	assert_int_equal(vnet_switch_lookup(&sw, mac), -1);
	mac[5] = 1;
	assert_int_equal(vnet_switch_lookup(&sw, mac), 1);
	mac[5] = (uint8_t)VNET_FDB_SIZE;
	assert_int_equal(vnet_switch_lookup(&sw, mac), 1);
}

static void port_down(void **state)
{
	uint8_t mac2[6];

	(void)state;
	mac_of(2, mac2);
	send(2, NULL, 64);                              /* learn port 2 */
	vnet_switch_port_down(&sw, 2);
	assert_int_equal(vnet_switch_lookup(&sw, mac2), -1);   /* forgotten */
	/* flooding skips it, a unicast to it is dropped, it sends nothing */
	assert_int_equal(send(0, NULL, 64), NPORTS - 2);
	assert_int_equal(fp[2].got, 0);
	send(1, mac2, 64);                              /* unknown now: flooded */
	assert_int_equal(fp[2].got, 0);
	assert_int_equal(send(2, NULL, 64), 0);
	assert_int_equal(sw.dropped_port_down, 3);
	vnet_switch_port_down(&sw, 99);                 /* no such port: nothing */
}

static void attach_limits(void **state)
{
	struct vnet_switch s2;
	struct vnet_port p[VNET_MAX_PORTS + 1];

	(void)state;
	vnet_switch_init(&s2);
	memset(p, 0, sizeof(p));
	assert_int_equal(vnet_switch_attach(&s2, &p[0]), -1);   /* no deliver() */
	for (unsigned i = 0; i <= VNET_MAX_PORTS; i++)
		p[i].deliver = fake_deliver;
	for (unsigned i = 0; i < VNET_MAX_PORTS; i++)
		assert_int_equal(vnet_switch_attach(&s2, &p[i]), (int)i);
	assert_int_equal(vnet_switch_attach(&s2, &p[VNET_MAX_PORTS]), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(broadcast_floods_to_all_others, setup),
		cmocka_unit_test_setup(unknown_unicast_floods_then_learned_forwards, setup),
		cmocka_unit_test_setup(moved_mac_is_relearned, setup),
		cmocka_unit_test_setup(group_source_not_learned, setup),
		cmocka_unit_test_setup(hairpin_dropped, setup),
		cmocka_unit_test_setup(lengths_checked, setup),
		cmocka_unit_test_setup(no_buffer_counted_per_port, setup),
		cmocka_unit_test_setup(bad_source_port, setup),
		cmocka_unit_test_setup(table_full_replaces_oldest, setup),
		cmocka_unit_test_setup(port_down, setup),
		cmocka_unit_test_setup(attach_limits, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
