/*
 * The virtio-net test guest (issue 7): two VMs run it, `side=a` and
 * `side=b` on their command lines, each with one virtio-net device on
 * Nestor's L0 switch.  They exchange thousands of frames both ways and
 * check every one.
 *
 * A frame (Ethernet, ethertype 0x88b5, "local experimental"):
 *   dst, src, type | magic, phase, kind, side, len, seq, ack | data | sum
 * data is a pattern of (side, phase, seq); sum covers everything after the
 * Ethernet header.  Sizes vary from 60 to 1514 bytes with seq.
 *
 * The exchange, per phase (ring format):
 *   hello   each side sends HELLO (broadcast: the switch floods it) every
 *           few milliseconds until it hears the peer (a HELLO or DATA of
 *           this phase); HELLOs sent before the peer's queue is up are
 *           dropped by the device, as they should be;
 *   data    DATA frames unicast to the MAC learned from the peer's frames
 *           (the switch forwards them to one port), seq 0..N-1, at most
 *           WINDOW ahead of what the peer acknowledged, so the peer's
 *           receive queue (256 buffers) never runs dry and no frame is
 *           lost; acks ride in every frame and in ACK frames when a side
 *           has nothing left to send.  The receiver checks seq order, the
 *           checksum, the pattern, the length the device reported and the
 *           virtio_net_hdr (GSO_NONE, num_buffers 1).
 *   done    all N sent and acknowledged, all N received and acknowledged.
 * Phases: split ring, then (both sides reset their device) packed ring
 * with EVENT_IDX.  Side a measures each data phase (BENCHVNET lines:
 * TSC ticks per frame and frames per L0 exit, sent + received frames).
 *
 * Side a also makes the hostile moves, before the exchange, while side b
 * is already waiting: a transmit chain with a device-writable buffer, a
 * frame over the MTU, one shorter than an Ethernet header, a header
 * asking for segmentation (each: dropped, used with length 0, a log line,
 * no reset), and a transmit descriptor beyond RAM (DEVICE_NEEDS_RESET,
 * then a reset and a fresh start).  Side b carries on regardless.
 */
#include <stdio.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/virtio_drv.h"
#include "drivers/virtio/virtio_net.h"

#define F(bit)     (1ull << (bit))
#define VEC_VNET   0x51
#define QSIZE      256
#define NRX        QSIZE                 /* receive buffers posted */
#define FRAMES     2000                  /* DATA frames each way, per phase */
#define WINDOW     64                    /* DATA frames in flight at most */
#define BATCH      8                     /* frames per kick at most */
#define ETHERTYPE  0x88b5
#define MAGIC      0x4e455354u           /* "NEST" */
#define HDR        VIRTIO_NET_HDR_BYTES
#define BUF_BYTES  (HDR + VNET_FRAME_MAX)

enum { K_HELLO = 1, K_DATA = 2, K_ACK = 3 };

struct __attribute__((packed)) frame {
	uint8_t dst[6], src[6];
	uint16_t type;                       /* big-endian on the wire */
	uint32_t magic;
	uint8_t phase, kind, side, pad;
	uint16_t len;                        /* bytes after the Ethernet header, sum included */
	uint32_t seq, ack;
	uint8_t data[];
};
#define FRAME_FIXED (sizeof(struct frame))

static uint8_t rx_area[GVQ_AREA_BYTES] __attribute__((aligned(4096)));
static uint8_t tx_area[GVQ_AREA_BYTES] __attribute__((aligned(4096)));
static uint8_t rx_bufs[NRX][BUF_BYTES] __attribute__((aligned(64)));
static uint8_t tx_bufs[QSIZE][BUF_BYTES] __attribute__((aligned(64)));
static struct gvq rxq, txq;
static struct vmmio dev;
static uint32_t khz;
static uint8_t my_mac[6], peer_mac[6], side;
static bool peer_known;
static volatile unsigned irq_used, irq_config;
static unsigned irq_at_bring_up;         /* irq_used when the device was last brought up */

/* ---- interrupts ---------------------------------------------------------------- */

