/*
 * loader.c: BOOTX64.EFI, the UEFI way into Nestor.
 *
 * A small gnu-efi application that carries the kernel ELF (nestor.elf,
 * non-PIC, linked at 1 MiB) inside itself and does only what needs the
 * firmware (DESIGN.md "One kernel, three ways in"):
 *
 *   1. copy the kernel's PT_LOAD segments to their link addresses;
 *   2. read nestor.cfg and the files it names from the ESP;
 *   3. find the ACPI RSDP;
 *   4. take the memory map, ExitBootServices();
 *   5. jump to the kernel's entry with RDI = struct boot_info.
 *
 * Everything the loader allocates for the kernel is EfiLoaderData, which
 * boot_info reports as MEM_RESERVED, so the kernel does not hand it out
 * before it has looked at it.  Errors before ExitBootServices() are printed
 * and returned to the firmware (its boot manager then tries the next boot
 * option); a missing or bad file named in nestor.cfg is only reported, as
 * the kernel reports it again with the config's line number.
 */
#include <efi.h>
#include <efilib.h>

#include "boot/efi/elf_load.h"
#include "boot/efi/files.h"
#include "boot/efi/memmap.h"
#include "kernel/boot_info.h"
#include "kernel/config.h"

#define LOADER_NAME "nestor-efi"
#define CONFIG_NAME "nestor.cfg"

/* The kernel is linked below 16 MiB; we accept anything the firmware's
 * identity map is sure to cover with AllocateAddress below 4 GiB. */
#define KERNEL_ADDR_LIMIT 0x100000000ull
#define LOW_LIMIT 0xffffffffull /* AllocateMaxAddress: highest usable byte */

/* Stack the kernel starts on; see enter.S for why it is our own. */
#define ENTRY_STACK_SIZE (64 * 1024)

/* kernel_blob.S */
extern const UINT8 nestor_kernel_elf[];
extern const UINT8 nestor_kernel_elf_end[];

/* enter.S: System V ABI, unlike the firmware's calls (MS ABI). */
__attribute__((sysv_abi, noreturn)) void
nestor_efi_enter(uint64_t boot_info, uint64_t entry, uint64_t stack_top);

/* A config file name is copied into a boot_module name unchanged, so the
 * kernel can match the two with a plain string compare. */
_Static_assert(CFG_PATH_MAX <= BOOT_NAME_MAX, "module names must fit");

/* ------------------------------------------------------------------ */
/* Kernel ELF                                                           */
/* ------------------------------------------------------------------ */

/* Page runs already allocated for earlier segments.  Two segments may share
 * a page (e.g. the end of .text and the start of .rodata when the linker
 * script does not page-align them); that page is allocated once. */
struct page_run {
	EFI_PHYSICAL_ADDRESS start, end;
};

static struct page_run kernel_runs[ELF_MAX_PHNUM * 2];
static unsigned kernel_run_count;

static BOOLEAN page_claimed(EFI_PHYSICAL_ADDRESS page)
{
	for (unsigned i = 0; i < kernel_run_count; i++)
		if (page >= kernel_runs[i].start && page < kernel_runs[i].end)
			return TRUE;
	return FALSE;
}

static void free_kernel_pages(void)
{
	for (unsigned i = 0; i < kernel_run_count; i++)
		uefi_call_wrapper(BS->FreePages, 2, kernel_runs[i].start,
				  EFI_SIZE_TO_PAGES(kernel_runs[i].end -
						    kernel_runs[i].start));
	kernel_run_count = 0;
}

/* For an allocation failure: what does the firmware use that memory for?
 * (EFI_MEMORY_TYPE numbers, UEFI 2.10 sec. 7.2.1.)  Most useful on real
 * machines whose firmware keeps something at 1 MiB. */
