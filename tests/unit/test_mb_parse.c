/*
 * Unit tests for boot/multiboot2/mb_parse.c.
 *
 * The tests build Multiboot2 and Multiboot1 structures byte by byte, the way
 * a loader would, parse them, and check either every decoded field (valid
 * input) or the exact error (malformed input).
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -I. tests/unit/test_mb_parse.c \
 *       boot/multiboot2/mb_parse.c -lcmocka -o build/unit/test_mb_parse
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "boot/multiboot2/mb_parse.h"

static struct boot_info bi;
static char err[256];

#define assert_err_contains(s) do {                                         \
		if (!strstr(err, (s)))                                      \
			fail_msg("error \"%s\" does not contain \"%s\"", err, (s)); \
	} while (0)

/* ======================================================================== */
/* A Multiboot2 builder                                                      */

#define INFO_PHYS 0x10000ull /* where the "loader" put the structure */

static struct {
	_Alignas(8) uint8_t buf[16384];
	uint32_t len;
} mb;

static void put32(uint32_t off, uint32_t v) { memcpy(mb.buf + off, &v, 4); }
static void put64(uint32_t off, uint64_t v) { memcpy(mb.buf + off, &v, 8); }
static void app32(uint32_t v) { put32(mb.len, v); mb.len += 4; }
static void app64(uint64_t v) { put64(mb.len, v); mb.len += 8; }
static void app_bytes(const void *p, uint32_t n) { memcpy(mb.buf + mb.len, p, n); mb.len += n; }
static void app_str(const char *s) { app_bytes(s, (uint32_t)strlen(s) + 1); }

static void mb2_begin(void)
{
	memset(&mb, 0, sizeof mb);
	mb.len = 8; /* total_size, reserved: filled by mb2_end */
}

/* Start a tag; returns its offset for tag_end. */
static uint32_t tag_begin(uint32_t type)
{
	uint32_t off = mb.len;
	app32(type);
	app32(0);
	return off;
}

/* Set the tag's size (no padding) and pad to the next 8-byte boundary. */
static void tag_end(uint32_t off)
{
	put32(off + 4, mb.len - off);
	while (mb.len % 8)
		mb.buf[mb.len++] = 0;
}

static uint32_t string_tag(uint32_t type, const char *s)
{
	uint32_t off = tag_begin(type);
	app_str(s);
	tag_end(off);
	return off;
}

static uint32_t module_tag(uint32_t start, uint32_t end, const char *s)
{
	uint32_t off = tag_begin(3);
	app32(start);
	app32(end);
	app_str(s);
	tag_end(off);
	return off;
}

struct e820 { uint64_t base, len; uint32_t type; };

static uint32_t mmap_tag(uint32_t entry_size, const struct e820 *e, unsigned n)
{
	uint32_t off = tag_begin(6);
	app32(entry_size);
	app32(0);
	for (unsigned i = 0; i < n; i++) {
		uint32_t at = mb.len;
		put64(at, e[i].base);
		put64(at + 8, e[i].len);
		put32(at + 16, e[i].type);
		put32(at + 20, 0);
		memset(mb.buf + at + 24, 0xee, entry_size - 24); /* future fields */
		mb.len += entry_size;
	}
	tag_end(off);
	return off;
}

static uint32_t rsdp_tag(uint32_t type, uint32_t bytes)
{
	uint32_t off = tag_begin(type);
	app_bytes("RSD PTR ", 8);
	for (uint32_t i = 8; i < bytes; i++)
		mb.buf[mb.len++] = (uint8_t)i;
	tag_end(off);
	return off;
}

/* End tag and total_size. */
static void mb2_end(void)
{
	app32(0);
	app32(8);
	put32(0, mb.len);
}

static int parse2(void)
{
	return mb2_parse(mb.buf, mb.len, INFO_PHYS, &bi, err, sizeof err);
}

/* The smallest valid structure: one usable region and the end tag. */
static void minimal(void)
{
	static const struct e820 ram = { 0, 0x100000, 1 };
	mb2_begin();
	mmap_tag(24, &ram, 1);
}

/* ---- valid input --------------------------------------------------------- */

