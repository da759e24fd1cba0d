#include <stdbool.h>
#include <string.h>
#include "kernel/guest_load.h"

#define MB1_MAGIC 0x1badb002u
#define MB1_BOOT_MAGIC 0x2badb002u
#define MB1_SEARCH 8192            /* the header is in the first 8 KiB (MB spec 3.1.1) */
#define MB1_FLAG_ADDRESS (1u << 16)
#define MB1_KNOWN_REQUIREMENTS 0x3u /* bit 0 page-align modules, bit 1 memory info */

static int fail(char *err, size_t errlen, const char *msg)
{
	size_t n = strlen(msg);
	if (errlen) {
		if (n >= errlen)
			n = errlen - 1;
		memcpy(err, msg, n);
		err[n] = 0;
	}
	return -1;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static int zero_fill(struct gmem *g, uint64_t gpa, uint64_t len)
{
	static const uint8_t zeros[512];
	while (len) {
		size_t n = len < sizeof(zeros) ? len : sizeof(zeros);
		if (gmem_write(g, gpa, zeros, n))
			return -1;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* ELF32 or ELF64 PT_LOAD segments to their physical addresses (p_paddr). */
static int load_elf(struct gmem *g, const uint8_t *img, size_t size, struct guest_boot *out,
		    char *err, size_t errlen)
{
	if (size < 52 || memcmp(img, "\x7f" "ELF", 4) || img[5] != 1)
		return fail(err, errlen, "image: not a little-endian ELF file");
	bool is64 = img[4] == 2;
	if (is64 && size < 64)
		return fail(err, errlen, "image: truncated ELF64 header");
	uint64_t phoff = is64 ? rd64(img + 32) : rd32(img + 28);
	unsigned phentsize = rd16(img + (is64 ? 54 : 42));
	unsigned phnum = rd16(img + (is64 ? 56 : 44));
	uint64_t entry = is64 ? rd64(img + 24) : rd32(img + 24);
	if (phentsize < (is64 ? 56u : 32u) || phnum == 0 || phnum > 64 ||
	    phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return fail(err, errlen, "image: ELF program headers out of bounds");
	out->image_start = ~0ull;
	out->image_end = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		if (rd32(ph) != 1 /* PT_LOAD */)
			continue;
		uint64_t off = is64 ? rd64(ph + 8) : rd32(ph + 4);
		uint64_t paddr = is64 ? rd64(ph + 24) : rd32(ph + 12);
		uint64_t filesz = is64 ? rd64(ph + 32) : rd32(ph + 16);
		uint64_t memsz = is64 ? rd64(ph + 40) : rd32(ph + 20);
		if (filesz > memsz || off > size || filesz > size - off || paddr + memsz < paddr)
			return fail(err, errlen, "image: ELF segment out of bounds");
		if (gmem_write(g, paddr, img + off, filesz) || zero_fill(g, paddr + filesz, memsz - filesz))
			return fail(err, errlen, "image: ELF segment outside the VM's RAM");
		if (paddr < out->image_start)
			out->image_start = paddr;
		if (paddr + memsz > out->image_end)
			out->image_end = paddr + memsz;
	}
	if (out->image_end == 0)
		return fail(err, errlen, "image: ELF has no loadable segment");
	if (entry >> 32)
		return fail(err, errlen, "image: entry point above 4 GiB (Multiboot starts in 32-bit mode)");
	out->entry = entry;
	return 0;
}

/* The a.out kludge (MB spec 3.1.3): the header's address fields say where
 * the file's bytes go; the file is one contiguous image from load_addr. */
static int load_aout(struct gmem *g, const uint8_t *img, size_t size, size_t hdr_off,
		     const uint8_t *h, struct guest_boot *out, char *err, size_t errlen)
{
	uint32_t header_addr = rd32(h + 12), load_addr = rd32(h + 16), load_end = rd32(h + 20);
	uint32_t bss_end = rd32(h + 24), entry = rd32(h + 28);
	if (header_addr < load_addr || header_addr - load_addr > hdr_off)
		return fail(err, errlen, "image: Multiboot address fields inconsistent");
	size_t file_off = hdr_off - (header_addr - load_addr);
	uint64_t len = load_end ? (uint64_t)load_end - load_addr : size - file_off;
	if (load_end && load_end < load_addr)
		return fail(err, errlen, "image: load_end_addr below load_addr");
	if (len > size - file_off)
		return fail(err, errlen, "image: load_end_addr beyond the file");
	if (gmem_write(g, load_addr, img + file_off, len))
		return fail(err, errlen, "image: loads outside the VM's RAM");
	uint64_t end = load_addr + len;
	if (bss_end && bss_end < end)
		return fail(err, errlen, "image: bss_end_addr below the end of the loaded image");
	if (bss_end > end) {
		if (zero_fill(g, end, bss_end - end))
			return fail(err, errlen, "image: bss outside the VM's RAM");
		end = bss_end;
	}
	out->entry = entry;
	out->image_start = load_addr;
	out->image_end = end;
	return 0;
}

struct mb1_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct mb1_mmap { uint32_t size; uint64_t base, len; uint32_t type; } __attribute__((packed));
struct mb1_mod { uint32_t start, end, string, reserved; };

int guest_load_multiboot1(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
			  const struct guest_module *mods, unsigned nmods, struct guest_boot *out,
			  char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t limit = size < MB1_SEARCH ? size : MB1_SEARCH;
	const uint8_t *h = NULL;
	size_t hdr_off = 0;
	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t magic = rd32(img + off), flags = rd32(img + off + 4), sum = rd32(img + off + 8);
		if (magic == MB1_MAGIC && magic + flags + sum == 0) {
			h = img + off;
			hdr_off = off;
			break;
		}
	}
	if (!h)
		return fail(err, errlen, "image: no Multiboot header in the first 8 KiB");
	uint32_t flags = rd32(h + 4);
	if (flags & 0xffff & ~MB1_KNOWN_REQUIREMENTS)
		return fail(err, errlen, "image: Multiboot header requires a feature Nestor lacks (video mode?)");
	int r;
	if (flags & MB1_FLAG_ADDRESS) {
		if (hdr_off + 32 > size)
			return fail(err, errlen, "image: truncated Multiboot header");
		r = load_aout(g, img, size, hdr_off, h, out, err, errlen);
	} else {
		r = load_elf(g, img, size, out, err, errlen);
	}
	if (r)
		return r;
	if (nmods > GUEST_MAX_MODULES)
		return fail(err, errlen, "too many modules");
	if (out->image_start < GUEST_MB1_INFO_GPA + 4096 && out->image_end > GUEST_MB1_INFO_GPA)
		return fail(err, errlen, "image: overlaps the Multiboot information page at 0x9000");

	/* The information page: info | mmap | module list | cmdline | module names */
	uint8_t page[4096];
	memset(page, 0, sizeof(page));
	struct mb1_info info = { 0 };
	uint64_t ram = g->ram_top;
	info.flags = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6);
	info.mem_lower = 639;
	info.mem_upper = ram > 0x100000 ? (uint32_t)((ram - 0x100000) >> 10) : 0;
	struct mb1_mmap mm[4] = {
		{ 20, 0, 0x9fc00, 1 },
		{ 20, 0x9fc00, 0x400, 2 },
		{ 20, 0xf0000, 0x10000, 2 },
		{ 20, 0x100000, ram > 0x100000 ? ram - 0x100000 : 0, 1 },
	};
	size_t pos = 256;
	info.mmap_addr = GUEST_MB1_INFO_GPA + (uint32_t)pos;
	info.mmap_length = sizeof(mm);
	memcpy(page + pos, mm, sizeof(mm));
	pos += sizeof(mm);
	size_t mods_pos = pos;
	pos += GUEST_MAX_MODULES * sizeof(struct mb1_mod);
	size_t cl = cmdline ? strlen(cmdline) : 0;
	if (cl > 255)
		return fail(err, errlen, "command line longer than 255 bytes");
	info.cmdline = GUEST_MB1_INFO_GPA + (uint32_t)pos;
	memcpy(page + pos, cmdline ? cmdline : "", cl + 1);
	pos += cl + 1;

	/* Modules after the image, page aligned (header flag bit 0 or not). */
	uint64_t next = (out->image_end + 4095) & ~4095ull;
	struct mb1_mod ml[GUEST_MAX_MODULES];
	for (unsigned i = 0; i < nmods; i++) {
		size_t nl = strlen(mods[i].name);
		if (pos + nl + 1 > sizeof(page))
			return fail(err, errlen, "module names too long");
		if (gmem_write(g, next, mods[i].data, mods[i].size))
			return fail(err, errlen, "modules do not fit in the VM's RAM");
		ml[i] = (struct mb1_mod){ (uint32_t)next, (uint32_t)(next + mods[i].size),
					  GUEST_MB1_INFO_GPA + (uint32_t)pos, 0 };
		memcpy(page + pos, mods[i].name, nl + 1);
		pos += nl + 1;
		next = (next + mods[i].size + 4095) & ~4095ull;
	}
	memcpy(page + mods_pos, ml, nmods * sizeof(struct mb1_mod));
	info.mods_count = nmods;
	info.mods_addr = GUEST_MB1_INFO_GPA + (uint32_t)mods_pos;
	memcpy(page, &info, sizeof(info));
	if (gmem_write(g, GUEST_MB1_INFO_GPA, page, sizeof(page)))
		return fail(err, errlen, "VM RAM too small for the Multiboot information");
	out->eax = MB1_BOOT_MAGIC;
	out->ebx = GUEST_MB1_INFO_GPA;
	return 0;
}

/* ---- Multiboot2 (spec 1.6, chapter 3) ---------------------------------- */

#define MB2_MAGIC 0xe85250d6u
#define MB2_BOOT_MAGIC 0x36d76289u
#define MB2_SEARCH 32768             /* header within the first 32 KiB, 8-aligned */

struct mb2_writer { uint8_t *buf; size_t pos, cap; };

/* Append a tag (type, size, body) 8-byte aligned; -1 when the page is full. */
static int mb2_tag(struct mb2_writer *w, uint32_t type, const void *body, uint32_t len)
{
	size_t size = 8 + len, next = (w->pos + size + 7) & ~(size_t)7;
	if (next > w->cap)
		return -1;
	memcpy(w->buf + w->pos, &type, 4);
	uint32_t sz = (uint32_t)size;
	memcpy(w->buf + w->pos + 4, &sz, 4);
	if (len)
		memcpy(w->buf + w->pos + 8, body, len);
	w->pos = next;
	return 0;
}

/* The Multiboot2 boot information (spec 3.6) at GUEST_MB1_INFO_GPA, with
 * the modules placed after the image: shared by the Multiboot2 and the
 * ELF64 boot paths. */
static int mb2_boot_info(struct gmem *g, const char *cmdline, const struct guest_module *mods,
			 unsigned nmods, uint64_t rsdp_gpa, struct guest_boot *out, char *err, size_t errlen)
{
	if (nmods > GUEST_MAX_MODULES)
		return fail(err, errlen, "too many modules");
	if (out->image_start < GUEST_MB1_INFO_GPA + 4096 && out->image_end > GUEST_MB1_INFO_GPA)
		return fail(err, errlen, "image: overlaps the Multiboot information page at 0x9000");

	uint8_t page[4096];
	struct mb2_writer w = { page, 8, sizeof(page) };
	uint64_t ram = g->ram_top;
	size_t cl = cmdline ? strlen(cmdline) : 0;
	if (cl > 255)
		return fail(err, errlen, "command line longer than 255 bytes");
	int bad = mb2_tag(&w, 1, cmdline ? cmdline : "", (uint32_t)cl + 1);
	bad |= mb2_tag(&w, 2, "Nestor", 7);
	uint32_t meminfo[2] = { 639, ram > 0x100000 ? (uint32_t)((ram - 0x100000) >> 10) : 0 };
	bad |= mb2_tag(&w, 4, meminfo, sizeof(meminfo));
	struct { uint32_t entry_size, entry_version; struct { uint64_t base, len; uint32_t type, zero; } e[4]; } mm = {
		24, 0, { { 0, 0x9fc00, 1, 0 }, { 0x9fc00, 0x400, 2, 0 }, { 0xf0000, 0x10000, 2, 0 },
			 { 0x100000, ram > 0x100000 ? ram - 0x100000 : 0, 1, 0 } } };
	bad |= mb2_tag(&w, 6, &mm, sizeof(mm));
	uint64_t next = (out->image_end + 4095) & ~4095ull;
	for (unsigned i = 0; i < nmods && !bad; i++) {
		uint8_t body[8 + 64];
		size_t nl = strlen(mods[i].name);
		if (nl > 63)
			return fail(err, errlen, "module name too long");
		if (gmem_write(g, next, mods[i].data, mods[i].size))
			return fail(err, errlen, "modules do not fit in the VM's RAM");
		uint32_t start = (uint32_t)next, end = (uint32_t)(next + mods[i].size);
		memcpy(body, &start, 4);
		memcpy(body + 4, &end, 4);
		memcpy(body + 8, mods[i].name, nl + 1);
		bad |= mb2_tag(&w, 3, body, (uint32_t)(8 + nl + 1));
		next = (next + mods[i].size + 4095) & ~4095ull;
	}
	if (rsdp_gpa) { /* tag 15: a copy of the ACPI 2.0+ RSDP (36 bytes) */
		uint8_t rsdp[36];
		if (gmem_read(g, rsdp_gpa, rsdp, sizeof(rsdp)) == 0)
			bad |= mb2_tag(&w, 15, rsdp, sizeof(rsdp));
	}
	bad |= mb2_tag(&w, 0, NULL, 0);
	if (bad)
		return fail(err, errlen, "Multiboot2 information does not fit in one page");
	uint32_t total = (uint32_t)w.pos, zero = 0;
	memcpy(page, &total, 4);
	memcpy(page + 4, &zero, 4);
	if (gmem_write(g, GUEST_MB1_INFO_GPA, page, w.pos))
		return fail(err, errlen, "VM RAM too small for the Multiboot2 information");
	out->eax = MB2_BOOT_MAGIC;
	out->ebx = GUEST_MB1_INFO_GPA;
	return 0;
}

int guest_load_multiboot2(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
			  const struct guest_module *mods, unsigned nmods, uint64_t rsdp_gpa,
			  struct guest_boot *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t limit = size < MB2_SEARCH ? size : MB2_SEARCH;
	const uint8_t *h = NULL;
	size_t hdr_off = 0;
	uint32_t hlen = 0;
	for (size_t off = 0; off + 16 <= limit; off += 8) {
		uint32_t magic = rd32(img + off), arch = rd32(img + off + 4), len = rd32(img + off + 8);
		if (magic == MB2_MAGIC && magic + arch + len + rd32(img + off + 12) == 0) {
			if (arch != 0)
				return fail(err, errlen, "image: Multiboot2 header for an architecture other than i386");
			if (len < 16 || len > size - off)
				return fail(err, errlen, "image: Multiboot2 header length out of bounds");
			h = img + off, hdr_off = off, hlen = len;
			break;
		}
	}
	if (!h)
		return fail(err, errlen, "image: no Multiboot2 header in the first 32 KiB");

	/* Header tags (spec 3.1.3-3.1.12): entry address, address fields;
	 * a required tag we do not support is an error. */
	const uint8_t *addr_tag = NULL;
	uint64_t entry = 0;
	bool have_entry = false;
	for (uint32_t off = 16; off + 8 <= hlen;) {
		uint16_t type = rd16(h + off), flags = rd16(h + off + 2);
		uint32_t tsize = rd32(h + off + 4);
		if (tsize < 8 || tsize > hlen - off)
			return fail(err, errlen, "image: Multiboot2 header tag size out of bounds");
		if (type == 0)
			break;
		if (type == 2 && tsize >= 24)
			addr_tag = h + off + 8;
		else if (type == 3 && tsize >= 12)
			entry = rd32(h + off + 8), have_entry = true;
		else if (type != 1 && type != 4 && type != 6 && !(flags & 1))
			return fail(err, errlen, "image: Multiboot2 header requires a tag Nestor does not support");
		off += (tsize + 7) & ~7u;
	}
	int r;
	if (addr_tag) {
		/* Same shape as MB1's address fields, starting at header_addr. */
		uint8_t fields[32];
		memset(fields, 0, sizeof(fields));
		memcpy(fields + 12, addr_tag, 16);
		memcpy(fields + 28, &(uint32_t){ (uint32_t)entry }, 4);
		r = load_aout(g, img, size, hdr_off, fields, out, err, errlen);
	} else {
		r = load_elf(g, img, size, out, err, errlen);
	}
	if (r)
		return r;
	if (have_entry)
		out->entry = entry;
	return mb2_boot_info(g, cmdline, mods, nmods, rsdp_gpa, out, err, errlen);
}

/* ---- a plain ELF64 kernel, entered in 64-bit mode ----------------------- */

#define ELF64_PT_GPA 0x1000u   /* PML4, PDPT, 4 page directories: 0x1000-0x6fff */

/* Identity map of the low 4 GiB with 2 MiB pages (SDM 4.5) at
 * ELF64_PT_GPA: the state a 64-bit entry point needs, for an ELF64 kernel
 * and for Linux's 64-bit boot protocol alike. */
static int build_identity_map(struct gmem *g, char *err, size_t errlen)
{
	uint64_t pt[512];
	memset(pt, 0, sizeof(pt));
	pt[0] = (ELF64_PT_GPA + 0x1000) | 3;                 /* PML4[0] -> PDPT */
	if (gmem_write(g, ELF64_PT_GPA, pt, sizeof(pt)))
		return fail(err, errlen, "VM RAM too small for the boot page tables");
	for (unsigned i = 0; i < 4; i++)
		pt[i] = (ELF64_PT_GPA + 0x2000 + i * 0x1000ull) | 3; /* PDPT[i] -> PD i */
	if (gmem_write(g, ELF64_PT_GPA + 0x1000, pt, sizeof(pt)))
		return fail(err, errlen, "VM RAM too small for the boot page tables");
	for (unsigned d = 0; d < 4; d++) {
		for (unsigned i = 0; i < 512; i++)
			pt[i] = ((uint64_t)d << 30) + ((uint64_t)i << 21) + 0x83; /* present, writable, 2 MiB */
		if (gmem_write(g, ELF64_PT_GPA + 0x2000 + d * 0x1000ull, pt, sizeof(pt)))
			return fail(err, errlen, "VM RAM too small for the boot page tables");
	}
	return 0;
}

int guest_load_elf64(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
		     const struct guest_module *mods, unsigned nmods, uint64_t rsdp_gpa,
		     struct guest_boot *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (size < 64 || img[4] != 2)
		return fail(err, errlen, "image: not an ELF64 file");
	if (load_elf(g, img, size, out, err, errlen))
		return -1;
	if (out->image_start < 0x7000)
		return fail(err, errlen, "image: overlaps the boot page tables at 0x1000-0x6fff");
	if (build_identity_map(g, err, errlen))
		return -1;
	uint64_t entry = out->entry;
	if (mb2_boot_info(g, cmdline, mods, nmods, rsdp_gpa, out, err, errlen))
		return -1;
	out->entry = entry;
	out->long_mode = true;
	out->cr3 = ELF64_PT_GPA;
	return 0;
}

/* ---- Linux: the x86 boot protocol, 64-bit entry (Documentation/x86/boot.rst) ---- */

/* The setup header, at the same offsets in the bzImage file and in
 * boot_params (struct setup_header in arch/x86/include/uapi/asm/bootparam.h). */
#define LH_SETUP_SECTS      0x1f1  /* u8: setup part is (this, 0 meaning 4) + 1 sectors */
#define LH_SYSSIZE          0x1f4  /* u32: protected-mode kernel size in 16-byte units */
#define LH_BOOT_FLAG        0x1fe  /* u16: 0xaa55 */
#define LH_JUMP             0x200  /* 2-byte jump; its offset byte + 0x202 = end of header */
#define LH_HEADER           0x202  /* "HdrS" */
#define LH_VERSION          0x206  /* u16: protocol, 0x020f = 2.15 */
#define LH_TYPE_OF_LOADER   0x210  /* u8, written by the loader */
#define LH_LOADFLAGS        0x211  /* u8 */
#define LH_CODE32_START     0x214  /* u32: the 32-bit entry = load address */
#define LH_RAMDISK_IMAGE    0x218  /* u32, written */
#define LH_RAMDISK_SIZE     0x21c  /* u32, written */
#define LH_CMD_LINE_PTR     0x228  /* u32, written */
#define LH_INITRD_ADDR_MAX  0x22c  /* u32 */
#define LH_KERNEL_ALIGNMENT 0x230  /* u32 */
#define LH_RELOCATABLE      0x234  /* u8 */
#define LH_XLOADFLAGS       0x236  /* u16 (2.12+) */
#define LH_CMDLINE_SIZE     0x238  /* u32 (2.06+) */
#define LH_PREF_ADDRESS     0x258  /* u64 (2.10+) */
#define LH_INIT_SIZE        0x260  /* u32 (2.10+) */
#define LH_MIN_END          0x264  /* a 2.12 header reaches at least past init_size */

#define LOADFLAGS_LOADED_HIGH 0x01
#define XLF_KERNEL_64         0x01 /* the 64-bit entry at load address + 0x200 */
#define LINUX_LOADER_UNDEFINED 0xff /* type_of_loader: "a boot loader with no assigned id" */

/* struct boot_params: the rest of the zero page. */
#define BP_ACPI_RSDP_ADDR    0x070 /* u64 (2.14+) */
#define BP_EXT_RAMDISK_IMAGE 0x0c0 /* high 32 bits of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_ALT_MEM_K         0x1e0 /* u32: KiB of memory above 1 MiB (fallback) */
#define BP_E820_ENTRIES      0x1e8 /* u8 */
#define BP_HDR_END_MAX       0x290 /* edd_mbr_sig_buffer: the header ends before it */
#define BP_E820_TABLE        0x2d0 /* struct boot_e820_entry[128] */

#define LINUX_ENTRY64_OFFSET 0x200 /* startup_64, relative to the load address */
#define BIOS_AREA_START 0x9fc00ull /* EBDA .. end of the BIOS ROM: reserved on a PC */
#define BIOS_AREA_END   0x100000ull
#define FOUR_GIB        0x100000000ull

int guest_linux_parse(const uint8_t *img, size_t size, struct linux_header *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (size < LH_MIN_END)
		return fail(err, errlen, "image: too small for a Linux bzImage setup header");
	if (rd16(img + LH_BOOT_FLAG) != 0xaa55 || memcmp(img + LH_HEADER, "HdrS", 4))
		return fail(err, errlen, "image: not a Linux bzImage (no 0xAA55 boot flag and \"HdrS\" header)");
	h->version = rd16(img + LH_VERSION);
	if (h->version < 0x020c)
		return fail(err, errlen, "image: Linux boot protocol older than 2.12 (no 64-bit entry)");
	h->header_end = 0x202u + img[LH_JUMP + 1];
	if (h->header_end < LH_MIN_END || h->header_end > BP_HDR_END_MAX)
		return fail(err, errlen, "image: Linux setup header length does not match its protocol version");
	h->setup_sects = img[LH_SETUP_SECTS] ? img[LH_SETUP_SECTS] : 4;
	h->kernel_offset = (h->setup_sects + 1) * 512u;
	if (h->kernel_offset < h->header_end || h->kernel_offset >= size)
		return fail(err, errlen, "image: Linux setup sectors end beyond the file");
	h->kernel_size = (size_t)rd32(img + LH_SYSSIZE) * 16;
	if (h->kernel_size == 0 || h->kernel_size > size - h->kernel_offset)
		return fail(err, errlen, "image: Linux syssize: the protected-mode kernel is beyond the end of the file");
	h->loadflags = img[LH_LOADFLAGS];
	h->xloadflags = rd16(img + LH_XLOADFLAGS);
	if (!(h->loadflags & LOADFLAGS_LOADED_HIGH))
		return fail(err, errlen, "image: Linux zImage (loaded low), not a bzImage");
	if (!(h->xloadflags & XLF_KERNEL_64))
		return fail(err, errlen, "image: Linux kernel without the 64-bit entry (xloadflags XLF_KERNEL_64)");
	h->relocatable = img[LH_RELOCATABLE] != 0;
	h->kernel_alignment = rd32(img + LH_KERNEL_ALIGNMENT);
	if (h->relocatable && (h->kernel_alignment < 4096 || h->kernel_alignment > (1u << 30) ||
			       (h->kernel_alignment & (h->kernel_alignment - 1))))
		return fail(err, errlen, "image: Linux kernel_alignment is not a power of two from 4 KiB to 1 GiB");
	h->pref_address = rd64(img + LH_PREF_ADDRESS);
	h->init_size = rd32(img + LH_INIT_SIZE);
	if (h->init_size < h->kernel_size)
		return fail(err, errlen, "image: Linux init_size smaller than the kernel itself");
	h->cmdline_size = rd32(img + LH_CMDLINE_SIZE);
	h->initrd_addr_max = rd32(img + LH_INITRD_ADDR_MAX);
	return 0;
}

/* Append [addr, addr + size) of a type, merged with the previous entry
 * when they touch and agree. */
static int e820_add(struct e820_entry *out, unsigned max, unsigned *n, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n && out[*n - 1].type == type && out[*n - 1].addr + out[*n - 1].size == addr) {
		out[*n - 1].size += size;
		return 0;
	}
	if (*n == max)
		return -1;
	out[(*n)++] = (struct e820_entry){ addr, size, type };
	return 0;
}