#define IOAPIC ((volatile uint32_t *)0xfec00000ull)
static void ioapic_wr(uint32_t reg, uint32_t v) { IOAPIC[0] = reg; IOAPIC[4] = v; }

static void on_vnet(void)
{
	uint32_t s = vm_rd(&dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	vm_wr(&dev, VIRTIO_MMIO_INTERRUPT_ACK, s);
	if (s & VIRTIO_INT_USED)
		irq_used++;
	if (s & VIRTIO_INT_CONFIG)
		irq_config++;
	lapic_wr(0xb0, 0);
}

static void interrupts_on(unsigned gsi)
{
	lapic_wr(0xf0, 0x1ff);
	lapic_wr(0x80, 0);
	rt_irq_register(VEC_VNET, on_vnet);
	ioapic_wr(0x10 + 2 * gsi + 1, 0);
	ioapic_wr(0x10 + 2 * gsi, VEC_VNET | (1u << 15));  /* level, active high */
	sti();
}

/* ---- frames ---------------------------------------------------------------------- */

static uint32_t sum32(const uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;                  /* Adler-like, good enough to catch a slip */
	for (size_t i = 0; i < n; i++) {
		a += p[i];
		b += a;
	}
	return b << 16 ^ a;
}

static uint8_t pattern(uint8_t s, uint8_t phase, uint32_t seq, size_t i)
{
	return (uint8_t)(i * 31 + seq * 7 + s * 101 + phase * 13);
}

/* Frame length (Ethernet header included) for a sequence number. */
static size_t frame_len(uint32_t seq)
{
	return 60 + (seq * 337u) % (VNET_FRAME_MAX - 60 + 1);
}

/* Build a frame in buf (after the virtio_net_hdr); returns the frame's length. */
static size_t build(uint8_t *buf, uint8_t phase, uint8_t kind, uint32_t seq, uint32_t ack)
{
	memset(buf, 0, HDR);                    /* flags 0, GSO_NONE */
	struct frame *f = (struct frame *)(buf + HDR);
	size_t len = kind == K_DATA ? frame_len(seq) : 64;
	if (kind == K_HELLO || !peer_known)
		memset(f->dst, 0xff, 6);            /* broadcast: flooded */
	else
		memcpy(f->dst, peer_mac, 6);
	memcpy(f->src, my_mac, 6);
	f->type = (uint16_t)(ETHERTYPE >> 8 | (ETHERTYPE & 0xff) << 8);
	f->magic = MAGIC;
	f->phase = phase;
	f->kind = kind;
	f->side = side;
	f->pad = 0;
	f->len = (uint16_t)(len - VNET_ETH_HLEN);
	f->seq = seq;
	f->ack = ack;
	size_t ndata = len - FRAME_FIXED - 4;
	for (size_t i = 0; i < ndata; i++)
		f->data[i] = pattern(side, phase, seq, i);
	uint32_t s = sum32((uint8_t *)f + VNET_ETH_HLEN, len - VNET_ETH_HLEN - 4);
	memcpy((uint8_t *)f + len - 4, &s, 4);
	return len;
}

/* ---- the queues ------------------------------------------------------------------- */

static unsigned tx_free_slot;
static unsigned tx_pending;             /* added since the last kick */

static void post_rx(uint8_t *buf)
{
	struct gvq_buf b = { (uint64_t)buf, BUF_BYTES, true };
	gvq_add(&rxq, &b, 1, buf, NULL);
}

/* Reclaim used transmit chains (they come back at once, during the kick). */
static void reap_tx(void)
{
	uint32_t len;
	while (gvq_get(&txq, &len) != NULL)
		;
}

static void flush_tx(void)
{
	if (tx_pending && gvq_kick_needed(&txq))
		gvq_kick(&dev, VIRTIO_NET_TXQ);
	tx_pending = 0;
	reap_tx();
}

/* Queue one frame (header + frame from tx_bufs); kicks every BATCH. */
static uint64_t bytes_moved;            /* frame bytes sent and received (make bench) */

static bool send(uint8_t phase, uint8_t kind, uint32_t seq, uint32_t ack)
{
	if (txq.num_free < 1)
		flush_tx();
	if (txq.num_free < 1)
		return false;
	uint8_t *buf = tx_bufs[tx_free_slot++ % QSIZE];
	size_t len = build(buf, phase, kind, seq, ack);
	struct gvq_buf b = { (uint64_t)buf, (uint32_t)(HDR + len), false };
	if (gvq_add(&txq, &b, 1, buf, NULL))
		return false;
	bytes_moved += len;
	if (++tx_pending >= BATCH)
		flush_tx();
	return true;
}

static uint64_t bring_up(uint64_t want)
{
	const char *why = "";
	irq_at_bring_up = irq_used;
	uint64_t f = gvq_negotiate(&dev, want, &why);
	if (f && gvq_setup_queue(&dev, VIRTIO_NET_RXQ, &rxq, rx_area, QSIZE, f, &why) &&
	    gvq_setup_queue(&dev, VIRTIO_NET_TXQ, &txq, tx_area, QSIZE, f, &why) && gvq_driver_ok(&dev, &why)) {
		for (unsigned i = 0; i < NRX; i++)
			post_rx(rx_bufs[i]);
		if (gvq_kick_needed(&rxq))
			gvq_kick(&dev, VIRTIO_NET_RXQ);
		tx_pending = 0;
		/* transmit chains come back during the kick: no interrupt for them */
		gvq_interrupts(&txq, false, 0);
		return f;
	}
	rt_printf("vnet: bring-up failed: %s (status %#x)\n", why, vm_status(&dev));
	return 0;
}

/* ---- the exchange ------------------------------------------------------------------- */

struct phase_state {
	uint8_t phase;
	bool heard;                          /* a frame of this phase from the peer */
	uint32_t sent, peer_ack;             /* our DATA: sent, acknowledged */
	uint32_t expect;                     /* the peer's DATA: next seq */
	uint32_t ack_sent;                   /* the last ack we told the peer */
	unsigned bad_seq, bad_sum, bad_data, bad_len, bad_hdr, bad_frame;
	uint64_t rx_frames;                   /* frames taken from the receive queue */
};

/* One received frame: check it, learn from it. */
static void receive(struct phase_state *st, const uint8_t *buf, uint32_t used)
{
	const struct frame *f = (const struct frame *)(buf + HDR);
	st->rx_frames++;
	if (used > HDR)
		bytes_moved += used - HDR;
	if (used < HDR + VNET_ETH_HLEN + FRAME_FIXED - VNET_ETH_HLEN + 4 || used > BUF_BYTES) {
		st->bad_len++;
		return;
	}
	/* the header the device wrote: flags 0, GSO_NONE, num_buffers 1 */
	if (buf[0] != 0 || buf[1] != VIRTIO_NET_HDR_GSO_NONE || buf[10] != 1 || buf[11] != 0)
		st->bad_hdr++;
	if (f->magic != MAGIC || f->side == side) {
		st->bad_frame++;
		return;
	}
	if (f->phase != st->phase)
		return;                          /* a late frame of the last phase */
	size_t len = used - HDR;
	if (f->len != len - VNET_ETH_HLEN) {
		st->bad_len++;
		return;
	}
	uint32_t s;
	memcpy(&s, (const uint8_t *)f + len - 4, 4);
	if (s != sum32((const uint8_t *)f + VNET_ETH_HLEN, len - VNET_ETH_HLEN - 4)) {
		st->bad_sum++;
		return;
	}
	if (!peer_known) {
		memcpy(peer_mac, f->src, 6);
		peer_known = true;
	}
	st->heard = true;
	if (f->ack > st->peer_ack && f->ack <= st->sent)
		st->peer_ack = f->ack;
	if (f->kind != K_DATA)
		return;
	if (f->seq != st->expect || len != frame_len(f->seq)) {
		if (st->bad_seq++ < 4)
			rt_printf("vnet: phase %u: got seq %u (len %lu), expected %u\n", st->phase, f->seq,
				  (unsigned long)len, st->expect);
		return;
	}
	size_t ndata = len - FRAME_FIXED - 4;
	for (size_t i = 0; i < ndata; i++)
		if (f->data[i] != pattern(f->side, f->phase, f->seq, i)) {
			st->bad_data++;
			break;
		}
	st->expect++;
}

static unsigned poll_rx(struct phase_state *st)
{
	unsigned n = 0;
	uint32_t used;
	void *c;
	while ((c = gvq_get(&rxq, &used)) != NULL) {
		if (c == GVQ_BAD) {
			st->bad_frame++;
			continue;
		}
		receive(st, c, used);
		post_rx(c);                      /* the buffer goes straight back */
		n++;
	}
	/* no kick: the device asked not to be told about receive buffers */
	if (n && gvq_kick_needed(&rxq))
		gvq_kick(&dev, VIRTIO_NET_RXQ);
	return n;
}

static uint64_t total_exits(void)
{
	struct hc_exit_stats s;
	rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0);
	return s.total;
}