static void mb2_full_structure_decodes(void **state)
{
	(void)state;
	static const struct e820 map[] = {
		{ 0x0, 0x9fc00, 1 },
		{ 0x9fc00, 0x400, 2 },          /* E820 "reserved" */
		{ 0x100000, 0x7ee0000, 1 },
		{ 0x7fe0000, 0x0, 1 },          /* zero length: skipped */
		{ 0x7fe0000, 0x10000, 3 },      /* ACPI reclaimable */
		{ 0x7ff0000, 0x10000, 4 },      /* ACPI NVS */
		{ 0x8000000, 0x1000, 5 },       /* bad */
		{ 0xfffc0000, 0x40000, 12 },    /* unknown: reserved */
	};
	uint32_t acpi_new, basic;

	mb2_begin();
	string_tag(1, "console=com1 trace=on");
	string_tag(2, "GRUB 2.06-13+deb12u1");
	basic = tag_begin(4); /* superseded by the memory map */
	app32(639);
	app32(130048);
	tag_end(basic);
	module_tag(0x200000, 0x280000, "/boot/guests/linux.elf console=ttyS0");
	module_tag(0x300000, 0x300123, "nestor.cfg");
	module_tag(0x301000, 0x301000, "  (hd0,gpt2)/empty.img\targ"); /* empty file, leading blanks */
	string_tag(21, "unknown tag"); /* load base address tag: skipped */
	mmap_tag(24, map, sizeof map / sizeof map[0]);
	rsdp_tag(14, 20);
	acpi_new = rsdp_tag(15, 36);
	mb2_end();

	assert_int_equal(parse2(), 0);
	assert_string_equal(err, "");
	assert_int_equal(bi.magic, BOOT_INFO_MAGIC);
	assert_int_equal(bi.boot_path, BOOT_PATH_MB2);
	assert_string_equal(bi.cmdline, "console=com1 trace=on");
	assert_string_equal(bi.loader_name, "GRUB 2.06-13+deb12u1");
	/* tag 15 preferred, and the address is that of the copy in the tag */
	assert_int_equal(bi.rsdp, INFO_PHYS + acpi_new + 8);

	assert_int_equal(bi.module_count, 3);
	assert_int_equal(bi.modules[0].addr, 0x200000);
	assert_int_equal(bi.modules[0].size, 0x80000);
	assert_string_equal(bi.modules[0].name, "linux.elf");
	assert_int_equal(bi.modules[1].addr, 0x300000);
	assert_int_equal(bi.modules[1].size, 0x123);
	assert_string_equal(bi.modules[1].name, "nestor.cfg");
	assert_int_equal(bi.modules[2].addr, 0x301000);
	assert_int_equal(bi.modules[2].size, 0);
	assert_string_equal(bi.modules[2].name, "empty.img");

	/* the mmap wins over the basic memory tag; zero-length entry skipped */
	assert_int_equal(bi.region_count, 7);
	static const struct mem_region want[] = {
		{ 0x0, 0x9fc00, MEM_USABLE, 0 },
		{ 0x9fc00, 0x400, MEM_RESERVED, 0 },
		{ 0x100000, 0x7ee0000, MEM_USABLE, 0 },
		{ 0x7fe0000, 0x10000, MEM_ACPI_RECLAIM, 0 },
		{ 0x7ff0000, 0x10000, MEM_ACPI_NVS, 0 },
		{ 0x8000000, 0x1000, MEM_BAD, 0 },
		{ 0xfffc0000, 0x40000, MEM_RESERVED, 0 },
	};
	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(bi.regions[i].base, want[i].base);
		assert_int_equal(bi.regions[i].length, want[i].length);
		assert_int_equal(bi.regions[i].type, want[i].type);
		assert_int_equal(bi.regions[i].reserved, 0);
	}
	/* nothing beyond the counts was touched */
	assert_int_equal(bi.regions[7].length, 0);
	assert_string_equal(bi.modules[3].name, "");
}

static void mb2_old_acpi_only(void **state)
{
	(void)state;
	uint32_t off;

	minimal();
	off = rsdp_tag(14, 20);
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(bi.rsdp, INFO_PHYS + off + 8);
	assert_string_equal(bi.cmdline, "");
	assert_string_equal(bi.loader_name, "");
	assert_int_equal(bi.module_count, 0);
}

static void mb2_no_acpi_gives_zero(void **state)
{
	(void)state;
	minimal();
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(bi.rsdp, 0);
	assert_int_equal(bi.region_count, 1);
}

static void mb2_larger_mmap_entries(void **state)
{
	(void)state;
	static const struct e820 map[] = { { 0x1000, 0x2000, 1 }, { 0x5000, 0x1000, 3 } };

	mb2_begin();
	mmap_tag(40, map, 2); /* a future entry version with 16 more bytes */
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(bi.region_count, 2);
	assert_int_equal(bi.regions[1].base, 0x5000);
	assert_int_equal(bi.regions[1].type, MEM_ACPI_RECLAIM);
}

static void mb2_basic_memory_fallback(void **state)
{
	(void)state;
	uint32_t off;

	mb2_begin();
	off = tag_begin(4);
	app32(639);
	app32(64 * 1024);
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(bi.region_count, 2);
	assert_int_equal(bi.regions[0].base, 0);
	assert_int_equal(bi.regions[0].length, 639 * 1024);
	assert_int_equal(bi.regions[1].base, 0x100000);
	assert_int_equal(bi.regions[1].length, 64ull << 20);
	assert_int_equal(bi.regions[1].type, MEM_USABLE);
}