int guest_e820_from_gmem(const struct gmem *g, struct e820_entry *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < g->count && i < GMEM_MAX_RANGES; i++) {
		const struct gmem_range *r = &g->r[i];
		uint64_t a = r->gpa, b = r->gpa + r->size;
		if (r->kind == GMEM_ROM) {
			if (e820_add(out, max, &n, a, r->size, E820_RESERVED))
				return -1;
			continue;
		}
		if (r->kind != GMEM_RAM)
			continue;
		/* RAM below, inside and above the BIOS area (ranges are sorted). */
		uint64_t lo_end = b < BIOS_AREA_START ? b : BIOS_AREA_START;
		uint64_t mid_a = a > BIOS_AREA_START ? a : BIOS_AREA_START;
		uint64_t mid_b = b < BIOS_AREA_END ? b : BIOS_AREA_END;
		uint64_t hi_a = a > BIOS_AREA_END ? a : BIOS_AREA_END;
		if ((a < lo_end && e820_add(out, max, &n, a, lo_end - a, E820_RAM)) ||
		    (mid_a < mid_b && e820_add(out, max, &n, mid_a, mid_b - mid_a, E820_RESERVED)) ||
		    (hi_a < b && e820_add(out, max, &n, hi_a, b - hi_a, E820_RAM)))
			return -1;
	}
	return (int)n;
}

