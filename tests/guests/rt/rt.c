/* The test-guest runtime (rt.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "arch/x86/traps.h"
#include "boot/multiboot2/mb_parse.h"

#define COM1 0x3f8

struct rt_boot_facts rt_boot;
static unsigned passed, failed;
static volatile int fault_armed, fault_vector = -1;
static volatile unsigned fault_insn_len;
static volatile uint64_t fault_error, fault_cr2;

static void putc_uart(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts_uart(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		putc_uart(s[i]);
}

void rt_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	puts_uart(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void rt_check(bool ok, const char *name, const char *fmt, ...)
{
	char detail[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (ok) {
		passed++;
		rt_printf("PASS: %s\n", name);
	} else {
		failed++;
		rt_printf("FAIL: %s: %s\n", name, detail);
	}
}

void rt_exit(void)
{
	rt_printf("SUMMARY: %u passed, %u failed\n", passed, failed);
	outb(0xf4, failed ? 1 : 0); /* status (v << 1) | 1: 1 = all passed */
	for (;;)
		__asm__ volatile("cli; hlt");
}

void rt_expect_fault(unsigned insn_len)
{
	fault_vector = -1;
	fault_insn_len = insn_len;
	fault_armed = 1;
}

bool rt_fault_taken(struct rt_fault *f)
{
	fault_armed = 0;
	if (f) {
		f->vector = fault_vector;
		f->error = fault_error;
		f->cr2 = fault_cr2;
	}
	return fault_vector >= 0;
}

static void (*irq_handlers[256])(void);

void rt_irq_register(uint8_t vector, void (*fn)(void))
{
	irq_handlers[vector] = fn;
}

void trap_dispatch(struct trap_frame *tf);
void trap_dispatch(struct trap_frame *tf)
{
	extern char rdmsr_safe_insn[], rdmsr_safe_fault[];
	if (tf->vector == VEC_GP && tf->rip == (uint64_t)rdmsr_safe_insn) {
		tf->rip = (uint64_t)rdmsr_safe_fault;
		return;
	}
	if ((tf->vector >= 32 || tf->vector == 2) && irq_handlers[tf->vector]) {
		irq_handlers[tf->vector]();
		return;
	}
	if (fault_armed && tf->vector < 32) {
		fault_vector = (int)tf->vector;
		fault_error = tf->error_code;
		fault_cr2 = read_cr2();
		fault_armed = 0;
		/* Faults point at the instruction, traps (#BP) after it (SDM 6.5). */
		if (tf->vector != 3)
			tf->rip += fault_insn_len;
		return;
	}
	rt_printf("FAIL: unexpected exception %lu error %#lx at RIP %#lx CR2 %#lx\n",
		  tf->vector, tf->error_code, tf->rip, read_cr2());
	failed++;
	rt_exit();
}

static struct { uint16_t lo, sel; uint8_t ist, attr; uint16_t mid; uint32_t hi, zero; }
	idt[256] __attribute__((aligned(16)));

void rt_idt_load(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

static void idt_setup(void)
{
	extern char trap_stubs[];
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(trap_stubs + 16 * v);
		idt[v].lo = (uint16_t)a;
		idt[v].sel = cs;
		idt[v].attr = 0x8e;
		idt[v].mid = (uint16_t)(a >> 16);
		idt[v].hi = (uint32_t)(a >> 32);
	}
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

bool rt_is_amd(void)
{
	struct cpuid_regs r = cpuid(0, 0);
	return r.ebx == 0x68747541; /* "Auth" */
}

bool rt_under_nestor(void)
{
	if (!(cpuid(1, 0).ecx & (1u << 31)))
		return false;
	struct cpuid_regs r = cpuid(0x40000000, 0);
	return !memcmp(&r.ebx, "Nest", 4) && !memcmp(&r.ecx, "orNe", 4) && !memcmp(&r.edx, "stor", 4);
}

long rt_hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
	long ret;
	if (rt_is_amd())
		__asm__ volatile("vmmcall" : "=a"(ret) : "a"(nr), "b"(a1), "c"(a2), "d"(a3) : "memory");
	else
		__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a1), "c"(a2), "d"(a3) : "memory");
	return ret;
}

