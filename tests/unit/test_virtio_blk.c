/*
 * Unit tests: drivers/virtio/virtio_blk.c (with the transport-neutral core
 * drivers/virtio/virtio.c and the virtqueue), driven the way a guest
 * driver would: negotiate, set up the queue, post requests with the
 * driver in tests/unit/virtio_test_drv.h, kick, read the status byte.
 * No transport: the core's interrupt hook is called directly.
 *
 * Guest RAM [0x100000, 0x140000); the RAM disk is a host buffer of
 * DISK_SECTORS sectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virtio/virtio_blk.h"
#include "tests/unit/virtio_test_drv.h"

#define HPA(p)       ((uint64_t)(uintptr_t)(p))
#define RAM_GPA      0x100000ull
#define RAM_SIZE     0x40000ull
#define RING_GPA     RAM_GPA
#define TABLE_GPA    (RAM_GPA + 0x8000)
#define HDR_GPA      (RAM_GPA + 0x10000)
#define STATUS_GPA   (RAM_GPA + 0x10100)
#define DATA_GPA     (RAM_GPA + 0x11000)
#define DISK_SECTORS 64
#define F(bit)       (1ull << (bit))

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t disk[DISK_SECTORS * 512];
static struct gmem g;
static struct virtio_blk blk;
static struct tdrv d;
static unsigned irq_used, irq_config, log_lines;
static const char *last_log;
static bool last_log_fatal;

static void on_interrupt(void *t, uint32_t why)
{
	(void)t;
	irq_used += !!(why & VIRTIO_INT_USED);
	irq_config += !!(why & VIRTIO_INT_CONFIG);
}

static void on_log(void *ctx, bool fatal, const char *what, uint64_t value)
{
	(void)ctx;
	(void)value;
	log_lines++;
	last_log = what;
	last_log_fatal = fatal;
}

static uint8_t *host(uint64_t gpa)
{
	return ram + (gpa - RAM_GPA);
}

static struct virtio_blk_params params(void)
{
	return (struct virtio_blk_params){
		.mem = &g, .disk = disk, .disk_bytes = sizeof(disk),
		.ring_features = VIRTIO_RING_FEATURES,
	};
}

/* The 3.1.1 sequence; accept what the device offers except the ring
 * features the test does not want. */
static void negotiate(bool packed, bool event_idx, uint16_t num)
{
	struct virtio_dev *vd = &blk.vd;
	uint64_t f;

	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	f = vd->device_features;
	if (!packed)
		f &= ~F(VIRTIO_F_RING_PACKED);
	if (!event_idx)
		f &= ~F(VIRTIO_F_EVENT_IDX);
	virtio_dev_set_driver_features(vd, 0, (uint32_t)f);
	virtio_dev_set_driver_features(vd, 1, (uint32_t)(f >> 32));
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK);
	assert_true(vd->status & VIRTIO_STATUS_FEATURES_OK);

	tdrv_init(&d, ram, RAM_GPA, packed, event_idx, num, RING_GPA, TABLE_GPA);
	tdrv_configure(&d, &vd->vq[0]);
	virtio_dev_queue_ready(vd, 0, true);
	assert_true(vd->vq[0].ready);
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_true(virtio_dev_live(vd));
}

static void bring_up_with(const struct virtio_blk_params *p, bool packed, bool event_idx,
			  uint16_t num)
{
	assert_int_equal(virtio_blk_init(&blk, p), 0);
	blk.vd.interrupt = on_interrupt;
	blk.vd.log = on_log;
	irq_used = irq_config = log_lines = 0;
	last_log = NULL;
	negotiate(packed, event_idx, num);
}

static void bring_up(bool packed)
{
	struct virtio_blk_params p = params();

	bring_up_with(&p, packed, false, 16);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 512);
}

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	for (size_t i = 0; i < sizeof(disk); i++)
		disk[i] = pattern(i);
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, RAM_GPA, RAM_SIZE, GMEM_RAM, HPA(ram), 0), 0);
	return 0;
}