/* Is there a word of s (space separated) that starts with prefix? */
static bool has_param(const char *s, const char *prefix)
{
	size_t pl = strlen(prefix);
	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, prefix, pl))
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* Append text to out (used bytes *n, NUL kept); -1 if it does not fit. */
static int append(char *out, size_t outlen, size_t *n, const char *text)
{
	size_t l = strlen(text);
	if (*n + l + 1 > outlen)
		return -1;
	memcpy(out + *n, text, l + 1);
	*n += l;
	return 0;
}

int guest_linux_cmdline(char *out, size_t outlen, const char *user, uint32_t tsc_khz)
{
	size_t n = 0;
	if (!outlen)
		return -1;
	out[0] = 0;
	if (!user)
		user = "";
	if (append(out, outlen, &n, user))
		return -1;
	if (tsc_khz && !has_param(user, "tsc_early_khz=")) {
		char num[24], *p = num + sizeof(num);
		*--p = 0;
		do
			*--p = (char)('0' + tsc_khz % 10);
		while (tsc_khz /= 10);
		if ((n && append(out, outlen, &n, " ")) || append(out, outlen, &n, "tsc_early_khz=") ||
		    append(out, outlen, &n, p))
			return -1;
	}
	if (!has_param(user, "tsc=") && ((n && append(out, outlen, &n, " ")) || append(out, outlen, &n, "tsc=reliable")))
		return -1;
	return 0;
}

