/*
 * Virtual local APIC (see vlapic.h for the interface and what is left out).
 *
 * Section numbers refer to Intel SDM vol. 3A, chapter 11 "Advanced
 * Programmable Interrupt Controller (APIC)".
 *
 * The file reads top to bottom as:
 *   1. the register table (which offsets exist, in which mode, which bits
 *      software may write),
 *   2. interrupt state: IRR/ISR/TMR, PPR, accept, ack, EOI, errors,
 *   3. the timer,
 *   4. one register read and one register write routine shared by the
 *      MMIO and the MSR path,
 *   5. the two access paths and IA32_APIC_BASE,
 *   6. reset, INIT/SIPI, destination matching.
 */
#include "drivers/platform/vlapic.h"

#include <string.h>

/* ---- 1. The register table ----------------------------------------------
 *
 * Indexed by offset >> 4 (= x2APIC MSR - 0x800).  One row per 16-byte slot
 * of the xAPIC page that holds a register.  A slot without flags is
 * reserved.  wmask: bits software writes; romask: bits that exist but are
 * read-only (ignored on write).  In x2APIC mode any other bit set in a
 * WRMSR is a reserved bit and raises #GP (SDM 11.12.1.2).
 */
#define RX 1u   /* readable in xAPIC mode */
#define WX 2u   /* writable in xAPIC mode */
#define R2 4u   /* readable in x2APIC mode (RDMSR) */
#define W2 8u   /* writable in x2APIC mode (WRMSR) */

struct reg_desc {
	const char *name;
	uint8_t flags;
	uint32_t wmask;
	uint32_t romask;
};

#define LVT_RO        APIC_LVT_STATUS
#define LVT_TIMER_W   (APIC_LVT_VECTOR | APIC_LVT_MASKED | APIC_LVT_TIMER_MODE)
#define LVT_DM_W      (APIC_LVT_VECTOR | APIC_LVT_DM_MASK | APIC_LVT_MASKED)
#define LVT_LINT_W    (LVT_DM_W | APIC_LVT_POLARITY | APIC_LVT_LEVEL)
#define LVT_ERROR_W   (APIC_LVT_VECTOR | APIC_LVT_MASKED)
/* ICR low: vector, delivery mode, destination mode, level, trigger, shorthand */
#define ICR_LO_W      0x000ccfffu

static const struct reg_desc regs[64] = {
	[APIC_ID >> 4]        = { "ID",        RX | WX | R2,      0xff000000u, 0 },
	[APIC_VER >> 4]       = { "VER",       RX | R2,           0, 0 },
	[APIC_TPR >> 4]       = { "TPR",       RX | WX | R2 | W2, 0xffu, 0 },
	[APIC_APR >> 4]       = { "APR",       RX,                0, 0 },
	[APIC_PPR >> 4]       = { "PPR",       RX | R2,           0, 0 },
	/* EOI and ESR: in x2APIC mode only 0 may be written (SDM 11.12.1.2) */
	[APIC_EOI >> 4]       = { "EOI",       WX | W2,           0, 0 },
	[APIC_RRD >> 4]       = { "RRD",       RX,                0, 0 },
	[APIC_LDR >> 4]       = { "LDR",       RX | WX | R2,      0xff000000u, 0 },
	[APIC_DFR >> 4]       = { "DFR",       RX | WX,           0xf0000000u, 0 },
	[APIC_SVR >> 4]       = { "SVR",       RX | WX | R2 | W2, 0x3ffu, 0 },
	[0x10 ... 0x17]       = { "ISR",       RX | R2,           0, 0 },
	[0x18 ... 0x1f]       = { "TMR",       RX | R2,           0, 0 },
	[0x20 ... 0x27]       = { "IRR",       RX | R2,           0, 0 },
	[APIC_ESR >> 4]       = { "ESR",       RX | WX | R2 | W2, 0, 0 },
	[APIC_ICR_LO >> 4]    = { "ICR",       RX | WX | R2 | W2, ICR_LO_W, APIC_ICR_BUSY },
	[APIC_ICR_HI >> 4]    = { "ICR_HI",    RX | WX,           0xff000000u, 0 },
	[APIC_LVT_TIMER >> 4] = { "LVT_TIMER", RX | WX | R2 | W2, LVT_TIMER_W, LVT_RO },
	[APIC_LVT_THERM >> 4] = { "LVT_THERM", RX | WX | R2 | W2, LVT_DM_W, LVT_RO },
	[APIC_LVT_PERF >> 4]  = { "LVT_PERF",  RX | WX | R2 | W2, LVT_DM_W, LVT_RO },
	[APIC_LVT_LINT0 >> 4] = { "LVT_LINT0", RX | WX | R2 | W2, LVT_LINT_W,
				  LVT_RO | APIC_LVT_REMOTE_IRR },
	[APIC_LVT_LINT1 >> 4] = { "LVT_LINT1", RX | WX | R2 | W2, LVT_LINT_W,
				  LVT_RO | APIC_LVT_REMOTE_IRR },
	[APIC_LVT_ERROR >> 4] = { "LVT_ERROR", RX | WX | R2 | W2, LVT_ERROR_W, LVT_RO },
	[APIC_TMICT >> 4]     = { "TMICT",     RX | WX | R2 | W2, 0xffffffffu, 0 },
	[APIC_TMCCT >> 4]     = { "TMCCT",     RX | R2,           0, 0 },
	/* divide configuration: bits 0, 1 and 3 (SDM 11.5.4, figure 11-10) */
	[APIC_TDCR >> 4]      = { "TDCR",      RX | WX | R2 | W2, 0x0bu, 0 },
	[APIC_SELF_IPI >> 4]  = { "SELF_IPI",  W2,                0xffu, 0 },
};