static void print_memory_owner(EFI_PHYSICAL_ADDRESS addr)
{
	UINTN entries, key, dsize;
	UINT32 dver;
	UINT8 *map = (UINT8 *)LibMemoryMap(&entries, &key, &dsize, &dver);

	if (!map)
		return;
	for (UINTN i = 0; i < entries; i++) {
		EFI_MEMORY_DESCRIPTOR *d =
			(EFI_MEMORY_DESCRIPTOR *)(map + i * dsize);
		EFI_PHYSICAL_ADDRESS end =
			d->PhysicalStart + d->NumberOfPages * EFI_PAGE_SIZE;

		if (addr >= d->PhysicalStart && addr < end) {
			Print(L"" LOADER_NAME ":   0x%lx is in firmware region "
			      L"0x%lx-0x%lx of UEFI memory type %d\n",
			      addr, d->PhysicalStart, end - 1, d->Type);
			break;
		}
	}
	FreePool(map);
}

/* Allocate (AllocateAddress, UEFI 2.10 sec. 7.2.1) and zero every page of
 * [start, end) not already taken by an earlier segment. */
static EFI_STATUS claim_pages(unsigned seg, EFI_PHYSICAL_ADDRESS start,
			      EFI_PHYSICAL_ADDRESS end)
{
	EFI_PHYSICAL_ADDRESS page = start;

	while (page < end) {
		EFI_PHYSICAL_ADDRESS run_end = page, addr = page;
		EFI_STATUS st;

		if (page_claimed(page)) {
			page += EFI_PAGE_SIZE;
			continue;
		}
		while (run_end < end && !page_claimed(run_end))
			run_end += EFI_PAGE_SIZE;
		st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAddress,
				       EfiLoaderData,
				       EFI_SIZE_TO_PAGES(run_end - page), &addr);
		if (EFI_ERROR(st)) {
			Print(L"" LOADER_NAME ": kernel segment %d: cannot "
			      L"allocate 0x%lx-0x%lx: %r\n",
			      seg, page, run_end - 1, st);
			print_memory_owner(page);
			return st;
		}
		SetMem((void *)(UINTN)page, run_end - page, 0);
		kernel_runs[kernel_run_count].start = page;
		kernel_runs[kernel_run_count].end = run_end;
		kernel_run_count++;
		page = run_end;
	}
	return EFI_SUCCESS;
}

/*
 * Newer firmware maps free and data pages non-executable (UEFI 2.10
 * sec. 37.7, and the memory-protection policies of recent edk2 builds), so
 * a jump into kernel text held in EfiLoaderData pages would fault.  Where
 * the firmware offers the Memory Attribute protocol, we ask it to make the
 * kernel's pages executable and writable; where it does not, the firmware
 * predates such policies and maps all memory RWX (OVMF in Debian 12).
 * The kernel installs its own W^X page tables soon after entry.
 * (Declared here: gnu-efi 3.0.15 predates the protocol.)
 */
#define MEMORY_ATTRIBUTE_PROTOCOL_GUID \
	{ 0xf4560cf6, 0x40ec, 0x4b4a, \
	  { 0xa1, 0x92, 0xbf, 0x1d, 0x57, 0xd0, 0xb1, 0x89 } }
#define MEMORY_ATTR_RO 0x0000000000020000ull /* EFI_MEMORY_RO */
#define MEMORY_ATTR_XP 0x0000000000004000ull /* EFI_MEMORY_XP */

struct memory_attribute_protocol {
	EFI_STATUS(EFIAPI *get)(struct memory_attribute_protocol *self,
				EFI_PHYSICAL_ADDRESS base, UINT64 len,
				UINT64 *attrs);
	EFI_STATUS(EFIAPI *set)(struct memory_attribute_protocol *self,
				EFI_PHYSICAL_ADDRESS base, UINT64 len,
				UINT64 attrs);
	EFI_STATUS(EFIAPI *clear)(struct memory_attribute_protocol *self,
				  EFI_PHYSICAL_ADDRESS base, UINT64 len,
				  UINT64 attrs);
};

static void make_kernel_executable(void)
{
	static EFI_GUID guid = MEMORY_ATTRIBUTE_PROTOCOL_GUID;
	struct memory_attribute_protocol *mem;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->LocateProtocol, 3, &guid, NULL,
			       (void **)&mem);
	if (EFI_ERROR(st))
		return;
	for (unsigned i = 0; i < kernel_run_count; i++) {
		const struct page_run *r = &kernel_runs[i];

		st = uefi_call_wrapper(mem->clear, 4, mem, r->start,
				       r->end - r->start,
				       MEMORY_ATTR_RO | MEMORY_ATTR_XP);
		if (EFI_ERROR(st))
			Print(L"" LOADER_NAME ": warning: cannot make 0x%lx-0x%lx "
			      L"executable: %r\n", r->start, r->end - 1, st);
	}
}

