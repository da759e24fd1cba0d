/*
 * virtio-net (virtio 1.2, 5.1): a NIC whose wire is a port of the L0
 * switch (vnet_switch.h).
 *
 * Queues (5.1.2): 0 receiveq1, 1 transmitq1; no control queue, one pair.
 * Offered (5.1.3): MAC (the address from the VM's configuration), MTU
 * (1500) and STATUS (link up, never changes), plus the ring features.  No
 * checksum or segmentation offloads and no MRG_RXBUF: every frame is
 * whole, in one chain, behind a 12-byte struct virtio_net_hdr (5.1.6:
 * with VERSION_1 the header always has num_buffers).
 *
 * Transmit (5.1.6.2): a chain's readable part is header + frame.  The
 * device copies the frame into its own buffer and gives it to the switch;
 * the chain is used with length 0 (nothing written).  Dropped, counted
 * and logged (1st, 2nd, 4th... time), the chain still handed back:
 *   - a chain with a device-writable part (5.1.6.2: the driver hands
 *     header and packet over as device-readable buffers; the device
 *     writes nothing into it either);
 *   - a frame shorter than an Ethernet header or longer than MTU + 14
 *     (5.1.6.2.1: the driver MUST NOT send more than the MTU it accepted);
 *   - a header asking for an offload that was not offered (5.1.6.2.1:
 *     without CSUM the driver sets flags to 0, without the TSO/UFO
 *     features gso_type to NONE).
 * Nothing is copied before the lengths are checked, and never more than
 * VNET_FRAME_MAX bytes.
 *
 * Receive (5.1.6.3, 5.1.6.4): the switch calls deliver(); the device takes
 * the next receive chain, writes a header (flags 0, GSO_NONE, num_buffers
 * 1) and the frame into its writable part, and uses it with 12 + length.
 * No chain available (the driver has not refilled, or the device is not
 * live): the frame is dropped and counted (VNET_NO_BUFFER).  A chain
 * whose writable part cannot hold header + frame: the frame is dropped,
 * the chain used with length 0, counted and logged.
 *
 * Every guest address and length goes through the virtqueue core
 * (vq_pop / vq_read / vq_write).  Transport-independent: only struct
 * virtio_dev and its queues.
 */
#ifndef NESTOR_VIRTIO_NET_H
#define NESTOR_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio.h"
#include "drivers/virtio/vnet_switch.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM           0
#define VIRTIO_NET_F_MTU            3
#define VIRTIO_NET_F_MAC            5
#define VIRTIO_NET_F_MRG_RXBUF      15
#define VIRTIO_NET_F_STATUS         16

/* virtio_net_config (5.1.4): mac[6], status, max_virtqueue_pairs, mtu. */
#define VIRTIO_NET_CFG_MAC          0
#define VIRTIO_NET_CFG_STATUS       6    /* le16 */
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS 8    /* le16 */
#define VIRTIO_NET_CFG_MTU          10   /* le16 */
#define VIRTIO_NET_CONFIG_SIZE      12
#define VIRTIO_NET_S_LINK_UP        1

/* struct virtio_net_hdr (5.1.6). */
#define VIRTIO_NET_HDR_BYTES        12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE     0

#define VIRTIO_NET_RXQ              0
#define VIRTIO_NET_TXQ              1
#define VIRTIO_NET_QUEUE_SIZE       256

struct virtio_net_params {
	const struct gmem *mem;
	uint8_t mac[VNET_ETH_ALEN];
	struct vnet_switch *sw;         /* the switch to attach to */
	uint64_t ring_features;         /* VIRTIO_RING_FEATURES or a subset */
};

struct virtio_net {
	struct virtio_dev vd;           /* first: the ops find the net from it */
	uint8_t config[VIRTIO_NET_CONFIG_SIZE];
	struct vnet_switch *sw;
	struct vnet_port port;
	struct vq_chain chain;          /* the transmit chain being served */
	struct vq_chain rx_chain;       /* the receive chain being filled  */
	uint8_t frame[VNET_FRAME_MAX];  /* a frame on its way to the switch */

	/* Counters for the log, `make bench` and the tests. */
	uint64_t tx_frames, rx_frames;
	uint64_t tx_bad_direction, tx_bad_length, tx_bad_offload;
	uint64_t rx_too_small;
};

/* 0, or -1 (no memory map or switch, the switch full, a group MAC). */
int virtio_net_init(struct virtio_net *n, const struct virtio_net_params *p);

#endif