static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

int guest_load_linux(struct gmem *g, const uint8_t *img, size_t size, const char *cmdline,
		     const struct guest_module *initrd, uint64_t rsdp_gpa,
		     struct guest_boot *out, char *err, size_t errlen)
{
	struct linux_header h;
	memset(out, 0, sizeof(*out));
	if (guest_linux_parse(img, size, &h, err, errlen))
		return -1;

	/* Where the kernel goes: pref_address (raised to kernel_alignment
	 * for a relocatable kernel).  A relocatable kernel loaded lower
	 * would still decompress at its LOAD_PHYSICAL_ADDR, which is
	 * pref_address, so that whole region must be free either way. */
	uint64_t load = h.pref_address;
	if (h.relocatable) {
		uint64_t a = h.kernel_alignment;
		if (load > FOUR_GIB)
			return fail(err, errlen, "image: Linux pref_address above 4 GiB");
		load = (load + a - 1) & ~(a - 1);
	}
	if (load < BIOS_AREA_END || load >= FOUR_GIB || h.init_size > FOUR_GIB - load)
		return fail(err, errlen, "image: Linux pref_address + init_size outside 1 MiB..4 GiB");
	uint64_t kend = load + h.init_size;
	if (kend > g->ram_top || !gmem_ptr(g, load, h.init_size, true))
		return fail(err, errlen, "VM RAM too small for the Linux kernel (pref_address + init_size)");
	if (gmem_write(g, load, img + h.kernel_offset, h.kernel_size))
		return fail(err, errlen, "VM RAM too small for the Linux kernel (pref_address + init_size)");
	out->image_start = load;
	out->image_end = kend;

