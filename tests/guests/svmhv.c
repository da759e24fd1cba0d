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
 *     boot modules 1, 2... become L2's Multiboot modules 0, 1...;
 *   - svmhv handles L2's CPUID (hiding SVM), its EFER accesses (hiding
 *     EFER.SVME), VM_CR and VM_HSAVE_PA, the MSRs that always exit, and
 *     VMMCALL: a few hypercalls of its own that change NPT12 while L2 runs
 *     (tests/guests/npt12.c), to test that the hypervisor below svmhv
 *     follows such changes; others go on to that hypervisor.  SVM
 *     instructions give L2 a #UD.  L2's write to the isa-debug-exit port
 *     ends the run.  Everything else (I/O, MMIO, interrupts, the LAPIC)
 *     passes through to the hypervisor below.
 *
 * Nested mode (the command line says `nested`, or there is a module 1 for
 * L2 to run): L2 may itself be a hypervisor, e.g. a second copy of svmhv.
 * svmhv then offers it SVM and emulates it, as Nestor does for svmhv (see
 * "L2 as a hypervisor" below): CPUID shows SVM with nested paging, EFER.SVME,
 * VM_CR and VM_HSAVE_PA behave as on an SVM CPU, VMLOAD/VMSAVE/STGI/CLGI/
 * INVLPGA are emulated, and L2's VMRUN runs L2's guest ("L3") on a VMCB of
 * svmhv's own (vmcb13) through a nested page table that svmhv composes
 * from L2's NPT23 and its own NPT12 (NPT13).
 *
 * Under plain QEMU (TCG emulates SVM with NPT) svmhv runs on the emulated
 * CPU; under Nestor with `nested = on`, Nestor emulates SVM for it.
 * svmhv runs on the runtime's identity map (boot/multiboot2/entry.S), so
 * its addresses below 4 GiB are L1 GPAs.  A copy running as L2 under
 * another svmhv calls itself "svmhv(L2)" in its messages.
 *
 * Command line: `l2mem=SIZE` (L2 RAM, default 32M, 64M in nested mode),
 * `nested`, `-- WORDS` (the rest is L2's command line, default "l2").
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
#define CPUID_E1_EDX_PAGE1GB  (1u << 26) /* CPUID 0x80000001 EDX: 1 GiB pages */
#define SVM_FEAT_NP           (1u << 0)  /* CPUID 0x8000000A EDX */
#define SVM_FEAT_NRIPS        (1u << 3)
#define SVM_FEAT_FLUSH_BY_ASID (1u << 6)
#define VM_CR_LOCK            (1u << 3)  /* MSR VM_CR (APM 15.30.1) */
#define VM_CR_SVMDIS          (1u << 4)
#define EFER_LMA              (1ull << 10)

static bool has_nrips, has_flush_by_asid, l1_under_nestor;
static unsigned phys_bits = 36;   /* MAXPHYADDR (CPUID 0x80000008 EAX[7:0]) */
static bool nested_l2;            /* L2 is offered SVM (nested mode) */
static const char *me = "svmhv";  /* "svmhv(L2)" when svmhv runs under svmhv */

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
	rt_check(false, me, "%s: %s", what, detail);
	rt_exit();
}

/* ---- Turning SVM on (APM 15.4, 15.30) ---------------------------------- */
static void svm_enable(void)
{
	if (cpuid(0x80000000, 0).eax < 0x8000000a || !(cpuid(0x80000001, 0).ecx & CPUID_E1_ECX_SVM))
		fail_exit("SVM", "CPUID 0x80000001 ECX.SVM is 0");
	struct cpuid_regs f = cpuid(0x8000000a, 0);
	if (!(f.edx & SVM_FEAT_NP))
		fail_exit("SVM", "no nested paging (CPUID 0x8000000A EDX bit 0)");
	if (f.ebx < (nested_l2 ? 3u : 2u))               /* ASID 1 for L2, 2 for L3 */
		fail_exit("SVM", "%u ASIDs: too few for L2%s", f.ebx, nested_l2 ? " and L3" : "");
	has_nrips = f.edx & SVM_FEAT_NRIPS;
	if (cpuid(0x80000000, 0).eax >= 0x80000008)
		phys_bits = cpuid(0x80000008, 0).eax & 0xff;
	has_flush_by_asid = f.edx & SVM_FEAT_FLUSH_BY_ASID;
	uint64_t vm_cr;
	if (rdmsr_safe(MSR_VM_CR, &vm_cr))
		fail_exit("SVM", "VM_CR (0xC0010114) is not readable");
	if (vm_cr & VM_CR_SVMDIS)
		fail_exit("SVM", "disabled by the firmware (VM_CR.SVMDIS)");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);             /* 15.4 */
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)hsave);                  /* 15.30.4 */
	l1_under_nestor = rt_under_nestor();
}

#define L2_LOADER_NAME "svmhv"
#include "tests/guests/rt/l2_window.h"

/* ---- NPT12: L2 GPA -> L1 GPA (APM 15.25), long-mode 4-level format ------ */
#define NPT_P      (1ull << 0)
#define NPT_RW     (1ull << 1)
#define NPT_US     (1ull << 2)    /* nested walks are user accesses (15.25.5) */
#define NPT_PWT    (1ull << 3)
#define NPT_PCD    (1ull << 4)
#define NPT_A      (1ull << 5)
#define NPT_D      (1ull << 6)
#define NPT_PS     (1ull << 7)
#define NPT_NX     (1ull << 63)
#define NPT_TABLE  (NPT_P | NPT_RW | NPT_US)
#define NPT_LEAF   (NPT_P | NPT_RW | NPT_US)
#define NPT_MMIO   (NPT_LEAF | NPT_PWT | NPT_PCD)   /* uncacheable */
#define NPT_ADDR_4K 0x000ffffffffff000ull
#define NPT_ADDR_2M 0x000fffffffe00000ull

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
 * The NPT12 entry that maps gpa at level 3 (a 1 GiB page, PDPTE), 2 (a
 * 2 MiB page, PDE) or 1 (a 4 KiB page, PTE), creating the tables above
 * it.  Asking for a smaller entry inside a large page splits that page
 * into 512 equal pages of the next size.
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
					next[i] = ((*e & NPT_ADDR_2M) + i * (l == 3 ? 2 * MIB : 4096)) |
						  (*e & (NPT_LEAF | NPT_PWT | NPT_PCD)) | (l == 3 ? NPT_PS : 0);
			*e = (uint64_t)next | NPT_TABLE;
		}
		t = (uint64_t *)(*e & NPT_ADDR_4K);
	}
	return &t[npt12_index(gpa, level)];
}