static void put_header(uint32_t type, uint64_t sector)
{
	memset(host(HDR_GPA), 0, 16);
	memcpy(host(HDR_GPA), &type, 4);
	memcpy(host(HDR_GPA + 8), &sector, 8);
}

/* Post a chain, kick if the driver must, take the used element. */
static uint32_t submit(const struct tbuf *b, unsigned n, bool indirect)
{
	uint16_t id, uid;
	uint32_t len = 0xdeadbeef;

	*host(STATUS_GPA) = 0xee;
	id = tdrv_add(&d, b, n, indirect);
	if (tdrv_kick_needed(&d))
		virtio_dev_notify(&blk.vd, 0);
	assert_true(tdrv_get_used(&d, &uid, &len));
	assert_int_equal(uid, id);
	return len;
}

/* A well-formed request: header | data (len bytes, direction) | status. */
static uint8_t request(uint32_t type, uint64_t sector, uint32_t len, bool data_write,
		       uint32_t *used)
{
	struct tbuf b[3] = { { HDR_GPA, 16, false }, { DATA_GPA, len, data_write },
			     { STATUS_GPA, 1, true } };
	uint32_t u;

	put_header(type, sector);
	if (len == 0)
		b[1] = b[2];
	u = submit(b, len ? 3 : 2, false);
	if (used != NULL)
		*used = u;
	return *host(STATUS_GPA);
}

/* ---- config space and features ------------------------------------------- */

static uint64_t cfg(uint32_t off, unsigned len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	blk.vd.ops->config_read(&blk.vd, off, b, len);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void config_and_features(void **state)
{
	struct virtio_blk_params p = params();
	uint64_t f;

	(void)state;
	p.disk_bytes = sizeof(disk) + 100;      /* a partial sector is not used */
	assert_int_equal(virtio_blk_init(&blk, &p), 0);
	assert_int_equal(blk.vd.device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(blk.vd.config_size, 60);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_CAPACITY, 8), DISK_SECTORS);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_SEG_MAX, 4), VQ_MAX_CHAIN - 2);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1), 0);
	f = blk.vd.device_features;
	assert_true(f & F(VIRTIO_F_VERSION_1));
	assert_true(f & F(VIRTIO_BLK_F_SEG_MAX));
	assert_true(f & F(VIRTIO_BLK_F_BLK_SIZE));
	assert_true(f & F(VIRTIO_BLK_F_FLUSH));
	assert_true(f & F(VIRTIO_F_RING_PACKED));
	assert_true(f & F(VIRTIO_F_EVENT_IDX));
	assert_true(f & F(VIRTIO_F_INDIRECT_DESC));
	assert_false(f & F(VIRTIO_BLK_F_RO));
	assert_false(f & F(VIRTIO_BLK_F_DISCARD));
	assert_false(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(blk.vd.vq[0].num_max, VIRTIO_BLK_QUEUE_SIZE);

	p.read_only = p.discard = p.write_zeroes = true;
	p.blk_size = 4096;
	p.ring_features = 0;                    /* VERSION_1 is always there */
	assert_int_equal(virtio_blk_init(&blk, &p), 0);
	f = blk.vd.device_features;
	assert_true(f & F(VIRTIO_BLK_F_RO));
	assert_true(f & F(VIRTIO_BLK_F_DISCARD));
	assert_true(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(f & F(VIRTIO_F_VERSION_1));
	assert_false(f & F(VIRTIO_F_EVENT_IDX));
	assert_int_equal(cfg(VIRTIO_BLK_CFG_BLK_SIZE, 4), 4096);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), VIRTIO_BLK_DWZ_SEG_MAX);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4), VIRTIO_BLK_DWZ_SECTORS_MAX);

	/* unusable parameters */
	p.id = "an ID of twenty-one.";
	assert_int_equal(virtio_blk_init(&blk, &p), 0);         /* exactly 20 */
	p.id = "an ID of twenty-one!!";
	assert_int_equal(virtio_blk_init(&blk, &p), -1);
	p = params();
	p.disk = NULL;
	assert_int_equal(virtio_blk_init(&blk, &p), -1);
	p = params();
	p.mem = NULL;
	assert_int_equal(virtio_blk_init(&blk, &p), -1);
}

