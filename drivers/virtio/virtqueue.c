/*
 * virtqueue: the device side of one virtio queue.  See virtqueue.h for the
 * contract and docs/virtio.md for pictures of the rings.
 *
 * Layouts (virtio 1.2; all fields little-endian, offsets in bytes):
 *
 *   split descriptor i (2.7.5)     at desc + 16*i
 *     +0 addr u64   +8 len u32   +12 flags u16   +14 next u16
 *   split available ring (2.7.6)   at driver
 *     +0 flags u16  +2 idx u16   +4 ring[num] u16   +4+2*num used_event u16
 *   split used ring (2.7.8)        at device
 *     +0 flags u16  +2 idx u16   +4 ring[num] {id u32, len u32}
 *     +4+8*num avail_event u16
 *
 *   packed descriptor i (2.8.13)   at desc + 16*i
 *     +0 addr u64   +8 len u32   +12 id u16      +14 flags u16
 *   packed event suppression (2.8.14), driver area and device area
 *     +0 desc: offset bits 14:0, wrap counter bit 15   +2 flags u16 (bits 1:0)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtqueue.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio 1.x rings are little-endian");

/*
 * [ordering] barriers; see "Memory ordering" in virtqueue.h.
 * vq_barrier(): keeps the compiler from moving memory accesses across it;
 *   on x86 that is all load->load and store->store ordering needs.
 * vq_mb(): a full fence, for a store that must be visible before a later
 *   load (x86 may otherwise let the load pass the store).
 */
#define vq_barrier() __asm__ __volatile__("" ::: "memory")
#define vq_mb()      __atomic_thread_fence(__ATOMIC_SEQ_CST)

/*
 * Ring memory as words.  Volatile: the driver may change a word at any
 * time, and each access must be exactly one load or store of that width
 * (naturally aligned, so single-copy atomic on x86: the driver never sees
 * half of a used->idx update).  may_alias: guest memory has no C type.
 */
typedef volatile uint16_t __attribute__((may_alias)) vq_u16;
typedef volatile uint32_t __attribute__((may_alias)) vq_u32;
typedef volatile uint64_t __attribute__((may_alias)) vq_u64;

static uint16_t ld16(const void *area, size_t off)
{
	return *(vq_u16 *)((uintptr_t)area + off);
}

static uint32_t ld32(const void *area, size_t off)
{
	return *(vq_u32 *)((uintptr_t)area + off);
}

static uint64_t ld64(const void *area, size_t off)
{
	return *(vq_u64 *)((uintptr_t)area + off);
}

static void st16(void *area, size_t off, uint16_t v)
{
	*(vq_u16 *)((uintptr_t)area + off) = v;
}

static void st32(void *area, size_t off, uint32_t v)
{
	*(vq_u32 *)((uintptr_t)area + off) = v;
}

/* Split ring offsets. */
#define AVAIL_FLAGS        0
#define AVAIL_IDX          2
#define AVAIL_RING(i)      (4 + 2 * (size_t)(i))
#define USED_FLAGS         0
#define USED_IDX           2
#define USED_ID(i)         (4 + 8 * (size_t)(i))
#define USED_LEN(i)        (8 + 8 * (size_t)(i))
/* used_event follows the avail ring, avail_event the used ring. */
#define USED_EVENT(vq)     AVAIL_RING((vq)->num)
#define AVAIL_EVENT(vq)    USED_ID((vq)->num)

/* Packed ring offsets. */
#define PDESC_LEN(i)       (16 * (size_t)(i) + 8)
#define PDESC_ID(i)        (16 * (size_t)(i) + 12)
#define PDESC_FLAGS(i)     (16 * (size_t)(i) + 14)
#define EVENT_OFF_WRAP     0
#define EVENT_FLAGS        2

