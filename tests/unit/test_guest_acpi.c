/*
 * Unit tests: drivers/platform/guest_acpi.c.
 *
 * The tables are read back by a small checker written from the ACPI 6.5
 * spec, independently of the builder: it follows every pointer as a guest
 * would (GPA -> buffer offset), checks signatures, lengths, checksums and
 * alignment, walks the MADT, and decodes the DSDT's AML (every PkgLength
 * must end exactly where its package does) down to the _CRS resource
 * descriptors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "drivers/platform/guest_acpi.h"

/* ---- the independent checker ------------------------------------------- */

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

/* What a guest sees: the buffer at base_gpa, `used` bytes long. */
struct view {
	const uint8_t *buf;
	size_t used;
	uint64_t base;
};

/* The bytes at gpa, if [gpa, gpa+len) lies inside the tables. */
static const uint8_t *at(const struct view *v, uint64_t gpa, size_t len)
{
	assert_true(gpa >= v->base);
	assert_true(gpa - v->base <= v->used);
	assert_true(len <= v->used - (gpa - v->base));
	return v->buf + (gpa - v->base);
}

/* A System Description Table at gpa with this signature (5.2.6). */
static const uint8_t *sdt(const struct view *v, uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(v, gpa, 36);
	uint32_t len = rd32(t + 4);

	assert_int_equal(gpa % 16, 0);          /* our promise: 16-aligned */
	assert_memory_equal(t, sig, 4);
	assert_true(len >= 36);
	at(v, gpa, len);
	assert_int_equal(sum8(t, len), 0);
	return t;
}

struct madt_info {
	uint32_t lapic_addr, flags;
	unsigned n_lapic, n_x2apic, n_ioapic, n_iso, n_nmi, n_x2nmi, n_other;
	uint32_t cpu_id[64], cpu_uid[64], cpu_flags[64];
	uint8_t cpu_type[64];
	unsigned ncpu;
	uint8_t ioapic_id;
	uint32_t ioapic_addr, ioapic_gsi;
	uint8_t iso_bus, iso_src;
	uint32_t iso_gsi;
	uint16_t iso_flags;
	uint8_t nmi_uid, nmi_lint;
	uint16_t nmi_flags;
	uint32_t x2nmi_uid;
	uint8_t x2nmi_lint;
};

static void walk_madt(const uint8_t *t, struct madt_info *m)
{
	uint32_t len = rd32(t + 4), o = 44;

	memset(m, 0, sizeof *m);
	assert_int_equal(t[8], 6);              /* ACPI 6.5 MADT revision */
	m->lapic_addr = rd32(t + 36);
	m->flags = rd32(t + 40);
	while (o < len) {
		const uint8_t *e = t + o;
		assert_true(len - o >= 2);
		assert_true(e[1] >= 2 && e[1] <= len - o);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			m->n_lapic++;
			m->cpu_type[m->ncpu] = 0;
			m->cpu_uid[m->ncpu] = e[2];
			m->cpu_id[m->ncpu] = e[3];
			m->cpu_flags[m->ncpu++] = rd32(e + 4);
			break;
		case 9:
			assert_int_equal(e[1], 16);
			assert_int_equal(rd16(e + 2), 0);
			m->n_x2apic++;
			m->cpu_type[m->ncpu] = 9;
			m->cpu_id[m->ncpu] = rd32(e + 4);
			m->cpu_flags[m->ncpu] = rd32(e + 8);
			m->cpu_uid[m->ncpu++] = rd32(e + 12);
			break;
		case 1:
			assert_int_equal(e[1], 12);
			m->n_ioapic++;
			m->ioapic_id = e[2];
			assert_int_equal(e[3], 0);
			m->ioapic_addr = rd32(e + 4);
			m->ioapic_gsi = rd32(e + 8);
			break;
		case 2:
			assert_int_equal(e[1], 10);
			m->n_iso++;
			m->iso_bus = e[2];
			m->iso_src = e[3];
			m->iso_gsi = rd32(e + 4);
			m->iso_flags = rd16(e + 8);
			break;
		case 4:
			assert_int_equal(e[1], 6);
			m->n_nmi++;
			m->nmi_uid = e[2];
			m->nmi_flags = rd16(e + 3);
			m->nmi_lint = e[5];
			break;
		case 10:
			assert_int_equal(e[1], 12);
			m->n_x2nmi++;
			m->x2nmi_uid = rd32(e + 4);
			m->x2nmi_lint = e[8];
			break;
		default:
			m->n_other++;
		}
		o += e[1];
	}
	assert_int_equal(o, len);               /* entries fill the table exactly */
}

