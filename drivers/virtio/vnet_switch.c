/*
 * vnet_switch: a learning Ethernet switch between virtual ports.  See
 * vnet_switch.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/virtio/vnet_switch.h"

void vnet_switch_init(struct vnet_switch *sw)
{
	memset(sw, 0, sizeof(*sw));
}

int vnet_switch_attach(struct vnet_switch *sw, struct vnet_port *p)
{
	if (sw->nports >= VNET_MAX_PORTS || p == NULL || p->deliver == NULL)
		return -1;
	p->index = sw->nports;
	sw->port[sw->nports] = p;
	return (int)sw->nports++;
}

static struct vnet_fdb_entry *fdb_find(const struct vnet_switch *sw, const uint8_t *mac)
{
	for (unsigned i = 0; i < VNET_FDB_SIZE; i++)
		if (sw->fdb[i].valid && memcmp(sw->fdb[i].mac, mac, VNET_ETH_ALEN) == 0)
			return (struct vnet_fdb_entry *)&sw->fdb[i];
	return NULL;
}

int vnet_switch_lookup(const struct vnet_switch *sw, const uint8_t *mac)
{
	const struct vnet_fdb_entry *e = fdb_find(sw, mac);

	return e ? e->port : -1;
}

/* Remember that mac sits behind port: a new entry (a free one, else the
 * least recently seen), or the old one moved and refreshed.  Group
 * addresses are never a source (802.1D 7.8): not learned. */
static void learn(struct vnet_switch *sw, const uint8_t *mac, unsigned port)
{
	struct vnet_fdb_entry *e;

	if (vnet_mac_is_group(mac))
		return;
	e = fdb_find(sw, mac);
	if (e == NULL) {
		e = &sw->fdb[0];
		for (unsigned i = 0; i < VNET_FDB_SIZE; i++) {
			if (!sw->fdb[i].valid) {
				e = &sw->fdb[i];
				break;
			}
			if (sw->fdb[i].stamp < e->stamp)
				e = &sw->fdb[i];
		}
		memcpy(e->mac, mac, VNET_ETH_ALEN);
		e->valid = true;
	}
	e->port = (uint8_t)port;
	e->stamp = sw->clock;
}

void vnet_switch_port_down(struct vnet_switch *sw, unsigned port)
{
	if (port >= sw->nports)
		return;
	sw->port[port]->down = true;
	for (unsigned i = 0; i < VNET_FDB_SIZE; i++)
		if (sw->fdb[i].valid && sw->fdb[i].port == port)
			sw->fdb[i].valid = false;
}

static bool deliver(struct vnet_switch *sw, struct vnet_port *p, const uint8_t *frame, size_t len)
{
	if (p->down) {
		sw->dropped_port_down++;
		return false;
	}
	switch (p->deliver(p->ctx, frame, len)) {
	case VNET_DELIVERED:
		p->rx_frames++;
		p->rx_bytes += len;
		return true;
	case VNET_NO_BUFFER:
		p->rx_no_buffer++;
		return false;
	default:
		p->rx_refused++;
		return false;
	}
}

unsigned vnet_switch_input(struct vnet_switch *sw, unsigned src, const uint8_t *frame, size_t len)
{
	struct vnet_port *from;
	unsigned delivered = 0;
	int to;

	if (src >= sw->nports) {
		sw->dropped_bad_port++;
		return 0;
	}
	from = sw->port[src];
	if (from->down) {
		sw->dropped_port_down++;
		return 0;
	}
	sw->frames++;
	sw->clock++;
	if (len < VNET_ETH_HLEN) {
		sw->dropped_short++;
		return 0;
	}
	if (len > VNET_FRAME_MAX) {
		sw->dropped_long++;
		return 0;
	}
	from->tx_frames++;
	from->tx_bytes += len;
	learn(sw, frame + VNET_ETH_ALEN, src);

	to = vnet_mac_is_group(frame) ? -1 : vnet_switch_lookup(sw, frame);
	if (to == (int)src) {
		/* The destination is on the sender's own segment: a bridge
		 * does not send a frame back where it came from. */
		sw->dropped_hairpin++;
		return 0;
	}
	if (to >= 0) {
		sw->forwarded++;
		return deliver(sw, sw->port[to], frame, len) ? 1 : 0;
	}
	sw->flooded++;
	for (unsigned i = 0; i < sw->nports; i++)
		if (i != src && deliver(sw, sw->port[i], frame, len))
			delivered++;
	return delivered;
}
