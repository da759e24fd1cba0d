/*
 * vmxhv: a small Intel VMX hypervisor that is itself a test guest (an "L1").
 * The twin of svmhv (tests/guests/svmhv.c) for VT-x.
 *
 * It runs boot module 0, another test guest (a Multiboot1 kernel), as its
 * own guest ("L2"), the way a real hypervisor would (Intel SDM vol. 3C,
 * chapters 24-30):
 *   - L2's memory is a window of vmxhv's RAM, mapped by an EPT12 that vmxhv
 *     builds (L2 GPA -> L1 GPA, SDM 29.3): 4-level, write-back, 4 KiB pages
 *     for the first 2 MiB and 2 MiB pages above, plus the LAPIC, IOAPIC and
 *     BIOS area passed through at their own addresses;
 *   - L2 starts as a Multiboot1 loader would start it (32-bit protected
 *     mode, paging off, EAX = 0x2BADB002, EBX = the information structure),
 *     which VMX allows with "unrestricted guest" (25.6.2, 27.3.1.1);
 *   - vmxhv handles L2's CPUID (hiding VMX, CPUID.1:ECX bit 5), the CR0/CR4
 *     bits VMX reserves (CR0.NE, CR4.VMXE: guest/host masks and read shadows,
 *     25.6.6), the MSRs outside the MSR bitmap's ranges and the VMX
 *     capability MSRs, and VMCALL: a few hypercalls of its own that change
 *     EPT12 while L2 runs (tests/guests/npt12.c, the same ABI as svmhv's),
 *     to test that the hypervisor below vmxhv follows such changes once
 *     vmxhv executes INVEPT (29.4.3.4); others go on to that hypervisor.
 *     VMX instructions give L2 a #UD.  L2's write to the isa-debug-exit
 *     port 0xF4 (the one port of the I/O bitmaps) ends the run.  Everything
 *     else (I/O, MMIO, interrupts: external-interrupt exiting is off, so
 *     they are delivered through L2's IDT; the LAPIC) passes through to the
 *     hypervisor below.
 *
 * Under plain Bochs (which emulates VMX with EPT, VPID and unrestricted
 * guest) vmxhv runs on the emulated CPU; under Nestor with `nested = on`,
 * Nestor emulates VMX for it.  vmxhv runs on the runtime's identity map
 * (boot/multiboot2/entry.S), so its addresses below 4 GiB are L1 GPAs.
 *
 * Command line: `l2mem=SIZE` (L2 RAM, default 32M), `-- WORDS` (the rest is
 * L2's command line, default "l2").
 *
 * The Multiboot1 loader, the window and the hole mapping are svmhv's, kept
 * line for line so the two L1s load L2 identically.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/vmx_l1.h"
#include "tests/guests/rt/vmx_guest.h"

extern char __kernel_end[];

#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

#define EFER_LMA (1ull << 10)
#define CR0_ET   (1ull << 4)
#define CR0_NW   (1ull << 29)
#define CR0_CD   (1ull << 30)

static bool has_vpid, has_shadow_vmcs, l1_under_nestor;
static uint64_t invept_type;               /* 1 single-context, 2 all-context (SDM 31.3 INVEPT) */

/* ---- vmxhv's VMX pages ------------------------------------------------- */
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));  /* 25.11.5 */
static uint8_t vmcs12[4096] __attribute__((aligned(4096)));        /* L2 as vmxhv runs it */
static uint8_t io_bitmap_a[4096] __attribute__((aligned(4096)));   /* ports 0-7FFF (25.6.4) */
static uint8_t io_bitmap_b[4096] __attribute__((aligned(4096)));   /* ports 8000-FFFF */
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));    /* 25.6.9 */
static uint8_t fx_l1[512] __attribute__((aligned(16)));
static uint8_t fx_l2[512] __attribute__((aligned(16)));

/* L2's general registers other than RSP (which is in the VMCS): VM entry
 * and exit load and store none of them (27.3.2, 28.3). */
static struct vmx_l1_gprs l2;