#define NREGS (sizeof regs / sizeof regs[0])

const char *vlapic_reg_name(uint32_t offset)
{
	uint32_t i = offset >> 4;

	return i < NREGS && regs[i].flags ? regs[i].name : "reserved";
}

/* ---- small helpers ------------------------------------------------------ */

static bool bit_test(const uint32_t *bm, unsigned v) { return bm[v / 32] >> (v % 32) & 1; }
static void bit_set(uint32_t *bm, unsigned v)        { bm[v / 32] |= 1u << (v % 32); }
static void bit_clear(uint32_t *bm, unsigned v)      { bm[v / 32] &= ~(1u << (v % 32)); }

/* Highest set bit of a 256-bit register, or -1. */
static int highest(const uint32_t *bm)
{
	for (int i = 7; i >= 0; i--)
		if (bm[i])
			return i * 32 + 31 - __builtin_clz(bm[i]);
	return -1;
}

enum vlapic_mode vlapic_mode(const struct vlapic *v)
{
	if (!(v->apic_base & APIC_BASE_EN))
		return VLAPIC_MODE_DISABLED;
	return (v->apic_base & APIC_BASE_EXTD) ? VLAPIC_MODE_X2APIC : VLAPIC_MODE_XAPIC;
}

static bool sw_enabled(const struct vlapic *v) { return v->svr & APIC_SVR_ENABLE; }

uint32_t vlapic_id(const struct vlapic *v)
{
	return vlapic_mode(v) == VLAPIC_MODE_X2APIC ? v->cfg.apic_id : v->id >> 24;
}

/* x2APIC logical ID (SDM 11.12.10.2): cluster in 31:16, one bit in 15:0. */
static uint32_t x2apic_ldr(uint32_t id)
{
	return (id >> 4) << 16 | 1u << (id & 15);
}

/* ---- 2. Interrupt state ------------------------------------------------- */

/*
 * Processor priority (SDM 11.8.3.1):
 *   PPR[7:4] = max(TPR[7:4], ISRV[7:4]),
 *   PPR[3:0] = TPR[3:0] if TPR[7:4] >= ISRV[7:4], else 0,
 * where ISRV is the highest in-service vector (0 if none).
 */
uint32_t vlapic_ppr(const struct vlapic *v)
{
	int isrv = highest(v->isr);
	uint32_t tpr = v->tpr & 0xff;

	if (isrv < 0)
		isrv = 0;
	if ((tpr & 0xf0) >= ((uint32_t)isrv & 0xf0))
		return tpr;
	return (uint32_t)isrv & 0xf0;
}

static void accept(struct vlapic *v, uint8_t vector, bool level);

/*
 * Record an error (SDM 11.5.3).  Errors collect in an internal register
 * that the next ESR write copies to the readable ESR.  A new error raises
 * the LVT error interrupt.  If that LVT itself holds an illegal vector,
 * the resulting "receive illegal vector" is no longer new, so this
 * recursion ends after one step.
 */
static void set_error(struct vlapic *v, uint32_t bits)
{
	uint32_t fresh = bits & ~v->esr_pending;
	uint32_t lvt = v->lvt[VLAPIC_LVT_ERROR];

	v->esr_pending |= bits;
	if (fresh && !(lvt & APIC_LVT_MASKED))
		accept(v, (uint8_t)(lvt & APIC_LVT_VECTOR), false);
}

