/*
 * Virtual local APIC: the per-vCPU interrupt controller a guest programs
 * (Intel SDM vol. 3A, chapter "Advanced Programmable Interrupt Controller
 * (APIC)", sections cited by number below as in SDM 3A ch. 11).
 *
 * One struct vlapic per vCPU.  The model is pure: it never touches the
 * host's APIC, never allocates, and talks to the rest of the hypervisor
 * only through the two callbacks in struct vlapic_ops.
 *
 * What a guest sees
 *   - xAPIC mode: a 4 KiB MMIO page at IA32_APIC_BASE (default 0xfee00000),
 *     registers on 16-byte boundaries (SDM 11.4.1, table "Local APIC
 *     Register Address Map").  vlapic_mmio_read/write.
 *   - x2APIC mode: MSRs 0x800-0x8ff, MSR = 0x800 + (xAPIC offset >> 4)
 *     (SDM 11.12.1.2, table "Local APIC Register Address Map Supported by
 *     x2APIC").  vlapic_msr_read/write.
 *   - IA32_APIC_BASE (MSR 0x1b): vlapic_set_apic_base / vlapic->apic_base.
 *   - IA32_TSC_DEADLINE (MSR 0x6e0): vlapic_get/set_tsc_deadline.
 *
 * Time
 *   Every function that needs the time takes `now` = the guest's TSC value.
 *   The timer counts at bus_hz / divide (SDM 11.5.4, "the APIC timer
 *   counts at the bus clock or core crystal clock rate divided by the
 *   divide configuration"); the TSC runs at tsc_hz.  Both come from
 *   struct vlapic_config.  TSC-deadline mode compares `now` with the
 *   deadline directly.  vlapic_timer_deadline() tells the caller when (in
 *   TSC ticks) to call vlapic_timer_update() next.
 *
 * Delivering interrupts to the vCPU (the caller's loop)
 *     v = vlapic_pending(lapic);           highest deliverable vector, or -1
 *     if (v >= 0 && guest can take it) { inject v; vlapic_ack(lapic, v); }
 *   Other interrupt sources (IOAPIC, IPIs from other vCPUs) call
 *   vlapic_accept() on the target, after vlapic_match_dest() picked it.
 *
 * Return codes of the access functions
 *   MMIO:  VLAPIC_OK (0) architectural access done;
 *          VLAPIC_IGNORED (1) not an aligned 32-bit access to a register's
 *          first dword, or a reserved register: reads gave 0, writes were
 *          dropped, the caller may log it;
 *          VLAPIC_NOT_DECODED (-1) the APIC is disabled or in x2APIC mode,
 *          so the page is not the APIC (SDM 11.12.1: in x2APIC mode MMIO
 *          accesses behave as with a globally disabled xAPIC).
 *   MSR and apic base: 0 done, -1 = the caller injects #GP(0).
 *
 * Not modelled: the CMCI LVT (the version register says 6 LVT entries,
 * so 0x2f0/0x82f are reserved), EOI-broadcast suppression (VER bit 24 = 0),
 * APIC arbitration, focus processor checking (SVR bit 9 is stored only),
 * the remote read register (reads 0), virtual-wire "spurious" races.
 */
#ifndef NESTOR_VLAPIC_H
#define NESTOR_VLAPIC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- IA32_APIC_BASE (SDM 11.4.4, 11.12.1) ---- */
#define MSR_IA32_APIC_BASE      0x1b
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define APIC_BASE_BSP           (1ull << 8)
#define APIC_BASE_EXTD          (1ull << 10)
#define APIC_BASE_EN            (1ull << 11)
#define APIC_BASE_ADDR_MASK     (~0xfffull)
#define APIC_DEFAULT_BASE       0xfee00000ull

/* ---- register offsets in the xAPIC page (SDM table "Local APIC Register
 * Address Map"); the x2APIC MSR is 0x800 + (offset >> 4). ---- */
