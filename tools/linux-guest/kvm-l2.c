/*
 * kvm-l2: run tiny L2 guests through Linux's KVM, from L1 userspace
 * (docs/linux-guests.md, "KVM in L1").  Nestor is L0, the Debian kernel
 * with kvm_amd is L1, the guests made here are L2.
 *
 * Each guest runs the same loop, ITERATIONS times:
 *     CPUID leaf 0                  -> L2 exit, handled inside L1's KVM
 *     OUT 0x10, EAX = EBX + i       -> L2 exit, KVM_EXIT_IO to this program
 * then HLT (KVM_EXIT_HLT).  This program checks every OUT (the port, the
 * size, the value: CPUID's vendor word plus the iteration number, so the
 * CPUID result and the loop counter are both checked) and the number of
 * KVM_EXIT_IO exits, and prints one line per case:
 *
 *     NESTOR-KVM: real-mode L2: 5000 cpuid + 5000 pio OK, 123.4 us/iter
 *     NESTOR-KVM: long-mode L2: 5000 cpuid + 5000 pio OK, 123.4 us/iter
 *     NESTOR-KVM: cpu1 long-mode L2: 5000 cpuid + 5000 pio OK, ... us/iter
 *
 * Usage: kvm-l2 [ITERATIONS [INTERRUPTS]]   (defaults 5000 and 1000;
 * INTERRUPTS 0 skips the interrupt case)
 *
 * Cases: a real-mode guest and a long-mode guest (4-level page tables, a
 * GDT, EFER.LME|LMA set with KVM_SET_SREGS) on CPU 0; a long-mode guest
 * that takes interrupts L1's KVM injects (below); then one long-mode guest
 * per online CPU at the same time, each in a child process pinned to its
 * CPU with sched_setaffinity.  Exit status 0 when every case passed.
 *
 * The interrupt case, INTERRUPTS times: L2 asks for interrupt i with
 * OUT 0x11 (IF = 0), then STI and waits for its handler to count it.  This
 * program, like QEMU with no in-kernel irqchip, asks KVM for an interrupt
 * window (request_interrupt_window) and injects vector 0x40 with
 * KVM_INTERRUPT once KVM says L2 can take it; the handler reports its
 * count with OUT 0x12 and IRETQ.  L1's KVM does what it does on hardware:
 * V_IRQ + the VINTR intercept for the window, EVENTINJ for the injection.
 * Built static by the host gcc (the initramfs has no C library).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define L2_MEM_SIZE  (2u << 20)   /* guest RAM: 2 MiB at GPA 0 */
#define L2_CODE      0x1000u      /* the loop */
#define L2_GDT       0x500u
#define L2_PML4      0x2000u      /* long mode: identity map of the first 2 MiB */
#define L2_PDPT      0x3000u
#define L2_PD        0x4000u
#define L2_STACK     0x8000u
#define L2_PORT      0x10u        /* the port the loop writes */
#define L2_IDT       0x6000u      /* interrupt case: 256 gates */
#define L2_COUNTER   0x7000u      /* interrupt case: interrupts handled */
#define L2_HANDLER   0x1800u      /* interrupt case: the handler of L2_VECTOR */
#define L2_VECTOR    0x40u
#define L2_PORT_ASK  0x11u        /* OUT: "interrupt i, please" */
#define L2_PORT_GOT  0x12u        /* OUT from the handler: the count */

/* The L2 loops (AT&T syntax).  Inputs: EDI = iterations.  Only relative
 * branches: the bytes are copied to L2_CODE. */