/*
 * An interrupt message arrives (SDM 11.5.5 / 11.8.4): set the IRR bit, and
 * the TMR bit for level-triggered interrupts (cleared for edge).
 * - A hardware-disabled APIC receives nothing.
 * - Vectors 0-15 are illegal: "receive illegal vector" in ESR, no IRR bit
 *   (SDM 11.5.3: "the local APIC will never set an IRR bit in the range 0
 *   to 15").
 * - A software-disabled APIC (SVR bit 8 = 0, SDM 11.4.7.2) drops fixed
 *   interrupts; what is already in IRR/ISR stays.  (As KVM does; INIT,
 *   NMI, SMI and SIPI are the caller's and still work.)
 */
static void accept(struct vlapic *v, uint8_t vector, bool level)
{
	if (vlapic_mode(v) == VLAPIC_MODE_DISABLED)
		return;
	if (vector < 16) {
		set_error(v, APIC_ESR_RECV_ILLEGAL);
		return;
	}
	if (!sw_enabled(v))
		return;
	bit_set(v->irr, vector);
	if (level)
		bit_set(v->tmr, vector);
	else
		bit_clear(v->tmr, vector);
}

void vlapic_accept(struct vlapic *v, uint8_t vector, bool level)
{
	accept(v, vector, level);
}

/*
 * The interrupt the APIC would present to the core: the highest IRR
 * vector, if its priority class is above the PPR's (SDM 11.8.3.1).
 * Interrupts held in IRR are presented even while software-disabled
 * (SDM 11.4.7.2: "pending interrupts ... are held and require masking or
 * handling by the CPU").
 */
int vlapic_pending(const struct vlapic *v)
{
	int irrv;

	if (vlapic_mode(v) == VLAPIC_MODE_DISABLED)
		return -1;
	irrv = highest(v->irr);
	if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (vlapic_ppr(v) & 0xf0))
		return -1;
	return irrv;
}

/* The core accepted the interrupt (INTA cycle, SDM 11.8.4): IRR -> ISR. */
void vlapic_ack(struct vlapic *v, uint8_t vector)
{
	if (vector < 16 || !bit_test(v->irr, vector))
		return;
	bit_clear(v->irr, vector);
	bit_set(v->isr, vector);
}

/*
 * EOI (SDM 11.8.5): retire the highest-priority in-service interrupt.  If
 * it was level-triggered (TMR set), the APIC sends an EOI message to the
 * IOAPICs so they clear Remote IRR.  (No EOI-broadcast suppression.)
 */
static void do_eoi(struct vlapic *v)
{
	int vec = highest(v->isr);

	if (vec < 0)
		return;
	bit_clear(v->isr, (unsigned)vec);
	if (bit_test(v->tmr, (unsigned)vec) && v->cfg.ops && v->cfg.ops->eoi)
		v->cfg.ops->eoi(v->cfg.ctx, (uint8_t)vec);
}

/*
 * Send what the ICR describes (SDM 11.6.1).  Reserved delivery modes
 * (011b, 111b) send nothing.  A fixed or lowest-priority IPI with a vector
 * below 16 is not sent and sets "send illegal vector" (SDM 11.5.3).
 * Delivery is instantaneous here, so the delivery status bit always reads
 * idle.
 */
static void send_icr(struct vlapic *v, uint32_t lo, uint32_t dest)
{
	uint8_t mode = (uint8_t)(lo >> APIC_ICR_DM_SHIFT & 7);
	uint8_t vector = (uint8_t)(lo & APIC_ICR_VECTOR);

	if (mode == 3 || mode == 7)
		return;
	if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && vector < 16) {
		set_error(v, APIC_ESR_SEND_ILLEGAL);
		return;
	}
	if (v->cfg.ops && v->cfg.ops->send_ipi)
		v->cfg.ops->send_ipi(v->cfg.ctx, dest, (uint8_t)(lo >> APIC_ICR_SH_SHIFT & 3),
				     mode, vector, lo & APIC_ICR_LOGICAL, lo & APIC_ICR_LEVEL,
				     lo & APIC_ICR_ASSERT);
}

/* ---- 3. The timer (SDM 11.5.4) ------------------------------------------
 *
 * The counter decrements once per `divide` cycles of bus_hz.  We keep
 * (timer_base, timer_count): the counter held timer_count at TSC
 * timer_base.  Conversions between counter ticks and TSC ticks use 128-bit
 * intermediates and saturate at UINT64_MAX.
 */