#define APIC_ID         0x020
#define APIC_VER        0x030
#define APIC_TPR        0x080
#define APIC_APR        0x090
#define APIC_PPR        0x0a0
#define APIC_EOI        0x0b0
#define APIC_RRD        0x0c0
#define APIC_LDR        0x0d0
#define APIC_DFR        0x0e0
#define APIC_SVR        0x0f0
#define APIC_ISR        0x100   /* 8 registers, 0x100-0x170 */
#define APIC_TMR        0x180   /* 8 registers, 0x180-0x1f0 */
#define APIC_IRR        0x200   /* 8 registers, 0x200-0x270 */
#define APIC_ESR        0x280
#define APIC_LVT_CMCI   0x2f0
#define APIC_ICR_LO     0x300
#define APIC_ICR_HI     0x310
#define APIC_LVT_TIMER  0x320
#define APIC_LVT_THERM  0x330
#define APIC_LVT_PERF   0x340
#define APIC_LVT_LINT0  0x350
#define APIC_LVT_LINT1  0x360
#define APIC_LVT_ERROR  0x370
#define APIC_TMICT      0x380   /* timer initial count */
#define APIC_TMCCT      0x390   /* timer current count */
#define APIC_TDCR       0x3e0   /* timer divide configuration */
#define APIC_SELF_IPI   0x3f0   /* x2APIC only */

#define X2APIC_MSR_FIRST 0x800
#define X2APIC_MSR_LAST  0x8ff
#define X2APIC_MSR(off)  (X2APIC_MSR_FIRST + ((off) >> 4))

/* VER: version 0x14 (integrated APIC), max LVT entry 5 (6 LVTs). */
#define VLAPIC_VERSION  0x00050014u

/* SVR (SDM 11.9) */
#define APIC_SVR_ENABLE         (1u << 8)

/* LVT fields (SDM 11.5.1, figure "Local Vector Table") */
#define APIC_LVT_VECTOR         0x000000ffu
#define APIC_LVT_DM_MASK        0x00000700u  /* delivery mode */
#define APIC_LVT_DM_EXTINT      0x00000700u
#define APIC_LVT_STATUS         (1u << 12)   /* delivery status, RO */
#define APIC_LVT_POLARITY       (1u << 13)
#define APIC_LVT_REMOTE_IRR     (1u << 14)   /* RO */
#define APIC_LVT_LEVEL          (1u << 15)
#define APIC_LVT_MASKED         (1u << 16)
#define APIC_LVT_TIMER_MODE     (3u << 17)
#define APIC_TIMER_ONESHOT      (0u << 17)
#define APIC_TIMER_PERIODIC     (1u << 17)
#define APIC_TIMER_TSC_DEADLINE (2u << 17)

/* ESR bits (SDM 11.5.3) */
#define APIC_ESR_SEND_CS        (1u << 0)
#define APIC_ESR_RECV_CS        (1u << 1)
#define APIC_ESR_SEND_ACCEPT    (1u << 2)
#define APIC_ESR_RECV_ACCEPT    (1u << 3)
#define APIC_ESR_REDIR_IPI      (1u << 4)
#define APIC_ESR_SEND_ILLEGAL   (1u << 5)
#define APIC_ESR_RECV_ILLEGAL   (1u << 6)
#define APIC_ESR_ILLEGAL_REG    (1u << 7)

/* ICR fields (SDM 11.6.1) */
#define APIC_ICR_VECTOR         0x000000ffu
#define APIC_ICR_DM_SHIFT       8
#define APIC_ICR_LOGICAL        (1u << 11)
#define APIC_ICR_BUSY           (1u << 12)
#define APIC_ICR_ASSERT         (1u << 14)
#define APIC_ICR_LEVEL          (1u << 15)
#define APIC_ICR_SH_SHIFT       18

/* ICR delivery modes, as passed to send_ipi (3 and 7 are reserved and
 * are not sent). */
enum apic_dm {
	APIC_DM_FIXED  = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI    = 2,
	APIC_DM_NMI    = 4,
	APIC_DM_INIT   = 5,
	APIC_DM_SIPI   = 6,
	APIC_DM_EXTINT = 7,   /* LVT / IOAPIC only, not an ICR mode */
};

/* ICR destination shorthand (SDM 11.6.1) */
enum apic_shorthand {
	APIC_SH_NONE        = 0,
	APIC_SH_SELF        = 1,
	APIC_SH_ALL_INCL    = 2,
	APIC_SH_ALL_EXCL    = 3,
};