/*
 * Check the embedded ELF and copy its PT_LOAD segments to p_paddr; the
 * rest of each segment (.bss) stays zero from claim_pages().  Returns the
 * entry point in *entry.
 */
static EFI_STATUS load_kernel(uint64_t *entry)
{
	const void *blob = nestor_kernel_elf;
	UINTN size = nestor_kernel_elf_end - nestor_kernel_elf;
	int bad = -1;
	const char *why = elf_check(blob, size, KERNEL_ADDR_LIMIT, &bad);

	if (why) {
		if (bad >= 0)
			Print(L"" LOADER_NAME ": kernel ELF, program header "
			      L"%d: %a\n", bad, why);
		else
			Print(L"" LOADER_NAME ": kernel ELF: %a\n", why);
		return EFI_LOAD_ERROR;
	}

	for (unsigned i = 0; i < elf_phnum(blob); i++) {
		struct elf_segment seg;
		EFI_STATUS st;

		if (!elf_segment(blob, i, &seg) || seg.memsz == 0)
			continue;
		st = claim_pages(i, seg.paddr & ~(EFI_PAGE_SIZE - 1),
				 (seg.paddr + seg.memsz + EFI_PAGE_SIZE - 1) &
					 ~(EFI_PAGE_SIZE - 1));
		if (EFI_ERROR(st)) {
			free_kernel_pages();
			return st;
		}
		CopyMem((void *)(UINTN)seg.paddr, (void *)seg.data,
			seg.filesz);
	}
	make_kernel_executable();
	*entry = elf_entry(blob);
	return EFI_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* nestor.cfg and the files it names                                    */
/* ------------------------------------------------------------------ */

static void ascii_copy(char *dst, const char *src, UINTN max)
{
	UINTN i;

	for (i = 0; i + 1 < max && src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

static BOOLEAN ascii_equal(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void add_module(struct boot_info *bi, const char *name,
		       const struct loaded_file *f)
{
	struct boot_module *m = &bi->modules[bi->module_count++];

	m->addr = f->addr;
	m->size = f->size;
	ascii_copy(m->name, name, BOOT_NAME_MAX);
}

/*
 * Load one file named by the config (line is where it was named).  The
 * same file named twice (say, one initrd for two VMs) is loaded once.
 * Failures are reported and skipped: the kernel checks the config against
 * the modules it got and reports the missing file with its line.
 */
static void load_named_file(struct boot_info *bi, EFI_FILE_HANDLE dir,
			    const char *name, unsigned line)
{
	struct loaded_file f;
	EFI_STATUS st;

	if (name[0] == 0 || config_is_builtin(name))
		return;
	for (uint32_t i = 0; i < bi->module_count; i++)
		if (ascii_equal(bi->modules[i].name, name))
			return;
	if (bi->module_count == BOOT_MAX_MODULES) {
		Print(L"" LOADER_NAME ": " CONFIG_NAME " line %d: %a not loaded:"
		      L" more than %d files\n", line, name, BOOT_MAX_MODULES);
		return;
	}
	st = file_load(dir, name, &f);
	if (EFI_ERROR(st)) {
		Print(L"" LOADER_NAME ": " CONFIG_NAME " line %d: cannot load "
		      L"%a: %r\n", line, name, st);
		return;
	}
	Print(L"" LOADER_NAME ": loaded %a (%ld bytes) at 0x%lx\n", name,
	      f.size, f.addr);
	add_module(bi, name, &f);
}

/*
 * Find nestor.cfg next to BOOTX64.EFI, else in the root, and load it and
 * every file it names from the directory it was found in.  No config is
 * fine: the kernel then uses its built-in default.
 */
static void load_config_and_files(struct boot_info *bi, struct esp *esp)
{
	EFI_FILE_HANDLE dirs[2] = { esp->image_dir, esp->root };
	EFI_FILE_HANDLE dir = NULL;
	struct loaded_file cfg_file;
	struct nestor_config *cfg;
	struct cfg_error err;
	EFI_STATUS st = EFI_NOT_FOUND;

	for (unsigned i = 0; i < 2 && !dir; i++) {
		if (i == 1 && dirs[1] == dirs[0])
			break;
		st = file_load(dirs[i], CONFIG_NAME, &cfg_file);
		if (!EFI_ERROR(st))
			dir = dirs[i];
		else if (st != EFI_NOT_FOUND)
			Print(L"" LOADER_NAME ": cannot read " CONFIG_NAME
			      L": %r\n", st);
	}
	if (!dir) {
		Print(L"" LOADER_NAME ": no " CONFIG_NAME " next to "
		      L"BOOTX64.EFI or in the root; Nestor uses its built-in "
		      L"default\n");
		return;
	}
	add_module(bi, CONFIG_NAME, &cfg_file);

	/* struct nestor_config is about 10 KiB: pool, not the stack. */
	cfg = AllocatePool(sizeof(*cfg));
	if (!cfg) {
		Print(L"" LOADER_NAME ": out of memory for the config\n");
		return;
	}
	if (config_parse((const char *)(UINTN)cfg_file.addr, cfg_file.size,
			 cfg, &err) != 0) {
		/* After an error cfg must not be used (config.h), so no file is
		 * loaded; the kernel stops on the same error. */
		Print(L"" LOADER_NAME ": " CONFIG_NAME " line %d: %a\n",
		      err.line, err.msg);
		FreePool(cfg);
		return;
	}

	for (uint32_t v = 0; v < cfg->vm_count; v++) {
		const struct vm_config *vm = &cfg->vms[v];

		load_named_file(bi, dir, vm->image, vm->image_line);
		for (uint32_t m = 0; m < vm->module_count; m++)
			load_named_file(bi, dir, vm->modules[m],
					vm->module_lines[m]);
		for (uint32_t d = 0; d < vm->device_count; d++)
			if (vm->devices[d].kind == CFG_DEV_VIRTIO_BLK)
				load_named_file(bi, dir, vm->devices[d].arg,
						vm->devices[d].line);
	}
	FreePool(cfg);
}

/* ------------------------------------------------------------------ */
/* ACPI, memory map, exit                                               */
/* ------------------------------------------------------------------ */

/*
 * The RSDP is published in the system configuration table (UEFI 2.10
 * sec. 4.6; ACPI 6.5 sec. 5.2.5.2).  The ACPI 2.0+ entry points to an RSDP
 * with the XSDT; the 1.0 one only has the RSDT.
 */
static uint64_t find_rsdp(void)
{
	static EFI_GUID acpi20 = ACPI_20_TABLE_GUID;
	static EFI_GUID acpi10 = ACPI_TABLE_GUID;
	uint64_t rsdp1 = 0;

	for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];

		if (CompareMem(&t->VendorGuid, &acpi20, sizeof(EFI_GUID)) == 0)
			return (uint64_t)(UINTN)t->VendorTable;
		if (CompareMem(&t->VendorGuid, &acpi10, sizeof(EFI_GUID)) == 0)
			rsdp1 = (uint64_t)(UINTN)t->VendorTable;
	}
	return rsdp1;
}

/* Pages below 4 GiB, zeroed, that the kernel keeps (EfiLoaderData). */
static void *alloc_low(UINTN bytes)
{
	EFI_PHYSICAL_ADDRESS addr = LOW_LIMIT;
	EFI_STATUS st;

	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress,
			       EfiLoaderData, EFI_SIZE_TO_PAGES(bytes), &addr);
	if (EFI_ERROR(st)) {
		Print(L"" LOADER_NAME ": cannot allocate %ld bytes below "
		      L"4 GiB: %r\n", (UINT64)bytes, st);
		return NULL;
	}
	SetMem((void *)(UINTN)addr, bytes, 0);
	return (void *)(UINTN)addr;
}

/*
 * Take the final memory map and leave boot services (UEFI 2.10 sec. 7.4.6).
 *
 * The map key must be that of the latest map, so between the last
 * GetMemoryMap() and ExitBootServices() nothing may allocate or free (Print
 * may allocate).  The buffer is allocated first, with room to spare,
 * because allocating it can itself split a region.  If ExitBootServices()
 * still says the key is stale (EFI_INVALID_PARAMETER: an event handler
 * allocated), the spec allows GetMemoryMap() and another try, but no other
 * boot service.
 */
static EFI_STATUS exit_boot_services(EFI_HANDLE image, struct boot_info *bi)
{
	EFI_MEMORY_DESCRIPTOR *map = NULL;
	UINTN capacity = 0, size, key = 0, dsize = 0;
	UINT32 dver;
	EFI_STATUS st;

	for (;;) {
		size = capacity;
		st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, map, &key,
				       &dsize, &dver);
		if (st != EFI_BUFFER_TOO_SMALL)
			break;
		if (map)
			FreePool(map);
		capacity = size + 16 * dsize; /* our allocation + slack */
		map = AllocatePool(capacity);
		if (!map)
			return EFI_OUT_OF_RESOURCES;
	}
	if (EFI_ERROR(st))
		return st;

	for (int attempt = 0;; attempt++) {
		bi->region_count = memmap_convert(map, size, dsize, bi->regions,
						  BOOT_MAX_REGIONS);
		st = uefi_call_wrapper(BS->ExitBootServices, 2, image, key);
		if (st != EFI_INVALID_PARAMETER || attempt == 1)
			return st;
		size = capacity;
		st = uefi_call_wrapper(BS->GetMemoryMap, 5, &size, map, &key,
				       &dsize, &dver);
		if (EFI_ERROR(st))
			return st;
	}
}

