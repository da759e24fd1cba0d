/*
 * virtio: the transport-neutral device core.  See virtio.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtio.h"

#define F_VERSION_1 (1ull << VIRTIO_F_VERSION_1)

void virtio_log(const struct virtio_dev *vd, const char *what, uint64_t value)
{
	if (vd->log != NULL)
		vd->log(vd->log_ctx, false, what, value);
}

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_params *p)
{
	if (p->ops == NULL || p->ops->queue_notify == NULL || p->ops->config_read == NULL ||
	    p->num_queues == 0 || p->num_queues > VIRTIO_MAX_QUEUES ||
	    p->queue_num_max == 0 || p->queue_num_max > VQ_MAX_SIZE)
		return -1;
	memset(vd, 0, sizeof(*vd));
	vd->ops = p->ops;
	vd->mem = p->mem;
	vd->device_id = p->device_id;
	vd->config_size = p->config_size;
	vd->num_queues = p->num_queues;
	/* 6.2: "A device MUST offer VIRTIO_F_VERSION_1". */
	vd->device_features = p->device_features | (p->ring_features & VIRTIO_RING_FEATURES) |
			      F_VERSION_1;
	for (unsigned q = 0; q < p->num_queues; q++)
		vq_reset(&vd->vq[q], p->queue_num_max);
	return 0;
}

void virtio_dev_reset(struct virtio_dev *vd)
{
	vd->status = 0;
	vd->driver_features = 0;
	vd->work_pending = 0;
	vd->reset_reason = NULL;
	vd->reset_vq_error = VQ_OK;
	for (unsigned q = 0; q < vd->num_queues; q++)
		vq_reset(&vd->vq[q], vd->vq[q].num_max);
	if (vd->ops->reset != NULL)
		vd->ops->reset(vd);
}

bool virtio_dev_live(const struct virtio_dev *vd)
{
	return (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vd->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

static void raise_interrupt(struct virtio_dev *vd, uint32_t why)
{
	if (vd->interrupt != NULL)
		vd->interrupt(vd->transport, why);
}

void virtio_dev_fail(struct virtio_dev *vd, const char *why)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;                 /* the first reason is the one to read */
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	vd->reset_reason = why;
	if (vd->log != NULL)
		vd->log(vd->log_ctx, true, why, vd->status);
	/* 2.1.2: "If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the
	 * device MUST send a device configuration change notification". */
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_interrupt(vd, VIRTIO_INT_CONFIG);
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	vd->config_generation++;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_interrupt(vd, VIRTIO_INT_CONFIG);
}

/* ---- status and features (2.1, 2.2, 3.1) -------------------------------- */

/* 2.2.2: "The device SHOULD accept any valid subset of features the driver
 * accepts, otherwise it MUST fail to set the FEATURES_OK device status
 * bit"; 6.2: without VERSION_1 there is no device (no legacy interface). */
static bool features_acceptable(const struct virtio_dev *vd)
{
	return (vd->driver_features & ~vd->device_features) == 0 &&
	       (vd->driver_features & F_VERSION_1);
}

void virtio_dev_set_status(struct virtio_dev *vd, uint8_t val)
{
	uint8_t added;

	if (val == 0) {
		virtio_dev_reset(vd);
		return;
	}
	/* Only new bits matter: bits are never cleared but by a reset, and
	 * NEEDS_RESET belongs to the device. */
	added = val & ~vd->status & ~VIRTIO_STATUS_NEEDS_RESET;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(vd)) {
		added &= ~VIRTIO_STATUS_FEATURES_OK;
		virtio_log(vd, "FEATURES_OK refused: features not offered or no VERSION_1",
			   vd->driver_features);
	}
	vd->status |= added;
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(vd->status & VIRTIO_STATUS_FEATURES_OK))
		virtio_dev_fail(vd, "DRIVER_OK without FEATURES_OK");
}

uint32_t virtio_dev_device_features(const struct virtio_dev *vd, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vd->device_features >> (32 * sel)) : 0;
}

uint32_t virtio_dev_driver_features(const struct virtio_dev *vd, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vd->driver_features >> (32 * sel)) : 0;
}

