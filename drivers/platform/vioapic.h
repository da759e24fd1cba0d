/*
 * Virtual I/O APIC: 24 interrupt input pins, each routed by a 64-bit
 * redirection table entry to local APICs (Intel 82093AA datasheet, with
 * the version-0x20 EOI register of the ICH family that Linux uses).
 *
 * MMIO (at base, default 0xfec00000), 32-bit accesses only:
 *   0x00 IOREGSEL  index of the register IOWIN reaches (bits 7:0)
 *   0x10 IOWIN     the selected register
 *   0x40 EOI       write a vector: as an EOI message from a local APIC
 * Indirect registers:
 *   0x00 ID   bits 27:24 R/W
 *   0x01 VER  0x00170020 (version 0x20, max redirection entry 23), RO
 *   0x02 ARB  arbitration ID, bits 27:24, RO (mirrors ID)
 *   0x10 + 2n / 0x11 + 2n  redirection entry n, low / high dword
 *
 * Redirection entry (datasheet 3.2.4):
 *   7:0 vector, 10:8 delivery mode, 11 destination mode (1 = logical),
 *   12 delivery status (RO, reads idle: delivery is instantaneous here),
 *   13 polarity (1 = active low), 14 Remote IRR (RO), 15 trigger mode
 *   (1 = level), 16 mask, 63:56 destination.  Other bits are reserved
 *   (read 0).  Reset: all entries masked, everything else 0.
 *
 * Inputs: vioapic_set_irq(pin, asserted).  `asserted` is the logical state
 * of the line (the device raises its interrupt); polarity is how the
 * guest's firmware tables describe the wire, and is stored but not applied
 * (as QEMU and KVM do).
 *   - edge-triggered entry: a rising edge (not asserted -> asserted) sends
 *     one message if unmasked; an edge on a masked pin is lost.
 *   - level-triggered entry: while the line is asserted, the entry is
 *     unmasked and Remote IRR is clear, a message is sent and Remote IRR
 *     set.  The local APIC's EOI for that vector (vioapic_eoi) clears
 *     Remote IRR, and if the line is still asserted it is sent again.
 *
 * Output: ops->deliver(ctx, dest, logical, mode, vector, level), where the
 * caller picks the local APIC(s) with vlapic_match_dest and, for fixed or
 * lowest priority, calls vlapic_accept(vector, level).
 *
 * Pure: no allocation, no globals.
 */
#ifndef NESTOR_VIOAPIC_H
#define NESTOR_VIOAPIC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIOAPIC_DEFAULT_BASE  0xfec00000ull
#define VIOAPIC_MMIO_SIZE     0x1000
#define VIOAPIC_PINS          24
#define VIOAPIC_VERSION       0x00170020u

#define IOAPIC_REGSEL   0x00
#define IOAPIC_WIN      0x10
#define IOAPIC_EOI      0x40

#define IOAPIC_REG_ID   0x00
#define IOAPIC_REG_VER  0x01
#define IOAPIC_REG_ARB  0x02
#define IOAPIC_REG_REDTBL 0x10

#define IOAPIC_RTE_VECTOR       0xffull
#define IOAPIC_RTE_DM_SHIFT     8
#define IOAPIC_RTE_LOGICAL      (1ull << 11)
#define IOAPIC_RTE_STATUS       (1ull << 12)
#define IOAPIC_RTE_POLARITY     (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR   (1ull << 14)
#define IOAPIC_RTE_LEVEL        (1ull << 15)
#define IOAPIC_RTE_MASKED       (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT   56

struct vioapic_ops {
	/* mode: 0 fixed, 1 lowest, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT;
	 * level = level-triggered (the LAPIC sets TMR and will EOI). */
	void (*deliver)(void *ctx, uint8_t dest, bool logical, uint8_t mode,
			uint8_t vector, bool level);
};

struct vioapic {
	uint64_t base;                   /* MMIO base (the caller decodes it) */
	uint32_t id;                     /* ID register, bits 27:24 */
	uint32_t regsel;                 /* IOREGSEL, bits 7:0 */
	uint64_t rte[VIOAPIC_PINS];      /* redirection table */
	uint32_t line;                   /* input pins currently asserted */
	const struct vioapic_ops *ops;
	void *ctx;
};

void vioapic_init(struct vioapic *io, uint64_t base, uint8_t id,
		  const struct vioapic_ops *ops, void *ctx);

/* MMIO at `offset` from base.  0 = done; 1 = not an aligned 32-bit access
 * to IOREGSEL/IOWIN/EOI (reads 0, writes dropped; the caller may log). */
int vioapic_mmio_read(struct vioapic *io, uint32_t offset, unsigned size, uint32_t *val);
int vioapic_mmio_write(struct vioapic *io, uint32_t offset, unsigned size, uint32_t val);

/* The device on `pin` asserts (true) or deasserts (false) its line.
 * Pins >= 24 are ignored. */
void vioapic_set_irq(struct vioapic *io, unsigned pin, bool asserted);

/* A local APIC retired a level-triggered `vector` (EOI message). */
void vioapic_eoi(struct vioapic *io, uint8_t vector);

#endif
