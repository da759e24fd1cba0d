/*
 * mb_parse: Multiboot2 and Multiboot1 boot information -> struct boot_info.
 *
 * References:
 *   MB2 = "Multiboot2 Specification version 1.6", section 3.6 (boot information)
 *   MB1 = "Multiboot Specification version 0.6.96", section 3.3 (boot information)
 *
 * Both loaders describe the same few things (command line, loader name,
 * modules, memory map, maybe the RSDP) in different containers, so the
 * container walking is per-protocol and the per-item work (strings, module
 * names, memory regions) is shared below.
 *
 * Style of the checks: every length read from the structure is compared
 * against what is known to be readable *before* anything is read at that
 * length, using subtraction on values already known to be in range
 * ("size > total - off"), never an addition that could wrap.  All multi-byte
 * fields are read with memcpy, so nothing depends on the alignment the
 * loader promised (a fuzzer does not promise any).  x86 is little-endian, as
 * are both Multiboot structures, so memcpy into a uint32_t is the decode.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot/multiboot2/mb_parse.h"

/* ------------------------------------------------------------------------ */
/* Error messages without printf.                                            */

struct errbuf {
	char *buf;
	size_t len;   /* capacity including the NUL */
	size_t pos;
	const char *prefix; /* "mb2" or "mb1" */
};

static void put_char(struct errbuf *e, char c)
{
	if (e->buf && e->pos + 1 < e->len) {
		e->buf[e->pos++] = c;
		e->buf[e->pos] = 0;
	}
}

static void put_str(struct errbuf *e, const char *s)
{
	while (*s)
		put_char(e, *s++);
}

static void put_hex(struct errbuf *e, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;

	put_str(e, "0x");
	while (shift > 0 && ((v >> shift) & 15) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		put_char(e, digits[(v >> shift) & 15]);
}

static void put_dec(struct errbuf *e, uint64_t v)
{
	char tmp[20]; /* 2^64 - 1 has 20 digits */
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		put_char(e, tmp[--n]);
}

/*
 * Write "<prefix>: " + fmt into the caller's buffer and return -1, so that
 * every check reads "if (bad) return fail(...)".  fmt understands %x (hex
 * with 0x) and %u (decimal), taking num[0..3] in order, and %s, taking s.
 * That is all the messages here need, and it keeps this file free of
 * <stdarg.h> and printf.  Use it through the fail()/fail_s() macros below.
 */
static int fail_fmt(struct errbuf *e, const char *fmt, const char *s, const uint64_t num[4])
{
	unsigned next = 0;

	e->pos = 0;
	if (e->buf && e->len)
		e->buf[0] = 0;
	put_str(e, e->prefix);
	put_str(e, ": ");
	for (; *fmt; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 's' && s) {
			put_str(e, s);
			fmt++;
		} else if (fmt[0] == '%' && (fmt[1] == 'x' || fmt[1] == 'u') && next < 4) {
			if (fmt[1] == 'x')
				put_hex(e, num[next++]);
			else
				put_dec(e, num[next++]);
			fmt++;
		} else {
			put_char(e, *fmt);
		}
	}
	return -1;
}

/* fail(e, fmt, n1 [, n2, n3, n4]) and fail_s(e, fmt, str, n1 [, ...]): the
 * numbers land in a zero-filled array of four, so unused ones may be left out
 * (pass at least one; 0 when the message has none). */
#define fail(e, fmt, ...) fail_fmt((e), (fmt), NULL, (const uint64_t[4]){ __VA_ARGS__ })
#define fail_s(e, fmt, str, ...) fail_fmt((e), (fmt), (str), (const uint64_t[4]){ __VA_ARGS__ })

