/* Unit tests: kernel/guest_load.c — images land only in guest RAM, and the
 * boot information they get parses back with Nestor's own parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
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


/* ---- Linux bzImage (64-bit boot protocol) ------------------------------- */

#define BZ_SETUP_SECTS 3                    /* setup part: 4 sectors = 2048 bytes */
#define BZ_KOFF ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_KSIZE 4096                       /* protected-mode kernel bytes */
#define BZ_SIZE (BZ_KOFF + BZ_KSIZE + 100)  /* + a trailer (a signature, say) */
#define BZ_PREF 0x200000u
#define BZ_INIT 0x100000u

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A synthetic bzImage: protocol 2.15 header as Debian's 6.1 kernel has it
 * (scaled down), kernel bytes 0x00, 0x01, ... */
static void make_bzimage(uint8_t *img)
{
	memset(img, 0, BZ_SIZE);
	img[0x1f1] = BZ_SETUP_SECTS;
	put32(img + 0x1f4, BZ_KSIZE / 16);          /* syssize */
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;                           /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01;                           /* LOADED_HIGH */
	put32(img + 0x214, 0x100000);
	put32(img + 0x22c, 0x7fffffff);              /* initrd_addr_max */
	put32(img + 0x230, 0x200000);                /* kernel_alignment */
	img[0x234] = 1;                              /* relocatable */
	put16(img + 0x236, 0x7f);                    /* xloadflags: KERNEL_64 ... */
	put32(img + 0x238, 2047);                    /* cmdline_size */
	put64(img + 0x258, BZ_PREF);
	put32(img + 0x260, BZ_INIT);
	put32(img + 0x268, 0x12345678);              /* kernel_info_offset: copied as is */
	for (unsigned i = 0; i < BZ_KSIZE; i++)
		img[BZ_KOFF + i] = (uint8_t)i;
	memset(img + BZ_KOFF + BZ_KSIZE, 0x5a, 100);
}

