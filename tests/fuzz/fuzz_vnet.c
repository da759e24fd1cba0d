/*
 * libFuzzer: two hostile guests, each driving a virtio-net device through
 * its virtio-mmio registers, the devices on one L0 switch
 * (drivers/virtio/: vnet_switch.c, virtio_net.c, virtio_mmio.c, virtio.c,
 * virtqueue.c).  Each guest's RAM is controlled byte by byte; frames go
 * from one guest's transmit queue through the switch into the other's
 * receive queue.
 *
 * Nothing may crash or touch host memory outside the two guest RAMs
 * (ASan + UBSan), and after every step, for each device:
 *   - the interrupt line is up exactly while InterruptStatus is not 0;
 *   - a queue in an error state means DEVICE_NEEDS_RESET, with a reason;
 *   - a ready queue's ring areas lie inside that guest's RAM;
 *   - the guard bytes after each RAM are never written;
 *   - the switch never saw a frame it had to drop as too short or long
 *     (the device checks lengths first), and every frame a device
 *     received is no longer than MTU + Ethernet header.
 *
 * Guest memory (each VM): RAM [0x10000, 0x18000), holes elsewhere.
 *
 * Input: operations until the input ends, each an op byte (VM = bit 7,
 * op = low bits % 8) and its arguments:
 *   0 write register  u16 offset (mod 0x200), u8 size, u32 value
 *   1 read register   u16 offset (mod 0x200), u8 size
 *   2 patch RAM       u16 offset, u8 length, that many bytes
 *   3 kick            u8 queue
 *   4 initialize      u64 driver features, u16 queue size, then for the
 *                     receive and the transmit queue u16 offsets of the
 *                     descriptor, driver and device areas in RAM (3.1.1
 *                     through the registers)
 *   5 poll            (virtio_dev_poll)
 *   6 acknowledge     u32 InterruptACK value
 *   7 reset           (Status = 0)
 * Integers little-endian; a short input reads as zeros.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtio_net.h"
#include "drivers/virtio/virtio_mmio.h"

#include "tests/fuzz/fuzz_assert.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_virtio.h"

#define RAM_GPA   0x10000ull
#define RAM_SIZE  0x8000ull
#define GUARD     64

struct vm {
	uint8_t ram[RAM_SIZE + GUARD] __attribute__((aligned(4096)));
	struct gmem g;
	struct virtio_net net;
	struct virtio_mmio m;
	bool line;
};

static struct vm vms[2];
static struct vnet_switch sw;

static void set_irq(void *ctx, bool level)
{
	struct vm *v = ctx;

	CHECK(level != v->line);
	v->line = level;
}

static void wr(struct vm *v, uint32_t off, uint32_t val)
{
	virtio_mmio_write(&v->m, off, 4, val);
}

static void setup_queue(struct vm *v, struct fuzz_input *in, unsigned q, uint32_t num)
{
	uint64_t desc = RAM_GPA + fuzz_take(in, 2), drv = RAM_GPA + fuzz_take(in, 2), dev = RAM_GPA + fuzz_take(in, 2);

	wr(v, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(v, VIRTIO_MMIO_QUEUE_NUM, num);
	wr(v, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)drv);
	wr(v, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)dev);
	wr(v, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(v, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void init_sequence(struct vm *v, struct fuzz_input *in)
{
	uint64_t f = fuzz_take(in, 8);
	uint32_t num = (uint32_t)fuzz_take(in, 2);

	wr(v, VIRTIO_MMIO_STATUS, 0);
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(v, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	setup_queue(v, in, VIRTIO_NET_RXQ, num);
	setup_queue(v, in, VIRTIO_NET_TXQ, num);
	wr(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static void check_invariants(void)
{
	CHECK(sw.dropped_short == 0 && sw.dropped_long == 0 && sw.dropped_bad_port == 0);
	for (unsigned i = 0; i < 2; i++) {
		const struct vm *v = &vms[i];
		const struct virtio_dev *vd = &v->net.vd;

		CHECK(v->line == (v->m.interrupt_status != 0));
		CHECK(v->net.port.rx_bytes <= v->net.port.rx_frames * VNET_FRAME_MAX);
		fuzz_check_virtio_dev(vd, v->ram, RAM_SIZE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	vnet_switch_init(&sw);
	for (unsigned i = 0; i < 2; i++) {
		struct vm *v = &vms[i];
		struct virtio_net_params p = { .mem = &v->g, .sw = &sw, .ring_features = VIRTIO_RING_FEATURES,
					       .mac = { 0x52, 0x54, 0, 0, 0, (uint8_t)(i + 1) } };

		memset(v->ram, 0, RAM_SIZE);
		memset(v->ram + RAM_SIZE, 0xa5, GUARD);
		gmem_init(&v->g);
		CHECK(gmem_add(&v->g, RAM_GPA, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)v->ram, 0) == 0);
		CHECK(virtio_net_init(&v->net, &p) == 0);
		v->line = false;
		virtio_mmio_init(&v->m, &v->net.vd, set_irq, v);
	}

	while (in.n > 0) {
		uint8_t byte = (uint8_t)fuzz_take(&in, 1);
		struct vm *v = &vms[byte >> 7];

		switch (byte % 8) {
		case 0: {
			uint32_t off = (uint32_t)fuzz_take(&in, 2) % VIRTIO_MMIO_SIZE;
			unsigned sz = (unsigned)fuzz_take(&in, 1) % 5;
			uint32_t val = (uint32_t)fuzz_take(&in, 4);
			int rc = virtio_mmio_write(&v->m, off, sz, val);

			CHECK(rc == 0 || rc == 1);
			break;
		}
		case 1: {
			uint32_t off = (uint32_t)fuzz_take(&in, 2) % VIRTIO_MMIO_SIZE;
			unsigned sz = (unsigned)fuzz_take(&in, 1) % 5;
			uint32_t val = 0x12345678;
			int rc = virtio_mmio_read(&v->m, off, sz, &val);

			CHECK(rc == 0 || rc == 1);
			CHECK(rc == 0 || val == 0);
			break;
		}
		case 2: {
			uint32_t off = (uint32_t)fuzz_take(&in, 2) % RAM_SIZE;
			size_t len = (size_t)fuzz_take(&in, 1);

			if (len > in.n)
				len = in.n;
			if (len > RAM_SIZE - off)
				len = RAM_SIZE - off;
			memcpy(v->ram + off, in.p, len);
			in.p += len;
			in.n -= len;
			break;
		}
		case 3:
			wr(v, VIRTIO_MMIO_QUEUE_NOTIFY, (uint32_t)fuzz_take(&in, 1));
			break;
		case 4:
			init_sequence(v, &in);
			break;
		case 5:
			virtio_dev_poll(&v->net.vd);
			break;
		case 6:
			wr(v, VIRTIO_MMIO_INTERRUPT_ACK, (uint32_t)fuzz_take(&in, 4));
			break;
		case 7:
			wr(v, VIRTIO_MMIO_STATUS, 0);
			CHECK(!v->line && v->net.vd.status == 0);
			break;
		}
		check_invariants();
	}
	for (unsigned i = 0; i < 2; i++)
		for (unsigned k = 0; k < GUARD; k++)
			CHECK(vms[i].ram[RAM_SIZE + k] == 0xa5);
	return 0;
}