/* ---- the requests ------------------------------------------------------------ */

static void write_then_read(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		uint32_t used;

		setup(NULL);
		bring_up(packed);
		for (int i = 0; i < 3 * 512; i++)
			host(DATA_GPA)[i] = (uint8_t)(i ^ 0x5a);
		assert_int_equal(request(VIRTIO_BLK_T_OUT, 3, 3 * 512, false, &used), VIRTIO_BLK_S_OK);
		assert_int_equal(used, 1);              /* the status byte */
		assert_memory_equal(disk + 3 * 512, host(DATA_GPA), 3 * 512);
		for (int i = 2 * 512; i < 3 * 512; i++)         /* neighbours kept */
			assert_int_equal(disk[i], pattern(i));
		for (int i = 6 * 512; i < 7 * 512; i++)
			assert_int_equal(disk[i], pattern(i));

		memset(host(DATA_GPA), 0, 4 * 512);
		assert_int_equal(request(VIRTIO_BLK_T_IN, 2, 4 * 512, true, &used), VIRTIO_BLK_S_OK);
		assert_int_equal(used, 4 * 512 + 1);    /* data and status */
		assert_memory_equal(host(DATA_GPA), disk + 2 * 512, 4 * 512);
		assert_int_equal(blk.bytes_written, 3 * 512);
		assert_int_equal(blk.bytes_read, 4 * 512);
		assert_int_equal(blk.requests, 2);
		assert_int_equal(blk.ioerr + blk.unsupp, 0);
	}
}

/* 2.7.4: the device must not care how a request is cut into descriptors:
 * header in two pieces, data in odd pieces, data and status in one. */
static void any_framing(void **state)
{
	(void)state;
	for (int indirect = 0; indirect < 2; indirect++) {
		struct tbuf out[5] = {
			{ HDR_GPA, 10, false }, { HDR_GPA + 10, 6, false },
			{ DATA_GPA, 100, false }, { DATA_GPA + 100, 924, false },
			{ STATUS_GPA, 1, true },
		};
		/* one writable buffer holding 2 sectors and the status byte */
		struct tbuf in[2] = { { HDR_GPA, 16, false }, { DATA_GPA + 0x2000, 1025, true } };

		setup(NULL);
		bring_up(indirect);             /* split direct, packed indirect */
		for (int i = 0; i < 1024; i++)
			host(DATA_GPA)[i] = (uint8_t)(i * 13);
		put_header(VIRTIO_BLK_T_OUT, 10);
		assert_int_equal(submit(out, 5, indirect), 1);
		assert_int_equal(*host(STATUS_GPA), VIRTIO_BLK_S_OK);
		assert_memory_equal(disk + 10 * 512, host(DATA_GPA), 1024);

		put_header(VIRTIO_BLK_T_IN, 10);
		host(DATA_GPA + 0x2000)[1024] = 0xee;
		assert_int_equal(submit(in, 2, indirect), 1025);
		assert_memory_equal(host(DATA_GPA + 0x2000), disk + 10 * 512, 1024);
		assert_int_equal(host(DATA_GPA + 0x2000)[1024], VIRTIO_BLK_S_OK);
	}
}