static const char *const error_names[VQ_E_COUNT] = {
	[VQ_OK]                 = "no error",
	[VQ_E_SIZE]             = "queue size 0, above the maximum, or (split) not a power of two",
	[VQ_E_ALIGN]            = "ring area misaligned",
	[VQ_E_RING_ADDR]        = "ring area not in guest RAM",
	[VQ_E_RING_OVERLAP]     = "ring areas overlap",
	[VQ_E_AVAIL_IDX]        = "available index moved more than a ring ahead",
	[VQ_E_INDEX]            = "descriptor index out of range",
	[VQ_E_CHAIN_LOOP]       = "descriptor chain longer than its table (a loop)",
	[VQ_E_CHAIN_LONG]       = "descriptor chain longer than the device allows",
	[VQ_E_ORDER]            = "device-readable buffer after a device-writable one",
	[VQ_E_BUF_ADDR]         = "buffer not in guest RAM",
	[VQ_E_TOTAL_LEN]        = "descriptor chain longer than 4 GiB",
	[VQ_E_INDIRECT_FEATURE] = "indirect descriptor without VIRTIO_F_INDIRECT_DESC",
	[VQ_E_INDIRECT_NEXT]    = "indirect descriptor chained with NEXT",
	[VQ_E_INDIRECT_NESTED]  = "indirect descriptor inside an indirect table",
	[VQ_E_INDIRECT_LEN]     = "indirect table length 0 or not a multiple of 16",
	[VQ_E_INDIRECT_ADDR]    = "indirect table not in guest RAM",
};

const char *vq_strerror(enum vq_error e)
{
	return (unsigned)e < VQ_E_COUNT ? error_names[e] : "unknown error";
}

static int fail(struct vq *vq, enum vq_error e)
{
	vq->error = e;
	return -1;
}

/*
 * Is every byte of [gpa, gpa + len) guest RAM (or ROM, when the device
 * only reads)?  len > 0.  Walks range by range, as a buffer may cross
 * from one RAM range into an adjacent one.  Guest numbers are only
 * compared with stored ranges, never added to, until inside one.
 */
static bool guest_range_ok(const struct gmem *g, uint64_t gpa, uint64_t len, bool write)
{
	while (len > 0) {
		const struct gmem_range *r = gmem_lookup(g, gpa);
		uint64_t room;

		if (r == NULL || !(r->kind == GMEM_RAM || (!write && r->kind == GMEM_ROM)))
			return false;
		room = r->size - (gpa - r->gpa);
		if (room >= len)
			return true;
		gpa += room;    /* the end of r: below 2^64 */
		len -= room;
	}
	return true;
}

/* ---- queue setup ---------------------------------------------------------- */

static bool areas_overlap(const void *a, uint64_t alen, const void *b, uint64_t blen)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return x < y + blen && y < x + alen;
}

void vq_reset(struct vq *vq, uint32_t num_max)
{
	memset(vq, 0, sizeof(*vq));
	vq->num_max = num_max;
	vq->num = num_max;
}

int vq_start(struct vq *vq, const struct gmem *mem, uint64_t features)
{
	bool packed = features & (1ull << VIRTIO_F_RING_PACKED);
	uint64_t num = vq->num;
	uint64_t drv_size, dev_size;
	unsigned drv_align, dev_align;

	vq->ready = false;
	/* 2.7: split sizes are powers of two up to 32768; 2.8: packed sizes
	 * are anything up to 2^15.  QueueNum <= QueueNumMax (4.2.2.2). */
	if (num == 0 || num > vq->num_max || num > VQ_MAX_SIZE ||
	    (!packed && (num & (num - 1))))
		return fail(vq, VQ_E_SIZE);
	if (packed) {           /* 2.8.10.1: two 4-byte structures */
		drv_size = dev_size = 4;
		drv_align = dev_align = 4;
	} else {                /* 2.7: table 16, avail 2, used 4 */
		drv_size = 6 + 2 * num;
		dev_size = 6 + 8 * num;
		drv_align = 2;
		dev_align = 4;
	}
	if (vq->desc_gpa % 16 || vq->driver_gpa % drv_align || vq->device_gpa % dev_align)
		return fail(vq, VQ_E_ALIGN);

	/* Each part is physically contiguous (2.7, 2.8.10): one gmem range.
	 * The device writes the packed descriptor ring (used descriptors)
	 * and the device area; it only reads the rest. */
	vq->desc = gmem_ptr(mem, vq->desc_gpa, 16 * num, packed);
	vq->driver = gmem_ptr(mem, vq->driver_gpa, drv_size, false);
	vq->device = gmem_ptr(mem, vq->device_gpa, dev_size, true);
	if (vq->desc == NULL || vq->driver == NULL || vq->device == NULL)
		return fail(vq, VQ_E_RING_ADDR);
	/* Each area has one writer (2.7: the driver writes the table and
	 * the available ring, the device the used ring; 2.8: the event
	 * structures one each).  If they shared bytes, what the device
	 * writes would rewrite what it reads: e.g. a used ring whose flags
	 * sit on avail->idx turns "no kicks, please" into "one more buffer"
	 * and back, and the serve loop (disable, pop, enable, "anything
	 * new?") would never end.  Compared as host addresses, so two guest
	 * addresses of the same memory count too. */
	if (areas_overlap(vq->desc, 16 * num, vq->driver, drv_size) ||
	    areas_overlap(vq->desc, 16 * num, vq->device, dev_size) ||
	    areas_overlap(vq->driver, drv_size, vq->device, dev_size))
		return fail(vq, VQ_E_RING_OVERLAP);

	vq->mem = mem;
	vq->packed = packed;
	vq->event_idx = features & (1ull << VIRTIO_F_EVENT_IDX);
	vq->indirect = features & (1ull << VIRTIO_F_INDIRECT_DESC);
	/* Indices start at 0 and wrap counters at 1 (2.7.6, 2.8.1); the
	 * driver zeroed the rings before handing them over (4.2.3.2). */
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->next_avail = vq->next_used = 0;
	vq->avail_wrap = vq->used_wrap = true;
	vq->used_since_check = 0;
	vq->notify_enabled = true;
	vq->error = VQ_OK;
	vq->ready = true;
	return 0;
}