/* -- AML (chapter 20), just the subset a small DSDT needs -- */

/* PkgLength (20.2.4): the value and how many bytes encode it.  Also checks
 * the reserved bits and that the encoding is the shortest possible. */
static uint32_t pkglen(const uint8_t *p, const uint8_t *end, unsigned *nbytes)
{
	unsigned k = p[0] >> 6;
	uint32_t v;

	assert_true(p + k < end);
	if (k == 0) {
		v = p[0] & 0x3f;
	} else {
		assert_int_equal(p[0] & 0x30, 0);
		v = p[0] & 0x0f;
		for (unsigned i = 1; i <= k; i++)
			v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	}
	*nbytes = k + 1;
	if (k == 1)
		assert_true(v > 0x3f);
	if (k == 2)
		assert_true(v > 0xfff);
	if (k == 3)
		assert_true(v > 0xfffff);
	return v;
}

/* What the test wants to know about each Device. */
struct aml_dev {
	char name[5];
	char scope[5];
	bool hid_is_str;
	uint32_t hid_int;
	char hid_str[16];
	uint64_t uid;
	bool has_uid, has_cca;
	uint64_t cca;
	const uint8_t *crs;
	size_t crs_len;
};

struct aml_walk {
	struct aml_dev dev[16];
	unsigned ndev;
	unsigned nscope;
	char scope[5];
	unsigned max_pkglen_bytes;
};

/* A DataRefObject: an integer, a string or a buffer.  Returns its size. */
static size_t aml_data(const uint8_t *p, const uint8_t *end, uint64_t *ival, const char **sval,
		       const uint8_t **bval, size_t *blen, struct aml_walk *w)
{
	*sval = NULL;
	*bval = NULL;
	assert_true(p < end);
	switch (p[0]) {
	case 0x00: *ival = 0; return 1;
	case 0x01: *ival = 1; return 1;
	case 0xff: *ival = ~0ull; return 1;
	case 0x0a: assert_true(end - p >= 2); *ival = p[1]; return 2;
	case 0x0b: assert_true(end - p >= 3); *ival = rd16(p + 1); return 3;
	case 0x0c: assert_true(end - p >= 5); *ival = rd32(p + 1); return 5;
	case 0x0e: assert_true(end - p >= 9); *ival = rd64(p + 1); return 9;
	case 0x0d: {
		const uint8_t *nul = memchr(p + 1, 0, (size_t)(end - p - 1));
		assert_non_null(nul);
		*sval = (const char *)p + 1;
		return (size_t)(nul - p) + 1;
	}
	case 0x11: {
		unsigned nb;
		uint32_t len = pkglen(p + 1, end, &nb);
		const uint8_t *pend = p + 1 + len, *q = p + 1 + nb;
		uint64_t size;
		const char *s;
		const uint8_t *b;
		size_t bl;

		if (nb > w->max_pkglen_bytes)
			w->max_pkglen_bytes = nb;
		assert_true(pend <= end);
		q += aml_data(q, pend, &size, &s, &b, &bl, w);
		assert_null(s);
		assert_null(b);
		/* BufferSize equals the bytes that follow it in the package. */
		assert_int_equal(size, (uint64_t)(pend - q));
		*bval = q;
		*blen = (size_t)(pend - q);
		return (size_t)(pend - p);
	}
	}
	fail_msg("unexpected data object opcode 0x%02x", p[0]);
	return 0;
}

static bool nameseg_ok(const uint8_t *s)
{
	for (int i = 0; i < 4; i++) {
		bool up = s[i] >= 'A' && s[i] <= 'Z', dig = s[i] >= '0' && s[i] <= '9';
		if (!(up || s[i] == '_' || (i > 0 && dig)))
			return false;
	}
	return true;
}

