/*
 * virtio-net on a port of the L0 switch.  See virtio_net.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/virtio_net.h"

static struct virtio_net *net_of(struct virtio_dev *vd)
{
	return (struct virtio_net *)vd;         /* vd is the first member */
}

/* Count an event; true on its 1st, 2nd, 4th, 8th... occurrence, when it
 * is worth a log line (a guest repeating a mistake cannot flood the log). */
static bool count_and_log(uint64_t *counter)
{
	uint64_t n = ++*counter;

	return (n & (n - 1)) == 0;
}

static void drop(struct virtio_net *n, uint64_t *counter, const char *why, uint64_t value)
{
	if (count_and_log(counter))
		virtio_log(&n->vd, why, value);
}

/* ---- transmit (5.1.6.2) ------------------------------------------------------ */

/* One transmit chain: checked, copied, switched.  It is used with length
 * 0 whatever happens (the device writes nothing into a transmit chain). */
static void transmit_one(struct virtio_net *n, struct vq *vq, const struct vq_chain *c)
{
	uint8_t hdr[VIRTIO_NET_HDR_BYTES];
	uint64_t frame_len;

	if (c->write_len != 0) {
		drop(n, &n->tx_bad_direction,
		     "virtio-net: transmit chain with a device-writable buffer: frame dropped", c->write_len);
		return;
	}
	if (c->read_len < VIRTIO_NET_HDR_BYTES + VNET_ETH_HLEN ||
	    c->read_len > VIRTIO_NET_HDR_BYTES + VNET_FRAME_MAX) {
		drop(n, &n->tx_bad_length,
		     "virtio-net: frame shorter than an Ethernet header or over the MTU: dropped",
		     c->read_len);
		return;
	}
	frame_len = c->read_len - VIRTIO_NET_HDR_BYTES;      /* <= VNET_FRAME_MAX */
	if (vq_read(vq, c, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return;
	/* 5.1.6.2.1: without the offload features the driver sets neither
	 * NEEDS_CSUM nor a GSO type; the device could not carry them out. */
	if ((hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) || hdr[1] != VIRTIO_NET_HDR_GSO_NONE) {
		drop(n, &n->tx_bad_offload, "virtio-net: header asks for an offload not offered: dropped",
		     (uint64_t)hdr[1] << 8 | hdr[0]);
		return;
	}
	if (vq_read(vq, c, VIRTIO_NET_HDR_BYTES, n->frame, (size_t)frame_len) != frame_len)
		return;
	n->tx_frames++;
	vnet_switch_input(n->sw, n->port.index, n->frame, (size_t)frame_len);
}

static uint32_t net_transmit(struct virtio_dev *vd, struct vq *vq, const struct vq_chain *c)
{
	transmit_one(net_of(vd), vq, c);
	return 0;               /* nothing is written into a transmit chain */
}

static bool net_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct virtio_net *n = net_of(vd);

	/* A transmit kick: frames until the queue is empty, each chain used
	 * as soon as its frame left (virtio_serve_queue: kicks off meanwhile,
	 * a budget, the rest by virtio_dev_poll). */
	if (q == VIRTIO_NET_TXQ)
		return virtio_serve_queue(vd, q, &n->chain, net_transmit);
	/* The receive queue: the driver added buffers.  They are taken when
	 * a frame arrives; the device never waits for them, so it asks not
	 * to be kicked for them at all (2.7.10, 2.8.10). */
	vq_disable_notify(&vd->vq[q]);
	return false;
}

/* ---- receive (5.1.6.3, 5.1.6.4) ------------------------------------------------- */

static enum vnet_delivery net_deliver(void *ctx, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = ctx;
	struct vq *vq = &n->vd.vq[VIRTIO_NET_RXQ];
	/* flags 0, GSO_NONE, hdr_len, gso_size, csum_start, csum_offset 0;
	 * num_buffers 1 (5.1.6.4: one buffer per frame without MRG_RXBUF) */
	static const uint8_t hdr[VIRTIO_NET_HDR_BYTES] = { [10] = 1 };
	uint32_t used;
	int r;

	if (!virtio_dev_live(&n->vd) || !vq->ready)
		return VNET_NO_BUFFER;
	r = vq_pop(vq, &n->rx_chain);
	if (r <= 0) {
		if (r < 0)              /* a broken ring: NEEDS_RESET */
			virtio_dev_queue_done(&n->vd, VIRTIO_NET_RXQ);
		return r < 0 ? VNET_REFUSED : VNET_NO_BUFFER;
	}
	if (n->rx_chain.write_len < VIRTIO_NET_HDR_BYTES + len) {
		/* 5.1.6.3.1: without MRG_RXBUF or GSO the driver SHOULD give
		 * buffers of at least 1526 bytes.  This one is too small: the
		 * frame is lost, the buffer goes back untouched. */
		drop(n, &n->rx_too_small, "virtio-net: receive buffer too small for the frame: dropped",
		     n->rx_chain.write_len);
		vq_push(vq, &n->rx_chain, 0);
		virtio_dev_queue_done(&n->vd, VIRTIO_NET_RXQ);
		return VNET_REFUSED;
	}
	used = VIRTIO_NET_HDR_BYTES + (uint32_t)len;
	vq_write(vq, &n->rx_chain, 0, hdr, sizeof(hdr));
	vq_write(vq, &n->rx_chain, VIRTIO_NET_HDR_BYTES, frame, len);
	vq_push(vq, &n->rx_chain, used);
	n->rx_frames++;
	virtio_dev_queue_done(&n->vd, VIRTIO_NET_RXQ);  /* the interrupt, if wanted */
	return VNET_DELIVERED;
}

/* ---- config space and setup ----------------------------------------------------- */

static void net_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *buf, unsigned len)
{
	memcpy(buf, net_of(vd)->config + off, len);
}

