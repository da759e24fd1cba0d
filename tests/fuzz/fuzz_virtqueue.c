/*
 * libFuzzer: a hostile guest driving a virtio-blk device through its
 * virtio-mmio registers (drivers/virtio/: virtio_mmio.c, virtio.c,
 * virtio_blk.c, virtqueue.c) with guest RAM it controls byte by byte.
 *
 * Nothing may crash or touch host memory outside guest RAM and the disk
 * (ASan + UBSan), and after every step:
 *   - the interrupt line is up exactly while InterruptStatus is not 0;
 *   - a queue in an error state means the device says DEVICE_NEEDS_RESET,
 *     and NEEDS_RESET always comes with a reason;
 *   - a ready queue's ring areas lie inside guest RAM;
 *   - guest ROM and the guard bytes after the disk are never written
 *     (checked once at the end of each input).
 *
 * Guest memory: RAM [0x10000, 0x20000), ROM [0x30000, 0x31000),
 * MMIO [0x40000, 0x41000) (some other device), holes elsewhere.
 * The disk: 16 sectors.
 *
 * Input: one option byte (bit 0 read-only, bit 1 discard, bit 2 write
 * zeroes, bit 3 no EVENT_IDX, bit 4 no packed ring), then operations
 * until the input ends, each an op byte (op % 8) and its arguments:
 *   0 write register  u16 offset (mod 0x200), u8 size, u32 value
 *   1 read register   u16 offset (mod 0x200), u8 size
 *   2 patch RAM       u16 offset, u8 length, that many bytes
 *   3 kick            u8 queue
 *   4 initialize      u64 driver features, u16 queue size, u16 offsets
 *                     of the descriptor, driver and device areas in RAM
 *                     (the 3.1.1 sequence through the registers)
 *   5 poll            (virtio_dev_poll: work left by a budget)
 *   6 acknowledge     u32 InterruptACK value
 *   7 reset           (Status = 0)
 * Integers little-endian; a short input reads as zeros.  Seeds in
 * tests/fuzz/corpus/virtqueue/ start from working split and packed
 * requests.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/virtio/virtio_blk.h"
#include "drivers/virtio/virtio_mmio.h"

#include "tests/fuzz/fuzz_assert.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_virtio.h"

#define RAM_GPA   0x10000ull
#define RAM_SIZE  0x10000ull
#define ROM_GPA   0x30000ull
#define MMIO_GPA  0x40000ull
#define DISK      (16 * 512)
#define GUARD     64

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t rom[4096] __attribute__((aligned(4096)));
static uint8_t disk[DISK + GUARD];
static struct gmem g;
static struct virtio_blk blk;
static struct virtio_mmio m;
static bool line;

static void set_irq(void *ctx, bool level)
{
	CHECK(ctx == &m);
	CHECK(level != line);
	line = level;
}

static void wr(uint32_t off, uint32_t val)
{
	virtio_mmio_write(&m, off, 4, val);
}

static void init_sequence(struct fuzz_input *in)
{
	uint64_t f = fuzz_take(in, 8);
	uint32_t num = (uint32_t)fuzz_take(in, 2);
	uint64_t desc = RAM_GPA + fuzz_take(in, 2), drv = RAM_GPA + fuzz_take(in, 2),
		 dev = RAM_GPA + fuzz_take(in, 2);

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)drv);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)dev);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static void check_invariants(void)
{
	const struct virtio_dev *vd = &blk.vd;

	CHECK(line == (m.interrupt_status != 0));
	fuzz_check_virtio_dev(vd, ram, RAM_SIZE);
}

/* Memory the device must never write: once per input (it is slow). */
static void check_untouched(void)
{
	for (unsigned i = 0; i < GUARD; i++)
		CHECK(disk[DISK + i] == 0xa5);
	for (unsigned i = 0; i < sizeof(rom); i++)
		CHECK(rom[i] == (uint8_t)i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t opt = (uint8_t)fuzz_take(&in, 1);
	struct virtio_blk_params p = {
		.mem = &g, .disk = disk, .disk_bytes = DISK,
		.read_only = opt & 1, .discard = opt & 2, .write_zeroes = opt & 4,
		.ring_features = VIRTIO_RING_FEATURES,
	};

	if (opt & 8)
		p.ring_features &= ~(1ull << VIRTIO_F_EVENT_IDX);
	if (opt & 16)
		p.ring_features &= ~(1ull << VIRTIO_F_RING_PACKED);
	memset(ram, 0, sizeof(ram));
	for (unsigned i = 0; i < sizeof(rom); i++)
		rom[i] = (uint8_t)i;
	memset(disk, 0, DISK);
	memset(disk + DISK, 0xa5, GUARD);
	gmem_init(&g);
	CHECK(gmem_add(&g, RAM_GPA, RAM_SIZE, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0) == 0);
	CHECK(gmem_add(&g, ROM_GPA, sizeof(rom), GMEM_ROM, (uint64_t)(uintptr_t)rom, 0) == 0);
	CHECK(gmem_add(&g, MMIO_GPA, 4096, GMEM_MMIO, 0, 9) == 0);
	CHECK(virtio_blk_init(&blk, &p) == 0);
	line = false;
	virtio_mmio_init(&m, &blk.vd, set_irq, &m);

	while (in.n > 0) {
		uint8_t op = (uint8_t)fuzz_take(&in, 1) % 8;

		switch (op) {
		case 0: {
			uint32_t off = (uint32_t)fuzz_take(&in, 2) % VIRTIO_MMIO_SIZE;
			unsigned sz = (unsigned)fuzz_take(&in, 1) % 5;
			uint32_t val = (uint32_t)fuzz_take(&in, 4);
			int rc = virtio_mmio_write(&m, off, sz, val);

			CHECK(rc == 0 || rc == 1);
			break;
		}
		case 1: {
			uint32_t off = (uint32_t)fuzz_take(&in, 2) % VIRTIO_MMIO_SIZE;
			unsigned sz = (unsigned)fuzz_take(&in, 1) % 5;
			uint32_t val = 0x12345678;
			int rc = virtio_mmio_read(&m, off, sz, &val);

			CHECK(rc == 0 || rc == 1);
			CHECK(rc == 0 || val == 0);
			if (rc == 0 && off == VIRTIO_MMIO_MAGIC_VALUE)
				CHECK(val == VIRTIO_MMIO_MAGIC);
			break;
		}
		case 2: {
			uint32_t off = (uint32_t)fuzz_take(&in, 2);
			size_t len = (size_t)fuzz_take(&in, 1);

			if (len > in.n)
				len = in.n;
			if (len > RAM_SIZE - off)
				len = RAM_SIZE - off;
			memcpy(ram + off, in.p, len);
			in.p += len;
			in.n -= len;
			break;
		}
		case 3:
			wr(VIRTIO_MMIO_QUEUE_NOTIFY, (uint32_t)fuzz_take(&in, 1));
			break;
		case 4:
			init_sequence(&in);
			break;
		case 5:
			virtio_dev_poll(&blk.vd);
			break;
		case 6:
			wr(VIRTIO_MMIO_INTERRUPT_ACK, (uint32_t)fuzz_take(&in, 4));
			break;
		case 7:
			wr(VIRTIO_MMIO_STATUS, 0);
			CHECK(!line && blk.vd.status == 0);
			break;
		}
		check_invariants();
	}
	check_untouched();
	return 0;
}