static void aml_termlist(const uint8_t *p, const uint8_t *end, struct aml_walk *w,
			 struct aml_dev *in_dev)
{
	while (p < end) {
		if (p[0] == 0x10 || (p[0] == 0x5b && end - p >= 2 && p[1] == 0x82)) {
			bool is_dev = p[0] == 0x5b;
			const uint8_t *pk = p + (is_dev ? 2 : 1), *q, *pend;
			unsigned nb;
			uint32_t len = pkglen(pk, end, &nb);

			if (nb > w->max_pkglen_bytes)
				w->max_pkglen_bytes = nb;
			pend = pk + len;
			assert_true(pend <= end);       /* package inside its parent */
			q = pk + nb;
			if (*q == 0x5c)                 /* RootChar */
				q++;
			assert_true(pend - q >= 4);
			assert_true(nameseg_ok(q));
			if (is_dev) {
				struct aml_dev *d = &w->dev[w->ndev++];
				assert_null(in_dev);    /* no nested devices here */
				assert_true(w->ndev <= 16);
				memset(d, 0, sizeof *d);
				memcpy(d->name, q, 4);
				memcpy(d->scope, w->scope, 5);
				aml_termlist(q + 4, pend, w, d);
			} else {
				w->nscope++;
				memcpy(w->scope, q, 4);
				aml_termlist(q + 4, pend, w, in_dev);
			}
			p = pend;
		} else if (p[0] == 0x08) {              /* Name (seg, data) */
			uint64_t iv = 0;
			const char *sv;
			const uint8_t *bv;
			size_t bl = 0, n;

			assert_true(end - p >= 6);
			assert_true(nameseg_ok(p + 1));
			n = aml_data(p + 5, end, &iv, &sv, &bv, &bl, w);
			assert_non_null(in_dev);
			if (memcmp(p + 1, "_HID", 4) == 0) {
				in_dev->hid_is_str = sv != NULL;
				if (sv)
					strncpy(in_dev->hid_str, sv, sizeof in_dev->hid_str - 1);
				else
					in_dev->hid_int = (uint32_t)iv;
			} else if (memcmp(p + 1, "_UID", 4) == 0) {
				in_dev->has_uid = true;
				in_dev->uid = iv;
			} else if (memcmp(p + 1, "_CCA", 4) == 0) {
				in_dev->has_cca = true;
				in_dev->cca = iv;
			} else if (memcmp(p + 1, "_CRS", 4) == 0) {
				assert_non_null(bv);
				in_dev->crs = bv;
				in_dev->crs_len = bl;
			}
			p += 5 + n;
		} else {
			fail_msg("unexpected AML opcode 0x%02x", p[0]);
		}
	}
	assert_true(p == end);
}

/* -- resource descriptors (6.4) -- */
struct res {
	unsigned n_io, n_irq, n_mem32, n_extirq;
	uint16_t io_min, io_max;
	uint8_t io_info, io_len;
	uint16_t irq_mask;
	uint32_t mem_base, mem_len;
	uint8_t mem_info;
	uint8_t ext_flags;
	uint32_t ext_gsi;
};

static void walk_res(const uint8_t *r, size_t n, struct res *out)
{
	size_t o = 0;

	memset(out, 0, sizeof *out);
	for (;;) {
		assert_true(o < n);
		if (r[o] & 0x80) {                      /* large item */
			uint16_t len;
			assert_true(n - o >= 3);
			len = rd16(r + o + 1);
			assert_true(n - o - 3 >= len);
			if (r[o] == 0x86) {
				assert_int_equal(len, 9);
				out->n_mem32++;
				out->mem_info = r[o + 3];
				out->mem_base = rd32(r + o + 4);
				out->mem_len = rd32(r + o + 8);
			} else if (r[o] == 0x89) {
				assert_int_equal(r[o + 4], 1);          /* one interrupt */
				assert_int_equal(len, 2 + 4 * r[o + 4]);
				out->n_extirq++;
				out->ext_flags = r[o + 3];
				out->ext_gsi = rd32(r + o + 5);
			} else {
				fail_msg("unexpected large resource 0x%02x", r[o]);
			}
			o += 3 + len;
		} else {                                /* small item */
			uint8_t type = (r[o] >> 3) & 0xf, len = r[o] & 7;
			assert_true(n - o - 1 >= len);
			if (type == 0xf) {                     /* end tag */
				assert_int_equal(len, 1);
				/* checksum 0, or makes the template sum to 0 */
				assert_true(r[o + 1] == 0 || sum8(r, o + 2) == 0);
				assert_int_equal(o + 2, n);  /* nothing after it */
				return;
			} else if (type == 4) {
				assert_int_equal(len, 2);
				out->n_irq++;
				out->irq_mask = rd16(r + o + 1);
			} else if (type == 8) {
				assert_int_equal(len, 7);
				out->n_io++;
				out->io_info = r[o + 1];
				out->io_min = rd16(r + o + 2);
				out->io_max = rd16(r + o + 4);
				out->io_len = r[o + 7];
			} else {
				fail_msg("unexpected small resource type %u", type);
			}
			o += 1 + len;
		}
	}
}