/* Divide configuration bits 3,1,0: 000 = 2, 001 = 4, ... 110 = 128, 111 = 1. */
static unsigned timer_divisor(uint32_t dcr)
{
	unsigned code = (dcr & 3) | (dcr >> 1 & 4);

	return code == 7 ? 1 : 2u << code;
}

/*
 * a * b / c (c != 0) without overflow, saturating at UINT64_MAX.  Plain
 * 64-bit C on purpose: unsigned __int128 division would call libgcc's
 * __udivti3, which is not built for a no-red-zone kernel.
 */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c, bool round_up)
{
	/* 128-bit product hi:lo from 32-bit halves */
	uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
	uint64_t lo = mid << 32 | (ll & 0xffffffffu);
	uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	uint64_t q = 0;

	if (hi >= c)
		return UINT64_MAX;   /* quotient needs more than 64 bits */
	/* Restoring long division; hi stays < c, so q fits 64 bits. */
	for (int i = 0; i < 64; i++) {
		bool carry = hi >> 63;

		hi = hi << 1 | lo >> 63;
		lo <<= 1;
		q <<= 1;
		if (carry || hi >= c) {
			hi -= c;
			q |= 1;
		}
	}
	if (round_up && hi && q != UINT64_MAX)
		q++;
	return q;
}

/* TSC ticks until `counts` counter ticks have passed (rounded up). */
static uint64_t counts_to_tsc(const struct vlapic *v, uint64_t counts)
{
	return muldiv(counts * timer_divisor(v->timer_dcr), v->cfg.tsc_hz, v->cfg.bus_hz, true);
}

/* Counter ticks completed in `tsc` TSC ticks (rounded down). */
static uint64_t tsc_to_counts(const struct vlapic *v, uint64_t tsc)
{
	return muldiv(tsc, v->cfg.bus_hz, v->cfg.tsc_hz * timer_divisor(v->timer_dcr), false);
}

static uint32_t timer_mode(const struct vlapic *v)
{
	return v->lvt[VLAPIC_LVT_TIMER] & APIC_LVT_TIMER_MODE;
}

/* Mode 11b is reserved; it behaves as one-shot here (as in KVM). */
static bool timer_periodic(const struct vlapic *v) { return timer_mode(v) == APIC_TIMER_PERIODIC; }
static bool timer_deadline_mode(const struct vlapic *v) { return timer_mode(v) == APIC_TIMER_TSC_DEADLINE; }

/*
 * TMCCT at `now`: 0 when stopped and always in TSC-deadline mode.  Callers
 * run vlapic_timer_update(now) first, so a due expiry has been processed
 * (a one-shot stopped, a periodic timer reloaded) and ticks < timer_count.
 */
static uint32_t timer_current(const struct vlapic *v, uint64_t now)
{
	uint64_t elapsed, ticks;

	if (timer_deadline_mode(v) || v->timer_count == 0)
		return 0;
	elapsed = now > v->timer_base ? now - v->timer_base : 0;
	ticks = tsc_to_counts(v, elapsed);
	return ticks < v->timer_count ? (uint32_t)(v->timer_count - ticks) : 0;
}

uint64_t vlapic_timer_deadline(const struct vlapic *v)
{
	uint64_t d;

	if (vlapic_mode(v) == VLAPIC_MODE_DISABLED)
		return UINT64_MAX;
	if (timer_deadline_mode(v))
		return v->tsc_deadline ? v->tsc_deadline : UINT64_MAX;
	if (v->timer_count == 0)
		return UINT64_MAX;
	d = counts_to_tsc(v, v->timer_count);
	return d > UINT64_MAX - v->timer_base ? UINT64_MAX : v->timer_base + d;
}

/*
 * Fire an expired timer.  A masked LVT still lets the timer run (one-shot
 * stops, periodic reloads, the deadline clears) but delivers nothing
 * (SDM 11.5.1: "mask: 1 inhibits reception of the interrupt").  Missed
 * periods of a periodic timer collapse into one interrupt: the IRR bit
 * cannot count them anyway.
 */
