/*
 * The ACPI tables a guest finds on its platform (ACPI 6.5, chapter 5).
 *
 * guest_acpi_build() writes, into one caller-provided buffer, the smallest
 * table set on which a stock Linux boots with LAPIC + IOAPIC interrupts
 * (/work/shared/notes/linux-guest.md):
 *
 *   offset 0  RSDP  revision 2: XsdtAddress, and RsdtAddress for ACPI 1.0
 *                   readers                                      (5.2.5.3)
 *             XSDT  -> FADT, MADT (64-bit pointers)              (5.2.8)
 *             RSDT  -> FADT, MADT (32-bit pointers)              (5.2.7)
 *             FADT  revision 6.5, HW_REDUCED_ACPI, -> DSDT       (5.2.9)
 *             MADT  LAPIC/x2APIC per CPU, one IOAPIC, optional
 *                   IRQ0->GSI2 override, LINT1 = NMI             (5.2.12)
 *             DSDT  AML: \_SB.COM1 (PNP0501) and one LNRO0005
 *                   (virtio-mmio) device per mmio_devs[] entry   (5.2.11.1)
 *
 * Every table starts 16-byte aligned (relative to base_gpa, which must
 * itself be 16-byte aligned); every pointer inside is a guest-physical
 * address base_gpa + offset.  The RSDP comes first, so placing the buffer
 * at a 16-byte boundary in 0xE0000-0xFFFFF lets a legacy BIOS-area scan
 * find it (5.2.5.1); otherwise hand *rsdp_gpa to the kernel (e.g. Linux
 * boot_params.acpi_rsdp_addr).
 *
 * Decisions worth knowing (details next to the code):
 *  - Hardware-reduced ACPI (4.1): no PM timer, no SCI, no fixed-feature
 *    registers, no FACS.  Linux accepts this, and in this mode it does not
 *    drive an 8259 PIC, so the MADT does NOT set PCAT_COMPAT (no PIC).
 *  - isa_irq0_to_gsi2 names GSI 2 absolutely: it is IOAPIC pin 2 when
 *    ioapic_gsi_base is 0, as on a PC.  ISA IRQs without an override map
 *    to the GSI of the same number (5.2.12.5), so COM1's IRQ 4 is GSI 4.
 *  - FADT IAPC_BOOT_ARCH says "VGA not present" and "CMOS RTC not present"
 *    (the measured minimal platform has neither).
 *  - The RSDT and the FADT's 32-bit DSDT field hold 32-bit addresses, so
 *    the whole table set must lie below 4 GiB; so must the LAPIC, the
 *    IOAPIC (32-bit MADT fields) and each mmio device (Memory32Fixed).
 *
 * Pure: no allocation, no globals; compiles into the kernel and the host
 * tests alike.
 */
#ifndef NESTOR_GUEST_ACPI_H
#define NESTOR_GUEST_ACPI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_ACPI_MAX_CPUS      64
#define GUEST_ACPI_MAX_MMIO_DEVS 8
/* Any valid cfg fits in this many bytes (the worst case, 64 x2APIC
 * entries, COM1 and 8 mmio devices, takes 2199); the tests check it. */
#define GUEST_ACPI_MAX_SIZE      4096

struct guest_acpi_mmio_dev {
	uint64_t gpa, size;  /* register window, below 4 GiB, size > 0 */
	uint32_t gsi;        /* level-triggered, active-high interrupt */
};

struct guest_acpi_cfg {
	unsigned ncpus;                          /* 1..GUEST_ACPI_MAX_CPUS */
	uint32_t apic_ids[GUEST_ACPI_MAX_CPUS];  /* [0] is the BSP; unique;
						  * >= 255 gets an x2APIC entry;
						  * 0xffffffff is invalid */
	uint64_t lapic_gpa;                      /* 0xfee00000 */
	uint32_t ioapic_id;                      /* 0..255 (8-bit MADT field) */
	uint64_t ioapic_gpa;                     /* 0xfec00000 */
	uint32_t ioapic_gsi_base;                /* 0 for the ISA IOAPIC */
	bool isa_irq0_to_gsi2;                   /* PC-style interrupt source
						  * override: ISA IRQ0 -> GSI 2 */
	uint8_t uart_irq;                        /* 4; 1..15, or 0 for no COM1 */
	const char *oem_id;                      /* 1..6 printable ASCII chars;
						  * NULL means "NESTOR" */
	unsigned n_mmio_devs;                    /* 0..GUEST_ACPI_MAX_MMIO_DEVS */
	struct guest_acpi_mmio_dev mmio_devs[GUEST_ACPI_MAX_MMIO_DEVS];
};

/*
 * Build the tables into buf[0..buflen) for placement at guest-physical
 * base_gpa.  On success: 0, *rsdp_gpa = where the RSDP is (base_gpa), and
 * *used = bytes written (either pointer may be NULL).  -1 when the cfg is
 * invalid, base_gpa is not 16-byte aligned, the tables would not lie below
 * 4 GiB, or buflen is too small; the buffer contents are then unspecified.
 * Nothing outside buf[0..buflen) is ever written.
 */
int guest_acpi_build(const struct guest_acpi_cfg *c, uint8_t *buf, size_t buflen,
		     uint64_t base_gpa, uint64_t *rsdp_gpa, size_t *used);

/*
 * AML PkgLength (ACPI 6.5 section 20.2.4) for a package whose contents after
 * the PkgLength are body_len bytes: writes the minimal 1..4-byte encoding
 * to out and returns its size, or -1 if it cannot be encoded (>= 2^28).
 * Exposed for the tests; the DSDT builder uses it.
 */
int guest_acpi_aml_pkglen(size_t body_len, uint8_t out[4]);

/* Compressed EISA id, e.g. "PNP0501" -> 0x0105d041 (ACPI 6.5 19.6.35,
 * EisaId macro).  -1 if s is not three letters A-Z and four hex digits. */
int64_t guest_acpi_eisaid(const char *s);

#endif
