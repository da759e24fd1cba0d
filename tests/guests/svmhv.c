/*
 * svmhv: a small AMD SVM hypervisor that is itself a test guest (an "L1").
 *
 * It runs boot module 0, another test guest (a Multiboot1 kernel), as its
 * own guest ("L2"), the way a real hypervisor would (AMD APM vol. 2,
 * chapter 15):
 *   - L2's memory is a window of svmhv's RAM, mapped by an NPT12 that svmhv
 *     builds (L2 GPA -> L1 GPA, 15.25), plus the LAPIC, IOAPIC and BIOS
 *     area passed through at their own addresses;
 *   - L2 starts as a Multiboot1 loader would start it (32-bit protected
 *     mode, paging off, EAX = 0x2BADB002, EBX = the information structure);
 *   - svmhv handles L2's CPUID (hiding SVM), its EFER accesses (hiding
 *     EFER.SVME), the MSRs that always exit, and VMMCALL: a few hypercalls
 *     of its own that change NPT12 while L2 runs (tests/guests/npt12.c), to
 *     test that the hypervisor below svmhv follows such changes; others go
 *     on to that hypervisor.  SVM instructions give L2 a #UD.  L2's write to
 *     the isa-debug-exit port ends the run.  Everything else (I/O, MMIO,
 *     interrupts, the LAPIC) passes through to the hypervisor below.
 *
 * Under plain QEMU (TCG emulates SVM with NPT) svmhv runs on the emulated
 * CPU; under Nestor with `nested = on`, Nestor emulates SVM for it.
 * svmhv runs on the runtime's identity map (boot/multiboot2/entry.S), so
 * its addresses below 4 GiB are L1 GPAs.
 *
 * Command line: `l2mem=SIZE` (L2 RAM, default 32M), `-- WORDS` (the rest is
 * L2's command line, default "l2").
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/svm_guest.h"
#include "svm/vmcb.h"

extern char __kernel_end[];

#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

/* ---- What the CPU offers (APM 15.4, 15.30) ----------------------------- */
#define CPUID_E1_ECX_SVM      (1u << 2)  /* CPUID 0x80000001 ECX */
#define SVM_FEAT_NP           (1u << 0)  /* CPUID 0x8000000A EDX */
#define SVM_FEAT_NRIPS        (1u << 3)
#define SVM_FEAT_FLUSH_BY_ASID (1u << 6)
#define VM_CR_SVMDIS          (1u << 4)  /* MSR VM_CR (APM 15.30.1) */
#define EFER_LMA              (1ull << 10)

static bool has_nrips, has_flush_by_asid, l1_under_nestor;

/* ---- svmhv's SVM pages ------------------------------------------------- */
static struct vmcb vmcb12;                /* L2 as svmhv runs it (APM appendix B) */
static struct vmcb host_state;            /* svmhv's own VMSAVE area (APM 15.5.2) */
static uint8_t hsave[4096] __attribute__((aligned(4096)));         /* VM_HSAVE_PA (15.30.4) */
static uint8_t iopm[3 * 4096] __attribute__((aligned(4096)));      /* 15.10.1 */
static uint8_t msrpm[2 * 4096] __attribute__((aligned(4096)));     /* 15.11 */
static uint8_t fx_l1[512] __attribute__((aligned(16)));
static uint8_t fx_l2[512] __attribute__((aligned(16)));

/* L2's general registers other than RAX and RSP, which live in vmcb12
 * (VMRUN neither saves nor loads the others, APM 15.5.1). */
struct l2_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};
static struct l2_gprs l2;

/*
 * l2_run(vmcb12 PA, L2 registers, svmhv's VMSAVE area PA): one VMRUN, as a
 * hypervisor does it (APM 15.5, 15.17): with GIF clear, save svmhv's
 * FS/GS/TR/LDTR/KernelGsBase/STAR... (VMSAVE), load L2's (VMLOAD), load L2's
 * other registers, VMRUN; after #VMEXIT (RAX, RSP, RIP come back from the
 * host save area) store L2's registers, swap the VMLOAD state back, STGI.
 */
