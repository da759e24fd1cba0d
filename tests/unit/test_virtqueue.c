/*
 * Unit tests: drivers/virtio/virtqueue.c, the device side of a virtqueue,
 * against the driver in tests/unit/virtio_test_drv.h.  Split and packed
 * rings, indirect tables, notification suppression both ways with and
 * without EVENT_IDX, and every hostile driver from issue 7 with the
 * error the device must report (DEVICE_NEEDS_RESET, via vq->error).
 *
 * Guest memory (a fake, behind a struct gmem as in test_gmem.c):
 *   [0x100000, 0x180000)  RAM  -> ram[]   rings, tables, buffers
 *   [0x180000, 0x200000)  hole
 *   [0x200000, 0x201000)  ROM  -> rom[]
 *   [0x300000, 0x301000)  MMIO
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/virtio/virtqueue.h"
#include "tests/unit/virtio_test_drv.h"

#define HPA(p)     ((uint64_t)(uintptr_t)(p))
#define RAM_GPA    0x100000ull
#define RAM_SIZE   0x80000ull
#define RAM_END    (RAM_GPA + RAM_SIZE)
#define ROM_GPA    0x200000ull
#define MMIO_GPA   0x300000ull
#define RING_GPA   RAM_GPA                 /* up to 26 KiB for num 1024 */
#define TABLE_GPA  (RAM_GPA + 0x10000)     /* 8 tables of 2 KiB        */
#define BUF_GPA    (RAM_GPA + 0x20000)

#define F(bit)     (1ull << (bit))

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t rom[4096] __attribute__((aligned(4096)));
static struct gmem g;
static struct vq vq;
static struct tdrv d;
static struct vq_chain c;

static int setup(void **state)
{
	(void)state;
	memset(ram, 0, sizeof(ram));
	for (unsigned i = 0; i < sizeof(rom); i++)
		rom[i] = (uint8_t)(0xa0 + i);
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, RAM_GPA, RAM_SIZE, GMEM_RAM, HPA(ram), 0), 0);
	assert_int_equal(gmem_add(&g, ROM_GPA, 4096, GMEM_ROM, HPA(rom), 0), 0);
	assert_int_equal(gmem_add(&g, MMIO_GPA, 4096, GMEM_MMIO, 0, 1), 0);
	return 0;
}

static uint64_t feats(bool packed, bool event_idx, bool indirect)
{
	return F(VIRTIO_F_VERSION_1) | (packed ? F(VIRTIO_F_RING_PACKED) : 0) |
	       (event_idx ? F(VIRTIO_F_EVENT_IDX) : 0) | (indirect ? F(VIRTIO_F_INDIRECT_DESC) : 0);
}

/* A started queue of num entries with the driver's rings in place. */
static void start(bool packed, bool event_idx, bool indirect, uint16_t num)
{
	tdrv_init(&d, ram, RAM_GPA, packed, event_idx, num, RING_GPA, TABLE_GPA);
	vq_reset(&vq, VQ_MAX_SIZE);
	tdrv_configure(&d, &vq);
	assert_int_equal(vq_start(&vq, &g, feats(packed, event_idx, indirect)), 0);
	assert_true(vq.ready);
}

static uint8_t *host(uint64_t gpa)
{
	return tdrv_host(&d, gpa);
}

/* Raw descriptors, for drivers that break the rules. */
static void sdesc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t e = d.desc + 16ull * i;

	tdrv_st64(&d, e, addr);
	tdrv_st32(&d, e + 8, len);
	tdrv_st16(&d, e + 12, flags);
	tdrv_st16(&d, e + 14, next);
}

static void spublish(uint16_t head)
{
	tdrv_st16(&d, d.driver + 4 + 2ull * (d.avail_idx % d.num), head);
	d.avail_idx++;
	tdrv_st16(&d, d.driver + 2, d.avail_idx);
}

/* A packed descriptor made available in the first lap. */
static void pdesc(uint16_t slot, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	uint64_t e = d.desc + 16ull * slot;

	tdrv_st64(&d, e, addr);
	tdrv_st32(&d, e + 8, len);
	tdrv_st16(&d, e + 12, id);
	tdrv_st16(&d, e + 14, flags | VIRTQ_DESC_F_AVAIL);
}

/* Entry i of an indirect table at t, split or packed layout. */
static void itab(uint64_t t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t e = t + 16ull * i;

	tdrv_st64(&d, e, addr);
	tdrv_st32(&d, e + 8, len);
	if (d.packed) {
		tdrv_st16(&d, e + 12, 0);
		tdrv_st16(&d, e + 14, flags);
	} else {
		tdrv_st16(&d, e + 12, flags);
		tdrv_st16(&d, e + 14, next);
	}
}

