/*
 * svmhv's hypercall ABI, shared by the guest hypervisor (tests/guests/svmhv.c,
 * an "L1") and the guests it runs ("L2", e.g. tests/guests/npt12.c).
 *
 * An L2 executes VMMCALL with RAX = SVMHV_HC(op), RBX/RCX = arguments;
 * svmhv answers in RAX and resumes L2 after the instruction.  Any other RAX
 * is not svmhv's: svmhv forwards it to its own hypervisor (Nestor's
 * hypercalls, kernel/hypercall.h), translating buffer addresses.
 *
 * Addresses in this ABI are L2 guest-physical addresses (L2 GPAs); svmhv's
 * NPT12 maps them to L1 GPAs (AMD APM vol. 2, 15.25).
 *
 * vmxhv (tests/guests/vmxhv.c, rt/vmx_guest.h) offers the same ABI, op for
 * op, on Intel VMX with VMCALL and its EPT12; an L2 that wants to run
 * under either calls l1hv_call(), which picks the instruction by vendor.
 */
#ifndef GUEST_SVM_GUEST_H
#define GUEST_SVM_GUEST_H
#include <stdbool.h>
#include <stdint.h>

#define SVMHV_HC_BASE 0x53560000ull       /* "SV" */
#define SVMHV_HC(op) (SVMHV_HC_BASE + (op))

enum svmhv_op {
	SVMHV_PRESENT = 0,      /* -> 1: "you run under svmhv" */
	SVMHV_REMAP = 1,        /* RBX = L2 page: map it to a fresh L1 page that svmhv
	                           filled with svmhv_pattern() -> 0, or -1 */
	SVMHV_READ_BACKING = 2, /* RBX = L2 GPA: the qword at the L1 page NPT12 maps it to now
	                           (L2 RAM, or any L2 GPA that NPT12 maps into L1 RAM) */
	SVMHV_READ_ORIGINAL = 3,/* RBX = L2 GPA: the qword at the L1 page that backed it at boot */
	SVMHV_UNMAP = 4,        /* RBX = L2 page: make its NPT12 entry not present; svmhv maps
	                           it back on the first #NPF there and counts it -> 0, or -1 */
	SVMHV_NPF_COUNT = 5,    /* RBX = L2 page: #NPF exits svmhv took there since its UNMAP */
	SVMHV_SPLIT_REMAP = 6,  /* RBX = 2 MiB-aligned L2 GPA: replace its 2 MiB NPT12 page by
	                           512 4 KiB pages onto a fresh L1 area, in reverse order, each
	                           filled with svmhv_pattern() -> 0, or -1 */
	SVMHV_RESTORE = 7,      /* RBX = L2 GPA, RCX = 0 (4 KiB) or 1 (2 MiB): map it back
	                           to the L1 memory that backed it at boot -> 0, or -1 */
	SVMHV_MAP_1G = 8,       /* RBX = 1 GiB-aligned L2 GPA at or above 4 GiB: map L2 GPAs
	                           RBX..RBX+1 GiB onto L1 GPAs 0..1 GiB with ONE 1 GiB NPT12
	                           page, after filling a fresh L1 page P with svmhv_pattern()
	                           of RBX + P -> P (the L1 GPA), or -1 where svmhv's CPU has
	                           no 1 GiB pages (CPUID 0x80000001 EDX bit 26).  Only L1 RAM
	                           is memory in there; READ_BACKING reads L1 RAM through it */
	SVMHV_EXEC_ONLY = 9,    /* vmxhv only (NPT has no execute-only pages): see vmx_guest.h */
	SVMHV_LAST_QUAL = 10,   /* vmxhv only: see vmx_guest.h */
};

/* What svmhv writes into every qword of a page it maps for an L2: a value
 * that names the L2 address it will appear at. */
static inline uint64_t svmhv_pattern(uint64_t l2_gpa)
{
	return l2_gpa ^ 0x5356484950415454ull;
}

static inline long svmhv_call(enum svmhv_op op, uint64_t a1, uint64_t a2)
{
	long ret;
	__asm__ volatile("vmmcall" : "=a"(ret) : "a"(SVMHV_HC(op)), "b"(a1), "c"(a2) : "memory");
	return ret;
}

/* AMD (VMMCALL, svmhv) or Intel (VMCALL, vmxhv)?  Asked once: under an
 * L1 hypervisor every CPUID is an exit. */
static inline bool l1hv_amd(void)
{
	static int amd = -1;
	if (amd < 0) {
		uint32_t a = 0, b, c = 0, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
		amd = b == 0x68747541;       /* "Auth"enticAMD */
	}
	return amd;
}

/* One call for both L1 hypervisors: VMMCALL (0F 01 D9) on AMD, VMCALL
 * (0F 01 C1) on Intel, both 3 bytes long. */
static inline long l1hv_call(enum svmhv_op op, uint64_t a1, uint64_t a2)
{
	long ret;
	if (l1hv_amd())
		__asm__ volatile("vmmcall" : "=a"(ret) : "a"(SVMHV_HC(op)), "b"(a1), "c"(a2) : "memory");
	else
		__asm__ volatile("vmcall" : "=a"(ret) : "a"(SVMHV_HC(op)), "b"(a1), "c"(a2) : "memory");
	return ret;
}
#endif