void l2_run(uint64_t vmcb_pa, struct l2_gprs *g, uint64_t host_pa);
__asm__(
	"	.text\n"
	"	.global l2_run\n"
	"l2_run:\n"
	"	push %rbp\n	push %rbx\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	push %rsi\n"                    /* 8(%rsp): the L2 register block */
	"	push %rdx\n"                    /* 0(%rsp): svmhv's VMSAVE area */
	"	clgi\n"
	"	mov %rdx, %rax\n"
	"	vmsave %rax\n"
	"	mov %rdi, %rax\n"
	"	mov 0(%rsi), %rbx\n	mov 8(%rsi), %rcx\n	mov 16(%rsi), %rdx\n"
	"	mov 32(%rsi), %rdi\n	mov 40(%rsi), %rbp\n"
	"	mov 48(%rsi), %r8\n	mov 56(%rsi), %r9\n	mov 64(%rsi), %r10\n	mov 72(%rsi), %r11\n"
	"	mov 80(%rsi), %r12\n	mov 88(%rsi), %r13\n	mov 96(%rsi), %r14\n	mov 104(%rsi), %r15\n"
	"	mov 24(%rsi), %rsi\n"
	"	vmload %rax\n"
	"	vmrun %rax\n"
	"	vmsave %rax\n"
	"	push %rsi\n"                    /* L2's RSI; the block is now at 16(%rsp) */
	"	mov 16(%rsp), %rsi\n"
	"	mov %rbx, 0(%rsi)\n	mov %rcx, 8(%rsi)\n	mov %rdx, 16(%rsi)\n"
	"	mov %rdi, 32(%rsi)\n	mov %rbp, 40(%rsi)\n"
	"	mov %r8, 48(%rsi)\n	mov %r9, 56(%rsi)\n	mov %r10, 64(%rsi)\n	mov %r11, 72(%rsi)\n"
	"	mov %r12, 80(%rsi)\n	mov %r13, 88(%rsi)\n	mov %r14, 96(%rsi)\n	mov %r15, 104(%rsi)\n"
	"	pop %rax\n	mov %rax, 24(%rsi)\n"
	"	pop %rax\n	vmload %rax\n"
	"	stgi\n"
	"	pop %rsi\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbx\n	pop %rbp\n"
	"	ret\n");

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

/* ---- Turning SVM on (APM 15.4, 15.30) ---------------------------------- */
static void svm_enable(void)
{
	if (cpuid(0x80000000, 0).eax < 0x8000000a || !(cpuid(0x80000001, 0).ecx & CPUID_E1_ECX_SVM))
		fail_exit("svmhv: SVM", "CPUID 0x80000001 ECX.SVM is 0");
	struct cpuid_regs f = cpuid(0x8000000a, 0);
	if (!(f.edx & SVM_FEAT_NP))
		fail_exit("svmhv: SVM", "no nested paging (CPUID 0x8000000A EDX bit 0)");
	if (f.ebx < 2)
		fail_exit("svmhv: SVM", "%u ASIDs: none left for L2", f.ebx);
	has_nrips = f.edx & SVM_FEAT_NRIPS;
	has_flush_by_asid = f.edx & SVM_FEAT_FLUSH_BY_ASID;
	uint64_t vm_cr;
	if (rdmsr_safe(MSR_VM_CR, &vm_cr))
		fail_exit("svmhv: SVM", "VM_CR (0xC0010114) is not readable");
	if (vm_cr & VM_CR_SVMDIS)
		fail_exit("svmhv: SVM", "disabled by the firmware (VM_CR.SVMDIS)");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);             /* 15.4 */
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)hsave);                  /* 15.30.4 */
	l1_under_nestor = rt_under_nestor();
}

/* ---- L2 memory: a window of svmhv's RAM -------------------------------- */
#define POOL_BYTES (4 * MIB)      /* after the window: L1 pages for the NPT12 tests */
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
				fail_exit("svmhv: command line", "l2mem: a multiple of 2M from 4M to 1G");
			l2_size = v;
		}
	}
}

