/*
 * virtqueue: the device side of one virtio queue (virtio 1.2, chapter 2.6-2.8).
 *
 * A virtqueue is shared memory in the guest through which the driver hands
 * buffers to the device and the device hands them back.  Two layouts exist,
 * chosen by the VIRTIO_F_RING_PACKED feature:
 *
 *   split (2.7)   three areas: a descriptor table, an available ring
 *                 (driver -> device: "these chains are yours") and a used
 *                 ring (device -> driver: "done with this chain, n bytes
 *                 written").  Queue size a power of two, at most 32768.
 *   packed (2.8)  one descriptor ring both sides write, plus two 4-byte
 *                 event-suppression structures.  Ownership of each slot is
 *                 told by its AVAIL/USED flag bits against a wrap counter.
 *                 Queue size anything from 1 to 32768.
 *
 * The picture for students is in docs/virtio.md.
 *
 * What this module does for a device model:
 *   vq_pop()    takes the next available chain, walks it (NEXT links,
 *               indirect tables) and hands back its buffers as a list of
 *               segments -- readable ones first, then writable ones;
 *   vq_read() / vq_write()
 *               copy bytes out of the chain's readable part or into its
 *               writable part, addressed as one flat stream each (the
 *               device must not care how the driver split a message into
 *               descriptors, 2.7.4);
 *   vq_push()   returns a chain to the driver with the number of bytes
 *               written;
 *   vq_should_interrupt()
 *               whether the driver wants a used-buffer notification now
 *               (VIRTQ_AVAIL_F_NO_INTERRUPT, used_event with EVENT_IDX, or
 *               the packed driver event suppression structure);
 *   vq_disable_notify() / vq_enable_notify()
 *               ask the driver to stop / resume kicking the device
 *               (VIRTQ_USED_F_NO_NOTIFY, avail_event with EVENT_IDX, or the
 *               packed device event suppression structure).
 *
 * Trust.  Everything in guest memory is written by the guest, possibly
 * while the device reads it (DESIGN.md "Principles" 4).  So:
 *   - every guest address is turned into host memory only by mm/gmem: the
 *     ring areas once, when the queue is started (vq_start), and each
 *     buffer and indirect table when its chain is popped; a range that is
 *     not wholly guest RAM (ROM too, for what the device only reads) is an
 *     error, never a host access;
 *   - every guest word is loaded once into a local and checked there
 *     (volatile accesses: the compiler may not load it again);
 *   - anything that breaks the rules of chapter 2 -- an index out of range,
 *     a loop, a chain longer than the queue or than VQ_MAX_CHAIN, a
 *     readable buffer after a writable one, a bad indirect table, more than
 *     a ring's worth of new buffers -- puts the queue in an error state
 *     (vq->error, sticky until vq_reset).  The transport turns that into
 *     DEVICE_NEEDS_RESET (2.1) and the kernel logs vq_strerror().
 *
 * The device may limit chain length (2.7.4.1 "The device MAY have a
 * reasonable limit of descriptors it will allow in a chain"); here the
 * limit is VQ_MAX_CHAIN descriptors counting those of an indirect table,
 * and device models advertise it (virtio-blk's seg_max).
 *
 * Memory ordering.  In the kernel the device runs on one CPU while the
 * driver runs on another, so the order in which the two see each other's
 * writes matters.  x86 keeps loads in order with loads and stores in order
 * with stores (TSO), so those cases need only vq_barrier(), a compiler
 * barrier.  It does NOT keep a store before a later load (a store can sit
 * in the store buffer while the load goes ahead), and that is exactly the
 * notification-suppression case: "publish used idx, then read whether the
 * driver wants an interrupt" and "re-enable kicks, then look for new
 * buffers".  Those use vq_mb(), a full fence.  The places are marked
 * [ordering] in virtqueue.c.
 *
 * Little-endian host assumed (x86), as the virtio 1.x rings are.
 * Pure code over plain data plus struct gmem; no allocation, no globals.
 * One caller at a time per queue: the kernel serialises with a lock.
 */
