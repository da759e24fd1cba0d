/*
 * mb_parse: Multiboot2 and Multiboot1 boot information -> struct boot_info.
 *
 * Pure code over plain bytes (DESIGN.md "Principles" 1): no allocation, no
 * printing, no global state.  The same file is linked into the kernel (called
 * from the Multiboot entry path with the loader's EBX) and, on the host, into
 * the cmocka tests and the libFuzzer targets.  Everything a loader hands us is
 * treated as untrusted input: every size and pointer is checked before use,
 * and a malformed structure gives -1 and a message naming the problem and its
 * byte offset (or physical address), never a wild read.
 */
#ifndef NESTOR_MB_PARSE_H
#define NESTOR_MB_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/boot_info.h"

/* Magic values the loader leaves in EAX (the "Machine state" section of each spec). */
#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define MB1_BOOTLOADER_MAGIC 0x2badb002u

/*
 * Parse a Multiboot2 boot information structure (Multiboot2 spec 1.6, 3.6).
 *
 *   info       the structure, as readable memory
 *   avail      how many bytes starting at info may be read; total_size (the
 *              structure's first field) must not exceed it
 *   info_phys  the physical address of the structure; only used to report
 *              the physical address of the RSDP copy inside the ACPI tags
 *              (14/15), and checked for the 8-byte alignment the spec promises
 *   out        filled with boot_path, magic, cmdline, loader_name, modules,
 *              regions and rsdp (on error its contents are unspecified)
 *   err        receives a NUL-terminated message on error (may be NULL)
 *
 * Returns 0 on success, -1 on a malformed structure.
 */
int mb2_parse(const void *info, size_t avail, uint64_t info_phys,
	      struct boot_info *out, char *err, size_t errlen);

/*
 * How MB1 reaches physical memory: return a pointer through which
 * [addr, addr+len) can be read, or NULL if that range is not readable.  Same
 * shape as acpi_phys_fn (arch/x86/acpi.h), so one kernel callback serves both.
 */
typedef const void *(*mb_phys_fn)(uint64_t addr, uint64_t len, void *ctx);

/*
 * Parse a Multiboot1 information structure (Multiboot spec 0.6.96, 3.3) at
 * physical address info_phys.  The structure and everything it points to
 * (command line, module list and strings, memory map, loader name) are read
 * only through phys.  MB1 gives no RSDP: out->rsdp is left 0 and the kernel
 * scans the BIOS area (acpi_find_rsdp_bios).
 *
 * Returns 0 on success, -1 on a malformed structure or a pointer that phys
 * refuses; err as for mb2_parse.
 */
int mb1_parse(uint32_t info_phys, mb_phys_fn phys, void *ctx,
	      struct boot_info *out, char *err, size_t errlen);

#endif