static void mb2_module_names(void **state)
{
	(void)state;
	char longname[80];

	minimal();
	module_tag(0, 0x10, "plain");
	module_tag(0, 0x10, "/a/b/");      /* ends in '/': empty name */
	module_tag(0, 0x10, "");           /* no string at all */
	memset(longname, 'x', 63);
	longname[63] = 0;
	module_tag(0, 0x10, longname);     /* exactly BOOT_NAME_MAX - 1 */
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(bi.module_count, 4);
	assert_string_equal(bi.modules[0].name, "plain");
	assert_string_equal(bi.modules[1].name, "");
	assert_string_equal(bi.modules[2].name, "");
	assert_string_equal(bi.modules[3].name, longname);
}

static void mb2_long_loader_name_truncated(void **state)
{
	(void)state;
	char name[200];

	memset(name, 'L', sizeof name - 1);
	name[sizeof name - 1] = 0;
	minimal();
	string_tag(2, name);
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(strlen(bi.loader_name), BOOT_NAME_MAX - 1);
}

static void mb2_max_modules_and_regions_fit(void **state)
{
	(void)state;
	static struct e820 map[BOOT_MAX_REGIONS];

	for (unsigned i = 0; i < BOOT_MAX_REGIONS; i++)
		map[i] = (struct e820){ (uint64_t)i << 20, 0x1000, 1 };
	mb2_begin();
	mmap_tag(24, map, BOOT_MAX_REGIONS);
	for (unsigned i = 0; i < BOOT_MAX_MODULES; i++)
		module_tag(i * 0x1000, i * 0x1000 + 1, "m");
	mb2_end();
	assert_int_equal(parse2(), 0);
	assert_int_equal(bi.region_count, BOOT_MAX_REGIONS);
	assert_int_equal(bi.module_count, BOOT_MAX_MODULES);
}

static void mb2_trailing_bytes_after_end_tag_ignored(void **state)
{
	(void)state;
	minimal();
	mb2_end();
	put32(0, mb.len + 16); /* total_size claims 16 more bytes */
	mb.len += 16;
	assert_int_equal(parse2(), 0);
}

static void mb2_err_buffer_small_or_null(void **state)
{
	(void)state;
	char small[12];

	minimal(); /* no end tag */
	put32(0, mb.len);
	assert_int_equal(mb2_parse(mb.buf, mb.len, INFO_PHYS, &bi, NULL, 0), -1);
	memset(small, 'z', sizeof small);
	assert_int_equal(mb2_parse(mb.buf, mb.len, INFO_PHYS, &bi, small, sizeof small), -1);
	assert_string_equal(small, "mb2: no end");
}

/* ---- malformed input ------------------------------------------------------ */

static void mb2_fixed_part_unreadable(void **state)
{
	(void)state;
	minimal();
	mb2_end();
	assert_int_equal(mb2_parse(mb.buf, 7, INFO_PHYS, &bi, err, sizeof err), -1);
	assert_string_equal(err, "mb2: only 7 readable bytes, the fixed part needs 8");
}

static void mb2_total_size_beyond_avail(void **state)
{
	(void)state;
	minimal();
	mb2_end();
	/* The caller could read only part of it (truncated structure). */
	assert_int_equal(mb2_parse(mb.buf, mb.len - 8, INFO_PHYS, &bi, err, sizeof err), -1);
	assert_string_equal(err, "mb2: total_size 0x38 > 0x30 readable bytes");
}

static void mb2_total_size_too_small(void **state)
{
	(void)state;
	mb2_begin();
	mb2_end();
	put32(0, 12);
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: total_size 12 < 16 (fixed part + end tag)");
}

static void mb2_unaligned_info(void **state)
{
	(void)state;
	minimal();
	mb2_end();
	assert_int_equal(mb2_parse(mb.buf, mb.len, INFO_PHYS + 4, &bi, err, sizeof err), -1);
	assert_string_equal(err, "mb2: boot information at 0x10004 is not 8-byte aligned");
}

static void mb2_info_at_top_of_address_space(void **state)
{
	(void)state;
	minimal();
	mb2_end();
	assert_int_equal(mb2_parse(mb.buf, mb.len, UINT64_MAX - 7, &bi, err, sizeof err), -1);
	assert_err_contains("does not fit in 64 bits");
}

static void mb2_tag_size_below_header(void **state)
{
	(void)state;
	minimal();
	tag_begin(1); /* size left at 0 */
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: tag type 1 at offset 0x30: size 0 < 8");
}