static bool exchange(uint8_t phase, const char *ring)
{
	struct phase_state st = { .phase = phase };
	char name[120];
	uint64_t deadline = rdtsc() + 120000ull * khz;     /* 120 s of guest time */
	uint64_t next_hello = 0;

	/* hello: receive interrupts as bring-up left them (on), polling */
	uint64_t hello_deadline = rdtsc() + 30000ull * khz;
	while (!st.heard && rdtsc() < hello_deadline) {
		if (rdtsc() >= next_hello) {
			send(phase, K_HELLO, 0, 0);
			flush_tx();
			next_hello = rdtsc() + 5ull * khz;      /* every 5 ms */
		}
		poll_rx(&st);
		cpu_relax();
	}
	snprintf(name, sizeof(name), "%s: the peer heard (its frames came through the switch)", ring);
	rt_check(st.heard, name, "nothing from the peer");
	if (!st.heard)
		return false;
	/* A frame arrived since bring-up, with interrupts on: its used-buffer
	 * interrupt was raised then; give it time to be delivered. */
	uint64_t irq_wait = rdtsc() + 1000ull * khz;
	while (irq_used == irq_at_bring_up && rdtsc() < irq_wait)
		cpu_relax();
	snprintf(name, sizeof(name), "%s: a received frame raised the used-buffer interrupt", ring);
	rt_check(irq_used > irq_at_bring_up, name, "none");
	/* one more HELLO after hearing: the peer may not have heard ours yet */
	send(phase, K_HELLO, 0, st.expect);
	flush_tx();

	/* data: polling, no receive interrupts */
	gvq_interrupts(&rxq, false, 0);
	uint64_t t0 = rdtsc(), e0 = total_exits();
	uint64_t rx0 = st.rx_frames, tx0 = 0, bytes0 = bytes_moved;
	uint64_t quiet_since = rdtsc();
	while (rdtsc() < deadline) {
		bool progress = poll_rx(&st) > 0;
		while (st.sent < FRAMES && st.sent - st.peer_ack < WINDOW) {
			send(phase, K_DATA, st.sent++, st.expect);
			st.ack_sent = st.expect;
			tx0++;
			progress = true;
			if (tx_pending == 0)
				progress |= poll_rx(&st) > 0;
		}
		/* nothing to send: acknowledge what came in */
		if (st.ack_sent != st.expect && (st.expect - st.ack_sent >= WINDOW / 4 || !progress ||
						 st.expect == FRAMES)) {
			send(phase, K_ACK, 0, st.expect);
			st.ack_sent = st.expect;
			tx0++;
		}
		flush_tx();
		if (st.sent == FRAMES && st.peer_ack == FRAMES && st.expect == FRAMES && st.ack_sent == FRAMES)
			break;
		if (progress)
			quiet_since = rdtsc();
		else if (rdtsc() - quiet_since > 200ull * khz) {
			/* stuck for 200 ms: say where, and re-send the ack */
			rt_printf("vnet: %s: waiting: sent %u acked %u received %u\n", ring, st.sent, st.peer_ack,
				  st.expect);
			send(phase, K_ACK, 0, st.expect);
			flush_tx();
			quiet_since = rdtsc();
		}
		cpu_relax();
	}
	uint64_t ticks = rdtsc() - t0, exits = total_exits() - e0 - 1;
	uint64_t frames = tx0 + st.rx_frames - rx0;

	snprintf(name, sizeof(name), "%s: %u frames each way, all sent and acknowledged", ring, FRAMES);
	rt_check(st.sent == FRAMES && st.peer_ack == FRAMES, name, "sent %u, acknowledged %u", st.sent, st.peer_ack);
	snprintf(name, sizeof(name), "%s: %u frames received in order, checksums and data right", ring, FRAMES);
	rt_check(st.expect == FRAMES && !st.bad_seq && !st.bad_sum && !st.bad_data && !st.bad_len, name,
		 "received %u; bad: seq %u, sum %u, data %u, length %u", st.expect, st.bad_seq, st.bad_sum,
		 st.bad_data, st.bad_len);
	snprintf(name, sizeof(name), "%s: every virtio_net_hdr GSO_NONE, num_buffers 1; no stray frame", ring);
	rt_check(!st.bad_hdr && !st.bad_frame, name, "bad headers %u, bad frames %u", st.bad_hdr, st.bad_frame);
	if (side == 'a' && frames)
		rt_printf("BENCHVNET %s vnet_%s %lu %lu %lu %u %lu\n", rt_is_amd() ? "svm" : "vmx", ring,
			  (unsigned long)(ticks / frames), (unsigned long)(frames * 100 / (exits ? exits : 1)),
			  (unsigned long)frames, khz, (unsigned long)((bytes_moved - bytes0) / (exits ? exits : 1)));
	/* linger a little: the peer may still want our last ack re-sent */
	uint64_t end = rdtsc() + 50ull * khz;
	while (rdtsc() < end)
		poll_rx(&st);
	return st.expect == FRAMES;
}