void vlapic_timer_update(struct vlapic *v, uint64_t now)
{
	uint64_t due = vlapic_timer_deadline(v);
	uint32_t lvt = v->lvt[VLAPIC_LVT_TIMER];

	if (due == UINT64_MAX || now < due)
		return;
	if (timer_deadline_mode(v)) {
		v->tsc_deadline = 0;   /* SDM 11.5.4.1: cleared when it fires */
	} else if (timer_periodic(v) && v->timer_initial) {
		uint64_t period = counts_to_tsc(v, v->timer_initial);  /* >= 1 */
		uint64_t base = due;

		if (now - base >= period)
			base += (now - base) / period * period;
		v->timer_base = base;
		v->timer_count = v->timer_initial;
	} else {
		v->timer_count = 0;
	}
	if (!(lvt & APIC_LVT_MASKED))
		accept(v, (uint8_t)(lvt & APIC_LVT_VECTOR), false);
}

uint64_t vlapic_get_tsc_deadline(const struct vlapic *v)
{
	return vlapic_mode(v) != VLAPIC_MODE_DISABLED && timer_deadline_mode(v) ? v->tsc_deadline : 0;
}

void vlapic_set_tsc_deadline(struct vlapic *v, uint64_t now, uint64_t val)
{
	if (vlapic_mode(v) == VLAPIC_MODE_DISABLED || !timer_deadline_mode(v))
		return;   /* SDM 11.5.4.1: writes ignored in other modes */
	v->tsc_deadline = val;
	vlapic_timer_update(v, now);   /* a deadline in the past fires at once */
}

/* ---- 4. Register read and write, shared by MMIO and MSR paths ---------- */

static uint32_t reg_read(struct vlapic *v, unsigned idx, uint64_t now)
{
	uint32_t off = idx << 4;

	if (idx >= 0x10 && idx < 0x18)
		return v->isr[idx - 0x10];
	if (idx >= 0x18 && idx < 0x20)
		return v->tmr[idx - 0x18];
	if (idx >= 0x20 && idx < 0x28)
		return v->irr[idx - 0x20];
	if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR)
		return v->lvt[(off - APIC_LVT_TIMER) >> 4];

	switch (off) {
	case APIC_ID:
		return vlapic_mode(v) == VLAPIC_MODE_X2APIC ? v->cfg.apic_id : v->id;
	case APIC_VER:    return VLAPIC_VERSION;
	case APIC_TPR:    return v->tpr;
	case APIC_APR:    return 0;   /* arbitration priority: not modelled */
	case APIC_PPR:    return vlapic_ppr(v);
	case APIC_RRD:    return 0;
	case APIC_LDR:    return v->ldr;
	case APIC_DFR:    return v->dfr | 0x0fffffffu;  /* bits 27:0 read as 1s */
	case APIC_SVR:    return v->svr;
	case APIC_ESR:    return v->esr;
	case APIC_ICR_LO: return v->icr_lo;             /* BUSY never set: idle */
	case APIC_ICR_HI: return v->icr_hi;
	case APIC_TMICT:  return v->timer_initial;
	case APIC_TMCCT:  return timer_current(v, now);
	case APIC_TDCR:   return v->timer_dcr;
	default:          return 0;
	}
}

static void write_lvt(struct vlapic *v, unsigned i, uint32_t val)
{
	static const uint32_t wmask[VLAPIC_NR_LVT] = {
		LVT_TIMER_W, LVT_DM_W, LVT_DM_W, LVT_LINT_W, LVT_LINT_W, LVT_ERROR_W,
	};

	val &= wmask[i];
	/* SDM 11.4.7.2: while software-disabled the mask bits stay set. */
	if (!sw_enabled(v))
		val |= APIC_LVT_MASKED;
	val |= v->lvt[i] & APIC_LVT_REMOTE_IRR;
	if (i == VLAPIC_LVT_TIMER) {
		bool was_dl = timer_deadline_mode(v);
		bool is_dl = (val & APIC_LVT_TIMER_MODE) == APIC_TIMER_TSC_DEADLINE;

		/* SDM 11.5.4.1: "transitioning between TSC-deadline mode and
		 * other timer modes also disarms the timer".  One-shot <->
		 * periodic neither starts nor stops it. */
		if (was_dl != is_dl) {
			v->timer_initial = 0;
			v->timer_count = 0;
			v->tsc_deadline = 0;
		}
	}
	v->lvt[i] = val;
}

