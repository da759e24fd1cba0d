#include <string.h>
#include "arch/x86/acpi.h"

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

static uint8_t sum8(const uint8_t *p, uint64_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static int fail(char *err, size_t errlen, const char *msg, uint64_t addr)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	while (*msg && n + 1 < errlen)
		err[n++] = *msg++;
	const char *at = " at 0x";
	while (*at && n + 1 < errlen)
		err[n++] = *at++;
	for (int shift = 60; shift >= 0 && n + 1 < errlen; shift -= 4)
		err[n++] = hex[(addr >> shift) & 15];
	if (errlen)
		err[n] = 0;
	return -1;
}

static int rsdp_valid(const uint8_t *p)
{
	if (memcmp(p, "RSD PTR ", 8) || sum8(p, 20))
		return 0;
	return 1;
}

uint64_t acpi_find_rsdp_bios(acpi_phys_fn phys, void *ctx)
{
	const uint16_t *ebda_seg = phys(0x40e, 2, ctx);
	uint64_t areas[2][2] = { { 0, 0 }, { 0xe0000, 0x20000 } };
	if (ebda_seg && *ebda_seg)
		areas[0][0] = (uint64_t)*ebda_seg << 4, areas[0][1] = 1024;
	for (int a = 0; a < 2; a++) {
		if (!areas[a][1])
			continue;
		const uint8_t *p = phys(areas[a][0], areas[a][1], ctx);
		if (!p)
			continue;
		for (uint64_t off = 0; off + 20 <= areas[a][1]; off += 16)
			if (rsdp_valid(p + off))
				return areas[a][0] + off;
	}
	return 0;
}

/* Map a whole table: header first (to learn its length), then all of it. */
static const struct sdt_header *get_table(uint64_t addr, acpi_phys_fn phys, void *ctx,
					  char *err, size_t errlen)
{
	const struct sdt_header *h = phys(addr, sizeof(*h), ctx);
	if (!h) {
		fail(err, errlen, "acpi: table header unreadable", addr);
		return NULL;
	}
	if (h->length < sizeof(*h)) {
		fail(err, errlen, "acpi: table length smaller than its header", addr);
		return NULL;
	}
	h = phys(addr, h->length, ctx);
	if (!h) {
		fail(err, errlen, "acpi: table body unreadable", addr);
		return NULL;
	}
	if (sum8((const uint8_t *)h, h->length)) {
		fail(err, errlen, "acpi: table checksum wrong", addr);
		return NULL;
	}
	return h;
}

static int parse_madt(const struct sdt_header *h, uint64_t addr, struct acpi_info *out,
		      char *err, size_t errlen)
{
	const uint8_t *p = (const uint8_t *)h;
	if (h->length < sizeof(*h) + 8)
		return fail(err, errlen, "acpi: MADT too short", addr);
	uint32_t lapic32;
	memcpy(&lapic32, p + sizeof(*h), 4);
	out->lapic_addr = lapic32;
	out->have_madt = 1;
	/* MADT interrupt controller structures: type, length, body (5.2.12). */
	for (uint32_t off = sizeof(*h) + 8; off + 2 <= h->length;) {
		uint8_t type = p[off], len = p[off + 1];
		if (len < 2 || off + len > h->length)
			return fail(err, errlen, "acpi: MADT entry length out of bounds", addr + off);
		const uint8_t *e = p + off;
		uint32_t flags, id;
		switch (type) {
		case 0: /* Processor Local APIC: uid, apic id, flags (enabled | online capable) */
			if (len < 8)
				return fail(err, errlen, "acpi: short local APIC entry", addr + off);
			memcpy(&flags, e + 4, 4);
			if ((flags & 3) && out->cpu_count < ACPI_MAX_CPUS)
				out->apic_ids[out->cpu_count++] = e[3];
			break;
		case 9: /* Processor Local x2APIC: reserved(2), x2apic id, flags, uid */
			if (len < 16)
				return fail(err, errlen, "acpi: short x2APIC entry", addr + off);
			memcpy(&id, e + 4, 4);
			memcpy(&flags, e + 8, 4);
			if ((flags & 3) && out->cpu_count < ACPI_MAX_CPUS)
				out->apic_ids[out->cpu_count++] = id;
			break;
		case 1: /* I/O APIC: id, reserved, address, GSI base */
			if (len < 12)
				return fail(err, errlen, "acpi: short IOAPIC entry", addr + off);
			if (out->ioapic_count < ACPI_MAX_IOAPICS) {
				struct acpi_ioapic *io = &out->ioapics[out->ioapic_count++];
				io->id = e[2];
				memcpy(&io->addr, e + 4, 4);
				memcpy(&io->gsi_base, e + 8, 4);
			}
			break;
		case 5: /* Local APIC address override: 64-bit address */
			if (len < 12)
				return fail(err, errlen, "acpi: short LAPIC override entry", addr + off);
			memcpy(&out->lapic_addr, e + 4, 8);
			break;
		default:
			break;
		}
		off += len;
	}
	return 0;
}

int acpi_parse(uint64_t rsdp, acpi_phys_fn phys, void *ctx, struct acpi_info *out,
	       char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->rsdp = rsdp;
	const uint8_t *r = phys(rsdp, 36, ctx);
	if (!r)
		r = phys(rsdp, 20, ctx);
	if (!r || !rsdp_valid(r))
		return fail(err, errlen, "acpi: no valid RSDP", rsdp);
	out->revision = r[15];
	memcpy(out->oem_id, r + 9, 6);

	/* ACPI 2.0+: use the XSDT (64-bit entries) when the extended checksum holds. */
	uint64_t root;
	unsigned entry_size;
	if (out->revision >= 2 && phys(rsdp, 36, ctx) && !sum8(r, 36)) {
		memcpy(&root, r + 24, 8);
		entry_size = 8;
	} else {
		uint32_t rsdt;
		memcpy(&rsdt, r + 16, 4);
		root = rsdt;
		entry_size = 4;
	}
	const struct sdt_header *sdt = get_table(root, phys, ctx, err, errlen);
	if (!sdt)
		return -1;
	if (memcmp(sdt->signature, entry_size == 8 ? "XSDT" : "RSDT", 4))
		return fail(err, errlen, "acpi: root table has the wrong signature", root);

	unsigned n = (sdt->length - sizeof(*sdt)) / entry_size;
	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = 0;
		memcpy(&addr, (const uint8_t *)sdt + sizeof(*sdt) + i * entry_size, entry_size);
		const struct sdt_header *h = phys(addr, sizeof(*h), ctx);
		if (!h || memcmp(h->signature, "APIC", 4))
			continue;
		h = get_table(addr, phys, ctx, err, errlen);
		if (!h)
			return -1;
		return parse_madt(h, addr, out, err, errlen);
	}
	return 0; /* no MADT: a uniprocessor machine as far as we can tell */
}