/* The window starts at the first 2 MiB boundary above svmhv's image and
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
		fail_exit("svmhv: memory", "L2 needs %lu MiB at %#lx, RAM ends at %#lx",
			  (unsigned long)((l2_size + POOL_BYTES) >> 20), (unsigned long)l2_base, (unsigned long)top);
	pool_2m = l2_base + l2_size;
	pool_4k = pool_2m + 2 * MIB;
	pool_4k_end = pool_4k + 2 * MIB;
}

/* ---- NPT12: L2 GPA -> L1 GPA (APM 15.25), long-mode 4-level format ------ */
#define NPT_P      (1ull << 0)
#define NPT_RW     (1ull << 1)
#define NPT_US     (1ull << 2)    /* nested walks are user accesses (15.25.5) */
#define NPT_PWT    (1ull << 3)
#define NPT_PCD    (1ull << 4)
#define NPT_PS     (1ull << 7)
#define NPT_TABLE  (NPT_P | NPT_RW | NPT_US)
#define NPT_LEAF   (NPT_P | NPT_RW | NPT_US)
#define NPT_MMIO   (NPT_LEAF | NPT_PWT | NPT_PCD)   /* uncacheable */
#define NPT_ADDR_4K 0x000ffffffffff000ull
#define NPT_ADDR_2M 0x000fffffffe00000ull
#define NO_L1      (~0ull)

static uint64_t npt12_pages[24][512] __attribute__((aligned(4096)));
static unsigned npt12_used;
static uint64_t *npt12_pml4;

static uint64_t *npt12_alloc(void)
{
	if (npt12_used == sizeof(npt12_pages) / sizeof(npt12_pages[0]))
		return NULL;
	uint64_t *t = npt12_pages[npt12_used++];
	memset(t, 0, 4096);
	return t;
}

static unsigned npt12_index(uint64_t gpa, int level) { return (gpa >> (12 + 9 * (level - 1))) & 511; }

/*
 * The NPT12 entry that maps gpa at level 2 (a 2 MiB page, PDE) or level 1
 * (a 4 KiB page, PTE), creating the tables above it.  Asking for a 4 KiB
 * entry inside a 2 MiB page splits that page into 512 equal 4 KiB pages.
 */
static uint64_t *npt12_entry(uint64_t gpa, int level)
{
	uint64_t *t = npt12_pml4;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &t[npt12_index(gpa, l)];
		if (!(*e & NPT_P) || (*e & NPT_PS)) {
			uint64_t *next = npt12_alloc();
			if (!next)
				return NULL;
			if (*e & NPT_PS)
				for (unsigned i = 0; i < 512; i++)
					next[i] = ((*e & NPT_ADDR_2M) + i * 4096) | (*e & (NPT_LEAF | NPT_PWT | NPT_PCD));
			*e = (uint64_t)next | NPT_TABLE;
		}
		t = (uint64_t *)(*e & NPT_ADDR_4K);
	}
	return &t[npt12_index(gpa, level)];
}

static uint64_t npt12_translate(uint64_t gpa)
{
	uint64_t *t = npt12_pml4;
	for (int l = 4;; l--) {
		uint64_t e = t[npt12_index(gpa, l)];
		if (!(e & NPT_P))
			return NO_L1;
		if (l == 1)
			return (e & NPT_ADDR_4K) | (gpa & 0xfff);
		if (l == 2 && (e & NPT_PS))
			return (e & NPT_ADDR_2M) | (gpa & (2 * MIB - 1));
		t = (uint64_t *)(e & NPT_ADDR_4K);
	}
}

static int npt12_map(uint64_t gpa, uint64_t l1, int level, uint64_t flags)
{
	uint64_t *e = npt12_entry(gpa, level);
	if (!e)
		return -1;
	*e = l1 | flags | (level == 2 ? NPT_PS : 0);
	return 0;
}

/* A translation changed or went away: the next VMRUN flushes L2's ASID
 * (APM 15.16.1: TLB_CONTROL 3; a CPU without FlushByAsid knows only 1). */
static void npt12_changed(void)
{
	vmcb12.ctl.tlb_control = has_flush_by_asid ? 3 : 1;
}

static void npt12_build(void)
{
	npt12_pml4 = npt12_alloc();
	/* The first 2 MiB in 4 KiB pages (PTEs), the BIOS area identity. */
	for (uint64_t gpa = 0; gpa < 2 * MIB; gpa += 4096) {
		bool bios = gpa >= BIOS_LO && gpa < BIOS_HI;
		if (npt12_map(gpa, bios ? gpa : l2_base + gpa, 1, NPT_LEAF))
			goto full;
	}
	/* The rest in 2 MiB pages (PDE.PS): nested tables have the long-mode
	 * page-table format (15.25.1), large pages included. */
	for (uint64_t gpa = 2 * MIB; gpa < l2_size; gpa += 2 * MIB)
		if (npt12_map(gpa, l2_base + gpa, 2, NPT_LEAF))
			goto full;
	/* The IOAPIC and LAPIC pages of svmhv's platform, passed through. */
	if (npt12_map(0xfec00000, 0xfec00000, 1, NPT_MMIO) || npt12_map(0xfee00000, 0xfee00000, 1, NPT_MMIO))
		goto full;
	return;
full:
	fail_exit("svmhv: NPT12", "out of table pages");
}

