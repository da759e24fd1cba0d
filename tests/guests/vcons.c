/*
 * The virtio-console test guest (issue 7): prints lines through Nestor's
 * virtio-console device, which puts them into the L0 log as "[vmname]
 * text", like the UART.  The scenario looks for the lines that only the
 * device can have printed (they contain "via virtio-console"), and for
 * the L0 log line of the hostile move.
 *
 *   - discovery and features: device 3, VERSION_1 offered, no SIZE or
 *     MULTIPORT (a single port), FEATURES_OK refused without VERSION_1;
 *   - split ring: lines as one descriptor each, a line split over three
 *     descriptors of one chain, a line in two chains, 64 numbered lines
 *     in batches with one kick each (the ring of 16 wraps); every chain
 *     comes back used with length 0 (5.3.6.2: nothing is written);
 *   - the same on the packed ring (and split with EVENT_IDX between);
 *   - hostile: a transmit chain with a device-writable buffer -- the
 *     device writes nothing into it, hands it back with length 0, logs
 *     it and keeps working (no reset needed).
 */
#include <stdio.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/virtio_drv.h"
#include "drivers/virtio/virtio_console.h"

#define F(bit) (1ull << (bit))
#define QSIZE  16

static uint8_t rx_area[GVQ_AREA_BYTES] __attribute__((aligned(4096)));
static uint8_t tx_area[GVQ_AREA_BYTES] __attribute__((aligned(4096)));
static struct gvq rxq, txq;
static struct vmmio dev;
static uint32_t khz;
static char text[QSIZE][128];
static uint8_t rx_buf[4][64];

static uint64_t bring_up(uint64_t want)
{
	const char *why = "";
	uint64_t f = gvq_negotiate(&dev, want, &why);
	if (f && gvq_setup_queue(&dev, VIRTIO_CONSOLE_RXQ, &rxq, rx_area, QSIZE, f, &why) &&
	    gvq_setup_queue(&dev, VIRTIO_CONSOLE_TXQ, &txq, tx_area, QSIZE, f, &why) &&
	    gvq_driver_ok(&dev, &why)) {
		/* receive buffers, as a real driver has them waiting */
		for (unsigned i = 0; i < 4; i++) {
			struct gvq_buf b = { (uint64_t)rx_buf[i], sizeof(rx_buf[i]), true };
			gvq_add(&rxq, &b, 1, rx_buf[i], NULL);
		}
		if (gvq_kick_needed(&rxq))
			gvq_kick(&dev, VIRTIO_CONSOLE_RXQ);
		return f;
	}
	rt_printf("vcons: bring-up failed: %s (status %#x)\n", why, vm_status(&dev));
	return 0;
}

/* Wait for n used transmit chains; true if each came back with length 0. */
static bool collect(unsigned n)
{
	uint64_t end = rdtsc() + 2000ull * khz;
	unsigned got = 0;
	bool ok = true;
	while (got < n && rdtsc() < end) {
		uint32_t len;
		void *c = gvq_get(&txq, &len);
		if (c == NULL) {
			cpu_relax();
			continue;
		}
		got++;
		ok &= c != GVQ_BAD && len == 0;
	}
	return ok && got == n;
}

static void kick_tx(void)
{
	if (gvq_kick_needed(&txq))
		gvq_kick(&dev, VIRTIO_CONSOLE_TXQ);
}

/* One line, one descriptor, waited for. */
static bool put_line(const char *s)
{
	struct gvq_buf b = { (uint64_t)s, (uint32_t)strlen(s), false };
	if (gvq_add(&txq, &b, 1, (void *)s, NULL))
		return false;
	kick_tx();
	return collect(1);
}