/* Everything a guest would find, checked on the way. */
struct found {
	const uint8_t *rsdp, *xsdt, *rsdt, *fadt, *madt, *dsdt;
	uint64_t xsdt_gpa, rsdt_gpa, fadt_gpa, madt_gpa, dsdt_gpa;
	struct madt_info m;
	struct aml_walk aml;
};

static void check_all(const struct view *v, uint64_t rsdp_gpa, struct found *f)
{
	const uint8_t *r;
	uint32_t xn, rn;

	memset(f, 0, sizeof *f);
	/* RSDP (5.2.5.3) */
	assert_int_equal(rsdp_gpa % 16, 0);
	r = f->rsdp = at(v, rsdp_gpa, 36);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum8(r, 20), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(rd32(r + 20), 36);
	assert_int_equal(sum8(r, 36), 0);
	assert_memory_equal(r + 33, "\0\0\0", 3);

	/* XSDT and RSDT list the same tables */
	f->xsdt_gpa = rd64(r + 24);
	f->rsdt_gpa = rd32(r + 16);
	f->xsdt = sdt(v, f->xsdt_gpa, "XSDT");
	f->rsdt = sdt(v, f->rsdt_gpa, "RSDT");
	assert_int_equal((rd32(f->xsdt + 4) - 36) % 8, 0);
	assert_int_equal((rd32(f->rsdt + 4) - 36) % 4, 0);
	xn = (rd32(f->xsdt + 4) - 36) / 8;
	rn = (rd32(f->rsdt + 4) - 36) / 4;
	assert_int_equal(xn, rn);
	for (uint32_t i = 0; i < xn; i++) {
		uint64_t g = rd64(f->xsdt + 36 + 8 * i);
		const uint8_t *t;

		assert_int_equal(g, rd32(f->rsdt + 36 + 4 * i));
		t = at(v, g, 36);
		if (memcmp(t, "FACP", 4) == 0) {
			assert_null(f->fadt);
			f->fadt = sdt(v, g, "FACP");
			f->fadt_gpa = g;
		} else if (memcmp(t, "APIC", 4) == 0) {
			assert_null(f->madt);
			f->madt = sdt(v, g, "APIC");
			f->madt_gpa = g;
		} else {
			fail_msg("unexpected table %.4s", (const char *)t);
		}
	}
	assert_non_null(f->fadt);
	assert_non_null(f->madt);

	/* FADT (5.2.9) */
	assert_int_equal(rd32(f->fadt + 4), 276);
	assert_int_equal(f->fadt[8], 6);
	assert_int_equal(f->fadt[131], 5);                  /* minor version */
	assert_true(rd32(f->fadt + 112) & (1u << 20));      /* HW_REDUCED_ACPI */
	assert_false(rd32(f->fadt + 112) & (1u << 10));     /* no reset reg */
	assert_int_equal(rd32(f->fadt + 76), 0);            /* no PM timer */
	assert_int_equal(rd32(f->fadt + 36), 0);            /* no FACS */
	assert_int_equal(rd64(f->fadt + 132), 0);
	assert_int_equal(rd16(f->fadt + 46), 0);            /* no SCI */
	for (int i = 0; i < 12; i++)                        /* X_PM_TMR_BLK */
		assert_int_equal(f->fadt[208 + i], 0);
	f->dsdt_gpa = rd64(f->fadt + 140);
	assert_int_equal(rd32(f->fadt + 40), f->dsdt_gpa);  /* DSDT == X_DSDT */
	f->dsdt = sdt(v, f->dsdt_gpa, "DSDT");

	/* MADT (5.2.12) */
	walk_madt(f->madt, &f->m);

	/* DSDT (5.2.11.1): header, then one TermList filling the table */
	assert_int_equal(f->dsdt[8], 2);
	aml_termlist(f->dsdt + 36, f->dsdt + rd32(f->dsdt + 4), &f->aml, NULL);

	/* Every table lies within what the builder said it used, and the
	 * last one ends exactly there. */
	assert_int_equal(f->dsdt_gpa + rd32(f->dsdt + 4), v->base + v->used);
	/* OEM ids agree */
	assert_memory_equal(f->rsdp + 9, f->xsdt + 10, 6);
	assert_memory_equal(f->fadt + 10, f->madt + 10, 6);
	assert_memory_equal(f->dsdt + 10, f->rsdt + 10, 6);
}

/* ---- fixtures ----------------------------------------------------------- */

static uint8_t buf[8192];

static struct guest_acpi_cfg pc_cfg(unsigned ncpus)
{
	struct guest_acpi_cfg c;