__asm__(".pushsection .rodata\n"
	/* The loop, the same source for both modes: the assembler encodes it
	 * for 16-bit code (operand-size prefixes) or for 64-bit code. */
	".macro l2_cpuid_out_loop\n"
	"\txor %esi, %esi\n"
	"1:\txor %eax, %eax\n"
	"\tcpuid\n"
	"\tmov %ebx, %eax\n"
	"\tadd %esi, %eax\n"
	"\tmov $0x10, %dx\n"
	"\tout %eax, %dx\n"
	"\tinc %esi\n"
	"\tcmp %edi, %esi\n"
	"\tjne 1b\n"
	"\thlt\n"
	".endm\n"
	".code16\n"
	".globl l2_real_start, l2_real_end\n"
	"l2_real_start:\n"
	"\tl2_cpuid_out_loop\n"
	"l2_real_end:\n"
	".code64\n"
	".globl l2_long_start, l2_long_end\n"
	"l2_long_start:\n"
	"\tl2_cpuid_out_loop\n"
	"l2_long_end:\n"
	/* the interrupt case: counter at L2_COUNTER (0x7000) */
	".globl l2_irq_start, l2_irq_end, l2_handler_start, l2_handler_end\n"
	"l2_irq_start:\n"
	"\txor %esi, %esi\n"
	"1:\tmov %esi, %eax\n"
	"\tmov $0x11, %dx\n"
	"\tout %eax, %dx\n"
	"\tsti\n"
	"2:\tcmp %esi, 0x7000\n"    /* not handled yet: counter still i */
	"\tje 2b\n"
	"\tcli\n"
	"\tinc %esi\n"
	"\tcmp %edi, %esi\n"
	"\tjne 1b\n"
	"\thlt\n"
	"l2_irq_end:\n"
	"l2_handler_start:\n"
	"\tpush %rax\n"
	"\tpush %rdx\n"
	"\tincl 0x7000\n"
	"\tmov 0x7000, %eax\n"
	"\tmov $0x12, %dx\n"
	"\tout %eax, %dx\n"
	"\tpop %rdx\n"
	"\tpop %rax\n"
	"\tiretq\n"
	"l2_handler_end:\n"
	".popsection\n");
extern const unsigned char l2_real_start[], l2_real_end[], l2_long_start[], l2_long_end[];
extern const unsigned char l2_irq_start[], l2_irq_end[], l2_handler_start[], l2_handler_end[];

static int failures;

/* A case that has not ended after WATCHDOG_S seconds fails with what it
 * saw so far: SIGALRM makes KVM_RUN return EINTR. */