static void expect_error(enum vq_error e)
{
	assert_int_equal(vq_pop(&vq, &c), -1);
	assert_int_equal(vq.error, e);
	assert_int_equal(vq_pop(&vq, &c), -1);          /* sticky */
	assert_true(strlen(vq_strerror(e)) > 0);
}

/* ---- the event-index arithmetic ------------------------------------------ */

static void need_event_arithmetic(void **state)
{
	(void)state;
	/* "Was event passed when the index moved from old to new?" */
	assert_true(vq_need_event(0, 1, 0));
	assert_false(vq_need_event(0, 0, 0));       /* did not move */
	assert_false(vq_need_event(5, 10, 6));      /* before old   */
	assert_true(vq_need_event(6, 10, 6));
	assert_true(vq_need_event(9, 10, 6));
	assert_false(vq_need_event(10, 10, 6));     /* not reached  */
	/* across the 16-bit wrap */
	assert_true(vq_need_event(65535, 2, 65534));
	assert_true(vq_need_event(1, 2, 65534));
	assert_false(vq_need_event(2, 2, 65534));
	assert_false(vq_need_event(65533, 2, 65534));
}

/* ---- chains in, chains out ------------------------------------------------ */

static void roundtrip(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		struct tbuf b[2] = { { BUF_GPA, 16, false }, { BUF_GPA + 0x1000, 512, true } };
		uint8_t hdr[16], data[512];
		uint16_t id, uid;
		uint32_t len;

		start(packed, false, false, 8);
		for (int i = 0; i < 16; i++)
			host(BUF_GPA)[i] = (uint8_t)(0x10 + i);
		id = tdrv_add(&d, b, 2, false);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.id, id);
		assert_int_equal(c.nseg, 2);
		assert_int_equal(c.nread, 1);
		assert_int_equal(c.seg[0].gpa, BUF_GPA);
		assert_int_equal(c.seg[0].len, 16);
		assert_false(c.seg[0].write);
		assert_int_equal(c.seg[1].gpa, BUF_GPA + 0x1000);
		assert_true(c.seg[1].write);
		assert_int_equal(c.read_len, 16);
		assert_int_equal(c.write_len, 512);

		assert_int_equal(vq_read(&vq, &c, 0, hdr, 16), 16);
		assert_memory_equal(hdr, host(BUF_GPA), 16);
		memset(data, 0x5a, sizeof(data));
		assert_int_equal(vq_write(&vq, &c, 0, data, 512), 512);
		assert_memory_equal(host(BUF_GPA + 0x1000), data, 512);

		assert_false(tdrv_get_used(&d, &uid, &len));
		vq_push(&vq, &c, 512);
		assert_true(tdrv_get_used(&d, &uid, &len));
		assert_int_equal(uid, id);
		assert_int_equal(len, 512);
		assert_int_equal(vq_pop(&vq, &c), 0);
	}
}

/* The parts are byte streams: offsets run across descriptor boundaries. */
static void streams_cross_segments(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		struct tbuf b[5] = {
			{ BUF_GPA, 10, false }, { BUF_GPA + 0x100, 1, false },
			{ BUF_GPA + 0x200, 21, false },
			{ BUF_GPA + 0x300, 3, true }, { BUF_GPA + 0x400, 100, true },
		};
		uint8_t out[64], in[50];

		start(packed, false, false, 8);
		for (int i = 0; i < 10; i++)
			host(BUF_GPA)[i] = (uint8_t)i;
		host(BUF_GPA + 0x100)[0] = 10;
		for (int i = 0; i < 21; i++)
			host(BUF_GPA + 0x200)[i] = (uint8_t)(11 + i);
		tdrv_add(&d, b, 5, false);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.read_len, 32);
		assert_int_equal(c.write_len, 103);

		assert_int_equal(vq_read(&vq, &c, 5, out, 20), 20);
		for (int i = 0; i < 20; i++)
			assert_int_equal(out[i], 5 + i);
		assert_int_equal(vq_read(&vq, &c, 30, out, 10), 2);     /* the part ends */
		assert_int_equal(out[0], 30);
		assert_int_equal(vq_read(&vq, &c, 32, out, 1), 0);

		for (int i = 0; i < 50; i++)
			in[i] = (uint8_t)(0xc0 + i);
		assert_int_equal(vq_write(&vq, &c, 2, in, 50), 50);
		assert_int_equal(host(BUF_GPA + 0x300)[2], 0xc0);
		assert_int_equal(host(BUF_GPA + 0x400)[0], 0xc1);
		assert_int_equal(host(BUF_GPA + 0x400)[48], 0xc0 + 49);
		assert_int_equal(host(BUF_GPA + 0x400)[49], 0);
		assert_int_equal(vq_write(&vq, &c, 100, in, 50), 3);    /* 103 - 100 */
	}
}