	memset(&c, 0, sizeof c);
	c.ncpus = ncpus;
	for (unsigned i = 0; i < ncpus; i++)
		c.apic_ids[i] = i;
	c.lapic_gpa = 0xfee00000;
	c.ioapic_id = 0;
	c.ioapic_gpa = 0xfec00000;
	c.ioapic_gsi_base = 0;
	c.isa_irq0_to_gsi2 = true;
	c.uart_irq = 4;
	c.oem_id = "NESTOR";
	return c;
}

static struct view build_ok(const struct guest_acpi_cfg *c, uint64_t base, uint64_t *rsdp)
{
	struct view v = { .buf = buf, .base = base };
	size_t used = 0;

	memset(buf, 0xa5, sizeof buf);          /* garbage: nothing may rely on 0 */
	assert_int_equal(guest_acpi_build(c, buf, sizeof buf, base, rsdp, &used), 0);
	assert_true(used > 0 && used <= GUEST_ACPI_MAX_SIZE);
	v.used = used;
	/* not a byte written past `used` */
	for (size_t i = used; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xa5);
	return v;
}

/* ---- tests -------------------------------------------------------------- */

/* A PC-like 4-CPU VM with COM1 and two virtio-mmio devices. */
static void test_pc_like(void **state)
{
	struct guest_acpi_cfg c = pc_cfg(4);
	struct found f;
	struct res r;
	uint64_t rsdp = 0;
	struct view v;

	(void)state;
	c.n_mmio_devs = 2;
	c.mmio_devs[0].gpa = 0xd0000000;
	c.mmio_devs[0].size = 0x200;
	c.mmio_devs[0].gsi = 16;
	c.mmio_devs[1].gpa = 0xd0000200;
	c.mmio_devs[1].size = 0x200;
	c.mmio_devs[1].gsi = 17;
	v = build_ok(&c, 0xe0000, &rsdp);
	assert_int_equal(rsdp, 0xe0000);        /* first: a BIOS-area scan finds it */
	check_all(&v, rsdp, &f);

	/* MADT */
	assert_int_equal(f.m.lapic_addr, 0xfee00000);
	assert_int_equal(f.m.flags, 0);         /* no PCAT_COMPAT (documented) */
	assert_int_equal(f.m.n_lapic, 4);
	assert_int_equal(f.m.n_x2apic, 0);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(f.m.cpu_id[i], i);
		assert_int_equal(f.m.cpu_uid[i], i);
		assert_int_equal(f.m.cpu_flags[i], 1);      /* enabled */
	}
	assert_int_equal(f.m.n_ioapic, 1);
	assert_int_equal(f.m.ioapic_addr, 0xfec00000);
	assert_int_equal(f.m.ioapic_gsi, 0);
	assert_int_equal(f.m.n_iso, 1);
	assert_int_equal(f.m.iso_bus, 0);
	assert_int_equal(f.m.iso_src, 0);
	assert_int_equal(f.m.iso_gsi, 2);
	assert_int_equal(f.m.iso_flags, 0);
	assert_int_equal(f.m.n_nmi, 1);
	assert_int_equal(f.m.nmi_uid, 0xff);
	assert_int_equal(f.m.nmi_lint, 1);
	assert_int_equal(f.m.nmi_flags, 5);
	assert_int_equal(f.m.n_x2nmi, 0);
	assert_int_equal(f.m.n_other, 0);

	/* DSDT: \_SB_ with COM1, VR00, VR01 */
	assert_int_equal(f.aml.nscope, 1);
	assert_int_equal(f.aml.ndev, 3);
	assert_string_equal(f.aml.dev[0].scope, "_SB_");
	assert_string_equal(f.aml.dev[0].name, "COM1");
	assert_false(f.aml.dev[0].hid_is_str);
	assert_int_equal(f.aml.dev[0].hid_int, 0x0105d041);    /* PNP0501 */
	assert_true(f.aml.dev[0].has_uid);
	walk_res(f.aml.dev[0].crs, f.aml.dev[0].crs_len, &r);
	assert_int_equal(r.n_io, 1);
	assert_int_equal(r.io_min, 0x3f8);
	assert_int_equal(r.io_max, 0x3f8);
	assert_int_equal(r.io_len, 8);
	assert_int_equal(r.io_info & 1, 1);                     /* 16-bit decode */
	assert_int_equal(r.n_irq, 1);
	assert_int_equal(r.irq_mask, 1u << 4);

	for (unsigned i = 0; i < 2; i++) {
		struct aml_dev *d = &f.aml.dev[1 + i];
		char name[5] = { 'V', 'R', '0', (char)('0' + i), 0 };

		assert_string_equal(d->name, name);
		assert_true(d->hid_is_str);
		assert_string_equal(d->hid_str, "LNRO0005");
		assert_true(d->has_uid);
		assert_int_equal(d->uid, i);
		assert_true(d->has_cca);
		assert_int_equal(d->cca, 1);
		walk_res(d->crs, d->crs_len, &r);
		assert_int_equal(r.n_mem32, 1);
		assert_int_equal(r.mem_base, c.mmio_devs[i].gpa);
		assert_int_equal(r.mem_len, c.mmio_devs[i].size);
		assert_int_equal(r.mem_info, 1);                /* read/write */
		assert_int_equal(r.n_extirq, 1);
		assert_int_equal(r.ext_gsi, c.mmio_devs[i].gsi);
		/* consumer, level, active-high, exclusive */
		assert_int_equal(r.ext_flags, 0x01);
	}
}

