/*
 * Loading a guest image into guest RAM and building what its boot protocol
 * promises (Multiboot v1/v2: the information structure, memory map,
 * command line, modules; Linux: boot_params with its e820 map, command
 * line and initrd, docs/linux-guests.md).  Pure: everything goes through
 * gmem_write, so an image that asks to be loaded outside its VM's RAM is
 * an error, not a write into L0.
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
	uint64_t rsi, rsp;       /* Linux: boot_params; a scratch stack (0: leave RSP alone) */
	uint64_t image_start, image_end;
	bool long_mode;          /* ELF64, Linux: enter in 64-bit mode with paging on ... */
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

/* ---- Linux x86 boot protocol (Documentation/x86/boot.rst), 64-bit entry ----
 *
 * A bzImage is a real-mode setup part (setup_sects + 1 sectors of 512
 * bytes, with the setup header at 0x1f1) followed by the protected-mode
 * kernel (compressed, self-decompressing).  Nestor skips the real-mode
 * part and uses the 64-bit boot protocol: the protected-mode kernel goes
 * to pref_address, boot_params (the "zero page") gets a copy of the setup
 * header plus what a boot loader fills in, and the vCPU starts at
 * load address + 0x200 (startup_64) in 64-bit mode with RSI = boot_params.
 *
 * The guest-physical layout it builds:
 *   0x1000-0x6fff  identity map of the low 4 GiB (as for ELF64)
 *   0x7000         boot_params
 *   0x8000         the command line
 *   0x9000-0x9fff  scratch stack for the first instructions
 *   0x9fc00-0xfffff reserved in e820 (ACPI tables live at 0xf0000)
 *   pref_address   the kernel, with init_size bytes for it to decompress in
 *   top of RAM     the initrd, page aligned, below initrd_addr_max */
#define LINUX_BOOT_PARAMS_GPA 0x7000u
#define LINUX_CMDLINE_GPA     0x8000u
#define LINUX_CMDLINE_MAX     4095u     /* one page with its NUL */
#define LINUX_STACK_TOP       0x9ff0u
#define LINUX_E820_MAX        128       /* entries in boot_params (E820_MAX_ENTRIES_ZEROPAGE) */

enum { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3 };
struct e820_entry { uint64_t addr, size; uint32_t type; } __attribute__((packed));

/* What the setup header says, checked (guest_linux_parse). */
struct linux_header {
	uint16_t version;          /* 0x020f = 2.15 */
	unsigned setup_sects;      /* 0 in the file means 4 */
	size_t kernel_offset;      /* file offset of the protected-mode kernel */
	size_t kernel_size;        /* its bytes in the file (syssize * 16) */
	size_t header_end;         /* setup header: file offsets 0x1f1 .. header_end */
	uint8_t loadflags;
	uint16_t xloadflags;
	bool relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;        /* memory from the load address the kernel needs to boot */
	uint32_t cmdline_size;     /* longest command line, without its NUL */
	uint32_t initrd_addr_max;  /* highest byte address the initrd may occupy */
};

/* Parse and check a bzImage's setup header: protocol 2.12+ with the
 * 64-bit entry (xloadflags XLF_KERNEL_64), sizes inside the file.  0, or
 * -1 with a message; never reads outside img[0..size). */
int guest_linux_parse(const uint8_t *img, size_t size, struct linux_header *h, char *err, size_t errlen);

/* The e820 map of a VM, from its memory map: RAM ranges usable except the
 * BIOS area 0x9fc00-0xfffff (reserved: the ACPI tables and what an OS
 * expects of a PC there), ROM reserved, MMIO not listed.  Returns the
 * number of entries (at most max), or -1 if they do not fit. */
int guest_e820_from_gmem(const struct gmem *g, struct e820_entry *out, unsigned max);

/* The command line Linux gets: the user's, plus "tsc_early_khz=<kHz>"
 * (when tsc_khz != 0) and "tsc=reliable" unless the user gave those
 * parameters.  Nestor's platform has no PIT, HPET or PM timer to
 * calibrate or watch the TSC against, so Linux must be told.  0, or -1
 * if the result (with its NUL) does not fit in outlen. */
int guest_linux_cmdline(char *out, size_t outlen, const char *user, uint32_t tsc_khz);

/* Load a bzImage for the 64-bit boot protocol (layout above); initrd may
 * be NULL; rsdp_gpa (0: none) goes to boot_params.acpi_rsdp_addr. */
int guest_load_linux(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
		     const struct guest_module *initrd, uint64_t rsdp_gpa,
		     struct guest_boot *out, char *err, size_t errlen);

int guest_load_flat(struct gmem *g, const uint8_t *img, size_t size, uint64_t load_addr,
		    struct guest_boot *out, char *err, size_t errlen);
#endif