static void mb2_tag_past_end(void **state)
{
	(void)state;
	uint32_t off;

	minimal();
	off = string_tag(1, "abc");
	mb2_end();
	put32(off + 4, 0x1000); /* claims to run far past total_size */
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: tag type 1 at offset 0x30: size 0x1000 runs past total_size 0x48");
}

static void mb2_missing_end_tag(void **state)
{
	(void)state;
	minimal();
	string_tag(1, "no end");
	put32(0, mb.len);
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: no end tag before total_size 0x40 (next tag at offset 0x40)");
}

static void mb2_padding_past_total(void **state)
{
	(void)state;
	minimal();
	string_tag(1, "abc"); /* size 12: padded to 16 */
	put32(0, mb.len - 4); /* total_size ends inside the padding */
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: no end tag before total_size 0x3c (last tag at offset 0x30)");
}

static void mb2_end_tag_wrong_size(void **state)
{
	(void)state;
	minimal();
	app32(0);
	app32(16);
	app64(0);
	put32(0, mb.len);
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: end tag at offset 0x30: size 16 != 8");
}

static void mb2_mmap_entry_size_too_small(void **state)
{
	(void)state;
	uint32_t off;

	mb2_begin();
	string_tag(1, "cmdline");
	string_tag(2, "loader");
	string_tag(1234, "padding to offset 0x48");
	off = tag_begin(6);
	app32(20); /* the MB1 entry size, not MB2's */
	app32(0);
	app64(0); app64(0x1000); app32(1);
	tag_end(off);
	mb2_end();
	assert_int_equal(off, 0x48);
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: memory map tag at offset 0x48: entry_size 20 < 24");
}

static void mb2_mmap_entry_size_not_multiple_of_8(void **state)
{
	(void)state;
	uint32_t off;

	mb2_begin();
	off = tag_begin(6);
	app32(28);
	app32(0);
	for (int i = 0; i < 7; i++)
		app32(1);
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: memory map tag at offset 0x8: entry_size 28 is not a multiple of 8");
}

static void mb2_mmap_partial_entry(void **state)
{
	(void)state;
	static const struct e820 ram = { 0, 0x100000, 1 };
	uint32_t off;

	mb2_begin();
	off = mmap_tag(24, &ram, 1);
	app64(0); /* 8 stray bytes inside the tag */
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: memory map tag at offset 0x8: 32 bytes of entries is not a whole number of 24-byte entries");
}

static void mb2_mmap_tag_too_small(void **state)
{
	(void)state;
	uint32_t off;

	mb2_begin();
	off = tag_begin(6);
	app32(24);
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: memory map tag at offset 0x8: size 12 < 16");
}

static void mb2_mmap_region_overflows(void **state)
{
	(void)state;
	static const struct e820 map[] = {
		{ 0, 0x1000, 1 },
		{ 0xfffffffffffff000ull, 0x1000, 2 }, /* ends exactly at 2^64 */
	};

	mb2_begin();
	mmap_tag(24, map, 2);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: memory map entry at offset 0x30: base 0xfffffffffffff000 + length 0x1000 does not fit in 64 bits");
}

static void mb2_mmap_ends_at_last_byte_ok(void **state)
{
	(void)state;
	static const struct e820 map[] = { { 0xfffffffffffff000ull, 0xfff, 2 } };

	mb2_begin();
	mmap_tag(24, map, 1);
	mb2_end();
	assert_int_equal(parse2(), 0);
}

static void mb2_too_many_regions(void **state)
{
	(void)state;
	static struct e820 map[BOOT_MAX_REGIONS + 1];

	for (unsigned i = 0; i <= BOOT_MAX_REGIONS; i++)
		map[i] = (struct e820){ (uint64_t)i << 20, 0x1000, 1 };
	mb2_begin();
	mmap_tag(24, map, BOOT_MAX_REGIONS + 1);
	mb2_end();
	assert_int_equal(parse2(), -1);
	/* entry 256 at 8 + 16 + 256 * 24 */
	assert_string_equal(err, "mb2: memory map entry at offset 0x1818: more than 256 regions");
}

static void mb2_cmdline_unterminated(void **state)
{
	(void)state;
	uint32_t off;

	minimal();
	off = tag_begin(1);
	app_bytes("abcdefgh", 8); /* no NUL inside the tag */
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: command line tag at offset 0x30: string not NUL-terminated within its 16 bytes");
}

static void mb2_cmdline_too_long(void **state)
{
	(void)state;
	char s[BOOT_CMDLINE_MAX + 1];

	memset(s, 'c', BOOT_CMDLINE_MAX);
	s[BOOT_CMDLINE_MAX] = 0;
	minimal();
	string_tag(1, s);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: command line tag at offset 0x30: 256 bytes, longer than 255");
}