enum vlapic_mode {
	VLAPIC_MODE_DISABLED = 0,  /* EN=0 EXTD=0 */
	VLAPIC_MODE_XAPIC    = 1,  /* EN=1 EXTD=0 */
	VLAPIC_MODE_X2APIC   = 2,  /* EN=1 EXTD=1 */
};

enum vlapic_access {
	VLAPIC_NOT_DECODED = -1,
	VLAPIC_OK          = 0,
	VLAPIC_IGNORED     = 1,
};

/* LVT entries, in register order. */
enum vlapic_lvt {
	VLAPIC_LVT_TIMER, VLAPIC_LVT_THERMAL, VLAPIC_LVT_PERF,
	VLAPIC_LVT_LINT0, VLAPIC_LVT_LINT1, VLAPIC_LVT_ERROR,
	VLAPIC_NR_LVT
};

struct vlapic_ops {
	/*
	 * The guest wrote the ICR (or the x2APIC SELF IPI with a shorthand,
	 * which is handled locally and does not come here).  dest is the
	 * destination field as written: 8 bits (ICR[63:56]) in xAPIC mode,
	 * 32 bits in x2APIC mode; use vlapic_match_dest() on each vCPU.
	 * mode is an enum apic_dm; shorthand an enum apic_shorthand (the
	 * sender itself is included for SELF and ALL_INCL: the caller delivers
	 * to it too, e.g. with vlapic_accept).  level/assert are ICR bits 15/14.
	 */
	void (*send_ipi)(void *ctx, uint32_t dest, uint8_t shorthand, uint8_t mode,
			 uint8_t vector, bool logical, bool level, bool assert);
	/*
	 * EOI of a level-triggered interrupt (its TMR bit was set): the
	 * "EOI message" to the IOAPICs (SDM 11.8.5), i.e. vioapic_eoi().
	 */
	void (*eoi)(void *ctx, uint8_t vector);
};

struct vlapic_config {
	uint32_t apic_id;        /* initial APIC ID (CPUID.0BH:EDX) */
	bool bsp;                /* IA32_APIC_BASE.BSP at reset */
	bool x2apic;             /* CPUID reports x2APIC: EXTD is not reserved */
	uint8_t phys_addr_bits;  /* MAXPHYADDR; 0 = 36 */
	uint64_t tsc_hz;         /* TSC rate (unit of `now`); 0 = 1 GHz */
	uint64_t bus_hz;         /* APIC timer input clock; 0 = 1 GHz */
	const struct vlapic_ops *ops;  /* may be NULL, and so may each hook */
	void *ctx;
};

struct vlapic {
	struct vlapic_config cfg;

	uint64_t apic_base;      /* IA32_APIC_BASE */

	/* Architectural registers (SDM 11.4.1).  Only the bits a guest can
	 * see are kept; the read path adds the constant ones (DFR's 1s). */
	uint32_t id;             /* xAPIC ID register (ID in bits 31:24) */
	uint32_t tpr;
	uint32_t ldr;            /* in x2APIC mode derived from the ID */
	uint32_t dfr;
	uint32_t svr;
	uint32_t esr;            /* what a read returns */
	uint32_t esr_pending;    /* errors since the last ESR write (11.5.3) */
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[VLAPIC_NR_LVT];
	uint32_t irr[8], isr[8], tmr[8];   /* 256-bit, vector v = bit v%32 of [v/32] */
	uint32_t timer_initial;  /* TMICT */
	uint32_t timer_dcr;      /* TDCR */

	/*
	 * Timer state (not architectural): the counter held timer_count at
	 * TSC timer_base and counts down from there at bus_hz / divide.
	 * timer_count == 0: not counting.  tsc_deadline: IA32_TSC_DEADLINE,
	 * 0 = disarmed (SDM 11.5.4.1).
	 */
	uint64_t timer_base;
	uint32_t timer_count;
	uint64_t tsc_deadline;

	/* INIT/SIPI (SDM 8.4 / 11.4.7.3): an AP after INIT waits for a SIPI;
	 * the vCPU code starts it at sipi_vector << 12. */
	bool wait_for_sipi;
	uint8_t sipi_vector;
};

/* Power-on reset: xAPIC mode at 0xfee00000, registers as in SDM 11.4.7.1;
 * APs start waiting for a SIPI. */
