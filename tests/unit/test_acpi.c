/* Unit tests: arch/x86/acpi.c over a fake physical memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "arch/x86/acpi.h"

#define MEM_SIZE 0x100000
static uint8_t mem[MEM_SIZE];

static const void *fake_phys(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	if (addr >= MEM_SIZE || len > MEM_SIZE - addr)
		return NULL;
	return mem + addr;
}

static void fix_checksum(uint8_t *p, unsigned len, unsigned at)
{
	uint8_t s = 0;
	p[at] = 0;
	for (unsigned i = 0; i < len; i++)
		s += p[i];
	p[at] = (uint8_t)-s;
}

static void header(uint8_t *p, const char *sig, uint32_t len)
{
	memcpy(p, sig, 4);
	memcpy(p + 4, &len, 4);
	p[8] = 1;
	memcpy(p + 10, "NESTOR", 6);
}

#define RSDP 0xe0010
#define XSDT 0x10000
#define MADT 0x11000
#define FACP 0x12000

/* A machine with two enabled CPUs (APIC ids 0 and 3), one disabled, an x2APIC
 * entry (id 300), one IOAPIC. */
static void build_tables(void)
{
	memset(mem, 0, sizeof(mem));
	uint8_t *r = mem + RSDP;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "NESTOR", 6);
	r[15] = 2;
	uint32_t len36 = 36;
	memcpy(r + 20, &len36, 4);
	uint64_t x = XSDT;
	memcpy(r + 24, &x, 8);
	fix_checksum(r, 20, 8);
	fix_checksum(r, 36, 32);

	uint8_t *f = mem + FACP; /* an unrelated table the walker must skip */
	header(f, "FACP", 36);
	fix_checksum(f, 36, 9);

	uint8_t *m = mem + MADT;
	unsigned off = 44;
	uint32_t lapic = 0xfee00000, flags = 1;
	memcpy(m + 36, &lapic, 4);
	uint8_t lapic0[8] = { 0, 8, 0, 0, 1, 0, 0, 0 };
	uint8_t lapic3[8] = { 0, 8, 1, 3, 1, 0, 0, 0 };
	uint8_t lapic_off[8] = { 0, 8, 2, 7, 0, 0, 0, 0 };
	uint8_t ioapic[12] = { 1, 12, 5, 0 };
	uint32_t ioaddr = 0xfec00000, gsi = 0;
	memcpy(ioapic + 4, &ioaddr, 4);
	memcpy(ioapic + 8, &gsi, 4);
	uint8_t x2[16] = { 9, 16 };
	uint32_t x2id = 300;
	memcpy(x2 + 4, &x2id, 4);
	memcpy(x2 + 8, &flags, 4);
	memcpy(m + off, lapic0, 8), off += 8;
	memcpy(m + off, lapic3, 8), off += 8;
	memcpy(m + off, lapic_off, 8), off += 8;
	memcpy(m + off, ioapic, 12), off += 12;
	memcpy(m + off, x2, 16), off += 16;
	header(m, "APIC", off);
	fix_checksum(m, off, 9);

	uint8_t *xs = mem + XSDT;
	uint64_t e[2] = { FACP, MADT };
	memcpy(xs + 36, e, 16);
	header(xs, "XSDT", 52);
	fix_checksum(xs, 52, 9);
}

static void test_find_rsdp(void **state)
{
	(void)state;
	build_tables();
	assert_int_equal(acpi_find_rsdp_bios(fake_phys, NULL), RSDP);
	mem[RSDP + 3] ^= 1; /* signature broken: not found */
	assert_int_equal(acpi_find_rsdp_bios(fake_phys, NULL), 0);
}

static void test_parse_madt(void **state)
{
	(void)state;
	char err[128];
	struct acpi_info a;
	build_tables();
	assert_int_equal(acpi_parse(RSDP, fake_phys, NULL, &a, err, sizeof(err)), 0);
	assert_int_equal(a.revision, 2);
	assert_string_equal(a.oem_id, "NESTOR");
	assert_int_equal(a.cpu_count, 3);
	assert_int_equal(a.apic_ids[0], 0);
	assert_int_equal(a.apic_ids[1], 3);
	assert_int_equal(a.apic_ids[2], 300);
	assert_int_equal(a.ioapic_count, 1);
	assert_int_equal(a.ioapics[0].addr, 0xfec00000);
	assert_int_equal(a.lapic_addr, 0xfee00000);
}

static void test_bad_checksum(void **state)
{
	(void)state;
	char err[128];
	struct acpi_info a;
	build_tables();
	mem[MADT + 50]++;
	assert_int_equal(acpi_parse(RSDP, fake_phys, NULL, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "checksum"));
	assert_non_null(strstr(err, "0x0000000000011000"));
}

static void test_entry_overrun(void **state)
{
	(void)state;
	char err[128];
	struct acpi_info a;
	build_tables();
	mem[MADT + 44 + 1] = 200; /* first entry claims to run past the table */
	fix_checksum(mem + MADT, 44 + 52, 9);
	assert_int_equal(acpi_parse(RSDP, fake_phys, NULL, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MADT entry length"));
}

static void test_table_outside_memory(void **state)
{
	(void)state;
	char err[128];
	struct acpi_info a;
	build_tables();
	uint64_t far = 0x7ffff000ull;
	memcpy(mem + RSDP + 24, &far, 8);
	fix_checksum(mem + RSDP, 36, 32);
	assert_int_equal(acpi_parse(RSDP, fake_phys, NULL, &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unreadable"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_rsdp),
		cmocka_unit_test(test_parse_madt),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_entry_overrun),
		cmocka_unit_test(test_table_outside_memory),
	};
	return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
