/*
 * virtio: one virtio device as every transport sees it (virtio 1.2,
 * chapters 2 and 3) -- device status, feature negotiation, the queues,
 * and the switch from "the driver broke a rule" to DEVICE_NEEDS_RESET.
 *
 * Three layers, so that each can change alone:
 *
 *   transport   virtio_mmio.c (4.2) today, virtio-pci (4.1) later: turns
 *               register accesses into the calls below and owns how an
 *               interrupt reaches the guest (MMIO: InterruptStatus and one
 *               line; PCI: ISR or MSI-X).
 *   core        this file: status machine (3.1), features (2.2),
 *               queue start/stop, kick dispatch, needs-reset.
 *   device      virtio_blk.c, ...: fills in struct virtio_device_ops and
 *               calls vq_pop/vq_push on vd->vq[].  It knows nothing about
 *               MMIO or PCI.
 *
 * The device model embeds struct virtio_dev in its own struct and finds
 * itself again with container_of-style arithmetic in its ops.
 *
 * Status (2.1): the driver sets bits in the order ACKNOWLEDGE, DRIVER,
 * FEATURES_OK, DRIVER_OK and writes 0 to reset.  Here:
 *   - FEATURES_OK sticks only if the accepted features are a subset of the
 *     offered ones and include VIRTIO_F_VERSION_1 (2.2.2, 6.2: no legacy
 *     interface); the driver reads the status back and sees the refusal;
 *   - feature writes after FEATURES_OK are ignored (3.1.1);
 *   - DRIVER_OK without FEATURES_OK is an error (needs reset);
 *   - bits the driver clears by writing a smaller non-zero value stay set
 *     (2.1.1: "The driver MUST NOT clear a device status bit");
 *   - DEVICE_NEEDS_RESET is the device's bit: set here on an error, with a
 *     configuration-change interrupt if DRIVER_OK was set (2.1.2), and
 *     cleared only by a reset.
 * Kicks are served only while the device is live: DRIVER_OK set, neither
 * NEEDS_RESET nor FAILED.  Others are ignored and logged (2.1.2 "The
 * device MUST NOT consume buffers ... before DRIVER_OK").
 *
 * Pure code over plain data; one caller at a time (the kernel holds the
 * VM's device lock around every call).
 */
#ifndef NESTOR_VIRTIO_H
#define NESTOR_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtqueue.h"
#include "mm/gmem.h"

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE   1
#define VIRTIO_STATUS_DRIVER        2
#define VIRTIO_STATUS_DRIVER_OK     4
#define VIRTIO_STATUS_FEATURES_OK   8
#define VIRTIO_STATUS_NEEDS_RESET   64
#define VIRTIO_STATUS_FAILED        128

/* Interrupt reasons (4.2.2 InterruptStatus; the same two events on PCI). */
#define VIRTIO_INT_USED     1       /* used buffer notification      */
#define VIRTIO_INT_CONFIG   2       /* configuration change          */

/* Device IDs (5). */
#define VIRTIO_ID_NET       1
#define VIRTIO_ID_BLOCK     2
#define VIRTIO_ID_CONSOLE   3

/* The ring features the core can offer on top of the device's own bits;
 * a VM's configuration may offer fewer (e.g. no EVENT_IDX, to measure).
 * IN_ORDER promises that buffers are used in the order they were made
 * available: only for device models that complete that way (virtio-blk
 * here does; a network switch delivering to several queues may not). */
#define VIRTIO_RING_FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_PACKED) | \
			      (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX) | \
			      (1ull << VIRTIO_F_IN_ORDER))

#define VIRTIO_MAX_QUEUES   4

struct virtio_dev;

/* What a device model provides.  May be a const table shared by all
 * devices of a type; per-device values (features, sizes) are in
 * struct virtio_dev. */
struct virtio_device_ops {
	/* Device-specific configuration space (2.5): off + len <= config_size,
	 * len 1, 2 or 4.  config_write may be NULL (all fields read-only). */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, uint8_t *buf, unsigned len);
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const uint8_t *buf, unsigned len);
	/* The driver kicked queue q (ready, device live).  Process what is
	 * available; return true if work was left for later (a budget ran
	 * out) -- the kernel then calls virtio_dev_poll() again soon. */
	bool (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* Device reset: forget requests in progress.  May be NULL. */
	void (*reset)(struct virtio_dev *vd);
};

struct virtio_dev {
	const struct virtio_device_ops *ops;
	const struct gmem *mem;
	uint32_t device_id;
	uint32_t config_size;
	unsigned num_queues;

	uint64_t device_features;   /* offered: device bits | ring bits */
	uint64_t driver_features;   /* accepted by the driver            */
	uint8_t status;
	uint32_t config_generation;
	uint32_t work_pending;      /* queues with work left (bit q)     */
	struct vq vq[VIRTIO_MAX_QUEUES];

