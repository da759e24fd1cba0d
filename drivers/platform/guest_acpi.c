/*
 * The ACPI tables of a VM: see guest_acpi.h for what is built and why.
 * Section numbers are those of the ACPI 6.5 specification.
 *
 * How the file reads, top to bottom:
 *   1. little-endian stores and checksums
 *   2. validating the cfg
 *   3. the fixed tables: RSDP, XSDT, RSDT, FADT
 *   4. the MADT
 *   5. a tiny AML writer, then the DSDT
 *   6. guest_acpi_build(): layout and assembly
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drivers/platform/guest_acpi.h"

/* ---- 1. byte helpers ---------------------------------------------------- */

/* ACPI is little-endian throughout; store byte by byte so nothing depends on
 * the host's endianness or on the alignment of buf. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A checksum byte makes the bytes of the whole range sum to 0 mod 256
 * (5.2.5.3 for the RSDP, 5.2.6 for every other table). */
static void set_checksum(uint8_t *p, size_t len, size_t at)
{
	uint8_t sum = 0;

	p[at] = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	p[at] = (uint8_t)(0x100 - sum);
}

static size_t align16(size_t x)
{
	return (x + 15) & ~(size_t)15;
}

/* ---- 2. the cfg --------------------------------------------------------- */

#define FOUR_GIB 0x100000000ull

/* Is [gpa, gpa + size) non-empty and entirely below 4 GiB? */
static bool below_4g(uint64_t gpa, uint64_t size)
{
	return size > 0 && gpa < FOUR_GIB && size <= FOUR_GIB - gpa;
}

/* The OEM ID (5.2.6): six bytes, space-padded, from cfg->oem_id. */
static bool oem_id_of(const char *s, char out[6])
{
	size_t n = 0;

	if (s == NULL)
		s = "NESTOR";
	for (; n < 6 && s[n] != '\0'; n++) {
		if (s[n] < 0x20 || s[n] > 0x7e)
			return false;
		out[n] = s[n];
	}
	if (n == 0 || s[n] != '\0')
		return false;           /* empty, or longer than 6 characters */
	for (; n < 6; n++)
		out[n] = ' ';
	return true;
}

static bool cfg_valid(const struct guest_acpi_cfg *c)
{
	if (c->ncpus == 0 || c->ncpus > GUEST_ACPI_MAX_CPUS)
		return false;
	for (unsigned i = 0; i < c->ncpus; i++) {
		/* 0xffffffff is the x2APIC broadcast id; no CPU has it. */
		if (c->apic_ids[i] == 0xffffffffu)
			return false;
		for (unsigned j = 0; j < i; j++)
			if (c->apic_ids[j] == c->apic_ids[i])
				return false;
	}
	/* The MADT's Local Interrupt Controller Address and the IOAPIC
	 * structure's address are 32-bit fields; an IOAPIC id is 8 bits. */
	if (!below_4g(c->lapic_gpa, 0x1000) || !below_4g(c->ioapic_gpa, 0x1000))
		return false;
	if (c->ioapic_id > 0xff)
		return false;
	/* The COM1 IRQ is an ISA IRQ, given in a 16-bit IRQ mask (6.4.2.1). */
	if (c->uart_irq > 15)
		return false;
	if (c->n_mmio_devs > GUEST_ACPI_MAX_MMIO_DEVS)
		return false;
	for (unsigned i = 0; i < c->n_mmio_devs; i++)
		if (!below_4g(c->mmio_devs[i].gpa, c->mmio_devs[i].size))
			return false;
	return true;
}

/* ---- 3. fixed tables ---------------------------------------------------- */

/* What every table shares. */
struct ctx {
	const struct guest_acpi_cfg *c;
	char oem_id[6];
};

/*
 * The 36-byte System Description Table Header (5.2.6, Table 5.4):
 *   0 Signature[4]  4 Length  8 Revision  9 Checksum  10 OEMID[6]
 *  16 OEM Table ID[8]  24 OEM Revision  28 Creator ID  32 Creator Revision
 * Length and Checksum are filled in by sdt_finish() once the body is known.
 */
#define SDT_HEADER_LEN 36

static void sdt_start(const struct ctx *x, uint8_t *t, const char sig[4], uint8_t rev)
{
	memcpy(t, sig, 4);
	t[8] = rev;
	memcpy(t + 10, x->oem_id, 6);
	memcpy(t + 16, "NESTORVM", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "NSTR", 4);      /* the tool that made the table: us */
	put32(t + 32, 1);
}

