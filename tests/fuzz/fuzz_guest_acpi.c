/*
 * libFuzzer: drivers/platform/guest_acpi.c with random configurations,
 * placements and buffer sizes.
 *
 * Checks, for every input:
 *  - the builder accepts exactly the cfgs this file's own reading of the
 *    rules (guest_acpi.h) calls valid, when the buffer is big enough;
 *  - it never writes outside the buffer (ASan: the buffer is exactly
 *    buflen bytes) nor past what it reports as used;
 *  - on success the tables hold together as a guest walks them: every
 *    pointer lands inside at a 16-byte-aligned GPA, signatures, lengths and
 *    checksums are right, MADT entries tile the table and describe each
 *    CPU, and every AML PkgLength in the DSDT closes exactly inside its
 *    parent.
 *
 * Input layout (short inputs are padded with zeros):
 *   u8 ncpus (mod 70), 4 x u8 per CPU id (see take_id),
 *   u8 address choice for the LAPIC and the IOAPIC (see take_addr),
 *   u16 ioapic_id, u32 gsi_base, u8 flags (bit 0 ISO), u8 uart_irq (mod 18),
 *   u8 oem-id length (mod 9: 7 = NULL, 8 = 7 chars), its bytes,
 *   u8 n_mmio (mod 10), per device u32 gpa, u16 size, u32 gsi,
 *   u32 base_gpa, u16 buflen (mod 6000).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "drivers/platform/guest_acpi.h"

#include "tests/fuzz/fuzz_assert.h"
#include "tests/fuzz/fuzz_input.h"

/* Mostly small ids (so duplicates happen), some >= 255, some invalid. */
static uint32_t take_id(struct fuzz_input *in)
{
	uint32_t raw = (uint32_t)fuzz_take(in, 4);

	switch (raw >> 30) {
	case 0: return raw & 0xf;
	case 1: return 250 + (raw & 0xf);
	case 2: return raw & 0xffff;
	default: return raw | 0xffff0000u;      /* includes 0xffffffff */
	}
}

