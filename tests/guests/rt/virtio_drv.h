/*
 * A small virtio driver for the test guests (header-only: include it in
 * the one guest that needs it).  The driver side of virtio 1.2 over the
 * virtio-mmio transport (4.2), both ring formats:
 *
 *   split  (2.7)  descriptor table, available ring, used ring; free
 *                 descriptors kept on a list linked through `next`
 *   packed (2.8)  one descriptor ring with AVAIL/USED bits against wrap
 *                 counters, buffer ids from a free stack, event
 *                 suppression structures
 *
 * with indirect descriptor tables, and notification suppression both
 * ways: VIRTIO_F_EVENT_IDX (used_event / avail_event, or the packed
 * event structures in DESC mode) or the flags.
 *
 * The guest runs on an identity map, so a pointer is its guest-physical
 * address.  One CPU: the only concurrency is with the device (L0 on
 * another physical CPU, or inside the kick's exit), ordered as the spec
 * asks -- a compiler barrier where x86 keeps the order (stores after
 * stores, loads after loads), a full fence where a store must be visible
 * before a later load (publishing avail idx, then reading whether the
 * device wants a kick; asking for an interrupt, then re-checking).
 *
 * Everything the driver reads from the device side (used ids, lengths)
 * is checked before use: a bad id is reported, not followed.
 */
#ifndef GUEST_VIRTIO_DRV_H
#define GUEST_VIRTIO_DRV_H
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "drivers/virtio/virtio_mmio.h"   /* register offsets, status and feature bits */

#define GVQ_MAX 256                       /* largest queue this driver sets up */
#define GVQ_AREA_BYTES (3 * 4096)         /* ring memory for GVQ_MAX (split: 4K + 4K + 4K) */

static inline void gvq_barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void gvq_mb(void) { __asm__ volatile("lock; addl $0, (%%rsp)" ::: "memory", "cc"); }

/* ---- the transport (4.2.2) -------------------------------------------------- */

struct vmmio {
	uint64_t base;
	unsigned gsi;
};

static inline uint32_t vm_rd(const struct vmmio *m, uint32_t off)
{
	return *(volatile uint32_t *)(m->base + off);
}
static inline void vm_wr(const struct vmmio *m, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(m->base + off) = v;
}
/* Device config space fields of 1 and 2 bytes, read at their own width
 * (4.2.2.2: the driver accesses a field with its natural width). */
static inline uint8_t vm_config8(const struct vmmio *m, uint32_t off)
{
	return *(volatile uint8_t *)(m->base + VIRTIO_MMIO_CONFIG + off);
}
static inline uint16_t vm_config16(const struct vmmio *m, uint32_t off)
{
	return *(volatile uint16_t *)(m->base + VIRTIO_MMIO_CONFIG + off);
}
static inline uint8_t vm_status(const struct vmmio *m) { return (uint8_t)vm_rd(m, VIRTIO_MMIO_STATUS); }
static inline void vm_set_status(const struct vmmio *m, uint8_t s) { vm_wr(m, VIRTIO_MMIO_STATUS, s); }