/* ---- hostile moves (side a) ----------------------------------------------------------- */

static bool needs_reset(void) { return vm_status(&dev) & VIRTIO_STATUS_NEEDS_RESET; }

/* One chain on the transmit queue; its used length, or -1 if none. */
static int64_t tx_chain(const struct gvq_buf *b, unsigned n)
{
	if (gvq_add(&txq, b, n, (void *)b, NULL))
		return -1;
	gvq_kick(&dev, VIRTIO_NET_TXQ);
	uint64_t end = rdtsc() + 1000ull * khz;
	uint32_t len;
	void *c;
	while ((c = gvq_get(&txq, &len)) == NULL && rdtsc() < end)
		cpu_relax();
	return c == NULL || c == GVQ_BAD ? -1 : (int64_t)len;
}

static void hostile(void)
{
	static uint8_t big[HDR + VNET_FRAME_MAX + 64];
	static uint8_t wbuf[64];
	uint8_t *buf = tx_bufs[0];
	size_t len = build(buf, 99, K_HELLO, 0, 0);      /* phase 99: the peer ignores it */

	/* a transmit chain whose frame buffer is device-writable */
	memset(wbuf, 0xa5, sizeof(wbuf));
	struct gvq_buf b2[2] = { { (uint64_t)buf, HDR, false }, { (uint64_t)wbuf, sizeof(wbuf), true } };
	int64_t u = tx_chain(b2, 2);
	bool untouched = true;
	for (unsigned i = 0; i < sizeof(wbuf); i++)
		untouched &= wbuf[i] == 0xa5;
	CHECK(u == 0 && untouched && !needs_reset(),
	      "hostile: tx chain with a device-writable buffer: dropped, used with length 0, nothing written");

	/* a frame over the MTU: 1515 bytes */
	memset(big, 0, sizeof(big));
	memcpy(big, buf, HDR + len);
	struct gvq_buf b1 = { (uint64_t)big, HDR + VNET_FRAME_MAX + 1, false };
	CHECK(tx_chain(&b1, 1) == 0 && !needs_reset(), "hostile: a frame of MTU + 15 bytes: dropped, no reset");
	/* shorter than an Ethernet header */
	b1 = (struct gvq_buf){ (uint64_t)buf, HDR + 10, false };
	CHECK(tx_chain(&b1, 1) == 0 && !needs_reset(), "hostile: a 10-byte frame: dropped, no reset");
	/* segmentation asked for, not offered */
	buf[1] = 1;                                      /* VIRTIO_NET_HDR_GSO_TCPV4 */
	b1 = (struct gvq_buf){ (uint64_t)buf, (uint32_t)(HDR + len), false };
	CHECK(tx_chain(&b1, 1) == 0 && !needs_reset(), "hostile: a header with GSO_TCPV4: dropped, no reset");
	buf[1] = 0;

	/* a descriptor beyond RAM: the ring rule is broken, the device stops */
	irq_config = 0;
	uint64_t beyond = (rt_boot.ram_bytes + (1u << 20)) & ~0xfffull;
	b1 = (struct gvq_buf){ beyond, 100, false };
	gvq_add(&txq, &b1, 1, (void *)1, NULL);
	gvq_kick(&dev, VIRTIO_NET_TXQ);
	rt_delay_tsc(khz);
	uint32_t l;
	CHECK(needs_reset() && gvq_get(&txq, &l) == NULL && irq_config == 1,
	      "hostile: tx descriptor beyond RAM: DEVICE_NEEDS_RESET, config interrupt, nothing used");
}