/* An L2 buffer as one range of svmhv's memory, or NULL when it is not all
 * L2 RAM or not contiguous in L1. */
static void *l2_buffer(uint64_t gpa, uint64_t len)
{
	uint64_t l1 = npt12_translate(gpa);
	if (l1 == NO_L1 || len > 64 * KIB || !in_l2_ram(gpa, len))
		return NULL;
	for (uint64_t p = (gpa & ~0xfffull) + 4096; p < gpa + len; p += 4096)
		if (npt12_translate(p) != l1 + (p - gpa))
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
		fail_exit("svmhv: L2 image", "no Multiboot1 header in the first 8 KiB of %s", m->name);
	if (!(h.flags & MB1_FLAG_ADDRESS) || (h.flags & 0xfffc))
		fail_exit("svmhv: L2 image", "flags %#x: svmhv needs the address fields and nothing else", h.flags);
	/* 3.1.3: the file from header_addr - load_addr before the header on is
	 * copied to load_addr, up to load_end_addr; bss_end_addr is zeroed. */
	if (h.header_addr < h.load_addr || h.header_addr - h.load_addr > off)
		fail_exit("svmhv: L2 image", "address fields inconsistent");
	uint64_t file_off = off - (h.header_addr - h.load_addr);
	uint64_t len = h.load_end_addr ? (uint64_t)h.load_end_addr - h.load_addr : m->size - file_off;
	uint64_t end = h.bss_end_addr > h.load_addr + len ? h.bss_end_addr : h.load_addr + len;
	if (len > m->size - file_off || !in_l2_ram(h.load_addr, end - h.load_addr) ||
	    (h.load_addr < L2_INFO + 4096 && end > L2_INFO))
		fail_exit("svmhv: L2 image", "does not fit in L2 RAM");
	uint8_t *ram = (uint8_t *)l2_base;            /* L2 GPA 0 in svmhv's address space */
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
	memcpy(page + 1024 - 16, "svmhv", 6);
	return h.entry_addr;
}