#ifndef NESTOR_VIRTQUEUE_H
#define NESTOR_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/gmem.h"

/* Feature bits this module cares about (virtio 1.2, 6 "Reserved Feature Bits"). */
#define VIRTIO_F_INDIRECT_DESC  28
#define VIRTIO_F_EVENT_IDX      29
#define VIRTIO_F_VERSION_1      32
#define VIRTIO_F_RING_PACKED    34
#define VIRTIO_F_IN_ORDER       35

/* Descriptor flags (2.7.5, 2.8.1). */
#define VIRTQ_DESC_F_NEXT       1
#define VIRTQ_DESC_F_WRITE      2
#define VIRTQ_DESC_F_INDIRECT   4
#define VIRTQ_DESC_F_AVAIL      (1u << 7)    /* packed only */
#define VIRTQ_DESC_F_USED       (1u << 15)   /* packed only */

/* Split ring suppression flags (2.7.6, 2.7.8). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

/* Packed ring event suppression (2.8.10, 2.8.14). */
#define RING_EVENT_FLAGS_ENABLE  0
#define RING_EVENT_FLAGS_DISABLE 1
#define RING_EVENT_FLAGS_DESC    2

#define VQ_MAX_SIZE   32768     /* 2.7 and 2.8: at most 2^15 entries */
#define VQ_MAX_CHAIN  128       /* descriptors per chain, see above  */

/* Why a queue stopped.  VQ_OK is 0; everything else needs a device reset. */
enum vq_error {
	VQ_OK = 0,
	VQ_E_SIZE,            /* queue size 0, > maximum, or split and not 2^n */
	VQ_E_ALIGN,           /* a ring area not aligned as 2.7 / 2.8.10 ask   */
	VQ_E_RING_ADDR,       /* a ring area not wholly in guest RAM           */
	VQ_E_RING_OVERLAP,    /* two ring areas share bytes                    */
	VQ_E_AVAIL_IDX,       /* split: avail idx moved more than a ring ahead */
	VQ_E_INDEX,           /* a head or next index >= queue/table size      */
	VQ_E_CHAIN_LOOP,      /* a chain longer than its table: a loop         */
	VQ_E_CHAIN_LONG,      /* more than VQ_MAX_CHAIN descriptors            */
	VQ_E_ORDER,           /* a device-readable buffer after a writable one */
	VQ_E_BUF_ADDR,        /* a buffer not wholly in guest RAM (or ROM for  */
			      /* a readable one)                               */
	VQ_E_TOTAL_LEN,       /* a chain longer than 2^32 bytes in total       */
	VQ_E_INDIRECT_FEATURE,/* INDIRECT used but not negotiated              */
	VQ_E_INDIRECT_NEXT,   /* INDIRECT together with NEXT, or (packed)      */
			      /* inside a NEXT list                            */
	VQ_E_INDIRECT_NESTED, /* split: INDIRECT inside an indirect table      */
	VQ_E_INDIRECT_LEN,    /* indirect table length 0 or not a multiple of  */
			      /* 16                                            */
	VQ_E_INDIRECT_ADDR,   /* indirect table not wholly in guest RAM/ROM    */
	VQ_E_COUNT
};

const char *vq_strerror(enum vq_error e);

/* One buffer of a chain: guest-physical address, length, direction. */
struct vq_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;           /* device-writable */
};

/*
 * A popped chain.  seg[0..nread) are device-readable, seg[nread..nseg)
 * device-writable; zero-length descriptors are checked but not stored.
 * read_len/write_len are the byte totals of the two parts.
 */
struct vq_chain {
	uint16_t id;          /* split: head descriptor index; packed: buffer id */
	uint16_t ring_descs;  /* packed: ring slots the chain took (skip count)  */
	unsigned nseg, nread;
	uint64_t read_len, write_len;
	struct vq_seg seg[VQ_MAX_CHAIN];
};

