/*
 * virtio-console, one output port.  See virtio_console.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtio_console.h"

static struct virtio_console *cons_of(struct virtio_dev *vd)
{
	return (struct virtio_console *)vd;     /* vd is the first member */
}

/* The readable bytes of one transmit chain to the output, in chunks. */
static void print_chain(struct virtio_console *c, struct vq *vq, const struct vq_chain *ch)
{
	char buf[256];
	uint64_t len = ch->read_len, off = 0;

	c->chains++;
	if (ch->write_len != 0) {
		uint64_t n = ++c->writable_chains;

		if ((n & (n - 1)) == 0)
			virtio_log(&c->vd, "virtio-console: transmit chain with a device-writable buffer "
				   "(nothing written into it)", ch->write_len);
	}
	if (len > VIRTIO_CONSOLE_CHAIN_MAX) {
		c->bytes_dropped += len - VIRTIO_CONSOLE_CHAIN_MAX;
		len = VIRTIO_CONSOLE_CHAIN_MAX;
	}
	while (off < len) {
		size_t want = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		size_t got = vq_read(vq, ch, off, buf, want);

		if (got == 0)
			break;
		c->output(c->output_ctx, buf, got);
		c->bytes += got;
		off += got;
	}
}

static uint32_t cons_transmit(struct virtio_dev *vd, struct vq *vq, const struct vq_chain *c)
{
	print_chain(cons_of(vd), vq, c);
	return 0;                       /* 5.3.6: nothing written */
}

/* A transmit kick: chains until the queue is empty (virtio_serve_queue). */
static bool cons_queue_notify(struct virtio_dev *vd, unsigned q)
{
	if (q != VIRTIO_CONSOLE_TXQ) {
		/* Receive buffers wait for input that never comes. */
		vq_disable_notify(&vd->vq[q]);
		return false;
	}
	return virtio_serve_queue(vd, q, &cons_of(vd)->chain, cons_transmit);
}

static void cons_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *buf, unsigned len)
{
	(void)vd;
	(void)off;
	memset(buf, 0, len);            /* no field valid without SIZE/MULTIPORT */
}

/* emerg_wr (offset 8) is only there with EMERG_WRITE, not offered: a
 * write is ignored, as for any read-only field. */
static const struct virtio_device_ops cons_ops = {
	.config_read = cons_config_read,
	.config_write = NULL,
	.queue_notify = cons_queue_notify,
	.reset = NULL,
};

int virtio_console_init(struct virtio_console *c, const struct virtio_console_params *p)
{
	struct virtio_dev_params dp = {
		.ops = &cons_ops,
		.mem = p->mem,
		.device_id = VIRTIO_ID_CONSOLE,
		.config_size = VIRTIO_CONSOLE_CONFIG_SIZE,
		.num_queues = 2,
		.queue_num_max = VIRTIO_CONSOLE_QUEUE_SIZE,
		.device_features = 0,
		.ring_features = p->ring_features,
	};

	if (p->mem == NULL || p->output == NULL)
		return -1;
	memset(c, 0, sizeof(*c));
	if (virtio_dev_init(&c->vd, &dp) != 0)
		return -1;
	c->output = p->output;
	c->output_ctx = p->output_ctx;
	return 0;
}