static void sdt_finish(uint8_t *t, size_t len)
{
	put32(t + 4, (uint32_t)len);
	set_checksum(t, len, 9);
}

/*
 * RSDP, revision 2 (5.2.5.3, Table 5.3), 36 bytes:
 *   0 "RSD PTR "  8 Checksum (bytes 0-19)  9 OEMID[6]  15 Revision
 *  16 RsdtAddress (32-bit)  20 Length  24 XsdtAddress (64-bit)
 *  32 Extended Checksum (all 36 bytes)  33 Reserved[3]
 */
#define RSDP_LEN 36

static void build_rsdp(const struct ctx *x, uint8_t *p, uint64_t rsdt, uint64_t xsdt)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, x->oem_id, 6);
	p[15] = 2;
	put32(p + 16, (uint32_t)rsdt);
	put32(p + 20, RSDP_LEN);
	put64(p + 24, xsdt);
	set_checksum(p, 20, 8);         /* the ACPI 1.0 part first ...      */
	set_checksum(p, RSDP_LEN, 32);  /* ... then the whole, including it */
}

/* XSDT (5.2.8): header + 64-bit entries; RSDT (5.2.7): 32-bit entries.
 * Both list FADT then MADT; the DSDT is reached through the FADT only. */
#define N_SDT_ENTRIES 2

static size_t build_xsdt(const struct ctx *x, uint8_t *t, const uint64_t gpa[N_SDT_ENTRIES])
{
	size_t len = SDT_HEADER_LEN + 8 * N_SDT_ENTRIES;

	sdt_start(x, t, "XSDT", 1);
	for (unsigned i = 0; i < N_SDT_ENTRIES; i++)
		put64(t + SDT_HEADER_LEN + 8 * i, gpa[i]);
	sdt_finish(t, len);
	return len;
}

static size_t build_rsdt(const struct ctx *x, uint8_t *t, const uint64_t gpa[N_SDT_ENTRIES])
{
	size_t len = SDT_HEADER_LEN + 4 * N_SDT_ENTRIES;

	sdt_start(x, t, "RSDT", 1);
	for (unsigned i = 0; i < N_SDT_ENTRIES; i++)
		put32(t + SDT_HEADER_LEN + 4 * i, (uint32_t)gpa[i]);
	sdt_finish(t, len);
	return len;
}

/*
 * FADT, revision 6 minor 5 (5.2.9, Table 5.9): 276 bytes.  On a
 * hardware-reduced platform (4.1; Flags bit 20) OSPM ignores every
 * fixed-hardware field: SCI_INT, SMI_CMD, the PM1/PM2/PM timer/GPE blocks
 * and their X_ forms, the C-state latencies, the century byte.  They stay
 * zero.  What is set, by offset:
 *    40 DSDT (32-bit) and 140 X_DSDT (64-bit): the same DSDT.  ACPI lets
 *       both be set; OSPM prefers X_DSDT (Table 5.9).
 *    45 Preferred_PM_Profile 0: unspecified.
 *   109 IAPC_BOOT_ARCH (5.2.9.3, Table 5.11): bit 2 "VGA Not Present",
 *       bit 5 "CMOS RTC Not Present"; bit 0 (LEGACY_DEVICES) and bit 1
 *       (8042) clear: COM1 is described in the DSDT instead.
 *   112 Flags (Table 5.10): WBINVD (0) works; PWR_BUTTON (4) and
 *       SLP_BUTTON (5) set = "no fixed-feature buttons"; HW_REDUCED_ACPI
 *       (20).  RESET_REG_SUP (10) clear: no reset register (RESET_REG at
 *       116 stays an all-zero GAS), so reboot falls back to other methods.
 *   131 FADT Minor Version 5.
 *   268 Hypervisor Vendor Identity: the OEM id, space-padded to 8 bytes.
 * FIRMWARE_CTRL/X_FIRMWARE_CTRL stay 0: with HW_REDUCED_ACPI set that means
 * "no FACS" (5.2.10), which is fine because there is no sleep/wake.
 */
#define FADT_LEN 276
#define FADT_DSDT 40
#define FADT_PM_PROFILE 45
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_MINOR_VERSION 131
#define FADT_X_DSDT 140
#define FADT_HYPERVISOR_ID 268