/* The device never writes into a device-readable buffer: a chain with no
 * writable part takes no bytes. */
static void readable_buffers_stay_unwritten(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		struct tbuf b[2] = { { BUF_GPA, 16, false }, { BUF_GPA + 0x1000, 512, false } };
		uint8_t data[512];

		start(packed, false, false, 8);
		memset(host(BUF_GPA + 0x1000), 0x77, 512);
		tdrv_add(&d, b, 2, false);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.write_len, 0);
		memset(data, 0, sizeof(data));
		assert_int_equal(vq_write(&vq, &c, 0, data, sizeof(data)), 0);
		for (int i = 0; i < 512; i++)
			assert_int_equal(host(BUF_GPA + 0x1000)[i], 0x77);
		vq_push(&vq, &c, 512);                  /* clamped to 0 */
		uint16_t id;
		uint32_t len;
		assert_true(tdrv_get_used(&d, &id, &len));
		assert_int_equal(len, 0);
	}
}

static void indirect_tables(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		struct tbuf b[3] = {
			{ BUF_GPA, 16, false }, { BUF_GPA + 0x1000, 100, true },
			{ BUF_GPA + 0x2000, 1, true },
		};
		uint16_t id, uid;
		uint32_t len;

		start(packed, false, true, 8);
		id = tdrv_add(&d, b, 3, true);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.id, id);
		assert_int_equal(c.nseg, 3);
		assert_int_equal(c.nread, 1);
		assert_int_equal(c.seg[2].gpa, BUF_GPA + 0x2000);
		assert_int_equal(c.write_len, 101);
		assert_int_equal(c.ring_descs, 1);
		vq_push(&vq, &c, 101);
		assert_true(tdrv_get_used(&d, &uid, &len));
		assert_int_equal(uid, id);
		assert_int_equal(len, 101);

		/* Without VIRTIO_F_INDIRECT_DESC the same chain is an error. */
		start(packed, false, false, 8);
		tdrv_add(&d, b, 3, true);
		expect_error(VQ_E_INDIRECT_FEATURE);
	}
}

/* 2.7.5.3.2: "zero or more normal chained descriptors followed by a
 * single descriptor with flags&VIRTQ_DESC_F_INDIRECT" is valid (split). */
static void split_direct_then_indirect(void **state)
{
	uint64_t t = TABLE_GPA;

	(void)state;
	start(false, false, true, 8);
	sdesc(0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	/* WRITE on the descriptor naming the table is ignored */
	sdesc(1, t, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	itab(t, 0, BUF_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 1);
	itab(t, 1, BUF_GPA + 0x200, 4, VIRTQ_DESC_F_WRITE, 0);
	spublish(0);
	assert_int_equal(vq_pop(&vq, &c), 1);
	assert_int_equal(c.nseg, 3);
	assert_int_equal(c.nread, 2);
	assert_int_equal(c.read_len, 24);
	assert_int_equal(c.write_len, 4);
}

/* Many rounds: ring positions wrap, the split 16-bit indices wrap, the
 * packed wrap counters flip; a packed queue of 3 (not a power of two). */
static void many_rounds_wrap(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		start(packed, false, false, packed ? 3 : 4);
		for (unsigned round = 0; round < 70000; round++) {
			struct tbuf b[2] = { { BUF_GPA, 4, false }, { BUF_GPA + 64, 8, true } };
			unsigned n = 1 + round % 2;
			uint16_t id, uid;
			uint32_t len;

			id = tdrv_add(&d, b + 2 - n, n, false);
			assert_int_equal(vq_pop(&vq, &c), 1);
			assert_int_equal(c.id, id);
			assert_int_equal(c.nseg, 1 + (n == 2));
			vq_push(&vq, &c, 8);
			assert_true(tdrv_get_used(&d, &uid, &len));
			assert_int_equal(uid, id);
			assert_int_equal(len, 8);
		}
		assert_int_equal(vq_pop(&vq, &c), 0);
		assert_int_equal(vq.error, VQ_OK);
	}
}

/* Packed: completions out of order; each used descriptor goes to the next
 * used slot, which then skips the chain's length (2.8.6). */
static void packed_out_of_order(void **state)
{
	struct tbuf b[3] = { { BUF_GPA, 4, false }, { BUF_GPA + 16, 4, false }, { BUF_GPA + 32, 4, true } };
	struct vq_chain ca, cb, cc;
	uint16_t ia, ib, ic, id;
	uint32_t len;

	(void)state;
	start(true, false, false, 8);
	ia = tdrv_add(&d, b, 2, false);
	ib = tdrv_add(&d, b + 2, 1, false);
	ic = tdrv_add(&d, b, 3, false);
	assert_int_equal(vq_pop(&vq, &ca), 1);
	assert_int_equal(vq_pop(&vq, &cb), 1);
	assert_int_equal(vq_pop(&vq, &cc), 1);
	assert_int_equal(ca.ring_descs, 2);
	assert_int_equal(cc.ring_descs, 3);
	vq_push(&vq, &cb, 1);
	vq_push(&vq, &cc, 2);
	vq_push(&vq, &ca, 0);
	assert_true(tdrv_get_used(&d, &id, &len));
	assert_int_equal(id, ib);
	assert_true(tdrv_get_used(&d, &id, &len));
	assert_int_equal(id, ic);
	assert_int_equal(len, 2);
	assert_true(tdrv_get_used(&d, &id, &len));
	assert_int_equal(id, ia);
	assert_int_equal(len, 0);
	assert_false(tdrv_get_used(&d, &id, &len));
	/* a used descriptor with nothing written has no WRITE flag (2.8.3) */
	assert_int_equal(tdrv_ld16(&d, d.desc + 16 * 4 + 14) & VIRTQ_DESC_F_WRITE, 0);
	/* the ring goes on: 6 slots used of 8, the next chain wraps */
	ia = tdrv_add(&d, b, 3, false);
	assert_int_equal(vq_pop(&vq, &ca), 1);
	assert_int_equal(ca.id, ia);
	assert_int_equal(ca.nseg, 3);
	vq_push(&vq, &ca, 4);
	assert_true(tdrv_get_used(&d, &id, &len));
	assert_int_equal(id, ia);
	assert_false(vq.used_wrap);
}

/* ---- notification suppression: device -> driver (interrupts) ------------- */

/* Complete the available chains one by one, checking after each. */
static unsigned complete_one_by_one(unsigned n)
{
	unsigned irqs = 0;

	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(vq_pop(&vq, &c), 1);
		vq_push(&vq, &c, 0);
		irqs += vq_should_interrupt(&vq);
	}
	return irqs;
}