/* ---- vmcb12: L2's first state and svmhv's intercepts (APM 15.5, 15.9) -- */
static void vmcb12_init(uint32_t entry)
{
	struct vmcb_control *c = &vmcb12.ctl;
	struct vmcb_save *s = &vmcb12.save;
	memset(&vmcb12, 0, sizeof(vmcb12));
	c->intercept_misc1 = SVM_INTERCEPT_CPUID | SVM_INTERCEPT_IOIO | SVM_INTERCEPT_MSR |
			     SVM_INTERCEPT_SHUTDOWN | SVM_INTERCEPT_INVLPGA;
	/* VMRUN must be intercepted (15.5.1).  The other SVM instructions too:
	 * L2 is not offered SVM, and an unintercepted VMSAVE would write L1
	 * memory at an address of L2's choosing. */
	c->intercept_misc2 = SVM_INTERCEPT_VMRUN | SVM_INTERCEPT_VMMCALL | SVM_INTERCEPT_VMLOAD |
			     SVM_INTERCEPT_VMSAVE | SVM_INTERCEPT_STGI | SVM_INTERCEPT_CLGI | SVM_INTERCEPT_SKINIT;
	/* IOPM (15.10.1): one bit per port; only isa-debug-exit's 0xF4 exits. */
	iopm[0xf4 / 8] |= 1u << (0xf4 % 8);
	/* MSRPM (15.11): two bits (read, write) per MSR; 0xC0000000-0xC0001FFF
	 * is the second 2 KiB.  Only EFER exits, since L2 must not see
	 * EFER.SVME (and MSRs outside the three ranges, which always exit). */
	msrpm[0x800 + (MSR_EFER - 0xc0000000) * 2 / 8] |= 3u << ((MSR_EFER - 0xc0000000) * 2 % 8);
	c->iopm_base_pa = (uint64_t)iopm;
	c->msrpm_base_pa = (uint64_t)msrpm;
	c->asid = 1;                      /* 15.16: ASID 0 is the host's */
	c->tlb_control = 1;               /* 15.16.1: the first run starts from a clean TLB */
	c->vintr = 0;                     /* V_INTR_MASKING = 0: L2's IF masks svmhv's interrupts (15.21.1) */
	c->np_enable = 1;                 /* 15.25.3 */
	c->n_cr3 = (uint64_t)npt12_pml4;

	/* Multiboot1 machine state (MB spec 3.2): 32-bit protected mode, flat
	 * 4 GiB segments, paging off.  Attributes in the VMCB's compressed form
	 * (15.5.1): type, S, DPL, P in bits 7:0; AVL, L, D/B, G in 11:8. */
	struct vmcb_seg code = { 0x08, 0xc9b, 0xffffffff, 0 };  /* execute/read, 32-bit, 4 KiB granular */
	struct vmcb_seg data = { 0x10, 0xc93, 0xffffffff, 0 };  /* read/write */
	s->cs = code;
	s->ds = s->es = s->ss = s->fs = s->gs = data;
	s->gdtr = (struct vmcb_seg){ 0, 0, 0xffff, 0 };
	s->idtr = (struct vmcb_seg){ 0, 0, 0x3ff, 0 };
	s->ldtr = (struct vmcb_seg){ 0, 0x082, 0xffff, 0 };    /* LDT, present */
	s->tr = (struct vmcb_seg){ 0, 0x08b, 0xffff, 0 };      /* busy 32-bit TSS, present */
	s->cpl = 0;
	s->efer = EFER_SVME;              /* 15.5.1: VMRUN requires EFER.SVME in the VMCB */
	s->cr0 = CR0_PE | (1ull << 4);    /* PE, ET */
	s->cr3 = s->cr4 = 0;
	s->rflags = 2;
	s->rip = entry;
	s->rsp = 0;
	s->rax = MB1_BOOT_MAGIC;
	l2.rbx = L2_INFO;
	s->dr6 = 0xffff0ff0;              /* reset values */
	s->dr7 = 0x400;
	s->g_pat = 0x0007040600070406ull; /* PAT power-on value (15.25.8) */
}

/* ---- Exit handling ----------------------------------------------------- */
static uint64_t n_exits, n_cpuid, n_vmmcall, n_npf;
static uint64_t inject;           /* EVENTINJ for the next VMRUN (15.20) */

#define EVT_UD (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXC | 6)
#define EVT_GP (SVM_EVTINJ_VALID | SVM_EVTINJ_TYPE_EXC | SVM_EVTINJ_EV | 13)

/* Resume L2 after an instruction of len bytes: nRIP where the CPU saves it
 * (15.7.1), else the known length of the intercepted instruction. */
static void skip(unsigned len)
{
	vmcb12.save.rip = has_nrips ? vmcb12.ctl.next_rip : vmcb12.save.rip + len;
}

static void exit_cpuid(void)
{
	uint32_t leaf = (uint32_t)vmcb12.save.rax;
	struct cpuid_regs r = cpuid(leaf, (uint32_t)l2.rcx);
	if (leaf == 0x80000001)
		r.ecx &= ~CPUID_E1_ECX_SVM;              /* L2 is not nested */
	if (leaf == 0x8000000a)
		r.eax = r.ebx = r.ecx = r.edx = 0;
	vmcb12.save.rax = r.eax;
	l2.rbx = r.ebx;
	l2.rcx = r.ecx;
	l2.rdx = r.edx;
	n_cpuid++;
	skip(2);                                         /* 0F A2 */
}

/* A WRMSR that survives a #GP: the runtime skips the 2-byte instruction. */
static bool wrmsr_ok(uint32_t msr, uint64_t v)
{
	rt_expect_fault(2);
	wrmsr(msr, v);
	return !rt_fault_taken(NULL);
}

/*
 * MSR exits: EFER, which svmhv's MSRPM intercepts, and every MSR outside the
 * MSRPM's three ranges, which MSR_PROT always intercepts (APM 15.11).
 * EFER (APM 3.1.7): L2 sees it without SVME; a write keeps SVME and LMA.
 * Any other MSR: svmhv does the access itself, and a #GP it takes goes to L2.
 */