	/* The command line, bounded by what the kernel accepts. */
	size_t cl = cmdline ? strlen(cmdline) : 0;
	if (cl > h.cmdline_size || cl > LINUX_CMDLINE_MAX)
		return fail(err, errlen, "command line longer than the kernel's cmdline_size");
	if (gmem_write(g, LINUX_CMDLINE_GPA, cmdline ? cmdline : "", cl + 1))
		return fail(err, errlen, "VM RAM too small for the Linux command line");

	/* The initrd: as high as allowed (below initrd_addr_max, the top of
	 * RAM and the 4 GiB the boot page tables map), page aligned, above
	 * the kernel's init_size region. */
	uint64_t rd_addr = 0, rd_size = 0;
	if (initrd && initrd->size) {
		uint64_t limit = g->ram_top;
		if (limit > (uint64_t)h.initrd_addr_max + 1)
			limit = (uint64_t)h.initrd_addr_max + 1;
		if (limit > FOUR_GIB)
			limit = FOUR_GIB;
		rd_size = initrd->size;
		uint64_t low = (kend + 4095) & ~4095ull;
		if (rd_size > limit || ((limit - rd_size) & ~4095ull) < low)
			return fail(err, errlen, "initrd does not fit between the kernel and the top of RAM (or initrd_addr_max)");
		rd_addr = (limit - rd_size) & ~4095ull;
		if (gmem_write(g, rd_addr, initrd->data, rd_size))
			return fail(err, errlen, "initrd does not fit between the kernel and the top of RAM (or initrd_addr_max)");
	}

