/*
 * Loading a guest image into guest RAM and building what its boot protocol
 * promises (Multiboot v1: the information structure, memory map, command
 * line, modules).  Pure: everything goes through gmem_write, so an image
 * that asks to be loaded outside its VM's RAM is an error, not a write into
 * L0.
 */
#ifndef NESTOR_GUEST_LOAD_H
#define NESTOR_GUEST_LOAD_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "mm/gmem.h"

#define GUEST_MB1_INFO_GPA 0x9000u  /* one page for info, mmap, strings, module list */
#define GUEST_MAX_MODULES 4

struct guest_module { const void *data; size_t size; const char *name; };

struct guest_boot {
	uint64_t entry;
	uint32_t eax, ebx;       /* Multiboot: magic and info address */
	uint64_t image_start, image_end;
	bool long_mode;          /* ELF64: enter in 64-bit mode with paging on ... */
	uint64_t cr3;            /* ... on these identity-mapping page tables */
};

int guest_load_multiboot1(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
			  const struct guest_module *mods, unsigned nmods, struct guest_boot *out,
			  char *err, size_t errlen);
/* Multiboot2: the info structure (cmdline, loader name, basic memory,
 * memory map, modules, and the ACPI RSDP copy when rsdp_gpa != 0). */
int guest_load_multiboot2(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
			  const struct guest_module *mods, unsigned nmods, uint64_t rsdp_gpa,
			  struct guest_boot *out, char *err, size_t errlen);
/* A plain ELF64 kernel: entered at e_entry in 64-bit mode on an identity
 * map of the low 4 GiB (2 MiB pages at 0x1000-0x6fff), with EBX (and RDI)
 * = a Multiboot2 information structure and EAX = its magic. */
int guest_load_elf64(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
		     const struct guest_module *mods, unsigned nmods, uint64_t rsdp_gpa,
		     struct guest_boot *out, char *err, size_t errlen);
int guest_load_flat(struct gmem *g, const uint8_t *img, size_t size, uint64_t load_addr,
		    struct guest_boot *out, char *err, size_t errlen);
#endif