#define WATCHDOG_S 60
static volatile sig_atomic_t watchdog_fired;
static void on_alarm(int sig) { (void)sig; watchdog_fired = 1; }

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("NESTOR-KVM: FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	failures++;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One L2 VM with one vCPU. */
struct l2 {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	uint32_t vendor_ebx;  /* CPUID leaf 0 EBX as KVM gives it to L2 */
};

/* Create the VM, its memory and its vCPU, and give the vCPU the CPUID that
 * KVM supports (without KVM_SET_CPUID2 every leaf would read 0). */
static int l2_create(struct l2 *g, const char *who)
{
	memset(g, 0, sizeof(*g));
	g->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (g->kvm < 0) {
		fail("%s: open /dev/kvm: %s", who, strerror(errno));
		return -1;
	}
	int api = ioctl(g->kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		fail("%s: KVM API version %d, want %d", who, api, KVM_API_VERSION);
		return -1;
	}
	g->vm = ioctl(g->kvm, KVM_CREATE_VM, 0);
	if (g->vm < 0) {
		fail("%s: KVM_CREATE_VM: %s", who, strerror(errno));
		return -1;
	}
	g->mem = mmap(NULL, L2_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->mem == MAP_FAILED) {
		fail("%s: mmap: %s", who, strerror(errno));
		return -1;
	}
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = L2_MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)g->mem,
	};
	if (ioctl(g->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		fail("%s: KVM_SET_USER_MEMORY_REGION: %s", who, strerror(errno));
		return -1;
	}
	g->vcpu = ioctl(g->vm, KVM_CREATE_VCPU, 0);
	if (g->vcpu < 0) {
		fail("%s: KVM_CREATE_VCPU: %s", who, strerror(errno));
		return -1;
	}
	int run_size = ioctl(g->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run)) {
		fail("%s: KVM_GET_VCPU_MMAP_SIZE: %d", who, run_size);
		return -1;
	}
	g->run_size = (size_t)run_size;
	g->run = mmap(NULL, g->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->vcpu, 0);
	if (g->run == MAP_FAILED) {
		fail("%s: mmap kvm_run: %s", who, strerror(errno));
		return -1;
	}
	enum { MAX_ENTRIES = 100 };
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	cpuid->nent = MAX_ENTRIES;
	if (ioctl(g->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		fail("%s: KVM_GET_SUPPORTED_CPUID: %s", who, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 0)
			g->vendor_ebx = cpuid->entries[i].ebx;
	if (ioctl(g->vcpu, KVM_SET_CPUID2, cpuid) < 0) {
		fail("%s: KVM_SET_CPUID2: %s", who, strerror(errno));
		return -1;
	}
	free(cpuid);
	return 0;
}

static void l2_destroy(struct l2 *g)
{
	if (g->run && g->run != MAP_FAILED)
		munmap(g->run, g->run_size);   /* all of it: a mapping keeps the vCPU, and so the VM, alive */
	if (g->mem && g->mem != MAP_FAILED)
		munmap(g->mem, L2_MEM_SIZE);
	if (g->vcpu > 0)
		close(g->vcpu);
	if (g->vm > 0)
		close(g->vm);
	if (g->kvm > 0)
		close(g->kvm);
}

/* Real mode: CS:IP = 0:L2_CODE, every segment base 0. */
static int l2_setup_real(struct l2 *g, const char *who)
{
	memcpy(g->mem + L2_CODE, l2_real_start, (size_t)(l2_real_end - l2_real_start));
	struct kvm_sregs sregs;
	if (ioctl(g->vcpu, KVM_GET_SREGS, &sregs) < 0) {
		fail("%s: KVM_GET_SREGS: %s", who, strerror(errno));
		return -1;
	}
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(g->vcpu, KVM_SET_SREGS, &sregs) < 0) {
		fail("%s: KVM_SET_SREGS: %s", who, strerror(errno));
		return -1;
	}
	return 0;
}

/* Long mode, set up the way a boot loader would leave it: a flat 64-bit
 * code segment in a GDT, 4-level paging with one 2 MiB page mapping GPA 0
 * at address 0, CR0.PE|PG, CR4.PAE, EFER.LME|LMA. */
static int l2_setup_long(struct l2 *g, const char *who, const unsigned char *loop, size_t loop_len)
{
	memcpy(g->mem + L2_CODE, loop, loop_len);
	uint64_t *gdt = (uint64_t *)(g->mem + L2_GDT);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull;  /* 0x08: code, 64-bit (L), present, DPL 0 */
	gdt[2] = 0x00cf93000000ffffull;  /* 0x10: data, writable, present */
	uint64_t *pml4 = (uint64_t *)(g->mem + L2_PML4);
	uint64_t *pdpt = (uint64_t *)(g->mem + L2_PDPT);
	uint64_t *pd = (uint64_t *)(g->mem + L2_PD);
	pml4[0] = L2_PDPT | 0x3;          /* present, writable */
	pdpt[0] = L2_PD | 0x3;
	pd[0] = 0x0 | 0x83;               /* 2 MiB page at 0: present, writable, PS */

	struct kvm_sregs sregs;
	if (ioctl(g->vcpu, KVM_GET_SREGS, &sregs) < 0) {
		fail("%s: KVM_GET_SREGS: %s", who, strerror(errno));
		return -1;
	}
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb, .present = 1,
		.dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0x3, .present = 1,
		.dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = L2_GDT;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.idt.base = L2_IDT;
	sregs.idt.limit = 256 * 16 - 1;
	sregs.cr3 = L2_PML4;
	sregs.cr4 = 1u << 5;                              /* PAE */
	sregs.cr0 = (1u << 0) | (1u << 4) | (1u << 31);   /* PE, ET, PG */
	sregs.efer = (1u << 8) | (1u << 10);              /* LME, LMA */
	if (ioctl(g->vcpu, KVM_SET_SREGS, &sregs) < 0) {
		fail("%s: KVM_SET_SREGS: %s", who, strerror(errno));
		return -1;
	}
	return 0;
}

