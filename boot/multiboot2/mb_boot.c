/*
 * The C half of the Multiboot entry (entry.S): turn the loader's boot
 * information into a struct boot_info and call kmain.  Runs on the
 * 4 GiB identity map built by entry.S, so physical addresses below 4 GiB
 * are directly readable.
 */
#include <stdint.h>
#include <string.h>
#include "boot/multiboot2/mb_parse.h"
#include "drivers/uart16550.h"
#include "kernel/boot_info.h"

#define MB1_BOOT_MAGIC 0x2badb002 /* EAX from a Multiboot1 loader (spec 3.2) */
#define MB2_BOOT_MAGIC 0x36d76289 /* EAX from a Multiboot2 loader (spec 3.3) */
#define MB2_INFO_MAX   (1u << 20) /* no sane loader gives more */

void kmain(const struct boot_info *bi);
void mb_boot_main(uint32_t magic, uint32_t info);

static struct boot_info boot_info;
/* MB2 hands us a copy of the RSDP inside the boot information, which kmain
 * does not keep: the RSDP moves into the kernel image (ACPI 6.5 5.2.5.3:
 * 36 bytes for revision 2). */
static uint8_t rsdp_copy[36] __attribute__((aligned(16)));

static const void *phys_below_4g(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	if (addr == 0 || addr + len < addr || addr + len > (1ull << 32))
		return NULL;
	return (const void *)addr;
}

/* No log yet (kmain sets it up): say why we stop on the UART directly. */
static void __attribute__((noreturn)) boot_fail(const char *what, const char *why)
{
	uart_init(COM1_PORT);
	uart_write(COM1_PORT, "nestor: cannot boot: ", 21);
	uart_write(COM1_PORT, what, strlen(what));
	uart_write(COM1_PORT, ": ", 2);
	uart_write(COM1_PORT, why, strlen(why));
	uart_write(COM1_PORT, "\n", 1);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void mb_boot_main(uint32_t magic, uint32_t info)
{
	char err[160];
	if (magic == MB2_BOOT_MAGIC) {
		const uint32_t *total = phys_below_4g(info, 8, NULL);
		if (!total)
			boot_fail("Multiboot2", "boot information pointer invalid");
		uint32_t avail = *total < MB2_INFO_MAX ? *total : MB2_INFO_MAX;
		if (mb2_parse((const void *)(uint64_t)info, avail, info, &boot_info, err, sizeof(err)))
			boot_fail("Multiboot2", err);
		if (boot_info.rsdp >= info && boot_info.rsdp < (uint64_t)info + avail) {
			uint64_t room = (uint64_t)info + avail - boot_info.rsdp;
			memcpy(rsdp_copy, (const void *)boot_info.rsdp, room < sizeof(rsdp_copy) ? room : sizeof(rsdp_copy));
			boot_info.rsdp = (uint64_t)rsdp_copy;
		}
	} else if (magic == MB1_BOOT_MAGIC) {
		if (mb1_parse(info, phys_below_4g, NULL, &boot_info, err, sizeof(err)))
			boot_fail("Multiboot1", err);
	} else {
		boot_fail("Multiboot", "unknown loader magic in EAX");
	}
	kmain(&boot_info);
}
