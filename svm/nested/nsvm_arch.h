/*
 * nsvm_arch: the architectural numbers of AMD APM vol. 2 chapter 15 that
 * the nested-SVM code needs beyond svm/vmcb.h — intercept-vector bits,
 * exit codes, register bits, the EVENTINJ format, the #NPF error code.
 *
 * Every name here carries the NSVM_ prefix so that it can never collide
 * with (or silently differ from) a definition that svm/vmcb.h gains later;
 * where vmcb.h already has a constant the nested code uses that one.
 *
 * Header only, constants only.
 */
#ifndef NESTOR_SVM_NESTED_NSVM_ARCH_H
#define NESTOR_SVM_NESTED_NSVM_ARCH_H

#include <stdint.h>

/* ---- the six intercept words, in VMCB order (APM table B-1, 0x000-0x017) ---- */
enum nsvm_icpt_word {
	NSVM_ICPT_CR = 0,       /* 0x000: bit n read CRn, bit 16+n write CRn */
	NSVM_ICPT_DR = 1,       /* 0x004: the same for DRn                   */
	NSVM_ICPT_EXC = 2,      /* 0x008: bit n exception vector n           */
	NSVM_ICPT_MISC1 = 3,    /* 0x00c: INTR .. SHUTDOWN                   */
	NSVM_ICPT_MISC2 = 4,    /* 0x010: VMRUN .. CR write traps            */
	NSVM_ICPT_MISC3 = 5,    /* 0x014: INVLPGB .. IDLE_HLT                */
	NSVM_ICPT_WORDS = 6
};

/* misc1 (offset 0x0c): bit n <-> exit code 0x60 + n (APM appendix C). */
#define NSVM_MISC1_INTR         (1u << 0)
#define NSVM_MISC1_NMI          (1u << 1)
#define NSVM_MISC1_SMI          (1u << 2)
#define NSVM_MISC1_INIT         (1u << 3)
#define NSVM_MISC1_VINTR        (1u << 4)
#define NSVM_MISC1_CR0_SEL      (1u << 5)
#define NSVM_MISC1_RDTSC        (1u << 14)
#define NSVM_MISC1_CPUID        (1u << 18)
#define NSVM_MISC1_IRET         (1u << 20)
#define NSVM_MISC1_INVD         (1u << 22)
#define NSVM_MISC1_PAUSE        (1u << 23)
#define NSVM_MISC1_HLT          (1u << 24)
#define NSVM_MISC1_INVLPG       (1u << 25)
#define NSVM_MISC1_INVLPGA      (1u << 26)
#define NSVM_MISC1_IOIO_PROT    (1u << 27)
#define NSVM_MISC1_MSR_PROT     (1u << 28)
#define NSVM_MISC1_TASK_SWITCH  (1u << 29)
#define NSVM_MISC1_SHUTDOWN     (1u << 31)
/* misc2 (offset 0x10): bit n <-> exit code 0x80 + n. */
#define NSVM_MISC2_VMRUN        (1u << 0)
#define NSVM_MISC2_VMMCALL      (1u << 1)
#define NSVM_MISC2_VMLOAD       (1u << 2)
#define NSVM_MISC2_VMSAVE       (1u << 3)
#define NSVM_MISC2_STGI         (1u << 4)
#define NSVM_MISC2_CLGI         (1u << 5)
#define NSVM_MISC2_SKINIT       (1u << 6)
#define NSVM_MISC2_RDTSCP       (1u << 7)
#define NSVM_MISC2_MONITOR      (1u << 10)
#define NSVM_MISC2_MWAIT        (1u << 11)
#define NSVM_MISC2_XSETBV       (1u << 13)

/* The instructions a guest must never execute for real: each would reach
 * host state (a VMCB by physical address, the GIF, the TLB of another
 * ASID, the secure loader).  L0 intercepts them in every vmcb02. */
#define NSVM_MISC1_ALWAYS  NSVM_MISC1_INVLPGA
#define NSVM_MISC2_ALWAYS  (NSVM_MISC2_VMRUN | NSVM_MISC2_VMLOAD | NSVM_MISC2_VMSAVE | \
			    NSVM_MISC2_STGI | NSVM_MISC2_CLGI | NSVM_MISC2_SKINIT)