static void mb2_loader_name_unterminated(void **state)
{
	(void)state;
	uint32_t off;

	minimal();
	off = tag_begin(2);
	app_bytes("GRUB", 4);
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_err_contains("loader name tag at offset 0x30: string not NUL-terminated");
}

static void mb2_module_unterminated(void **state)
{
	(void)state;
	uint32_t off;

	minimal();
	off = tag_begin(3);
	app32(0x1000);
	app32(0x2000);
	app_bytes("guest.elf", 9);
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: module tag at offset 0x30: string not NUL-terminated within its 25 bytes");
}

static void mb2_module_without_string_room(void **state)
{
	(void)state;
	uint32_t off;

	minimal();
	off = tag_begin(3);
	app32(0x1000);
	app32(0x2000);
	tag_end(off);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: module tag at offset 0x30: size 16 < 17");
}

static void mb2_module_end_before_start(void **state)
{
	(void)state;
	minimal();
	module_tag(0x2000, 0x1fff, "guest.elf");
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: module tag at offset 0x30: mod_end 0x1fff < mod_start 0x2000");
}

static void mb2_too_many_modules(void **state)
{
	(void)state;
	minimal();
	for (unsigned i = 0; i <= BOOT_MAX_MODULES; i++)
		module_tag(0, 1, "m");
	mb2_end();
	assert_int_equal(parse2(), -1);
	/* the 17th module tag: 0x30 + 16 * 24 */
	assert_string_equal(err, "mb2: module tag at offset 0x1b0: more than 16 modules");
}

static void mb2_module_name_too_long(void **state)
{
	(void)state;
	char s[80] = "/boot/";

	memset(s + 6, 'n', 64);
	s[70] = 0;
	minimal();
	module_tag(0, 1, s);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: module tag at offset 0x30: file name longer than 63 bytes");
}

static void mb2_duplicate_tag(void **state)
{
	(void)state;
	minimal();
	string_tag(1, "one");
	string_tag(1, "two");
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: tag type 1 at offset 0x40: duplicate");
}

static void mb2_acpi_tag_too_small(void **state)
{
	(void)state;
	minimal();
	rsdp_tag(15, 20); /* a v1-sized RSDP in the v2 tag */
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: new ACPI tag at offset 0x30: size 28 < 44");
}

static void mb2_no_memory_information(void **state)
{
	(void)state;
	mb2_begin();
	string_tag(1, "x");
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: no memory map tag (type 6) and no basic memory tag (type 4)");
}

static void mb2_mmap_of_only_empty_regions(void **state)
{
	(void)state;
	static const struct e820 map[] = { { 0x1000, 0, 1 } };

	mb2_begin();
	mmap_tag(24, map, 1);
	mb2_end();
	assert_int_equal(parse2(), -1);
	assert_string_equal(err, "mb2: the memory map describes no memory");
}

/* ======================================================================== */
/* Multiboot1: a fake physical memory                                        */

#define PHYS_SIZE 0x10000u

static struct {
	uint8_t mem[PHYS_SIZE]; /* physical 0 .. PHYS_SIZE */
	uint64_t deny_base, deny_len; /* a range phys refuses */
	unsigned calls;
} pm;

static const void *fake_phys(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	pm.calls++;
	if (addr > PHYS_SIZE || len > PHYS_SIZE - addr)
		return NULL;
	if (pm.deny_len && addr < pm.deny_base + pm.deny_len && pm.deny_base < addr + len)
		return NULL;
	return pm.mem + addr;
}

static void p32(uint32_t addr, uint32_t v) { memcpy(pm.mem + addr, &v, 4); }
static void p64(uint32_t addr, uint64_t v) { memcpy(pm.mem + addr, &v, 8); }
static void pstr(uint32_t addr, const char *s) { memcpy(pm.mem + addr, s, strlen(s) + 1); }

/* Layout of the MB1 fixture. */
#define MB1_INFO    0x1000u
#define MB1_CMDLINE 0x2000u
#define MB1_LOADER  0x2400u
#define MB1_MODS    0x3000u
#define MB1_MODSTR  0x3400u
#define MB1_MMAP    0x4000u

/* One mmap entry at addr with the given size field; returns the next. */
static uint32_t mb1_entry(uint32_t addr, uint32_t size, uint64_t base, uint64_t len, uint32_t type)
{
	p32(addr, size);
	p64(addr + 4, base);
	p64(addr + 12, len);
	p32(addr + 20, type);
	return addr + 4 + size;
}