/* The NPT12 leaf that maps gpa and its page size (4 KiB, 2 MiB or 1 GiB), or NULL. */
static uint64_t *npt12_leaf(uint64_t gpa, uint64_t *size)
{
	uint64_t *t = npt12_pml4;
	for (int l = 4;; l--) {
		uint64_t *e = &t[npt12_index(gpa, l)];
		if (!(*e & NPT_P))
			return NULL;
		if (l == 1 || ((l == 2 || l == 3) && (*e & NPT_PS))) {
			*size = l == 1 ? 4096 : l == 2 ? 2 * MIB : GIB;
			return e;
		}
		t = (uint64_t *)(*e & NPT_ADDR_4K);
	}
}

static uint64_t npt12_translate(uint64_t gpa)
{
	uint64_t size, *e = npt12_leaf(gpa, &size);
	return e ? (*e & NPT_ADDR_4K & ~(size - 1)) | (gpa & (size - 1)) : NO_L1;
}

static uint64_t l2_translate(uint64_t gpa) { return npt12_translate(gpa); }

static int npt12_map(uint64_t gpa, uint64_t l1, int level, uint64_t flags)
{
	uint64_t *e = npt12_entry(gpa, level);
	if (!e)
		return -1;
	*e = l1 | flags | (level >= 2 ? NPT_PS : 0);
	return 0;
}

static bool npt13_stale;          /* NPT13 was composed from an older NPT12 */

/* A translation changed or went away: the next VMRUN flushes L2's ASID
 * (APM 15.16.1: TLB_CONTROL 3; a CPU without FlushByAsid knows only 1).
 * NPT13, composed from NPT12, is dropped before L3 runs again. */
