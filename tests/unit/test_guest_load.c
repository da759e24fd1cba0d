/* Unit tests: kernel/guest_load.c — images land only in guest RAM, and the
 * boot information they get parses back with Nestor's own parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "kernel/guest_load.h"
#include "boot/multiboot2/mb_parse.h"

#define RAM (4u << 20)
static uint8_t ram[RAM] __attribute__((aligned(4096)));
static uint8_t guard[4096]; /* what lies after RAM must stay untouched */
static struct gmem g;

static void setup_ram(void)
{
	memset(ram, 0xcc, sizeof(ram));
	memset(guard, 0xee, sizeof(guard));
	gmem_init(&g);
	assert_int_equal(gmem_add(&g, 0, RAM, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0), 0);
}

static const void *phys(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	return addr < RAM && len <= RAM - addr ? ram + addr : NULL;
}

/* An a.out-kludge Multiboot1 image: header at offset 0, code after it. */
static size_t make_mb1(uint8_t *img, uint32_t load, uint32_t flags, uint32_t bss_extra)
{
	uint32_t h[8] = { 0x1badb002, flags, 0, load, load, load + 64, load + 64 + bss_extra, load + 32 };
	h[2] = (uint32_t)-(h[0] + h[1]);
	memset(img, 0x90, 64);
	memcpy(img, h, sizeof(h));
	return 64;
}

static void test_mb1_aout(void **state)
{
	(void)state;
	setup_ram();
	uint8_t img[64];
	size_t n = make_mb1(img, 0x100000, (1u << 16) | 3, 4096);
	struct guest_module mods[1] = { { "MODULE-DATA", 11, "initrd.img" } };
	struct guest_boot b;
	char err[128];
	assert_int_equal(guest_load_multiboot1(&g, img, n, "console=ttyS0", mods, 1, &b, err, sizeof(err)), 0);
	assert_int_equal(b.entry, 0x100020);
	assert_int_equal(b.eax, 0x2badb002);
	assert_int_equal(b.ebx, GUEST_MB1_INFO_GPA);
	assert_memory_equal(ram + 0x100000, img, 64);
	assert_int_equal(ram[0x100040], 0);            /* bss zeroed */
	assert_int_equal(ram[0x100040 + 4095], 0);

	struct boot_info bi;
	assert_int_equal(mb1_parse(b.ebx, phys, NULL, &bi, err, sizeof(err)), 0);
	assert_string_equal(bi.cmdline, "console=ttyS0");
	assert_int_equal(bi.module_count, 1);
	assert_string_equal(bi.modules[0].name, "initrd.img");
	assert_memory_equal(ram + bi.modules[0].addr, "MODULE-DATA", 11);
	assert_true(bi.modules[0].addr >= 0x101040 && bi.modules[0].addr % 4096 == 0);
	uint64_t usable = 0;
	for (unsigned i = 0; i < bi.region_count; i++)
		if (bi.regions[i].type == MEM_USABLE)
			usable += bi.regions[i].length;
	assert_int_equal(usable, 0x9fc00 + RAM - 0x100000);
}

