/*
 * virtio-mmio, version 2 (virtio 1.2, 4.2): the register file through
 * which a guest finds and drives a virtio device at a physical address.
 *
 *   0x000 MagicValue        R   0x74726976 ("virt")
 *   0x004 Version           R   2
 *   0x008 DeviceID          R   e.g. 2 = block
 *   0x00c VendorID          R   "NEST"
 *   0x010 DeviceFeatures    R   32 bits of the offered features, from
 *   0x014 DeviceFeaturesSel W     word DeviceFeaturesSel (0 or 1)
 *   0x020 DriverFeatures    W   32 bits of the accepted features, into
 *   0x024 DriverFeaturesSel W     word DriverFeaturesSel
 *   0x030 QueueSel          W   the queue the Queue* registers mean
 *   0x034 QueueNumMax       R   its maximum size (0: no such queue)
 *   0x038 QueueNum          W   the size the driver chose
 *   0x044 QueueReady        RW  1: start using the queue; 0: stop
 *   0x050 QueueNotify       W   "queue n has new buffers" (a kick)
 *   0x060 InterruptStatus   R   bit 0 used buffers, bit 1 config change
 *   0x064 InterruptACK      W   clear those bits
 *   0x070 Status            RW  device status (2.1); 0 resets
 *   0x080/0x084 QueueDescLow/High      W  Descriptor Area address
 *   0x090/0x094 QueueDriverLow/High    W  Driver Area address
 *   0x0a0/0x0a4 QueueDeviceLow/High    W  Device Area address
 *   0x0ac SHMSel, 0x0b0.. SHMLen/Base  no shared memory: length and
 *                                      base read as all-ones
 *   0x0c0 QueueReset        RW  0 (VIRTIO_F_RING_RESET is not offered)
 *   0x0fc ConfigGeneration  R   changes when config space changes
 *   0x100...                RW  device config space, 1/2/4-byte access
 *
 * The registers (below 0x100) take aligned 32-bit accesses only (4.2.2.2).
 * Queue configuration registers are ignored while the selected queue is
 * ready (4.2.2.2 "the driver MUST NOT access ... when QueueReady is not
 * zero").  Everything about status, features and queues is delegated to
 * the transport-neutral core (virtio.h); this file only decodes registers
 * and owns InterruptStatus.
 *
 * Interrupts: one line per device (4.2.3.4), asserted while
 * InterruptStatus is not zero.  set_irq(ctx, level) is called whenever the
 * line changes; the kernel routes it to an IOAPIC pin (vm_set_irq).
 *
 * Pure: no allocation, no globals; the kernel serialises accesses.
 */
#ifndef NESTOR_VIRTIO_MMIO_H
#define NESTOR_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio.h"

#define VIRTIO_MMIO_MAGIC       0x74726976u
#define VIRTIO_MMIO_VERSION     2u
#define VIRTIO_MMIO_VENDOR      0x5453454eu    /* "NEST" little-endian */
#define VIRTIO_MMIO_CONFIG      0x100          /* config space offset  */
#define VIRTIO_MMIO_CONFIG_MAX  0x100          /* bytes of config space */
#define VIRTIO_MMIO_SIZE        0x200          /* the whole window     */

#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION_REG         0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc

struct virtio_mmio {
	struct virtio_dev *vd;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status;
	bool line;                          /* what set_irq was last told */
	void (*set_irq)(void *ctx, bool level);
	void *irq_ctx;
	uint64_t irq_raises;                /* line 0 -> 1 transitions    */
};

/* Attach the transport to a device (set up with virtio_dev_init). */
void virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *vd,
		      void (*set_irq)(void *ctx, bool level), void *irq_ctx);

/*
 * A guest access of size bytes at offset off in the window.  0: done;
 * 1: not an access the device acts on -- misaligned or wrong size, beyond
 * the config space, a read of a write-only register, a write to a
 * read-only one, or queue setup while the queue is ready (reads give 0,
 * writes are dropped; the caller may log).
 */
int virtio_mmio_read(struct virtio_mmio *m, uint32_t off, unsigned size, uint32_t *val);
int virtio_mmio_write(struct virtio_mmio *m, uint32_t off, unsigned size, uint32_t val);

#endif