/* ------------------------------------------------------------------------ */
/* Little helpers shared by both protocols.                                  */

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* Length of the NUL-terminated string in s[0..max), or max if no NUL. */
static size_t bounded_strlen(const uint8_t *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* Copy s (len bytes, no NUL needed) into dst[dstlen], cutting it short if it
 * does not fit.  Only for purely informational strings (the loader name). */
static void copy_truncated(char *dst, size_t dstlen, const uint8_t *s, size_t len)
{
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, s, len);
	dst[len] = 0;
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/*
 * A module's name is the basename of the first word of its string: GRUB's
 * "module2 /boot/guest.elf root=/dev/vda" gives the string
 * "/boot/guest.elf root=/dev/vda" (both specs leave the string's meaning to
 * the OS: MB2 3.6 "Modules", MB1 3.3), and the configuration refers to
 * "guest.elf".
 * Returns false if that name does not fit in BOOT_NAME_MAX - 1 bytes: a
 * truncated name would silently fail to match the configuration, so it is
 * an error rather than a cut.  An empty name (empty string, or a first word
 * ending in '/') is allowed; it simply matches nothing.
 */
static bool module_name(char name[BOOT_NAME_MAX], const uint8_t *s, size_t len)
{
	size_t i = 0, word_end, base;

	while (i < len && is_space(s[i]))
		i++;
	word_end = i;
	while (word_end < len && !is_space(s[word_end]))
		word_end++;
	base = i;
	for (size_t j = i; j < word_end; j++)
		if (s[j] == '/')
			base = j + 1;
	if (word_end - base >= BOOT_NAME_MAX)
		return false;
	memcpy(name, s + base, word_end - base);
	name[word_end - base] = 0;
	return true;
}

/*
 * Both protocols pass the BIOS E820 types through (MB2 3.6 "Memory map";
 * MB1 3.3 only names type 1, but GRUB and QEMU pass the rest through the
 * same way).  Unknown types must be treated as reserved.
 */
static uint32_t e820_to_mem_type(uint32_t t)
{
	switch (t) {
	case 1: return MEM_USABLE;
	case 3: return MEM_ACPI_RECLAIM;
	case 4: return MEM_ACPI_NVS;
	case 5: return MEM_BAD;
	default: return MEM_RESERVED;
	}
}

enum add_result { ADD_OK, ADD_OVERFLOW, ADD_FULL };

/* Append one region; zero-length regions are skipped (firmware emits them and
 * they mean nothing).  The end must be representable: base + length <= 2^64-1. */
static enum add_result add_region(struct boot_info *out, uint64_t base,
				  uint64_t length, uint32_t type)
{
	struct mem_region *r;

	if (length == 0)
		return ADD_OK;
	if (length > UINT64_MAX - base)
		return ADD_OVERFLOW;
	if (out->region_count >= BOOT_MAX_REGIONS)
		return ADD_FULL;
	r = &out->regions[out->region_count++];
	r->base = base;
	r->length = length;
	r->type = type;
	r->reserved = 0;
	return ADD_OK;
}

/*
 * The fallback when a loader gives only the BIOS summary (MB1 flags bit 0,
 * MB2 tag 4): mem_lower KiB of conventional memory from 0 and mem_upper KiB
 * from 1 MiB up to the first hole.  Both are 32-bit KiB counts, so the
 * products fit easily in 64 bits and cannot overflow.  Lower memory is at
 * most 640 KiB (both specs say so); a larger value would claim the video
 * memory and BIOS area as RAM, so it is clamped.
 */
static void add_basic_memory(struct boot_info *out, uint32_t mem_lower, uint32_t mem_upper)
{
	if (mem_lower > 640)
		mem_lower = 640;
	(void)add_region(out, 0, (uint64_t)mem_lower * 1024, MEM_USABLE);
	(void)add_region(out, 0x100000, (uint64_t)mem_upper * 1024, MEM_USABLE);
}

static void begin(struct boot_info *out, uint32_t path)
{
	memset(out, 0, sizeof *out);
	out->magic = BOOT_INFO_MAGIC;
	out->boot_path = path;
}

/* ------------------------------------------------------------------------ */
/* Multiboot2                                                                */

/* Tag types (MB2 3.6, one subsection each).  Tags not listed are skipped, as
 * the spec requires of an OS image that does not understand a tag. */
enum {
	MB2_TAG_END = 0,
	MB2_TAG_CMDLINE = 1,
	MB2_TAG_LOADER_NAME = 2,
	MB2_TAG_MODULE = 3,
	MB2_TAG_BASIC_MEMINFO = 4,
	MB2_TAG_MMAP = 6,
	MB2_TAG_ACPI_OLD = 14,
	MB2_TAG_ACPI_NEW = 15,
};

#define MB2_TAG_HDR 8u        /* u32 type, u32 size */
#define MB2_MMAP_HDR 16u      /* tag header + u32 entry_size + u32 entry_version */
#define MB2_MMAP_ENTRY_MIN 24u /* u64 base_addr, u64 length, u32 type, u32 reserved */
#define MB2_MODULE_HDR 16u    /* tag header + u32 mod_start + u32 mod_end */
#define RSDP_V1_LEN 20u       /* ACPI 6.5 5.2.5.3: revision 0 RSDP */
#define RSDP_V2_LEN 36u       /* ... and the revision 2 XSDP */

struct mb2 {
	const uint8_t *base; /* the structure */
	uint64_t phys;       /* its physical address */
	struct boot_info *out;
	struct errbuf e;
	uint32_t seen;       /* bit t set once a tag of type t < 32 was parsed */
	bool have_basic;
	uint32_t mem_lower, mem_upper;
	uint64_t rsdp_old, rsdp_new;
};

/* Tag 1 (MB2 3.6 "Boot command line"): the command line as a NUL-terminated UTF-8 string. */
static int mb2_cmdline(struct mb2 *p, uint32_t off, uint32_t size)
{
	const uint8_t *s = p->base + off + MB2_TAG_HDR;
	size_t max = size - MB2_TAG_HDR;
	size_t len = bounded_strlen(s, max);

	if (len == max)
		return fail(&p->e, "command line tag at offset %x: string not NUL-terminated within its %u bytes",
			    off, size);
	/* Truncating a command line would change what it says; refuse instead. */
	if (len >= BOOT_CMDLINE_MAX)
		return fail(&p->e, "command line tag at offset %x: %u bytes, longer than %u",
			    off, len, BOOT_CMDLINE_MAX - 1);
	memcpy(p->out->cmdline, s, len + 1);
	return 0;
}

/* Tag 2 (MB2 3.6 "Boot loader name"): the loader's name; informational, so a long one is cut. */
static int mb2_loader_name(struct mb2 *p, uint32_t off, uint32_t size)
{
	const uint8_t *s = p->base + off + MB2_TAG_HDR;
	size_t max = size - MB2_TAG_HDR;
	size_t len = bounded_strlen(s, max);

	if (len == max)
		return fail(&p->e, "loader name tag at offset %x: string not NUL-terminated within its %u bytes",
			    off, size);
	copy_truncated(p->out->loader_name, BOOT_NAME_MAX, s, len);
	return 0;
}

/* Tag 3 (MB2 3.6 "Modules"): u32 mod_start, u32 mod_end (exclusive), then the string.
 * One tag per module. */
static int mb2_module(struct mb2 *p, uint32_t off, uint32_t size)
{
	const uint8_t *t = p->base + off;
	struct boot_module *m;
	uint32_t start, end;
	size_t max, len;

	if (size < MB2_MODULE_HDR + 1)
		return fail(&p->e, "module tag at offset %x: size %u < %u", off, size, MB2_MODULE_HDR + 1);
	start = rd32(t + 8);
	end = rd32(t + 12);
	if (end < start)
		return fail(&p->e, "module tag at offset %x: mod_end %x < mod_start %x", off, end, start);
	max = size - MB2_MODULE_HDR;
	len = bounded_strlen(t + MB2_MODULE_HDR, max);
	if (len == max)
		return fail(&p->e, "module tag at offset %x: string not NUL-terminated within its %u bytes",
			    off, size);
	if (p->out->module_count >= BOOT_MAX_MODULES)
		return fail(&p->e, "module tag at offset %x: more than %u modules", off, BOOT_MAX_MODULES);
	m = &p->out->modules[p->out->module_count];
	if (!module_name(m->name, t + MB2_MODULE_HDR, len))
		return fail(&p->e, "module tag at offset %x: file name longer than %u bytes",
			    off, BOOT_NAME_MAX - 1);
	m->addr = start;
	m->size = (uint64_t)end - start;
	p->out->module_count++;
	return 0;
}

/* Tag 4 (MB2 3.6 "Basic memory information"): u32 mem_lower, u32 mem_upper in KiB; only used when there is
 * no memory map tag. */
static int mb2_basic_meminfo(struct mb2 *p, uint32_t off, uint32_t size)
{
	if (size < 16)
		return fail(&p->e, "basic memory tag at offset %x: size %u < 16", off, size);
	p->mem_lower = rd32(p->base + off + 8);
	p->mem_upper = rd32(p->base + off + 12);
	p->have_basic = true;
	return 0;
}

/*
 * Tag 6 (MB2 3.6 "Memory map"): u32 entry_size, u32 entry_version, then entries of
 * entry_size bytes each.  entry_size is a multiple of 8 and future versions
 * may make entries longer, so we step by entry_size and read only the first
 * 24 bytes of each; entry_version is not checked for the same reason.
 */
static int mb2_mmap(struct mb2 *p, uint32_t off, uint32_t size)
{
	const uint8_t *t = p->base + off;
	uint32_t esz, bytes;

	if (size < MB2_MMAP_HDR)
		return fail(&p->e, "memory map tag at offset %x: size %u < %u", off, size, MB2_MMAP_HDR);
	esz = rd32(t + 8);
	if (esz < MB2_MMAP_ENTRY_MIN)
		return fail(&p->e, "memory map tag at offset %x: entry_size %u < %u", off, esz, MB2_MMAP_ENTRY_MIN);
	if (esz % 8)
		return fail(&p->e, "memory map tag at offset %x: entry_size %u is not a multiple of 8", off, esz);
	bytes = size - MB2_MMAP_HDR;
	if (bytes % esz)
		return fail(&p->e, "memory map tag at offset %x: %u bytes of entries is not a whole number of %u-byte entries",
			    off, bytes, esz);
	for (uint32_t e = 0; e < bytes; e += esz) {
		uint32_t eoff = off + MB2_MMAP_HDR + e;
		uint64_t base = rd64(p->base + eoff);
		uint64_t len = rd64(p->base + eoff + 8);
		uint32_t type = rd32(p->base + eoff + 16);

		switch (add_region(p->out, base, len, e820_to_mem_type(type))) {
		case ADD_OK:
			break;
		case ADD_OVERFLOW:
			return fail(&p->e, "memory map entry at offset %x: base %x + length %x does not fit in 64 bits",
				    eoff, base, len);
		case ADD_FULL:
			return fail(&p->e, "memory map entry at offset %x: more than %u regions",
				    eoff, BOOT_MAX_REGIONS);
		}
	}
	return 0;
}

/*
 * Tags 14 and 15 (MB2 3.6 "ACPI old RSDP", "ACPI new RSDP") hold a *copy* of the RSDP (v1: 20 bytes,
 * v2: 36 bytes) right after the tag header.  The copy is as good as the
 * original for finding the tables, so we report where the copy lives; the
 * ACPI code checks its signature and checksum (arch/x86/acpi.c).  The caller
 * must therefore keep the boot information mapped and reserved.
 */
static int mb2_acpi(struct mb2 *p, uint32_t off, uint32_t size, bool is_new)
{
	uint32_t need = MB2_TAG_HDR + (is_new ? RSDP_V2_LEN : RSDP_V1_LEN);

	if (size < need)
		return fail(&p->e, is_new ? "new ACPI tag at offset %x: size %u < %u"
					  : "old ACPI tag at offset %x: size %u < %u",
			    off, size, need);
	/* Cannot wrap: mb2_parse checked phys + total_size fits. */
	if (is_new)
		p->rsdp_new = p->phys + off + MB2_TAG_HDR;
	else
		p->rsdp_old = p->phys + off + MB2_TAG_HDR;
	return 0;
}

static int mb2_tag(struct mb2 *p, uint32_t type, uint32_t off, uint32_t size)
{
	switch (type) {
	case MB2_TAG_CMDLINE:       return mb2_cmdline(p, off, size);
	case MB2_TAG_LOADER_NAME:   return mb2_loader_name(p, off, size);
	case MB2_TAG_MODULE:        return mb2_module(p, off, size);
	case MB2_TAG_BASIC_MEMINFO: return mb2_basic_meminfo(p, off, size);
	case MB2_TAG_MMAP:          return mb2_mmap(p, off, size);
	case MB2_TAG_ACPI_OLD:      return mb2_acpi(p, off, size, false);
	case MB2_TAG_ACPI_NEW:      return mb2_acpi(p, off, size, true);
	default:                    return 0; /* unknown: skip (3.6) */
	}
}

int mb2_parse(const void *info, size_t avail, uint64_t info_phys,
	      struct boot_info *out, char *err, size_t errlen)
{
	struct mb2 p = { .base = info, .phys = info_phys, .out = out,
			 .e = { .buf = err, .len = errlen, .prefix = "mb2" } };
	uint32_t total, off;

	if (err && errlen)
		err[0] = 0;
	begin(out, BOOT_PATH_MB2);

	/* Fixed part (MB2 3.6 "Boot information format"): u32 total_size
	 * (including the fixed part and the end tag), u32 reserved.  The
	 * structure starts 8-byte aligned.  Bytes after the end tag but
	 * inside total_size are ignored. */
	if (avail < 8)
		return fail(&p.e, "only %u readable bytes, the fixed part needs 8", avail);
	total = rd32(p.base);
	if (total > avail)
		return fail(&p.e, "total_size %x > %x readable bytes", total, avail);
	if (total < 8 + MB2_TAG_HDR)
		return fail(&p.e, "total_size %u < 16 (fixed part + end tag)", total);
	if (info_phys % 8)
		return fail(&p.e, "boot information at %x is not 8-byte aligned", info_phys);
	if (info_phys > UINT64_MAX - total)
		return fail(&p.e, "boot information at %x + total_size %x does not fit in 64 bits",
			    info_phys, total);

	/*
	 * Tags (MB2 3.6 "Basic tags structure"): u32 type, u32 size
	 * (including this header, excluding padding), each starting 8-byte
	 * aligned; the list ends with type 0, size 8.  Invariant at the top of the loop: off <= total and off is a
	 * multiple of 8, so "total - off" is the room left and cannot wrap.
	 */
	off = 8;
	for (;;) {
		uint32_t type, size;
		uint64_t step;

		if (total - off < MB2_TAG_HDR)
			return fail(&p.e, "no end tag before total_size %x (next tag at offset %x)",
				    total, off);
		type = rd32(p.base + off);
		size = rd32(p.base + off + 4);
		if (size < MB2_TAG_HDR)
			return fail(&p.e, "tag type %u at offset %x: size %u < 8", type, off, size);
		if (size > total - off)
			return fail(&p.e, "tag type %u at offset %x: size %x runs past total_size %x",
				    type, off, size, total);
		if (type == MB2_TAG_END) {
			if (size != MB2_TAG_HDR)
				return fail(&p.e, "end tag at offset %x: size %u != 8", off, size);
			break;
		}
		/* Modules come one tag each; every other tag we read is unique,
		 * and a second copy would mean a confused loader. */
		if (type < 32 && type != MB2_TAG_MODULE) {
			if (p.seen & (1u << type))
				return fail(&p.e, "tag type %u at offset %x: duplicate", type, off);
			p.seen |= 1u << type;
		}
		if (mb2_tag(&p, type, off, size))
			return -1;
		/* The next tag starts at the next 8-byte boundary.  If that
		 * boundary lies beyond total_size there is no room left for the
		 * end tag; checking here keeps the loop invariant off <= total. */
		step = ((uint64_t)size + 7) & ~(uint64_t)7;
		if (step > total - off)
			return fail(&p.e, "no end tag before total_size %x (last tag at offset %x)",
				    total, off);
		off += (uint32_t)step;
	}

	/* Prefer the ACPI 2.0+ RSDP (XSDT, 64-bit addresses) over the 1.0 one. */
	out->rsdp = p.rsdp_new ? p.rsdp_new : p.rsdp_old;

	if (!(p.seen & (1u << MB2_TAG_MMAP))) {
		if (!p.have_basic)
			return fail(&p.e, "no memory map tag (type 6) and no basic memory tag (type 4)", 0);
		add_basic_memory(out, p.mem_lower, p.mem_upper);
	}
	if (out->region_count == 0)
		return fail(&p.e, "the memory map describes no memory", 0);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Multiboot1                                                                */

/* flags bits (MB1 3.3) */
#define MB1_F_MEM     (1u << 0)
#define MB1_F_CMDLINE (1u << 2)
#define MB1_F_MODS    (1u << 3)
#define MB1_F_MMAP    (1u << 6)
#define MB1_F_LOADER  (1u << 9)

/* Byte offsets in the information structure (MB1 3.3). */
#define MB1_OFF_MEM_LOWER   4
#define MB1_OFF_MEM_UPPER   8
#define MB1_OFF_CMDLINE     16
#define MB1_OFF_MODS_COUNT  20
#define MB1_OFF_MODS_ADDR   24
#define MB1_OFF_MMAP_LENGTH 44
#define MB1_OFF_MMAP_ADDR   48
#define MB1_OFF_LOADER_NAME 64
#define MB1_MOD_ENTRY 16      /* u32 mod_start, mod_end, string, reserved */
#define MB1_MMAP_ENTRY_MIN 20 /* after the size field: u64 base, u64 length, u32 type */

/* Longest string we follow through phys (module strings carry arguments). */
#define MB1_STRING_MAX 4096u

struct mb1 {
	mb_phys_fn phys;
	void *ctx;
	struct boot_info *out;
	struct errbuf e;
};

/*
 * Find a NUL-terminated string at physical address addr, at most max bytes
 * long including the NUL, and return a pointer to all of it.  MB1 gives no
 * lengths, so we first walk it a byte at a time (each byte checked by phys,
 * since the string may end right before unreadable memory), then ask for
 * the whole range at once.  what names the string in messages.
 */
static int mb1_string(struct mb1 *p, uint64_t addr, size_t max, const char *what,
		      const uint8_t **s, size_t *len)
{
	size_t n;

	for (n = 0; n < max; n++) {
		const uint8_t *c = p->phys(addr + n, 1, p->ctx);
		if (!c)
			return fail_s(&p->e, "%s at %x: byte at %x is not readable", what, addr, addr + n);
		if (*c == 0)
			break;
	}
	if (n == max)
		return fail_s(&p->e, "%s at %x: no NUL within %u bytes", what, addr, max);
	*s = p->phys(addr, n + 1, p->ctx);
	if (!*s)
		return fail_s(&p->e, "%s at %x: %u bytes not readable as one range", what, addr, n + 1);
	*len = n;
	return 0;
}

static int mb1_modules(struct mb1 *p, uint32_t count, uint32_t addr)
{
	const uint8_t *mods;

	if (count > BOOT_MAX_MODULES)
		return fail(&p->e, "mods_count %u > %u modules", count, BOOT_MAX_MODULES);
	if (count == 0)
		return 0;
	mods = p->phys(addr, (uint64_t)count * MB1_MOD_ENTRY, p->ctx);
	if (!mods)
		return fail(&p->e, "module list at %x (%u entries) is not readable", addr, count);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *m = mods + i * MB1_MOD_ENTRY;
		uint32_t start = rd32(m), end = rd32(m + 4), str = rd32(m + 8);
		struct boot_module *bm = &p->out->modules[i];
		const uint8_t *s;
		size_t len;

		if (end < start)
			return fail(&p->e, "module %u (entry at %x): mod_end %x < mod_start %x",
				    i, (uint64_t)addr + i * MB1_MOD_ENTRY, end, start);
		/* MB1 3.3: string is 0 if the module has none; treat as no name. */
		if (str) {
			if (mb1_string(p, str, MB1_STRING_MAX, "module string", &s, &len))
				return -1;
			if (!module_name(bm->name, s, len))
				return fail(&p->e, "module %u (string at %x): file name longer than %u bytes",
					    i, str, BOOT_NAME_MAX - 1);
		}
		bm->addr = start;
		bm->size = (uint64_t)end - start;
		p->out->module_count = i + 1;
	}
	return 0;
}

/*
 * The memory map (MB1 3.3, flags bit 6): mmap_length bytes of entries, each
 * "u32 size; u64 base_addr; u64 length; u32 type" where size counts the
 * bytes *after* itself, so the next entry is at entry + size + 4.  size may
 * be larger than 20 (a future, longer entry); it may not be smaller.
 */
static int mb1_mmap(struct mb1 *p, uint32_t length, uint32_t addr)
{
	const uint8_t *map;
	uint32_t off = 0;

	if (length == 0)
		return 0;
	map = p->phys(addr, length, p->ctx);
	if (!map)
		return fail(&p->e, "memory map at %x (%u bytes) is not readable", addr, length);
	while (off < length) {
		uint64_t where = (uint64_t)addr + off;
		uint32_t size, type;
		uint64_t base, len;

		if (length - off < 4)
			return fail(&p->e, "memory map entry at %x: size field cut off by mmap_length %u",
				    where, length);
		size = rd32(map + off);
		if (size < MB1_MMAP_ENTRY_MIN)
			return fail(&p->e, "memory map entry at %x: size %u < %u", where, size, MB1_MMAP_ENTRY_MIN);
		if (size > length - off - 4)
			return fail(&p->e, "memory map entry at %x: size %u runs past mmap_length %u",
				    where, size, length);
		base = rd64(map + off + 4);
		len = rd64(map + off + 12);
		type = rd32(map + off + 20);
		switch (add_region(p->out, base, len, e820_to_mem_type(type))) {
		case ADD_OK:
			break;
		case ADD_OVERFLOW:
			return fail(&p->e, "memory map entry at %x: base %x + length %x does not fit in 64 bits",
				    where, base, len);
		case ADD_FULL:
			return fail(&p->e, "memory map entry at %x: more than %u regions",
				    where, BOOT_MAX_REGIONS);
		}
		off += size + 4; /* size + 4 <= length - off: no wrap */
	}
	return 0;
}

int mb1_parse(uint32_t info_phys, mb_phys_fn phys, void *ctx,
	      struct boot_info *out, char *err, size_t errlen)
{
	struct mb1 p = { .phys = phys, .ctx = ctx, .out = out,
			 .e = { .buf = err, .len = errlen, .prefix = "mb1" } };
	const uint8_t *info;
	uint32_t flags, need;

	if (err && errlen)
		err[0] = 0;
	begin(out, BOOT_PATH_MB1);

	/* The structure's length depends on which fields flags says are
	 * valid; read flags first, then as much as the fields we use need
	 * (up to mmap_addr, or up to boot_loader_name if bit 9 is set). */
	info = phys(info_phys, 4, ctx);
	if (!info)
		return fail(&p.e, "information structure at %x is not readable", info_phys);
	flags = rd32(info);
	need = (flags & MB1_F_LOADER) ? MB1_OFF_LOADER_NAME + 4 : MB1_OFF_MMAP_ADDR + 4;
	info = phys(info_phys, need, ctx);
	if (!info)
		return fail(&p.e, "information structure at %x (%u bytes for flags %x) is not readable",
			    info_phys, need, flags);

	if (flags & MB1_F_CMDLINE) {
		uint32_t addr = rd32(info + MB1_OFF_CMDLINE);
		const uint8_t *s;
		size_t len;

		if (mb1_string(&p, addr, BOOT_CMDLINE_MAX, "cmdline", &s, &len))
			return -1;
		memcpy(out->cmdline, s, len + 1);
	}
	if (flags & MB1_F_LOADER) {
		uint32_t addr = rd32(info + MB1_OFF_LOADER_NAME);
		const uint8_t *s;
		size_t len;

		if (mb1_string(&p, addr, MB1_STRING_MAX, "boot_loader_name", &s, &len))
			return -1;
		copy_truncated(out->loader_name, BOOT_NAME_MAX, s, len);
	}
	if (flags & MB1_F_MODS) {
		if (mb1_modules(&p, rd32(info + MB1_OFF_MODS_COUNT), rd32(info + MB1_OFF_MODS_ADDR)))
			return -1;
	}
	if (flags & MB1_F_MMAP) {
		if (mb1_mmap(&p, rd32(info + MB1_OFF_MMAP_LENGTH), rd32(info + MB1_OFF_MMAP_ADDR)))
			return -1;
	} else if (flags & MB1_F_MEM) {
		add_basic_memory(out, rd32(info + MB1_OFF_MEM_LOWER), rd32(info + MB1_OFF_MEM_UPPER));
	} else {
		return fail(&p.e, "flags %x: no memory map (bit 6) and no mem_lower/mem_upper (bit 0)", flags);
	}
	if (out->region_count == 0)
		return fail(&p.e, "the memory map describes no memory", 0);
	return 0;
}