static void test_mb1_outside_ram(void **state)
{
	(void)state;
	setup_ram();
	uint8_t img[64];
	char err[128];
	struct guest_boot b;
	size_t n = make_mb1(img, RAM - 32, (1u << 16), 0);  /* straddles the end of RAM */
	assert_int_equal(guest_load_multiboot1(&g, img, n, NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outside the VM's RAM"));
	assert_int_equal(ram[RAM - 32], 0xcc);            /* checked before copying */
	assert_int_equal(guard[0], 0xee);
	n = make_mb1(img, 0x100000, (1u << 16), 0x7ff00000u); /* bss far past RAM */
	assert_int_equal(guest_load_multiboot1(&g, img, n, NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bss"));
	n = make_mb1(img, 0x100000, (1u << 16), 0xfff00000u); /* bss_end wraps below load_end */
	assert_int_equal(guest_load_multiboot1(&g, img, n, NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bss_end_addr below"));
}

static void test_mb1_rejects(void **state)
{
	(void)state;
	setup_ram();
	uint8_t img[64];
	char err[128];
	struct guest_boot b;
	memset(img, 0, sizeof(img));
	assert_int_equal(guest_load_multiboot1(&g, img, sizeof(img), NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no Multiboot header"));
	size_t n = make_mb1(img, 0x100000, (1u << 16) | (1u << 2), 0); /* video mode required */
	assert_int_equal(guest_load_multiboot1(&g, img, n, NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "requires a feature"));
	n = make_mb1(img, 0x9000, (1u << 16), 0);        /* on top of the info page */
	assert_int_equal(guest_load_multiboot1(&g, img, n, NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "overlaps"));
	n = make_mb1(img, 0x100000, 0, 0);               /* no address fields, not ELF */
	assert_int_equal(guest_load_multiboot1(&g, img, n, NULL, NULL, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ELF"));
}

/* A minimal ELF64 with one PT_LOAD at 0x200000 and a Multiboot2 header. */
static size_t make_elf_mb2(uint8_t *img, uint64_t paddr)
{
	memset(img, 0, 512);
	memcpy(img, "\x7f" "ELF", 4);
	img[4] = 2; img[5] = 1; img[6] = 1;
	uint64_t entry = paddr + 0x10, phoff = 64;
	uint16_t phentsize = 56, phnum = 1;
	memcpy(img + 24, &entry, 8);
	memcpy(img + 32, &phoff, 8);
	memcpy(img + 54, &phentsize, 2);
	memcpy(img + 56, &phnum, 2);
	uint32_t type = 1;
	uint64_t off = 256, filesz = 256, memsz = 8192;
	memcpy(img + 64, &type, 4);
	memcpy(img + 64 + 8, &off, 8);
	memcpy(img + 64 + 24, &paddr, 8);
	memcpy(img + 64 + 32, &filesz, 8);
	memcpy(img + 64 + 40, &memsz, 8);
	uint32_t h[6] = { 0xe85250d6, 0, 24, 0, 0, 8 }; /* header + end tag */
	h[3] = (uint32_t)-(h[0] + h[1] + h[2]);
	memcpy(img + 256, h, sizeof(h));
	return 512;
}

static void test_mb2_elf(void **state)
{
	(void)state;
	setup_ram();
	uint8_t img[512];
	size_t n = make_elf_mb2(img, 0x200000);
	struct guest_boot b;
	char err[128];
	/* an RSDP-like blob in RAM for the ACPI tag */
	memcpy(ram + 0xf0000, "RSD PTR ", 8);
	assert_int_equal(guest_load_multiboot2(&g, img, n, "mb2 args", NULL, 0, 0xf0000, &b, err, sizeof(err)), 0);
	assert_int_equal(b.eax, 0x36d76289);
	assert_int_equal(b.entry, 0x200010);
	assert_memory_equal(ram + 0x200000, img + 256, 256);
	assert_int_equal(ram[0x200000 + 8191], 0);
	struct boot_info bi;
	uint32_t total;
	memcpy(&total, ram + b.ebx, 4);
	assert_int_equal(mb2_parse(ram + b.ebx, total, b.ebx, &bi, err, sizeof(err)), 0);
	assert_string_equal(bi.cmdline, "mb2 args");
	assert_string_equal(bi.loader_name, "Nestor");
	assert_int_equal(bi.rsdp >= b.ebx && bi.rsdp < b.ebx + total, 1);
	assert_memory_equal(ram + bi.rsdp, "RSD PTR ", 8);
}

static void test_mb2_segment_outside(void **state)
{
	(void)state;
	setup_ram();
	uint8_t img[512];
	size_t n = make_elf_mb2(img, (uint64_t)RAM - 4096); /* memsz 8K crosses the end */
	struct guest_boot b;
	char err[128];
	assert_int_equal(guest_load_multiboot2(&g, img, n, NULL, NULL, 0, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outside"));
	assert_int_equal(guard[0], 0xee);
}

static void test_elf64(void **state)
{
	(void)state;
	setup_ram();
	uint8_t img[512];
	size_t n = make_elf_mb2(img, 0x200000);
	struct guest_boot b;
	char err[128];
	assert_int_equal(guest_load_elf64(&g, img, n, "x", NULL, 0, 0, &b, err, sizeof(err)), 0);
	assert_true(b.long_mode);
	assert_int_equal(b.cr3, 0x1000);
	assert_int_equal(b.entry, 0x200010);
	assert_int_equal(b.eax, 0x36d76289);
	uint64_t e;
	memcpy(&e, ram + 0x1000, 8);
	assert_int_equal(e, 0x2000 | 3);                 /* PML4[0] -> PDPT */
	memcpy(&e, ram + 0x2000 + 3 * 8, 8);
	assert_int_equal(e, 0x6000 | 3);                 /* PDPT[3] -> 4th PD */
	memcpy(&e, ram + 0x6000 + 511 * 8, 8);
	assert_int_equal(e, 0xffe00000ull | 0x83);       /* the last 2 MiB below 4 GiB */
	/* too small a VM for the tables or an image on top of them */
	uint8_t low[512];
	n = make_elf_mb2(low, 0x2000);
	assert_int_equal(guest_load_elf64(&g, low, n, "x", NULL, 0, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "boot page tables"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mb1_aout),
		cmocka_unit_test(test_mb1_outside_ram),
		cmocka_unit_test(test_mb1_rejects),
		cmocka_unit_test(test_mb2_elf),
		cmocka_unit_test(test_mb2_segment_outside),
		cmocka_unit_test(test_elf64),
	};
	return cmocka_run_group_tests_name("guest_load", tests, NULL, NULL);
}