/* ---- main ------------------------------------------------------------------------------ */

void guest_main(void)
{
	if (!rt_under_nestor()) {
		rt_printf("vnet: needs Nestor's virtio-net device; skipped\n");
		return;
	}
	khz = cpuid(0x40000010, 0).eax;
	if (!khz)
		khz = 1000000;
	const char *cl = rt_boot.cmdline ? rt_boot.cmdline : "";
	side = strstr(cl, "side=b") ? 'b' : 'a';
	bool found = gvq_find_device_id(cl, VIRTIO_ID_NET, 0, &dev);
	CHECK(found, "discovery: a virtio-mmio device with ID 1 (network) on the command line");
	if (!found)
		return;
	uint64_t offered = vm_device_features(&dev);
	for (unsigned i = 0; i < 6; i++)
		my_mac[i] = vm_config8(&dev, VIRTIO_NET_CFG_MAC + i);
	unsigned status = vm_config16(&dev, VIRTIO_NET_CFG_STATUS);
	unsigned mtu = vm_config16(&dev, VIRTIO_NET_CFG_MTU);
	rt_printf("vnet: side %c, virtio-net at %#lx GSI %u, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, "
		  "status %u, features %#lx\n", side, (unsigned long)dev.base, dev.gsi, my_mac[0], my_mac[1],
		  my_mac[2], my_mac[3], my_mac[4], my_mac[5], mtu, status, (unsigned long)offered);
	CHECK((offered & F(VIRTIO_NET_F_MAC)) && (offered & F(VIRTIO_NET_F_MTU)) && (offered & F(VIRTIO_NET_F_STATUS)) &&
	      (offered & F(VIRTIO_F_VERSION_1)) && !(offered & F(VIRTIO_NET_F_CSUM)) &&
	      !(offered & F(VIRTIO_NET_F_MRG_RXBUF)),
	      "features: MAC, MTU, STATUS and VERSION_1 offered; no offloads, no MRG_RXBUF");
	CHECK(mtu == 1500 && status == VIRTIO_NET_S_LINK_UP, "config: MTU 1500, link up");
	interrupts_on(dev.gsi);

	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_STATUS));
	CHECK(f && !txq.packed, "split: two queues of 256, DRIVER_OK");
	if (!f)
		return;
	if (side == 'a') {
		hostile();
		f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC));
		CHECK(f && !needs_reset(), "hostile: after a reset the device works again");
	}
	bool ok = exchange(1, "split");
	f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_F_RING_PACKED) | F(VIRTIO_F_EVENT_IDX));
	CHECK((f & F(VIRTIO_F_RING_PACKED)) && txq.packed, "packed: RING_PACKED and EVENT_IDX negotiated");
	if (ok && f)
		exchange(2, "packed");
	vm_set_status(&dev, 0);
}
