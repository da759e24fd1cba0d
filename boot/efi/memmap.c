/*
 * memmap: the UEFI memory map, translated into boot_info regions.
 *
 * UEFI 2.10 sec. 7.2.3 (GetMemoryMap) and table 7.6 ("Memory Type Usage
 * after ExitBootServices()") say which memory an OS may take once boot
 * services are gone.  We report that view, one region per descriptor, in
 * firmware order; the kernel sorts, clips and merges (memmap.c) the same
 * way for every boot path, so nothing is merged here.
 */
#include "boot/efi/memmap.h"

uint32_t memmap_type(UINT32 efi_type)
{
	switch (efi_type) {
	case EfiConventionalMemory:
	/* Boot-services code and data are free after ExitBootServices
	 * (table 7.6).  Note: the firmware's page tables, GDT, IDT and the
	 * stack we were called on live there; the kernel replaces them before
	 * it hands that memory out (DESIGN.md, notes/emulators.md). */
	case EfiBootServicesCode:
	case EfiBootServicesData:
	/* This loader's own code and its pool: nothing in it is needed once
	 * we have jumped to the kernel. */
	case EfiLoaderCode:
		return MEM_USABLE;
	/* Where we put the kernel, boot_info, the entry stack and the files
	 * from the ESP: in use by the kernel. */
	case EfiLoaderData:
		return MEM_RESERVED;
	case EfiACPIReclaimMemory:
		return MEM_ACPI_RECLAIM;
	case EfiACPIMemoryNVS:
		return MEM_ACPI_NVS;
	case EfiUnusableMemory:
		return MEM_BAD;
	/* Runtime services code/data (must stay mapped and untouched for
	 * runtime calls), reserved, MMIO, PAL code, persistent memory (14),
	 * unaccepted memory (15, needs a TDX/SEV-SNP accept first), and any
	 * type this header does not know yet. */
	default:
		return MEM_RESERVED;
	}
}

uint32_t memmap_convert(const void *map, UINTN map_size, UINTN desc_size,
			struct mem_region *out, uint32_t max)
{
	const UINT8 *p = map;
	uint32_t n = 0;

	if (max == 0)
		return 0;
	/* Step by desc_size, never by sizeof(EFI_MEMORY_DESCRIPTOR): the
	 * firmware may use a larger, newer descriptor (sec. 7.2.3). */
	for (UINTN off = 0; off + desc_size <= map_size; off += desc_size) {
		const EFI_MEMORY_DESCRIPTOR *d =
			(const EFI_MEMORY_DESCRIPTOR *)(p + off);
		uint64_t len = d->NumberOfPages * EFI_PAGE_SIZE; /* always 4 KiB */
		uint32_t type = memmap_type(d->Type);

		if (len == 0)
			continue;
		/* A map longer than boot_info holds (rare: firmware maps have
		 * some 50-200 entries).  Extending a directly preceding region
		 * of the same type loses nothing; anything else is dropped,
		 * which only hides memory from the kernel, never invents it. */
		if (n == max) {
			struct mem_region *last = &out[n - 1];

			if (last->type == type &&
			    last->base + last->length == d->PhysicalStart)
				last->length += len;
			continue;
		}
		out[n].base = d->PhysicalStart;
		out[n].length = len;
		out[n].type = type;
		out[n].reserved = 0;
		n++;
	}
	return n;
}