/* val has already been checked (x2APIC) or is masked here (xAPIC). */
static void reg_write(struct vlapic *v, unsigned idx, uint32_t val, uint64_t now)
{
	uint32_t off = idx << 4;
	uint32_t w = val & regs[idx].wmask;

	if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR) {
		write_lvt(v, (off - APIC_LVT_TIMER) >> 4, val);
		return;
	}
	switch (off) {
	case APIC_ID:  v->id = w;  break;
	case APIC_TPR: v->tpr = w; break;
	case APIC_EOI: do_eoi(v);  break;
	case APIC_LDR: v->ldr = w; break;
	case APIC_DFR: v->dfr = w; break;
	case APIC_SVR:
		v->svr = w;
		if (!sw_enabled(v))   /* SDM 11.4.7.2: all LVTs masked */
			for (unsigned i = 0; i < VLAPIC_NR_LVT; i++)
				v->lvt[i] |= APIC_LVT_MASKED;
		break;
	case APIC_ESR:
		/* SDM 11.5.3: a write copies the errors collected since the
		 * last write into ESR and clears the collection. */
		v->esr = v->esr_pending;
		v->esr_pending = 0;
		break;
	case APIC_ICR_LO:
		v->icr_lo = w;
		send_icr(v, w, v->icr_hi >> 24);   /* xAPIC: 8-bit destination */
		break;
	case APIC_ICR_HI:
		v->icr_hi = w;
		break;
	case APIC_TMICT:
		/* SDM 11.5.4: writing the initial count starts the timer (0
		 * stops it); ignored in TSC-deadline mode. */
		if (timer_deadline_mode(v))
			break;
		v->timer_initial = w;
		v->timer_count = w;
		v->timer_base = now;
		break;
	case APIC_TDCR:
		/* The count so far was made at the old rate; continue from
		 * the current value at the new one. */
		if (v->timer_count) {
			v->timer_count = timer_current(v, now);
			v->timer_base = now;
		}
		v->timer_dcr = w;
		break;
	case APIC_SELF_IPI:
		/* SDM 11.12.11: same as a fixed, edge, self-shorthand IPI. */
		if (w < 16)
			set_error(v, APIC_ESR_SEND_ILLEGAL);
		else
			accept(v, (uint8_t)w, false);
		break;
	default:
		break;
	}
}

/* ---- 5. Access paths ---------------------------------------------------- */

/*
 * xAPIC MMIO (SDM 11.4.1): registers are 32 bits wide on 16-byte
 * boundaries and "must be accessed using 128-bit aligned 32-bit loads or
 * stores"; anything else is not architectural and is answered with 0 /
 * dropped.  An aligned access to a reserved slot also sets "illegal
 * register address" in ESR (SDM 11.5.3).
 */
static int mmio_check(struct vlapic *v, uint32_t offset, unsigned size, unsigned need)
{
	unsigned idx = offset >> 4;

	if (vlapic_mode(v) != VLAPIC_MODE_XAPIC)
		return VLAPIC_NOT_DECODED;
	if (size != 4 || (offset & 0xf) || offset > 0xfff)
		return VLAPIC_IGNORED;
	if (idx >= NREGS || !(regs[idx].flags & (RX | WX))) {
		set_error(v, APIC_ESR_ILLEGAL_REG);
		return VLAPIC_IGNORED;
	}
	if (!(regs[idx].flags & need))
		return VLAPIC_IGNORED;   /* read of EOI, write of a RO register */
	return VLAPIC_OK;
}

int vlapic_mmio_read(struct vlapic *v, uint32_t offset, unsigned size, uint64_t now,
		     uint32_t *val)
{
	int r;

	*val = 0;
	r = mmio_check(v, offset, size, RX);
	if (r == VLAPIC_NOT_DECODED)
		return r;
	vlapic_timer_update(v, now);
	if (r == VLAPIC_OK)
		*val = reg_read(v, offset >> 4, now);
	return r;
}

int vlapic_mmio_write(struct vlapic *v, uint32_t offset, unsigned size, uint64_t now,
		      uint32_t val)
{
	int r = mmio_check(v, offset, size, WX);

	if (r == VLAPIC_NOT_DECODED)
		return r;
	vlapic_timer_update(v, now);
	if (r == VLAPIC_OK)
		reg_write(v, offset >> 4, val, now);
	return r;
}

/*
 * x2APIC MSRs (SDM 11.12.1.2): #GP when not in x2APIC mode, for reserved
 * MSRs (including DFR 0x80e, ICR high 0x831, APR, RRD, CMCI), for RDMSR of
 * write-only and WRMSR of read-only registers, and for reserved bits set.
 */
