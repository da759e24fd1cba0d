/*
 * virtio_l0: the kernel side of the virtio devices (issue 7) -- the thin
 * layer between the pure device code in drivers/virtio/ and one VM.
 *
 * Per VM, one virtio-mmio device per virtio `device =` line of its
 * configuration (docs/config.md), in the order given, at most
 * VIRTIO_L0_MAX_DEVS: `virtio-blk:FILE [ro]` (a RAM disk),
 * `virtio-console` (output into the L0 log, like the UART), `virtio-net
 * [:MAC]` (a port of the one L0 switch all VMs' NICs share):
 *
 *   device i   registers  GPA VIRTIO_L0_BASE + i * 4 KiB (one page,
 *                         GMEM_MMIO in the VM's memory map, so every
 *                         access exits: kernel/mmio.c hands it here)
 *              interrupt  IOAPIC pin / GSI VIRTIO_L0_GSI_BASE + i,
 *                         level-triggered, active-high (asserted while the
 *                         device's InterruptStatus is not zero)
 *
 * 0xd0000000 itself stays a hole: the memory test guest probes it.  The
 * GSIs are above the 16 ISA ones, so no legacy device or 8259 input is
 * shared.  The guest learns where the devices are from
 *   - its ACPI DSDT: one LNRO0005 device each (drivers/platform/guest_acpi.c),
 *   - its command line (Multiboot and ELF64 guests), Linux's form
 *     `virtio_mmio.device=4K@0xd0001000:16` appended per device.  Linux
 *     guests (format = linux) get only the DSDT entry: with both, Linux
 *     would register every device twice.
 *
 * The disk image (a boot module or ESP file named like `image`) is copied
 * into L0 memory when the VM is created: the VM reads and writes that
 * copy, which lives exactly as long as the machine stays up (nothing is
 * written back, see docs/virtio.md).
 *
 * Locking: every call into a device's code is made under its lock --
 * for virtio-blk and virtio-console one spinlock per VM (struct
 * virtio_l0.lock), for virtio-net the one lock of the switch, because a
 * frame one VM sends is written into another VM's receive queue while
 * the sender's kick is served (per-VM locks taken in both orders by two
 * VMs sending to each other would deadlock).  The interrupt line is set
 * from inside (vm_set_irq takes the VM's dev_lock: the order is always
 * device lock -> dev_lock).  vm->virtio_pending (devices with work left
 * for the poll) is changed only under the device's lock, atomically.
 */
#ifndef NESTOR_VIRTIO_L0_H
#define NESTOR_VIRTIO_L0_H
#include <stdbool.h>
#include <stdint.h>
#include "kernel/boot_info.h"
#include "kernel/config.h"
#include "drivers/platform/guest_acpi.h"

#define VIRTIO_L0_MAX_DEVS  4
#define VIRTIO_L0_BASE      0xd0001000ull     /* device 0; then + 4 KiB each */
#define VIRTIO_L0_PAGE      0x1000ull
#define VIRTIO_L0_GSI_BASE  16                /* device 0; then + 1 each */

struct vm;

/* The devices the configuration gives this VM, for its ACPI tables
 * (before the VM's memory map exists): fills c->mmio_devs. */
void virtio_l0_acpi(const struct vm_config *cfg, struct guest_acpi_cfg *c);

/* Create the VM's devices: disk copies, MMIO pages in vm->mem (after
 * the nested page tables were built from it: MMIO is never mapped),
 * IOAPIC pins.  0, or -1 with a log line (disk not loaded, no memory). */
int virtio_l0_create(struct vm *vm, const struct boot_info *bi);

/* The command line the VM's loader gets: the configured one with the
 * virtio_mmio.device= parameters appended (or unchanged, see above). */
const char *virtio_l0_cmdline(const struct vm *vm);

/* A guest access to gpa (kernel/mmio.c): 0 if it is a virtio device's
 * page (done; *val holds what a read returns), -1 if not. */
int virtio_l0_mmio(struct vm *vm, uint64_t gpa, unsigned size, bool write, uint64_t *val);

/* Serve queues a kick left work on (the device's budget ran out).  The
 * run loop calls it before a guest entry while vm->virtio_pending is set. */
void virtio_l0_poll(struct vm *vm);

/* The VM ended: its NICs' links go down (the switch drops frames to
 * them and forgets their MACs). */
void virtio_l0_vm_ended(struct vm *vm);

/* One line per device with its counters, printed with the exit table. */
void virtio_l0_report(const struct vm *vm);

#endif