void vq_stop(struct vq *vq)
{
	vq->ready = false;
}

/* ---- walking a chain ------------------------------------------------------ */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;          /* split: next index; packed: buffer id */
};

/* State of one walk: the chain being filled and what was seen so far. */
struct walk {
	struct vq *vq;
	struct vq_chain *c;
	unsigned ndesc;         /* descriptors so far, direct and indirect */
	bool saw_write;         /* a device-writable one came already      */
};

/*
 * One descriptor's buffer joins the chain.  2.7.4.2 / 2.8.17: writable
 * buffers come after readable ones; 2.7.5.2: at most 2^32 bytes in all;
 * the buffer must be guest memory the device may access that way.  A
 * zero-length buffer carries no bytes: it is checked for order but not
 * stored (the spec allows it; QEMU refuses it).
 */
static int add_buffer(struct walk *w, uint64_t addr, uint32_t len, bool write)
{
	struct vq_chain *c = w->c;
	struct vq_seg *s;

	if (++w->ndesc > VQ_MAX_CHAIN)
		return fail(w->vq, VQ_E_CHAIN_LONG);
	if (!write && w->saw_write)
		return fail(w->vq, VQ_E_ORDER);
	w->saw_write |= write;
	if (len == 0)
		return 0;
	if (c->read_len + c->write_len + len > (1ull << 32))
		return fail(w->vq, VQ_E_TOTAL_LEN);
	if (!guest_range_ok(w->vq->mem, addr, len, write))
		return fail(w->vq, VQ_E_BUF_ADDR);

	s = &c->seg[c->nseg++];
	s->gpa = addr;
	s->len = len;
	s->write = write;
	if (write) {
		c->write_len += len;
	} else {
		c->read_len += len;
		c->nread++;
	}
	return 0;
}

/* A descriptor copied out of guest memory.  The two layouts share addr
 * and len; split has flags then next, packed has id then flags. */
static void decode_desc(const uint8_t raw[16], bool packed, struct desc *d)
{
	memcpy(&d->addr, raw, 8);
	memcpy(&d->len, raw + 8, 4);
	memcpy(packed ? &d->next : &d->flags, raw + 12, 2);
	memcpy(packed ? &d->flags : &d->next, raw + 14, 2);
}

/*
 * An indirect table (2.7.5.3 split, 2.8.7 packed): len bytes at table,
 * len / 16 descriptors.  Split tables are walked by NEXT from entry 0 and
 * may not hold another INDIRECT; packed tables are read in order, all of
 * them, and only their WRITE flag means anything (the others are
 * reserved and ignored).  The table itself is only read by the device.
 */