static void fail_exit(const char *what, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void fail_exit(const char *what, const char *fmt, ...)
{
	char detail[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rt_check(false, what, "%s", detail);
	rt_exit();
}

/* ---- Turning VMX on (SDM 24.7, 24.8) and what vmxhv needs of it -------- */
static void vmx_enable(void)
{
	const char *why = vmx_l1_enable(vmxon_region);
	if (why)
		fail_exit("vmxhv: VMX", "%s", why);
	const struct vmx_l1_caps *c = &vmx_l1;
	uint32_t need2 = VX_PROC2_EPT | VX_PROC2_UNRESTRICTED;
	if (!vmx_l1_may(c->proc, VX_PROC_SECONDARY | VX_PROC_IO_BITMAPS | VX_PROC_MSR_BITMAPS) ||
	    !vmx_l1_may(c->proc2, need2))
		fail_exit("vmxhv: VMX", "needs I/O and MSR bitmaps, EPT and unrestricted guest (procbased %#lx, procbased2 %#lx)",
			  (unsigned long)c->proc, (unsigned long)c->proc2);
	if ((c->ept_vpid & (VX_EPT_WALK_4 | VX_EPT_WB | VX_EPT_2M)) != (VX_EPT_WALK_4 | VX_EPT_WB | VX_EPT_2M))
		fail_exit("vmxhv: VMX", "EPT without 4-level walks, WB or 2 MiB pages (EPT_VPID_CAP %#lx)",
			  (unsigned long)c->ept_vpid);
	if (!(c->ept_vpid & VX_EPT_INVEPT) || !(c->ept_vpid & (VX_EPT_INVEPT_SINGLE | VX_EPT_INVEPT_ALL)))
		fail_exit("vmxhv: VMX", "no INVEPT: EPT12 edits could not be made visible (EPT_VPID_CAP %#lx)",
			  (unsigned long)c->ept_vpid);
	invept_type = c->ept_vpid & VX_EPT_INVEPT_SINGLE ? 1 : 2;
	/* L2's EFER (LME/LMA once it enters long mode) must survive exits. */
	if (!vmx_l1_may(c->exit, VX_EXIT_SAVE_EFER | VX_EXIT_LOAD_EFER) || !vmx_l1_may(c->entry, VX_ENTRY_LOAD_EFER))
		fail_exit("vmxhv: VMX", "needs the save/load IA32_EFER controls (exit %#lx, entry %#lx)",
			  (unsigned long)c->exit, (unsigned long)c->entry);
	has_vpid = vmx_l1_may(c->proc2, VX_PROC2_VPID);
	has_shadow_vmcs = vmx_l1_may(c->proc2, VX_PROC2_SHADOW_VMCS);
	l1_under_nestor = rt_under_nestor();
}

/* ---- L2 memory: a window of vmxhv's RAM (as svmhv) --------------------- */
#define POOL_BYTES (4 * MIB)      /* after the window: L1 pages for the EPT12 tests */
#define BIOS_LO 0xe0000ull        /* BIOS area, passed through: ACPI tables live there */
#define BIOS_HI 0x100000ull
#define L2_INFO 0x9000ull         /* the Multiboot information page, as Nestor places it */

static uint64_t l2_size = 32 * MIB;
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
		if (s - w > 6 && !memcmp(w, "l2mem=", 6)) {
			char *end;
			uint64_t v = strtoull(w + 6, &end, 0);
			switch (*end) {
			case 'G': case 'g': v *= GIB; end++; break;
			case 'M': case 'm': v *= MIB; end++; break;
			case 'K': case 'k': v *= KIB; end++; break;
			}
			if (end != s || v < 4 * MIB || v > GIB || v % (2 * MIB))
				fail_exit("vmxhv: command line", "l2mem: a multiple of 2M from 4M to 1G");
			l2_size = v;
		}
	}
}

/* The window starts at the first 2 MiB boundary above vmxhv's image and
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
		fail_exit("vmxhv: memory", "L2 needs %lu MiB at %#lx, RAM ends at %#lx",
			  (unsigned long)((l2_size + POOL_BYTES) >> 20), (unsigned long)l2_base, (unsigned long)top);
	pool_2m = l2_base + l2_size;
	pool_4k = pool_2m + 2 * MIB;
	pool_4k_end = pool_4k + 2 * MIB;
}

/* ---- EPT12: L2 GPA -> L1 GPA (SDM 29.3.2, 29.3.7) -----------------------
 * An entry is present when any of R, W, X is set; leaves carry the memory
 * type in bits 5:3 (WB for RAM, UC for MMIO), bit 7 makes a PDE a 2 MiB
 * page.  Non-leaf entries have bits 7:3 reserved (zero). */
#define EPT_R       (1ull << 0)
#define EPT_W       (1ull << 1)
#define EPT_X       (1ull << 2)
#define EPT_RWX     (EPT_R | EPT_W | EPT_X)
#define EPT_MT_WB   (6ull << 3)
#define EPT_MT_UC   (0ull << 3)
#define EPT_IPAT    (1ull << 6)
#define EPT_PS      (1ull << 7)
#define EPT_TABLE   EPT_RWX
#define EPT_LEAF    (EPT_RWX | EPT_MT_WB)
#define EPT_MMIO    (EPT_RWX | EPT_MT_UC)
#define EPT_LEAF_ATTRS (EPT_RWX | (7ull << 3) | EPT_IPAT)
#define EPT_ADDR_4K 0x000ffffffffff000ull
#define EPT_ADDR_2M 0x000fffffffe00000ull
#define NO_L1       (~0ull)

static uint64_t ept12_pages[24][512] __attribute__((aligned(4096)));
static unsigned ept12_used;
static uint64_t *ept12_pml4;
static uint64_t eptp12;

static uint64_t *ept12_alloc(void)
{
	if (ept12_used == sizeof(ept12_pages) / sizeof(ept12_pages[0]))
		return NULL;
	uint64_t *t = ept12_pages[ept12_used++];
	memset(t, 0, 4096);
	return t;
}

static unsigned ept12_index(uint64_t gpa, int level) { return (gpa >> (12 + 9 * (level - 1))) & 511; }
static bool ept_present(uint64_t e) { return e & EPT_RWX; }

/*
 * The EPT12 entry that maps gpa at level 2 (a 2 MiB page, PDE) or level 1
 * (a 4 KiB page, PTE), creating the tables above it.  Asking for a 4 KiB
 * entry inside a 2 MiB page splits that page into 512 equal 4 KiB pages.
 */
static uint64_t *ept12_entry(uint64_t gpa, int level)
{
	uint64_t *t = ept12_pml4;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[ept12_index(gpa, l)];
		if (!ept_present(*e) || (*e & EPT_PS)) {
			uint64_t *next = ept12_alloc();
			if (!next)
				return NULL;
			if (ept_present(*e))                    /* a 2 MiB page: split it */
				for (unsigned i = 0; i < 512; i++)
					next[i] = ((*e & EPT_ADDR_2M) + i * 4096) | (*e & EPT_LEAF_ATTRS);
			*e = (uint64_t)next | EPT_TABLE;
		}
		t = (uint64_t *)(*e & EPT_ADDR_4K);
	}
	return &t[ept12_index(gpa, level)];
}