/* L2's registers at the start of a case: the code, its stack, the
 * iteration count in RDI, RFLAGS with IF = 0. */
static int l2_start_regs(struct l2 *g, const char *who, unsigned iterations)
{
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rip = L2_CODE;
	regs.rdi = iterations;
	regs.rsp = L2_STACK;
	regs.rflags = 0x2;
	if (ioctl(g->vcpu, KVM_SET_REGS, &regs) < 0) {
		fail("%s: KVM_SET_REGS: %s", who, strerror(errno));
		return -1;
	}
	return 0;
}

/* Run the loop: registers, then KVM_RUN until HLT; check every OUT.
 * Returns the microseconds per iteration, or a negative value. */
static double l2_run_loop(struct l2 *g, const char *who, unsigned iterations)
{
	if (l2_start_regs(g, who, iterations) < 0)
		return -1;
	unsigned io_exits = 0, other_exits = 0;
	double t0 = now_us();
	for (;;) {
		if (ioctl(g->vcpu, KVM_RUN, 0) < 0) {
			if ((errno == EINTR || errno == EAGAIN) && !watchdog_fired)
				continue;
			fail("%s: KVM_RUN: %s after %u OUTs%s", who, strerror(errno), io_exits,
			     watchdog_fired ? " (watchdog)" : "");
			return -1;
		}
		struct kvm_run *r = g->run;
		if (r->exit_reason == KVM_EXIT_IO) {
			uint32_t want = g->vendor_ebx + io_exits;
			uint32_t got = 0;
			memcpy(&got, (uint8_t *)r + r->io.data_offset, r->io.size < 4 ? r->io.size : 4);
			if (r->io.direction != KVM_EXIT_IO_OUT || r->io.port != L2_PORT || r->io.size != 4 ||
			    r->io.count != 1 || got != want) {
				fail("%s: OUT %u: dir %u port 0x%x size %u count %u value 0x%x, want OUT 0x%x "
				     "size 4 value 0x%x", who, io_exits, r->io.direction, r->io.port, r->io.size,
				     r->io.count, got, L2_PORT, want);
				return -1;
			}
			io_exits++;
			continue;
		}
		if (r->exit_reason == KVM_EXIT_HLT)
			break;
		if (r->exit_reason == KVM_EXIT_INTR) {
			other_exits++;
			continue;
		}
		if (r->exit_reason == KVM_EXIT_FAIL_ENTRY) {
			fail("%s: KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx, after %u OUTs", who,
			     (unsigned long long)r->fail_entry.hardware_entry_failure_reason, io_exits);
			return -1;
		}
		if (r->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			fail("%s: KVM_EXIT_INTERNAL_ERROR, suberror %u, after %u OUTs", who,
			     r->internal.suberror, io_exits);
			return -1;
		}
		struct kvm_regs now;
		ioctl(g->vcpu, KVM_GET_REGS, &now);
		fail("%s: unexpected exit reason %u at RIP 0x%llx after %u OUTs", who, r->exit_reason,
		     (unsigned long long)now.rip, io_exits);
		return -1;
	}
	double us = now_us() - t0;
	if (io_exits != iterations) {
		fail("%s: %u KVM_EXIT_IO, want %u", who, io_exits, iterations);
		return -1;
	}
	(void)other_exits;
	return us / iterations;
}

/* The interrupt case: long mode plus an IDT whose gate L2_VECTOR leads
 * to the handler (a 64-bit interrupt gate, CS 0x08). */