	/* boot_params: zero, the setup header as the image has it, then what
	 * the boot loader fills in (boot.rst "Details of header fields"). */
	uint8_t bp[4096];
	memset(bp, 0, sizeof(bp));
	memcpy(bp + LH_SETUP_SECTS, img + LH_SETUP_SECTS, h.header_end - LH_SETUP_SECTS);
	bp[LH_TYPE_OF_LOADER] = LINUX_LOADER_UNDEFINED;
	bp[LH_LOADFLAGS] = h.loadflags | LOADFLAGS_LOADED_HIGH;
	wr32(bp + LH_CODE32_START, (uint32_t)load);
	wr32(bp + LH_RAMDISK_IMAGE, (uint32_t)rd_addr);
	wr32(bp + LH_RAMDISK_SIZE, (uint32_t)rd_size);
	wr32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd_addr >> 32));
	wr32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(rd_size >> 32));
	wr32(bp + LH_CMD_LINE_PTR, LINUX_CMDLINE_GPA);
	wr32(bp + BP_EXT_CMD_LINE_PTR, 0);
	wr64(bp + BP_ACPI_RSDP_ADDR, rsdp_gpa);
	uint64_t above_1m = g->ram_top > BIOS_AREA_END ? (g->ram_top - BIOS_AREA_END) >> 10 : 0;
	wr32(bp + BP_ALT_MEM_K, above_1m > 0xffffffffu ? 0xffffffffu : (uint32_t)above_1m);
	struct e820_entry e820[LINUX_E820_MAX];
	int ne = guest_e820_from_gmem(g, e820, LINUX_E820_MAX);
	if (ne <= 0)
		return fail(err, errlen, "VM memory map does not fit in the e820 table");
	bp[BP_E820_ENTRIES] = (uint8_t)ne;
	memcpy(bp + BP_E820_TABLE, e820, (size_t)ne * sizeof(e820[0]));
	if (build_identity_map(g, err, errlen))
		return -1;
	if (gmem_write(g, LINUX_BOOT_PARAMS_GPA, bp, sizeof(bp)))
		return fail(err, errlen, "VM RAM too small for boot_params");

	out->entry = load + LINUX_ENTRY64_OFFSET;
	out->rsi = LINUX_BOOT_PARAMS_GPA;
	out->rsp = LINUX_STACK_TOP;
	out->long_mode = true;
	out->cr3 = ELF64_PT_GPA;
	return 0;
}

int guest_load_flat(struct gmem *g, const uint8_t *img, size_t size, uint64_t load_addr,
		    struct guest_boot *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (gmem_write(g, load_addr, img, size))
		return fail(err, errlen, "flat image: does not fit in the VM's RAM at load_addr");
	out->entry = load_addr;
	out->eax = out->ebx = 0;
	out->image_start = load_addr;
	out->image_end = load_addr + size;
	return 0;
}
