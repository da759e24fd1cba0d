/*
 * nvmx_arch: the architectural numbers of Intel SDM vol. 3C chapters 25-29
 * that the nested-VMX code needs beyond vmx/vmcs_fields.h and
 * vmx/vmx_caps.h — VM-execution, VM-exit and VM-entry control bits,
 * interruption-information format, CR bits.
 *
 * Every name carries the NVMX_ prefix so that it can never collide with
 * (or silently differ from) a definition that vmx/ gains later.  The
 * sibling of svm/nested/nsvm_arch.h.  Header only, constants only.
 */
#ifndef NESTOR_VMX_NESTED_NVMX_ARCH_H
#define NESTOR_VMX_NESTED_NVMX_ARCH_H

/* ---- pin-based VM-execution controls (25.6.1) ---- */
#define NVMX_PIN_EXTINT          (1u << 0)   /* external-interrupt exiting */
#define NVMX_PIN_NMI             (1u << 3)   /* NMI exiting */
#define NVMX_PIN_VNMI            (1u << 5)   /* virtual NMIs */
#define NVMX_PIN_PREEMPT         (1u << 6)   /* activate VMX-preemption timer */
#define NVMX_PIN_POSTED          (1u << 7)   /* process posted interrupts */

/* ---- primary processor-based controls (25.6.2) ---- */
#define NVMX_PROC_INTR_WINDOW    (1u << 2)
#define NVMX_PROC_TSC_OFFSET     (1u << 3)
#define NVMX_PROC_HLT            (1u << 7)
#define NVMX_PROC_INVLPG         (1u << 9)
#define NVMX_PROC_MWAIT          (1u << 10)
#define NVMX_PROC_RDPMC          (1u << 11)
#define NVMX_PROC_RDTSC          (1u << 12)
#define NVMX_PROC_CR3_LOAD       (1u << 15)
#define NVMX_PROC_CR3_STORE      (1u << 16)
#define NVMX_PROC_TERTIARY       (1u << 17)
#define NVMX_PROC_CR8_LOAD       (1u << 19)
#define NVMX_PROC_CR8_STORE      (1u << 20)
#define NVMX_PROC_TPR_SHADOW     (1u << 21)
#define NVMX_PROC_NMI_WINDOW     (1u << 22)
#define NVMX_PROC_MOV_DR         (1u << 23)
#define NVMX_PROC_UNCOND_IO      (1u << 24)
#define NVMX_PROC_IO_BITMAPS     (1u << 25)
#define NVMX_PROC_MTF            (1u << 27)
#define NVMX_PROC_MSR_BITMAPS    (1u << 28)
#define NVMX_PROC_MONITOR        (1u << 29)
#define NVMX_PROC_PAUSE          (1u << 30)
#define NVMX_PROC_SECONDARY      (1u << 31)

/* ---- secondary processor-based controls (25.6.2) ---- */
#define NVMX_PROC2_APIC_ACCESS   (1u << 0)
#define NVMX_PROC2_EPT           (1u << 1)
#define NVMX_PROC2_DESC_TABLE    (1u << 2)
#define NVMX_PROC2_RDTSCP        (1u << 3)
#define NVMX_PROC2_X2APIC        (1u << 4)
#define NVMX_PROC2_VPID          (1u << 5)
#define NVMX_PROC2_WBINVD        (1u << 6)
#define NVMX_PROC2_UG            (1u << 7)   /* unrestricted guest */
#define NVMX_PROC2_APIC_REG      (1u << 8)
#define NVMX_PROC2_VID           (1u << 9)
#define NVMX_PROC2_PLE           (1u << 10)
#define NVMX_PROC2_RDRAND        (1u << 11)
#define NVMX_PROC2_INVPCID       (1u << 12)
#define NVMX_PROC2_VMFUNC        (1u << 13)
#define NVMX_PROC2_SHADOW_VMCS   (1u << 14)
#define NVMX_PROC2_ENCLS         (1u << 15)
#define NVMX_PROC2_RDSEED        (1u << 16)
#define NVMX_PROC2_PML           (1u << 17)
#define NVMX_PROC2_EPT_VE        (1u << 18)
#define NVMX_PROC2_XSAVES        (1u << 20)
#define NVMX_PROC2_MBEC          (1u << 22)
#define NVMX_PROC2_TSC_SCALING   (1u << 25)
#define NVMX_PROC2_USER_WAIT     (1u << 26)

/* ---- VM-exit controls (25.7.1) ---- */
#define NVMX_EXIT_SAVE_DEBUG     (1u << 2)
#define NVMX_EXIT_HOST_64        (1u << 9)   /* host address-space size */
#define NVMX_EXIT_LOAD_PERF      (1u << 12)
#define NVMX_EXIT_ACK_INTR       (1u << 15)
#define NVMX_EXIT_SAVE_PAT       (1u << 18)
#define NVMX_EXIT_LOAD_PAT       (1u << 19)
#define NVMX_EXIT_SAVE_EFER      (1u << 20)
#define NVMX_EXIT_LOAD_EFER      (1u << 21)
#define NVMX_EXIT_SAVE_PREEMPT   (1u << 22)

/* ---- VM-entry controls (25.8.1) ---- */
#define NVMX_ENTRY_LOAD_DEBUG    (1u << 2)
#define NVMX_ENTRY_IA32E         (1u << 9)   /* IA-32e mode guest */
#define NVMX_ENTRY_SMM           (1u << 10)
#define NVMX_ENTRY_DUAL_MONITOR  (1u << 11)
#define NVMX_ENTRY_LOAD_PERF     (1u << 13)
#define NVMX_ENTRY_LOAD_PAT      (1u << 14)
#define NVMX_ENTRY_LOAD_EFER     (1u << 15)

/* ---- interruption information (25.8.3, 28.2.2, 28.2.4) ---- */
#define NVMX_INTR_VALID          (1u << 31)
#define NVMX_INTR_TYPE(i)        (((i) >> 8) & 7u)
#define NVMX_INTR_TYPE_EXT       0u
#define NVMX_INTR_TYPE_NMI       2u
#define NVMX_INTR_TYPE_HW_EXC    3u
#define NVMX_INTR_TYPE_SW_INT    4u
#define NVMX_INTR_TYPE_PRIV_SW   5u
#define NVMX_INTR_TYPE_SW_EXC    6u

/* ---- registers ---- */
#define NVMX_CR0_PE              (1ull << 0)
#define NVMX_CR0_NE              (1ull << 5)
#define NVMX_CR0_PG              (1ull << 31)
#define NVMX_CR4_PAE             (1ull << 5)
#define NVMX_CR4_PCIDE           (1ull << 17)
#define NVMX_EFER_LME            (1ull << 8)
#define NVMX_EFER_LMA            (1ull << 10)
#define NVMX_VEC_PF              14u
#define NVMX_VEC_MC              18u

#endif