static void add_n(unsigned n)
{
	struct tbuf b = { BUF_GPA, 4, true };

	for (unsigned i = 0; i < n; i++)
		tdrv_add(&d, &b, 1, false);
}

static void split_interrupt_suppression(void **state)
{
	(void)state;
	/* Without EVENT_IDX: one interrupt per completion, or none with
	 * VIRTQ_AVAIL_F_NO_INTERRUPT. */
	start(false, false, false, 16);
	add_n(8);
	assert_int_equal(complete_one_by_one(8), 8);
	tdrv_set_no_interrupt(&d, true);
	add_n(8);
	assert_int_equal(complete_one_by_one(8), 0);
	assert_false(vq_should_interrupt(&vq));         /* nothing new */

	/* With EVENT_IDX: only when used idx passes used_event; the flag is
	 * ignored (2.7.7.2). */
	start(false, true, false, 16);
	tdrv_set_no_interrupt(&d, true);
	tdrv_set_used_event(&d, 3);     /* "after the 4th buffer" */
	add_n(8);
	assert_int_equal(complete_one_by_one(4), 1);
	assert_int_equal(complete_one_by_one(4), 0);
	tdrv_set_used_event(&d, 9);     /* the 10th: crossed inside a batch */
	add_n(4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vq_pop(&vq, &c), 1);
		vq_push(&vq, &c, 0);
	}
	assert_true(vq_should_interrupt(&vq));
	assert_false(vq_should_interrupt(&vq));
}

static void packed_interrupt_suppression(void **state)
{
	(void)state;
	start(true, true, false, 4);
	/* DISABLE, then ENABLE */
	tdrv_set_driver_event(&d, RING_EVENT_FLAGS_DISABLE, 0, true);
	add_n(2);
	assert_int_equal(complete_one_by_one(2), 0);
	tdrv_set_driver_event(&d, RING_EVENT_FLAGS_ENABLE, 0, true);
	add_n(2);
	assert_int_equal(complete_one_by_one(2), 2);
	/* The device has used slots 0..3 of lap 1; its wrap counter is now 0.
	 * Ask for slot 1 of lap 2 (wrap 0): the 6th completion from the
	 * start, i.e. the 2nd from here, and only that one. */
	tdrv_set_driver_event(&d, RING_EVENT_FLAGS_DESC, 1, false);
	add_n(3);
	assert_int_equal(complete_one_by_one(1), 0);
	assert_int_equal(complete_one_by_one(1), 1);
	assert_int_equal(complete_one_by_one(1), 0);
	/* Slot 3 of lap 2 (wrap 0) is used next; right after it the device
	 * wraps into lap 3 (wrap 1), so the event now lies in the previous
	 * lap -- and was passed. */
	tdrv_set_driver_event(&d, RING_EVENT_FLAGS_DESC, 3, false);
	add_n(1);
	assert_int_equal(complete_one_by_one(1), 1);
	assert_true(vq.used_wrap);
	/* Slot 1 of lap 3: the second completion from here. */
	tdrv_set_driver_event(&d, RING_EVENT_FLAGS_DESC, 1, true);
	add_n(2);
	assert_int_equal(complete_one_by_one(1), 0);
	assert_int_equal(complete_one_by_one(1), 1);

	/* DESC without EVENT_IDX is not valid: treated as ENABLE. */
	start(true, false, false, 4);
	tdrv_set_driver_event(&d, RING_EVENT_FLAGS_DESC, 3, true);
	add_n(2);
	assert_int_equal(complete_one_by_one(2), 2);
}

