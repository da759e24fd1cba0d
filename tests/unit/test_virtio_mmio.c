/*
 * Unit tests: drivers/virtio/virtio_mmio.c, the virtio-mmio version 2
 * register file (virtio 1.2, 4.2), in front of a virtio-blk device.  A
 * guest driver's view: 32-bit register accesses only, the 3.1.1 / 4.2.3
 * initialization sequence, kicks through QueueNotify, the interrupt line,
 * and what the device answers to a driver that gets it wrong.
 *
 * Guest RAM sits above 4 GiB, [0x100000000, 0x100040000), so the High
 * halves of the queue address registers matter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virtio/virtio_blk.h"
#include "drivers/virtio/virtio_mmio.h"
#include "tests/unit/virtio_test_drv.h"

#define HPA(p)       ((uint64_t)(uintptr_t)(p))
#define RAM_GPA      0x100000000ull
#define RAM_SIZE     0x40000ull
#define RING_GPA     RAM_GPA
#define TABLE_GPA    (RAM_GPA + 0x8000)
#define HDR_GPA      (RAM_GPA + 0x10000)
#define STATUS_GPA   (RAM_GPA + 0x10100)
#define DATA_GPA     (RAM_GPA + 0x11000)
#define F(bit)       (1ull << (bit))

#define S_ACK        VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV        VIRTIO_STATUS_DRIVER
#define S_FOK        VIRTIO_STATUS_FEATURES_OK
#define S_DOK        VIRTIO_STATUS_DRIVER_OK
#define S_RESET      VIRTIO_STATUS_NEEDS_RESET

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t disk[16 * 512];
static struct gmem g;
static struct virtio_blk blk;
static struct virtio_mmio m;
static struct tdrv d;
static bool line;
static unsigned line_raises, line_calls;

static void set_irq(void *ctx, bool level)
{
	assert_ptr_equal(ctx, &m);
	assert_true(level != line);             /* only changes are told */
	line = level;
	line_calls++;
	line_raises += level;
}

static int setup(void **state)
{
	struct virtio_blk_params p = {
		.mem = &g, .disk = disk, .disk_bytes = sizeof(disk),
		.ring_features = VIRTIO_RING_FEATURES,
	};

	(void)state;
	memset(ram, 0, sizeof(ram));
	memset(disk, 0x3c, sizeof(disk));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, RAM_GPA, RAM_SIZE, GMEM_RAM, HPA(ram), 0), 0);
	assert_int_equal(virtio_blk_init(&blk, &p), 0);
	line = false;
	line_raises = line_calls = 0;
	virtio_mmio_init(&m, &blk.vd, set_irq, &m);
	return 0;
}

static uint32_t rd(uint32_t off)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(virtio_mmio_read(&m, off, 4, &v), 0);
	return v;
}

static void wr(uint32_t off, uint32_t v)
{
	assert_int_equal(virtio_mmio_write(&m, off, 4, v), 0);
}

static uint8_t *host(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static uint64_t device_features(void)
{
	uint64_t f;

	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void driver_features(uint64_t f)
{
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* 4.2.3.2: the queue registers, then QueueReady. */
static void setup_queue(bool packed, bool event_idx, uint16_t num)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_QUEUE_NUM_MAX) >= num);
	tdrv_init(&d, ram, RAM_GPA, packed, event_idx, num, RING_GPA, TABLE_GPA);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d.desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(d.desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d.driver);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(d.driver >> 32));
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d.device);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(d.device >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The whole 3.1.1 sequence, as Linux's virtio_mmio does it. */
static void init_device(bool packed, bool event_idx, uint16_t num)
{
	uint64_t f;

	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	f = device_features();
	if (!packed)
		f &= ~F(VIRTIO_F_RING_PACKED);
	if (!event_idx)
		f &= ~F(VIRTIO_F_EVENT_IDX);
	driver_features(f);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
	setup_queue(packed, event_idx, num);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK | S_DOK);
}

/* One read request of one sector; returns the status byte. */
static uint8_t read_sector(uint64_t sector)
{
	struct tbuf b[3] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, true },
			     { STATUS_GPA, 1, true } };
	uint32_t type = VIRTIO_BLK_T_IN;
	uint16_t id;
	uint32_t len;

	memcpy(host(HDR_GPA), &type, 4);
	memcpy(host(HDR_GPA + 8), &sector, 8);
	*host(STATUS_GPA) = 0xee;
	tdrv_add(&d, b, 3, false);
	if (tdrv_kick_needed(&d))
		wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	if (!tdrv_get_used(&d, &id, &len))
		return 0xff;                    /* not served */
	return *host(STATUS_GPA);
}

/* ---- the register file ------------------------------------------------------- */