static const struct virtio_device_ops net_ops = {
	.config_read = net_config_read,
	.config_write = NULL,           /* mac is read-only without CTRL_MAC_ADDR */
	.queue_notify = net_queue_notify,
	.reset = NULL,                  /* nothing outlives a call */
};

int virtio_net_init(struct virtio_net *n, const struct virtio_net_params *p)
{
	struct virtio_dev_params dp = {
		.ops = &net_ops,
		.mem = p->mem,
		.device_id = VIRTIO_ID_NET,
		.config_size = VIRTIO_NET_CONFIG_SIZE,
		.num_queues = 2,
		.queue_num_max = VIRTIO_NET_QUEUE_SIZE,
		.device_features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MTU) |
				   (1ull << VIRTIO_NET_F_STATUS),
		/* Both queues do complete in order today, but IN_ORDER would
		 * be a promise the receive side must keep when it grows
		 * (MRG_RXBUF, several queues): not made. */
		.ring_features = p->ring_features & ~(1ull << VIRTIO_F_IN_ORDER),
	};

	if (p->mem == NULL || p->sw == NULL || vnet_mac_is_group(p->mac))
		return -1;
	memset(n, 0, sizeof(*n));
	if (virtio_dev_init(&n->vd, &dp) != 0)
		return -1;
	n->sw = p->sw;
	n->port.deliver = net_deliver;
	n->port.ctx = n;
	memcpy(n->port.mac, p->mac, VNET_ETH_ALEN);
	if (vnet_switch_attach(p->sw, &n->port) < 0)
		return -1;

	memcpy(n->config + VIRTIO_NET_CFG_MAC, p->mac, VNET_ETH_ALEN);
	n->config[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
	n->config[VIRTIO_NET_CFG_MAX_VQ_PAIRS] = 1;
	n->config[VIRTIO_NET_CFG_MTU] = VNET_MTU & 0xff;
	n->config[VIRTIO_NET_CFG_MTU + 1] = VNET_MTU >> 8;
	return 0;
}