/* ---- notification suppression: driver -> device (kicks) ------------------ */

static unsigned add_and_count_kicks(unsigned n)
{
	unsigned kicks = 0;

	for (unsigned i = 0; i < n; i++) {
		add_n(1);
		kicks += tdrv_kick_needed(&d);
	}
	return kicks;
}

static void drain(void)
{
	while (vq_pop(&vq, &c) == 1)
		vq_push(&vq, &c, 0);
}

static void kick_suppression(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		/* No EVENT_IDX: every add kicks unless the device said
		 * NO_NOTIFY / DISABLE. */
		start(packed, false, false, 16);
		assert_int_equal(add_and_count_kicks(4), 4);
		drain();
		vq_disable_notify(&vq);
		assert_int_equal(add_and_count_kicks(4), 0);
		/* Re-enabling finds what came meanwhile */
		assert_true(vq_enable_notify(&vq));
		drain();
		assert_false(vq_enable_notify(&vq));
		assert_int_equal(add_and_count_kicks(2), 2);
		drain();

		/* EVENT_IDX: the driver kicks once, when it fills the entry the
		 * device named; more adds before the device looks are free. */
		start(packed, true, false, 16);
		assert_true(vq_enable_notify(&vq) == false);
		assert_int_equal(add_and_count_kicks(4), 1);
		/* the device serves them the usual way */
		for (;;) {
			vq_disable_notify(&vq);
			drain();
			if (!vq_enable_notify(&vq))
				break;
		}
		assert_int_equal(add_and_count_kicks(4), 1);
		/* while disabled (busy), no kick at all */
		drain();
		vq_disable_notify(&vq);
		assert_int_equal(add_and_count_kicks(3), packed ? 0 : 1);
		/* split: avail_event stays where it was when disabled (2.7.10:
		 * the flags must stay 0), so the driver kicks at most once. */
		assert_true(vq_enable_notify(&vq));
	}
}

/* ---- hostile drivers ------------------------------------------------------ */