static void lines(const char *ring)
{
	char name[96];
	snprintf(text[0], sizeof(text[0]), "vcons: hello via virtio-console on the %s ring\n", ring);
	snprintf(name, sizeof(name), "%s: a line as one descriptor, used with length 0", ring);
	rt_check(put_line(text[0]), name, "no used chain of length 0");

	/* one line over three descriptors of one chain (2.7.4: the device
	 * must not care how the driver split it) */
	static const char a[] = "vcons: one line in ", b[] = "three descriptors ", c[] = "via virtio-console (";
	snprintf(text[1], sizeof(text[1]), "%s)\n", ring);
	struct gvq_buf bufs[4] = { { (uint64_t)a, sizeof(a) - 1, false }, { (uint64_t)b, sizeof(b) - 1, false },
				   { (uint64_t)c, sizeof(c) - 1, false }, { (uint64_t)text[1], (uint32_t)strlen(text[1]), false } };
	bool ok = gvq_add(&txq, bufs, 4, text[1], NULL) == 0;
	kick_tx();
	snprintf(name, sizeof(name), "%s: a line in a chain of four descriptors", ring);
	rt_check(ok && collect(1), name, "not used");

	/* a line in two chains, one kick */
	snprintf(text[2], sizeof(text[2]), "vcons: one line in two chains ");
	snprintf(text[3], sizeof(text[3]), "via virtio-console (%s)\n", ring);
	struct gvq_buf p1 = { (uint64_t)text[2], (uint32_t)strlen(text[2]), false };
	struct gvq_buf p2 = { (uint64_t)text[3], (uint32_t)strlen(text[3]), false };
	ok = gvq_add(&txq, &p1, 1, text[2], NULL) == 0 && gvq_add(&txq, &p2, 1, text[3], NULL) == 0;
	kick_tx();
	snprintf(name, sizeof(name), "%s: a line in two chains", ring);
	rt_check(ok && collect(2), name, "not used");

	/* 64 numbered lines, 8 per kick: the ring of 16 wraps four times */
	unsigned bad = 0;
	for (unsigned batch = 0; batch < 8; batch++) {
		for (unsigned i = 0; i < 8; i++) {
			unsigned k = batch * 8 + i;
			snprintf(text[i], sizeof(text[i]), "vcons: %s line %u of 64 via virtio-console\n", ring, k + 1);
			struct gvq_buf l = { (uint64_t)text[i], (uint32_t)strlen(text[i]), false };
			bad += gvq_add(&txq, &l, 1, text[i], NULL) != 0;
		}
		kick_tx();
		bad += !collect(8);
	}
	snprintf(name, sizeof(name), "%s: 64 lines in batches of 8, one kick each", ring);
	rt_check(bad == 0, name, "%u failures", bad);
	rt_check(!(vm_status(&dev) & VIRTIO_STATUS_NEEDS_RESET), ring, "device needs a reset");
}

/* 5.3.6.2.1: the driver MUST NOT put a device-writable buffer in a
 * transmitq.  The device prints the readable bytes, writes nothing,
 * uses the chain with length 0 and logs; it needs no reset. */
static void hostile_writable_tx(void)
{
	static char line[] = "vcons: a chain with a device-writable buffer via virtio-console\n";
	static uint8_t wbuf[32];
	memset(wbuf, 0xa5, sizeof(wbuf));
	struct gvq_buf b[2] = { { (uint64_t)line, sizeof(line) - 1, false }, { (uint64_t)wbuf, sizeof(wbuf), true } };
	bool ok = gvq_add(&txq, b, 2, line, NULL) == 0;
	kick_tx();
	bool used0 = collect(1);
	bool untouched = true;
	for (unsigned i = 0; i < sizeof(wbuf); i++)
		untouched &= wbuf[i] == 0xa5;
	CHECK(ok && used0 && untouched && !(vm_status(&dev) & VIRTIO_STATUS_NEEDS_RESET),
	      "hostile: tx chain with a device-writable buffer: used with length 0, nothing written, no reset");
	CHECK(put_line("vcons: still working after the hostile chain via virtio-console\n"),
	      "hostile: the device keeps working");
}

void guest_main(void)
{
	if (!rt_under_nestor()) {
		rt_printf("vcons: needs Nestor's virtio-console device; skipped\n");
		return;
	}
	khz = cpuid(0x40000010, 0).eax;
	if (!khz)
		khz = 1000000;
	bool found = gvq_find_device_id(rt_boot.cmdline, VIRTIO_ID_CONSOLE, 0, &dev);
	CHECK(found, "discovery: a virtio-mmio device with ID 3 (console) on the command line");
	if (!found)
		return;
	rt_printf("vcons: virtio-console at %#lx, GSI %u\n", (unsigned long)dev.base, dev.gsi);
	uint64_t offered = vm_device_features(&dev);
	rt_printf("vcons: device features %#lx\n", (unsigned long)offered);
	CHECK((offered & F(VIRTIO_F_VERSION_1)) && !(offered & 0xffffffull),
	      "features: VERSION_1 offered, no device bits (no SIZE, MULTIPORT, EMERG_WRITE)");
	vm_set_status(&dev, 0);
	vm_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vm_driver_features(&dev, 0);
	vm_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(!(vm_status(&dev) & VIRTIO_STATUS_FEATURES_OK), "features: FEATURES_OK refused without VERSION_1");
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_SEL, 2);
	CHECK(vm_rd(&dev, VIRTIO_MMIO_QUEUE_NUM_MAX) == 0, "queues: only receiveq and transmitq (no control queues)");

	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC));
	CHECK(f && !txq.packed, "split: bring-up, two queues, DRIVER_OK");
	if (f)
		lines("split");
	f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_EVENT_IDX));
	CHECK(f & F(VIRTIO_F_EVENT_IDX), "split+event_idx: bring-up after a reset");
	if (f)
		lines("split+event_idx");
	f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED) | F(VIRTIO_F_EVENT_IDX));
	CHECK((f & F(VIRTIO_F_RING_PACKED)) && txq.packed, "packed: RING_PACKED negotiated");
	if (f) {
		lines("packed");
		hostile_writable_tx();
	}
	vm_set_status(&dev, 0);
}