static void exit_msr(void)
{
	uint32_t msr = (uint32_t)l2.rcx;
	bool write = vmcb12.ctl.exit_info1 == 1;
	uint64_t v = (uint32_t)vmcb12.save.rax | (l2.rdx << 32), efer = vmcb12.save.efer;
	if (msr == MSR_EFER && write) {
		bool lme_change = (v ^ efer) & EFER_LME;
		if ((v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) ||
		    (lme_change && (vmcb12.save.cr0 & CR0_PG))) {
			inject = EVT_GP;
			return;
		}
		vmcb12.save.efer = (v & ~EFER_LMA) | (efer & EFER_LMA) | EFER_SVME;
	} else if (msr == MSR_EFER) {
		v = efer & ~EFER_SVME;
	} else if (write ? !wrmsr_ok(msr, v) : rdmsr_safe(msr, &v) != 0) {
		inject = EVT_GP;
		return;
	}
	if (!write) {
		vmcb12.save.rax = (uint32_t)v;
		l2.rdx = v >> 32;
	}
	skip(2);                                         /* 0F 32, 0F 30 */
}

/* The pages L2 asked svmhv to unmap: svmhv maps each back on its #NPF. */
static struct { uint64_t gpa; unsigned npf; bool unmapped; } unmapped[8];

static int64_t op_unmap(uint64_t gpa)
{
	unsigned i;
	if (!gpa || (gpa & 0xfff) || !in_l2_ram(gpa, 4096))
		return -1;
	for (i = 0; i < 8 && unmapped[i].gpa && unmapped[i].gpa != gpa; i++)
		;
	uint64_t *e = i < 8 ? npt12_entry(gpa, 1) : NULL;
	if (!e)
		return -1;
	unmapped[i].gpa = gpa;
	unmapped[i].npf = 0;
	unmapped[i].unmapped = true;
	*e = 0;
	npt12_changed();
	return 0;
}

static int64_t op_npf_count(uint64_t gpa)
{
	for (unsigned i = 0; i < 8; i++)
		if (unmapped[i].gpa == gpa)
			return unmapped[i].npf;
	return -1;
}

static int64_t op_remap(uint64_t gpa)
{
	if ((gpa & 0xfff) || !in_l2_ram(gpa, 4096) || pool_4k == pool_4k_end)
		return -1;
	uint64_t *page = (uint64_t *)pool_4k;
	for (unsigned i = 0; i < 512; i++)
		page[i] = svmhv_pattern(gpa + 8 * i);
	if (npt12_map(gpa, pool_4k, 1, NPT_LEAF))
		return -1;
	pool_4k += 4096;
	npt12_changed();
	return 0;
}

/* Replace a 2 MiB page by 512 4 KiB pages onto the 2 MiB pool area, the
 * last L1 page first, so each 4 KiB entry has to be right on its own. */
static int64_t op_split_remap(uint64_t gpa)
{
	if ((gpa & (2 * MIB - 1)) || gpa < 2 * MIB || !in_l2_ram(gpa, 2 * MIB))
		return -1;
	uint64_t *pde = npt12_entry(gpa, 2);
	uint64_t *pt = npt12_alloc();
	if (!pde || !pt)
		return -1;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t l1 = pool_2m + (511 - i) * 4096ull, l2gpa = gpa + i * 4096ull;
		for (unsigned q = 0; q < 512; q++)
			((uint64_t *)l1)[q] = svmhv_pattern(l2gpa + 8 * q);
		pt[i] = l1 | NPT_LEAF;
	}
	*pde = (uint64_t)pt | NPT_TABLE;
	npt12_changed();
	return 0;
}

static int64_t op_restore(uint64_t gpa, uint64_t big)
{
	uint64_t size = big ? 2 * MIB : 4096;
	if ((gpa & (size - 1)) || !in_l2_ram(gpa, size) || (big && gpa < 2 * MIB))
		return -1;
	if (npt12_map(gpa, l2_base + gpa, big ? 2 : 1, NPT_LEAF))
		return -1;
	npt12_changed();
	return 0;
}

