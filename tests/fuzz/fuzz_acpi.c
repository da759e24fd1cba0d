/* libFuzzer: the ACPI walker over an arbitrary 64 KiB "physical memory";
 * the RSDP sits at offset 0x100, every table pointer is fuzz-controlled. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "arch/x86/acpi.h"

static const uint8_t *mem;
static size_t mem_len;

static const void *phys(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	if (addr >= mem_len || len > mem_len - addr)
		return NULL;
	return mem + addr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acpi_info a;
	char err[128];
	mem = data;
	mem_len = size;
	acpi_find_rsdp_bios(phys, NULL);
	if (acpi_parse(0x100, phys, NULL, &a, err, sizeof(err)) == 0 && a.cpu_count > ACPI_MAX_CPUS)
		__builtin_trap();
	return 0;
}
