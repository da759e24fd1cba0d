/*
 * vmxhv's hypercall ABI, shared by the guest hypervisor (tests/guests/vmxhv.c,
 * an "L1" on Intel VMX) and the guests it runs ("L2", e.g. tests/guests/npt12.c).
 *
 * It is svmhv's ABI (svm_guest.h), op for op and number for number, so that
 * one L2 binary tests both: an L2 executes VMCALL (0F 01 C1) with
 * RAX = VMXHV_HC(op), RBX/RCX = arguments; vmxhv answers in RAX and resumes
 * L2 after the instruction (VM-exit instruction length, SDM 28.2.5).  Any
 * other RAX is not vmxhv's: vmxhv forwards it to its own hypervisor
 * (Nestor's hypercalls, kernel/hypercall.h), translating buffer addresses.
 * l1hv_call() (svm_guest.h) is the vendor-neutral way to call.
 *
 * Addresses in this ABI are L2 guest-physical addresses; vmxhv's EPT12
 * (SDM 29.3) maps them to L1 guest-physical addresses.  Where svm_guest.h
 * says NPT12 and #NPF, read EPT12 and EPT violation (exit reason 48).
 */
#ifndef GUEST_VMX_GUEST_H
#define GUEST_VMX_GUEST_H
#include "tests/guests/rt/svm_guest.h"

#define VMXHV_HC_BASE SVMHV_HC_BASE
#define VMXHV_HC(op) SVMHV_HC(op)

enum vmxhv_op {
	VMXHV_PRESENT = SVMHV_PRESENT,          /* -> 1 */
	VMXHV_REMAP = SVMHV_REMAP,              /* RBX = L2 page -> a fresh L1 page of vmxhv_pattern() */
	VMXHV_READ_BACKING = SVMHV_READ_BACKING,/* RBX = L2 GPA: qword in the L1 page EPT12 maps now */
	VMXHV_READ_ORIGINAL = SVMHV_READ_ORIGINAL, /* RBX = L2 GPA: qword in its boot-time L1 page */
	VMXHV_UNMAP = SVMHV_UNMAP,              /* RBX = L2 page: EPT12 entry not present; mapped
	                                           back (and counted) on its first EPT violation */
	VMXHV_VIOLATION_COUNT = SVMHV_NPF_COUNT,/* RBX = L2 page: EPT violations there since UNMAP */
	VMXHV_SPLIT_REMAP = SVMHV_SPLIT_REMAP,  /* RBX = 2 MiB L2 GPA: 512 4 KiB pages, reversed */
	VMXHV_RESTORE = SVMHV_RESTORE,          /* RBX = L2 GPA, RCX = 0 (4K) / 1 (2M): boot mapping */
	VMXHV_MAP_1G = SVMHV_MAP_1G,            /* RBX = 1 GiB L2 GPA >= 4 GiB: one 1 GiB EPT12 page onto
	                                           L1 0..1 GiB -> a pattern page's L1 GPA, or -1 without
	                                           1 GiB EPT pages (IA32_VMX_EPT_VPID_CAP bit 17) */
	VMXHV_EXEC_ONLY = SVMHV_EXEC_ONLY,      /* RBX = L2 page: execute-only in EPT12; the first read
	                                           or write there is an EPT violation vmxhv records, then
	                                           maps the page back with every right -> 0, or -1
	                                           without execute-only EPT (EPT_VPID_CAP bit 0) */
	VMXHV_LAST_QUAL = SVMHV_LAST_QUAL,      /* RBX = L2 page: bits 5:0 of the qualification of the
	                                           last EPT violation there (28.2.1), or -1 */
};

static inline uint64_t vmxhv_pattern(uint64_t l2_gpa) { return svmhv_pattern(l2_gpa); }
#endif