static void flush_and_get_id(void **state)
{
	struct virtio_blk_params p = params();
	uint32_t used;

	(void)state;
	bring_up(false);
	assert_int_equal(request(VIRTIO_BLK_T_FLUSH, 0, 0, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	/* a flush carries no data */
	assert_int_equal(request(VIRTIO_BLK_T_FLUSH, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);

	memset(host(DATA_GPA), 0xff, 64);
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 20, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(host(DATA_GPA), "nestor-ramdisk\0\0\0\0\0\0", 20);
	/* a short buffer gets the start; a long one the ID then zeros */
	memset(host(DATA_GPA), 0xff, 64);
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 6, true, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(host(DATA_GPA), "nestor", 6);
	assert_int_equal(host(DATA_GPA)[6], 0xff);
	memset(host(DATA_GPA), 0xff, 64);
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 32, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 33);
	for (int i = 14; i < 32; i++)
		assert_int_equal(host(DATA_GPA)[i], 0);
	/* 20 characters: no terminator */
	p.id = "ABCDEFGHIJKLMNOPQRST";
	bring_up_with(&p, false, false, 16);
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 20, true, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(host(DATA_GPA), "ABCDEFGHIJKLMNOPQRST", 20);
}

static void out_of_range(void **state)
{
	static const struct { uint64_t sector; uint32_t sectors; uint8_t status; } cases[] = {
		{ DISK_SECTORS - 1, 1, VIRTIO_BLK_S_OK },
		{ DISK_SECTORS - 1, 2, VIRTIO_BLK_S_IOERR },    /* runs off the end */
		{ DISK_SECTORS, 1, VIRTIO_BLK_S_IOERR },
		{ DISK_SECTORS, 0, VIRTIO_BLK_S_OK },           /* nothing to move  */
		{ 1ull << 55, 1, VIRTIO_BLK_S_IOERR },          /* *512 overflows   */
		{ UINT64_MAX, 1, VIRTIO_BLK_S_IOERR },
		{ UINT64_MAX / 512 + 2, 1, VIRTIO_BLK_S_IOERR },
	};
	uint8_t before[sizeof(disk)];

	(void)state;
	bring_up(false);
	memcpy(before, disk, sizeof(disk));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t used, len = cases[i].sectors * 512;

		/* reads: on error the data area comes back as zeros */
		memset(host(DATA_GPA), 0xab, 1024);
		assert_int_equal(request(VIRTIO_BLK_T_IN, cases[i].sector, len, true, &used),
				 cases[i].status);
		assert_int_equal(used, len + 1);
		if (cases[i].status != VIRTIO_BLK_S_OK)
			for (uint32_t j = 0; j < len; j++)
				assert_int_equal(host(DATA_GPA)[j], 0);
		/* writes: on error the disk is untouched */
		memset(host(DATA_GPA), 0xcd, 1024);
		assert_int_equal(request(VIRTIO_BLK_T_OUT, cases[i].sector, len, false, NULL),
				 cases[i].status);
		if (cases[i].status != VIRTIO_BLK_S_OK)
			assert_memory_equal(disk, before, sizeof(disk));
		else
			memcpy(before, disk, sizeof(disk));
	}
	assert_true(blk.ioerr > 0);
	assert_true(virtio_dev_live(&blk.vd));          /* nothing fatal */
}

static void malformed_requests(void **state)
{
	uint8_t before[sizeof(disk)];
	uint32_t used;

	(void)state;
	bring_up(false);
	memcpy(before, disk, sizeof(disk));

	/* header too short: IOERR */
	{
		struct tbuf b[2] = { { HDR_GPA, 8, false }, { STATUS_GPA, 1, true } };
		put_header(VIRTIO_BLK_T_IN, 0);
		assert_int_equal(submit(b, 2, false), 1);
		assert_int_equal(*host(STATUS_GPA), VIRTIO_BLK_S_IOERR);
	}
	/* no status byte: nowhere to answer -- used length 0, logged */
	{
		struct tbuf b[2] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, false } };
		put_header(VIRTIO_BLK_T_OUT, 0);
		log_lines = 0;
		assert_int_equal(submit(b, 2, false), 0);
		assert_int_equal(blk.no_status, 1);
		assert_int_equal(log_lines, 1);
		assert_false(last_log_fatal);
		assert_memory_equal(disk, before, sizeof(disk));
	}
	/* a read whose data buffer is device-readable ("a device-writable
	 * buffer marked read-only"): IOERR, and the buffer is not written */
	memset(host(DATA_GPA), 0x11, 512);
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 512, false, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	for (int i = 0; i < 512; i++)
		assert_int_equal(host(DATA_GPA)[i], 0x11);
	/* a write whose data is device-writable: IOERR, disk untouched */
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	assert_memory_equal(disk, before, sizeof(disk));
	/* lengths that are not whole sectors */
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 511, true, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, 513, false, NULL), VIRTIO_BLK_S_IOERR);
	assert_memory_equal(disk, before, sizeof(disk));
	/* unknown and unoffered types: UNSUPP */
	assert_int_equal(request(99, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(10 /* GET_LIFETIME */, 0, 8, true, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, 16, false, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_memory_equal(disk, before, sizeof(disk));
	/* none of this needs a reset: the driver got its answers */
	assert_true(virtio_dev_live(&blk.vd));
	assert_true(blk.ioerr >= 5);
	assert_true(blk.unsupp >= 4);
}

static void read_only_disk(void **state)
{
	struct virtio_blk_params p = params();
	uint8_t before[sizeof(disk)];

	(void)state;
	p.read_only = p.write_zeroes = true;
	bring_up_with(&p, false, false, 16);
	assert_true(virtio_has_feature(&blk.vd, VIRTIO_BLK_F_RO));
	memcpy(before, disk, sizeof(disk));
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, NULL), VIRTIO_BLK_S_IOERR);
	assert_memory_equal(disk, before, sizeof(disk));
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 512, true, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(host(DATA_GPA), disk, 512);
}