struct vq {
	/* Configuration, written by the transport while the queue is not
	 * ready (4.2.2 QueueNum, QueueDesc/Driver/Device). */
	uint32_t num_max;     /* QueueNumMax: what the device allows    */
	uint32_t num;         /* QueueNum: what the driver chose        */
	uint64_t desc_gpa, driver_gpa, device_gpa;
	bool ready;           /* QueueReady: vq_start() succeeded        */

	/* Fixed by vq_start() from the negotiated features. */
	const struct gmem *mem;
	bool packed, event_idx, indirect;
	void *desc, *driver, *device;   /* host pointers to the three areas */

	/* Split ring state: free-running 16-bit indices (2.7.6, 2.7.8). */
	uint16_t last_avail;  /* next avail ring entry to take           */
	uint16_t used_idx;    /* our copy of used->idx                   */
	uint16_t signalled_used; /* used_idx at the last interrupt check */

	/* Packed ring state (2.8.1): positions and wrap counters. */
	uint16_t next_avail, next_used;
	bool avail_wrap, used_wrap;
	uint32_t used_since_check; /* ring slots used since the last check */

	bool notify_enabled;  /* we want kicks (vq_enable_notify)        */
	enum vq_error error;  /* sticky until vq_reset()                  */
};

/* Back to the reset state (4.2.2 "Upon reset ... ready bits" cleared):
 * not ready, size = num_max, addresses 0, no error. */
void vq_reset(struct vq *vq, uint32_t num_max);

/*
 * Start the queue with its configured size and addresses, for the
 * negotiated feature bits.  Checks the size, the alignment of each area
 * and that each area lies wholly in one guest RAM range (the ring parts
 * are physically contiguous, 2.7 / 2.8), then keeps host pointers to them.
 * 0 and vq->ready, or -1 with vq->error set and the queue not ready.
 */
int vq_start(struct vq *vq, const struct gmem *mem, uint64_t features);

/* Stop using the queue (QueueReady = 0).  Its state is kept for a reader. */
void vq_stop(struct vq *vq);

/*
 * Take the next available chain into *c.  1: got one; 0: none available
 * (or the queue is not ready); -1: the driver broke a rule -- vq->error
 * says which, and the queue gives nothing more until vq_reset().
 */
int vq_pop(struct vq *vq, struct vq_chain *c);

/*
 * Copy len bytes at offset off of the chain's readable part into host
 * memory at dst (vq_read), or from src into its writable part at off
 * (vq_write).  Returns the bytes copied: fewer than len only when the part
 * ends first.  Every byte goes through gmem.
 */
size_t vq_read(const struct vq *vq, const struct vq_chain *c, uint64_t off,
	       void *dst, size_t len);
size_t vq_write(const struct vq *vq, const struct vq_chain *c, uint64_t off,
		const void *src, size_t len);

/* Hand the chain back: "written" bytes were written at the start of its
 * writable part (clamped to write_len).  2.7.8, 2.8.6. */
void vq_push(struct vq *vq, const struct vq_chain *c, uint32_t written);

/*
 * After one or more vq_push(): does the driver want a used-buffer
 * notification now?  Call once per batch; it remembers how far it looked.
 */
bool vq_should_interrupt(struct vq *vq);

/*
 * Ask the driver not to kick (while the device is busy with the queue
 * anyway), or to kick again.  vq_enable_notify() returns true if buffers
 * arrived in the meantime -- the caller must then process them, or it may
 * wait for a kick that never comes (the usual pattern is a loop:
 * disable; pop until empty; if (!enable) break).
 */
void vq_disable_notify(struct vq *vq);
bool vq_enable_notify(struct vq *vq);

/*
 * The event-index rule (2.7.7.2, 2.7.10): having moved an index from old
 * to new, was the index "event" passed?  True iff event lies in
 * [old, new) counting modulo 2^16.  Shared by both directions and, in the
 * tests, by the driver side.
 */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