static uint64_t ept12_translate(uint64_t gpa)
{
	uint64_t *t = ept12_pml4;
	for (int l = 4;; l--) {
		uint64_t e = t[ept12_index(gpa, l)];
		if (!ept_present(e))
			return NO_L1;
		if (l == 1)
			return (e & EPT_ADDR_4K) | (gpa & 0xfff);
		if (l == 2 && (e & EPT_PS))
			return (e & EPT_ADDR_2M) | (gpa & (2 * MIB - 1));
		t = (uint64_t *)(e & EPT_ADDR_4K);
	}
}

static int ept12_map(uint64_t gpa, uint64_t l1, int level, uint64_t flags)
{
	uint64_t *e = ept12_entry(gpa, level);
	if (!e)
		return -1;
	*e = l1 | flags | (level == 2 ? EPT_PS : 0);
	return 0;
}

/* A translation changed or went away.  The CPU may go on using cached
 * guest-physical and combined mappings derived from the old entry until
 * software invalidates them (SDM 29.4.3.1); 29.4.3.4 asks for INVEPT
 * after such a change, before the next VM entry that could use it.
 * Single-context (this EPTP) where offered, else all-context. */
static void ept12_changed(void)
{
	int r = vx_invept(invept_type, eptp12);
	if (r) {
		char b[80];
		fail_exit("vmxhv: INVEPT", "type %lu: %s", (unsigned long)invept_type, vx_fail_text(r, b, sizeof(b)));
	}
}

static void ept12_build(void)
{
	ept12_pml4 = ept12_alloc();
	/* The first 2 MiB in 4 KiB pages (PTEs), the BIOS area identity. */
	for (uint64_t gpa = 0; gpa < 2 * MIB; gpa += 4096) {
		bool bios = gpa >= BIOS_LO && gpa < BIOS_HI;
		if (ept12_map(gpa, bios ? gpa : l2_base + gpa, 1, EPT_LEAF))
			goto full;
	}
	/* The rest in 2 MiB pages (PDE bit 7, 29.3.2). */
	for (uint64_t gpa = 2 * MIB; gpa < l2_size; gpa += 2 * MIB)
		if (ept12_map(gpa, l2_base + gpa, 2, EPT_LEAF))
			goto full;
	/* The IOAPIC and LAPIC pages of vmxhv's platform, passed through, UC. */
	if (ept12_map(0xfec00000, 0xfec00000, 1, EPT_MMIO) || ept12_map(0xfee00000, 0xfee00000, 1, EPT_MMIO))
		goto full;
	/* EPTP (25.6.11): WB paging structures, page-walk length 4 - 1, no A/D. */
	eptp12 = (uint64_t)ept12_pml4 | (3ull << 3) | 6;
	return;
full:
	fail_exit("vmxhv: EPT12", "out of table pages");
}

/* An L2 buffer as one range of vmxhv's memory, or NULL when it is not all
 * L2 RAM or not contiguous in L1. */
static void *l2_buffer(uint64_t gpa, uint64_t len)
{
	uint64_t l1 = ept12_translate(gpa);
	if (l1 == NO_L1 || len > 64 * KIB || !in_l2_ram(gpa, len))
		return NULL;
	for (uint64_t p = (gpa & ~0xfffull) + 4096; p < gpa + len; p += 4096)
		if (ept12_translate(p) != l1 + (p - gpa))
			return NULL;
	return (void *)l1;
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
		fail_exit("vmxhv: L2 image", "no Multiboot1 header in the first 8 KiB of %s", m->name);
	if (!(h.flags & MB1_FLAG_ADDRESS) || (h.flags & 0xfffc))
		fail_exit("vmxhv: L2 image", "flags %#x: vmxhv needs the address fields and nothing else", h.flags);
	/* 3.1.3: the file from header_addr - load_addr before the header on is
	 * copied to load_addr, up to load_end_addr; bss_end_addr is zeroed. */
	if (h.header_addr < h.load_addr || h.header_addr - h.load_addr > off)
		fail_exit("vmxhv: L2 image", "address fields inconsistent");
	uint64_t file_off = off - (h.header_addr - h.load_addr);
	uint64_t len = h.load_end_addr ? (uint64_t)h.load_end_addr - h.load_addr : m->size - file_off;
	uint64_t end = h.bss_end_addr > h.load_addr + len ? h.bss_end_addr : h.load_addr + len;
	if (len > m->size - file_off || !in_l2_ram(h.load_addr, end - h.load_addr) ||
	    (h.load_addr < L2_INFO + 4096 && end > L2_INFO))
		fail_exit("vmxhv: L2 image", "does not fit in L2 RAM");
	uint8_t *ram = (uint8_t *)l2_base;            /* L2 GPA 0 in vmxhv's address space */
	memcpy(ram + h.load_addr, img + file_off, len);
	memset(ram + h.load_addr + len, 0, end - h.load_addr - len);

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
	memcpy(page, &info, sizeof(info));
	memcpy(page + 256, mmap, sizeof(mmap));
	memcpy(page + 512, l2_cmdline, strlen(l2_cmdline) + 1);
	memcpy(page + 1024 - 16, "vmxhv", 6);
	return h.entry_addr;
}

/* ---- vmcs12: vmxhv's controls and L2's first state (SDM 25.3-25.8) ------ */

/* CR0/CR4 bits L2 may not own (25.6.6): those VMX fixes (A.7, A.8) —
 * except CR0.PE and CR0.PG, which unrestricted guest frees (27.3.1.1) —
 * and every CR4 bit the CPU cannot set.  That is CR0.NE and CR4.VMXE on
 * most CPUs.  L2 reads them from the read shadows; a MOV that would change
 * one exits (CR-access exit, qualification in table 28-3). */
static uint64_t cr0_mask, cr4_mask;

static uint64_t guest_cr0_for(uint64_t l2_view)
{
	return (l2_view | (vmx_l1.cr0_fixed0 & ~(CR0_PE | CR0_PG))) & vmx_l1.cr0_fixed1;
}
static uint64_t guest_cr4_for(uint64_t l2_view)
{
	return (l2_view | vmx_l1.cr4_fixed0) & vmx_l1.cr4_fixed1;
}