void virtio_dev_set_driver_features(struct virtio_dev *vd, uint32_t sel, uint32_t val)
{
	uint64_t mask;

	/* 3.1.1 step 4-5: features are fixed once FEATURES_OK is set. */
	if (vd->status & VIRTIO_STATUS_FEATURES_OK) {
		virtio_log(vd, "driver features written after FEATURES_OK: ignored", val);
		return;
	}
	if (sel >= 2)
		return;                 /* no feature bits there (yet) */
	mask = 0xffffffffull << (32 * sel);
	vd->driver_features = (vd->driver_features & ~mask) | ((uint64_t)val << (32 * sel));
}

/* ---- queues --------------------------------------------------------------- */

struct vq *virtio_dev_queue(struct virtio_dev *vd, uint32_t q)
{
	return q < vd->num_queues ? &vd->vq[q] : NULL;
}

void virtio_dev_queue_ready(struct virtio_dev *vd, uint32_t q, bool ready)
{
	struct vq *vq = virtio_dev_queue(vd, q);

	if (vq == NULL)
		return;
	if (!ready) {
		vq_stop(vq);
		return;
	}
	if (vq->ready)
		return;
	/* 3.1.1: queues are set up after FEATURES_OK, which fixes the ring
	 * format (split or packed) and EVENT_IDX. */
	if (!(vd->status & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_dev_fail(vd, "queue enabled before FEATURES_OK");
		return;
	}
	if (vq_start(vq, vd->mem, vd->driver_features) < 0) {
		vd->reset_vq_error = vq->error;
		virtio_dev_fail(vd, vq_strerror(vq->error));
	}
}

void virtio_dev_queue_done(struct virtio_dev *vd, unsigned q)
{
	struct vq *vq = virtio_dev_queue(vd, q);

	if (vq == NULL)
		return;

	/* Chains completed before an error still get their interrupt. */
	if (vq_should_interrupt(vq)) {
		vd->interrupts++;
		raise_interrupt(vd, VIRTIO_INT_USED);
	}
	if (vq->error != VQ_OK && !(vd->status & VIRTIO_STATUS_NEEDS_RESET)) {
		vd->reset_vq_error = vq->error;
		virtio_dev_fail(vd, vq_strerror(vq->error));
	}
}

bool virtio_serve_queue(struct virtio_dev *vd, unsigned q, struct vq_chain *c,
			uint32_t (*serve)(struct virtio_dev *vd, struct vq *vq, const struct vq_chain *c))
{
	struct vq *vq = &vd->vq[q];
	uint32_t budget = 2 * vq->num;
	int r;

	for (;;) {
		vq_disable_notify(vq);
		while ((r = vq_pop(vq, c)) > 0) {
			vq_push(vq, c, serve(vd, vq, c));
			if (--budget == 0)
				return true;    /* kicks stay off: we poll */
		}
		if (r < 0)
			return false;           /* the core sets NEEDS_RESET */
		if (!vq_enable_notify(vq))
			return false;
		/* "Something new" and then nothing to pop would be a ring
		 * rewriting itself (vq_start refuses overlapping areas, so it
		 * should not happen): the rounds count against the budget too. */
		if (--budget == 0)
			return true;
	}
}

static void serve(struct virtio_dev *vd, unsigned q)
{
	if (vd->ops->queue_notify(vd, q))
		vd->work_pending |= 1u << q;
	else
		vd->work_pending &= ~(1u << q);
	virtio_dev_queue_done(vd, q);
}

void virtio_dev_notify(struct virtio_dev *vd, uint32_t q)
{
	struct vq *vq = virtio_dev_queue(vd, q);
	const char *why = NULL;

	vd->kicks++;
	if (!(vd->status & VIRTIO_STATUS_DRIVER_OK))
		why = "kick before DRIVER_OK: ignored";
	else if (!virtio_dev_live(vd))
		why = "kick while the device needs a reset: ignored";
	else if (vq == NULL || !vq->ready)
		why = "kick for a queue that is not ready: ignored";
	if (why != NULL) {
		/* Logged the 1st, 2nd, 4th, 8th... time: a guest kicking in a
		 * loop cannot flood the console. */
		vd->kicks_ignored++;
		if ((vd->kicks_ignored & (vd->kicks_ignored - 1)) == 0)
			virtio_log(vd, why, q);
		return;
	}
	serve(vd, q);
}

void virtio_dev_poll(struct virtio_dev *vd)
{
	for (unsigned q = 0; q < vd->num_queues; q++) {
		if (!(vd->work_pending & (1u << q)))
			continue;
		if (!virtio_dev_live(vd) || !vd->vq[q].ready) {
			vd->work_pending &= ~(1u << q);
			continue;
		}
		serve(vd, q);
	}
}
