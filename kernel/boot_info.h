/*
 * boot_info: the one structure every boot path fills before kmain().
 *
 * UEFI (boot/efi), Multiboot1 and Multiboot2 (boot/multiboot2) each turn
 * what their firmware or loader gave into this plain record; nothing after
 * kmain() knows how the machine was booted (DESIGN.md "One kernel, three
 * ways in").  Plain data only: it is shared by the kernel, the gnu-efi
 * loader and the host unit tests.
 */
#ifndef NESTOR_BOOT_INFO_H
#define NESTOR_BOOT_INFO_H

#include <stdint.h>

#define BOOT_INFO_MAGIC 0x4e455354424f4f54ull /* "NESTBOOT" */

enum boot_path {
	BOOT_PATH_UEFI = 1,
	BOOT_PATH_MB1 = 2,
	BOOT_PATH_MB2 = 3,
};

/* Memory region types, ordered so that a larger value is more restrictive:
 * where two firmware regions overlap, the larger type wins (memmap.c). */
enum mem_type {
	MEM_USABLE = 1,       /* free RAM */
	MEM_ACPI_RECLAIM = 2, /* ACPI tables; keep (we read them late) */
	MEM_ACPI_NVS = 3,
	MEM_RESERVED = 4,     /* firmware, MMIO, loader data we still use */
	MEM_BAD = 5,
};

struct mem_region {
	uint64_t base;
	uint64_t length;
	uint32_t type; /* enum mem_type */
	uint32_t reserved;
};

#define BOOT_NAME_MAX 64

/* A file the loader placed in memory: a guest image, an initrd, a disk
 * image, or the configuration itself (name "nestor.cfg"). */
struct boot_module {
	uint64_t addr;
	uint64_t size;
	char name[BOOT_NAME_MAX]; /* file name without directories */
};

#define BOOT_MAX_REGIONS 256
#define BOOT_MAX_MODULES 16
#define BOOT_CMDLINE_MAX 256

struct boot_info {
	uint64_t magic;     /* BOOT_INFO_MAGIC */
	uint32_t boot_path; /* enum boot_path */
	uint32_t region_count;
	uint64_t rsdp;      /* physical address of the ACPI RSDP, 0 if unknown */
	char cmdline[BOOT_CMDLINE_MAX]; /* L0 command line (Multiboot), may be empty */
	char loader_name[BOOT_NAME_MAX];
	struct mem_region regions[BOOT_MAX_REGIONS];
	uint32_t module_count;
	uint32_t reserved;
	struct boot_module modules[BOOT_MAX_MODULES];
};

#endif
