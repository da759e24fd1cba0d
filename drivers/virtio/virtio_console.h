/*
 * virtio-console (virtio 1.2, 5.3): one port, output only -- the guest's
 * alternative to the emulated UART for writing to the L0 log.
 *
 * Queues (5.3.2): 0 receiveq (port 0), 1 transmitq (port 0).  No feature
 * bit of the device's own is offered (5.3.3): no SIZE, no MULTIPORT (so
 * no control queues), no EMERG_WRITE; VERSION_1 is required, as for every
 * device here (virtio.c).  The config space (5.3.4: cols, rows,
 * max_nr_ports, emerg_wr) has no field valid without those features and
 * reads as zeros.
 *
 * Transmit (5.3.6): the readable part of each chain is bytes for the
 * console; they go to the output hook in chunks, and the chain is used
 * with length 0.  A chain with a device-writable part breaks 5.3.6.1
 * ("The driver MUST NOT put a device-writable buffer in a transmitq"):
 * its readable bytes are still printed, nothing is written into it, and
 * it is counted and logged (1st, 2nd, 4th... time).  At most
 * VIRTIO_CONSOLE_CHAIN_MAX bytes of one chain are printed (the rest is
 * counted as dropped): the console is for lines of text.
 *
 * Receive: there is no input source; buffers the driver adds stay in
 * the receive queue, and the device asks not to be kicked for them.
 *
 * Transport-independent: only struct virtio_dev and its queues.
 */
#ifndef NESTOR_VIRTIO_CONSOLE_H
#define NESTOR_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/virtio/virtio.h"

#define VIRTIO_CONSOLE_RXQ          0
#define VIRTIO_CONSOLE_TXQ          1
#define VIRTIO_CONSOLE_QUEUE_SIZE   64
#define VIRTIO_CONSOLE_CONFIG_SIZE  12   /* cols, rows, max_nr_ports, emerg_wr */
#define VIRTIO_CONSOLE_CHAIN_MAX    4096 /* bytes printed per chain */

struct virtio_console_params {
	const struct gmem *mem;
	/* Where the bytes go (the kernel: the VM's console line buffer). */
	void (*output)(void *ctx, const char *bytes, size_t len);
	void *output_ctx;
	uint64_t ring_features;
};

struct virtio_console {
	struct virtio_dev vd;           /* first: the ops find it from vd */
	void (*output)(void *ctx, const char *bytes, size_t len);
	void *output_ctx;
	struct vq_chain chain;

	/* Counters. */
	uint64_t chains, bytes, bytes_dropped, writable_chains;
};

/* 0, or -1 (no memory map or output hook). */
int virtio_console_init(struct virtio_console *c, const struct virtio_console_params *p);

#endif