#define IAPC_VGA_NOT_PRESENT     (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)
#define FADT_F_WBINVD            (1u << 0)
#define FADT_F_PWR_BUTTON        (1u << 4)
#define FADT_F_SLP_BUTTON        (1u << 5)
#define FADT_F_HW_REDUCED_ACPI   (1u << 20)

static size_t build_fadt(const struct ctx *x, uint8_t *t, uint64_t dsdt)
{
	sdt_start(x, t, "FACP", 6);
	put32(t + FADT_DSDT, (uint32_t)dsdt);
	t[FADT_PM_PROFILE] = 0;
	put16(t + FADT_IAPC_BOOT_ARCH, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT);
	put32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
			      FADT_F_HW_REDUCED_ACPI);
	t[FADT_MINOR_VERSION] = 5;
	put64(t + FADT_X_DSDT, dsdt);
	memcpy(t + FADT_HYPERVISOR_ID, x->oem_id, 6);
	memcpy(t + FADT_HYPERVISOR_ID + 6, "  ", 2);
	sdt_finish(t, FADT_LEN);
	return FADT_LEN;
}

/* ---- 4. MADT ------------------------------------------------------------ */

/*
 * MADT, revision 6 (5.2.12, Table 5.19):
 *   36 Local Interrupt Controller Address (32-bit)   40 Flags
 *   44 interrupt controller structures, each {u8 type, u8 length, ...}
 *
 * Flags bit 0 PCAT_COMPAT says "there are also dual 8259s; mask them".
 * It is clear here, on purpose: the FADT declares a hardware-reduced
 * platform, on which Linux bypasses the legacy PIC altogether (x86
 * acpi_generic_reduced_hw_init installs its null PIC), and the measured
 * minimal platform has none.  A VM whose OS should use an emulated PIC
 * needs a full (not hardware-reduced) FADT as well as this flag.
 *
 * Structures emitted, in this order:
 *  - one per CPU: Processor Local APIC (type 0, 8 bytes, 5.2.12.2) when the
 *    APIC id fits in 8 bits and is not 0xff (the xAPIC broadcast id), else
 *    Processor Local x2APIC (type 9, 16 bytes, 5.2.12.12).  ACPI Processor
 *    UID = CPU index; flags = Enabled.
 *  - I/O APIC (type 1, 12 bytes, 5.2.12.3).
 *  - if asked, Interrupt Source Override (type 2, 10 bytes, 5.2.12.5): ISA
 *    IRQ 0 -> GSI 2, flags 0 = "conforms to the ISA bus" (edge, high), as
 *    on a PC where the PIT output is wired to IOAPIC pin 2.
 *  - Local APIC NMI (type 4, 6 bytes, 5.2.12.7): all processors (UID 0xff),
 *    LINT1, edge/active high (flags 0x5) -- the PC wiring.
 *  - if any CPU got an x2APIC entry, Local x2APIC NMI (type 10, 12 bytes,
 *    5.2.12.13) for all of them (UID 0xffffffff), LINT1: the type 4 entry
 *    only covers processors declared with type 0 entries.
 */
#define MADT_LAPIC_ADDR 36
#define MADT_FLAGS 40
#define MADT_ENTRIES 44

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_X2APIC 9
#define MADT_X2APIC_NMI 10

#define MADT_CPU_ENABLED 1u
#define MPS_INTI_HIGH_EDGE 0x5  /* polarity 01 = active high, trigger 01 = edge */
#define LINT1 1

static bool needs_x2apic_entry(uint32_t apic_id)
{
	return apic_id >= 0xff;
}

static size_t madt_len(const struct guest_acpi_cfg *c)
{
	size_t len = MADT_ENTRIES + 12 + 6;      /* + IOAPIC + LAPIC NMI */
	bool any_x2 = false;

	for (unsigned i = 0; i < c->ncpus; i++) {
		bool x2 = needs_x2apic_entry(c->apic_ids[i]);
		len += x2 ? 16 : 8;
		any_x2 |= x2;
	}
	if (c->isa_irq0_to_gsi2)
		len += 10;
	if (any_x2)
		len += 12;
	return len;
}