	/* Set by the transport: deliver an interrupt for these reasons. */
	void (*interrupt)(void *transport, uint32_t why);
	void *transport;

	/* Set by the kernel (optional): one log line per event, e.g.
	 * "virtio-blk@0xd0000000: kick before DRIVER_OK: ignored (0)".
	 * fatal: the device has just set NEEDS_RESET for this reason. */
	void (*log)(void *ctx, bool fatal, const char *what, uint64_t value);
	void *log_ctx;

	/* Why NEEDS_RESET was set, for the log and the tests. */
	const char *reset_reason;
	enum vq_error reset_vq_error;

	/* Counters for `make bench` and the tests. */
	uint64_t kicks, kicks_ignored, interrupts;
};

struct virtio_dev_params {
	const struct virtio_device_ops *ops;
	const struct gmem *mem;
	uint32_t device_id;
	uint32_t config_size;       /* bytes of device config space      */
	unsigned num_queues;        /* <= VIRTIO_MAX_QUEUES              */
	uint32_t queue_num_max;     /* QueueNumMax of every queue        */
	uint64_t device_features;   /* the device type's bits (0..23)    */
	uint64_t ring_features;     /* subset of VIRTIO_RING_FEATURES to */
				    /* offer (VERSION_1 is always added) */
};

/* Set up and reset.  0, or -1 if num_queues or queue_num_max is out of
 * range (queue_num_max 1..32768). */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_params *p);

/* Device reset (status 0 written, 2.1.2/4.2.2.1): status, features and
 * queues back to their initial values, then ops->reset. */
void virtio_dev_reset(struct virtio_dev *vd);

/* Status register (2.1). */
void virtio_dev_set_status(struct virtio_dev *vd, uint8_t status);

/* 32-bit windows onto the 64-bit feature words (4.1.4.3, 4.2.2). */
uint32_t virtio_dev_device_features(const struct virtio_dev *vd, uint32_t sel);
void virtio_dev_set_driver_features(struct virtio_dev *vd, uint32_t sel, uint32_t val);
uint32_t virtio_dev_driver_features(const struct virtio_dev *vd, uint32_t sel);

/* Queue q, or NULL if there is none. */
struct vq *virtio_dev_queue(struct virtio_dev *vd, uint32_t q);

/* QueueReady written: 1 starts queue q with its configured size and
 * addresses (needs FEATURES_OK; a bad configuration sets NEEDS_RESET),
 * 0 stops it. */
void virtio_dev_queue_ready(struct virtio_dev *vd, uint32_t q, bool ready);

/* The driver kicked queue q (4.2.3.3 QueueNotify; PCI notify area). */
void virtio_dev_notify(struct virtio_dev *vd, uint32_t q);

/* Serve queues whose ops->queue_notify left work (budget exhausted). */
void virtio_dev_poll(struct virtio_dev *vd);

/*
 * After a device model pushed used buffers on queue q outside a kick (a
 * network frame arriving, say): check q's error state and interrupt the
 * driver if it asked for it.  virtio_dev_notify does this by itself.
 */
void virtio_dev_queue_done(struct virtio_dev *vd, unsigned q);

/*
 * Serve a kicked queue the usual way (docs/virtio.md, "Notification
 * suppression"): kicks off while busy, every available chain to serve()
 * and back to the driver with the length serve() returns (bytes written),
 * then kicks on and one more look for chains that came meanwhile.  At
 * most 2 * queue size chains and as many rounds per call, so that a
 * driver refilling the queue from another vCPU -- or a ring that keeps
 * looking non-empty -- cannot hold L0 here: true means work was left
 * (kicks stay off and the kernel polls).  A ring error ends it (the caller's core sets
 * NEEDS_RESET).  For ops->queue_notify of devices that complete
 * synchronously, in order.
 */
bool virtio_serve_queue(struct virtio_dev *vd, unsigned q, struct vq_chain *c,
			uint32_t (*serve)(struct virtio_dev *vd, struct vq *vq, const struct vq_chain *c));

/* The device hit an error it cannot recover from: NEEDS_RESET (2.1.2). */
void virtio_dev_fail(struct virtio_dev *vd, const char *why);

/* The device changed its config space: new generation, interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vd);

/* DRIVER_OK set and neither NEEDS_RESET nor FAILED. */
bool virtio_dev_live(const struct virtio_dev *vd);

static inline bool virtio_has_feature(const struct virtio_dev *vd, unsigned bit)
{
	return (vd->driver_features >> bit) & 1;
}

/* A log line through the kernel's hook, if any. */
void virtio_log(const struct virtio_dev *vd, const char *what, uint64_t value);

#endif