static void descriptor_loop(void **state)
{
	uint64_t t = TABLE_GPA;

	(void)state;
	start(false, false, false, 8);          /* 0 -> 1 -> 0 */
	sdesc(0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	sdesc(1, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 0);
	spublish(0);
	expect_error(VQ_E_CHAIN_LOOP);
	/* reset, and a descriptor pointing at itself */
	start(false, false, false, 8);
	sdesc(3, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 3);
	spublish(3);
	expect_error(VQ_E_CHAIN_LOOP);
	/* a loop inside an indirect table */
	start(false, false, true, 8);
	sdesc(0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	itab(t, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	itab(t, 1, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 0);
	spublish(0);
	expect_error(VQ_E_CHAIN_LOOP);
	/* packed: a list that never ends is longer than the ring */
	start(true, false, false, 4);
	for (uint16_t i = 0; i < 4; i++)
		pdesc(i, BUF_GPA, 4, 0, VIRTQ_DESC_F_NEXT);
	expect_error(VQ_E_CHAIN_LOOP);
	/* vq_reset clears the error */
	vq_reset(&vq, 8);
	assert_int_equal(vq.error, VQ_OK);
	assert_int_equal(vq_pop(&vq, &c), 0);
}

/* Chains are limited to VQ_MAX_CHAIN descriptors (2.7.4.1 "MAY have a
 * reasonable limit"), indirect ones included. */
static void chain_length_limit(void **state)
{
	struct tbuf b[VQ_MAX_CHAIN + 1];

	(void)state;
	for (unsigned i = 0; i <= VQ_MAX_CHAIN; i++)
		b[i] = (struct tbuf){ BUF_GPA + 8 * i, 8, false };
	for (int packed = 0; packed < 2; packed++) {
		start(packed, false, true, 256);
		tdrv_add(&d, b, VQ_MAX_CHAIN, false);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.nseg, VQ_MAX_CHAIN);
		tdrv_add(&d, b, VQ_MAX_CHAIN, true);
		assert_int_equal(vq_pop(&vq, &c), 1);
		tdrv_add(&d, b, VQ_MAX_CHAIN + 1, false);
		expect_error(VQ_E_CHAIN_LONG);
		start(packed, false, true, 256);
		tdrv_add(&d, b, VQ_MAX_CHAIN + 1, true);
		expect_error(VQ_E_CHAIN_LONG);
	}
}

static void index_out_of_range(void **state)
{
	uint64_t t = TABLE_GPA;

	(void)state;
	start(false, false, false, 8);          /* head >= num */
	spublish(8);
	expect_error(VQ_E_INDEX);
	start(false, false, false, 8);          /* next >= num */
	sdesc(0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 200);
	spublish(0);
	expect_error(VQ_E_INDEX);
	start(false, false, true, 8);           /* next beyond the table */
	sdesc(0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	itab(t, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	spublish(0);
	expect_error(VQ_E_INDEX);
	/* avail idx more than a ring ahead of what the device took */
	start(false, false, false, 8);
	tdrv_st16(&d, d.driver + 2, 9);
	expect_error(VQ_E_AVAIL_IDX);
}

/* Buffers must be guest RAM -- ROM is fine for reading only. */
static void buffers_outside_ram(void **state)
{
	static const struct { uint64_t gpa; uint32_t len; bool write; bool ok; } cases[] = {
		{ RAM_END - 8, 16, false, false },      /* straddles the end  */
		{ RAM_END - 8, 8, true, true },         /* the last 8 bytes   */
		{ RAM_END, 1, false, false },           /* the hole           */
		{ 0, 4, false, false },                 /* below RAM          */
		{ MMIO_GPA, 4, false, false },          /* a device page      */
		{ ROM_GPA, 16, true, false },           /* writing ROM        */
		{ ROM_GPA, 16, false, true },           /* reading ROM        */
		{ RAM_GPA, 0xffffffffu, false, false }, /* huge length        */
		{ 0xfffffffffffffff0ull, 0x20, false, false }, /* wraps 2^64 */
	};

	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct tbuf b = { cases[i].gpa, cases[i].len, cases[i].write };

			start(packed, false, false, 8);
			tdrv_add(&d, &b, 1, false);
			if (cases[i].ok) {
				assert_int_equal(vq_pop(&vq, &c), 1);
			} else {
				expect_error(VQ_E_BUF_ADDR);
			}
		}
	}
	/* reading from ROM gives ROM's bytes */
	{
		struct tbuf b = { ROM_GPA + 4, 8, false };
		uint8_t out[8];

		start(false, false, false, 8);
		tdrv_add(&d, &b, 1, false);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(vq_read(&vq, &c, 0, out, 8), 8);
		assert_memory_equal(out, rom + 4, 8);
	}
}

static void zero_and_huge_lengths(void **state)
{
	static uint8_t big_ring[64 * 1024] __attribute__((aligned(4096)));
	struct gmem big;

	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		/* A zero-length buffer is checked (order) but carries nothing. */
		struct tbuf b[3] = { { BUF_GPA, 4, false }, { 0xdead0000, 0, false },
				     { BUF_GPA + 8, 4, true } };

		start(packed, false, true, 8);
		tdrv_add(&d, b, 3, false);
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.nseg, 2);
		assert_int_equal(c.read_len, 4);

		/* Indirect tables: length 0, not a multiple of 16, outside RAM */
		static const struct { uint64_t gpa; uint32_t len; enum vq_error e; } tabs[] = {
			{ TABLE_GPA, 0, VQ_E_INDIRECT_LEN },
			{ TABLE_GPA, 17, VQ_E_INDIRECT_LEN },
			{ RAM_END - 16, 32, VQ_E_INDIRECT_ADDR },
			{ MMIO_GPA, 16, VQ_E_INDIRECT_ADDR },
		};
		for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
			start(packed, false, true, 8);
			if (packed) {
				pdesc(0, tabs[i].gpa, tabs[i].len, 0, VIRTQ_DESC_F_INDIRECT);
			} else {
				sdesc(0, tabs[i].gpa, tabs[i].len, VIRTQ_DESC_F_INDIRECT, 0);
				spublish(0);
			}
			expect_error(tabs[i].e);
		}
	}

	/* More than 2^32 bytes in one chain (2.7.5.2): needs a guest with
	 * that much RAM.  The map says 8 GiB; only the rings, at its start,
	 * are ever touched (popping reads no buffer bytes). */
	gmem_init(&big);
	assert_int_equal(gmem_add(&big, RAM_GPA, 8ull << 30, GMEM_RAM, HPA(big_ring), 0), 0);
	for (int packed = 0; packed < 2; packed++) {
		struct tbuf b[2] = { { RAM_GPA + (1ull << 30), 0xffffffffu, false },
				     { RAM_GPA + (6ull << 30), 2, false } };

		tdrv_init(&d, big_ring, RAM_GPA, packed, false, 8, RAM_GPA, RAM_GPA + 0x8000);
		vq_reset(&vq, 8);
		tdrv_configure(&d, &vq);
		assert_int_equal(vq_start(&vq, &big, feats(packed, false, false)), 0);
		tdrv_add(&d, b, 1, false);                 /* 4 GiB - 1: fine */
		assert_int_equal(vq_pop(&vq, &c), 1);
		assert_int_equal(c.read_len, 0xffffffffu);
		tdrv_add(&d, b, 2, false);                 /* 4 GiB + 1: not  */
		expect_error(VQ_E_TOTAL_LEN);
	}
}