static void put_seg(unsigned i, uint64_t sector, uint32_t count, uint32_t flags)
{
	uint8_t *s = host(DATA_GPA) + 16 * i;

	memcpy(s, &sector, 8);
	memcpy(s + 8, &count, 4);
	memcpy(s + 12, &flags, 4);
}

static void discard_and_write_zeroes(void **state)
{
	struct virtio_blk_params p = params();
	uint8_t before[sizeof(disk)];

	(void)state;
	p.discard = p.write_zeroes = true;
	bring_up_with(&p, true, false, 16);
	memcpy(before, disk, sizeof(disk));

	/* WRITE_ZEROES over two segments, one with unmap */
	put_seg(0, 4, 2, 0);
	put_seg(1, 20, 1, VIRTIO_BLK_WZ_F_UNMAP);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, false, NULL), VIRTIO_BLK_S_OK);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(disk[4 * 512 + i], 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(disk[20 * 512 + i], 0);
	assert_memory_equal(disk, before, 4 * 512);
	assert_memory_equal(disk + 6 * 512, before + 6 * 512, 14 * 512);
	memcpy(before, disk, sizeof(disk));

	/* DISCARD: accepted, data left as it was (allowed, 5.2.6) */
	put_seg(0, 30, 4, 0);
	assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, 16, false, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(disk, before, sizeof(disk));

	/* 5.2.6.2: unmap on a discard, or an unknown flag: UNSUPP */
	put_seg(0, 30, 4, VIRTIO_BLK_WZ_F_UNMAP);
	assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, 16, false, NULL), VIRTIO_BLK_S_UNSUPP);
	put_seg(0, 30, 4, 2);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	/* a bad second segment: IOERR, and the good first one is not done */
	put_seg(0, 0, 1, 0);
	put_seg(1, DISK_SECTORS - 1, 2, 0);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	put_seg(1, 0, VIRTIO_BLK_DWZ_SECTORS_MAX + 1, 0);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_memory_equal(disk, before, sizeof(disk));
	/* segment list: empty, ragged, too many, or device-writable */
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, false, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 24, false, NULL), VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i <= VIRTIO_BLK_DWZ_SEG_MAX; i++)
		put_seg(i, 0, 1, 0);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16 * (VIRTIO_BLK_DWZ_SEG_MAX + 1),
				 false, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, true, NULL), VIRTIO_BLK_S_IOERR);
	assert_memory_equal(disk, before, sizeof(disk));
}

/* A disk of no sectors (NULL buffer): every transfer but an empty one is
 * out of range, and nothing dereferences the NULL. */
static void empty_disk(void **state)
{
	struct virtio_blk_params p = params();

	(void)state;
	p.disk = NULL;
	p.disk_bytes = 0;
	p.write_zeroes = true;
	bring_up_with(&p, false, false, 16);
	assert_int_equal(cfg(VIRTIO_BLK_CFG_CAPACITY, 8), 0);
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 0, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	put_seg(0, 0, 0, 0);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, NULL), VIRTIO_BLK_S_OK);
	put_seg(0, 0, 1, 0);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, NULL),
			 VIRTIO_BLK_S_IOERR);
}