static int l2_setup_irq(struct l2 *g, const char *who)
{
	if (l2_setup_long(g, who, l2_irq_start, (size_t)(l2_irq_end - l2_irq_start)))
		return -1;
	memcpy(g->mem + L2_HANDLER, l2_handler_start, (size_t)(l2_handler_end - l2_handler_start));
	uint64_t *gate = (uint64_t *)(g->mem + L2_IDT + 16 * L2_VECTOR);
	uint64_t h = L2_HANDLER;
	gate[0] = (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | (((h >> 16) & 0xffff) << 48);
	gate[1] = h >> 32;
	*(uint32_t *)(g->mem + L2_COUNTER) = 0;
	return 0;
}

/* Run the interrupt case: inject one interrupt per request, the way a VMM
 * without an in-kernel irqchip does (QEMU's kvm_arch_pre_run).  Returns
 * the microseconds per interrupt, or a negative value. */
static double l2_run_irq_loop(struct l2 *g, const char *who, unsigned iterations)
{
	if (l2_start_regs(g, who, iterations) < 0)
		return -1;
	unsigned asked = 0, injected = 0, handled = 0, windows = 0;
	bool pending = false;
	double t0 = now_us();
	for (;;) {
		struct kvm_run *r = g->run;
		if (pending && r->ready_for_interrupt_injection && r->if_flag) {
			struct kvm_interrupt irq = { .irq = L2_VECTOR };
			if (ioctl(g->vcpu, KVM_INTERRUPT, &irq) < 0) {
				fail("%s: KVM_INTERRUPT: %s", who, strerror(errno));
				return -1;
			}
			pending = false;
			injected++;
		}
		r->request_interrupt_window = pending;
		if (ioctl(g->vcpu, KVM_RUN, 0) < 0) {
			if ((errno == EINTR || errno == EAGAIN) && !watchdog_fired)
				continue;
			struct kvm_regs now;
			ioctl(g->vcpu, KVM_GET_REGS, &now);
			fail("%s: KVM_RUN: %s%s: %u asked, %u injected, %u handled, %u windows; RIP 0x%llx "
			     "RFLAGS 0x%llx, counter %u, ready %u if_flag %u", who, strerror(errno),
			     watchdog_fired ? " (watchdog)" : "", asked, injected, handled, windows,
			     (unsigned long long)now.rip, (unsigned long long)now.rflags,
			     *(uint32_t *)(g->mem + L2_COUNTER), r->ready_for_interrupt_injection, r->if_flag);
			return -1;
		}
		if (r->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN) {
			windows++;
			continue;
		}
		if (r->exit_reason == KVM_EXIT_HLT)
			break;
		if (r->exit_reason == KVM_EXIT_INTR)
			continue;
		uint32_t val = 0;
		if (r->exit_reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT && r->io.size == 4 &&
		    r->io.count == 1)
			memcpy(&val, (uint8_t *)r + r->io.data_offset, 4);
		if (r->exit_reason == KVM_EXIT_IO && r->io.port == L2_PORT_ASK && val == asked && !pending &&
		    injected == handled) {
			asked++;
			pending = true;
			continue;
		}
		if (r->exit_reason == KVM_EXIT_IO && r->io.port == L2_PORT_GOT && val == handled + 1 &&
		    injected == handled + 1) {
			handled++;
			continue;
		}
		struct kvm_regs now;
		ioctl(g->vcpu, KVM_GET_REGS, &now);
		fail("%s: unexpected exit %u (port 0x%x value %u) at RIP 0x%llx: %u asked, %u injected, "
		     "%u handled", who, r->exit_reason, r->exit_reason == KVM_EXIT_IO ? r->io.port : 0, val,
		     (unsigned long long)now.rip, asked, injected, handled);
		return -1;
	}
	double us = now_us() - t0;
	if (asked != iterations || handled != iterations || injected != iterations) {
		fail("%s: %u asked, %u injected, %u handled, want %u each", who, asked, injected, handled,
		     iterations);
		return -1;
	}
	printf("NESTOR-KVM: %s: %u interrupts injected + %u handled OK (%u window exits), %.1f us/irq\n",
	       who, injected, handled, windows, us / iterations);
	return us / iterations;
}

enum mode { REAL_MODE, LONG_MODE, LONG_MODE_IRQ };

/* One case: a fresh VM, the loop in the given mode, one result line. */
static int run_case(enum mode mode, const char *who, unsigned iterations)
{
	struct l2 g;
	double t0 = now_us();
	watchdog_fired = 0;
	alarm(WATCHDOG_S);
	int ok = l2_create(&g, who) == 0 &&
		 (mode == REAL_MODE ? l2_setup_real(&g, who) :
		  mode == LONG_MODE ? l2_setup_long(&g, who, l2_long_start, (size_t)(l2_long_end - l2_long_start)) :
		  l2_setup_irq(&g, who)) == 0;
	double per_iter = !ok ? -1 : mode == LONG_MODE_IRQ ? l2_run_irq_loop(&g, who, iterations) :
		l2_run_loop(&g, who, iterations);
	double total_ms = (now_us() - t0) / 1e3;
	alarm(0);
	l2_destroy(&g);
	if (per_iter < 0)
		return -1;
	if (mode == LONG_MODE_IRQ)
		return 0;
	printf("NESTOR-KVM: %s: %u cpuid + %u pio OK, %.1f us/iter (%.0f ms with VM creation)\n",
	       who, iterations, iterations, per_iter, total_ms);
	fflush(stdout);
	return 0;
}

/* One long-mode L2 per CPU at once, each in a child pinned to its CPU. */
static int run_per_cpu(unsigned iterations)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 2) {
		fail("per-CPU case: %ld CPU online, want at least 2", ncpus);
		return -1;
	}
	double t0 = now_us();
	pid_t pids[64];
	for (long cpu = 0; cpu < ncpus && cpu < 64; cpu++) {
		pids[cpu] = fork();
		if (pids[cpu] == 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			char who[64];
			snprintf(who, sizeof(who), "cpu%ld long-mode L2", cpu);
			if (sched_setaffinity(0, sizeof(set), &set) < 0) {
				fail("%s: sched_setaffinity: %s", who, strerror(errno));
				_exit(1);
			}
			_exit(run_case(LONG_MODE, who, iterations) == 0 && sched_getcpu() == cpu ? 0 : 1);
		}
		if (pids[cpu] < 0) {
			fail("fork: %s", strerror(errno));
			return -1;
		}
	}
	int bad = 0;
	for (long cpu = 0; cpu < ncpus && cpu < 64; cpu++) {
		int status;
		if (waitpid(pids[cpu], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fail("cpu%ld long-mode L2: child failed (status 0x%x)", cpu, status);
			bad = 1;
		}
	}
	if (bad)
		return -1;
	printf("NESTOR-KVM: %ld CPUs, one long-mode L2 each, in parallel: OK, %.0f ms\n", ncpus,
	       (now_us() - t0) / 1e3);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned iterations = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 5000;
	unsigned interrupts = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 1000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART: KVM_RUN returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);   /* the single-VM cases on CPU 0 */
	double t0 = now_us();
	if (run_case(REAL_MODE, "real-mode L2", iterations) == 0 &&
	    run_case(LONG_MODE, "long-mode L2", iterations) == 0 && interrupts)
		run_case(LONG_MODE_IRQ, "long-mode L2 interrupts", interrupts);
	CPU_ZERO(&set);
	for (int cpu = 0; cpu < 64; cpu++)
		CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (!failures)
		run_per_cpu(iterations);
	printf("NESTOR-KVM: L2 phase %.2f s, %s\n", (now_us() - t0) / 1e6,
	       failures ? "FAILED" : "all cases passed");
	return failures ? 1 : 0;
}