static size_t build_madt(const struct ctx *x, uint8_t *t)
{
	const struct guest_acpi_cfg *c = x->c;
	size_t o = MADT_ENTRIES;
	bool any_x2 = false;

	sdt_start(x, t, "APIC", 6);
	put32(t + MADT_LAPIC_ADDR, (uint32_t)c->lapic_gpa);
	put32(t + MADT_FLAGS, 0);               /* no PCAT_COMPAT: see above */

	for (unsigned i = 0; i < c->ncpus; i++) {
		uint32_t id = c->apic_ids[i];

		if (!needs_x2apic_entry(id)) {
			t[o + 0] = MADT_LAPIC;
			t[o + 1] = 8;
			t[o + 2] = (uint8_t)i;          /* ACPI Processor UID */
			t[o + 3] = (uint8_t)id;         /* APIC ID */
			put32(t + o + 4, MADT_CPU_ENABLED);
			o += 8;
		} else {
			t[o + 0] = MADT_X2APIC;
			t[o + 1] = 16;
			put16(t + o + 2, 0);            /* reserved */
			put32(t + o + 4, id);           /* X2APIC ID */
			put32(t + o + 8, MADT_CPU_ENABLED);
			put32(t + o + 12, i);           /* ACPI Processor UID */
			o += 16;
			any_x2 = true;
		}
	}

	t[o + 0] = MADT_IOAPIC;
	t[o + 1] = 12;
	t[o + 2] = (uint8_t)c->ioapic_id;
	t[o + 3] = 0;                                   /* reserved */
	put32(t + o + 4, (uint32_t)c->ioapic_gpa);
	put32(t + o + 8, c->ioapic_gsi_base);
	o += 12;

	if (c->isa_irq0_to_gsi2) {
		t[o + 0] = MADT_ISO;
		t[o + 1] = 10;
		t[o + 2] = 0;                           /* bus: ISA */
		t[o + 3] = 0;                           /* source: IRQ 0 */
		put32(t + o + 4, 2);                    /* GSI 2 */
		put16(t + o + 8, 0);                    /* conforms to ISA */
		o += 10;
	}

	t[o + 0] = MADT_LAPIC_NMI;
	t[o + 1] = 6;
	t[o + 2] = 0xff;                                /* all processors */
	put16(t + o + 3, MPS_INTI_HIGH_EDGE);
	t[o + 5] = LINT1;
	o += 6;

	if (any_x2) {
		t[o + 0] = MADT_X2APIC_NMI;
		t[o + 1] = 12;
		put16(t + o + 2, MPS_INTI_HIGH_EDGE);
		put32(t + o + 4, 0xffffffffu);          /* all processors */
		t[o + 8] = LINT1;
		t[o + 9] = t[o + 10] = t[o + 11] = 0;   /* reserved */
		o += 12;
	}

	sdt_finish(t, o);
	return o;
}

/* ---- 5. AML and the DSDT ------------------------------------------------ */

/*
 * AML is a byte stream (chapter 20).  A named object such as a Scope or a
 * Device is  Opcode PkgLength Name Contents  where PkgLength counts itself
 * plus everything up to the end of the package.  Because its own size (1 to
 * 4 bytes) depends on the value it encodes, the writer reserves one byte
 * when a package opens and, when it closes, encodes the real length
 * minimally, first sliding the contents up if the encoding needs more than
 * that byte.  The stream thus never grows past its final length: nothing
 * beyond the finished DSDT is written, not even for a moment.
 */
struct aml {
	uint8_t *p;        /* output */
	size_t cap;        /* bytes available at p */
	size_t len;        /* bytes written so far */
	bool overflow;     /* set once anything did not fit; output is void */
};

