/*
 * Unit tests: drivers/platform/fw_cfg.c, driven only through its ports the
 * way firmware does it (QEMU docs/specs/fw_cfg.rst): a 16-bit write of a
 * key to 0x510, then byte reads from 0x511.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "drivers/platform/fw_cfg.h"

static void sel(struct fw_cfg *f, uint16_t key)
{
	uint32_t v = key;
	assert_int_equal(fw_cfg_io(f, 0x510, 2, true, &v), 0);
}

static uint8_t rd(struct fw_cfg *f)
{
	uint32_t v = 0xdeadbeef;
	assert_int_equal(fw_cfg_io(f, 0x511, 1, false, &v), 0);
	assert_true(v <= 0xff);
	return (uint8_t)v;
}

/* Select key and read n bytes, as a guest's loop of inb would. */
static void read_item(struct fw_cfg *f, uint16_t key, uint8_t *out, size_t n)
{
	sel(f, key);
	for (size_t i = 0; i < n; i++)
		out[i] = rd(f);
}

static uint64_t read_le(struct fw_cfg *f, uint16_t key, unsigned n)
{
	uint8_t b[8];
	uint64_t v = 0;

	read_item(f, key, b, n);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static struct fw_cfg fw;   /* large-ish: keep it off the test's stack */

static void test_scalar_items(void **state)
{
	uint8_t sig[4];

	(void)state;
	fw_cfg_init(&fw, 6, 0x123456789abcull, "console=ttyS0");
	read_item(&fw, 0x0000, sig, 4);
	assert_memory_equal(sig, "QEMU", 4);
	assert_int_equal(read_le(&fw, 0x0001, 4), 1);           /* traditional only */
	assert_int_equal(read_le(&fw, 0x0003, 8), 0x123456789abcull);
	assert_int_equal(read_le(&fw, 0x0005, 2), 6);
	assert_int_equal(read_le(&fw, 0x000f, 2), 6);
	assert_int_equal(read_le(&fw, 0x0014, 4), strlen("console=ttyS0") + 1);
}

static void test_cmdline(void **state)
{
	const char *cl = "console=ttyS0 tsc_early_khz=2000000 tsc=reliable";
	uint8_t b[128];
	size_t n = strlen(cl) + 1;

	(void)state;
	fw_cfg_init(&fw, 1, 1 << 20, cl);
	assert_int_equal(read_le(&fw, 0x0014, 4), n);
	read_item(&fw, 0x0015, b, n + 4);
	assert_memory_equal(b, cl, n);                  /* with its NUL */
	for (size_t i = n; i < n + 4; i++)
		assert_int_equal(b[i], 0);              /* past the end: 0 */

	/* no command line: size 0, data empty */
	fw_cfg_init(&fw, 1, 1 << 20, NULL);
	assert_int_equal(read_le(&fw, 0x0014, 4), 0);
	assert_int_equal(read_le(&fw, 0x0015, 4), 0);
}

/* Reading byte by byte walks the item; any selector write starts over,
 * even reselecting the same key. */
static void test_offset_resets(void **state)
{
	(void)state;
	fw_cfg_init(&fw, 2, 0, NULL);
	sel(&fw, 0);
	assert_int_equal(rd(&fw), 'Q');
	assert_int_equal(rd(&fw), 'E');
	sel(&fw, 0);
	assert_int_equal(rd(&fw), 'Q');
	assert_int_equal(rd(&fw), 'E');
	assert_int_equal(rd(&fw), 'M');
	sel(&fw, 5);
	assert_int_equal(rd(&fw), 2);
	sel(&fw, 0);
	assert_int_equal(rd(&fw), 'Q');
}

static void test_past_end_and_unknown(void **state)
{
	(void)state;
	fw_cfg_init(&fw, 2, 0, NULL);
	sel(&fw, 0);
	for (int i = 0; i < 4; i++)
		rd(&fw);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rd(&fw), 0);
	/* unknown keys, arch-specific keys: 0 */
	static const uint16_t unknown[] = { 0x0002, 0x0004, 0x0010, 0x001f, 0x0020,
					    0x1234, 0x3fff, 0x8000, 0x8005, 0xffff };
	for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
		sel(&fw, unknown[k]);
		for (int i = 0; i < 8; i++)
			assert_int_equal(rd(&fw), 0);
	}
	/* bit 14 (the old write channel) is ignored: 0x4000 is the signature */
	sel(&fw, 0x4000);
	assert_int_equal(rd(&fw), 'Q');
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void test_files_and_dir(void **state)
{
	static const uint8_t tables[300] = { 1, 2, 3, [299] = 0x99 };
	static const char order[] = "/rom@genroms/linuxboot.bin\0";
	static const char name55[] = "opt/org.nestor/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char name56[57];
	uint8_t dir[4 + 3 * 64 + 8], b[300];

	(void)state;
	assert_int_equal(strlen(name55), 55);
	memset(name56, 'x', 56);
	name56[56] = 0;
	fw_cfg_init(&fw, 1, 0, NULL);

	/* empty directory: count 0, nothing after */
	read_item(&fw, 0x0019, dir, 8);
	assert_int_equal(be32(dir), 0);
	assert_int_equal(be32(dir + 4), 0);

	assert_int_equal(fw_cfg_add_file(&fw, "etc/acpi/tables", tables, sizeof tables), 0);
	assert_int_equal(fw_cfg_add_file(&fw, "bootorder", order, sizeof order), 0);
	assert_int_equal(fw_cfg_add_file(&fw, name55, "", 0), 0);
	assert_int_equal(fw_cfg_add_file(&fw, "bootorder", order, 1), -1);    /* duplicate */
	assert_int_equal(fw_cfg_add_file(&fw, name56, order, 1), -1);         /* too long */
	assert_int_equal(fw_cfg_add_file(&fw, "", order, 1), -1);
	assert_int_equal(fw_cfg_add_file(&fw, NULL, order, 1), -1);
	assert_int_equal(fw_cfg_add_file(&fw, "x", NULL, 1), -1);

	read_item(&fw, 0x0019, dir, sizeof dir);
	assert_int_equal(be32(dir), 3);
	/* entry 0 */
	assert_int_equal(be32(dir + 4), sizeof tables);
	assert_int_equal(be16(dir + 8), 0x0020);
	assert_int_equal(be16(dir + 10), 0);
	assert_string_equal((const char *)dir + 12, "etc/acpi/tables");
	for (size_t i = 12 + strlen("etc/acpi/tables"); i < 68; i++)
		assert_int_equal(dir[i], 0);                    /* NUL-padded */
	/* entry 1 */
	assert_int_equal(be32(dir + 68), sizeof order);
	assert_int_equal(be16(dir + 72), 0x0021);
	assert_string_equal((const char *)dir + 76, "bootorder");
	/* entry 2: a 55-character name still ends in a NUL */
	assert_int_equal(be32(dir + 132), 0);
	assert_int_equal(be16(dir + 136), 0x0022);
	assert_memory_equal(dir + 140, name55, 56);
	/* past the directory */
	for (size_t i = 4 + 3 * 64; i < sizeof dir; i++)
		assert_int_equal(dir[i], 0);

	/* the files, through the selectors the directory gave */
	read_item(&fw, be16(dir + 8), b, sizeof b);
	assert_memory_equal(b, tables, sizeof tables);
	assert_int_equal(rd(&fw), 0);
	read_item(&fw, be16(dir + 72), b, sizeof order);
	assert_memory_equal(b, order, sizeof order);
	sel(&fw, 0x0022);
	assert_int_equal(rd(&fw), 0);
	sel(&fw, 0x0023);                               /* no such file */
	assert_int_equal(rd(&fw), 0);
}