static void npt12_changed(void)
{
	vmcb12.ctl.tlb_control = has_flush_by_asid ? 3 : 1;
	npt13_stale = true;
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
	fail_exit("NPT12", "out of table pages");
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
	 * an unintercepted VMSAVE would write L1 memory at an address of L2's
	 * choosing.  svmhv emulates them when it offers L2 SVM, else #UD. */
	c->intercept_misc2 = SVM_INTERCEPT_VMRUN | SVM_INTERCEPT_VMMCALL | SVM_INTERCEPT_VMLOAD |
			     SVM_INTERCEPT_VMSAVE | SVM_INTERCEPT_STGI | SVM_INTERCEPT_CLGI | SVM_INTERCEPT_SKINIT;
	/* IOPM (15.10.1): one bit per port; only isa-debug-exit's 0xF4 exits. */
	iopm[0xf4 / 8] |= 1u << (0xf4 % 8);
	/* MSRPM (15.11): two bits (read, write) per MSR; 0xC0000000-0xC0001FFF
	 * is the second 2 KiB.  Only EFER exits, since L2 must not see
	 * EFER.SVME (and MSRs outside the three ranges, which always exit). */
	msrpm[0x800 + (MSR_EFER - 0xc0000000) * 2 / 8] |= 3u << ((MSR_EFER - 0xc0000000) * 2 % 8);
	/* VM_CR and VM_HSAVE_PA (15.30), in the third 2 KiB (0xC0010000-):
	 * L2 has them only when svmhv offers it SVM, and never svmhv's own. */
	msrpm[0x1000 + (MSR_VM_CR - 0xc0010000) * 2 / 8] |= 3u << ((MSR_VM_CR - 0xc0010000) * 2 % 8);
	msrpm[0x1000 + (MSR_VM_HSAVE_PA - 0xc0010000) * 2 / 8] |= 3u << ((MSR_VM_HSAVE_PA - 0xc0010000) * 2 % 8);
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

/* ---- L2's view of SVM (APM 15.4, 15.30) -------------------------------- */
static bool l2_svme;              /* L2's EFER.SVME (vmcb12's is always set: VMRUN needs it) */
static uint64_t l2_hsave_pa;      /* L2's VM_HSAVE_PA: remembered, never used (15.30.4) */

/*
 * CPUID: svmhv's own view, with SVM hidden unless svmhv offers it to L2.
 * In nested mode leaf 0x8000000A says what svmhv emulates for L2: the
 * revision, the ASID count (tags only: every L2 ASID runs as svmhv's
 * ASID13), nested paging, and nRIP save where svmhv itself gets it; no
 * clean bits, decode assists, FlushByAsid, vGIF or AVIC.
 */
static void exit_cpuid(void)
{
	uint32_t leaf = (uint32_t)vmcb12.save.rax;
	struct cpuid_regs r = cpuid(leaf, (uint32_t)l2.rcx);
	if (leaf == 0x80000001 && !nested_l2)
		r.ecx &= ~CPUID_E1_ECX_SVM;              /* L2 is not nested */
	if (leaf == 0x8000000a && !nested_l2)
		r.eax = r.ebx = r.ecx = r.edx = 0;
	if (leaf == 0x8000000a && nested_l2) {
		r.ecx = 0;
		r.edx &= SVM_FEAT_NP | (has_nrips ? SVM_FEAT_NRIPS : 0);
	}
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
 * VM_CR (15.30.1): SVM enabled and unlocked when svmhv offers it, else
 * disabled and locked; read-only here (a write is #GP, as under Nestor).
 * VM_HSAVE_PA (15.30.4): exists only with SVM; page aligned and below
 * MAXPHYADDR.  False: #GP.
 */
static bool l2_svm_msr(uint32_t msr, bool write, uint64_t *v)
{
	if (msr == MSR_VM_CR) {
		*v = nested_l2 ? 0 : VM_CR_LOCK | VM_CR_SVMDIS;
		return !write;
	}
	if (!nested_l2)
		return false;
	if (!write) {
		*v = l2_hsave_pa;
		return true;
	}
	if ((*v & 0xfff) || (*v >> phys_bits))
		return false;
	l2_hsave_pa = *v;
	return true;
}

/*
 * MSR exits: EFER, VM_CR and VM_HSAVE_PA, which svmhv's MSRPM intercepts,
 * and every MSR outside the MSRPM's three ranges, which MSR_PROT always
 * intercepts (APM 15.11).
 * EFER (APM 3.1.7): L2 sees its own SVME (always clear unless svmhv offers
 * SVM); a write keeps vmcb12's SVME (VMRUN needs it) and LMA.
 * Any other MSR: svmhv does the access itself, and a #GP it takes goes to L2.
 */
static void exit_msr(void)
{
	uint32_t msr = (uint32_t)l2.rcx;
	bool write = vmcb12.ctl.exit_info1 == 1;
	uint64_t v = (uint32_t)vmcb12.save.rax | (l2.rdx << 32), efer = vmcb12.save.efer;
	uint64_t efer_bits = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | (nested_l2 ? EFER_SVME : 0);
	if (msr == MSR_EFER && write) {
		bool lme_change = (v ^ efer) & EFER_LME;
		if ((v & ~efer_bits) || (lme_change && (vmcb12.save.cr0 & CR0_PG))) {
			inject = EVT_GP;
			return;
		}
		vmcb12.save.efer = (v & ~EFER_LMA) | (efer & EFER_LMA) | EFER_SVME;
		l2_svme = v & EFER_SVME;
	} else if (msr == MSR_EFER) {
		v = (efer & ~EFER_SVME) | (l2_svme ? EFER_SVME : 0);
	} else if (msr == MSR_VM_CR || msr == MSR_VM_HSAVE_PA) {
		if (!l2_svm_msr(msr, write, &v)) {
			inject = EVT_GP;
			return;
		}
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

/* One 1 GiB NPT12 page (PDPTE.PS, 15.25.1) at L2 GPA gpa onto L1 GPAs
 * 0..1 GiB, where the CPU has 1 GiB pages; a fresh pool page filled with
 * the pattern of the L2 GPAs it appears at is L2's to read there. */
static int64_t op_map_1g(uint64_t gpa)
{
	if ((gpa & (GIB - 1)) || gpa < 4 * GIB || gpa >= 512 * GIB || pool_4k == pool_4k_end ||
	    pool_4k + 4096 > GIB)
		return -1;
	if (cpuid(0x80000000, 0).eax < 0x80000001 || !(cpuid(0x80000001, 0).edx & CPUID_E1_EDX_PAGE1GB))
		return -1;
	uint64_t *page = (uint64_t *)pool_4k;
	for (unsigned i = 0; i < 512; i++)
		page[i] = svmhv_pattern(gpa + pool_4k + 8 * i);
	if (npt12_map(gpa, 0, 3, NPT_LEAF))
		return -1;
	pool_4k += 4096;
	npt12_changed();
	return (int64_t)page;
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
		/* L2 RAM, or a page mapped into svmhv's RAM (op_map_1g's) */
		if ((a1 & 7) || l1 == NO_L1 || (!in_l2_ram(a1, 8) && (l1 + 8 > rt_boot.ram_bytes || l1 >= 4 * GIB)))
			return -1;
		return *(int64_t *)l1;
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
	case SVMHV_MAP_1G:
		return op_map_1g(a1);
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
 * Above 4 GiB (where an svmhv running as L2 puts its own L2's holes) up
 * to 512 GiB, the same.
 */
static bool map_l2_hole(uint64_t gpa)
{
	uint64_t page = gpa & ~0xfffull, nothing = 4 * GIB;
	if (gpa >= 512 * GIB || gpa < l2_size)
		return false;
	if (rt_boot.ram_bytes > nothing)
		nothing = (rt_boot.ram_bytes + GIB - 1) & ~(GIB - 1);
	return npt12_map(page, page >= rt_boot.ram_bytes ? page : page + nothing, 1, NPT_MMIO) == 0;
}

/* A fault in NPT12 at L2 GPA gpa with error code err (L2's own access, or
 * L3's through NPT23): true when svmhv mapped the page, so that the access
 * can be retried. */
static bool npt12_fault(uint64_t gpa, uint64_t err)
{
	uint64_t page = gpa & ~0xfffull;
	for (unsigned i = 0; i < 8; i++) {
		if (unmapped[i].gpa != page || !unmapped[i].gpa)
			continue;
		if (++unmapped[i].npf > 16)
			return false;                            /* a fault that never goes away */
		/* Back to its page.  An added translation needs no flush (15.16.1). */
		if (unmapped[i].unmapped && npt12_map(page, l2_base + page, 1, NPT_LEAF) == 0)
			unmapped[i].unmapped = false;
		return true;
	}
	return !(err & 1) && map_l2_hole(gpa);
}

/* #NPF (15.25.6): EXITINFO1 is the fault's error code, EXITINFO2 the L2 GPA. */
static void exit_npf(void)
{
	uint64_t gpa = vmcb12.ctl.exit_info2, e = vmcb12.ctl.exit_info1;
	n_npf++;
	if (npt12_fault(gpa, e))
		return;
	fail_exit("L2 #NPF", "L2 GPA %#lx, EXITINFO1 %#lx (P=%lu W=%lu U=%lu RSV=%lu ID=%lu), RIP %#lx",
		  (unsigned long)gpa, (unsigned long)e, (unsigned long)(e & 1), (unsigned long)(e >> 1 & 1),
		  (unsigned long)(e >> 2 & 1), (unsigned long)(e >> 3 & 1), (unsigned long)(e >> 4 & 1),
		  (unsigned long)vmcb12.save.rip);
}

/* One VMRUN of the guest that v describes (L2 on vmcb12, or L3 on vmcb13).
 * VMRUN does not switch x87/SSE state: svmhv's newlib uses it too. */
static void guest_vmrun(struct vmcb *v)
{
	__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l1) : "m"(fx_l2));
	l2_run((uint64_t)v, &l2, (uint64_t)&host_state);
	__asm__ volatile("fxsave64 %0; fxrstor64 %1" : "=m"(fx_l2) : "m"(fx_l1));
}

/* ==== L2 as a hypervisor (nested mode) ===================================
 *
 * svmhv does for L2 what Nestor does for svmhv (docs/nested-svm.md), one
 * level up.  When L2 executes VMRUN, svmhv runs L2's guest, L3, itself:
 *
 *   name    lives in      built by  describes
 *   vmcb23  L2 memory     L2        L3 as L2 wants it run (L2's intercepts)
 *   vmcb13  svmhv         svmhv     L3 as svmhv runs it, with its own VMRUN
 *   NPT23   L2 memory     L2        L3 GPA -> L2 GPA
 *   NPT12   svmhv         svmhv     L2 GPA -> L1 GPA
 *   NPT13   svmhv         svmhv     L3 GPA -> L1 GPA: NPT23 then NPT12,
 *                                   composed lazily on L3's #NPF
 *
 * The hypervisor below svmhv (Nestor, or the CPU) sees vmcb13 as one more
 * guest of svmhv's: depth 3 costs it nothing new.
 *
 * While L3 runs, vmcb12 is not run: it keeps L2's state as of its VMRUN,
 * which is the host state L2 gets back at #VMEXIT.  (svmhv never touches
 * L2's VM_HSAVE_PA page: its format is the CPU's own, 15.30.4.)  The
 * general registers other than RAX and RSP, and the x87/SSE state, are
 * left alone by VMRUN and #VMEXIT (15.5.1, 15.6), so `l2` and fx_l2 hold
 * those of whichever of L2 and L3 runs.  The VMLOAD state (15.5.2) is L2's
 * registers, kept in vmcb12 while L2 runs; L3 starts with it and leaves
 * its own in it at #VMEXIT.
 *
 * Limits: one vCPU; svmhv offers L3 no SVM of its own (an SVM instruction
 * of L3 that L2 does not intercept is #UD); L2's GIF is only a flag:
 * svmhv injects no events of its own into L2, and the interrupts it passes
 * through reach L2 (or L3) from the hypervisor below, gated by their IF,
 * not by L2's GIF; no clean bits, decode assists, FlushByAsid, vGIF or
 * AVIC for L2, and its VMLOAD/VMSAVE/STGI/CLGI always exit.
 */
#define ASID13 2                  /* L3's ASID on the hypervisor below (L2 has 1) */
#define L3_SVM_INSNS (SVM_INTERCEPT_VMRUN | SVM_INTERCEPT_VMLOAD | SVM_INTERCEPT_VMSAVE | \
		      SVM_INTERCEPT_STGI | SVM_INTERCEPT_CLGI | SVM_INTERCEPT_SKINIT)
/* V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR (15.21.1) */
#define VINTR_OFFERED 0xff011f01ffull
#define VINTR_WRITTEN 0x1ffull    /* V_TPR and V_IRQ: written back at #VMEXIT (15.6) */

/* #NPF error code bits (EXITINFO1, 15.25.6) */
#define NPF_P   (1ull << 0)
#define NPF_W   (1ull << 1)
#define NPF_US  (1ull << 2)
#define NPF_RSV (1ull << 3)
#define NPF_ID  (1ull << 4)

static struct vmcb vmcb23;        /* svmhv's private copy of L2's VMCB, taken at VMRUN */
static struct vmcb vmcb13;        /* L3 as svmhv runs it */
static uint8_t iopm13[3 * 4096] __attribute__((aligned(4096)));   /* copies of L2's maps */
static uint8_t msrpm13[2 * 4096] __attribute__((aligned(4096)));
static uint64_t vmcb23_gpa;       /* where vmcb23 lives in L2 memory */
static bool l3_active;            /* L2 is in its VMRUN: svmhv runs L3 */
static bool l2_gif = true;        /* L2's global interrupt flag (15.17) */
static bool l3_flush;             /* flush ASID13 on L3's next VMRUN */
static uint32_t asid23_last;
static uint64_t n_l2_vmrun, n_l2_invalid, n_l3_exits, n_l3_to_l2, n_l3_npf_to_l2, n_npt13_fills;

/* The state VMLOAD loads and VMSAVE stores (15.5.2): FS, GS, TR and LDTR
 * with their hidden parts, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK and
 * SYSENTER_CS/ESP/EIP. */
static void vmload_state_copy(struct vmcb_save *to, const struct vmcb_save *from)
{
	to->fs = from->fs;
	to->gs = from->gs;
	to->tr = from->tr;
	to->ldtr = from->ldtr;
	to->kernel_gs_base = from->kernel_gs_base;
	to->star = from->star;
	to->lstar = from->lstar;
	to->cstar = from->cstar;
	to->sfmask = from->sfmask;
	to->sysenter_cs = from->sysenter_cs;
	to->sysenter_esp = from->sysenter_esp;
	to->sysenter_eip = from->sysenter_eip;
}

/* rAX as an SVM instruction reads it: RAX in long mode, else EAX. */
static uint64_t l2_rax_addr(void)
{
	return vmcb12.save.efer & EFER_LMA ? vmcb12.save.rax : (uint32_t)vmcb12.save.rax;
}

/* ---- NPT13: L3 GPA -> L1 GPA, NPT23 and NPT12 composed (APM 15.25) ------ */
#define NPT13_PAGES 64

static uint64_t npt13_pages[NPT13_PAGES][512] __attribute__((aligned(4096)));
static unsigned npt13_used;
static uint64_t *npt13_pml4;
static uint64_t npt13_ncr3;       /* the NPT23 (vmcb23's nCR3) it was composed from */
static bool npt13_np;             /* ... or none: L2 ran L3 without nested paging */

static uint64_t *npt13_alloc(void)
{
	if (npt13_used == NPT13_PAGES)
		return NULL;
	uint64_t *t = npt13_pages[npt13_used++];
	memset(t, 0, 4096);
	return t;
}

/* NPT13 is a cache of NPT23 then NPT12, as a TLB is of page tables: drop
 * it all and flush L3's ASID, which may hold translations through it. */
static void npt13_reset(void)
{
	npt13_used = 0;
	npt13_pml4 = npt13_alloc();
	npt13_stale = false;
	l3_flush = true;
}

/* Install the NPT13 leaf for l3gpa: L1 address l1 (of l3gpa itself), a
 * page of size bytes (4 KiB or 2 MiB; 2 MiB only where no table is yet). */
static bool npt13_install(uint64_t l3gpa, uint64_t l1, uint64_t size, uint64_t flags)
{
	uint64_t *t = npt13_pml4, *e;
	for (int l = 4;; l--) {
		e = &t[npt12_index(l3gpa, l)];
		if (l == 1 || (l == 2 && size == 2 * MIB && !((*e & NPT_P) && !(*e & NPT_PS))))
			break;
		if (!(*e & NPT_P) || (*e & NPT_PS)) {    /* no table yet, or a 2 MiB leaf to drop */
			uint64_t *next = npt13_alloc();
			if (!next)
				return false;
			if (*e & NPT_P)
				l3_flush = true;                 /* a translation went away (15.16.1) */
			*e = (uint64_t)next | NPT_TABLE;
		}
		t = (uint64_t *)(*e & NPT_ADDR_4K);
		if (l == 2)
			size = 4096;
	}
	*e = (l1 & NPT_ADDR_4K & ~(size - 1)) | flags | (size == 2 * MIB ? NPT_PS : 0);
	return true;
}

/* One walk of NPT23 for an L3 GPA: the L2 GPA, the page size, the rights. */
struct npt23_walk {
	uint64_t l2gpa, size;
	bool rw, nx, dirty;
	uint64_t cache;               /* PWT, PCD met on the way */
	uint64_t fault;               /* on failure: the P and RSV bits of L2's #NPF */
};

/* The NPT23 entry at L2 GPA gpa, in svmhv's memory, or NULL when it is
 * not L2 RAM. */
static uint64_t *l2_qword(uint64_t gpa)
{
	uint64_t l1 = npt12_translate(gpa);
	return (gpa & 7) || !in_l2_ram(gpa, 8) || l1 == NO_L1 ? NULL : (uint64_t *)l1;
}

/*
 * Walk NPT23 (vmcb23's nCR3, long-mode format, 15.25.1) in L2 memory as
 * the CPU would: every level must be present and allow user access
 * (nested walks are user accesses, 15.25.5), write needs RW everywhere,
 * a fetch needs NX clear (NX is a reserved bit while L2's EFER.NXE is 0),
 * PS is reserved in the PML4E, and a large page's address bits below its
 * size must be zero.  A table that is not L2 RAM reads like an empty bus,
 * all ones: a reserved-bit fault.  The walk sets Accessed in every entry
 * and Dirty in the leaf on a write.  Without NP in vmcb23, L3 GPAs are L2
 * GPAs.
 */
static bool npt23_walk(uint64_t l3gpa, bool write, bool fetch, struct npt23_walk *w)
{
	uint64_t *path[4], table = vmcb23.ctl.n_cr3 & NPT_ADDR_4K;
	bool nxe = vmcb12.save.efer & EFER_NXE, us = true;
	int n = 0;
	memset(w, 0, sizeof(*w));
	w->rw = true;
	if (!npt13_np) {
		w->l2gpa = l3gpa;
		w->size = GIB;
		w->dirty = true;
		return true;
	}
	for (int l = 4; l >= 1; l--) {
		uint64_t *e = l2_qword(table + 8 * npt12_index(l3gpa, l)), v;
		if (!e) {
			w->fault = NPF_P | NPF_RSV;
			return false;
		}
		v = *e;
		if (!(v & NPT_P))
			return false;                                /* fault = 0: not present */
		bool leaf = l == 1 || ((l == 2 || l == 3) && (v & NPT_PS));
		uint64_t size = l == 1 ? 4096 : l == 2 ? 2 * MIB : GIB;
		if ((l == 4 && (v & NPT_PS)) || ((v & NPT_NX) && !nxe) ||
		    (leaf && l > 1 && (v & (size - 1) & ~0x1fffull))) {
			w->fault = NPF_P | NPF_RSV;
			return false;
		}
		path[n++] = e;
		w->rw &= !!(v & NPT_RW);
		us &= !!(v & NPT_US);
		w->nx |= !!(v & NPT_NX);
		w->cache |= v & (NPT_PWT | NPT_PCD);
		if (leaf) {
			w->size = size;
			w->l2gpa = (v & NPT_ADDR_4K & ~(size - 1)) | (l3gpa & (size - 1));
			w->dirty = v & NPT_D;
			break;
		}
		table = v & NPT_ADDR_4K;
	}
	if (!us || (write && !w->rw) || (fetch && w->nx)) {
		w->fault = NPF_P;
		return false;
	}
	for (int i = 0; i < n; i++)
		*path[i] |= NPT_A;
	if (write) {
		*path[n - 1] |= NPT_D;
		w->dirty = true;
	}
	return true;
}

static void reflect_to_l2(uint64_t code, uint64_t info1, uint64_t info2);

/*
 * L3 took an #NPF on NPT13 (15.25.6): EXITINFO1 is the error code,
 * EXITINFO2 the L3 GPA.  Walk NPT23: a fault there is L2's, reflected as
 * #NPF with P/RSV as NPT23 says (W, US, ID and bits 32/33 as the CPU
 * reported them).  Then NPT12: a miss there is svmhv's own, handled as
 * for L2 (a hole of L2's space mapped, an unmapped page back), and L3
 * retries.  Else install the composed leaf: 2 MiB where both tables map
 * 2 MiB or more, rights = NPT23 & NPT12, uncached if either says so.  A
 * leaf whose NPT23 Dirty bit is still clear is installed read-only, so
 * that L3's first write comes back here and sets it.
 */
static void npt13_fault(void)
{
	uint64_t l3gpa = vmcb13.ctl.exit_info2, err = vmcb13.ctl.exit_info1, size12;
	bool write = err & NPF_W, fetch = err & NPF_ID;
	struct npt23_walk w;
	if (!npt23_walk(l3gpa, write, fetch, &w)) {
		n_l3_npf_to_l2++;
		reflect_to_l2(SVM_EXIT_NPF, (err & ~(NPF_P | NPF_RSV)) | NPF_US | w.fault, l3gpa);
		return;
	}
	uint64_t *e12 = npt12_leaf(w.l2gpa, &size12);
	if (!e12) {
		if (!npt12_fault(w.l2gpa, err))
			fail_exit("L3 #NPF", "L3 GPA %#lx -> L2 GPA %#lx: not in NPT12 (EXITINFO1 %#lx, L3 RIP %#lx)",
				  (unsigned long)l3gpa, (unsigned long)w.l2gpa, (unsigned long)err,
				  (unsigned long)vmcb13.save.rip);
		return;
	}
	if (write && !(*e12 & NPT_RW))
		fail_exit("L3 #NPF", "write to L2 GPA %#lx, read-only in NPT12", (unsigned long)w.l2gpa);
	uint64_t l1 = (*e12 & NPT_ADDR_4K & ~(size12 - 1)) | (w.l2gpa & (size12 - 1));
	uint64_t size = w.size >= 2 * MIB && size12 >= 2 * MIB ? 2 * MIB : 4096;
	uint64_t flags = NPT_P | NPT_US | ((w.cache | *e12) & (NPT_PWT | NPT_PCD));
	if (w.rw && w.dirty && (*e12 & NPT_RW))
		flags |= NPT_RW;
	if (w.nx || (*e12 & NPT_NX))
		flags |= NPT_NX;
	if (!npt13_install(l3gpa, l1, size, flags)) {
		npt13_reset();                                   /* full: start again */
		if (!npt13_install(l3gpa, l1, size, flags))
			fail_exit("NPT13", "out of table pages");
	}
	n_npt13_fills++;
}

/* ---- vmcb23 -> vmcb13, and #VMEXIT back into vmcb23 (APM 15.5, 15.6) --- */

/*
 * The consistency checks of VMRUN (15.5.1) that svmhv makes itself: the
 * VMRUN intercept, ASID 0, EFER.SVME, and L2's permission maps, which svmhv
 * copies and which must therefore be L2 RAM.  The rest of the list is
 * checked by the CPU below on vmcb13, which carries L3's state unchanged;
 * its VMEXIT_INVALID goes on to L2.
 */
static const char *vmcb23_check(void)
{
	const struct vmcb_control *c = &vmcb23.ctl;
	if (!(c->intercept_misc2 & SVM_INTERCEPT_VMRUN))
		return "VMRUN intercept clear (APM 15.5.1)";
	if (c->asid == 0)
		return "ASID is zero (APM 15.5.1)";
	if (!(vmcb23.save.efer & EFER_SVME))
		return "EFER.SVME clear (APM 15.5.1)";
	/* 15.10.1, 15.11: bits 11:0 of the map addresses are ignored. */
	if ((c->intercept_misc1 & SVM_INTERCEPT_IOIO) &&
	    !l2_copy(c->iopm_base_pa & ~0xfffull, iopm13, sizeof(iopm13), false))
		return "IOPM not in L2 RAM";
	if ((c->intercept_misc1 & SVM_INTERCEPT_MSR) &&
	    !l2_copy(c->msrpm_base_pa & ~0xfffull, msrpm13, sizeof(msrpm13), false))
		return "MSRPM not in L2 RAM";
	return NULL;
}

/*
 * vmcb13 from vmcb23: L2's intercepts plus svmhv's own (the SVM
 * instructions, which reach L1 state, and nested paging on NPT13), L2's
 * maps as copied, the TSC offsets summed, svmhv's ASID13, L2's virtual
 * interrupt and event-injection fields, L3's state from vmcb23 except the
 * VMLOAD state, which is L2's current registers (VMRUN does not load it).
 */
static void vmcb13_build(void)
{
	const struct vmcb_control *c23 = &vmcb23.ctl;
	struct vmcb_control *c = &vmcb13.ctl;
	bool np = c23->np_enable & 1;

	/* NPT13 follows NPT23 as the TLB does (15.16.1): it is dropped when L2
	 * asks for a flush (TLB_CONTROL), uses another nCR3, turns NP on or
	 * off, and when svmhv changed NPT12.  Another L2 ASID only flushes. */
	if (!npt13_pml4 || c23->tlb_control || npt13_stale || np != npt13_np || (np && c23->n_cr3 != npt13_ncr3))
		npt13_reset();
	npt13_np = np;
	npt13_ncr3 = c23->n_cr3;
	if (c23->asid != asid23_last)
		l3_flush = true;
	asid23_last = c23->asid;

	memset(&vmcb13, 0, sizeof(vmcb13));
	c->intercept_cr = c23->intercept_cr;
	c->intercept_dr = c23->intercept_dr;
	c->intercept_exc = c23->intercept_exc;
	c->intercept_misc1 = c23->intercept_misc1 | SVM_INTERCEPT_INVLPGA;
	c->intercept_misc2 = c23->intercept_misc2 | L3_SVM_INSNS;
	c->intercept_misc3 = c23->intercept_misc3;
	c->iopm_base_pa = (uint64_t)iopm13;
	c->msrpm_base_pa = (uint64_t)msrpm13;
	c->tsc_offset = vmcb12.ctl.tsc_offset + c23->tsc_offset;
	c->asid = ASID13;
	c->vintr = c23->vintr & VINTR_OFFERED;
	c->int_state = c23->int_state & 1;
	c->event_inj = c23->event_inj;
	c->np_enable = 1;
	vmcb13.save = vmcb23.save;
	vmload_state_copy(&vmcb13.save, &vmcb12.save);
}

/* VMRUN failed its checks: #VMEXIT with VMEXIT_INVALID (15.5.1), L3 never
 * ran, L2 continues after its VMRUN with GIF clear. */
static void vmexit_invalid_to_l2(void)
{
	uint64_t code = SVM_EXIT_INVALID;
	if (!l2_copy(vmcb23_gpa + offsetof(struct vmcb, ctl.exit_code), &code, sizeof(code), true))
		fail_exit("VMRUN", "vmcb23 at L2 %#lx is no longer L2 RAM", (unsigned long)vmcb23_gpa);
	n_l2_invalid++;
	l2_gif = false;
	l3_active = false;
}

/*
 * #VMEXIT from L3 to L2 (15.6): what the CPU writes into vmcb23 — L3's
 * state (the segments, descriptor tables, EFER, CRs, DR6/DR7, RFLAGS, RIP,
 * RSP, RAX, CPL), V_TPR/V_IRQ, the interrupt shadow, EXITCODE, EXITINFO1/2,
 * EXITINTINFO and nRIP (15.7) — then L2 continues after its VMRUN, from the
 * state vmcb12 kept, with GIF clear, L3's VMLOAD state in its registers
 * (L2 saves it with VMSAVE if it wants it) and DR7's breakpoints off.
 */
static void reflect_to_l2(uint64_t code, uint64_t info1, uint64_t info2)
{
	struct vmcb *v = l2_buffer(vmcb23_gpa, sizeof(struct vmcb));
	const struct vmcb_save *s = &vmcb13.save;
	if (!v)
		fail_exit("L3 exit", "vmcb23 at L2 %#lx is no longer L2 RAM", (unsigned long)vmcb23_gpa);
	v->save.es = s->es;
	v->save.cs = s->cs;
	v->save.ss = s->ss;
	v->save.ds = s->ds;
	v->save.gdtr = s->gdtr;
	v->save.idtr = s->idtr;
	v->save.cpl = s->cpl;
	v->save.efer = s->efer;
	v->save.cr0 = s->cr0;
	v->save.cr2 = s->cr2;
	v->save.cr3 = s->cr3;
	v->save.cr4 = s->cr4;
	v->save.dr6 = s->dr6;
	v->save.dr7 = s->dr7;
	v->save.rflags = s->rflags;
	v->save.rip = s->rip;
	v->save.rsp = s->rsp;
	v->save.rax = s->rax;
	v->ctl.vintr = (vmcb23.ctl.vintr & ~VINTR_WRITTEN) | (vmcb13.ctl.vintr & VINTR_WRITTEN);
	v->ctl.int_state = vmcb13.ctl.int_state;
	v->ctl.exit_code = code;
	v->ctl.exit_info1 = info1;
	v->ctl.exit_info2 = info2;
	v->ctl.exit_int_info = vmcb13.ctl.exit_int_info;
	v->ctl.next_rip = has_nrips ? vmcb13.ctl.next_rip : 0;
	vmload_state_copy(&vmcb12.save, &vmcb13.save);
	vmcb12.save.dr7 &= ~0xffull;
	l2_gif = false;
	l3_active = false;
	n_l3_to_l2++;
}

/* Does L2 intercept this exit of L3?  Exit codes follow the intercept
 * vectors (APM appendix C, table B-1): CR reads and writes 00h-1Fh, DR
 * 20h-3Fh, exceptions 40h-5Fh, then one code per bit of the three
 * further vectors.  vmcb13's I/O and MSR maps are L2's own, so an IOIO or
 * MSR exit, which needs the intercept bit and the map bit, is L2's. */
static bool vmcb23_intercepts(uint64_t code)
{
	const struct vmcb_control *c = &vmcb23.ctl;
	if (code < 0x20)
		return c->intercept_cr >> code & 1;
	if (code < 0x40)
		return c->intercept_dr >> (code - 0x20) & 1;
	if (code < 0x60)
		return c->intercept_exc >> (code - 0x40) & 1;
	if (code < 0x80)
		return c->intercept_misc1 >> (code - 0x60) & 1;
	if (code < 0xa0)
		return c->intercept_misc2 >> (code - 0x80) & 1;
	if (code < 0xc0)
		return c->intercept_misc3 >> (code - 0xa0) & 1;
	return true;                 /* any other exit svmhv did not ask for */
}

/* ---- L2's SVM instructions (APM 15.5, 15.16.2, 15.17) ------------------- */

/*
 * L2's VMRUN: rAX is vmcb23's L2 GPA, page aligned and L2 RAM, or #GP.
 * svmhv takes one private copy (what is checked is what is used, even if
 * L2 rewrote its VMCB meanwhile), checks it, builds vmcb13 and runs L3
 * from the next turn of the run loop.
 */
static void l2_vmrun(void)
{
	uint64_t pa = l2_rax_addr();
	if ((pa & 0xfff) || !l2_copy(pa, &vmcb23, sizeof(vmcb23), false)) {
		inject = EVT_GP;
		return;
	}
	n_l2_vmrun++;
	vmcb23_gpa = pa;
	skip(3);                      /* at #VMEXIT, L2 continues after its VMRUN */
	const char *bad = vmcb23_check();
	if (bad) {
		rt_printf("%s: L2's VMRUN %#lx: VMEXIT_INVALID: %s\n", me, (unsigned long)pa, bad);
		vmexit_invalid_to_l2();
		return;
	}
	if (n_l2_vmrun == 1)
		rt_printf("%s: L2 runs its own guest (L3): vmcb23 at L2 %#lx, %s, ASID %u -> %u\n", me,
			  (unsigned long)pa, vmcb23.ctl.np_enable & 1 ? "NPT23 composed with NPT12 into NPT13"
			  : "no NPT23: NPT13 = NPT12", vmcb23.ctl.asid, ASID13);
	vmcb13_build();
	l2_gif = true;                /* VMRUN sets GIF (15.17) */
	l3_active = true;
}

/* VMLOAD and VMSAVE (15.5.2) between L2's VMCB page at rAX and L2's
 * registers, which are in vmcb12 while svmhv handles L2's exit. */
static void l2_vmload_vmsave(bool save)
{
	uint64_t pa = l2_rax_addr();
	struct vmcb *v = pa & 0xfff ? NULL : l2_buffer(pa, sizeof(struct vmcb));
	if (!v) {
		inject = EVT_GP;
		return;
	}
	if (save)
		vmload_state_copy(&v->save, &vmcb12.save);
	else
		vmload_state_copy(&vmcb12.save, &v->save);
	skip(3);
}

/*
 * An SVM instruction of L2 (always intercepted by vmcb12).  #UD unless
 * svmhv offers SVM and L2 turned EFER.SVME on in protected mode (15.4);
 * #GP unless CPL 0.  SKINIT is not offered.  INVLPGA (15.16.2) drops a
 * page of one of L3's ASIDs; svmhv flushes its one ASID13 instead.
 */
static void l2_svm_insn(uint64_t code)
{
	if (!nested_l2 || !l2_svme || !(vmcb12.save.cr0 & CR0_PE) || code == SVM_EXIT_SKINIT) {
		inject = EVT_UD;
		return;
	}
	if (vmcb12.save.cpl != 0) {
		inject = EVT_GP;
		return;
	}
	switch (code) {
	case SVM_EXIT_VMRUN:
		l2_vmrun();
		return;
	case SVM_EXIT_VMLOAD:
	case SVM_EXIT_VMSAVE:
		l2_vmload_vmsave(code == SVM_EXIT_VMSAVE);
		return;
	case SVM_EXIT_STGI:
		l2_gif = true;
		break;
	case SVM_EXIT_CLGI:
		l2_gif = false;
		break;
	case SVM_EXIT_INVLPGA:
		l3_flush = true;
		break;
	}
	skip(3);                      /* 0F 01 D8..DF */
}

/*
 * One VMRUN of L3 on vmcb13 and its exit: an #NPF on NPT13 is svmhv's
 * (npt13_fault); VMEXIT_INVALID means the CPU below refused L3's state,
 * which came from vmcb23: L2's VMRUN fails the same way; an exit L2
 * intercepts goes to L2; an SVM instruction L2 lets through is #UD.
 * Where svmhv keeps the exit, an event that was being delivered is
 * delivered again (15.7.2).
 */
static void run_l3(void)
{
	vmcb13.ctl.n_cr3 = (uint64_t)npt13_pml4;
	vmcb13.ctl.tlb_control = l3_flush ? (has_flush_by_asid ? 3 : 1) : 0;
	vmcb13.ctl.clean = 0;
	l3_flush = false;
	guest_vmrun(&vmcb13);
	vmcb13.ctl.event_inj = 0;
	n_l3_exits++;
	uint64_t code = vmcb13.ctl.exit_code;
	if (code == SVM_EXIT_NPF) {
		npt13_fault();
	} else if (code == SVM_EXIT_INVALID) {
		rt_printf("%s: L2's VMRUN %#lx: VMEXIT_INVALID from the CPU below (L3's state)\n", me,
			  (unsigned long)vmcb23_gpa);
		vmexit_invalid_to_l2();
	} else if (vmcb23_intercepts(code)) {
		reflect_to_l2(code, vmcb13.ctl.exit_info1, vmcb13.ctl.exit_info2);
	} else if (code == SVM_EXIT_INVLPGA || (code >= SVM_EXIT_VMRUN && code <= SVM_EXIT_SKINIT)) {
		vmcb13.ctl.event_inj = EVT_UD;
	} else {
		fail_exit("L3 exit", "EXITCODE %#lx EXITINFO1 %#lx EXITINFO2 %#lx L3 RIP %#lx: not L2's, not svmhv's",
			  (unsigned long)code, (unsigned long)vmcb13.ctl.exit_info1,
			  (unsigned long)vmcb13.ctl.exit_info2, (unsigned long)vmcb13.save.rip);
	}
	if (l3_active && !vmcb13.ctl.event_inj && (vmcb13.ctl.exit_int_info & SVM_EVTINJ_VALID))
		vmcb13.ctl.event_inj = vmcb13.ctl.exit_int_info;
}

/* IOIO (15.10.2): only isa-debug-exit's port is intercepted; L2 ends its
 * test there, and svmhv ends the whole VM with the same write. */
static void exit_ioio(void)
{
	uint64_t info = vmcb12.ctl.exit_info1;
	unsigned port = info >> 16, bytes = (info >> 4) & 7;  /* SZ8, SZ16, SZ32: 1, 2, 4 */
	if ((info & 1) || port > 0xf4 || port + bytes <= 0xf4)
		fail_exit("I/O exit", "EXITINFO1 %#lx: not an OUT to port 0xf4", (unsigned long)info);
	uint32_t v = (uint32_t)vmcb12.save.rax;
	rt_printf("%s: L2 ended with status %u after %lu exits (%lu cpuid, %lu vmmcall, %lu npf)\n",
		  me, v & 0xff, (unsigned long)n_exits, (unsigned long)n_cpuid, (unsigned long)n_vmmcall,
		  (unsigned long)n_npf);
	if (nested_l2)
		rt_printf("%s: L3 (L2's guest): %lu VMRUN by L2 (%lu invalid), %lu L3 exits: %lu to L2 "
			  "(%lu #NPF), %lu NPT13 fills\n", me, (unsigned long)n_l2_vmrun,
			  (unsigned long)n_l2_invalid, (unsigned long)n_l3_exits, (unsigned long)n_l3_to_l2,
			  (unsigned long)n_l3_npf_to_l2, (unsigned long)n_npt13_fills);
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
	__asm__ volatile("fxsave64 %0" : "=m"(fx_l2));   /* L2 starts with svmhv's x87/SSE state */
	for (;;) {
		if (l3_active) {                         /* L2 is inside its VMRUN */
			run_l3();
			continue;
		}
		vmcb12.ctl.event_inj = inject;
		vmcb12.ctl.clean = 0;                    /* 15.15: reload every field */
		inject = 0;
		guest_vmrun(&vmcb12);
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
			l2_svm_insn(vmcb12.ctl.exit_code);       /* #UD unless L2 is offered SVM */
			break;
		default:                                 /* SHUTDOWN, VMEXIT_INVALID, ... */
			fail_exit("L2 exit", "EXITCODE %#lx EXITINFO1 %#lx EXITINFO2 %#lx RIP %#lx after %lu exits",
				  (unsigned long)vmcb12.ctl.exit_code, (unsigned long)vmcb12.ctl.exit_info1,
				  (unsigned long)vmcb12.ctl.exit_info2, (unsigned long)vmcb12.save.rip,
				  (unsigned long)n_exits);
		}
	}
}

/* Is svmhv itself an L2 under another svmhv?  Its hypercall 0 answers 1;
 * Nestor answers "invalid", a bare CPU gives #UD. */
static bool under_svmhv(void)
{
	uint64_t rax = SVMHV_HC(SVMHV_PRESENT);
	rt_expect_fault(3);
	__asm__ volatile("vmmcall" : "+a"(rax) : : "rbx", "rcx", "rdx", "memory");
	return !rt_fault_taken(NULL) && rax == 1;
}

void guest_main(void)
{
	const struct boot_module *m = rt_boot_module(0);
	if (under_svmhv())
		me = "svmhv(L2)";
	if (!m)
		fail_exit("L2 image", "no boot module");
	nested_l2 = rt_boot.mods_count > 1;              /* a module for L2: L2 is a hypervisor */
	parse_cmdline(rt_boot.cmdline);
	if (nested_l2 && !l2mem_given)
		l2_size = 64 * MIB;
	svm_enable();
	choose_window();
	npt12_build();
	uint32_t entry = load_l2(m);
	vmcb12_init(entry);
	char mods[128] = "";
	for (unsigned i = 1, n = 0; i < rt_boot.mods_count && i <= L2_MODS_MAX; i++)
		n += snprintf(mods + n, sizeof(mods) - n, "%s%s", i == 1 ? ", modules " : " ", rt_boot_module(i)->name);
	rt_printf("%s: running %s as L2 (NPT12 4K+2M, nRIP %s), %lu MiB at L1 %#lx%s%s\n", me, m->name,
		  has_nrips ? "yes" : "no", (unsigned long)(l2_size >> 20), (unsigned long)l2_base,
		  nested_l2 ? ", offering it SVM" : "", mods);
	run_l2();
}