static inline uint64_t vm_device_features(const struct vmmio *m)
{
	vm_wr(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = vm_rd(m, VIRTIO_MMIO_DEVICE_FEATURES);
	vm_wr(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | vm_rd(m, VIRTIO_MMIO_DEVICE_FEATURES);
}

static inline void vm_driver_features(const struct vmmio *m, uint64_t f)
{
	vm_wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vm_wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	vm_wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vm_wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* Config space: 1, 2 or 4 bytes at a time (8-byte fields as two 4-byte
 * reads, retried while ConfigGeneration changes, 2.5.1). */
static inline uint64_t vm_config64(const struct vmmio *m, uint32_t off)
{
	uint32_t gen, lo, hi;
	do {
		gen = vm_rd(m, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = vm_rd(m, VIRTIO_MMIO_CONFIG + off);
		hi = vm_rd(m, VIRTIO_MMIO_CONFIG + off + 4);
	} while (gen != vm_rd(m, VIRTIO_MMIO_CONFIG_GENERATION));
	return (uint64_t)hi << 32 | lo;
}

/*
 * Find "virtio_mmio.device=<size>@<base>:<irq>" (Linux's form) on a
 * command line; which = 0 for the first.  Sizes like 4K or 0x1000.
 */
static inline uint64_t gvq_parse_num(const char **pp)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		for (p += 2;; p++) {
			unsigned d;
			if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
			else if (*p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
			else if (*p >= 'A' && *p <= 'F') d = (unsigned)(*p - 'A' + 10);
			else break;
			v = v * 16 + d;
		}
	} else {
		while (*p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (*p == 'K' || *p == 'k')
		v <<= 10, p++;
	else if (*p == 'M' || *p == 'm')
		v <<= 20, p++;
	*pp = p;
	return v;
}

static inline bool gvq_find_device(const char *cmdline, unsigned which, struct vmmio *m, uint64_t *size)
{
	static const char key[] = "virtio_mmio.device=";
	const char *p = cmdline;
	while (p && (p = strstr(p, key)) != NULL) {
		p += sizeof(key) - 1;
		uint64_t sz = gvq_parse_num(&p);
		if (*p++ != '@')
			continue;
		uint64_t base = gvq_parse_num(&p);
		if (*p++ != ':')
			continue;
		uint64_t irq = gvq_parse_num(&p);
		if (which-- == 0) {
			m->base = base;
			m->gsi = (unsigned)irq;
			*size = sz;
			return true;
		}
	}
	return false;
}

/* ---- one virtqueue ---------------------------------------------------------- */

struct gvq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };      /* split and indirect */
struct gvq_pdesc { uint64_t addr; uint32_t len; uint16_t id, flags; };      /* packed */
struct gvq_event { uint16_t off_wrap, flags; };
struct gvq_used_elem { uint32_t id, len; };

struct gvq_buf {
	uint64_t addr;
	uint32_t len;
	bool write;                 /* device-writable */
};

struct gvq {
	unsigned num;
	bool packed, event_idx, indirect;
	/* split */
	volatile struct gvq_desc *desc;
	volatile uint16_t *avail;   /* flags, idx, ring[num], used_event */
	volatile uint16_t *used;    /* flags, idx, then {u32 id, u32 len}[num], avail_event */
	uint16_t free_head;
	uint16_t avail_idx, last_used, kicked;
	/* packed */
	volatile struct gvq_pdesc *pdesc;
	volatile struct gvq_event *drv_evt, *dev_evt;
	uint16_t next_avail, next_used, kick_pos;
	bool avail_wrap, used_wrap, kick_wrap;
	uint16_t free_ids[GVQ_MAX];
	unsigned nfree_ids;
	/* both */
	unsigned num_free;          /* free descriptors (split) or ring slots (packed) */
	void *cookie[GVQ_MAX];      /* by head (split) or buffer id (packed) */
	uint16_t ndesc[GVQ_MAX];    /* descriptors the chain took */
	unsigned bad_used;          /* used entries that made no sense */
};

static inline volatile struct gvq_used_elem *gvq_used_ring(const struct gvq *q)
{
	return (volatile struct gvq_used_elem *)((volatile uint8_t *)q->used + 4);
}
static inline volatile uint16_t *gvq_used_event(const struct gvq *q) { return &q->avail[2 + q->num]; }
static inline volatile uint16_t *gvq_avail_event(const struct gvq *q)
{
	return (volatile uint16_t *)((volatile uint8_t *)q->used + 4 + 8 * q->num);
}

/* Lay the rings out in area (GVQ_AREA_BYTES, 4 KiB aligned, any contents)
 * and set up the free lists.  The addresses to give the device are then
 * gvq_areas(). */
static inline void gvq_init(struct gvq *q, void *area, unsigned num, bool packed, bool event_idx, bool indirect)
{
	memset(q, 0, sizeof(*q));
	memset(area, 0, GVQ_AREA_BYTES);
	q->num = num;
	q->packed = packed;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->num_free = num;
	if (!packed) {
		q->desc = area;
		q->avail = (volatile uint16_t *)((uint8_t *)area + 4096);
		q->used = (volatile uint16_t *)((uint8_t *)area + 8192);
		for (unsigned i = 0; i < num; i++)
			q->desc[i].next = (uint16_t)(i + 1 < num ? i + 1 : 0);
	} else {
		q->pdesc = area;
		q->drv_evt = (volatile struct gvq_event *)((uint8_t *)area + 4096);
		q->dev_evt = (volatile struct gvq_event *)((uint8_t *)area + 8192);
		q->avail_wrap = q->used_wrap = q->kick_wrap = true;
		for (unsigned i = 0; i < num; i++)
			q->free_ids[q->nfree_ids++] = (uint16_t)(num - 1 - i);
	}
}

/* Descriptor area, driver area, device area (4.2.2 QueueDesc/Driver/Device). */
static inline void gvq_areas(const struct gvq *q, uint64_t *desc, uint64_t *drv, uint64_t *dev)
{
	if (!q->packed) {
		*desc = (uint64_t)q->desc;
		*drv = (uint64_t)q->avail;
		*dev = (uint64_t)q->used;
	} else {
		*desc = (uint64_t)q->pdesc;
		*drv = (uint64_t)q->drv_evt;
		*dev = (uint64_t)q->dev_evt;
	}
}

/* An indirect table: split entries linked by NEXT (2.7.5.3); packed
 * entries are read in order, all of them, and carry only WRITE (2.8.7). */
static inline void gvq_fill_table(const struct gvq *q, struct gvq_desc *t, const struct gvq_buf *b, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t w = b[k].write ? VIRTQ_DESC_F_WRITE : 0;
		if (q->packed) {
			volatile struct gvq_pdesc *p = (volatile struct gvq_pdesc *)&t[k];
			*p = (struct gvq_pdesc){ b[k].addr, b[k].len, 0, w };
		} else {
			t[k] = (struct gvq_desc){ b[k].addr, b[k].len,
						  (uint16_t)(w | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), (uint16_t)(k + 1) };
		}
	}
}

/*
 * Make a chain of n buffers available (readable ones first, 2.7.4.2).
 * itable: room for n descriptors; if not NULL and INDIRECT_DESC was
 * negotiated, the chain goes there and takes one ring descriptor.
 * 0, or -1 if there is no room (nothing was changed).
 */
static inline int gvq_add(struct gvq *q, const struct gvq_buf *b, unsigned n, void *cookie,
			  struct gvq_desc *itable)
{
	bool ind = itable != NULL && q->indirect && n > 1;
	unsigned need = ind ? 1 : n;
	if (n == 0 || need > q->num_free || (q->packed && q->nfree_ids == 0))
		return -1;
	if (ind)
		gvq_fill_table(q, itable, b, n);
	if (!q->packed) {
		uint16_t head = q->free_head, i = head;
		for (unsigned k = 0; k < need; k++) {
			volatile struct gvq_desc *d = &q->desc[i];
			if (ind) {
				d->addr = (uint64_t)itable;
				d->len = (uint32_t)(16 * n);
				d->flags = VIRTQ_DESC_F_INDIRECT;
			} else {
				d->addr = b[k].addr;
				d->len = b[k].len;
				d->flags = (uint16_t)((b[k].write ? VIRTQ_DESC_F_WRITE : 0) |
						      (k + 1 < need ? VIRTQ_DESC_F_NEXT : 0));
			}
			i = d->next;            /* the free list runs through next */
		}
		q->free_head = i;
		q->num_free -= need;
		q->cookie[head] = cookie;
		q->ndesc[head] = (uint16_t)need;
		q->avail[2 + q->avail_idx % q->num] = head;
		gvq_barrier();                  /* ring entry before idx */
		q->avail_idx++;
		q->avail[1] = q->avail_idx;
		return 0;
	}
	/* packed: slots from next_avail on; the head's flags are written last,
	 * so the device never sees half a chain (2.8.21). */
	uint16_t id = q->free_ids[--q->nfree_ids];
	uint16_t pos = q->next_avail, head_flags = 0;
	bool wrap = q->avail_wrap;
	for (unsigned k = 0; k < need; k++) {
		volatile struct gvq_pdesc *d = &q->pdesc[pos];
		uint16_t f = (uint16_t)(wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED);
		if (ind) {
			d->addr = (uint64_t)itable;
			d->len = (uint32_t)(16 * n);
			f |= VIRTQ_DESC_F_INDIRECT;
		} else {
			d->addr = b[k].addr;
			d->len = b[k].len;
			f |= (uint16_t)((b[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < need ? VIRTQ_DESC_F_NEXT : 0));
		}
		d->id = id;
		if (k == 0) {
			head_flags = f;
		} else {
			gvq_barrier();
			d->flags = f;
		}
		if (++pos == q->num) {
			pos = 0;
			wrap = !wrap;
		}
	}
	gvq_barrier();                          /* the rest of the chain first */
	q->pdesc[q->next_avail].flags = head_flags;
	q->next_avail = pos;
	q->avail_wrap = wrap;
	q->num_free -= need;
	q->cookie[id] = cookie;
	q->ndesc[id] = (uint16_t)need;
	return 0;
}

/* After one or more gvq_add: does the device want a notification?
 * (2.7.10 / 2.8.10; the position is remembered for the next call.) */
static inline bool gvq_kick_needed(struct gvq *q)
{
	gvq_mb();                               /* [ordering] idx/flags out, then read */
	if (!q->packed) {
		uint16_t old = q->kicked, now = q->avail_idx;
		q->kicked = now;
		if (q->event_idx)
			return (uint16_t)(now - *gvq_avail_event(q) - 1) < (uint16_t)(now - old);
		return !(q->used[0] & VIRTQ_USED_F_NO_NOTIFY);
	}
	uint16_t old = q->kick_pos, now = q->next_avail;
	bool old_wrap = q->kick_wrap;
	q->kick_pos = now;
	q->kick_wrap = q->avail_wrap;
	uint16_t flags = q->dev_evt->flags, off_wrap = q->dev_evt->off_wrap;
	if (flags == RING_EVENT_FLAGS_DISABLE)
		return false;
	if (flags != RING_EVENT_FLAGS_DESC || !q->event_idx)
		return true;
	/* Slots on one line: this lap 0..num-1, the last lap -num..-1. */
	int ev = off_wrap & 0x7fff, o = old, n = now;
	if ((bool)(off_wrap >> 15) != q->avail_wrap)
		ev -= (int)q->num;
	if (old_wrap != q->avail_wrap)
		o -= (int)q->num;
	return ev >= o && ev < n;
}

/* Any used buffer waiting? */
static inline bool gvq_has_used(const struct gvq *q)
{
	if (!q->packed)
		return q->used[1] != q->last_used;
	uint16_t f = q->pdesc[q->next_used].flags;
	bool a = f & VIRTQ_DESC_F_AVAIL, u = f & VIRTQ_DESC_F_USED;
	return a == q->used_wrap && u == q->used_wrap;
}

#define GVQ_BAD ((void *)-1)

/* The next used buffer: its cookie and the bytes the device wrote; NULL
 * if there is none, GVQ_BAD if the device named a chain not in flight. */
static inline void *gvq_get(struct gvq *q, uint32_t *len)
{
	if (!gvq_has_used(q))
		return NULL;
	gvq_barrier();                          /* idx/flags before the entry */
	uint32_t id;
	if (!q->packed) {
		volatile struct gvq_used_elem *e = &gvq_used_ring(q)[q->last_used % q->num];
		id = e->id;
		*len = e->len;
		q->last_used++;
		if (id >= q->num || q->cookie[id] == NULL) {
			q->bad_used++;
			return GVQ_BAD;
		}
		/* back on the free list: walk to the chain's last descriptor */
		uint16_t last = (uint16_t)id;
		for (unsigned k = 1; k < q->ndesc[id]; k++)
			last = q->desc[last].next;
		q->desc[last].next = q->free_head;
		q->free_head = (uint16_t)id;
	} else {
		volatile struct gvq_pdesc *d = &q->pdesc[q->next_used];
		id = d->id;
		*len = d->len;
		if (id >= q->num || q->cookie[id] == NULL) {
			q->bad_used++;
			q->next_used = (uint16_t)((q->next_used + 1) % q->num);   /* skip it */
			return GVQ_BAD;
		}
		unsigned skip = q->ndesc[id];
		q->next_used = (uint16_t)(q->next_used + skip);
		if (q->next_used >= q->num) {
			q->next_used = (uint16_t)(q->next_used - q->num);
			q->used_wrap = !q->used_wrap;
		}
		q->free_ids[q->nfree_ids++] = (uint16_t)id;
	}
	q->num_free += q->ndesc[id];
	void *c = q->cookie[id];
	q->cookie[id] = NULL;
	return c;
}

/*
 * Used-buffer notifications (2.7.7, 2.8.10): none at all (off), or one
 * once `after` more chains (split) or ring slots (packed: a chain takes
 * as many slots as it has descriptors in the ring) have been used.
 * Without EVENT_IDX only on/off exist: an interrupt for every batch the
 * device completes.
 */
static inline void gvq_interrupts(struct gvq *q, bool on, uint16_t after)
{
	if (!q->packed) {
		if (q->event_idx) {
			/* Never suppressing by flag: used_event alone decides. */
			q->avail[0] = 0;
			*gvq_used_event(q) = (uint16_t)(q->last_used + (on ? after - 1 : 0x8000));
		} else {
			q->avail[0] = on ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
		}
	} else if (!on) {
		q->drv_evt->flags = RING_EVENT_FLAGS_DISABLE;
	} else if (q->event_idx) {
		unsigned pos = q->next_used + (after ? after : 1) - 1;
		bool wrap = q->used_wrap;
		if (pos >= q->num) {
			pos -= q->num;
			wrap = !wrap;
		}
		q->drv_evt->off_wrap = (uint16_t)(pos | (wrap ? 0x8000 : 0));
		gvq_barrier();
		q->drv_evt->flags = RING_EVENT_FLAGS_DESC;
	} else {
		q->drv_evt->flags = RING_EVENT_FLAGS_ENABLE;
	}
	gvq_mb();                               /* [ordering] then the caller re-checks */
}

/* ---- device bring-up (3.1.1, 4.2.3.1) ------------------------------------------ */

/*
 * Bring-up in steps, for devices with more than one queue (virtio-net,
 * virtio-console): gvq_negotiate (reset, ACKNOWLEDGE, DRIVER, features,
 * FEATURES_OK read back), gvq_setup_queue per queue, gvq_driver_ok.
 */
static inline uint64_t gvq_negotiate(const struct vmmio *m, uint64_t want, const char **why)
{
	vm_set_status(m, 0);
	if (vm_status(m) != 0) {
		*why = "status not 0 after reset";
		return 0;
	}
	vm_set_status(m, VIRTIO_STATUS_ACKNOWLEDGE);
	vm_set_status(m, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t f = (vm_device_features(m) & want) | (1ull << VIRTIO_F_VERSION_1);
	vm_driver_features(m, f);
	vm_set_status(m, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(vm_status(m) & VIRTIO_STATUS_FEATURES_OK)) {
		*why = "FEATURES_OK refused";
		return 0;
	}
	return f;
}

/* Queue `index` with q (num entries) in area, for the accepted features f. */
static inline bool gvq_setup_queue(const struct vmmio *m, unsigned index, struct gvq *q, void *area,
				   unsigned num, uint64_t f, const char **why)
{
	vm_wr(m, VIRTIO_MMIO_QUEUE_SEL, index);
	uint32_t max = vm_rd(m, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (vm_rd(m, VIRTIO_MMIO_QUEUE_READY) != 0 || max == 0 || num > max || num > GVQ_MAX) {
		*why = "queue not usable";
		return false;
	}
	gvq_init(q, area, num, f & (1ull << VIRTIO_F_RING_PACKED), f & (1ull << VIRTIO_F_EVENT_IDX),
		 f & (1ull << VIRTIO_F_INDIRECT_DESC));
	uint64_t desc, drv, dev;
	gvq_areas(q, &desc, &drv, &dev);
	vm_wr(m, VIRTIO_MMIO_QUEUE_NUM, num);
	vm_wr(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	vm_wr(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	vm_wr(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)drv);
	vm_wr(m, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(drv >> 32));
	vm_wr(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)dev);
	vm_wr(m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(dev >> 32));
	vm_wr(m, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vm_rd(m, VIRTIO_MMIO_QUEUE_READY) != 1) {
		*why = "queue did not become ready";
		return false;
	}
	return true;
}

static inline bool gvq_driver_ok(const struct vmmio *m, const char **why)
{
	vm_set_status(m, vm_status(m) | VIRTIO_STATUS_DRIVER_OK);
	if (vm_status(m) & VIRTIO_STATUS_NEEDS_RESET) {
		*why = "device needs a reset";
		return false;
	}
	return true;
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, features (want & offered, VERSION_1 always
 * asked for), FEATURES_OK read back, queue 0 set up with q (num entries),
 * DRIVER_OK unless !driver_ok.  Returns the accepted features, or 0 with
 * *why set.
 */
static inline uint64_t gvq_bring_up(const struct vmmio *m, struct gvq *q, void *area, unsigned num,
				    uint64_t want, bool driver_ok, const char **why)
{
	uint64_t f = gvq_negotiate(m, want, why);
	if (!f)
		return 0;
	if (!gvq_setup_queue(m, 0, q, area, num, f, why))
		return 0;
	if (driver_ok && !gvq_driver_ok(m, why))
		return 0;
	if (!driver_ok && (vm_status(m) & VIRTIO_STATUS_NEEDS_RESET)) {
		*why = "device needs a reset";
		return 0;
	}
	return f;
}

/* The n-th device on the command line with this device ID. */
static inline bool gvq_find_device_id(const char *cmdline, uint32_t id, unsigned n, struct vmmio *m)
{
	uint64_t size;
	for (unsigned i = 0; cmdline && gvq_find_device(cmdline, i, m, &size); i++)
		if (vm_rd(m, VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC &&
		    vm_rd(m, VIRTIO_MMIO_DEVICE_ID) == id && n-- == 0)
			return true;
	return false;
}

static inline void gvq_kick(const struct vmmio *m, unsigned queue)
{
	vm_wr(m, VIRTIO_MMIO_QUEUE_NOTIFY, queue);
}

#endif