int guest_acpi_aml_pkglen(size_t body_len, uint8_t out[4])
{
	/*
	 * 20.2.4: the first byte's bits 7:6 give how many bytes follow (0-3).
	 * With none, bits 5:0 are the length (up to 63).  Otherwise bits 3:0
	 * are the low nibble and each following byte adds 8 more bits: 12,
	 * 20 or 28 bits in all.  The length includes the encoding itself.
	 */
	for (size_t k = 1; k <= 4; k++) {
		static const size_t max[5] = { 0, 0x3f, 0xfff, 0xfffff, 0xfffffff };
		size_t v;

		if (body_len > max[k] - k)
			continue;
		v = body_len + k;
		if (k == 1) {
			out[0] = (uint8_t)v;
			return 1;
		}
		out[0] = (uint8_t)(((k - 1) << 6) | (v & 0xf));
		for (size_t i = 1; i < k; i++)
			out[i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
		return (int)k;
	}
	return -1;
}

static void aml_bytes(struct aml *a, const void *s, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, s, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Opens a package: reserves one byte for its PkgLength; returns where. */
static size_t aml_open(struct aml *a)
{
	size_t at = a->len;

	aml_byte(a, 0);
	return at;
}

/* Closes the package opened at `at`: all written since is its body. */
static void aml_close(struct aml *a, size_t at)
{
	uint8_t enc[4];
	size_t body, n, grow;
	int k;

	if (a->overflow)
		return;
	body = at + 1;
	n = a->len - body;
	k = guest_acpi_aml_pkglen(n, enc);
	if (k < 0 || (size_t)k - 1 > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	grow = (size_t)k - 1;
	memmove(a->p + body + grow, a->p + body, n);
	memcpy(a->p + at, enc, (size_t)k);
	a->len += grow;
}

/* AML opcodes (20.2.3 data objects, 20.2.5 term objects). */
#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_NAME        0x08    /* NameOp NameString DataRefObject */
#define AML_BYTE        0x0a    /* BytePrefix ByteData */
#define AML_WORD        0x0b
#define AML_DWORD       0x0c
#define AML_STRING      0x0d    /* StringPrefix AsciiChar* NullChar */
#define AML_QWORD       0x0e
#define AML_SCOPE       0x10    /* ScopeOp PkgLength NameString TermList */
#define AML_BUFFER      0x11    /* BufferOp PkgLength BufferSize ByteList */
#define AML_EXT         0x5b    /* ExtOpPrefix */
#define AML_DEVICE      0x82    /* 5B 82 PkgLength NameString TermList */
#define AML_ONES        0xff
#define AML_ROOT        0x5c    /* '\' */

/* A NameSeg is exactly four characters: A-Z or '_' first, then A-Z 0-9 _
 * (20.2.2).  Shorter ASL names are padded with '_' ("_SB" is "_SB_"). */
static void aml_nameseg(struct aml *a, const char seg[4])
{
	aml_bytes(a, seg, 4);
}

/* Integers use the shortest form that holds the value (20.2.3). */
static void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		put16(b, (uint16_t)v);
		aml_bytes(a, b, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD);
		put32(b, (uint32_t)v);
		aml_bytes(a, b, 4);
	} else {
		aml_byte(a, AML_QWORD);
		put64(b, v);
		aml_bytes(a, b, 8);
	}
}

/* Name (seg, Integer) */
static void aml_name_int(struct aml *a, const char seg[4], uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_integer(a, v);
}

/* Name (seg, "string") */
static void aml_name_str(struct aml *a, const char seg[4], const char *s)
{
	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);     /* with its NUL */
}

/* Name (seg, Buffer () { res[0..n) }): how ResourceTemplate () compiles. */
static void aml_name_buffer(struct aml *a, const char seg[4], const uint8_t *res, size_t n)
{
	size_t pkg;

	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_byte(a, AML_BUFFER);
	pkg = aml_open(a);
	aml_integer(a, n);                  /* BufferSize */
	aml_bytes(a, res, n);
	aml_close(a, pkg);
}