/* A valid structure with every field we read. */
static void mb1_fixture(void)
{
	uint32_t e;

	memset(&pm, 0, sizeof pm);
	p32(MB1_INFO + 0, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	p32(MB1_INFO + 4, 639);
	p32(MB1_INFO + 8, 130048);
	p32(MB1_INFO + 16, MB1_CMDLINE);
	p32(MB1_INFO + 20, 2);
	p32(MB1_INFO + 24, MB1_MODS);
	p32(MB1_INFO + 64, MB1_LOADER);
	pstr(MB1_CMDLINE, "/boot/nestor.elf log=debug");
	pstr(MB1_LOADER, "qemu");

	p32(MB1_MODS + 0, 0x100000);
	p32(MB1_MODS + 4, 0x180000);
	p32(MB1_MODS + 8, MB1_MODSTR);
	p32(MB1_MODS + 16, 0x180000);
	p32(MB1_MODS + 20, 0x180200);
	p32(MB1_MODS + 24, MB1_MODSTR + 0x100);
	pstr(MB1_MODSTR, "/images/guest.elf root=/dev/vda");
	pstr(MB1_MODSTR + 0x100, "nestor.cfg");

	e = mb1_entry(MB1_MMAP, 20, 0, 0x9fc00, 1);
	e = mb1_entry(e, 20, 0x9fc00, 0x400, 2);
	e = mb1_entry(e, 28, 0x100000, 0x7ee0000, 1); /* longer entry: step by size */
	e = mb1_entry(e, 20, 0x7fe0000, 0x20000, 3);
	e = mb1_entry(e, 20, 0x8000000, 0, 1);        /* zero length: skipped */
	p32(MB1_INFO + 44, e - MB1_MMAP);
	p32(MB1_INFO + 48, MB1_MMAP);
}

static int parse1(void)
{
	return mb1_parse(MB1_INFO, fake_phys, NULL, &bi, err, sizeof err);
}

static void mb1_full_structure_decodes(void **state)
{
	(void)state;
	mb1_fixture();
	assert_int_equal(parse1(), 0);
	assert_string_equal(err, "");
	assert_int_equal(bi.magic, BOOT_INFO_MAGIC);
	assert_int_equal(bi.boot_path, BOOT_PATH_MB1);
	assert_int_equal(bi.rsdp, 0);
	assert_string_equal(bi.cmdline, "/boot/nestor.elf log=debug");
	assert_string_equal(bi.loader_name, "qemu");
	assert_int_equal(bi.module_count, 2);
	assert_int_equal(bi.modules[0].addr, 0x100000);
	assert_int_equal(bi.modules[0].size, 0x80000);
	assert_string_equal(bi.modules[0].name, "guest.elf");
	assert_int_equal(bi.modules[1].addr, 0x180000);
	assert_int_equal(bi.modules[1].size, 0x200);
	assert_string_equal(bi.modules[1].name, "nestor.cfg");
	assert_int_equal(bi.region_count, 4);
	static const struct mem_region want[] = {
		{ 0, 0x9fc00, MEM_USABLE, 0 },
		{ 0x9fc00, 0x400, MEM_RESERVED, 0 },
		{ 0x100000, 0x7ee0000, MEM_USABLE, 0 },
		{ 0x7fe0000, 0x20000, MEM_ACPI_RECLAIM, 0 },
	};
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(bi.regions[i].base, want[i].base);
		assert_int_equal(bi.regions[i].length, want[i].length);
		assert_int_equal(bi.regions[i].type, want[i].type);
	}
}

static void mb1_flags_clear_means_fields_ignored(void **state)
{
	(void)state;
	mb1_fixture();
	/* Only mem_lower/mem_upper valid: the pointers must not be followed
	 * (make them point at unreadable memory to prove it). */
	p32(MB1_INFO, 1u << 0);
	p32(MB1_INFO + 16, 0xdead0000);
	p32(MB1_INFO + 24, 0xdead0000);
	p32(MB1_INFO + 48, 0xdead0000);
	p32(MB1_INFO + 64, 0xdead0000);
	assert_int_equal(parse1(), 0);
	assert_string_equal(bi.cmdline, "");
	assert_string_equal(bi.loader_name, "");
	assert_int_equal(bi.module_count, 0);
	assert_int_equal(bi.region_count, 2);
	assert_int_equal(bi.regions[0].base, 0);
	assert_int_equal(bi.regions[0].length, 639 * 1024);
	assert_int_equal(bi.regions[1].base, 0x100000);
	assert_int_equal(bi.regions[1].length, 130048ull * 1024);
}

static void mb1_mem_lower_clamped(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_INFO, 1u << 0);
	p32(MB1_INFO + 4, 0xffffffff); /* more than the 640 KiB there can be */
	p32(MB1_INFO + 8, 0xffffffff);
	assert_int_equal(parse1(), 0);
	assert_int_equal(bi.regions[0].length, 640 * 1024);
	assert_int_equal(bi.regions[1].length, 0xffffffffull * 1024);
}

