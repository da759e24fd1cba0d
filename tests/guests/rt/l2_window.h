/*
 * What svmhv and vmxhv, the two L1 test hypervisors, share about their
 * L2: the window of L1 RAM it lives in, the command line that sizes it,
 * access to L2 memory through the L1's second-level table, and loading L2
 * like a Multiboot1 loader.  Not a library: included once by each of them,
 * after their own definitions of
 *   me              the L1's name in messages ("svmhv", "vmxhv(L2)", ...);
 *   nested_l2       set by "nested" on the command line;
 *   fail_exit()     report a failed check and end the run;
 *   KIB, MIB, GIB   and L2_LOADER_NAME, the boot loader name L2 sees;
 * and defining, after it, l2_translate(): L2 GPA -> L1 GPA through NPT12 or
 * EPT12, or NO_L1.
 */
#ifndef GUEST_L2_WINDOW_H
#define GUEST_L2_WINDOW_H

#define NO_L1 (~0ull)
static uint64_t l2_translate(uint64_t gpa);

/* ---- L2 memory: a window of the L1's RAM ------------------------------- */
#define POOL_BYTES (4 * MIB)      /* after the window: L1 pages for the NPT12/EPT12 tests */
#define BIOS_LO 0xe0000ull        /* BIOS area, passed through: ACPI tables live there */
#define BIOS_HI 0x100000ull
#define L2_INFO 0x9000ull         /* the Multiboot information page, as Nestor places it */
#define L2_MODS_MAX 3             /* modules the L1 hands on to L2 */

static uint64_t l2_size = 32 * MIB;  /* 64 MiB in nested mode: room for L2's own guest */
static bool l2mem_given;
static uint64_t l2_base;          /* L1 GPA of L2 GPA 0 */
static uint64_t pool_2m, pool_4k, pool_4k_end;
static char l2_cmdline[256] = "l2";

static bool in_l2_ram(uint64_t gpa, uint64_t len)
{
	return gpa < l2_size && len <= l2_size - gpa && !(gpa < BIOS_HI && gpa + len > BIOS_LO);
}

static void parse_cmdline(const char *s)
{
	while (s && *s) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		if (s - w == 2 && !memcmp(w, "--", 2)) {
			while (*s == ' ')
				s++;
			snprintf(l2_cmdline, sizeof(l2_cmdline), "%s", s);
			return;
		}
		if (s - w == 6 && !memcmp(w, "nested", 6))
			nested_l2 = true;
		if (s - w > 6 && !memcmp(w, "l2mem=", 6)) {
			char *end;
			uint64_t v = strtoull(w + 6, &end, 0);
			switch (*end) {
			case 'G': case 'g': v *= GIB; end++; break;
			case 'M': case 'm': v *= MIB; end++; break;
			case 'K': case 'k': v *= KIB; end++; break;
			}
			if (end != s || v < 4 * MIB || v > GIB || v % (2 * MIB))
				fail_exit("command line", "l2mem: a multiple of 2M from 4M to 1G");
			l2_size = v;
			l2mem_given = true;
		}
	}
}

/* The window starts at the first 2 MiB boundary above the L1's image and
 * every boot module (L2's image is copied out of module 0). */
static void choose_window(void)
{
	uint64_t end = (uint64_t)__kernel_end;
	for (unsigned i = 0; i < rt_boot.mods_count; i++) {
		const struct boot_module *m = rt_boot_module(i);
		if (m->addr + m->size > end)
			end = m->addr + m->size;
	}
	l2_base = (end + 2 * MIB - 1) & ~(2 * MIB - 1);
	uint64_t top = rt_boot.ram_bytes < 4 * GIB ? rt_boot.ram_bytes : 4 * GIB;
	if (l2_base + l2_size + POOL_BYTES > top)
		fail_exit("memory", "L2 needs %lu MiB at %#lx, RAM ends at %#lx",
			  (unsigned long)((l2_size + POOL_BYTES) >> 20), (unsigned long)l2_base, (unsigned long)top);
	pool_2m = l2_base + l2_size;
	pool_4k = pool_2m + 2 * MIB;
	pool_4k_end = pool_4k + 2 * MIB;
}

/* An L2 buffer as one range of the L1's memory, or NULL when it is not all
 * L2 RAM or not contiguous in L1. */
static void *l2_buffer(uint64_t gpa, uint64_t len)
{
	uint64_t l1 = l2_translate(gpa);
	if (l1 == NO_L1 || len > 64 * KIB || !in_l2_ram(gpa, len))
		return NULL;
	for (uint64_t p = (gpa & ~0xfffull) + 4096; p < gpa + len; p += 4096)
		if (l2_translate(p) != l1 + (p - gpa))
			return NULL;
	return (void *)l1;
}

/* Copy len bytes between L2 memory at gpa and buf, page by page through
 * L1's table; false (and maybe a part copied) when a byte is not L2 RAM. */
static bool l2_copy(uint64_t gpa, void *buf, uint64_t len, bool to_l2)
{
	if (!in_l2_ram(gpa, len))
		return false;
	while (len) {
		uint64_t l1 = l2_translate(gpa), n = 4096 - (gpa & 0xfff);
		if (l1 == NO_L1)
			return false;
		if (n > len)
			n = len;
		if (to_l2)
			memcpy((void *)l1, buf, n);
		else
			memcpy(buf, (void *)l1, n);
		gpa += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	return true;
}

/* ---- Loading L2 like a Multiboot1 loader (MB spec 0.6.96, 3.1 and 3.3) -- */
#define MB1_MAGIC 0x1badb002u
#define MB1_BOOT_MAGIC 0x2badb002u
#define MB1_FLAG_ADDRESS (1u << 16)

struct mb1_header { uint32_t magic, flags, checksum, header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; };
struct mb1_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4], mmap_length, mmap_addr, drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));
struct mb1_mmap { uint32_t size; uint64_t base, len; uint32_t type; } __attribute__((packed));