int vlapic_msr_read(struct vlapic *v, uint32_t msr, uint64_t now, uint64_t *val)
{
	unsigned idx;

	*val = 0;
	if (msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST ||
	    vlapic_mode(v) != VLAPIC_MODE_X2APIC)
		return -1;
	idx = msr - X2APIC_MSR_FIRST;
	if (idx >= NREGS || !(regs[idx].flags & R2))
		return -1;
	vlapic_timer_update(v, now);
	if (idx == APIC_ICR_LO >> 4)   /* one 64-bit register (SDM 11.12.9) */
		*val = (uint64_t)v->icr_hi << 32 | v->icr_lo;
	else
		*val = reg_read(v, idx, now);
	return 0;
}

int vlapic_msr_write(struct vlapic *v, uint32_t msr, uint64_t now, uint64_t val)
{
	unsigned idx;
	uint32_t lo = (uint32_t)val;

	if (msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST ||
	    vlapic_mode(v) != VLAPIC_MODE_X2APIC)
		return -1;
	idx = msr - X2APIC_MSR_FIRST;
	if (idx >= NREGS || !(regs[idx].flags & W2))
		return -1;
	if (lo & ~(regs[idx].wmask | regs[idx].romask))
		return -1;
	vlapic_timer_update(v, now);
	if (idx == APIC_ICR_LO >> 4) {
		/* ICR: destination in 63:32.  Bit 12 (delivery status, gone
		 * in x2APIC mode) is ignored rather than faulted, as KVM does. */
		v->icr_hi = (uint32_t)(val >> 32);
		v->icr_lo = lo & ICR_LO_W;
		send_icr(v, v->icr_lo, v->icr_hi);
		return 0;
	}
	if (val >> 32)
		return -1;
	reg_write(v, idx, lo, now);
	return 0;
}

/* ---- 6. Reset, mode transitions, INIT/SIPI ------------------------------ */

/*
 * Power-up values (SDM 11.4.7.1 and 11.12.5.1): IRR, ISR, TMR, ICR, LDR,
 * TPR, divide configuration, initial and current count 0; LVTs 0 with the
 * mask bit set; SVR 0xff; DFR all 1s.  The ID and IA32_APIC_BASE are the
 * caller's business.  In x2APIC mode the LDR is derived from the ID.
 */
static void reset_registers(struct vlapic *v)
{
	v->tpr = 0;
	v->ldr = vlapic_mode(v) == VLAPIC_MODE_X2APIC ? x2apic_ldr(v->cfg.apic_id) : 0;
	v->dfr = 0xffffffffu;
	v->svr = 0xff;
	v->esr = v->esr_pending = 0;
	v->icr_lo = v->icr_hi = 0;
	for (unsigned i = 0; i < VLAPIC_NR_LVT; i++)
		v->lvt[i] = APIC_LVT_MASKED;
	memset(v->irr, 0, sizeof v->irr);
	memset(v->isr, 0, sizeof v->isr);
	memset(v->tmr, 0, sizeof v->tmr);
	v->timer_initial = 0;
	v->timer_dcr = 0;
	v->timer_base = 0;
	v->timer_count = 0;
	v->tsc_deadline = 0;
}

void vlapic_init(struct vlapic *v, const struct vlapic_config *cfg)
{
	const uint64_t max_hz = 1ull << 48;   /* keeps tsc_hz * 128 in 64 bits */

	memset(v, 0, sizeof *v);
	v->cfg = *cfg;
	if (v->cfg.tsc_hz == 0)
		v->cfg.tsc_hz = 1000000000;
	if (v->cfg.bus_hz == 0)
		v->cfg.bus_hz = 1000000000;
	if (v->cfg.tsc_hz > max_hz)
		v->cfg.tsc_hz = max_hz;
	if (v->cfg.bus_hz > max_hz)
		v->cfg.bus_hz = max_hz;
	if (v->cfg.phys_addr_bits == 0)
		v->cfg.phys_addr_bits = 36;
	if (v->cfg.phys_addr_bits < 32)
		v->cfg.phys_addr_bits = 32;
	if (v->cfg.phys_addr_bits > 52)
		v->cfg.phys_addr_bits = 52;
	v->apic_base = APIC_DEFAULT_BASE | APIC_BASE_EN | (cfg->bsp ? APIC_BASE_BSP : 0);
	v->id = (cfg->apic_id & 0xff) << 24;   /* xAPIC ID = low 8 bits (11.12.5.1) */
	reset_registers(v);
	v->wait_for_sipi = !cfg->bsp;
}