/* ---- notifications with and without EVENT_IDX ------------------------------ */

struct counts {
	unsigned kicks, interrupts;
};

/* n single-sector reads posted one after the other; the driver checks
 * whether to kick after each, and (like Linux's "delayed callback") asks
 * for an interrupt only after the last one when it can. */
static struct counts run_reads(bool packed, bool event_idx, unsigned n)
{
	struct counts r = { 0, 0 };
	struct virtio_blk_params p = params();

	setup(NULL);
	bring_up_with(&p, packed, event_idx, 16);
	if (event_idx && !packed)
		tdrv_set_used_event(&d, (uint16_t)(n - 1));
	if (event_idx && packed)
		tdrv_set_driver_event(&d, RING_EVENT_FLAGS_DESC, (uint16_t)(2 * (n - 1)), true);
	for (unsigned i = 0; i < n; i++) {
		struct tbuf b[2] = { { HDR_GPA + 16 * i, 16, false },
				     { DATA_GPA + 1024 * i, 513, true } };
		/* header + (data and status in one buffer: 511 + 1, odd but
		 * legal) -- keeps two descriptors per request */
		put_header(VIRTIO_BLK_T_IN, i);
		memcpy(host(HDR_GPA + 16 * i), host(HDR_GPA), 16);
		tdrv_add(&d, b, 2, false);
		if (tdrv_kick_needed(&d)) {
			r.kicks++;
			virtio_dev_notify(&blk.vd, 0);
		}
	}
	r.interrupts = irq_used;
	assert_int_equal(blk.vd.interrupts, irq_used);
	assert_int_equal(blk.requests, n);
	return r;
}

static void notification_counts(void **state)
{
	struct counts c;

	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		/* Without EVENT_IDX: the device serves each request during its
		 * kick and re-enables kicks; each completion interrupts. */
		c = run_reads(packed, false, 6);
		assert_int_equal(c.kicks, 6);
		assert_int_equal(c.interrupts, 6);
		/* With EVENT_IDX the driver names the completion it wants to
		 * hear about: one interrupt for six requests. */
		c = run_reads(packed, true, 6);
		assert_int_equal(c.kicks, 6);
		assert_int_equal(c.interrupts, 1);
	}
	/* A batch: six requests, one kick, one interrupt. */
	setup(NULL);
	bring_up(false);
	for (unsigned i = 0; i < 6; i++) {
		struct tbuf b[2] = { { HDR_GPA, 16, false }, { DATA_GPA + 1024 * i, 513, true } };
		put_header(VIRTIO_BLK_T_IN, i);
		tdrv_add(&d, b, 2, false);
	}
	assert_true(tdrv_kick_needed(&d));
	virtio_dev_notify(&blk.vd, 0);
	assert_int_equal(blk.requests, 6);
	assert_int_equal(irq_used, 1);
}

/* ---- errors that need a reset ------------------------------------------------ */