static uint32_t load_l2(const struct boot_module *m)
{
	const uint8_t *img = (const uint8_t *)m->addr;
	struct mb1_header h;
	uint64_t off;
	for (off = 0; off + sizeof(h) <= m->size && off < 8192; off += 4) {   /* 3.1.1 */
		memcpy(&h, img + off, sizeof(h));
		if (h.magic == MB1_MAGIC && h.magic + h.flags + h.checksum == 0)
			break;
	}
	if (off + sizeof(h) > m->size || off >= 8192)
		fail_exit("L2 image", "no Multiboot1 header in the first 8 KiB of %s", m->name);
	if (!(h.flags & MB1_FLAG_ADDRESS) || (h.flags & 0xfffc))
		fail_exit("L2 image", "flags %#x: " L2_LOADER_NAME " needs the address fields and nothing else", h.flags);
	/* 3.1.3: the file from header_addr - load_addr before the header on is
	 * copied to load_addr, up to load_end_addr; bss_end_addr is zeroed. */
	if (h.header_addr < h.load_addr || h.header_addr - h.load_addr > off)
		fail_exit("L2 image", "address fields inconsistent");
	uint64_t file_off = off - (h.header_addr - h.load_addr);
	uint64_t len = h.load_end_addr ? (uint64_t)h.load_end_addr - h.load_addr : m->size - file_off;
	uint64_t end = h.bss_end_addr > h.load_addr + len ? h.bss_end_addr : h.load_addr + len;
	if (len > m->size - file_off || !in_l2_ram(h.load_addr, end - h.load_addr) ||
	    (h.load_addr < L2_INFO + 4096 && end > L2_INFO))
		fail_exit("L2 image", "does not fit in L2 RAM");
	uint8_t *ram = (uint8_t *)l2_base;            /* L2 GPA 0 in the L1's address space */
	memcpy(ram + h.load_addr, img + file_off, len);
	memset(ram + h.load_addr + len, 0, end - h.load_addr - len);

	/* 3.3: the L1's modules 1, 2, 3 become L2's modules, page aligned after
	 * the image, each named by its file name. */
	struct { uint32_t start, end, string, reserved; } mods[L2_MODS_MAX];
	unsigned nmods = 0;
	uint64_t at = (end + 4095) & ~4095ull;
	for (unsigned i = 1; i < rt_boot.mods_count && nmods < L2_MODS_MAX; i++, nmods++) {
		const struct boot_module *mi = rt_boot_module(i);
		if (!in_l2_ram(at, mi->size))
			fail_exit("L2 modules", "%s (%lu KiB) does not fit in L2 RAM at %#lx", mi->name,
				  (unsigned long)(mi->size / KIB), (unsigned long)at);
		memcpy(ram + at, (const void *)mi->addr, mi->size);
		mods[nmods].start = (uint32_t)at;
		mods[nmods].end = (uint32_t)(at + mi->size);
		mods[nmods].string = (uint32_t)(L2_INFO + 768 + 64 * nmods);
		mods[nmods].reserved = 0;
		at = (at + mi->size + 4095) & ~4095ull;
	}

	/* 3.3: the boot information, in one page of L2 RAM. */
	uint8_t *page = ram + L2_INFO;
	memset(page, 0, 4096);
	struct mb1_mmap mmap[] = {
		{ 20, 0, 0x9fc00, 1 },
		{ 20, 0x9fc00, 0x400, 2 },
		{ 20, BIOS_LO, BIOS_HI - BIOS_LO, 2 },
		{ 20, BIOS_HI, l2_size - BIOS_HI, 1 },
	};
	struct mb1_info info = {
		.flags = (1u << 0) | (1u << 2) | (1u << 6) | (1u << 9), /* mem, cmdline, mmap, loader name */
		.mem_lower = 639,
		.mem_upper = (uint32_t)((l2_size - BIOS_HI) / KIB),
		.cmdline = L2_INFO + 512,
		.mmap_length = sizeof(mmap),
		.mmap_addr = L2_INFO + 256,
		.boot_loader_name = L2_INFO + 1024 - 16,
	};
	if (nmods) {
		info.flags |= 1u << 3;                        /* mods */
		info.mods_count = nmods;
		info.mods_addr = L2_INFO + 128;
	}
	/* The page: info at 0, module list at 128, memory map at 256, command
	 * line at 512, module names at 768 (64 bytes each), loader name. */
	memcpy(page, &info, sizeof(info));
	memcpy(page + 128, mods, nmods * sizeof(mods[0]));
	memcpy(page + 256, mmap, sizeof(mmap));
	memcpy(page + 512, l2_cmdline, strlen(l2_cmdline) + 1);
	for (unsigned i = 0; i < nmods; i++)
		memcpy(page + 768 + 64 * i, rt_boot_module(i + 1)->name, strlen(rt_boot_module(i + 1)->name) + 1);
	memcpy(page + 1024 - 16, L2_LOADER_NAME, sizeof(L2_LOADER_NAME));
	return h.entry_addr;
}

#endif