static void test_linux_boot(void **state)
{
	(void)state;
	setup_ram();
	static uint8_t img[BZ_SIZE];
	make_bzimage(img);
	static const char rd[] = "070701-initramfs-bytes";
	struct guest_module initrd = { rd, sizeof(rd), "initramfs.cpio" };
	struct guest_boot b;
	char err[128];
	assert_int_equal(guest_load_linux(&g, img, BZ_SIZE, "console=ttyS0 quiet", &initrd, 0xf0000, &b, err,
					  sizeof(err)), 0);
	/* the vCPU: startup_64 in 64-bit mode, RSI = boot_params */
	assert_int_equal(b.entry, BZ_PREF + 0x200);
	assert_int_equal(b.rsi, LINUX_BOOT_PARAMS_GPA);
	assert_true(b.long_mode);
	assert_int_equal(b.cr3, 0x1000);
	assert_true(b.rsp > 0x9000 && b.rsp <= 0xa000);
	assert_int_equal(b.image_start, BZ_PREF);
	assert_int_equal(b.image_end, BZ_PREF + BZ_INIT);
	/* the kernel, without the setup sectors or the trailer */
	assert_memory_equal(ram + BZ_PREF, img + BZ_KOFF, BZ_KSIZE);
	assert_int_equal(ram[BZ_PREF + BZ_KSIZE], 0xcc);
	/* boot_params: the header copied, the loader's fields filled */
	const uint8_t *bp = ram + LINUX_BOOT_PARAMS_GPA;
	assert_memory_equal(bp + 0x1f1, img + 0x1f1, 0x210 - 0x1f1);   /* up to type_of_loader */
	assert_memory_equal(bp + 0x22c, img + 0x22c, 0x26c - 0x22c);   /* initrd_addr_max .. end */
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(get32(bp + 0x268), 0x12345678);
	assert_int_equal(bp[0x26c], 0);              /* nothing past the header */
	assert_int_equal(bp[0x1ef], 0);              /* sentinel: we are not a broken loader */
	assert_int_equal(bp[0x210], 0xff);           /* type_of_loader */
	assert_int_equal(bp[0x211] & 1, 1);
	assert_int_equal(get32(bp + 0x228), LINUX_CMDLINE_GPA);
	assert_string_equal((const char *)ram + LINUX_CMDLINE_GPA, "console=ttyS0 quiet");
	assert_int_equal(get64(bp + 0x070), 0xf0000); /* acpi_rsdp_addr */
	/* the initrd at the top of RAM, page aligned */
	uint32_t rd_addr = get32(bp + 0x218), rd_size = get32(bp + 0x21c);
	assert_int_equal(rd_size, sizeof(rd));
	assert_int_equal(rd_addr % 4096, 0);
	assert_true(rd_addr >= BZ_PREF + BZ_INIT && rd_addr + rd_size <= RAM && RAM - rd_addr < 8192);
	assert_memory_equal(ram + rd_addr, rd, sizeof(rd));
	assert_int_equal(get32(bp + 0x0c0), 0);       /* ext_ramdisk_image */
	/* e820: low RAM, the BIOS area reserved, RAM above 1 MiB */
	assert_int_equal(bp[0x1e8], 3);
	const uint8_t *e = bp + 0x2d0;
	assert_int_equal(get64(e + 0), 0);
	assert_int_equal(get64(e + 8), 0x9fc00);
	assert_int_equal(get32(e + 16), 1);
	assert_int_equal(get64(e + 20), 0x9fc00);
	assert_int_equal(get64(e + 28), 0x100000 - 0x9fc00);
	assert_int_equal(get32(e + 36), 2);
	assert_int_equal(get64(e + 40), 0x100000);
	assert_int_equal(get64(e + 48), RAM - 0x100000);
	assert_int_equal(get32(e + 56), 1);
	assert_int_equal(get32(bp + 0x1e0), (RAM - 0x100000) >> 10); /* alt_mem_k */
	/* the identity map, as for ELF64 */
	uint64_t pte;
	memcpy(&pte, ram + 0x1000, 8);
	assert_int_equal(pte, 0x2000 | 3);
	assert_int_equal(guard[0], 0xee);

	/* no initrd: ramdisk fields stay 0 */
	setup_ram();
	assert_int_equal(guest_load_linux(&g, img, BZ_SIZE, NULL, NULL, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(get32(ram + LINUX_BOOT_PARAMS_GPA + 0x218), 0);
	assert_int_equal(get32(ram + LINUX_BOOT_PARAMS_GPA + 0x21c), 0);
	assert_int_equal(ram[LINUX_CMDLINE_GPA], 0);
}

/* A relocatable kernel goes to pref_address rounded up to its alignment. */
static void test_linux_alignment(void **state)
{
	(void)state;
	setup_ram();
	static uint8_t img[BZ_SIZE];
	make_bzimage(img);
	put64(img + 0x258, 0x180000);                /* not 2 MiB aligned */
	struct guest_boot b;
	char err[128];
	assert_int_equal(guest_load_linux(&g, img, BZ_SIZE, "", NULL, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(b.image_start, 0x200000);
	/* a kernel that is not relocatable goes exactly to pref_address */
	setup_ram();
	img[0x234] = 0;
	assert_int_equal(guest_load_linux(&g, img, BZ_SIZE, "", NULL, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(b.image_start, 0x180000);
	assert_int_equal(b.entry, 0x180200);
}

struct bz_case {
	const char *why;
	unsigned off, len;   /* overwrite len (1, 2, 4, 8) bytes at off ... */
	uint64_t val;        /* ... with val */
	const char *err;     /* expected substring of the message */
};

static void test_linux_rejects(void **state)
{
	(void)state;
	static const struct bz_case cases[] = {
		{ "no boot flag", 0x1fe, 2, 0, "not a Linux bzImage" },
		{ "no HdrS", 0x202, 4, 0x53726448 + 1, "not a Linux bzImage" },
		{ "protocol 2.11", 0x206, 2, 0x020b, "older than 2.12" },
		{ "header too long", 0x201, 1, 0xff, "setup header length" },
		{ "header too short", 0x201, 1, 0x10, "setup header length" },
		{ "setup beyond file", 0x1f1, 1, 200, "setup sectors" },
		{ "kernel beyond file", 0x1f4, 4, BZ_KSIZE / 16 + 100, "syssize" },
		{ "no kernel", 0x1f4, 4, 0, "syssize" },
		{ "zImage", 0x211, 1, 0, "zImage" },
		{ "no 64-bit entry", 0x236, 2, 0x7e, "XLF_KERNEL_64" },
		{ "alignment 3 MiB", 0x230, 4, 0x300000, "kernel_alignment" },
		{ "alignment 0", 0x230, 4, 0, "kernel_alignment" },
		{ "init_size too small", 0x260, 4, 16, "init_size" },
		{ "too big for the VM", 0x260, 4, 0x300000, "too small for the Linux kernel" },
		{ "pref below 1 MiB", 0x258, 8, 0x1000, "1 MiB..4 GiB" },
		{ "pref at 4 GiB", 0x258, 8, 0x100000000ull, "1 MiB..4 GiB" },
		{ "pref wraps", 0x258, 8, 0xfffffffffffff000ull, "1 MiB..4 GiB" },
		{ "cmdline_size 4", 0x238, 4, 4, "cmdline_size" },
		{ "initrd_addr_max low", 0x22c, 4, 0x2fffff, "initrd does not fit" },
	};
	static uint8_t img[BZ_SIZE];
	static const char rd[64] = "rd";
	struct guest_module initrd = { rd, sizeof(rd), "rd" };
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bz_case *c = &cases[i];
		setup_ram();
		make_bzimage(img);
		if (c->off == 0x258)
			img[0x234] = 0;      /* not relocatable: pref_address taken as is */
		memcpy(img + c->off, &c->val, c->len);
		struct guest_boot b;
		char err[128] = "";
		int r = guest_load_linux(&g, img, BZ_SIZE, "console=ttyS0", &initrd, 0, &b, err, sizeof(err));
		if (r != -1 || !strstr(err, c->err))
			fail_msg("case '%s': got %d '%s', want -1 '%s'", c->why, r, err, c->err);
		assert_int_equal(guard[0], 0xee);
	}
	/* an initrd bigger than the room above the kernel */
	setup_ram();
	make_bzimage(img);
	struct guest_module big = { ram, RAM - BZ_PREF - BZ_INIT + 1, "big" };
	struct guest_boot b;
	char err[128];
	assert_int_equal(guest_load_linux(&g, img, BZ_SIZE, "", &big, 0, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "initrd does not fit"));
}

/* Every truncation of a valid image is refused or loaded, never read past
 * its end (ASan watches the exact-size heap copy). */
static void test_linux_truncated(void **state)
{
	(void)state;
	static uint8_t img[BZ_SIZE];
	make_bzimage(img);
	for (size_t n = 0; n <= BZ_SIZE; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, img, n);
		struct linux_header h;
		char err[128];
		int r = guest_linux_parse(copy, n, &h, err, sizeof(err));
		assert_int_equal(r, n >= BZ_KOFF + BZ_KSIZE ? 0 : -1);
		free(copy);
	}
}

static void test_linux_cmdline(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(guest_linux_cmdline(out, sizeof(out), "console=ttyS0", 2500000), 0);
	assert_string_equal(out, "console=ttyS0 tsc_early_khz=2500000 tsc=reliable");
	assert_int_equal(guest_linux_cmdline(out, sizeof(out), "", 1000), 0);
	assert_string_equal(out, "tsc_early_khz=1000 tsc=reliable");
	assert_int_equal(guest_linux_cmdline(out, sizeof(out), NULL, 0), 0);
	assert_string_equal(out, "tsc=reliable");
	/* the user's own values win */
	assert_int_equal(guest_linux_cmdline(out, sizeof(out), "tsc=unstable tsc_early_khz=7", 99), 0);
	assert_string_equal(out, "tsc=unstable tsc_early_khz=7");
	/* a word merely containing the name is not the parameter */
	assert_int_equal(guest_linux_cmdline(out, sizeof(out), "xtsc=1 a=tsc_early_khz=", 5), 0);
	assert_string_equal(out, "xtsc=1 a=tsc_early_khz= tsc_early_khz=5 tsc=reliable");
	/* too long: -1, and never a write past the buffer */
	char small[20];
	memset(small, 0x77, sizeof(small));
	assert_int_equal(guest_linux_cmdline(small, 16, "console=ttyS0", 1000), -1);
	assert_int_equal((uint8_t)small[16], 0x77);
	assert_int_equal(guest_linux_cmdline(small, 0, "", 0), -1);
}

static void test_e820_from_gmem(void **state)
{
	(void)state;
	struct gmem m;
	struct e820_entry e[8];
	static uint8_t back[3][8192] __attribute__((aligned(4096)));
	gmem_init(&m);
	/* RAM 0..640K split in two ranges (merged), a ROM, MMIO (not listed),
	 * RAM from 1 MiB */
	assert_int_equal(gmem_add(&m, 0, 0x1000, GMEM_RAM, (uint64_t)(uintptr_t)back[0], 0), 0);
	assert_int_equal(gmem_add(&m, 0x1000, 0x9f000, GMEM_RAM, (uint64_t)(uintptr_t)back[1], 0), 0);
	assert_int_equal(gmem_add(&m, 0xc0000, 0x2000, GMEM_ROM, (uint64_t)(uintptr_t)back[2], 0), 0);
	assert_int_equal(gmem_add(&m, 0x100000, 0x700000, GMEM_RAM, (uint64_t)(uintptr_t)back[0], 0), 0);
	assert_int_equal(gmem_add(&m, 0xfee00000, 0x1000, GMEM_MMIO, 0, 1), 0);
	int n = guest_e820_from_gmem(&m, e, 8);
	assert_int_equal(n, 4);
	assert_true(e[0].addr == 0 && e[0].size == 0x9fc00 && e[0].type == 1);
	assert_true(e[1].addr == 0x9fc00 && e[1].size == 0x400 && e[1].type == 2);
	assert_true(e[2].addr == 0xc0000 && e[2].size == 0x2000 && e[2].type == 2);
	assert_true(e[3].addr == 0x100000 && e[3].size == 0x700000 && e[3].type == 1);
	/* not enough room for the entries */
	assert_int_equal(guest_e820_from_gmem(&m, e, 3), -1);
	/* one RAM range across the BIOS area: three entries */
	gmem_init(&m);
	assert_int_equal(gmem_add(&m, 0, 0x800000, GMEM_RAM, (uint64_t)(uintptr_t)back[0], 0), 0);
	assert_int_equal(guest_e820_from_gmem(&m, e, 8), 3);
	assert_true(e[1].addr == 0x9fc00 && e[1].size == 0x60400 && e[1].type == 2);
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
		cmocka_unit_test(test_linux_boot),
		cmocka_unit_test(test_linux_alignment),
		cmocka_unit_test(test_linux_rejects),
		cmocka_unit_test(test_linux_truncated),
		cmocka_unit_test(test_linux_cmdline),
		cmocka_unit_test(test_e820_from_gmem),
	};
	return cmocka_run_group_tests_name("guest_load", tests, NULL, NULL);
}