static void mb1_short_structure_without_loader_name(void **state)
{
	(void)state;
	mb1_fixture();
	/* Without flag 9 only 52 bytes are needed: put the structure so that
	 * it ends exactly at the end of readable memory. */
	memcpy(pm.mem + PHYS_SIZE - 52, pm.mem + MB1_INFO, 52);
	p32(PHYS_SIZE - 52, (1u << 6));
	assert_int_equal(mb1_parse(PHYS_SIZE - 52, fake_phys, NULL, &bi, err, sizeof err), 0);
	assert_int_equal(bi.region_count, 4);
	assert_string_equal(bi.loader_name, "");
}

static void mb1_module_without_string(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_MODS + 8, 0);
	assert_int_equal(parse1(), 0);
	assert_string_equal(bi.modules[0].name, "");
	assert_string_equal(bi.modules[1].name, "nestor.cfg");
}

static void mb1_info_unreadable(void **state)
{
	(void)state;
	mb1_fixture();
	assert_int_equal(mb1_parse(0x200000, fake_phys, NULL, &bi, err, sizeof err), -1);
	assert_string_equal(err, "mb1: information structure at 0x200000 is not readable");
}

static void mb1_info_cut_short(void **state)
{
	(void)state;
	mb1_fixture();
	/* flags readable, but not the 68 bytes that flag 9 implies */
	memcpy(pm.mem + PHYS_SIZE - 60, pm.mem + MB1_INFO, 60);
	assert_int_equal(mb1_parse(PHYS_SIZE - 60, fake_phys, NULL, &bi, err, sizeof err), -1);
	assert_string_equal(err, "mb1: information structure at 0xffc4 (68 bytes for flags 0x24d) is not readable");
}

static void mb1_cmdline_refused(void **state)
{
	(void)state;
	mb1_fixture();
	pm.deny_base = MB1_CMDLINE + 4;
	pm.deny_len = 1;
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: cmdline at 0x2000: byte at 0x2004 is not readable");
}

static void mb1_cmdline_too_long(void **state)
{
	(void)state;
	mb1_fixture();
	memset(pm.mem + MB1_CMDLINE, 'a', BOOT_CMDLINE_MAX); /* NUL comes too late */
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: cmdline at 0x2000: no NUL within 256 bytes");
}

static void mb1_loader_name_refused(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_INFO + 64, PHYS_SIZE + 0x100);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: boot_loader_name at 0x10100: byte at 0x10100 is not readable");
}

static void mb1_too_many_modules(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_INFO + 20, BOOT_MAX_MODULES + 1);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: mods_count 17 > 16 modules");
}

static void mb1_module_list_refused(void **state)
{
	(void)state;
	mb1_fixture();
	pm.deny_base = MB1_MODS + 20;
	pm.deny_len = 1;
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: module list at 0x3000 (2 entries) is not readable");
}

static void mb1_module_string_refused(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_MODS + 24, 0xfffff000);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: module string at 0xfffff000: byte at 0xfffff000 is not readable");
}

static void mb1_module_end_before_start(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_MODS + 20, 0x17ffff);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: module 1 (entry at 0x3010): mod_end 0x17ffff < mod_start 0x180000");
}

static void mb1_module_name_too_long(void **state)
{
	(void)state;
	mb1_fixture();
	memset(pm.mem + MB1_MODSTR, 'g', 100);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: module 0 (string at 0x3400): file name longer than 63 bytes");
}

static void mb1_mmap_refused(void **state)
{
	(void)state;
	mb1_fixture();
	pm.deny_base = MB1_MMAP + 50;
	pm.deny_len = 1;
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: memory map at 0x4000 (128 bytes) is not readable");
}

static void mb1_mmap_entry_size_too_small(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_MMAP + 24, 16);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: memory map entry at 0x4018: size 16 < 20");
}

static void mb1_mmap_entry_past_length(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_INFO + 44, 24 + 20); /* second entry cut off */
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: memory map entry at 0x4018: size 20 runs past mmap_length 44");
}

static void mb1_mmap_size_field_cut(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_INFO + 44, 24 + 2);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: memory map entry at 0x4018: size field cut off by mmap_length 26");
}

static void mb1_mmap_region_overflows(void **state)
{
	(void)state;
	mb1_fixture();
	p64(MB1_MMAP + 4, 0xffffffff00000000ull);
	p64(MB1_MMAP + 12, 0x100000000ull);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: memory map entry at 0x4000: base 0xffffffff00000000 + length 0x100000000 does not fit in 64 bits");
}