static void needs_reset_and_recovery(void **state)
{
	struct virtio_dev *vd = &blk.vd;
	uint64_t e;
	uint32_t used;

	(void)state;
	bring_up(false);
	/* a descriptor loop: 0 -> 1 -> 0 */
	e = d.desc;
	tdrv_st64(&d, e, HDR_GPA);
	tdrv_st32(&d, e + 8, 16);
	tdrv_st16(&d, e + 12, VIRTQ_DESC_F_NEXT);
	tdrv_st16(&d, e + 14, 1);
	tdrv_st64(&d, e + 16, STATUS_GPA);
	tdrv_st32(&d, e + 24, 1);
	tdrv_st16(&d, e + 28, VIRTQ_DESC_F_NEXT);
	tdrv_st16(&d, e + 30, 0);
	tdrv_st16(&d, d.driver + 4, 0);
	tdrv_st16(&d, d.driver + 2, 1);
	virtio_dev_notify(vd, 0);
	assert_true(vd->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(vd->reset_vq_error, VQ_E_CHAIN_LOOP);
	assert_string_equal(vd->reset_reason, vq_strerror(VQ_E_CHAIN_LOOP));
	assert_true(last_log_fatal);
	assert_int_equal(irq_config, 1);        /* 2.1.2: config change */
	assert_false(virtio_dev_live(vd));
	/* further kicks are ignored */
	virtio_dev_notify(vd, 0);
	assert_int_equal(vd->kicks_ignored, 1);
	/* the driver writes NEEDS_RESET itself: no effect, it is ours */
	virtio_dev_set_status(vd, vd->status | VIRTIO_STATUS_NEEDS_RESET);

	/* reset and start over: everything works again */
	virtio_dev_set_status(vd, 0);
	assert_int_equal(vd->status, 0);
	assert_false(vd->vq[0].ready);
	assert_int_equal(vd->vq[0].error, VQ_OK);
	assert_null(vd->reset_reason);
	memset(ram, 0, RAM_SIZE);
	negotiate(false, false, 16);    /* the same device, renegotiated */
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 512, true, &used), VIRTIO_BLK_S_OK);
}

/* 2.1.2: no buffers consumed before DRIVER_OK; the kick is logged. */
static void kick_before_driver_ok(void **state)
{
	struct virtio_dev *vd = &blk.vd;
	struct tbuf b[3] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, false },
			     { STATUS_GPA, 1, true } };
	uint8_t before[sizeof(disk)];
	uint16_t id;
	uint32_t len;

	(void)state;
	bring_up(false);
	virtio_dev_set_status(vd, 0);   /* again, stopping before DRIVER_OK */
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_dev_set_driver_features(vd, 1, 1);               /* VERSION_1 */
	virtio_dev_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK);
	tdrv_init(&d, ram, RAM_GPA, false, false, 16, RING_GPA, TABLE_GPA);
	tdrv_configure(&d, &vd->vq[0]);
	virtio_dev_queue_ready(vd, 0, true);
	memcpy(before, disk, sizeof(disk));
	memset(host(DATA_GPA), 0x42, 512);
	put_header(VIRTIO_BLK_T_OUT, 0);
	tdrv_add(&d, b, 3, false);
	log_lines = 0;
	virtio_dev_notify(vd, 0);
	virtio_dev_notify(vd, 0);
	virtio_dev_notify(vd, 0);
	assert_int_equal(vd->kicks_ignored, 3);
	assert_int_equal(log_lines, 2);                 /* the 1st and 2nd */
	assert_false(last_log_fatal);
	assert_false(tdrv_get_used(&d, &id, &len));
	assert_memory_equal(disk, before, sizeof(disk));
	assert_false(vd->status & VIRTIO_STATUS_NEEDS_RESET);
	/* DRIVER_OK, then the kick is served */
	virtio_dev_set_status(vd, vd->status | VIRTIO_STATUS_DRIVER_OK);
	virtio_dev_notify(vd, 0);
	assert_true(tdrv_get_used(&d, &id, &len));
	assert_int_equal(disk[0], 0x42);
	/* a kick for a queue that does not exist */
	virtio_dev_notify(vd, 7);
	assert_int_equal(vd->kicks_ignored, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(config_and_features, setup),
		cmocka_unit_test_setup(write_then_read, setup),
		cmocka_unit_test_setup(any_framing, setup),
		cmocka_unit_test_setup(flush_and_get_id, setup),
		cmocka_unit_test_setup(out_of_range, setup),
		cmocka_unit_test_setup(malformed_requests, setup),
		cmocka_unit_test_setup(read_only_disk, setup),
		cmocka_unit_test_setup(discard_and_write_zeroes, setup),
		cmocka_unit_test_setup(empty_disk, setup),
		cmocka_unit_test_setup(notification_counts, setup),
		cmocka_unit_test_setup(needs_reset_and_recovery, setup),
		cmocka_unit_test_setup(kick_before_driver_ok, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