static void identity_registers(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), 2);
	assert_int_equal(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
	/* no shared memory regions: -1 (4.2.2) */
	assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd(VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffffu);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_RESET), 0);
	/* 32-bit aligned accesses only (4.2.2.2) */
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_MAGIC_VALUE, 2, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_MAGIC_VALUE + 1, 4, &v), 1);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_MAGIC_VALUE, 1, &v), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_STATUS, 1, S_ACK), 1);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	/* write-only registers read 0; read-only ones ignore writes */
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_QUEUE_NOTIFY, 4, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, &v), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_MAGIC_VALUE, 4, 0), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_INTERRUPT_STATUS, 4, 0), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_RESET, 4, 1), 1);
	/* holes and beyond the window */
	assert_int_equal(virtio_mmio_read(&m, 0x018, 4, &v), 1);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_SIZE, 4, &v), 1);
	assert_int_equal(virtio_mmio_write(&m, 0xffffffffu, 4, 0), 1);
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
}

static void config_space(void **state)
{
	uint32_t v;

	(void)state;
	/* capacity, a le64 read as two 32-bit halves (4.2.2.2) */
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY), 16);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY + 4), 0);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX), VIRTIO_BLK_SEG_MAX);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE), 512);
	/* byte and 16-bit accesses */
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY, 1, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE + 1, 2,
					  &v), 0);
	assert_int_equal(v, 2);                 /* 512 >> 8 */
	/* the last byte, and past the end */
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG + 59, 1, &v), 0);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG + 58, 4, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG + 60, 1, &v), 1);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG + 0xfc, 4, &v), 1);
	assert_int_equal(virtio_mmio_read(&m, VIRTIO_MMIO_CONFIG, 3, &v), 1);
	/* virtio-blk's config is read-only here (no CONFIG_WCE) */
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_WRITEBACK, 1, 1), 1);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY), 16);
}

/* ---- initialization, negotiation -------------------------------------------- */

static void init_sequence_and_io(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		setup(NULL);
		init_device(packed, packed, 8);
		assert_true(blk.vd.vq[0].packed == packed);
		assert_true(blk.vd.vq[0].event_idx == packed);
		for (int i = 0; i < 512; i++)
			disk[512 * 3 + i] = (uint8_t)i;
		assert_int_equal(read_sector(3), VIRTIO_BLK_S_OK);
		assert_memory_equal(host(DATA_GPA), disk + 512 * 3, 512);
		/* the used buffer raised the line, InterruptStatus says why */
		assert_true(line);
		assert_int_equal(line_raises, 1);
		assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
		/* a second completion while the line is up: no new edge */
		if (!packed) {
			assert_int_equal(read_sector(4), VIRTIO_BLK_S_OK);
			assert_int_equal(line_raises, 1);
		}
		/* ACK drops it; undefined bits are ignored */
		wr(VIRTIO_MMIO_INTERRUPT_ACK, 0xfffffffc);
		assert_true(line);
		wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
		assert_false(line);
		assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
		assert_int_equal(read_sector(5), VIRTIO_BLK_S_OK);
		assert_true(line);
		/* a reset clears InterruptStatus and the line (4.2.2.1) */
		wr(VIRTIO_MMIO_STATUS, 0);
		assert_false(line);
		assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
		assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
		assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
		/* and the device comes back */
		memset(ram, 0, sizeof(ram));
		init_device(packed, false, 8);
		assert_int_equal(read_sector(0), VIRTIO_BLK_S_OK);
	}
}

static void feature_negotiation(void **state)
{
	uint64_t f;

	(void)state;
	f = device_features();
	assert_true(f & F(VIRTIO_F_VERSION_1));
	assert_true(f & F(VIRTIO_BLK_F_FLUSH));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);                 /* no bits there */
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* without VERSION_1: FEATURES_OK does not stick (2.2.2, 6.2) */
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	driver_features(f & ~F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV);
	/* a bit the device did not offer: refused too */
	driver_features(F(VIRTIO_F_VERSION_1) | F(50));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_false(rd(VIRTIO_MMIO_STATUS) & S_FOK);
	/* a subset: accepted */
	driver_features(F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	assert_true(rd(VIRTIO_MMIO_STATUS) & S_FOK);
	/* after FEATURES_OK, feature writes change nothing (3.1.1) */
	driver_features(f);
	assert_int_equal(blk.vd.driver_features, F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH));
	/* status bits are not cleared by writing fewer (2.1.1) */
	wr(VIRTIO_MMIO_STATUS, S_ACK);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), S_ACK | S_DRV | S_FOK);
	assert_false(blk.vd.status & S_RESET);
}

