/*
 * memmap: the UEFI memory map, translated into boot_info regions.
 */
#ifndef NESTOR_EFI_MEMMAP_H
#define NESTOR_EFI_MEMMAP_H

#include <efi.h>

#include "kernel/boot_info.h"

/* UEFI memory type -> enum mem_type, as seen *after* ExitBootServices. */
uint32_t memmap_type(UINT32 efi_type);

/*
 * Fill out[0..max) from a GetMemoryMap() buffer and return the count.
 * Must not allocate or print: it runs between the last GetMemoryMap() and
 * ExitBootServices(), where any allocation would invalidate the map key.
 */
uint32_t memmap_convert(const void *map, UINTN map_size, UINTN desc_size,
			struct mem_region *out, uint32_t max);

#endif