/* ------------------------------------------------------------------ */

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	struct boot_info *bi;
	struct esp esp;
	uint64_t entry;
	UINT8 *stack;
	EFI_STATUS st;

	InitializeLib(image, systab);
	/* The boot manager arms a 5-minute watchdog before starting us
	 * (UEFI 2.10 sec. 3.1.2); multi-GiB disk images read from a slow USB
	 * stick could take longer.  ExitBootServices() would disarm it. */
	uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
	Print(L"" LOADER_NAME ": Nestor UEFI loader, kernel %ld bytes\n",
	      (UINT64)(nestor_kernel_elf_end - nestor_kernel_elf));

	/* The kernel first: its link address is fixed, and the allocations
	 * below could otherwise land on it. */
	st = load_kernel(&entry);
	if (EFI_ERROR(st))
		return st;

	bi = alloc_low(sizeof(*bi));
	stack = alloc_low(ENTRY_STACK_SIZE);
	if (!bi || !stack) {
		free_kernel_pages();
		return EFI_OUT_OF_RESOURCES;
	}
	bi->magic = BOOT_INFO_MAGIC;
	bi->boot_path = BOOT_PATH_UEFI;
	ascii_copy(bi->loader_name, LOADER_NAME, BOOT_NAME_MAX);

	st = esp_open(image, &esp);
	if (EFI_ERROR(st)) {
		Print(L"" LOADER_NAME ": cannot open the boot volume: %r; "
		      L"Nestor uses its built-in config\n", st);
	} else {
		load_config_and_files(bi, &esp);
		esp_close(&esp);
	}

	bi->rsdp = find_rsdp();
	if (!bi->rsdp)
		Print(L"" LOADER_NAME ": no ACPI RSDP in the UEFI "
		      L"configuration table\n");
	Print(L"" LOADER_NAME ": %d file(s), RSDP 0x%lx, entry 0x%lx; "
	      L"exiting boot services\n", bi->module_count, bi->rsdp, entry);

	st = exit_boot_services(image, bi);
	if (EFI_ERROR(st)) {
		/* Unusual enough to say so, even though after a failed
		 * ExitBootServices() the console may already be gone. */
		Print(L"" LOADER_NAME ": ExitBootServices failed: %r\n", st);
		return st;
	}

	nestor_efi_enter((uint64_t)(UINTN)bi, entry,
			 (uint64_t)(UINTN)(stack + ENTRY_STACK_SIZE));
}
