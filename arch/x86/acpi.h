/*
 * ACPI tables of the machine Nestor runs on: find the RSDP, walk the
 * XSDT/RSDT, read the MADT (CPUs, IOAPICs).  Pure: every table is reached
 * through a phys() callback that refuses ranges it cannot give, and every
 * length and checksum is checked (ACPI 6.5 sections 5.2.5-5.2.12).
 */
#ifndef NESTOR_ACPI_H
#define NESTOR_ACPI_H
#include <stdint.h>
#include <stddef.h>

#define ACPI_MAX_CPUS 64
#define ACPI_MAX_IOAPICS 8

typedef const void *(*acpi_phys_fn)(uint64_t addr, uint64_t len, void *ctx);

struct acpi_ioapic { uint32_t id, addr, gsi_base; };

struct acpi_info {
	uint64_t rsdp;
	uint8_t revision;          /* RSDP revision: 0 = ACPI 1.0 (RSDT), 2+ = XSDT */
	char oem_id[7];
	uint64_t lapic_addr;
	unsigned cpu_count;        /* enabled (or online-capable) processors */
	uint32_t apic_ids[ACPI_MAX_CPUS];
	unsigned ioapic_count;
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	int have_madt;
};

/* Scan the EBDA's first KiB and 0xE0000-0xFFFFF for "RSD PTR " (5.2.5.1). 0 if none. */
uint64_t acpi_find_rsdp_bios(acpi_phys_fn phys, void *ctx);
int acpi_parse(uint64_t rsdp, acpi_phys_fn phys, void *ctx, struct acpi_info *out,
	       char *err, size_t errlen);
#endif