/* ---- exit codes (APM appendix C, table C-1) ---- */
#define NSVM_EXIT_CR_READ       0x000   /* + n, n = 0..15 */
#define NSVM_EXIT_CR_WRITE      0x010
#define NSVM_EXIT_DR_READ       0x020
#define NSVM_EXIT_DR_WRITE      0x030
#define NSVM_EXIT_EXCP          0x040   /* + vector, 0..31 */
#define NSVM_EXIT_INTR          0x060
#define NSVM_EXIT_NMI           0x061
#define NSVM_EXIT_SMI           0x062
#define NSVM_EXIT_INIT          0x063
#define NSVM_EXIT_VINTR         0x064
#define NSVM_EXIT_CR0_SEL_WRITE 0x065
#define NSVM_EXIT_RDTSC         0x06e
#define NSVM_EXIT_CPUID         0x072
#define NSVM_EXIT_PAUSE         0x077
#define NSVM_EXIT_HLT           0x078
#define NSVM_EXIT_INVLPG        0x079
#define NSVM_EXIT_INVLPGA       0x07a
#define NSVM_EXIT_IOIO          0x07b
#define NSVM_EXIT_MSR           0x07c
#define NSVM_EXIT_TASK_SWITCH   0x07d
#define NSVM_EXIT_SHUTDOWN      0x07f
#define NSVM_EXIT_VMRUN         0x080
#define NSVM_EXIT_VMMCALL       0x081
#define NSVM_EXIT_VMLOAD        0x082
#define NSVM_EXIT_VMSAVE        0x083
#define NSVM_EXIT_STGI          0x084
#define NSVM_EXIT_CLGI          0x085
#define NSVM_EXIT_SKINIT        0x086
#define NSVM_EXIT_RDTSCP        0x087
#define NSVM_EXIT_XSETBV        0x08d
#define NSVM_EXIT_CR_WRITE_TRAP 0x090   /* + n (SEV-ES) */
#define NSVM_EXIT_INVLPGB       0x0a0   /* misc3 bit n <-> 0xa0 + n */
#define NSVM_EXIT_NPF           0x400
#define NSVM_EXIT_AVIC_INCOMPLETE_IPI 0x401
#define NSVM_EXIT_AVIC_NOACCEL  0x402
#define NSVM_EXIT_VMGEXIT       0x403
#define NSVM_EXIT_INVALID       ((uint64_t)-1)  /* VMEXIT_INVALID */
#define NSVM_EXIT_BUSY          ((uint64_t)-2)

#define NSVM_VEC_MC 18

/* ---- registers (APM vol. 2 chapter 3) ---- */
#define NSVM_CR0_PE   (1ull << 0)
#define NSVM_CR0_NW   (1ull << 29)
#define NSVM_CR0_CD   (1ull << 30)
#define NSVM_CR0_PG   (1ull << 31)
#define NSVM_CR4_PAE  (1ull << 5)
#define NSVM_EFER_LME (1ull << 8)
#define NSVM_EFER_LMA (1ull << 10)
#define NSVM_EFER_NXE (1ull << 11)
#define NSVM_EFER_SVME (1ull << 12)
#define NSVM_RFLAGS_VM (1ull << 17)
/* Segment attributes in the VMCB's compressed form (vmcb.h) */
#define NSVM_SEG_L    (1u << 9)
#define NSVM_SEG_DB   (1u << 10)

/* ---- VINTR word (offset 0x60) ---- */
#define NSVM_VINTR_TPR_MASK   0xffull           /* V_TPR 7:0 (only 3:0 used) */
#define NSVM_VINTR_IRQ        (1ull << 8)
#define NSVM_VINTR_GIF        (1ull << 9)       /* vGIF value */
#define NSVM_VINTR_PRIO_MASK  (0xfull << 16)
#define NSVM_VINTR_IGN_TPR    (1ull << 20)
#define NSVM_VINTR_MASKING    (1ull << 24)
#define NSVM_VINTR_GIF_ENABLE (1ull << 25)
#define NSVM_VINTR_VECTOR_MASK (0xffull << 32)

/* ---- EVENTINJ / EXITINTINFO (APM 15.20, figure 15-5) ---- */
#define NSVM_EVT_VECTOR(e) ((unsigned)((e) & 0xff))
#define NSVM_EVT_TYPE(e)   ((unsigned)(((e) >> 8) & 7))
#define NSVM_EVT_EV        (1ull << 11)
#define NSVM_EVT_V         (1ull << 31)
enum { NSVM_EVT_INTR = 0, NSVM_EVT_NMI = 2, NSVM_EVT_EXC = 3, NSVM_EVT_SOFT_INT = 4 };

/* ---- #NPF EXITINFO1 (APM 15.25.6) ---- */
#define NSVM_NPF_P          (1ull << 0)   /* 0: not present; 1: protection/reserved */
#define NSVM_NPF_RW         (1ull << 1)   /* the access was a write                 */
#define NSVM_NPF_US         (1ull << 2)   /* user access (always, for nested walks) */
#define NSVM_NPF_RSV        (1ull << 3)   /* a reserved bit was set                 */
#define NSVM_NPF_ID         (1ull << 4)   /* code read                              */
#define NSVM_NPF_FINAL      (1ull << 32)  /* translating the final guest physical address */
#define NSVM_NPF_GUEST_PT   (1ull << 33)  /* translating a guest page-table entry   */

/* ---- IOIO EXITINFO1 (APM 15.10.2, figure 15-2) ---- */
#define NSVM_IOIO_IN        (1ull << 0)
#define NSVM_IOIO_SZ8       (1ull << 4)
#define NSVM_IOIO_SZ16      (1ull << 5)
#define NSVM_IOIO_SZ32      (1ull << 6)
#define NSVM_IOIO_PORT(i)   ((unsigned)(((i) >> 16) & 0xffff))

/* ---- permission maps (APM 15.10.1, 15.11) ---- */
#define NSVM_IOPM_SIZE  0x3000u   /* 12 KiB: 64K + 3 bits used */
#define NSVM_MSRPM_SIZE 0x2000u   /*  8 KiB: 3 x 2 KiB vectors + 2 KiB reserved */

#endif