/* APIC ids >= 255 get x2APIC entries, and then an x2APIC NMI entry too. */
static void test_x2apic_ids(void **state)
{
	struct guest_acpi_cfg c = pc_cfg(5);
	static const uint32_t ids[5] = { 0, 254, 255, 256, 0x12345 };
	struct found f;
	uint64_t rsdp;
	struct view v;

	(void)state;
	memcpy(c.apic_ids, ids, sizeof ids);
	v = build_ok(&c, 0x100000, &rsdp);
	check_all(&v, rsdp, &f);
	assert_int_equal(f.m.n_lapic, 2);
	assert_int_equal(f.m.n_x2apic, 3);
	assert_int_equal(f.m.ncpu, 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(f.m.cpu_id[i], ids[i]);
		assert_int_equal(f.m.cpu_uid[i], i);
		assert_int_equal(f.m.cpu_type[i], ids[i] >= 255 ? 9 : 0);
		assert_int_equal(f.m.cpu_flags[i], 1);
	}
	assert_int_equal(f.m.n_nmi, 1);
	assert_int_equal(f.m.n_x2nmi, 1);
	assert_int_equal(f.m.x2nmi_uid, 0xffffffffu);
	assert_int_equal(f.m.x2nmi_lint, 1);
}

/* No override, no COM1, no devices: the DSDT is an empty \_SB scope. */
static void test_minimal(void **state)
{
	struct guest_acpi_cfg c = pc_cfg(1);
	static const uint8_t aml[] = { 0x10, 0x06, 0x5c, '_', 'S', 'B', '_' };
	struct found f;
	uint64_t rsdp;
	struct view v;

	(void)state;
	c.isa_irq0_to_gsi2 = false;
	c.uart_irq = 0;
	c.oem_id = NULL;                        /* default */
	c.ioapic_id = 7;
	c.ioapic_gsi_base = 24;
	v = build_ok(&c, 0x7000, &rsdp);
	check_all(&v, rsdp, &f);
	assert_int_equal(f.m.n_iso, 0);
	assert_int_equal(f.m.ioapic_id, 7);
	assert_int_equal(f.m.ioapic_gsi, 24);
	assert_int_equal(f.aml.ndev, 0);
	assert_int_equal(rd32(f.dsdt + 4), 36 + sizeof aml);
	assert_memory_equal(f.dsdt + 36, aml, sizeof aml);
	assert_memory_equal(f.rsdp + 9, "NESTOR", 6);
}

/*
 * The COM1-only DSDT, assembled by hand from the ACPI 6.5 grammar; the
 * builder must produce exactly these bytes.
 */
static void test_dsdt_golden_com1(void **state)
{
	static const uint8_t aml[] = {
		0x10, 0x33, 0x5c, '_', 'S', 'B', '_',          /* Scope (\_SB), len 51 */
		0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1',          /* Device (COM1), len 43 */
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01, /* EisaId PNP0501 */
		0x08, '_', 'U', 'I', 'D', 0x01,                 /* Name (_UID, One) */
		0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d, /* Buffer, len 16, size 13 */
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO (Decode16, 3f8, 3f8, 1, 8) */
		0x22, 0x10, 0x00,                               /* IRQNoFlags () {4} */
		0x79, 0x00,                                     /* end tag */
	};
	struct guest_acpi_cfg c = pc_cfg(1);
	struct found f;
	uint64_t rsdp;
	struct view v;

	(void)state;
	v = build_ok(&c, 0x7000, &rsdp);
	check_all(&v, rsdp, &f);
	assert_int_equal(rd32(f.dsdt + 4), 36 + sizeof aml);
	assert_memory_equal(f.dsdt + 36, aml, sizeof aml);
}