static uint64_t take_addr(struct fuzz_input *in, uint64_t usual)
{
	uint8_t c = (uint8_t)fuzz_take(in, 1);

	if (c < 0xc0)
		return usual;
	if (c < 0xf0)
		return 0xfffff000u - (uint64_t)(c - 0xc0) * 0x100;
	return 0xffffffffull + (c - 0xf0) * 0x10000000ull;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* ---- the rules, as guest_acpi.h states them ----------------------------- */

static bool below_4g(uint64_t gpa, uint64_t size)
{
	return size > 0 && gpa < (1ull << 32) && size <= (1ull << 32) - gpa;
}

static bool expect_valid(const struct guest_acpi_cfg *c)
{
	size_t oem_len = 0;

	if (c->ncpus < 1 || c->ncpus > 64)
		return false;
	for (unsigned i = 0; i < c->ncpus; i++) {
		if (c->apic_ids[i] == 0xffffffffu)
			return false;
		for (unsigned j = i + 1; j < c->ncpus; j++)
			if (c->apic_ids[i] == c->apic_ids[j])
				return false;
	}
	if (!below_4g(c->lapic_gpa, 4096) || !below_4g(c->ioapic_gpa, 4096) ||
	    c->ioapic_id > 255 || c->uart_irq > 15 || c->n_mmio_devs > 8)
		return false;
	for (unsigned i = 0; i < c->n_mmio_devs; i++)
		if (!below_4g(c->mmio_devs[i].gpa, c->mmio_devs[i].size))
			return false;
	if (c->oem_id) {
		oem_len = strlen(c->oem_id);
		if (oem_len < 1 || oem_len > 6)
			return false;
		for (size_t i = 0; i < oem_len; i++)
			if (c->oem_id[i] < 0x20 || c->oem_id[i] > 0x7e)
				return false;
	}
	return true;
}

/* ---- the walk ----------------------------------------------------------- */

struct view {
	const uint8_t *buf;
	size_t used;
	uint64_t base;
};

static const uint8_t *at(const struct view *v, uint64_t gpa, size_t len)
{
	CHECK(gpa >= v->base && gpa - v->base <= v->used);
	CHECK(len <= v->used - (gpa - v->base));
	return v->buf + (gpa - v->base);
}

static const uint8_t *sdt(const struct view *v, uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(v, gpa, 36);

	CHECK(gpa % 16 == 0);
	CHECK(memcmp(t, sig, 4) == 0);
	CHECK(rd32(t + 4) >= 36);
	at(v, gpa, rd32(t + 4));
	CHECK(sum8(t, rd32(t + 4)) == 0);
	return t;
}

/* PkgLength (ACPI 6.5 20.2.4), minimal encoding. */
static uint32_t pkglen(const uint8_t *p, const uint8_t *end, unsigned *nb)
{
	unsigned k = p[0] >> 6;
	uint32_t v = k ? p[0] & 0xf : p[0] & 0x3f;

	CHECK(p + k < end);
	CHECK(k == 0 || (p[0] & 0x30) == 0);
	for (unsigned i = 1; i <= k; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	CHECK(k == 0 || v > (k == 1 ? 0x3fu : k == 2 ? 0xfffu : 0xfffffu));
	*nb = k + 1;
	return v;
}

/* The AML subset the builder emits: Scope, Device, Name with integer,
 * string or buffer.  Returns the number of Devices. */
static unsigned termlist(const uint8_t *p, const uint8_t *end)
{
	unsigned ndev = 0;

	while (p < end) {
		unsigned nb;
		if (p[0] == 0x10 || (p[0] == 0x5b && end - p >= 2 && p[1] == 0x82)) {
			const uint8_t *pk = p + (p[0] == 0x10 ? 1 : 2);
			const uint8_t *pend = pk + pkglen(pk, end, &nb);
			const uint8_t *q = pk + nb;

			CHECK(pend <= end && q < pend);
			q += (*q == 0x5c);
			CHECK(pend - q >= 4);
			ndev += (p[0] == 0x5b) + termlist(q + 4, pend);
			p = pend;
			continue;
		}
		CHECK(p[0] == 0x08 && end - p >= 6);
		p += 5;
		switch (p[0]) {
		case 0x00: case 0x01: case 0xff: p += 1; break;
		case 0x0a: p += 2; break;
		case 0x0b: p += 3; break;
		case 0x0c: p += 5; break;
		case 0x0e: p += 9; break;
		case 0x0d: {
			const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
			CHECK(nul != NULL);
			p = nul + 1;
			break;
		}
		case 0x11: {
			const uint8_t *pend = p + 1 + pkglen(p + 1, end, &nb);
			CHECK(pend <= end);
			p = pend;
			break;
		}
		default:
			CHECK(!"unexpected data object");
		}
		CHECK(p <= end);
	}
	CHECK(p == end);
	return ndev;
}

static void check_tables(const struct guest_acpi_cfg *c, const struct view *v, uint64_t rsdp)
{
	const uint8_t *r = at(v, rsdp, 36), *x, *rs, *fadt = NULL, *madt = NULL, *dsdt;
	uint32_t n, len, o, cpus = 0, x2 = 0, io = 0, iso = 0, nmi = 0, x2nmi = 0;

	CHECK(rsdp == v->base);
	CHECK(memcmp(r, "RSD PTR ", 8) == 0 && sum8(r, 20) == 0 && sum8(r, 36) == 0);
	CHECK(r[15] == 2 && rd32(r + 20) == 36);
	x = sdt(v, rd64(r + 24), "XSDT");
	rs = sdt(v, rd32(r + 16), "RSDT");
	n = (rd32(x + 4) - 36) / 8;
	CHECK(n == 2 && rd32(rs + 4) == 36 + 4 * n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t g = rd64(x + 36 + 8 * i);
		CHECK(g == rd32(rs + 36 + 4 * i));
		if (memcmp(at(v, g, 4), "FACP", 4) == 0)
			fadt = sdt(v, g, "FACP");
		else
			madt = sdt(v, g, "APIC");
	}
	CHECK(fadt && madt);
	CHECK(rd32(fadt + 4) == 276 && (rd32(fadt + 112) & (1u << 20)));
	CHECK(rd32(fadt + 40) == rd64(fadt + 140));
	dsdt = sdt(v, rd64(fadt + 140), "DSDT");
	CHECK(dsdt + rd32(dsdt + 4) == v->buf + v->used);   /* last, ends at used */

	/* MADT entries tile the table; one per CPU, in order, with its id */
	len = rd32(madt + 4);
	CHECK(rd32(madt + 36) == c->lapic_gpa && rd32(madt + 40) == 0);
	for (o = 44; o < len; o += madt[o + 1]) {
		const uint8_t *e = madt + o;
		CHECK(len - o >= 2 && e[1] >= 2 && e[1] <= len - o);
		switch (e[0]) {
		case 0:
			CHECK(e[1] == 8 && cpus < c->ncpus);
			CHECK(e[3] == c->apic_ids[cpus] && c->apic_ids[cpus] < 255);
			CHECK(e[2] == cpus && rd32(e + 4) == 1);
			cpus++;
			break;
		case 9:
			CHECK(e[1] == 16 && cpus < c->ncpus);
			CHECK(rd32(e + 4) == c->apic_ids[cpus] && c->apic_ids[cpus] >= 255);
			CHECK(rd32(e + 12) == cpus && rd32(e + 8) == 1);
			cpus++, x2++;
			break;
		case 1:
			CHECK(e[1] == 12 && e[2] == c->ioapic_id);
			CHECK(rd32(e + 4) == c->ioapic_gpa && rd32(e + 8) == c->ioapic_gsi_base);
			io++;
			break;
		case 2:
			CHECK(e[1] == 10 && e[3] == 0 && rd32(e + 4) == 2);
			iso++;
			break;
		case 4:
			CHECK(e[1] == 6 && e[2] == 0xff && e[5] == 1);
			nmi++;
			break;
		case 10:
			CHECK(e[1] == 12 && rd32(e + 4) == 0xffffffffu && e[8] == 1);
			x2nmi++;
			break;
		default:
			CHECK(!"unexpected MADT entry");
		}
	}
	CHECK(o == len);
	CHECK(cpus == c->ncpus && io == 1 && nmi == 1);
	CHECK(iso == (c->isa_irq0_to_gsi2 ? 1u : 0u));
	CHECK(x2nmi == (x2 ? 1u : 0u));

	/* DSDT: one \_SB scope holding COM1 (if any) and the mmio devices */
	CHECK(dsdt[36] == 0x10);
	CHECK(termlist(dsdt + 36, dsdt + rd32(dsdt + 4)) ==
	      (c->uart_irq ? 1u : 0u) + c->n_mmio_devs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct guest_acpi_cfg c;
	char oem[8];
	uint8_t oem_len;
	uint64_t base, rsdp = 0;
	size_t buflen, used = 0;
	uint8_t *buf;
	int rc;

	memset(&c, 0, sizeof c);
	c.ncpus = (unsigned)fuzz_take(&in, 1) % 70;
	for (unsigned i = 0; i < c.ncpus && i < 64; i++)
		c.apic_ids[i] = take_id(&in);
	c.lapic_gpa = take_addr(&in, 0xfee00000);
	c.ioapic_gpa = take_addr(&in, 0xfec00000);
	c.ioapic_id = (uint32_t)fuzz_take(&in, 2) & 0x1ff;
	c.ioapic_gsi_base = (uint32_t)fuzz_take(&in, 4);
	c.isa_irq0_to_gsi2 = fuzz_take(&in, 1) & 1;
	c.uart_irq = (uint8_t)(fuzz_take(&in, 1) % 18);
	oem_len = (uint8_t)(fuzz_take(&in, 1) % 9);
	if (oem_len == 7) {
		c.oem_id = NULL;
	} else {
		if (oem_len == 8)
			oem_len = 7;
		for (unsigned i = 0; i < oem_len; i++)
			oem[i] = (char)fuzz_take(&in, 1);
		oem[oem_len] = 0;
		c.oem_id = oem;
	}
	c.n_mmio_devs = (unsigned)fuzz_take(&in, 1) % 10;
	for (unsigned i = 0; i < c.n_mmio_devs && i < 8; i++) {
		c.mmio_devs[i].gpa = fuzz_take(&in, 4);
		c.mmio_devs[i].size = fuzz_take(&in, 2);
		c.mmio_devs[i].gsi = (uint32_t)fuzz_take(&in, 4);
	}
	base = fuzz_take(&in, 4);
	buflen = (size_t)fuzz_take(&in, 2) % 6000;

	/* exactly buflen bytes, plus a tail we can watch for stray writes */
	buf = malloc(buflen + 1);
	CHECK(buf != NULL);
	memset(buf, 0x5a, buflen);
	rc = guest_acpi_build(&c, buf, buflen, base, &rsdp, &used);
	/* a valid cfg, an aligned base with room below 4 GiB, a big enough
	 * buffer: must succeed */
	if (expect_valid(&c) && base % 16 == 0 && buflen >= GUEST_ACPI_MAX_SIZE &&
	    base + GUEST_ACPI_MAX_SIZE <= (1ull << 32))
		CHECK(rc == 0);
	if (rc == 0) {
		struct view v = { buf, used, base };

		CHECK(expect_valid(&c) && base % 16 == 0 && base + used <= (1ull << 32));
		CHECK(used <= buflen && used <= GUEST_ACPI_MAX_SIZE);
		for (size_t i = used; i < buflen; i++)
			CHECK(buf[i] == 0x5a);
		check_tables(&c, &v, rsdp);
	}
	free(buf);
	return 0;
}
