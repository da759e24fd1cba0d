/*
 * The VMCB (AMD APM vol. 2, appendix B "Layout of VMCB"): a 4 KiB page,
 * control area at 0x000, state-save area at 0x400.  Laid out as a C struct
 * whose offsets are checked against the APM table below, so a typo in a
 * field's position cannot compile.
 */
#ifndef NESTOR_VMCB_H
#define NESTOR_VMCB_H
#include <stdint.h>
#include <stddef.h>

struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib;   /* compressed: type(3:0) S(4) DPL(6:5) P(7) AVL(8) L(9) D/B(10) G(11) */
	uint32_t limit;
	uint64_t base;
} __attribute__((packed));

struct vmcb_control {
	uint32_t intercept_cr;       /* 0x000: reads 15:0, writes 31:16 */
	uint32_t intercept_dr;       /* 0x004 */
	uint32_t intercept_exc;      /* 0x008: one bit per exception vector */
	uint32_t intercept_misc1;    /* 0x00c: INTR ... SHUTDOWN */
	uint32_t intercept_misc2;    /* 0x010: VMRUN ... */
	uint32_t intercept_misc3;    /* 0x014 */
	uint8_t reserved1[0x03c - 0x018];
	uint16_t pause_filter_thresh; /* 0x03c */
	uint16_t pause_filter_count;  /* 0x03e */
	uint64_t iopm_base_pa;       /* 0x040 */
	uint64_t msrpm_base_pa;      /* 0x048 */
	uint64_t tsc_offset;         /* 0x050 */
	uint32_t asid;               /* 0x058 */
	uint8_t tlb_control;         /* 0x05c */
	uint8_t reserved2[3];
	uint64_t vintr;              /* 0x060: V_TPR, V_IRQ(8), VGIF(9), V_INTR_PRIO(19:16), V_IGN_TPR(20), V_INTR_MASKING(24), V_INTR_VECTOR(39:32) */
	uint64_t int_state;          /* 0x068: interrupt shadow (0), guest interrupt mask (1) */
	uint64_t exit_code;          /* 0x070 */
	uint64_t exit_info1;         /* 0x078 */
	uint64_t exit_info2;         /* 0x080 */
	uint64_t exit_int_info;      /* 0x088 */
	uint64_t np_enable;          /* 0x090: bit 0 nested paging */
	uint64_t avic_apic_bar;      /* 0x098 */
	uint64_t ghcb_pa;            /* 0x0a0 */
	uint64_t event_inj;          /* 0x0a8 */
	uint64_t n_cr3;              /* 0x0b0 */
	uint64_t virt_ext;           /* 0x0b8: LBR virtualization, virtual VMLOAD/VMSAVE */
	uint32_t clean;              /* 0x0c0: VMCB clean bits */
	uint32_t reserved3;
	uint64_t next_rip;           /* 0x0c8: nRIP (when the CPU has NRIPS) */
	uint8_t insn_len;            /* 0x0d0: bytes fetched (decode assists) */
	uint8_t insn_bytes[15];      /* 0x0d1 */
	uint8_t reserved4[0x400 - 0x0e0];
} __attribute__((packed));

struct vmcb_save {
	struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x400-0x49f */
	uint8_t reserved1[0x4cb - 0x4a0];
	uint8_t cpl;                 /* 0x4cb */
	uint32_t reserved2;
	uint64_t efer;               /* 0x4d0 */
	uint8_t reserved3[0x548 - 0x4d8];
	uint64_t cr4;                /* 0x548 */
	uint64_t cr3;                /* 0x550 */
	uint64_t cr0;                /* 0x558 */
	uint64_t dr7;                /* 0x560 */
	uint64_t dr6;                /* 0x568 */
	uint64_t rflags;             /* 0x570 */
	uint64_t rip;                /* 0x578 */
	uint8_t reserved4[0x5d8 - 0x580];
	uint64_t rsp;                /* 0x5d8 */
	uint64_t s_cet, ssp, isst_addr; /* 0x5e0 */
	uint64_t rax;                /* 0x5f8 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x600 */
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;    /* 0x628 */
	uint64_t cr2;                /* 0x640 */
	uint8_t reserved5[0x668 - 0x648];
	uint64_t g_pat;              /* 0x668 */
	uint64_t dbgctl;             /* 0x670 */
	uint64_t br_from, br_to, last_excp_from, last_excp_to; /* 0x678 */
	uint8_t reserved6[0x1000 - 0x698];
} __attribute__((packed));

struct vmcb {
	struct vmcb_control ctl;
	struct vmcb_save save;
} __attribute__((packed, aligned(4096)));