/* The largest cfg: 64 x2APIC CPUs, 8 devices; the scope then needs a
 * two-byte PkgLength, and everything still fits GUEST_ACPI_MAX_SIZE. */
static void test_largest(void **state)
{
	struct guest_acpi_cfg c = pc_cfg(GUEST_ACPI_MAX_CPUS);
	struct found f;
	uint64_t rsdp;
	struct view v;

	(void)state;
	for (unsigned i = 0; i < GUEST_ACPI_MAX_CPUS; i++)
		c.apic_ids[i] = 0x1000 + 2 * i;
	c.n_mmio_devs = GUEST_ACPI_MAX_MMIO_DEVS;
	for (unsigned i = 0; i < GUEST_ACPI_MAX_MMIO_DEVS; i++) {
		c.mmio_devs[i].gpa = 0xfffff000 - 0x1000 * (uint64_t)i;
		c.mmio_devs[i].size = 0x1000;
		c.mmio_devs[i].gsi = 0xffffff00 + i;
	}
	v = build_ok(&c, 0xffffffff - GUEST_ACPI_MAX_SIZE - 0xfff, &rsdp);
	check_all(&v, rsdp, &f);
	assert_int_equal(f.m.n_x2apic, 64);
	assert_int_equal(f.aml.ndev, 9);
	assert_int_equal(f.aml.max_pkglen_bytes, 2);
	assert_string_equal(f.aml.dev[8].name, "VR07");
	assert_int_equal(f.aml.dev[8].uid, 7);
}

/* Every buffer length short of `used` fails and writes nothing past it. */
static void test_too_small(void **state)
{
	struct guest_acpi_cfg c = pc_cfg(8);
	size_t used = 0;
	uint64_t rsdp;

	(void)state;
	c.n_mmio_devs = 3;
	for (unsigned i = 0; i < 3; i++) {
		c.mmio_devs[i].gpa = 0xd0000000 + 0x1000 * i;
		c.mmio_devs[i].size = 0x1000;
		c.mmio_devs[i].gsi = 20 + i;
	}
	assert_int_equal(guest_acpi_build(&c, buf, sizeof buf, 0xe0000, &rsdp, &used), 0);
	for (size_t len = 0; len < used; len++) {
		memset(buf, 0xa5, sizeof buf);
		assert_int_equal(guest_acpi_build(&c, buf, len, 0xe0000, &rsdp, NULL), -1);
		for (size_t i = len; i < sizeof buf; i++)
			assert_int_equal(buf[i], 0xa5);
	}
	assert_int_equal(guest_acpi_build(&c, buf, used, 0xe0000, NULL, NULL), 0);
}

/* Builds are deterministic and independent of the buffer's old contents. */
static void test_deterministic(void **state)
{
	static uint8_t a[4096], b[4096];
	struct guest_acpi_cfg c = pc_cfg(3);
	size_t ua, ub;
	uint64_t r;

	(void)state;
	memset(a, 0x00, sizeof a);
	memset(b, 0xff, sizeof b);
	assert_int_equal(guest_acpi_build(&c, a, sizeof a, 0x9000, &r, &ua), 0);
	assert_int_equal(guest_acpi_build(&c, b, sizeof b, 0x9000, &r, &ub), 0);
	assert_int_equal(ua, ub);
	assert_memory_equal(a, b, ua);
}