static void mb1_too_many_regions(void **state)
{
	(void)state;
	uint32_t e = MB1_MMAP;

	mb1_fixture();
	for (unsigned i = 0; i <= BOOT_MAX_REGIONS; i++)
		e = mb1_entry(e, 20, (uint64_t)i << 20, 0x1000, 1);
	p32(MB1_INFO + 44, e - MB1_MMAP);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: memory map entry at 0x5800: more than 256 regions");
}

static void mb1_no_memory_information(void **state)
{
	(void)state;
	mb1_fixture();
	p32(MB1_INFO, 1u << 2);
	assert_int_equal(parse1(), -1);
	assert_string_equal(err, "mb1: flags 0x4: no memory map (bit 6) and no mem_lower/mem_upper (bit 0)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mb2_full_structure_decodes),
		cmocka_unit_test(mb2_old_acpi_only),
		cmocka_unit_test(mb2_no_acpi_gives_zero),
		cmocka_unit_test(mb2_larger_mmap_entries),
		cmocka_unit_test(mb2_basic_memory_fallback),
		cmocka_unit_test(mb2_module_names),
		cmocka_unit_test(mb2_long_loader_name_truncated),
		cmocka_unit_test(mb2_max_modules_and_regions_fit),
		cmocka_unit_test(mb2_trailing_bytes_after_end_tag_ignored),
		cmocka_unit_test(mb2_err_buffer_small_or_null),
		cmocka_unit_test(mb2_fixed_part_unreadable),
		cmocka_unit_test(mb2_total_size_beyond_avail),
		cmocka_unit_test(mb2_total_size_too_small),
		cmocka_unit_test(mb2_unaligned_info),
		cmocka_unit_test(mb2_info_at_top_of_address_space),
		cmocka_unit_test(mb2_tag_size_below_header),
		cmocka_unit_test(mb2_tag_past_end),
		cmocka_unit_test(mb2_missing_end_tag),
		cmocka_unit_test(mb2_padding_past_total),
		cmocka_unit_test(mb2_end_tag_wrong_size),
		cmocka_unit_test(mb2_mmap_entry_size_too_small),
		cmocka_unit_test(mb2_mmap_entry_size_not_multiple_of_8),
		cmocka_unit_test(mb2_mmap_partial_entry),
		cmocka_unit_test(mb2_mmap_tag_too_small),
		cmocka_unit_test(mb2_mmap_region_overflows),
		cmocka_unit_test(mb2_mmap_ends_at_last_byte_ok),
		cmocka_unit_test(mb2_too_many_regions),
		cmocka_unit_test(mb2_cmdline_unterminated),
		cmocka_unit_test(mb2_cmdline_too_long),
		cmocka_unit_test(mb2_loader_name_unterminated),
		cmocka_unit_test(mb2_module_unterminated),
		cmocka_unit_test(mb2_module_without_string_room),
		cmocka_unit_test(mb2_module_end_before_start),
		cmocka_unit_test(mb2_too_many_modules),
		cmocka_unit_test(mb2_module_name_too_long),
		cmocka_unit_test(mb2_duplicate_tag),
		cmocka_unit_test(mb2_acpi_tag_too_small),
		cmocka_unit_test(mb2_no_memory_information),
		cmocka_unit_test(mb2_mmap_of_only_empty_regions),
		cmocka_unit_test(mb1_full_structure_decodes),
		cmocka_unit_test(mb1_flags_clear_means_fields_ignored),
		cmocka_unit_test(mb1_mem_lower_clamped),
		cmocka_unit_test(mb1_short_structure_without_loader_name),
		cmocka_unit_test(mb1_module_without_string),
		cmocka_unit_test(mb1_info_unreadable),
		cmocka_unit_test(mb1_info_cut_short),
		cmocka_unit_test(mb1_cmdline_refused),
		cmocka_unit_test(mb1_cmdline_too_long),
		cmocka_unit_test(mb1_loader_name_refused),
		cmocka_unit_test(mb1_too_many_modules),
		cmocka_unit_test(mb1_module_list_refused),
		cmocka_unit_test(mb1_module_string_refused),
		cmocka_unit_test(mb1_module_end_before_start),
		cmocka_unit_test(mb1_module_name_too_long),
		cmocka_unit_test(mb1_mmap_refused),
		cmocka_unit_test(mb1_mmap_entry_size_too_small),
		cmocka_unit_test(mb1_mmap_entry_past_length),
		cmocka_unit_test(mb1_mmap_size_field_cut),
		cmocka_unit_test(mb1_mmap_region_overflows),
		cmocka_unit_test(mb1_too_many_regions),
		cmocka_unit_test(mb1_no_memory_information),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