static void test_file_table_full(void **state)
{
	char name[16];

	(void)state;
	fw_cfg_init(&fw, 1, 0, NULL);
	for (int i = 0; i < FW_CFG_MAX_FILES; i++) {
		name[0] = 'f';
		name[1] = (char)('a' + i);
		name[2] = 0;
		assert_int_equal(fw_cfg_add_file(&fw, name, name, 3), 0);
	}
	assert_int_equal(fw_cfg_add_file(&fw, "one-more", name, 3), -1);
	assert_int_equal(read_le(&fw, 0x0019, 4), 0x10000000);  /* BE 16 */
	sel(&fw, FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES - 1);
	assert_int_equal(rd(&fw), 'f');
	assert_int_equal(rd(&fw), 'a' + FW_CFG_MAX_FILES - 1);
}

static void test_add_item(void **state)
{
	static const uint8_t kernel[5] = { 0x4d, 0x5a, 1, 2, 3 };
	uint8_t b[6];

	(void)state;
	fw_cfg_init(&fw, 1, 0, NULL);
	assert_int_equal(fw_cfg_add_item(&fw, 0x0008, kernel, sizeof kernel), 0);
	read_item(&fw, 0x0008, b, 6);
	assert_memory_equal(b, kernel, 5);
	assert_int_equal(b[5], 0);
	assert_int_equal(fw_cfg_add_item(&fw, 0x0008, kernel, 1), -1);   /* taken */
	assert_int_equal(fw_cfg_add_item(&fw, 0x0000, kernel, 1), -1);   /* built in */
	assert_int_equal(fw_cfg_add_item(&fw, 0x0019, kernel, 1), -1);   /* the dir */
	assert_int_equal(fw_cfg_add_item(&fw, 0x0020, kernel, 1), -1);   /* files */
	/* 7 built in + 0x0008 + these 8 fill the table */
	static const uint16_t free_keys[] = { 0x02, 0x04, 0x06, 0x07, 0x09, 0x0a, 0x0b, 0x0c };
	assert_int_equal(7 + 1 + sizeof free_keys / sizeof free_keys[0], FW_CFG_MAX_ITEMS);
	for (size_t i = 0; i < sizeof free_keys / sizeof free_keys[0]; i++)
		assert_int_equal(fw_cfg_add_item(&fw, free_keys[i], kernel, 1), 0);
	assert_int_equal(fw_cfg_add_item(&fw, 0x0018, kernel, 1), -1);   /* full */
}