static int64_t svmhv_op(uint64_t op)
{
	uint64_t a1 = l2.rbx, a2 = l2.rcx, l1;
	switch (op) {
	case SVMHV_PRESENT:
		return 1;
	case SVMHV_REMAP:
		return op_remap(a1);
	case SVMHV_READ_BACKING:
		l1 = npt12_translate(a1);
		return (a1 & 7) || !in_l2_ram(a1, 8) || l1 == NO_L1 ? -1 : *(int64_t *)l1;
	case SVMHV_READ_ORIGINAL:
		return (a1 & 7) || !in_l2_ram(a1, 8) ? -1 : *(int64_t *)(l2_base + a1);
	case SVMHV_UNMAP:
		return op_unmap(a1);
	case SVMHV_NPF_COUNT:
		return op_npf_count(a1);
	case SVMHV_SPLIT_REMAP:
		return op_split_remap(a1);
	case SVMHV_RESTORE:
		return op_restore(a1, a2);
	}
	return -1;
}

/* A hypercall for the hypervisor below svmhv (Nestor's ABI, kernel/hypercall.h):
 * buffers named by an L2 GPA are passed on as svmhv's own address. */
static void forward_hypercall(void)
{
	uint64_t nr = vmcb12.save.rax;
	if (!l1_under_nestor) {
		inject = EVT_UD;                          /* as on a machine without it */
		return;
	}
	if (nr == HC_CONSOLE || nr == HC_EXIT_STATS) {
		void *buf = l2_buffer(l2.rbx, l2.rcx);
		vmcb12.save.rax = buf ? (uint64_t)rt_hypercall(nr, (uint64_t)buf, l2.rcx, l2.rdx)
				      : (uint64_t)HC_ERR_FAULT;
	} else {
		vmcb12.save.rax = (uint64_t)rt_hypercall(nr, l2.rbx, l2.rcx, l2.rdx);
	}
	skip(3);                                         /* 0F 01 D9 */
}

static void exit_vmmcall(void)
{
	uint64_t nr = vmcb12.save.rax;
	n_vmmcall++;
	if (nr - SVMHV_HC_BASE < 0x100) {
		vmcb12.save.rax = (uint64_t)svmhv_op(nr - SVMHV_HC_BASE);
		skip(3);
	} else {
		forward_hypercall();
	}
}

/*
 * L2's address space outside its RAM and the pages passed through is mapped
 * on first touch to svmhv's own empty space: at or above svmhv's RAM top,
 * the same L1 GPA (svmhv's MMIO space: a device or nothing, as svmhv itself
 * would see); below it, where svmhv has RAM, the same offset above 4 GiB
 * (or above svmhv's RAM, if it reaches that far), where svmhv has nothing.
 * So L2's stray and MMIO accesses get from the hypervisor below what
 * svmhv's own would get (an empty bus reads all-ones, drops writes).
 */
static bool map_l2_hole(uint64_t gpa)
{
	uint64_t page = gpa & ~0xfffull, nothing = 4 * GIB;
	if (gpa >= 4 * GIB || gpa < l2_size)
		return false;
	if (rt_boot.ram_bytes > nothing)
		nothing = (rt_boot.ram_bytes + GIB - 1) & ~(GIB - 1);
	return npt12_map(page, page >= rt_boot.ram_bytes ? page : page + nothing, 1, NPT_MMIO) == 0;
}

/* #NPF (15.25.6): EXITINFO1 is the fault's error code, EXITINFO2 the L2 GPA. */
static void exit_npf(void)
{
	uint64_t gpa = vmcb12.ctl.exit_info2, page = gpa & ~0xfffull;
	n_npf++;
	for (unsigned i = 0; i < 8; i++) {
		if (unmapped[i].gpa != page || !unmapped[i].gpa)
			continue;
		if (++unmapped[i].npf > 16)
			break;                                   /* a fault that never goes away */
		/* Back to its page.  An added translation needs no flush (15.16.1). */
		if (unmapped[i].unmapped && npt12_map(page, l2_base + page, 1, NPT_LEAF) == 0)
			unmapped[i].unmapped = false;
		return;
	}
	uint64_t e = vmcb12.ctl.exit_info1;
	if (!(e & 1) && map_l2_hole(gpa))
		return;
	fail_exit("svmhv: L2 #NPF", "L2 GPA %#lx, EXITINFO1 %#lx (P=%lu W=%lu U=%lu RSV=%lu ID=%lu), RIP %#lx",
		  (unsigned long)gpa, (unsigned long)e, (unsigned long)(e & 1), (unsigned long)(e >> 1 & 1),
		  (unsigned long)(e >> 2 & 1), (unsigned long)(e >> 3 & 1), (unsigned long)(e >> 4 & 1),
		  (unsigned long)vmcb12.save.rip);
}