void vlapic_init(struct vlapic *v, const struct vlapic_config *cfg);

/* INIT (SDM 11.4.7.3 and 11.12.5.1): registers back to their power-up
 * values except the APIC ID and IA32_APIC_BASE (mode is kept); an AP then
 * waits for a SIPI. */
void vlapic_init_reset(struct vlapic *v);

/* A SIPI arrived: if the vCPU waits for one, record the vector, stop
 * waiting and return true (start the vCPU at vector << 12).  Otherwise
 * ignored (SDM 8.4.4.1: SIPIs are not latched). */
bool vlapic_sipi(struct vlapic *v, uint8_t vector);

enum vlapic_mode vlapic_mode(const struct vlapic *v);
static inline uint64_t vlapic_mmio_base(const struct vlapic *v)
{
	return v->apic_base & APIC_BASE_ADDR_MASK;
}
/* The APIC ID as the current mode shows it (8-bit xAPIC, 32-bit x2APIC). */
uint32_t vlapic_id(const struct vlapic *v);

/* WRMSR IA32_APIC_BASE: 0, or -1 for #GP (SDM 11.12.5). */
int vlapic_set_apic_base(struct vlapic *v, uint64_t val);

/* xAPIC page access at `offset` (0-0xfff) of `size` bytes. */
int vlapic_mmio_read(struct vlapic *v, uint32_t offset, unsigned size, uint64_t now,
		     uint32_t *val);
int vlapic_mmio_write(struct vlapic *v, uint32_t offset, unsigned size, uint64_t now,
		      uint32_t val);

/* RDMSR/WRMSR of an x2APIC MSR (0x800-0x8ff): 0, or -1 for #GP. */
int vlapic_msr_read(struct vlapic *v, uint32_t msr, uint64_t now, uint64_t *val);
int vlapic_msr_write(struct vlapic *v, uint32_t msr, uint64_t now, uint64_t val);

/* IA32_TSC_DEADLINE (SDM 11.5.4.1): reads 0 unless in TSC-deadline mode,
 * writes are ignored unless in that mode, 0 disarms. */
uint64_t vlapic_get_tsc_deadline(const struct vlapic *v);
void vlapic_set_tsc_deadline(struct vlapic *v, uint64_t now, uint64_t val);

/* An interrupt message for this APIC (fixed or lowest priority delivery,
 * after destination matching).  level: level-triggered (sets TMR). */
void vlapic_accept(struct vlapic *v, uint8_t vector, bool level);

/* Highest vector in IRR whose priority class is above PPR's, or -1. */
int vlapic_pending(const struct vlapic *v);

/* The vCPU took `vector` (INTA): IRR -> ISR. */
void vlapic_ack(struct vlapic *v, uint8_t vector);

/* The processor priority register (SDM 11.8.3.1). */
uint32_t vlapic_ppr(const struct vlapic *v);

/* Timer: fire what is due at `now`; next expiry (TSC) or UINT64_MAX. */
void vlapic_timer_update(struct vlapic *v, uint64_t now);
uint64_t vlapic_timer_deadline(const struct vlapic *v);

/*
 * Does an interrupt message with this destination reach this APIC
 * (SDM 11.6.2)?  dest as in send_ipi/IOAPIC: in xAPIC mode the low 8 bits
 * count.  Physical: ID match or broadcast (0xff / 0xffffffff).  Logical:
 * flat (DFR model 1111b) = bitwise AND of the 8-bit MDA with LDR[31:24];
 * cluster (DFR model 0000b) = upper nibble equal, lower nibbles AND;
 * x2APIC = cluster ID (bits 31:16) equal and bits 15:0 AND.
 * A disabled APIC matches nothing.
 */
bool vlapic_match_dest(const struct vlapic *v, uint32_t dest, bool logical);

/* Would an interrupt on the LINT0 pin from the 8259 reach the vCPU as
 * ExtINT?  (APIC hardware-disabled, or LVT LINT0 unmasked ExtINT.) */
bool vlapic_accepts_pic_intr(const struct vlapic *v);

/* Name of the register at an xAPIC offset, "reserved" if none (logging). */
const char *vlapic_reg_name(uint32_t offset);

#endif