static void queue_registers(void **state)
{
	(void)state;
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);                   /* blk has one queue */
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_NUM, 4, 8), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_READY, 4, 1), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0), 1);

	init_device(false, false, 8);
	/* while ready, the queue's setup registers are left alone (4.2.2.2) */
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_NUM, 4, 16), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_DESC_LOW, 4, 0), 1);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 4, 7), 1);
	assert_int_equal(blk.vd.vq[0].num, 8);
	assert_int_equal(blk.vd.vq[0].desc_gpa, RING_GPA);
	/* stopping: write 0, read back 0 */
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(virtio_mmio_write(&m, VIRTIO_MMIO_QUEUE_NUM, 4, 16), 0);
}

/* ---- hostile drivers ---------------------------------------------------------- */

static void queue_size_not_power_of_two(void **state)
{
	(void)state;
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	driver_features(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	tdrv_init(&d, ram, RAM_GPA, false, false, 8, RING_GPA, TABLE_GPA);
	setup_queue(false, false, 8);
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 100);         /* split: must be 2^n (2.7) */
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_STATUS) & S_RESET);
	assert_int_equal(blk.vd.reset_vq_error, VQ_E_SIZE);
	/* before DRIVER_OK there is no config interrupt to send (2.1.2) */
	assert_false(line);
	/* the driver has to reset; then a packed queue of 100 is fine */
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	driver_features(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	setup_queue(true, false, 100);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(read_sector(1), VIRTIO_BLK_S_OK);
	/* larger than QueueNumMax */
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	driver_features(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	wr(VIRTIO_MMIO_QUEUE_NUM, 512);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_true(rd(VIRTIO_MMIO_STATUS) & S_RESET);
}

static void out_of_order_initialization(void **state)
{
	(void)state;
	/* a queue before FEATURES_OK: the ring format is not known yet */
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	setup_queue(false, false, 8);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_STATUS) & S_RESET);
	assert_string_equal(blk.vd.reset_reason, "queue enabled before FEATURES_OK");
	/* DRIVER_OK without FEATURES_OK */
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_DOK);
	assert_true(rd(VIRTIO_MMIO_STATUS) & S_RESET);
	assert_true(line);                      /* DRIVER_OK was set: config irq */
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	/* rings outside guest RAM */
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_false(line);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	driver_features(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	tdrv_init(&d, ram, RAM_GPA, false, false, 8, RING_GPA, TABLE_GPA);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);         /* high half 0: a hole */
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d.driver);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(d.driver >> 32));
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d.device);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(d.device >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(blk.vd.reset_vq_error, VQ_E_RING_ADDR);
}

static void kicks_before_driver_ok(void **state)
{
	struct tbuf b[3] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, true },
			     { STATUS_GPA, 1, true } };
	uint16_t id;
	uint32_t len;

	(void)state;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);                /* before anything */
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV);
	driver_features(F(VIRTIO_F_VERSION_1));
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK);
	setup_queue(false, false, 8);
	memset(host(HDR_GPA), 0, 16);
	tdrv_add(&d, b, 3, false);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);                /* queue ready, no DRIVER_OK */
	assert_false(tdrv_get_used(&d, &id, &len));
	assert_int_equal(blk.vd.kicks_ignored, 2);
	assert_int_equal(blk.requests, 0);
	assert_false(rd(VIRTIO_MMIO_STATUS) & S_RESET);         /* not an error */
	assert_false(line);
	wr(VIRTIO_MMIO_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 5);                /* no such queue */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffffu);
	assert_int_equal(blk.vd.kicks_ignored, 4);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(tdrv_get_used(&d, &id, &len));
	assert_int_equal(blk.requests, 1);
}

/* A broken chain after DRIVER_OK: NEEDS_RESET, announced with a config
 * change interrupt (2.1.2); the device serves nothing until reset. */
static void needs_reset_after_driver_ok(void **state)
{
	(void)state;
	init_device(false, false, 8);
	tdrv_st16(&d, d.driver + 4, 8);                 /* head index 8 of 8 */
	tdrv_st16(&d, d.driver + 2, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(rd(VIRTIO_MMIO_STATUS) & S_RESET);
	assert_int_equal(blk.vd.reset_vq_error, VQ_E_INDEX);
	assert_true(line);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	assert_false(line);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(blk.vd.kicks_ignored, 1);
	assert_false(line);
	/* the way out is a reset */
	wr(VIRTIO_MMIO_STATUS, 0);
	memset(ram, 0, sizeof(ram));
	init_device(false, false, 8);
	assert_int_equal(read_sector(2), VIRTIO_BLK_S_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(identity_registers, setup),
		cmocka_unit_test_setup(config_space, setup),
		cmocka_unit_test_setup(init_sequence_and_io, setup),
		cmocka_unit_test_setup(feature_negotiation, setup),
		cmocka_unit_test_setup(queue_registers, setup),
		cmocka_unit_test_setup(queue_size_not_power_of_two, setup),
		cmocka_unit_test_setup(out_of_order_initialization, setup),
		cmocka_unit_test_setup(kicks_before_driver_ok, setup),
		cmocka_unit_test_setup(needs_reset_after_driver_ok, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