/*
 * WRMSR IA32_APIC_BASE (SDM 11.4.4, 11.12.5, figure "Local x2APIC State
 * Transitions"):
 *   disabled (EN=0 EXTD=0) <-> xAPIC (EN=1 EXTD=0) <-> x2APIC (EN=1 EXTD=1)
 * disabled -> x2APIC and x2APIC -> xAPIC are illegal, EN=0 EXTD=1 is
 * invalid: #GP.  Reserved bits: 0-7, 9, EXTD without x2APIC support, and
 * the base address above MAXPHYADDR.  The BSP flag is read/write.
 * Going to disabled loses all register state except the IDs ("all the
 * APIC register states in the x2APIC, except for the x2APIC ID, are not
 * preserved across mode transitions"); xAPIC -> x2APIC keeps the
 * registers and initializes the logical x2APIC ID (11.12.10.2).
 */
int vlapic_set_apic_base(struct vlapic *v, uint64_t val)
{
	uint64_t reserved = 0xffull | 1ull << 9 | ~0ull << v->cfg.phys_addr_bits;
	enum vlapic_mode from = vlapic_mode(v), to;

	if (!v->cfg.x2apic)
		reserved |= APIC_BASE_EXTD;
	if (val & reserved)
		return -1;
	if ((val & APIC_BASE_EXTD) && !(val & APIC_BASE_EN))
		return -1;
	to = !(val & APIC_BASE_EN) ? VLAPIC_MODE_DISABLED :
	     (val & APIC_BASE_EXTD) ? VLAPIC_MODE_X2APIC : VLAPIC_MODE_XAPIC;
	if ((from == VLAPIC_MODE_X2APIC && to == VLAPIC_MODE_XAPIC) ||
	    (from == VLAPIC_MODE_DISABLED && to == VLAPIC_MODE_X2APIC))
		return -1;

	v->apic_base = val;
	if (to == VLAPIC_MODE_DISABLED && from != VLAPIC_MODE_DISABLED)
		reset_registers(v);
	if (from == VLAPIC_MODE_XAPIC && to == VLAPIC_MODE_X2APIC)
		v->ldr = x2apic_ldr(v->cfg.apic_id);
	return 0;
}

/*
 * INIT (SDM 11.4.7.3): "the APIC is reset to its power-up state except
 * that the local APIC ID and arbitration ID registers are not affected";
 * IA32_APIC_BASE, and so the mode, is kept (11.12.5.1).  An AP then waits
 * for a SIPI; the BSP restarts at the reset vector (the caller's part).
 */
void vlapic_init_reset(struct vlapic *v)
{
	reset_registers(v);
	v->wait_for_sipi = !(v->apic_base & APIC_BASE_BSP);
	v->sipi_vector = 0;
}

bool vlapic_sipi(struct vlapic *v, uint8_t vector)
{
	if (!v->wait_for_sipi)
		return false;
	v->wait_for_sipi = false;
	v->sipi_vector = vector;
	return true;
}

/* Destination matching (SDM 11.6.2.1, 11.6.2.2, 11.12.10). */
bool vlapic_match_dest(const struct vlapic *v, uint32_t dest, bool logical)
{
	switch (vlapic_mode(v)) {
	case VLAPIC_MODE_X2APIC:
		if (dest == 0xffffffffu)
			return true;
		if (!logical)
			return dest == v->cfg.apic_id;
		return (dest >> 16) == (v->ldr >> 16) && (dest & v->ldr & 0xffff);
	case VLAPIC_MODE_XAPIC: {
		uint32_t mda = dest & 0xff, ldr = v->ldr >> 24;

		if (mda == 0xff)
			return true;
		if (!logical)
			return mda == v->id >> 24;
		switch (v->dfr >> 28) {
		case 0xf:   /* flat model */
			return mda & ldr;
		case 0x0:   /* cluster model */
			return (mda >> 4) == (ldr >> 4) && (mda & ldr & 0xf);
		default:    /* reserved model: nothing matches */
			return false;
		}
	}
	default:
		return false;
	}
}

/* KVM's kvm_apic_accept_pic_intr: an 8259 on LINT0 reaches the core when
 * the APIC is hardware-disabled (11.4.3: LINT0 is then the INTR pin) or
 * LINT0 is an unmasked ExtINT entry. */
bool vlapic_accepts_pic_intr(const struct vlapic *v)
{
	uint32_t lint0 = v->lvt[VLAPIC_LVT_LINT0];

	if (vlapic_mode(v) == VLAPIC_MODE_DISABLED)
		return true;
	return !(lint0 & APIC_LVT_MASKED) && (lint0 & APIC_LVT_DM_MASK) == APIC_LVT_DM_EXTINT;
}
