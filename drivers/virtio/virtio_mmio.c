/*
 * virtio-mmio version 2: register decode.  See virtio_mmio.h; the status,
 * feature and queue logic is in virtio.c, shared with any other transport.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtio_mmio.h"

static void update_line(struct virtio_mmio *m)
{
	bool level = m->interrupt_status != 0;

	if (level == m->line)
		return;
	m->line = level;
	if (level)
		m->irq_raises++;
	if (m->set_irq != NULL)
		m->set_irq(m->irq_ctx, level);
}

/* The core's interrupt hook: set the reasons, raise the line (4.2.3.4). */
static void mmio_interrupt(void *transport, uint32_t why)
{
	struct virtio_mmio *m = transport;

	m->interrupt_status |= why;
	update_line(m);
}

static void mmio_reset(struct virtio_mmio *m)
{
	/* 4.2.2.1: "Upon reset, the device MUST clear all bits in
	 * InterruptStatus and ready bits in the QueueReady register". */
	virtio_dev_reset(m->vd);
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	m->interrupt_status = 0;
	update_line(m);
}

void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vd,
		      void (*set_irq)(void *ctx, bool level), void *irq_ctx)
{
	memset(m, 0, sizeof(*m));
	m->vd = vd;
	m->set_irq = set_irq;
	m->irq_ctx = irq_ctx;
	vd->interrupt = mmio_interrupt;
	vd->transport = m;
	mmio_reset(m);
}

/* Config space: little-endian bytes from the device model. */
static int config_access(struct virtio_mmio *m, uint32_t off, unsigned size, bool write,
			 uint32_t *val)
{
	struct virtio_dev *vd = m->vd;
	uint8_t b[4] = { 0 };

	off -= VIRTIO_MMIO_CONFIG;
	if (!(size == 1 || size == 2 || size == 4) || off >= vd->config_size ||
	    size > vd->config_size - off) {
		if (!write)
			*val = 0;
		return 1;
	}
	if (write) {
		if (vd->ops->config_write == NULL)
			return 1;
		for (unsigned i = 0; i < size; i++)
			b[i] = (uint8_t)(*val >> (8 * i));
		vd->ops->config_write(vd, off, b, size);
		return 0;
	}
	vd->ops->config_read(vd, off, b, size);
	*val = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

int virtio_mmio_read(struct virtio_mmio *m, uint32_t off, unsigned size, uint32_t *val)
{
	struct virtio_dev *vd = m->vd;
	struct vq *vq = virtio_dev_queue(vd, m->queue_sel);

	if (off >= VIRTIO_MMIO_CONFIG && off < VIRTIO_MMIO_SIZE)
		return config_access(m, off, size, false, val);
	*val = 0;
	if (size != 4 || (off & 3) || off >= VIRTIO_MMIO_SIZE)
		return 1;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:       *val = VIRTIO_MMIO_MAGIC; break;
	case VIRTIO_MMIO_VERSION_REG:       *val = VIRTIO_MMIO_VERSION; break;
	case VIRTIO_MMIO_DEVICE_ID:         *val = vd->device_id; break;
	case VIRTIO_MMIO_VENDOR_ID:         *val = VIRTIO_MMIO_VENDOR; break;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		*val = virtio_dev_device_features(vd, m->device_features_sel);
		break;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:     *val = vq != NULL ? vq->num_max : 0; break;
	case VIRTIO_MMIO_QUEUE_READY:       *val = vq != NULL && vq->ready; break;
	case VIRTIO_MMIO_INTERRUPT_STATUS:  *val = m->interrupt_status; break;
	case VIRTIO_MMIO_STATUS:            *val = vd->status; break;
	case VIRTIO_MMIO_SHM_LEN_LOW:       /* no shared memory regions:  */
	case VIRTIO_MMIO_SHM_LEN_HIGH:      /* length and base are -1     */
	case VIRTIO_MMIO_SHM_BASE_LOW:      /* (4.2.2)                    */
	case VIRTIO_MMIO_SHM_BASE_HIGH:     *val = 0xffffffffu; break;
	case VIRTIO_MMIO_QUEUE_RESET:       *val = 0; break;
	case VIRTIO_MMIO_CONFIG_GENERATION: *val = vd->config_generation; break;
	default:
		return 1;                   /* write-only or no register */
	}
	return 0;
}

/* Low or high half of a queue address, only while the queue is stopped. */
static int set_addr_half(struct vq *vq, uint64_t *addr, bool high, uint32_t val)
{
	if (vq == NULL || vq->ready)
		return 1;
	if (high)
		*addr = (*addr & 0xffffffffull) | (uint64_t)val << 32;
	else
		*addr = (*addr & ~0xffffffffull) | val;
	return 0;
}

int virtio_mmio_write(struct virtio_mmio *m, uint32_t off, unsigned size, uint32_t val)
{
	struct virtio_dev *vd = m->vd;
	struct vq *vq = virtio_dev_queue(vd, m->queue_sel);

	if (off >= VIRTIO_MMIO_CONFIG && off < VIRTIO_MMIO_SIZE)
		return config_access(m, off, size, true, &val);
	if (size != 4 || (off & 3) || off >= VIRTIO_MMIO_SIZE)
		return 1;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->device_features_sel = val; return 0;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->driver_features_sel = val; return 0;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_dev_set_driver_features(vd, m->driver_features_sel, val);
		return 0;
	case VIRTIO_MMIO_QUEUE_SEL:           m->queue_sel = val; return 0;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (vq == NULL || vq->ready)
			return 1;
		vq->num = val;          /* checked when the queue starts */
		return 0;
	case VIRTIO_MMIO_QUEUE_READY:
		if (vq == NULL)
			return 1;
		virtio_dev_queue_ready(vd, m->queue_sel, val & 1);
		return 0;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Without VIRTIO_F_NOTIFICATION_DATA the value is the queue
		 * index (4.2.3.3). */
		virtio_dev_notify(vd, val);
		return 0;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		m->interrupt_status &= ~val;
		update_line(m);
		return 0;
	case VIRTIO_MMIO_STATUS:
		if (val == 0)
			mmio_reset(m);
		else
			virtio_dev_set_status(vd, (uint8_t)val);
		return 0;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		return set_addr_half(vq, vq ? &vq->desc_gpa : NULL, off & 4, val);
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		return set_addr_half(vq, vq ? &vq->driver_gpa : NULL, off & 4, val);
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return set_addr_half(vq, vq ? &vq->device_gpa : NULL, off & 4, val);
	case VIRTIO_MMIO_SHM_SEL:
		return 0;               /* selects nothing: there are no regions */
	default:
		return 1;               /* read-only, QueueReset, or no register */
	}
}