/* IOIO (15.10.2): only isa-debug-exit's port is intercepted; L2 ends its
 * test there, and svmhv ends the whole VM with the same write. */
static void exit_ioio(void)
{
	uint64_t info = vmcb12.ctl.exit_info1;
	unsigned port = info >> 16, bytes = (info >> 4) & 7;  /* SZ8, SZ16, SZ32: 1, 2, 4 */
	if ((info & 1) || port > 0xf4 || port + bytes <= 0xf4)
		fail_exit("svmhv: I/O exit", "EXITINFO1 %#lx: not an OUT to port 0xf4", (unsigned long)info);
	uint32_t v = (uint32_t)vmcb12.save.rax;
	rt_printf("svmhv: L2 ended with status %u after %lu exits (%lu cpuid, %lu vmmcall, %lu npf)\n",
		  v & 0xff, (unsigned long)n_exits, (unsigned long)n_cpuid, (unsigned long)n_vmmcall,
		  (unsigned long)n_npf);
	if (bytes == 4)
		outl(port, v);
	else if (bytes == 2)
		outw(port, (uint16_t)v);
	else
		outb(port, (uint8_t)v);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void run_l2(void)
{
	uint64_t vmcb_pa = (uint64_t)&vmcb12, host_pa = (uint64_t)&host_state;
	__asm__ volatile("fxsave64 %0" : "=m"(fx_l2));   /* L2 starts with svmhv's x87/SSE state */
	for (;;) {
		vmcb12.ctl.event_inj = inject;
		vmcb12.ctl.clean = 0;                    /* 15.15: reload every field */
		inject = 0;
		/* VMRUN does not switch x87/SSE state: svmhv's newlib uses it too. */
		__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l1) : "m"(fx_l2));
		l2_run(vmcb_pa, &l2, host_pa);
		__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l2) : "m"(fx_l1));
		vmcb12.ctl.tlb_control = 0;
		n_exits++;
		/* An event that was being delivered when the exit happened is
		 * delivered again on the next VMRUN (15.7.2). */
		if (vmcb12.ctl.exit_int_info & SVM_EVTINJ_VALID)
			inject = vmcb12.ctl.exit_int_info;
		switch (vmcb12.ctl.exit_code) {
		case SVM_EXIT_CPUID:
			exit_cpuid();
			break;
		case SVM_EXIT_VMMCALL:
			exit_vmmcall();
			break;
		case SVM_EXIT_MSR:
			exit_msr();
			break;
		case SVM_EXIT_NPF:
			exit_npf();
			break;
		case SVM_EXIT_IOIO:
			exit_ioio();
			break;
		case SVM_EXIT_VMRUN: case SVM_EXIT_VMLOAD: case SVM_EXIT_VMSAVE: case SVM_EXIT_STGI:
		case SVM_EXIT_CLGI: case SVM_EXIT_SKINIT: case SVM_EXIT_INVLPGA:
			inject = EVT_UD;                         /* no SVM for L2 */
			break;
		default:                                 /* SHUTDOWN, VMEXIT_INVALID, ... */
			fail_exit("svmhv: L2 exit", "EXITCODE %#lx EXITINFO1 %#lx EXITINFO2 %#lx RIP %#lx after %lu exits",
				  (unsigned long)vmcb12.ctl.exit_code, (unsigned long)vmcb12.ctl.exit_info1,
				  (unsigned long)vmcb12.ctl.exit_info2, (unsigned long)vmcb12.save.rip,
				  (unsigned long)n_exits);
		}
	}
}

void guest_main(void)
{
	const struct boot_module *m = rt_boot_module(0);
	if (!m)
		fail_exit("svmhv: L2 image", "no boot module");
	parse_cmdline(rt_boot.cmdline);
	svm_enable();
	choose_window();
	npt12_build();
	uint32_t entry = load_l2(m);
	vmcb12_init(entry);
	rt_printf("svmhv: running %s as L2 (NPT12 4K+2M, nRIP %s), %lu MiB at L1 %#lx\n", m->name,
		  has_nrips ? "yes" : "no", (unsigned long)(l2_size >> 20), (unsigned long)l2_base);
	run_l2();
}
