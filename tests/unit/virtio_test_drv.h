/*
 * A minimal virtio driver for the unit tests (test_virtqueue.c,
 * test_virtio_blk.c, test_virtio_mmio.c): the guest's side of a split or
 * packed virtqueue, written from the spec's driver sections (2.7.13,
 * 2.7.14, 2.8.21, 2.8.22), independently of drivers/virtio/virtqueue.c.
 *
 * It lives in a fake guest RAM buffer (ram, seen by the guest at ram_gpa)
 * and never frees descriptors: chains are laid out one after the other,
 * which is enough as long as a test keeps fewer than num descriptors
 * outstanding.  Indirect tables come from a pool of TDRV_TABLES slots.
 *
 *   desc area     ring_gpa
 *   driver area   after it (avail ring, or packed driver event struct)
 *   device area   after that, 4-aligned (used ring, or device event)
 *   tables        table_gpa: TDRV_TABLES x VQ_MAX_CHAIN descriptors
 */
#ifndef NESTOR_VIRTIO_TEST_DRV_H
#define NESTOR_VIRTIO_TEST_DRV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtqueue.h"

#define TDRV_TABLES 8
#define TDRV_MAX_NUM 1024

struct tbuf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct tdrv {
	uint8_t *ram;
	uint64_t ram_gpa;
	bool packed, event_idx;
	uint16_t num;
	uint64_t desc, driver, device, table_gpa;
	unsigned tables_used;
	/* split */
	uint16_t avail_idx, last_used, next_desc;
	/* packed */
	uint16_t next_avail, next_used;
	bool avail_wrap, used_wrap;
	uint16_t chain_len[TDRV_MAX_NUM];
	/* kick bookkeeping: what was published since the last decision */
	uint16_t kick_old;
	uint32_t added_since_kick;
};

static inline uint8_t *tdrv_host(const struct tdrv *d, uint64_t gpa)
{
	return d->ram + (gpa - d->ram_gpa);
}

static inline uint16_t tdrv_ld16(const struct tdrv *d, uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, tdrv_host(d, gpa), 2);
	return v;
}

static inline uint32_t tdrv_ld32(const struct tdrv *d, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, tdrv_host(d, gpa), 4);
	return v;
}

static inline void tdrv_st16(struct tdrv *d, uint64_t gpa, uint16_t v)
{
	memcpy(tdrv_host(d, gpa), &v, 2);
}

static inline void tdrv_st32(struct tdrv *d, uint64_t gpa, uint32_t v)
{
	memcpy(tdrv_host(d, gpa), &v, 4);
}

static inline void tdrv_st64(struct tdrv *d, uint64_t gpa, uint64_t v)
{
	memcpy(tdrv_host(d, gpa), &v, 8);
}

/* Lay out and zero the rings (4.2.3.2: "Allocate and zero the queue
 * memory"); set the queue's size and addresses the way the transport's
 * registers would. */
static inline void tdrv_init(struct tdrv *d, uint8_t *ram, uint64_t ram_gpa, bool packed,
			     bool event_idx, uint16_t num, uint64_t ring_gpa, uint64_t table_gpa)
{
	memset(d, 0, sizeof(*d));
	d->ram = ram;
	d->ram_gpa = ram_gpa;
	d->packed = packed;
	d->event_idx = event_idx;
	d->num = num;
	d->desc = ring_gpa;
	d->driver = ring_gpa + 16ull * num;
	if (packed)
		d->device = d->driver + 4;
	else
		d->device = (d->driver + 6 + 2ull * num + 3) & ~3ull;
	d->table_gpa = table_gpa;
	d->avail_wrap = d->used_wrap = true;
	memset(tdrv_host(d, d->desc), 0,
	       (size_t)(d->device + (packed ? 4 : 6 + 8ull * num) - d->desc));
}

static inline void tdrv_configure(const struct tdrv *d, struct vq *vq)
{
	vq->num = d->num;
	vq->desc_gpa = d->desc;
	vq->driver_gpa = d->driver;
	vq->device_gpa = d->device;
}