/* 2.7.4.2 / 2.8.17: device-writable buffers come after readable ones. */
static void readable_after_writable(void **state)
{
	(void)state;
	for (int packed = 0; packed < 2; packed++) {
		struct tbuf b[3] = { { BUF_GPA, 4, false }, { BUF_GPA + 16, 4, true },
				     { BUF_GPA + 32, 4, false } };
		struct tbuf z[2] = { { BUF_GPA, 0, true }, { BUF_GPA + 16, 4, false } };

		start(packed, false, true, 8);
		tdrv_add(&d, b, 3, false);
		expect_error(VQ_E_ORDER);
		start(packed, false, true, 8);
		tdrv_add(&d, b, 3, true);               /* in a table too */
		expect_error(VQ_E_ORDER);
		start(packed, false, true, 8);
		tdrv_add(&d, z, 2, false);              /* even a zero-length one */
		expect_error(VQ_E_ORDER);
	}
}

static void indirect_rules(void **state)
{
	uint64_t t = TABLE_GPA;

	(void)state;
	/* split: INDIRECT with NEXT */
	start(false, false, true, 8);
	itab(t, 0, BUF_GPA, 4, 0, 0);
	sdesc(0, t, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	sdesc(1, BUF_GPA, 4, 0, 0);
	spublish(0);
	expect_error(VQ_E_INDIRECT_NEXT);
	/* split: a table inside a table */
	start(false, false, true, 8);
	itab(t, 0, t, 16, VIRTQ_DESC_F_INDIRECT, 0);
	sdesc(0, t, 16, VIRTQ_DESC_F_INDIRECT, 0);
	spublish(0);
	expect_error(VQ_E_INDIRECT_NESTED);
	/* packed: an INDIRECT descriptor inside a NEXT list */
	start(true, false, true, 8);
	itab(t, 0, BUF_GPA, 4, 0, 0);
	pdesc(1, t, 16, 7, VIRTQ_DESC_F_INDIRECT);
	pdesc(0, BUF_GPA, 4, 7, VIRTQ_DESC_F_NEXT);
	expect_error(VQ_E_INDIRECT_NEXT);
	/* packed: in a table only WRITE counts; NEXT and INDIRECT there are
	 * reserved and ignored (2.8.7), and all len/16 entries are used */
	start(true, false, true, 8);
	itab(t, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT, 0);
	itab(t, 1, BUF_GPA + 16, 4, VIRTQ_DESC_F_WRITE, 0);
	pdesc(0, t, 32, 5, VIRTQ_DESC_F_INDIRECT);
	assert_int_equal(vq_pop(&vq, &c), 1);
	assert_int_equal(c.id, 5);
	assert_int_equal(c.nseg, 2);
	assert_int_equal(c.nread, 1);
}

static int try_start(bool packed, uint32_t num, uint64_t desc, uint64_t drv, uint64_t dev)
{
	vq_reset(&vq, 256);
	vq.num = num;
	vq.desc_gpa = desc;
	vq.driver_gpa = drv;
	vq.device_gpa = dev;
	return vq_start(&vq, &g, feats(packed, false, false));
}

static void start_checks(void **state)
{
	const uint64_t D = RING_GPA, A = RING_GPA + 0x4000, U = RING_GPA + 0x5000;

	(void)state;
	assert_int_equal(try_start(false, 256, D, A, U), 0);
	/* queue size: split wants a power of two (2.7) */
	assert_int_equal(try_start(false, 100, D, A, U), -1);
	assert_int_equal(vq.error, VQ_E_SIZE);
	assert_false(vq.ready);
	assert_int_equal(try_start(true, 100, D, A, U), 0);     /* packed: fine */
	assert_int_equal(try_start(false, 0, D, A, U), -1);
	assert_int_equal(vq.error, VQ_E_SIZE);
	assert_int_equal(try_start(true, 0, D, A, U), -1);
	assert_int_equal(try_start(false, 512, D, A, U), -1);   /* > num_max */
	assert_int_equal(vq.error, VQ_E_SIZE);
	/* alignment: table 16, avail 2, used 4; packed events 4 */
	assert_int_equal(try_start(false, 8, D + 8, A, U), -1);
	assert_int_equal(vq.error, VQ_E_ALIGN);
	assert_int_equal(try_start(false, 8, D, A + 1, U), -1);
	assert_int_equal(vq.error, VQ_E_ALIGN);
	assert_int_equal(try_start(false, 8, D, A + 2, U + 2), -1);
	assert_int_equal(vq.error, VQ_E_ALIGN);
	assert_int_equal(try_start(false, 8, D, A + 2, U + 4), 0);
	assert_int_equal(try_start(true, 8, D, A + 2, U), -1);
	assert_int_equal(vq.error, VQ_E_ALIGN);
	/* areas outside RAM; the used ring in ROM; an area across the end */
	assert_int_equal(try_start(false, 8, MMIO_GPA, A, U), -1);
	assert_int_equal(vq.error, VQ_E_RING_ADDR);
	assert_int_equal(try_start(false, 8, D, A, ROM_GPA), -1);
	assert_int_equal(vq.error, VQ_E_RING_ADDR);
	assert_int_equal(try_start(false, 256, RAM_END - 0x800, A, U), -1);
	assert_int_equal(vq.error, VQ_E_RING_ADDR);
	assert_int_equal(try_start(true, 8, D, A, ROM_GPA), -1);
	assert_int_equal(vq.error, VQ_E_RING_ADDR);
	/* areas sharing bytes: the used ring's flags on avail->idx (the
	 * serve loop would rewrite what it reads forever), the used ring in
	 * the table, the avail ring in the table, the packed events on one
	 * word or in the descriptor ring; touching but apart is fine */
	assert_int_equal(try_start(false, 2, D, A + 2, A + 4), -1);
	assert_int_equal(vq.error, VQ_E_RING_OVERLAP);
	assert_int_equal(try_start(false, 8, D, A, D + 0x40), -1);
	assert_int_equal(vq.error, VQ_E_RING_OVERLAP);
	assert_int_equal(try_start(false, 8, D, D + 16 * 8 - 2, U), -1);
	assert_int_equal(vq.error, VQ_E_RING_OVERLAP);
	assert_int_equal(try_start(true, 8, D, A, A), -1);
	assert_int_equal(vq.error, VQ_E_RING_OVERLAP);
	assert_int_equal(try_start(true, 8, D, D + 16 * 7, U), -1);
	assert_int_equal(vq.error, VQ_E_RING_OVERLAP);
	assert_int_equal(try_start(false, 8, D, D + 16 * 8, D + 16 * 8 + 6 + 2 * 8 + 2), 0);
	assert_int_equal(try_start(true, 8, D, D + 16 * 8, D + 16 * 8 + 4), 0);
	/* a queue that never started gives nothing and takes nothing */
	vq_reset(&vq, 8);
	assert_int_equal(vq_pop(&vq, &c), 0);
	vq_push(&vq, &c, 0);
	assert_false(vq_should_interrupt(&vq));
	assert_false(vq_enable_notify(&vq));
}

/* 4.2.2.1: "The device MUST NOT access virtual queue contents when
 * QueueReady is zero": a stopped queue gives nothing. */
static void stopped_queue_is_left_alone(void **state)
{
	(void)state;
	start(false, false, false, 8);
	add_n(1);
	vq_stop(&vq);
	assert_int_equal(vq_pop(&vq, &c), 0);
	assert_false(vq_should_interrupt(&vq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(need_event_arithmetic, setup),
		cmocka_unit_test_setup(roundtrip, setup),
		cmocka_unit_test_setup(streams_cross_segments, setup),
		cmocka_unit_test_setup(readable_buffers_stay_unwritten, setup),
		cmocka_unit_test_setup(indirect_tables, setup),
		cmocka_unit_test_setup(split_direct_then_indirect, setup),
		cmocka_unit_test_setup(many_rounds_wrap, setup),
		cmocka_unit_test_setup(packed_out_of_order, setup),
		cmocka_unit_test_setup(split_interrupt_suppression, setup),
		cmocka_unit_test_setup(packed_interrupt_suppression, setup),
		cmocka_unit_test_setup(kick_suppression, setup),
		cmocka_unit_test_setup(descriptor_loop, setup),
		cmocka_unit_test_setup(chain_length_limit, setup),
		cmocka_unit_test_setup(index_out_of_range, setup),
		cmocka_unit_test_setup(buffers_outside_ram, setup),
		cmocka_unit_test_setup(zero_and_huge_lengths, setup),
		cmocka_unit_test_setup(readable_after_writable, setup),
		cmocka_unit_test_setup(indirect_rules, setup),
		cmocka_unit_test_setup(start_checks, setup),
		cmocka_unit_test_setup(stopped_queue_is_left_alone, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