static void enable_sse(void)
{
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
}

/* The boot information, Multiboot v1 or v2, read with Nestor's own pure
 * parser (boot/multiboot2/mb_parse.c) into a struct boot_info. */
static struct boot_info boot_info;

static const void *phys_low(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	return addr && addr + len <= (1ull << 32) ? (const void *)addr : NULL;
}

static void read_boot_info(uint32_t magic, uint32_t info)
{
	char err[128];
	int r = -1;
	if (magic == MB1_BOOTLOADER_MAGIC)
		r = mb1_parse(info, phys_low, NULL, &boot_info, err, sizeof(err));
	else if (magic == MB2_BOOTLOADER_MAGIC)
		r = mb2_parse((const void *)(uint64_t)info, *(const uint32_t *)(uint64_t)info, info,
			      &boot_info, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "unknown boot magic %#x", magic);
	if (r) {
		rt_printf("FAIL: boot information: %s\n", err);
		failed++;
		return;
	}
	rt_boot.boot_path = boot_info.boot_path;
	rt_boot.cmdline = boot_info.cmdline;
	rt_boot.mods_count = boot_info.module_count;
	rt_boot.rsdp = boot_info.rsdp;
	for (unsigned i = 0; i < boot_info.region_count; i++) {
		const struct mem_region *m = &boot_info.regions[i];
		if (m->type == MEM_USABLE && m->base + m->length > rt_boot.ram_bytes)
			rt_boot.ram_bytes = m->base + m->length;
	}
}

const struct boot_module *rt_boot_module(unsigned i)
{
	return i < boot_info.module_count ? &boot_info.modules[i] : NULL;
}

/* Called by Nestor's Multiboot entry (boot/multiboot2/entry.S), in long mode. */
void mb_boot_main(uint32_t magic, uint32_t info);
void mb_boot_main(uint32_t magic, uint32_t info)
{
	extern char elf64_entry[];
	uint64_t ret = (uint64_t)__builtin_return_address(0);
	/* Called from elf64_entry (a few bytes after it) or from entry.S. */
	rt_boot.entered_64 = ret > (uint64_t)elf64_entry && ret < (uint64_t)elf64_entry + 32;
	enable_sse();
	idt_setup();
	outb(COM1 + 3, 0x03);
	read_boot_info(magic, info);
	guest_main();
	rt_exit();
}

/* entry64.S's UEFI entry is never used by a guest. */
void kmain(void *bi);
void kmain(void *bi)
{
	(void)bi;
	rt_exit();
}

/* newlib's system calls: the guest has a console and a small heap. */
static char heap[64 * 1024];
static char *heap_cur = heap;
void *sbrk(ptrdiff_t incr);
void *sbrk(ptrdiff_t incr)
{
	if (incr > heap + sizeof(heap) - heap_cur)
		return (void *)-1;
	char *old = heap_cur;
	heap_cur += incr;
	return old;
}
int write(int fd, const void *buf, size_t n);
int write(int fd, const void *buf, size_t n) { (void)fd; puts_uart(buf, n); return (int)n; }
int read(int fd, void *buf, size_t n);
int read(int fd, void *buf, size_t n) { (void)fd; (void)buf; (void)n; return -1; }
int close(int fd);
int close(int fd) { (void)fd; return -1; }
struct stat;
int fstat(int fd, struct stat *st);
int fstat(int fd, struct stat *st) { (void)fd; (void)st; return -1; }
int isatty(int fd);
int isatty(int fd) { (void)fd; return 1; }
long lseek(int fd, long off, int whence);
long lseek(int fd, long off, int whence) { (void)fd; (void)off; (void)whence; return -1; }
int kill(int pid, int sig);
int kill(int pid, int sig) { (void)pid; (void)sig; return -1; }
int getpid(void);
int getpid(void) { return 1; }
void _exit(int status);
void _exit(int status) { (void)status; rt_exit(); }