static inline uint16_t pflags(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/* Write n buffers as one indirect table; returns its gpa. */
static inline uint64_t tdrv_table(struct tdrv *d, const struct tbuf *b, unsigned n)
{
	uint64_t t = d->table_gpa + (uint64_t)(d->tables_used++ % TDRV_TABLES) * 16 * VQ_MAX_CHAIN;

	for (unsigned i = 0; i < n; i++) {
		uint64_t e = t + 16ull * i;
		uint16_t f = b[i].write ? VIRTQ_DESC_F_WRITE : 0;

		tdrv_st64(d, e, b[i].gpa);
		tdrv_st32(d, e + 8, b[i].len);
		if (d->packed) {
			tdrv_st16(d, e + 12, 0);
			tdrv_st16(d, e + 14, f);
		} else {
			if (i + 1 < n)
				f |= VIRTQ_DESC_F_NEXT;
			tdrv_st16(d, e + 12, f);
			tdrv_st16(d, e + 14, (uint16_t)(i + 1 < n ? i + 1 : 0));
		}
	}
	return t;
}

/* Make a chain of n buffers available (or one indirect descriptor
 * pointing at a table of them); returns its id. */
static inline uint16_t tdrv_add(struct tdrv *d, const struct tbuf *b, unsigned n, bool indirect)
{
	struct tbuf one;

	if (indirect) {
		one.gpa = tdrv_table(d, b, n);
		one.len = 16 * n;
		one.write = false;
		b = &one;
		n = 1;
	}
	if (!d->packed) {
		uint16_t head = d->next_desc;

		for (unsigned i = 0; i < n; i++) {
			uint16_t slot = (uint16_t)((head + i) % d->num);
			uint64_t e = d->desc + 16ull * slot;
			uint16_t f = b[i].write ? VIRTQ_DESC_F_WRITE : 0;

			if (indirect)
				f = VIRTQ_DESC_F_INDIRECT;
			if (i + 1 < n)
				f |= VIRTQ_DESC_F_NEXT;
			tdrv_st64(d, e, b[i].gpa);
			tdrv_st32(d, e + 8, b[i].len);
			tdrv_st16(d, e + 12, f);
			tdrv_st16(d, e + 14, (uint16_t)((slot + 1) % d->num));
		}
		d->next_desc = (uint16_t)((head + n) % d->num);
		/* 2.7.13.2: the ring entry, then (barrier) the idx */
		tdrv_st16(d, d->driver + 4 + 2ull * (d->avail_idx % d->num), head);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		d->avail_idx++;
		tdrv_st16(d, d->driver + 2, d->avail_idx);
		d->added_since_kick++;
		return head;
	}

	/* Packed (2.8.21.1): ids are the first slot; the first descriptor's
	 * flags are written last, after the rest of the list. */
	uint16_t id = d->next_avail, first_flags = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t e = d->desc + 16ull * d->next_avail;
		uint16_t f = pflags(d->avail_wrap) | (b[i].write ? VIRTQ_DESC_F_WRITE : 0);

		if (indirect)
			f = pflags(d->avail_wrap) | VIRTQ_DESC_F_INDIRECT;
		if (i + 1 < n)
			f |= VIRTQ_DESC_F_NEXT;
		tdrv_st64(d, e, b[i].gpa);
		tdrv_st32(d, e + 8, b[i].len);
		tdrv_st16(d, e + 12, id);
		if (i == 0)
			first_flags = f;
		else
			tdrv_st16(d, e + 14, f);
		if (++d->next_avail == d->num) {
			d->next_avail = 0;
			d->avail_wrap = !d->avail_wrap;
		}
	}
	d->chain_len[id] = (uint16_t)n;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	tdrv_st16(d, d->desc + 16ull * id + 14, first_flags);
	d->added_since_kick += n;
	return id;
}

/* After publishing: must the driver kick?  (2.7.10, 2.8.22) */
static inline bool tdrv_kick_needed(struct tdrv *d)
{
	uint32_t added = d->added_since_kick;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	d->added_since_kick = 0;
	if (added == 0)
		return false;
	if (!d->packed) {
		uint16_t old = d->kick_old;

		d->kick_old = d->avail_idx;
		if (d->event_idx)
			return vq_need_event(tdrv_ld16(d, d->device + 4 + 8ull * d->num),
					     d->avail_idx, old);
		return !(tdrv_ld16(d, d->device) & VIRTQ_USED_F_NO_NOTIFY);
	}
	uint16_t flags = tdrv_ld16(d, d->device + 2) & 3, ow;
	int32_t event, new_pos, old_pos;

	if (flags == RING_EVENT_FLAGS_DISABLE)
		return false;
	if (flags != RING_EVENT_FLAGS_DESC || added >= d->num)
		return true;
	ow = tdrv_ld16(d, d->device);
	event = ow & 0x7fff;
	if (!!(ow >> 15) != d->avail_wrap)
		event -= d->num;
	new_pos = d->next_avail;
	old_pos = new_pos - (int32_t)added;
	return event >= old_pos && event < new_pos;
}

/* Take one used buffer, if there is one. */
static inline bool tdrv_get_used(struct tdrv *d, uint16_t *id, uint32_t *len)
{
	if (!d->packed) {
		if (tdrv_ld16(d, d->device + 2) == d->last_used)
			return false;
		uint64_t e = d->device + 4 + 8ull * (d->last_used % d->num);

		*id = (uint16_t)tdrv_ld32(d, e);
		*len = tdrv_ld32(d, e + 4);
		d->last_used++;
		return true;
	}
	uint64_t e = d->desc + 16ull * d->next_used;
	uint16_t f = tdrv_ld16(d, e + 14);

	if (!!(f & VIRTQ_DESC_F_USED) != d->used_wrap || !!(f & VIRTQ_DESC_F_AVAIL) != d->used_wrap)
		return false;
	*id = tdrv_ld16(d, e + 12);
	*len = tdrv_ld32(d, e + 8);
	d->next_used = (uint16_t)(d->next_used + d->chain_len[*id]);
	if (d->next_used >= d->num) {
		d->next_used = (uint16_t)(d->next_used - d->num);
		d->used_wrap = !d->used_wrap;
	}
	return true;
}

/* Used-buffer notification wishes (2.7.7, 2.8.10). */
static inline void tdrv_set_used_event(struct tdrv *d, uint16_t idx)
{
	tdrv_st16(d, d->driver + 4 + 2ull * d->num, idx);
}

static inline void tdrv_set_no_interrupt(struct tdrv *d, bool no)
{
	tdrv_st16(d, d->driver, no ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0);
}

static inline void tdrv_set_driver_event(struct tdrv *d, uint16_t flags, uint16_t off, bool wrap)
{
	tdrv_st16(d, d->driver, (uint16_t)(off | (wrap ? 0x8000 : 0)));
	tdrv_st16(d, d->driver + 2, flags);
}

#endif