static int walk_indirect(struct walk *w, uint64_t table, uint32_t len)
{
	struct vq *vq = w->vq;
	uint32_t n, i = 0, seen = 0;

	if (len == 0 || len % 16)
		return fail(vq, VQ_E_INDIRECT_LEN);
	if (!guest_range_ok(vq->mem, table, len, false))
		return fail(vq, VQ_E_INDIRECT_ADDR);
	n = len / 16;
	for (;;) {
		uint8_t raw[16];
		struct desc d;

		if (++seen > n)
			return fail(vq, VQ_E_CHAIN_LOOP);
		/* A copy, so each field is read once; gmem checks again. */
		if (gmem_read(vq->mem, table + 16ull * i, raw, sizeof(raw)) != 0)
			return fail(vq, VQ_E_INDIRECT_ADDR);
		decode_desc(raw, vq->packed, &d);
		if (vq->packed) {
			if (add_buffer(w, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE) < 0)
				return -1;
			if (++i == n)
				return 0;
			continue;
		}
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return fail(vq, VQ_E_INDIRECT_NESTED);
		if (add_buffer(w, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return fail(vq, VQ_E_INDEX);
		i = d.next;
	}
}

static void chain_init(struct vq_chain *c)
{
	c->id = 0;
	c->ring_descs = 0;
	c->nseg = c->nread = 0;
	c->read_len = c->write_len = 0;
}

/* Split (2.7.5): follow NEXT from the head through the table; the chain
 * may end in one INDIRECT descriptor (2.7.5.3.2). */
static int walk_split(struct vq *vq, struct vq_chain *c, uint16_t head)
{
	struct walk w = { .vq = vq, .c = c };
	uint32_t i = head, seen = 0;

	for (;;) {
		struct desc d;

		/* More descriptors than the table holds: one came twice. */
		if (++seen > vq->num)
			return fail(vq, VQ_E_CHAIN_LOOP);
		d.addr = ld64(vq->desc, 16 * (size_t)i);
		d.len = ld32(vq->desc, 16 * (size_t)i + 8);
		d.flags = ld16(vq->desc, 16 * (size_t)i + 12);
		d.next = ld16(vq->desc, 16 * (size_t)i + 14);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return fail(vq, VQ_E_INDIRECT_FEATURE);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return fail(vq, VQ_E_INDIRECT_NEXT);
			/* Its WRITE flag is ignored (2.7.5.3.2). */
			return walk_indirect(&w, d.addr, d.len);
		}
		if (add_buffer(&w, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->num)
			return fail(vq, VQ_E_INDEX);
		i = d.next;
	}
}

static int pop_split(struct vq *vq, struct vq_chain *c)
{
	uint16_t avail_idx = ld16(vq->driver, AVAIL_IDX);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	uint16_t head;

	if (pending == 0)
		return 0;
	/* The driver cannot have more than num chains outstanding (2.7.13). */
	if (pending > vq->num)
		return fail(vq, VQ_E_AVAIL_IDX);
	/* [ordering] the ring entry and the descriptors are read after idx:
	 * load->load, in order on x86. */
	vq_barrier();
	head = ld16(vq->driver, AVAIL_RING(vq->last_avail & (vq->num - 1)));
	if (head >= vq->num)
		return fail(vq, VQ_E_INDEX);
	chain_init(c);
	c->id = head;
	c->ring_descs = 1;
	if (walk_split(vq, c, head) < 0)
		return -1;
	vq->last_avail++;
	/* With EVENT_IDX, while we want kicks, ask for one when the driver
	 * fills the next entry (2.7.10). */
	if (vq->event_idx && vq->notify_enabled)
		st16(vq->device, AVAIL_EVENT(vq), vq->last_avail);
	return 1;
}

/* 2.8.1: available iff AVAIL matches the wrap counter and USED does not. */
static bool packed_is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

/* Packed (2.8.6): consecutive ring slots linked by NEXT, wrapping at the
 * end; the buffer id is in the last one.  An INDIRECT descriptor stands
 * alone (2.8.7: not in a NEXT list). */
static int pop_packed(struct vq *vq, struct vq_chain *c)
{
	struct walk w = { .vq = vq, .c = c };
	uint32_t pos = vq->next_avail;
	bool wrap = vq->avail_wrap;
	uint16_t flags = ld16(vq->desc, PDESC_FLAGS(pos));
	unsigned n = 0;

	if (!packed_is_avail(flags, wrap))
		return 0;
	/* [ordering] the rest of the descriptor after its flags: load->load. */
	vq_barrier();
	chain_init(c);
	for (;;) {
		struct desc d;

		d.addr = ld64(vq->desc, 16 * (size_t)pos);
		d.len = ld32(vq->desc, PDESC_LEN(pos));
		d.next = ld16(vq->desc, PDESC_ID(pos));
		d.flags = n == 0 ? flags : ld16(vq->desc, PDESC_FLAGS(pos));
		n++;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return fail(vq, VQ_E_INDIRECT_FEATURE);
			if (n > 1 || (d.flags & VIRTQ_DESC_F_NEXT))
				return fail(vq, VQ_E_INDIRECT_NEXT);
			if (walk_indirect(&w, d.addr, d.len) < 0)
				return -1;
		} else if (add_buffer(&w, d.addr, d.len, d.flags & VIRTQ_DESC_F_WRITE) < 0) {
			return -1;
		}
		if (++pos == vq->num) {
			pos = 0;
			wrap = !wrap;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
			c->id = d.next;
			break;
		}
		/* 2.8.17: a list is never longer than the queue. */
		if (n >= vq->num)
			return fail(vq, VQ_E_CHAIN_LOOP);
	}
	c->ring_descs = (uint16_t)n;
	vq->next_avail = (uint16_t)pos;
	vq->avail_wrap = wrap;
	return 1;
}

int vq_pop(struct vq *vq, struct vq_chain *c)
{
	if (vq->error != VQ_OK)
		return -1;
	if (!vq->ready)         /* 4.2.2.1: no access while not ready */
		return 0;
	return vq->packed ? pop_packed(vq, c) : pop_split(vq, c);
}

/* ---- the chain's bytes ---------------------------------------------------- */

static size_t chain_copy(const struct vq *vq, const struct vq_chain *c, uint64_t off,
			 uint8_t *host, size_t len, bool write)
{
	unsigned i = write ? c->nread : 0, end = write ? c->nseg : c->nread;
	size_t done = 0;

	for (; i < end && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		uint64_t n;
		int bad;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off;
		if (n > len - done)
			n = len - done;
		bad = write ? gmem_write(vq->mem, s->gpa + off, host + done, (size_t)n)
			    : gmem_read(vq->mem, s->gpa + off, host + done, (size_t)n);
		if (bad)
			break;
		done += (size_t)n;
		off = 0;
	}
	return done;
}

size_t vq_read(const struct vq *vq, const struct vq_chain *c, uint64_t off, void *dst, size_t len)
{
	return chain_copy(vq, c, off, dst, len, false);
}

size_t vq_write(const struct vq *vq, const struct vq_chain *c, uint64_t off,
		const void *src, size_t len)
{
	return chain_copy(vq, c, off, (uint8_t *)(uintptr_t)src, len, true);
}

/* ---- giving chains back --------------------------------------------------- */

void vq_push(struct vq *vq, const struct vq_chain *c, uint32_t written)
{
	if (!vq->ready)
		return;
	if (written > c->write_len)
		written = (uint32_t)c->write_len;

	if (!vq->packed) {
		/* 2.7.8.2: the element (len included) before idx. */
		uint16_t slot = vq->used_idx & (vq->num - 1);

		st32(vq->device, USED_ID(slot), c->id);
		st32(vq->device, USED_LEN(slot), written);
		vq_barrier();   /* [ordering] store->store */
		vq->used_idx++;
		st16(vq->device, USED_IDX, vq->used_idx);
		return;
	}

	/* 2.8.1, 2.8.3: a used descriptor has AVAIL and USED both equal to
	 * the device's wrap counter, WRITE if anything was written; it goes
	 * to the next used slot, which then skips the chain's length
	 * (2.8.6).  Flags last: they hand the slot to the driver. */
	uint32_t pos = vq->next_used;
	uint16_t flags = vq->used_wrap ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0;

	if (written > 0)
		flags |= VIRTQ_DESC_F_WRITE;
	st32(vq->desc, PDESC_LEN(pos), written);
	st16(vq->desc, PDESC_ID(pos), c->id);
	vq_barrier();           /* [ordering] store->store */
	st16(vq->desc, PDESC_FLAGS(pos), flags);

	pos += c->ring_descs;
	if (pos >= vq->num) {
		pos -= vq->num;
		vq->used_wrap = !vq->used_wrap;
	}
	vq->next_used = (uint16_t)pos;
	vq->used_since_check += c->ring_descs;
}

/* ---- notification suppression --------------------------------------------- */

bool vq_should_interrupt(struct vq *vq)
{
	if (!vq->ready)
		return false;

	if (!vq->packed) {
		uint16_t old = vq->signalled_used;

		if (vq->used_idx == old)
			return false;           /* nothing new since last time */
		/* [ordering] used->idx was stored; the driver's wish is loaded
		 * after it: store->load needs the fence.  Otherwise a driver
		 * that re-enabled interrupts just after we looked would wait
		 * for one that never comes. */
		vq_mb();
		vq->signalled_used = vq->used_idx;
		/* 2.7.7.2: with EVENT_IDX, interrupt when used->idx passes
		 * used_event (flags ignored); without, unless NO_INTERRUPT. */
		if (vq->event_idx)
			return vq_need_event(ld16(vq->driver, USED_EVENT(vq)), vq->used_idx, old);
		return !(ld16(vq->driver, AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}

	uint32_t advanced = vq->used_since_check;
	uint16_t flags, off_wrap;
	int32_t event, new_pos, old_pos;

	if (advanced == 0)
		return false;
	vq_mb();                /* [ordering] store->load, as above */
	vq->used_since_check = 0;
	flags = ld16(vq->driver, EVENT_FLAGS) & 3;
	if (flags == RING_EVENT_FLAGS_DISABLE)
		return false;
	/* ENABLE, the reserved value 3, or DESC without EVENT_IDX (where it
	 * is not valid, 2.8.10): interrupt.  A spurious interrupt is fine
	 * (2.7.7.1 "MUST handle spurious notifications"), a lost one is not. */
	if (flags != RING_EVENT_FLAGS_DESC || !vq->event_idx || advanced >= vq->num)
		return true;
	/*
	 * DESC: interrupt if a used descriptor was written at slot "off" while
	 * the device's wrap counter was "wrap" -- that is, if the slot lies
	 * in the stretch used since the last check.  Count positions of the
	 * current lap as 0..num-1 and those of the previous lap as -num..-1;
	 * that stretch is then [new - advanced, new).
	 */
	off_wrap = ld16(vq->driver, EVENT_OFF_WRAP);
	event = off_wrap & 0x7fff;
	if (!!(off_wrap >> 15) != vq->used_wrap)
		event -= (int32_t)vq->num;
	new_pos = vq->next_used;
	old_pos = new_pos - (int32_t)advanced;
	return event >= old_pos && event < new_pos;
}

void vq_disable_notify(struct vq *vq)
{
	if (!vq->ready)
		return;
	vq->notify_enabled = false;
	if (vq->packed)
		st16(vq->device, EVENT_FLAGS, RING_EVENT_FLAGS_DISABLE);
	else if (!vq->event_idx)
		st16(vq->device, USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY);
	/* Split with EVENT_IDX: the flags must stay 0 (2.7.10.2); avail_event
	 * is simply no longer moved along, so the driver kicks at most once
	 * more, when it passes the old value. */
}

bool vq_enable_notify(struct vq *vq)
{
	if (!vq->ready)
		return false;
	vq->notify_enabled = true;
	if (vq->packed) {
		if (vq->event_idx) {
			/* Kick me when you make the slot I look at next available. */
			st16(vq->device, EVENT_OFF_WRAP,
			     (uint16_t)(vq->next_avail | (vq->avail_wrap ? 0x8000 : 0)));
			vq_barrier();   /* [ordering] store->store */
			st16(vq->device, EVENT_FLAGS, RING_EVENT_FLAGS_DESC);
		} else {
			st16(vq->device, EVENT_FLAGS, RING_EVENT_FLAGS_ENABLE);
		}
		/* [ordering] our wish is stored before we look again
		 * (store->load): otherwise a buffer added in between, by a
		 * driver that still saw "disabled", would get no kick. */
		vq_mb();
		return packed_is_avail(ld16(vq->desc, PDESC_FLAGS(vq->next_avail)), vq->avail_wrap);
	}
	if (vq->event_idx)
		st16(vq->device, AVAIL_EVENT(vq), vq->last_avail);
	else
		st16(vq->device, USED_FLAGS, 0);
	vq_mb();                /* [ordering] store->load, as above */
	return ld16(vq->driver, AVAIL_IDX) != vq->last_avail;
}