static void vmcs12_init(uint32_t entry)
{
	if (vmx_l1_vmcs_load(vmcs12))
		fail_exit("vmxhv: vmcs12", "VMCLEAR/VMPTRLD failed");
	const struct vmx_l1_caps *c = &vmx_l1;

	/* Execution controls (25.6): no pin-based exiting at all — external
	 * interrupts and NMIs go straight to L2, through L2's IDT. */
	vmw(VX_PIN_CONTROLS, vmx_l1_ctl(c->pin, 0));
	vmw(VX_PROC_CONTROLS, vmx_l1_ctl(c->proc, VX_PROC_IO_BITMAPS | VX_PROC_MSR_BITMAPS | VX_PROC_SECONDARY));
	vmw(VX_PROC2_CONTROLS, vmx_l1_ctl(c->proc2, VX_PROC2_EPT | VX_PROC2_UNRESTRICTED | VX_PROC2_RDTSCP |
					   VX_PROC2_INVPCID | (has_vpid ? VX_PROC2_VPID : 0)));
	vmw(VX_EXCEPTION_BITMAP, 0);
	vmw(VX_PF_ERROR_MASK, 0);
	vmw(VX_PF_ERROR_MATCH, 0);
	vmw(VX_CR3_TARGET_COUNT, 0);
	/* I/O bitmaps (25.6.4): one bit per port; only isa-debug-exit's 0xF4. */
	io_bitmap_a[0xf4 / 8] |= 1u << (0xf4 % 8);
	vmw(VX_IO_BITMAP_A, (uint64_t)io_bitmap_a);
	vmw(VX_IO_BITMAP_B, (uint64_t)io_bitmap_b);
	/* MSR bitmap (25.6.9): read bitmap for 0-1FFF at 0, for C0000000-
	 * C0001FFF at 1 KiB; write bitmaps at 2 and 3 KiB.  Only the VMX
	 * capability MSRs exit (L2 is told it has no VMX); MSRs outside both
	 * ranges always exit (26.1.3). */
	for (uint32_t msr = VX_MSR_VMX_BASIC; msr <= VX_MSR_VMX_LAST; msr++) {
		msr_bitmap[msr / 8] |= 1u << (msr % 8);
		msr_bitmap[0x800 + msr / 8] |= 1u << (msr % 8);
	}
	vmw(VX_MSR_BITMAP, (uint64_t)msr_bitmap);
	vmw(VX_EPT_POINTER, eptp12);
	if (has_vpid)
		vmw(VX_VPID, 1);                     /* 29.1: VPID 0 is the host's */
	cr0_mask = (c->cr0_fixed0 | ~c->cr0_fixed1) & ~(CR0_PE | CR0_PG) & 0xffffffffull;
	cr4_mask = (c->cr4_fixed0 | ~c->cr4_fixed1) & 0xffffffffull;
	vmw(VX_CR0_MASK, cr0_mask);
	vmw(VX_CR4_MASK, cr4_mask);

	/* Exit and entry controls (25.7, 25.8): a 64-bit host; L2's EFER and
	 * PAT saved on exit and loaded on entry, vmxhv's loaded on exit. */
	vmw(VX_EXIT_CONTROLS, vmx_l1_exit_controls(0));
	vmw(VX_EXIT_MSR_STORE_COUNT, 0);
	vmw(VX_EXIT_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_CONTROLS, vmx_l1_ctl(c->entry, VX_ENTRY_LOAD_DEBUG | VX_ENTRY_LOAD_EFER | VX_ENTRY_LOAD_PAT));
	vmw(VX_ENTRY_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_INTR_INFO, 0);
	vmx_l1_host_state();

	/* Multiboot1 machine state (MB spec 3.2): 32-bit protected mode, flat
	 * 4 GiB segments, paging off.  Access rights in the VMCS format
	 * (25.4.1): type, S, DPL, P in bits 7:0; AVL, L, D/B, G in 15:12;
	 * bit 16 = unusable. */
	static const uint32_t sel[6] = { VX_GUEST_ES_SEL, VX_GUEST_CS_SEL, VX_GUEST_SS_SEL, VX_GUEST_DS_SEL,
					 VX_GUEST_FS_SEL, VX_GUEST_GS_SEL };
	for (int i = 0; i < 6; i++) {
		uint32_t step = sel[i] - VX_GUEST_ES_SEL;
		vmw(sel[i], i == 1 ? 0x08 : 0x10);
		vmw(VX_GUEST_ES_BASE + step, 0);
		vmw(VX_GUEST_ES_LIMIT + step, 0xffffffff);
		vmw(VX_GUEST_ES_AR + step, i == 1 ? 0xc09b : 0xc093); /* 32-bit execute/read; read/write */
	}
	vmw(VX_GUEST_LDTR_SEL, 0);
	vmw(VX_GUEST_LDTR_BASE, 0);
	vmw(VX_GUEST_LDTR_LIMIT, 0);
	vmw(VX_GUEST_LDTR_AR, 1u << 16);                           /* unusable */
	vmw(VX_GUEST_TR_SEL, 0);
	vmw(VX_GUEST_TR_BASE, 0);
	vmw(VX_GUEST_TR_LIMIT, 0xffff);
	vmw(VX_GUEST_TR_AR, 0x8b);                                 /* busy 32-bit TSS, present */
	vmw(VX_GUEST_GDTR_BASE, 0);
	vmw(VX_GUEST_GDTR_LIMIT, 0xffff);
	vmw(VX_GUEST_IDTR_BASE, 0);
	vmw(VX_GUEST_IDTR_LIMIT, 0x3ff);
	vmw(VX_CR0_SHADOW, CR0_PE | CR0_ET);
	vmw(VX_GUEST_CR0, guest_cr0_for(CR0_PE | CR0_ET));
	vmw(VX_CR4_SHADOW, 0);
	vmw(VX_GUEST_CR4, guest_cr4_for(0));
	vmw(VX_GUEST_CR3, 0);
	vmw(VX_GUEST_DR7, 0x400);
	vmw(VX_GUEST_DEBUGCTL, 0);
	vmw(VX_GUEST_EFER, 0);
	if (vmx_l1_may(c->entry, VX_ENTRY_LOAD_PAT))
		vmw(VX_GUEST_PAT, 0x0007040600070406ull);              /* PAT power-on value */
	vmw(VX_GUEST_SYSENTER_CS, 0);
	vmw(VX_GUEST_SYSENTER_ESP, 0);
	vmw(VX_GUEST_SYSENTER_EIP, 0);
	vmw(VX_GUEST_RFLAGS, 2);
	vmw(VX_GUEST_RIP, entry);
	vmw(VX_GUEST_RSP, 0);
	vmw(VX_GUEST_INTERRUPTIBILITY, 0);
	vmw(VX_GUEST_ACTIVITY, 0);
	vmw(VX_GUEST_PENDING_DBG, 0);
	vmw(VX_VMCS_LINK_POINTER, ~0ull);                          /* 27.3.1.5 */
	l2.rax = MB1_BOOT_MAGIC;
	l2.rbx = L2_INFO;
}

