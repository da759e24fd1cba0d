/*
 * What must hold for any virtio device after any input, whatever the
 * device (fuzz_virtqueue: virtio-blk; fuzz_vnet: virtio-net): a device
 * that needs a reset says why, a queue in error has asked for the reset,
 * and a ready queue has a valid size and its three areas inside the
 * guest's RAM [ram, ram + ram_size).  Needs fuzz_assert.h's CHECK.
 */
#ifndef NESTOR_FUZZ_VIRTIO_H
#define NESTOR_FUZZ_VIRTIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "drivers/virtio/virtio_mmio.h"

static inline bool fuzz_in_ram(const void *ram, size_t ram_size, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)ram;

	return a >= lo && a - lo <= ram_size && len <= ram_size - (a - lo);
}

static inline void fuzz_check_virtio_dev(const struct virtio_dev *vd, const void *ram, size_t ram_size)
{
	CHECK(!(vd->status & VIRTIO_STATUS_NEEDS_RESET) || vd->reset_reason != NULL);
	for (unsigned q = 0; q < vd->num_queues; q++) {
		const struct vq *vq = &vd->vq[q];

		CHECK(vq->error == VQ_OK || (vd->status & VIRTIO_STATUS_NEEDS_RESET));
		if (!vq->ready)
			continue;
		CHECK(vq->num >= 1 && vq->num <= vq->num_max);
		CHECK(vq->packed || (vq->num & (vq->num - 1)) == 0);
		CHECK(fuzz_in_ram(ram, ram_size, vq->desc, 16 * (size_t)vq->num));
		CHECK(fuzz_in_ram(ram, ram_size, vq->driver, vq->packed ? 4 : 6 + 2 * (size_t)vq->num));
		CHECK(fuzz_in_ram(ram, ram_size, vq->device, vq->packed ? 4 : 6 + 8 * (size_t)vq->num));
	}
}
#endif