int64_t guest_acpi_eisaid(const char *s)
{
	/*
	 * EISAID("PNP0501"): three letters of 5 bits each ('A' = 1) in bits
	 * 30:16 of a big-endian dword, then four hex digits; the AML integer
	 * holds those four bytes in that order, so as a little-endian value
	 * the bytes come out swapped: "PNP0501" -> 0x0105d041.
	 */
	uint32_t be = 0;

	for (int i = 0; i < 3; i++) {
		if (s[i] < 'A' || s[i] > 'Z')
			return -1;
		be = (be << 5) | (uint32_t)(s[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		char ch = s[i];
		uint32_t d;

		if (ch >= '0' && ch <= '9')
			d = (uint32_t)(ch - '0');
		else if (ch >= 'A' && ch <= 'F')
			d = (uint32_t)(ch - 'A' + 10);
		else
			return -1;
		be = (be << 4) | d;
	}
	if (s[7] != '\0')
		return -1;
	return (int64_t)(((be >> 24) & 0xff) | ((be >> 8) & 0xff00) |
			 ((be << 8) & 0xff0000) | ((be << 24) & 0xff000000u));
}

/*
 * Resource descriptors (6.4), the bytes inside a _CRS buffer.  Small items
 * have a one-byte tag (bit 7 = 0, bits 6:3 = type, bits 2:0 = length of
 * what follows); large items a tag byte (bit 7 = 1, bits 6:0 = type) and a
 * 16-bit length.
 */
#define RES_IRQ_NOFLAGS  0x22   /* small type 4, 2 bytes: IRQ mask (6.4.2.1) */
#define RES_IO           0x47   /* small type 8, 7 bytes (6.4.2.5) */
#define RES_END_TAG      0x79   /* small type 0xf, 1 byte: checksum (6.4.2.9) */
#define RES_MEM32_FIXED  0x86   /* large type 6, 9 bytes (6.4.3.4) */
#define RES_EXT_IRQ      0x89   /* large type 9 (6.4.3.6) */

/* The end tag's checksum byte may be 0: "treat as if the checksum is OK". */
static size_t res_end(uint8_t *r)
{
	r[0] = RES_END_TAG;
	r[1] = 0;
	return 2;
}

/*
 * Device (COM1)                              5B 82 PkgLength "COM1"
 * {
 *     Name (_HID, EisaId ("PNP0501"))        08 "_HID" 0C 41 D0 05 01
 *     Name (_UID, One)                       08 "_UID" 01
 *     Name (_CRS, ResourceTemplate () {      08 "_CRS" 11 PkgLength 0A 0D
 *         IO (Decode16, 0x3F8, 0x3F8, 1, 8)    47 01 F8 03 F8 03 01 08
 *         IRQNoFlags () { irq }                22 <mask lo> <mask hi>
 *     })                                       79 00
 * }
 * IRQNoFlags is edge-triggered, active-high, exclusive: an ISA interrupt.
 */
static void dsdt_com1(struct aml *a, uint8_t irq)
{
	uint8_t r[16];
	size_t n = 0, pkg;

	r[n++] = RES_IO;
	r[n++] = 0x01;                  /* Information: decodes 16 address bits */
	put16(r + n, 0x3f8), n += 2;    /* range minimum base */
	put16(r + n, 0x3f8), n += 2;    /* range maximum base */
	r[n++] = 1;                     /* base alignment */
	r[n++] = 8;                     /* range length: 0x3f8-0x3ff */
	r[n++] = RES_IRQ_NOFLAGS;
	put16(r + n, (uint16_t)(1u << irq)), n += 2;
	n += res_end(r + n);

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	pkg = aml_open(a);
	aml_nameseg(a, "COM1");
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_byte(a, AML_DWORD);
	{
		uint8_t id[4];
		put32(id, (uint32_t)guest_acpi_eisaid("PNP0501"));
		aml_bytes(a, id, 4);
	}
	aml_name_int(a, "_UID", 1);
	aml_name_buffer(a, "_CRS", r, n);
	aml_close(a, pkg);
}

/*
 * Device (VRnn)                              5B 82 PkgLength "VRnn"
 * {
 *     Name (_HID, "LNRO0005")                08 "_HID" 0D "LNRO0005" 00
 *     Name (_UID, nn)                        08 "_UID" <integer>
 *     Name (_CCA, One)                       08 "_CCA" 01
 *     Name (_CRS, ResourceTemplate () {      08 "_CRS" 11 PkgLength 0A 17
 *         Memory32Fixed (ReadWrite, gpa, size) 86 09 00 01 <gpa> <size>
 *         Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) {gsi}
 *                                              89 06 00 01 01 <gsi>
 *     })                                       79 00
 * }
 * LNRO0005 is the id Linux's virtio_mmio driver matches under ACPI (the
 * one QEMU's microvm uses); _CCA = 1 says DMA is cache-coherent (6.2.17).
 * The Extended Interrupt flags byte (6.4.3.6): bit 0 consumer, bit 1 edge
 * (0 = level), bit 2 active-low (0 = high), bit 3 shared (0 = exclusive).
 */
static void dsdt_virtio_mmio(struct aml *a, unsigned idx, const struct guest_acpi_mmio_dev *d)
{
	uint8_t r[32];
	size_t n = 0, pkg;
	char name[4] = { 'V', 'R', (char)('0' + idx / 10), (char)('0' + idx % 10) };

	r[n++] = RES_MEM32_FIXED;
	put16(r + n, 9), n += 2;
	r[n++] = 0x01;                          /* read/write */
	put32(r + n, (uint32_t)d->gpa), n += 4;
	put32(r + n, (uint32_t)d->size), n += 4;
	r[n++] = RES_EXT_IRQ;
	put16(r + n, 6), n += 2;                /* flags + count + one GSI */
	r[n++] = 0x01;                          /* consumer, level, high, excl. */
	r[n++] = 1;                             /* interrupt table length */
	put32(r + n, d->gsi), n += 4;
	n += res_end(r + n);

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	pkg = aml_open(a);
	aml_nameseg(a, name);
	aml_name_str(a, "_HID", "LNRO0005");
	aml_name_int(a, "_UID", idx);
	aml_name_int(a, "_CCA", 1);
	aml_name_buffer(a, "_CRS", r, n);
	aml_close(a, pkg);
}

/*
 * DSDT (5.2.11.1): the header, then one AML TermList:
 *   Scope (\_SB) { COM1, VR00, VR01, ... }    10 PkgLength 5C "_SB_" ...
 * Revision 2 makes AML integers 64-bit.  Returns its length, 0 if it did
 * not fit in cap bytes.
 */
static size_t build_dsdt(const struct ctx *x, uint8_t *t, size_t cap)
{
	const struct guest_acpi_cfg *c = x->c;
	struct aml a = { .p = t, .cap = cap, .len = 0, .overflow = false };
	size_t scope;

	if (cap < SDT_HEADER_LEN)
		return 0;
	sdt_start(x, t, "DSDT", 2);
	a.len = SDT_HEADER_LEN;

	aml_byte(&a, AML_SCOPE);
	scope = aml_open(&a);
	aml_byte(&a, AML_ROOT);
	aml_nameseg(&a, "_SB_");
	if (c->uart_irq != 0)
		dsdt_com1(&a, c->uart_irq);
	for (unsigned i = 0; i < c->n_mmio_devs; i++)
		dsdt_virtio_mmio(&a, i, &c->mmio_devs[i]);
	aml_close(&a, scope);

	if (a.overflow)
		return 0;
	sdt_finish(t, a.len);
	return a.len;
}

/* ---- 6. assembly -------------------------------------------------------- */

int guest_acpi_build(const struct guest_acpi_cfg *c, uint8_t *buf, size_t buflen,
		     uint64_t base_gpa, uint64_t *rsdp_gpa, size_t *used)
{
	struct ctx x = { .c = c };
	size_t rsdp = 0, xsdt, rsdt, fadt, madt, dsdt, end;
	uint64_t sdt_gpa[N_SDT_ENTRIES];

	if (c == NULL || buf == NULL || !cfg_valid(c) || !oem_id_of(c->oem_id, x.oem_id))
		return -1;
	if (base_gpa % 16 != 0 || base_gpa >= FOUR_GIB)
		return -1;

	/* Layout: each table 16-byte aligned, the DSDT (variable) last. */
	xsdt = align16(rsdp + RSDP_LEN);
	rsdt = align16(xsdt + SDT_HEADER_LEN + 8 * N_SDT_ENTRIES);
	fadt = align16(rsdt + SDT_HEADER_LEN + 4 * N_SDT_ENTRIES);
	madt = align16(fadt + FADT_LEN);
	dsdt = align16(madt + madt_len(c));
	if (buflen < dsdt)
		return -1;
	memset(buf, 0, dsdt);                   /* tables and padding */

	sdt_gpa[0] = base_gpa + fadt;
	sdt_gpa[1] = base_gpa + madt;
	build_xsdt(&x, buf + xsdt, sdt_gpa);
	build_rsdt(&x, buf + rsdt, sdt_gpa);
	build_fadt(&x, buf + fadt, base_gpa + dsdt);
	build_madt(&x, buf + madt);

	end = build_dsdt(&x, buf + dsdt, buflen - dsdt);
	if (end == 0)
		return -1;
	end += dsdt;
	/* The RSDT and the FADT's DSDT field are 32-bit: all below 4 GiB. */
	if (end > FOUR_GIB - base_gpa)
		return -1;

	build_rsdp(&x, buf + rsdp, base_gpa + rsdt, base_gpa + xsdt);
	if (rsdp_gpa != NULL)
		*rsdp_gpa = base_gpa + rsdp;
	if (used != NULL)
		*used = end;
	return 0;
}