/* ---- Exit handling ----------------------------------------------------- */
static uint64_t n_exits, n_cpuid, n_vmcall, n_ept;

/* Event injection on the next VM entry (25.8.3, 27.6). */
static void inject_exception(uint8_t vector, bool has_error, uint32_t error)
{
	vmw(VX_ENTRY_INTR_INFO, vector | VX_INTR_TYPE_HW_EXC | VX_INTR_VALID | (has_error ? VX_INTR_ERROR : 0));
	if (has_error)
		vmw(VX_ENTRY_EXCEPTION_ERROR, error);
}
static void inject_ud(void) { inject_exception(6, false, 0); }
static void inject_gp(void) { inject_exception(13, true, 0); }

/* Resume L2 after the instruction that exited: its length is in the
 * VM-exit instruction-length field (28.2.5).  Blocking by STI or MOV SS
 * covered that instruction only (25.4.2, table 25-3): it ends here. */
static void skip(void)
{
	vmw(VX_GUEST_RIP, vmr(VX_GUEST_RIP) + vmr(VX_EXIT_INSTRUCTION_LEN));
	uint64_t intr = vmr(VX_GUEST_INTERRUPTIBILITY);
	if (intr & 3)
		vmw(VX_GUEST_INTERRUPTIBILITY, intr & ~3ull);
}

static void exit_cpuid(void)
{
	uint32_t leaf = (uint32_t)l2.rax;
	struct cpuid_regs r = cpuid(leaf, (uint32_t)l2.rcx);
	if (leaf == 1)
		r.ecx &= ~VX_CPUID1_ECX_VMX;             /* L2 is not nested */
	l2.rax = r.eax;
	l2.rbx = r.ebx;
	l2.rcx = r.ecx;
	l2.rdx = r.edx;
	n_cpuid++;
	skip();
}

/* A WRMSR that survives a #GP: the runtime skips the 2-byte instruction. */
static bool wrmsr_ok(uint32_t msr, uint64_t v)
{
	rt_expect_fault(2);
	wrmsr(msr, v);
	return !rt_fault_taken(NULL);
}

/*
 * RDMSR/WRMSR exits: the VMX capability MSRs, which vmxhv's bitmap
 * intercepts (a CPU without VMX has none: #GP), and every MSR outside the
 * bitmap's two ranges, which always exits (26.1.3).  Those vmxhv accesses
 * itself; a #GP it takes goes to L2.
 */
static void exit_msr(bool write)
{
	uint32_t msr = (uint32_t)l2.rcx;
	uint64_t v = (uint32_t)l2.rax | (l2.rdx << 32);
	if (msr >= VX_MSR_VMX_BASIC && msr <= VX_MSR_VMX_LAST) {
		inject_gp();
		return;
	}
	if (write ? !wrmsr_ok(msr, v) : rdmsr_safe(msr, &v) != 0) {
		inject_gp();
		return;
	}
	if (!write) {
		l2.rax = (uint32_t)v;
		l2.rdx = v >> 32;
	}
	skip();
}

/* The general register a CR-access or I/O qualification names (table 28-3:
 * 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15). */
static uint64_t *gpr(unsigned n)
{
	static uint64_t *const map[16] = { &l2.rax, &l2.rcx, &l2.rdx, &l2.rbx, NULL, &l2.rbp, &l2.rsi, &l2.rdi,
					   &l2.r8, &l2.r9, &l2.r10, &l2.r11, &l2.r12, &l2.r13, &l2.r14, &l2.r15 };
	return map[n & 15];
}
static uint64_t gpr_get(unsigned n) { return n == 4 ? vmr(VX_GUEST_RSP) : *gpr(n); }
static void gpr_set(unsigned n, uint64_t v) { if (n == 4) vmw(VX_GUEST_RSP, v); else *gpr(n) = v; }

static uint64_t l2_cr0(void) { return (vmr(VX_GUEST_CR0) & ~cr0_mask) | (vmr(VX_CR0_SHADOW) & cr0_mask); }
static uint64_t l2_cr4(void) { return (vmr(VX_GUEST_CR4) & ~cr4_mask) | (vmr(VX_CR4_SHADOW) & cr4_mask); }