/* APM vol. 2 table B-1 / B-2 offsets, checked. */
_Static_assert(offsetof(struct vmcb_control, iopm_base_pa) == 0x040, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, asid) == 0x058, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, vintr) == 0x060, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, exit_code) == 0x070, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, np_enable) == 0x090, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, event_inj) == 0x0a8, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, n_cr3) == 0x0b0, "APM B-1");
_Static_assert(offsetof(struct vmcb_control, next_rip) == 0x0c8, "APM B-1");
_Static_assert(offsetof(struct vmcb, save) == 0x400, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.cpl) == 0x4cb, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.efer) == 0x4d0, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.cr4) == 0x548, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.rip) == 0x578, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.rsp) == 0x5d8, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.rax) == 0x5f8, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.kernel_gs_base) == 0x620, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.cr2) == 0x640, "APM B-2");
_Static_assert(offsetof(struct vmcb, save.g_pat) == 0x668, "APM B-2");
_Static_assert(sizeof(struct vmcb) == 4096, "one page");

/* Intercept bits of intercept_misc1 (APM 15.9, table B-1 offset 0x0c) */
#define SVM_INTERCEPT_INTR      (1u << 0)
#define SVM_INTERCEPT_NMI       (1u << 1)
#define SVM_INTERCEPT_SMI       (1u << 2)
#define SVM_INTERCEPT_INIT      (1u << 3)
#define SVM_INTERCEPT_VINTR     (1u << 4)
#define SVM_INTERCEPT_CPUID     (1u << 18)
#define SVM_INTERCEPT_IRET      (1u << 20)
#define SVM_INTERCEPT_INVD      (1u << 22)
#define SVM_INTERCEPT_HLT       (1u << 24)
#define SVM_INTERCEPT_INVLPGA   (1u << 26)
#define SVM_INTERCEPT_IOIO      (1u << 27)
#define SVM_INTERCEPT_MSR       (1u << 28)
#define SVM_INTERCEPT_SHUTDOWN  (1u << 31)
/* intercept_misc2 (offset 0x10) */
#define SVM_INTERCEPT_VMRUN     (1u << 0)
#define SVM_INTERCEPT_VMMCALL   (1u << 1)
#define SVM_INTERCEPT_VMLOAD    (1u << 2)
#define SVM_INTERCEPT_VMSAVE    (1u << 3)
#define SVM_INTERCEPT_STGI      (1u << 4)
#define SVM_INTERCEPT_CLGI      (1u << 5)
#define SVM_INTERCEPT_SKINIT    (1u << 6)
#define SVM_INTERCEPT_RDTSCP    (1u << 7)
#define SVM_INTERCEPT_MONITOR   (1u << 10)
#define SVM_INTERCEPT_MWAIT     (1u << 11)
#define SVM_INTERCEPT_XSETBV    (1u << 13)

#define SVM_VINTR_V_IRQ          (1ull << 8)
#define SVM_VINTR_V_INTR_MASKING (1ull << 24)
#define SVM_VINTR_V_IGN_TPR      (1ull << 20)

/* EVENTINJ / EXITINTINFO format (APM 15.20) */
#define SVM_EVTINJ_VALID   (1ull << 31)
#define SVM_EVTINJ_EV      (1ull << 11)  /* error code valid */
#define SVM_EVTINJ_TYPE_INTR  (0ull << 8)
#define SVM_EVTINJ_TYPE_NMI   (2ull << 8)
#define SVM_EVTINJ_TYPE_EXC   (3ull << 8)
#define SVM_EVTINJ_TYPE_SOFT  (4ull << 8)

/* Exit codes (APM appendix C) */
#define SVM_EXIT_EXCP_BASE 0x040
#define SVM_EXIT_INTR      0x060
#define SVM_EXIT_NMI       0x061
#define SVM_EXIT_VINTR     0x064
#define SVM_EXIT_CPUID     0x072
#define SVM_EXIT_IRET      0x074
#define SVM_EXIT_INVD      0x076
#define SVM_EXIT_HLT       0x078
#define SVM_EXIT_INVLPGA   0x07a
#define SVM_EXIT_IOIO      0x07b
#define SVM_EXIT_MSR       0x07c
#define SVM_EXIT_SHUTDOWN  0x07f
#define SVM_EXIT_VMRUN     0x080
#define SVM_EXIT_VMMCALL   0x081
#define SVM_EXIT_VMLOAD    0x082
#define SVM_EXIT_VMSAVE    0x083
#define SVM_EXIT_STGI      0x084
#define SVM_EXIT_CLGI      0x085
#define SVM_EXIT_SKINIT    0x086
#define SVM_EXIT_RDTSCP    0x087
#define SVM_EXIT_XSETBV    0x08d
#define SVM_EXIT_NPF       0x400
#define SVM_EXIT_INVALID   ((uint64_t)-1)

#define MSR_VM_HSAVE_PA 0xc0010117
#endif