/* Other ports are not ours; odd accesses to ours change nothing. */
static void test_ports(void **state)
{
	uint32_t v;

	(void)state;
	fw_cfg_init(&fw, 3, 0, NULL);
	v = 0;
	assert_int_equal(fw_cfg_io(&fw, 0x50f, 1, false, &v), -1);
	assert_int_equal(fw_cfg_io(&fw, 0x512, 1, false, &v), -1);
	assert_int_equal(fw_cfg_io(&fw, 0x514, 4, true, &v), -1);   /* DMA: absent */
	assert_int_equal(fw_cfg_io(&fw, 0x3f8, 1, false, &v), -1);

	sel(&fw, 0x0005);
	/* reading the (write-only) selector, wide reads of data: all-ones */
	assert_int_equal(fw_cfg_io(&fw, 0x510, 2, false, &v), 0);
	assert_int_equal(v, 0xffff);
	assert_int_equal(fw_cfg_io(&fw, 0x510, 1, false, &v), 0);
	assert_int_equal(v, 0xff);
	assert_int_equal(fw_cfg_io(&fw, 0x511, 4, false, &v), 0);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(fw_cfg_io(&fw, 0x511, 2, false, &v), 0);
	assert_int_equal(v, 0xffff);
	/* data writes are ignored, byte selector writes don't select */
	v = 0x55;
	assert_int_equal(fw_cfg_io(&fw, 0x511, 1, true, &v), 0);
	v = 0;
	assert_int_equal(fw_cfg_io(&fw, 0x510, 1, true, &v), 0);
	assert_int_equal(fw_cfg_io(&fw, 0x510, 4, true, &v), 0);
	/* ... so NB_CPUS is still selected at offset 0 */
	assert_int_equal(rd(&fw), 3);
	assert_int_equal(rd(&fw), 0);
}

static void test_clamp_ncpus(void **state)
{
	(void)state;
	fw_cfg_init(&fw, 100000, 0, NULL);
	assert_int_equal(read_le(&fw, 0x0005, 2), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_items),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_offset_resets),
		cmocka_unit_test(test_past_end_and_unknown),
		cmocka_unit_test(test_files_and_dir),
		cmocka_unit_test(test_file_table_full),
		cmocka_unit_test(test_add_item),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_clamp_ncpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