static void test_invalid(void **state)
{
	struct guest_acpi_cfg good = pc_cfg(2), c;
	uint64_t r;
	size_t u;

	(void)state;
	good.n_mmio_devs = 1;
	good.mmio_devs[0].gpa = 0xd0000000;
	good.mmio_devs[0].size = 0x200;
	good.mmio_devs[0].gsi = 5;
	assert_int_equal(guest_acpi_build(&good, buf, sizeof buf, 0xe0000, &r, &u), 0);

#define BAD(stmt, base) do { c = good; stmt; \
		assert_int_equal(guest_acpi_build(&c, buf, sizeof buf, base, &r, &u), -1); } while (0)
	BAD(c.ncpus = 0, 0xe0000);
	BAD(c.ncpus = GUEST_ACPI_MAX_CPUS + 1, 0xe0000);
	BAD(c.apic_ids[1] = c.apic_ids[0], 0xe0000);            /* duplicate */
	BAD(c.apic_ids[1] = 0xffffffffu, 0xe0000);               /* broadcast */
	BAD(c.lapic_gpa = 0x100000000ull, 0xe0000);
	BAD(c.ioapic_gpa = 0xfffff800, 0xe0000);                 /* page crosses 4G */
	BAD(c.ioapic_id = 256, 0xe0000);
	BAD(c.uart_irq = 16, 0xe0000);
	BAD(c.n_mmio_devs = GUEST_ACPI_MAX_MMIO_DEVS + 1, 0xe0000);
	BAD(c.mmio_devs[0].size = 0, 0xe0000);
	BAD(c.mmio_devs[0].gpa = 0xfffff000; c.mmio_devs[0].size = 0x2000, 0xe0000);
	BAD(c.oem_id = "", 0xe0000);
	BAD(c.oem_id = "SEVENCH", 0xe0000);
	BAD(c.oem_id = "A\tB", 0xe0000);
	BAD((void)0, 0xe0008);                                   /* misaligned */
	BAD((void)0, 0x100000000ull);                            /* above 4G */
	BAD((void)0, 0x100000000ull - 256);                      /* crosses 4G */
#undef BAD
	assert_int_equal(guest_acpi_build(NULL, buf, sizeof buf, 0xe0000, &r, &u), -1);
	assert_int_equal(guest_acpi_build(&good, NULL, 4096, 0xe0000, &r, &u), -1);

	/* still fine: an id of 0xfe, a short oem id (space-padded) */
	c = good;
	c.apic_ids[1] = 0xfe;
	c.oem_id = "ABC";
	assert_int_equal(guest_acpi_build(&c, buf, sizeof buf, 0xe0000, &r, &u), 0);
	assert_memory_equal(buf + 9, "ABC   ", 6);
}

/* The PkgLength encoder at every size boundary, decoded back by the
 * checker's decoder. */
static void test_pkglen(void **state)
{
	static const struct { size_t body; int n; uint8_t enc[4]; } cases[] = {
		{ 0, 1, { 0x01 } },
		{ 62, 1, { 0x3f } },
		{ 63, 2, { 0x41, 0x04 } },              /* 65 = 0x041 */
		{ 4093, 2, { 0x4f, 0xff } },            /* 4095 = 0xfff */
		{ 4094, 3, { 0x81, 0x00, 0x01 } },      /* 4097 = 0x1001 */
		{ 0xfffff - 3, 3, { 0x8f, 0xff, 0xff } },
		{ 0xfffff - 2, 4, { 0xc1, 0x00, 0x00, 0x01 } }, /* 0x100001 */
		{ 0xfffffff - 4, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t enc[4], tail[8] = { 0 };
	unsigned nb;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(enc, 0xee, sizeof enc);
		assert_int_equal(guest_acpi_aml_pkglen(cases[i].body, enc), cases[i].n);
		assert_memory_equal(enc, cases[i].enc, (size_t)cases[i].n);
	}
	assert_int_equal(guest_acpi_aml_pkglen(0xfffffff - 3, enc), -1);
	assert_int_equal(guest_acpi_aml_pkglen((size_t)-1, enc), -1);

	for (size_t body = 0; body < 0x110000; body += (body < 5000 ? 1 : 97)) {
		int n = guest_acpi_aml_pkglen(body, enc);
		assert_true(n >= 1 && n <= 4);
		memcpy(tail, enc, (size_t)n);
		assert_int_equal(pkglen(tail, tail + sizeof tail, &nb), body + (size_t)n);
		assert_int_equal(nb, (unsigned)n);
	}
}

static void test_eisaid(void **state)
{
	(void)state;
	assert_int_equal(guest_acpi_eisaid("PNP0501"), 0x0105d041);
	assert_int_equal(guest_acpi_eisaid("PNP0A03"), 0x030ad041);     /* PCI host */
	assert_int_equal(guest_acpi_eisaid("PNP0C0F"), 0x0f0cd041);
	assert_int_equal(guest_acpi_eisaid("pnp0501"), -1);
	assert_int_equal(guest_acpi_eisaid("PNP050"), -1);
	assert_int_equal(guest_acpi_eisaid("PNP05011"), -1);
	assert_int_equal(guest_acpi_eisaid("PNP0G01"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pc_like),
		cmocka_unit_test(test_x2apic_ids),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_dsdt_golden_com1),
		cmocka_unit_test(test_largest),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_pkglen),
		cmocka_unit_test(test_eisaid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