/*
 * MOV to CR0 that touched a bit vmxhv owns: do all of it, as the CPU
 * would have (SDM vol. 3A 2.5, 9.8.5): #GP for reserved bits, PG without
 * PE, NW without CD; entering or leaving IA-32e mode updates EFER.LMA and
 * the "IA-32e mode guest" entry control, which must agree (27.3.1.1).
 */
static bool set_cr0(uint64_t val)
{
	uint64_t old = l2_cr0(), efer = vmr(VX_GUEST_EFER), entry = vmr(VX_ENTRY_CONTROLS);
	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	if ((val & CR0_PG) && !(old & CR0_PG)) {
		if (efer & EFER_LME) {
			if (!(l2_cr4() & CR4_PAE))
				return false;
			efer |= EFER_LMA;
			entry |= VX_ENTRY_IA32E;
		} else if (l2_cr4() & CR4_PAE) {
			/* With EPT, PAE paging takes its PDPTEs from the VMCS (27.3.2.4);
			 * vmxhv does not load them.  No test guest does this. */
			fail_exit("vmxhv: L2 CR0", "PAE paging outside long mode is not supported by vmxhv");
		}
	} else if (!(val & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
		efer &= ~EFER_LMA;
		entry &= ~(uint64_t)VX_ENTRY_IA32E;
	}
	vmw(VX_GUEST_EFER, efer);
	vmw(VX_ENTRY_CONTROLS, entry);
	vmw(VX_CR0_SHADOW, val);
	vmw(VX_GUEST_CR0, guest_cr0_for(val));
	return true;
}

/* MOV to CR4 touching VMXE or a bit the CPU lacks: L2 has no VMX (CPUID
 * says so), so either is a reserved bit: #GP.  Otherwise do it. */
static bool set_cr4(uint64_t val)
{
	if ((val & CR4_VMXE) || (val & cr4_mask & ~vmx_l1.cr4_fixed0) || (val >> 32) ||
	    (!(val & CR4_PAE) && (vmr(VX_GUEST_EFER) & EFER_LMA)))
		return false;
	vmw(VX_CR4_SHADOW, val);
	vmw(VX_GUEST_CR4, guest_cr4_for(val));
	return true;
}

/* CR-access exits (exit qualification, table 28-3).  With the TRUE
 * controls CR3 accesses do not exit; on a CPU that forces CR3-load/store
 * exiting they do, and vmxhv carries them out. */
static void exit_cr(void)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	bool ok = true;
	if (type == 0 && cr == 0)
		ok = set_cr0(gpr_get(reg));
	else if (type == 0 && cr == 4)
		ok = set_cr4(gpr_get(reg));
	else if (type == 0 && cr == 3)
		vmw(VX_GUEST_CR3, gpr_get(reg));
	else if (type == 1 && cr == 3)
		gpr_set(reg, vmr(VX_GUEST_CR3));
	else if (type == 2)                                        /* CLTS */
		ok = set_cr0(l2_cr0() & ~CR0_TS);
	else if (type == 3) {                                      /* LMSW: PE can be set, not cleared */
		uint64_t old = l2_cr0(), src = (q >> 16) & 0xf;
		ok = set_cr0((old & ~0xeull) | src | (old & 1));
	} else
		fail_exit("vmxhv: L2 CR access", "qualification %#lx", (unsigned long)q);
	if (ok)
		skip();
	else
		inject_gp();
}

/* The pages L2 asked vmxhv to unmap: vmxhv maps each back on its EPT violation. */
static struct { uint64_t gpa; unsigned violations; bool unmapped; } unmapped[8];

static int64_t op_unmap(uint64_t gpa)
{
	unsigned i;
	if (!gpa || (gpa & 0xfff) || !in_l2_ram(gpa, 4096))
		return -1;
	for (i = 0; i < 8 && unmapped[i].gpa && unmapped[i].gpa != gpa; i++)
		;
	uint64_t *e = i < 8 ? ept12_entry(gpa, 1) : NULL;
	if (!e)
		return -1;
	unmapped[i].gpa = gpa;
	unmapped[i].violations = 0;
	unmapped[i].unmapped = true;
	*e = 0;
	ept12_changed();
	return 0;
}

static int64_t op_violation_count(uint64_t gpa)
{
	for (unsigned i = 0; i < 8; i++)
		if (unmapped[i].gpa == gpa)
			return unmapped[i].violations;
	return -1;
}

static int64_t op_remap(uint64_t gpa)
{
	if ((gpa & 0xfff) || !in_l2_ram(gpa, 4096) || pool_4k == pool_4k_end)
		return -1;
	uint64_t *page = (uint64_t *)pool_4k;
	for (unsigned i = 0; i < 512; i++)
		page[i] = vmxhv_pattern(gpa + 8 * i);
	if (ept12_map(gpa, pool_4k, 1, EPT_LEAF))
		return -1;
	pool_4k += 4096;
	ept12_changed();
	return 0;
}

/* Replace a 2 MiB page by 512 4 KiB pages onto the 2 MiB pool area, the
 * last L1 page first, so each 4 KiB entry has to be right on its own. */
static int64_t op_split_remap(uint64_t gpa)
{
	if ((gpa & (2 * MIB - 1)) || gpa < 2 * MIB || !in_l2_ram(gpa, 2 * MIB))
		return -1;
	uint64_t *pde = ept12_entry(gpa, 2);
	uint64_t *pt = ept12_alloc();
	if (!pde || !pt)
		return -1;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t l1 = pool_2m + (511 - i) * 4096ull, l2gpa = gpa + i * 4096ull;
		for (unsigned q = 0; q < 512; q++)
			((uint64_t *)l1)[q] = vmxhv_pattern(l2gpa + 8 * q);
		pt[i] = l1 | EPT_LEAF;
	}
	*pde = (uint64_t)pt | EPT_TABLE;
	ept12_changed();
	return 0;
}

