/*
 * The platform test guest: what a PC guest finds besides RAM — ACPI
 * tables in the BIOS area describing this VM, QEMU's fw_cfg interface,
 * PCI configuration space with no devices.
 */
#include <string.h>
#include "tests/guests/rt/rt.h"

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static const uint8_t *find_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && sum((const void *)a, 20) == 0)
			return (const uint8_t *)a;
	return NULL;
}

static uint8_t fw_byte(void) { return inb(0x511); }
static void fw_select(uint16_t key) { __asm__ volatile("outw %0, %1" : : "a"(key), "Nd"((uint16_t)0x510)); }

static void test_acpi(unsigned *madt_cpus)
{
	const uint8_t *rsdp = find_rsdp();
	CHECK(rsdp != NULL, "acpi: RSDP found in the BIOS area");
	if (!rsdp)
		return;
	CHECK(rsdp[15] >= 2 && sum(rsdp, 36) == 0, "acpi: RSDP revision 2 with a valid extended checksum");
	uint64_t xsdt;
	memcpy(&xsdt, rsdp + 24, 8);
	const uint8_t *x = (const uint8_t *)xsdt;
	uint32_t xlen;
	memcpy(&xlen, x + 4, 4);
	CHECK(!memcmp(x, "XSDT", 4) && sum(x, xlen) == 0, "acpi: XSDT signature and checksum");
	bool madt = false, facp = false;
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		uint64_t t;
		memcpy(&t, x + off, 8);
		const uint8_t *h = (const uint8_t *)t;
		uint32_t len;
		memcpy(&len, h + 4, 4);
		if (sum(h, len) != 0)
			continue;
		if (!memcmp(h, "FACP", 4))
			facp = true;
		if (!memcmp(h, "APIC", 4)) {
			madt = true;
			for (uint32_t e = 44; e + 2 <= len; e += h[e + 1])
				if (h[e] == 0 && (h[e + 4] & 1))
					(*madt_cpus)++;
		}
	}
	CHECK(facp, "acpi: FADT present and valid");
	CHECK(madt && *madt_cpus >= 1, "acpi: MADT lists the vCPUs");
}

static void test_fw_cfg(unsigned madt_cpus)
{
	char sig[5] = { 0 };
	fw_select(0x0000);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)fw_byte();
	CHECK(!strcmp(sig, "QEMU"), "fw_cfg: signature");
	fw_select(0x0005);
	unsigned ncpus = fw_byte();
	ncpus |= (unsigned)fw_byte() << 8;
	CHECK(ncpus == madt_cpus, "fw_cfg: CPU count matches the MADT");
	fw_select(0x0003);
	uint64_t ram = 0;
	for (int i = 0; i < 8; i++)
		ram |= (uint64_t)fw_byte() << (8 * i);
	CHECK(ram == rt_boot.ram_bytes, "fw_cfg: RAM size matches the memory map");
}

void guest_main(void)
{
	if (!rt_under_nestor()) {
		rt_printf("platform: needs Nestor's platform; skipped\n");
		return;
	}
	rt_printf("platform: booted via Multiboot%u, command line \"%s\"\n",
		  rt_boot.boot_path == BOOT_PATH_MB2 ? 2 : 1, rt_boot.cmdline ? rt_boot.cmdline : "");
	if (rt_boot.boot_path == BOOT_PATH_MB2)
		CHECK(rt_boot.rsdp >= 0x9000 && rt_boot.rsdp < 0xa000 &&
		      !memcmp((const void *)rt_boot.rsdp, "RSD PTR ", 8), "multiboot2: ACPI RSDP tag");
	if (rt_boot.cmdline && strstr(rt_boot.cmdline, "expect-module")) {
		CHECK(rt_boot.mods_count == 1, "boot: one module handed over");
		const struct boot_module *m = rt_boot_module(0);
		CHECK(m && m->size > 4 && !memcmp((const void *)m->addr, "\x7f" "ELF", 4) &&
		      !strcmp(m->name, "cpu.elf"), "boot: the module's name and contents");
	}
	if (rt_boot.cmdline && strstr(rt_boot.cmdline, "expect-64")) {
		uint16_t cs;
		__asm__ volatile("mov %%cs, %0" : "=r"(cs));
		CHECK(rt_boot.entered_64, "elf64: entered in 64-bit mode, on Nestor's identity map");
	}
	unsigned cpus = 0;
	test_acpi(&cpus);
	test_fw_cfg(cpus);
}
