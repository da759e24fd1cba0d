/*
 * vnet_switch: the L0 software Ethernet switch between the VMs' NICs
 * (issue 7).  A learning bridge in the IEEE 802.1D sense, reduced to what
 * a handful of virtual ports need:
 *
 *   learning   the source MAC of every frame a port sends is remembered
 *              as "behind that port" (a small table, oldest entry
 *              replaced when full; a MAC seen on another port moves);
 *   forwarding a frame to a learned unicast MAC goes to that one port;
 *   flooding   a frame to a broadcast/multicast MAC (bit 0 of the first
 *              octet) or to a MAC not learned yet goes to every port but
 *              the one it came from.
 *
 * A frame never goes back to the port it came from.  The switch knows
 * nothing about virtio: a port is a deliver() callback (virtio_net.c puts
 * the frame into the VM's receive queue, or says it had no buffer) and
 * counters.  It checks only what it relies on itself -- a frame is at
 * least an Ethernet header (14 bytes) and at most VNET_FRAME_MAX bytes
 * (MTU 1500 plus the header) -- and counts what it drops.
 *
 * Frames are in host memory: the device model copied them out of the
 * sending guest through the checked virtqueue core.  The switch hands
 * the same bytes to each receiver; it keeps no reference after
 * vnet_switch_input() returns.
 *
 * Pure code over plain data; no allocation.  One caller at a time: the
 * kernel holds one lock around the switch and every device attached to it
 * (a delivery writes into another VM's queue).
 */
#ifndef NESTOR_VNET_SWITCH_H
#define NESTOR_VNET_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_ETH_ALEN      6
#define VNET_ETH_HLEN      14                       /* dst, src, ethertype */
#define VNET_MTU           1500
#define VNET_FRAME_MAX     (VNET_MTU + VNET_ETH_HLEN) /* no FCS, no VLAN tag */
#define VNET_MAX_PORTS     8
#define VNET_FDB_SIZE      32                       /* learned MACs */

/* What a port did with a frame it was given. */
enum vnet_delivery {
	VNET_DELIVERED,
	VNET_NO_BUFFER,         /* its receive queue was empty (or not live) */
	VNET_REFUSED,           /* it could not take it (its buffer too small,
				 * its queue broken); it counted why */
};

struct vnet_port {
	/* Put the frame into this port's receiver.  Called with the switch
	 * lock held; must not call back into the switch. */
	enum vnet_delivery (*deliver)(void *ctx, const uint8_t *frame, size_t len);
	void *ctx;
	uint8_t mac[VNET_ETH_ALEN];     /* its configured address (for the log) */
	unsigned index;                 /* set by vnet_switch_attach */
	bool down;                      /* link down (its VM ended): frames to it
					 * are dropped, frames from it refused */

	/* Counters, by the switch. */
	uint64_t tx_frames, tx_bytes;   /* frames the port sent into the switch */
	uint64_t rx_frames, rx_bytes;   /* frames delivered to it */
	uint64_t rx_no_buffer;          /* dropped: its receive queue was empty */
	uint64_t rx_refused;            /* dropped: it refused them */
};

struct vnet_fdb_entry {
	uint8_t mac[VNET_ETH_ALEN];
	uint8_t port;
	bool valid;
	uint64_t stamp;                 /* when it was last seen: for replacement */
};

struct vnet_switch {
	struct vnet_port *port[VNET_MAX_PORTS];
	unsigned nports;
	struct vnet_fdb_entry fdb[VNET_FDB_SIZE];
	uint64_t clock;                 /* frames seen: the learning "time" */

	/* Counters. */
	uint64_t frames;                /* frames given to vnet_switch_input */
	uint64_t forwarded;             /* to one learned port */
	uint64_t flooded;               /* to every other port */
	uint64_t dropped_short, dropped_long;  /* malformed lengths */
	uint64_t dropped_hairpin;       /* destination learned on the source port */
	uint64_t dropped_bad_port;      /* an input from a port not attached */
	uint64_t dropped_port_down;     /* to or from a port whose link is down */
};

void vnet_switch_init(struct vnet_switch *sw);

/* Attach a port; its index, or -1 if the switch is full. */
int vnet_switch_attach(struct vnet_switch *sw, struct vnet_port *p);

/*
 * A frame sent by port src (dst MAC at 0, src MAC at 6).  Learns, then
 * forwards or floods.  Returns the ports it was delivered to.
 */
unsigned vnet_switch_input(struct vnet_switch *sw, unsigned src, const uint8_t *frame, size_t len);

/* Take a port's link down (its VM ended) for good: it neither sends nor
 * receives any more, and what was learned on it is forgotten. */
void vnet_switch_port_down(struct vnet_switch *sw, unsigned port);

/* The port a MAC was learned on, or -1. */
int vnet_switch_lookup(const struct vnet_switch *sw, const uint8_t *mac);

static inline bool vnet_mac_is_group(const uint8_t *mac)
{
	return mac[0] & 1;              /* broadcast and multicast (IEEE 802) */
}

#endif