static int64_t op_restore(uint64_t gpa, uint64_t big)
{
	uint64_t size = big ? 2 * MIB : 4096;
	if ((gpa & (size - 1)) || !in_l2_ram(gpa, size) || (big && gpa < 2 * MIB))
		return -1;
	if (ept12_map(gpa, l2_base + gpa, big ? 2 : 1, EPT_LEAF))
		return -1;
	ept12_changed();
	return 0;
}

static int64_t vmxhv_op(uint64_t op)
{
	uint64_t a1 = l2.rbx, a2 = l2.rcx, l1;
	switch (op) {
	case VMXHV_PRESENT:
		return 1;
	case VMXHV_REMAP:
		return op_remap(a1);
	case VMXHV_READ_BACKING:
		l1 = ept12_translate(a1);
		return (a1 & 7) || !in_l2_ram(a1, 8) || l1 == NO_L1 ? -1 : *(int64_t *)l1;
	case VMXHV_READ_ORIGINAL:
		return (a1 & 7) || !in_l2_ram(a1, 8) ? -1 : *(int64_t *)(l2_base + a1);
	case VMXHV_UNMAP:
		return op_unmap(a1);
	case VMXHV_VIOLATION_COUNT:
		return op_violation_count(a1);
	case VMXHV_SPLIT_REMAP:
		return op_split_remap(a1);
	case VMXHV_RESTORE:
		return op_restore(a1, a2);
	}
	return -1;
}

/* A hypercall for the hypervisor below vmxhv (Nestor's ABI, kernel/hypercall.h):
 * buffers named by an L2 GPA are passed on as vmxhv's own address.  vmxhv
 * is in VMX root operation itself; its VMCALL still exits to Nestor, which
 * takes it as a hypercall. */
static void forward_hypercall(void)
{
	uint64_t nr = l2.rax;
	if (!l1_under_nestor) {
		inject_ud();                              /* as on a machine without it */
		return;
	}
	if (nr == HC_CONSOLE || nr == HC_EXIT_STATS) {
		void *buf = l2_buffer(l2.rbx, l2.rcx);
		l2.rax = buf ? (uint64_t)rt_hypercall(nr, (uint64_t)buf, l2.rcx, l2.rdx) : (uint64_t)HC_ERR_FAULT;
	} else {
		l2.rax = (uint64_t)rt_hypercall(nr, l2.rbx, l2.rcx, l2.rdx);
	}
	skip();
}

static void exit_vmcall(void)
{
	uint64_t nr = l2.rax;
	n_vmcall++;
	if (nr - VMXHV_HC_BASE < 0x100) {
		l2.rax = (uint64_t)vmxhv_op(nr - VMXHV_HC_BASE);
		skip();
	} else {
		forward_hypercall();
	}
}

/*
 * L2's address space outside its RAM and the pages passed through is mapped
 * on first touch to vmxhv's own empty space: at or above vmxhv's RAM top,
 * the same L1 GPA (vmxhv's MMIO space: a device or nothing, as vmxhv itself
 * would see); below it, where vmxhv has RAM, the same offset above 4 GiB
 * (or above vmxhv's RAM, if it reaches that far), where vmxhv has nothing.
 * So L2's stray and MMIO accesses get from the hypervisor below what
 * vmxhv's own would get (an empty bus reads all-ones, drops writes).
 */
static bool map_l2_hole(uint64_t gpa)
{
	uint64_t page = gpa & ~0xfffull, nothing = 4 * GIB;
	if (gpa >= 4 * GIB || gpa < l2_size)
		return false;
	if (rt_boot.ram_bytes > nothing)
		nothing = (rt_boot.ram_bytes + GIB - 1) & ~(GIB - 1);
	return ept12_map(page, page >= rt_boot.ram_bytes ? page : page + nothing, 1, EPT_MMIO) == 0;
}

/* EPT violation (28.2.1, table 28-7): the qualification says what the
 * access was (bits 2:0 read/write/fetch) and what the entry allowed (bits
 * 5:3, all clear for a not-present translation); the L2 GPA is in the
 * guest-physical-address field. */
static void exit_ept_violation(void)
{
	uint64_t gpa = vmr(VX_GUEST_PHYSICAL_ADDRESS), page = gpa & ~0xfffull;
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	n_ept++;
	for (unsigned i = 0; i < 8; i++) {
		if (unmapped[i].gpa != page || !unmapped[i].gpa)
			continue;
		if (++unmapped[i].violations > 16)
			break;                                   /* a fault that never goes away */
		/* Back to its page.  An added translation needs no INVEPT: an EPT
		 * violation invalidates the cached mappings it came from (29.4.3.1). */
		if (unmapped[i].unmapped && ept12_map(page, l2_base + page, 1, EPT_LEAF) == 0)
			unmapped[i].unmapped = false;
		return;
	}
	if (!(q & 0x38) && map_l2_hole(gpa))
		return;
	/* Say what EPT12 holds for it: a violation for a page EPT12 maps with
	 * every right is the hypervisor below's mistake, not L2's. */
	uint64_t l1 = ept12_translate(gpa);
	char held[40] = "not mapped";
	if (l1 != NO_L1)
		snprintf(held, sizeof(held), "mapped to L1 %#lx", (unsigned long)l1);
	fail_exit("vmxhv: L2 EPT violation", "L2 GPA %#lx (EPT12: %s), qualification %#lx (R=%lu W=%lu X=%lu, entry %c%c%c), RIP %#lx",
		  (unsigned long)gpa, held, (unsigned long)q, (unsigned long)(q & 1), (unsigned long)(q >> 1 & 1),
		  (unsigned long)(q >> 2 & 1), q & 8 ? 'r' : '-', q & 16 ? 'w' : '-', q & 32 ? 'x' : '-',
		  (unsigned long)vmr(VX_GUEST_RIP));
}

/* I/O exit (qualification, table 28-5): only isa-debug-exit's port is in
 * the bitmaps; L2 ends its test there, and vmxhv ends the whole VM with
 * the same write. */
static void exit_io(void)
{
	uint64_t q = vmr(VX_EXIT_QUALIFICATION);
	unsigned port = q >> 16, bytes = (q & 7) + 1;
	if ((q & (1u << 3)) || (q & (1u << 4)) || port > 0xf4 || port + bytes <= 0xf4)
		fail_exit("vmxhv: I/O exit", "qualification %#lx: not an OUT to port 0xf4", (unsigned long)q);
	uint32_t v = (uint32_t)l2.rax;
	rt_printf("vmxhv: L2 ended with status %u after %lu exits (%lu cpuid, %lu vmcall, %lu ept)\n",
		  v & 0xff, (unsigned long)n_exits, (unsigned long)n_cpuid, (unsigned long)n_vmcall,
		  (unsigned long)n_ept);
	if (bytes == 4)
		outl(port, v);
	else if (bytes == 2)
		outw(port, (uint16_t)v);
	else
		outb(port, (uint8_t)v);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* An event that was being delivered when the exit happened (IDT-vectoring
 * information, 28.2.4) is delivered again on the next entry (27.6). */
static void reinject_vectoring(void)
{
	uint32_t idt = (uint32_t)vmr(VX_IDT_VECTORING_INFO);
	if (!(idt & VX_INTR_VALID))
		return;
	vmw(VX_ENTRY_INTR_INFO, idt & ~(1u << 12));
	if (idt & VX_INTR_ERROR)
		vmw(VX_ENTRY_EXCEPTION_ERROR, vmr(VX_IDT_VECTORING_ERROR));
	vmw(VX_ENTRY_INSTRUCTION_LEN, vmr(VX_EXIT_INSTRUCTION_LEN));
}

static void run_l2(void)
{
	int launched = 0;
	__asm__ volatile("fxsave64 %0" : "=m"(fx_l2));   /* L2 starts with vmxhv's x87/SSE state */
	for (;;) {
		/* VM entry and exit do not switch x87/SSE state: vmxhv's newlib uses it too. */
		__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l1) : "m"(fx_l2));
		int r = vmx_l1_enter(&l2, launched);
		__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l2) : "m"(fx_l1));
		if (r) {
			char b[80];
			fail_exit("vmxhv: VM entry", "%s: %s", launched ? "VMRESUME" : "VMLAUNCH", vx_fail_text(r, b, sizeof(b)));
		}
		launched = 1;
		n_exits++;
		uint32_t reason = (uint32_t)vmr(VX_EXIT_REASON);
		if (reason & VX_EXIT_FAILED_ENTRY)                /* 27.8: invalid guest state, MSR loading */
			fail_exit("vmxhv: VM entry", "failed, exit reason %u, qualification %#lx",
				  reason & 0xffff, (unsigned long)vmr(VX_EXIT_QUALIFICATION));
		reinject_vectoring();
		switch (reason & 0xffff) {
		case VX_EXIT_CPUID:
			exit_cpuid();
			break;
		case VX_EXIT_VMCALL:
			exit_vmcall();
			break;
		case VX_EXIT_RDMSR:
		case VX_EXIT_WRMSR:
			exit_msr((reason & 0xffff) == VX_EXIT_WRMSR);
			break;
		case VX_EXIT_CR_ACCESS:
			exit_cr();
			break;
		case VX_EXIT_EPT_VIOLATION:
			exit_ept_violation();
			break;
		case VX_EXIT_IO:
			exit_io();
			break;
		case VX_EXIT_INVD:                       /* exits unconditionally (26.1.2); a no-op for L2 */
			skip();
			break;
		case VX_EXIT_VMCLEAR: case VX_EXIT_VMLAUNCH: case VX_EXIT_VMPTRLD: case VX_EXIT_VMPTRST:
		case VX_EXIT_VMREAD: case VX_EXIT_VMRESUME: case VX_EXIT_VMWRITE: case VX_EXIT_VMXOFF:
		case VX_EXIT_VMXON: case VX_EXIT_INVEPT: case VX_EXIT_INVVPID: case VX_EXIT_VMFUNC:
			inject_ud();                             /* no VMX for L2 */
			break;
		case VX_EXIT_TRIPLE_FAULT:
			fail_exit("vmxhv: L2 exit", "triple fault at RIP %#lx after %lu exits",
				  (unsigned long)vmr(VX_GUEST_RIP), (unsigned long)n_exits);
		default:                                 /* EPT misconfiguration, ... */
			fail_exit("vmxhv: L2 exit", "reason %u qualification %#lx RIP %#lx after %lu exits",
				  reason & 0xffff, (unsigned long)vmr(VX_EXIT_QUALIFICATION),
				  (unsigned long)vmr(VX_GUEST_RIP), (unsigned long)n_exits);
		}
	}
}

void guest_main(void)
{
	const struct boot_module *m = rt_boot_module(0);
	if (!m)
		fail_exit("vmxhv: L2 image", "no boot module");
	parse_cmdline(rt_boot.cmdline);
	vmx_enable();
	choose_window();
	ept12_build();
	uint32_t entry = load_l2(m);
	vmcs12_init(entry);
	rt_printf("vmxhv: running %s as L2 (EPT12 4K+2M, VPID %s, shadow VMCS %s), %lu MiB at L1 %#lx\n", m->name,
		  has_vpid ? "yes" : "no", has_shadow_vmcs ? "yes" : "no", (unsigned long)(l2_size >> 20),
		  (unsigned long)l2_base);
	run_l2();
}
