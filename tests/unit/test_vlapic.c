/*
 * Unit tests: drivers/platform/vlapic.c (virtual local APIC).
 *
 * Clocks: TSC 1 GHz, APIC bus 100 MHz, so one timer count at divide 1 is
 * 10 TSC ticks.  Expected values are worked out from the SDM, not from the
 * code: see the comment on each test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "drivers/platform/vlapic.h"

/* ---- recording callbacks ---- */

struct ipi {
	uint32_t dest;
	uint8_t shorthand, mode, vector;
	bool logical, level, assert;
};

struct rec {
	struct ipi ipi[16];
	unsigned nipi;
	uint8_t eoi[16];
	unsigned neoi;
};

static void rec_ipi(void *ctx, uint32_t dest, uint8_t sh, uint8_t mode, uint8_t vector,
		    bool logical, bool level, bool assert)
{
	struct rec *r = ctx;

	assert_true(r->nipi < 16);
	r->ipi[r->nipi++] = (struct ipi){ dest, sh, mode, vector, logical, level, assert };
}

static void rec_eoi(void *ctx, uint8_t vector)
{
	struct rec *r = ctx;

	assert_true(r->neoi < 16);
	r->eoi[r->neoi++] = vector;
}

static const struct vlapic_ops ops = { rec_ipi, rec_eoi };

struct fix {
	struct vlapic v;
	struct rec r;
};

static void setup_cfg(struct fix *f, uint32_t id, bool bsp)
{
	struct vlapic_config cfg = {
		.apic_id = id, .bsp = bsp, .x2apic = true, .phys_addr_bits = 39,
		.tsc_hz = 1000000000, .bus_hz = 100000000, .ops = &ops, .ctx = &f->r,
	};

	memset(f, 0, sizeof *f);
	vlapic_init(&f->v, &cfg);
}

static int setup(void **state)
{
	static struct fix f;

	setup_cfg(&f, 3, true);
	*state = &f;
	return 0;
}

static uint32_t rd(struct vlapic *v, uint32_t off, uint64_t now)
{
	uint32_t val = 0xdeadbeef;

	assert_int_equal(vlapic_mmio_read(v, off, 4, now, &val), VLAPIC_OK);
	return val;
}

static void wr(struct vlapic *v, uint32_t off, uint32_t val, uint64_t now)
{
	assert_int_equal(vlapic_mmio_write(v, off, 4, now, val), VLAPIC_OK);
}

/* Software-enable with spurious vector 0xff (what every OS does first). */
static void enable(struct vlapic *v)
{
	wr(v, APIC_SVR, APIC_SVR_ENABLE | 0xff, 0);
}

static void to_x2apic(struct vlapic *v)
{
	assert_int_equal(vlapic_set_apic_base(v, v->apic_base | APIC_BASE_EXTD), 0);
}

static bool irr(const struct vlapic *v, unsigned vec) { return v->irr[vec / 32] >> (vec % 32) & 1; }
static bool isr(const struct vlapic *v, unsigned vec) { return v->isr[vec / 32] >> (vec % 32) & 1; }

/* ---- reset state ---- */

/* SDM 11.4.7.1 power-up values; IA32_APIC_BASE = 0xfee00000 | EN | BSP. */
static void test_reset_values(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;

	assert_int_equal(v->apic_base, 0xfee00900ull);
	assert_int_equal(vlapic_mode(v), VLAPIC_MODE_XAPIC);
	assert_int_equal(rd(v, APIC_ID, 0), 3u << 24);
	assert_int_equal(rd(v, APIC_VER, 0), 0x50014);
	assert_int_equal(rd(v, APIC_TPR, 0), 0);
	assert_int_equal(rd(v, APIC_PPR, 0), 0);
	assert_int_equal(rd(v, APIC_LDR, 0), 0);
	assert_int_equal(rd(v, APIC_DFR, 0), 0xffffffffu);
	assert_int_equal(rd(v, APIC_SVR, 0), 0xff);
	for (uint32_t off = APIC_LVT_TIMER; off <= APIC_LVT_ERROR; off += 0x10)
		assert_int_equal(rd(v, off, 0), APIC_LVT_MASKED);
	assert_int_equal(rd(v, APIC_TMICT, 0), 0);
	assert_int_equal(rd(v, APIC_TMCCT, 0), 0);
	assert_int_equal(rd(v, APIC_TDCR, 0), 0);
	assert_false(v->wait_for_sipi);   /* the BSP runs */
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);

	setup_cfg(f, 1, false);   /* an AP: no BSP flag, waits for SIPI */
	assert_int_equal(f->v.apic_base, 0xfee00800ull);
	assert_true(f->v.wait_for_sipi);
}

/* ---- register semantics (xAPIC) ---- */

static void test_register_rw_masks(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;
	uint32_t val;

	enable(v);
	wr(v, APIC_TPR, 0xfffffff5, 0);
	assert_int_equal(rd(v, APIC_TPR, 0), 0xf5);          /* TPR is 8 bits */
	wr(v, APIC_TPR, 0, 0);
	wr(v, APIC_ID, 0x12345678, 0);
	assert_int_equal(rd(v, APIC_ID, 0), 0x12000000);     /* ID in 31:24 */
	wr(v, APIC_LDR, 0xabcdef01, 0);
	assert_int_equal(rd(v, APIC_LDR, 0), 0xab000000);
	wr(v, APIC_DFR, 0, 0);
	assert_int_equal(rd(v, APIC_DFR, 0), 0x0fffffff);    /* 27:0 read 1s */
	wr(v, APIC_SVR, 0xffffffff, 0);
	assert_int_equal(rd(v, APIC_SVR, 0), 0x3ff);
	wr(v, APIC_TDCR, 0xffffffff, 0);
	assert_int_equal(rd(v, APIC_TDCR, 0), 0xb);          /* bits 0,1,3 */
	wr(v, APIC_ICR_HI, 0xffffffff, 0);
	assert_int_equal(rd(v, APIC_ICR_HI, 0), 0xff000000);

	/* LVT: delivery status and remote IRR are read-only; the timer has
	 * no delivery mode, polarity or trigger bits. */
	wr(v, APIC_LVT_LINT0, 0xffffffff, 0);
	assert_int_equal(rd(v, APIC_LVT_LINT0, 0), 0x1a7ff);
	wr(v, APIC_LVT_TIMER, 0xffffffff & ~APIC_LVT_TIMER_MODE, 0);
	assert_int_equal(rd(v, APIC_LVT_TIMER, 0), 0x100ff);
	wr(v, APIC_LVT_ERROR, 0xffffffff, 0);
	assert_int_equal(rd(v, APIC_LVT_ERROR, 0), 0x100ff);
	wr(v, APIC_LVT_THERM, 0xffffffff, 0);
	assert_int_equal(rd(v, APIC_LVT_THERM, 0), 0x107ff);

	/* Read-only registers: writes are dropped and reported. */
	assert_int_equal(vlapic_mmio_write(v, APIC_VER, 4, 0, 0), VLAPIC_IGNORED);
	assert_int_equal(rd(v, APIC_VER, 0), 0x50014);
	assert_int_equal(vlapic_mmio_write(v, APIC_PPR, 4, 0, 0xff), VLAPIC_IGNORED);
	assert_int_equal(vlapic_mmio_write(v, APIC_IRR + 0x10, 4, 0, 0xffffffff), VLAPIC_IGNORED);
	assert_int_equal(rd(v, APIC_IRR + 0x10, 0), 0);
	assert_int_equal(vlapic_mmio_write(v, APIC_TMCCT, 4, 0, 5), VLAPIC_IGNORED);
	assert_int_equal(rd(v, APIC_APR, 0), 0);
	/* EOI is write-only: a read is not architectural. */
	assert_int_equal(vlapic_mmio_read(v, APIC_EOI, 4, 0, &val), VLAPIC_IGNORED);
	assert_int_equal(val, 0);
	/* SELF IPI does not exist in xAPIC mode. */
	assert_int_equal(vlapic_mmio_write(v, APIC_SELF_IPI, 4, 0, 0x40), VLAPIC_IGNORED);
	assert_false(irr(v, 0x40));
}

/* Only aligned 32-bit accesses to a register's first dword count. */
static void test_mmio_odd_accesses(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;
	uint32_t val;

	wr(v, APIC_TPR, 0x20, 0);
	assert_int_equal(vlapic_mmio_write(v, APIC_TPR, 1, 0, 0x77), VLAPIC_IGNORED);
	assert_int_equal(vlapic_mmio_write(v, APIC_TPR, 2, 0, 0x77), VLAPIC_IGNORED);
	assert_int_equal(vlapic_mmio_write(v, APIC_TPR, 8, 0, 0x77), VLAPIC_IGNORED);
	assert_int_equal(vlapic_mmio_write(v, APIC_TPR + 4, 4, 0, 0x77), VLAPIC_IGNORED);
	assert_int_equal(vlapic_mmio_write(v, APIC_TPR + 1, 4, 0, 0x77), VLAPIC_IGNORED);
	assert_int_equal(rd(v, APIC_TPR, 0), 0x20);
	assert_int_equal(vlapic_mmio_read(v, APIC_VER, 2, 0, &val), VLAPIC_IGNORED);
	assert_int_equal(val, 0);
	assert_int_equal(vlapic_mmio_read(v, APIC_VER + 8, 4, 0, &val), VLAPIC_IGNORED);
	assert_int_equal(val, 0);
	assert_int_equal(vlapic_mmio_read(v, 0xffc, 4, 0, &val), VLAPIC_IGNORED);
	assert_int_equal(val, 0);
	/* Odd accesses are not "illegal register address" errors. */
	wr(v, APIC_ESR, 0, 0);
	assert_int_equal(rd(v, APIC_ESR, 0), 0);
}

/* SDM 11.5.3: aligned access to a reserved slot sets bit 7; ESR reads
 * what the last write latched; a new error raises the LVT error. */
static void test_esr_semantics(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;
	uint32_t val;

	enable(v);
	wr(v, APIC_LVT_ERROR, 0xfe, 0);
	assert_int_equal(vlapic_mmio_read(v, 0x040, 4, 0, &val), VLAPIC_IGNORED);
	assert_int_equal(val, 0);
	assert_true(irr(v, 0xfe));                       /* error interrupt */
	assert_int_equal(rd(v, APIC_ESR, 0), 0);         /* not latched yet */
	wr(v, APIC_ESR, 0x1234, 0);                      /* value irrelevant */
	assert_int_equal(rd(v, APIC_ESR, 0), APIC_ESR_ILLEGAL_REG);
	assert_int_equal(vlapic_mmio_write(v, APIC_LVT_CMCI, 4, 0, 0), VLAPIC_IGNORED);
	assert_int_equal(vlapic_mmio_write(v, 0x800, 4, 0, 0), VLAPIC_IGNORED);
	vlapic_accept(v, 7, false);                      /* illegal vector */
	assert_int_equal(rd(v, APIC_ESR, 0), APIC_ESR_ILLEGAL_REG);
	wr(v, APIC_ESR, 0, 0);
	assert_int_equal(rd(v, APIC_ESR, 0), APIC_ESR_ILLEGAL_REG | APIC_ESR_RECV_ILLEGAL);
	wr(v, APIC_ESR, 0, 0);
	assert_int_equal(rd(v, APIC_ESR, 0), 0);          /* cleared */

	/* An illegal vector in the LVT error entry itself: no IRR bit below
	 * 16 and no endless error loop. */
	wr(v, APIC_LVT_ERROR, 0x03, 0);
	vlapic_accept(v, 1, false);
	for (unsigned i = 0; i < 16; i++)
		assert_false(irr(v, i));
	wr(v, APIC_ESR, 0, 0);
	assert_int_equal(rd(v, APIC_ESR, 0), APIC_ESR_RECV_ILLEGAL);
}

static void test_illegal_vectors(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	for (unsigned vec = 0; vec < 16; vec++)
		vlapic_accept(v, (uint8_t)vec, false);
	assert_int_equal(vlapic_pending(v), -1);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(v->irr[i], 0);
	vlapic_accept(v, 16, false);   /* the lowest legal vector */
	assert_int_equal(vlapic_pending(v), 16);
	vlapic_ack(v, 5);              /* acking an illegal vector does nothing */
	assert_int_equal(v->isr[0], 0);
}

/* ---- priorities ---- */

/* SDM 11.8.3.1: an interrupt is delivered if its class (7:4) is above
 * PPR's class; PPR = TPR when TPR's class >= the in-service class, else
 * the in-service class with sub-class 0. */
static void test_tpr_ppr(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	vlapic_accept(v, 0x45, false);
	assert_int_equal(vlapic_pending(v), 0x45);
	wr(v, APIC_TPR, 0x50, 0);
	assert_int_equal(vlapic_pending(v), -1);
	wr(v, APIC_TPR, 0x40, 0);         /* same class: blocked */
	assert_int_equal(vlapic_pending(v), -1);
	wr(v, APIC_TPR, 0x4f, 0);
	assert_int_equal(vlapic_pending(v), -1);
	wr(v, APIC_TPR, 0x3f, 0);
	assert_int_equal(vlapic_pending(v), 0x45);
	assert_int_equal(rd(v, APIC_PPR, 0), 0x3f);

	vlapic_ack(v, 0x45);
	assert_false(irr(v, 0x45));
	assert_true(isr(v, 0x45));
	assert_int_equal(rd(v, APIC_PPR, 0), 0x40);   /* ISRV class wins */
	wr(v, APIC_TPR, 0x4a, 0);
	assert_int_equal(rd(v, APIC_PPR, 0), 0x4a);   /* equal class: TPR */
	wr(v, APIC_TPR, 0x9c, 0);
	assert_int_equal(rd(v, APIC_PPR, 0), 0x9c);
	wr(v, APIC_TPR, 0, 0);
	wr(v, APIC_EOI, 0, 0);
	assert_int_equal(rd(v, APIC_PPR, 0), 0);
}

/* Nested interrupts: a higher class preempts, EOI retires the highest
 * ISR bit first (SDM 11.8.4, 11.8.5). */
static void test_nested_eoi_order(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;

	enable(v);
	vlapic_accept(v, 0x30, false);
	vlapic_ack(v, (uint8_t)vlapic_pending(v));
	vlapic_accept(v, 0x31, false);             /* same class as in service */
	assert_int_equal(vlapic_pending(v), -1);
	vlapic_accept(v, 0x50, false);
	assert_int_equal(vlapic_pending(v), 0x50); /* higher class preempts */
	vlapic_ack(v, 0x50);
	vlapic_accept(v, 0x40, false);
	assert_int_equal(vlapic_pending(v), -1);   /* below 0x50 in service */
	assert_int_equal(rd(v, APIC_ISR + 0x10 * (0x50 / 32), 0), 1u << (0x50 % 32));

	wr(v, APIC_EOI, 0, 0);                     /* retires 0x50 */
	assert_false(isr(v, 0x50));
	assert_true(isr(v, 0x30));
	assert_int_equal(vlapic_pending(v), 0x40);
	vlapic_ack(v, 0x40);
	wr(v, APIC_EOI, 0, 0);                     /* retires 0x40 */
	assert_false(isr(v, 0x40));
	assert_int_equal(vlapic_pending(v), -1);   /* 0x31 still behind 0x30 */
	wr(v, APIC_EOI, 0, 0);                     /* retires 0x30 */
	assert_int_equal(vlapic_pending(v), 0x31);
	vlapic_ack(v, 0x31);
	wr(v, APIC_EOI, 0, 0);
	wr(v, APIC_EOI, 0, 0);                     /* nothing in service: no-op */
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(v->isr[i] | v->irr[i], 0);
	assert_int_equal(f->r.neoi, 0);            /* all edge: no EOI messages */
}

/* Level-triggered: TMR set on acceptance, EOI message on EOI (11.8.5). */
static void test_level_eoi_callback(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;

	enable(v);
	vlapic_accept(v, 0x61, true);
	assert_int_equal(rd(v, APIC_TMR + 0x30, 0), 1u << 1);
	vlapic_accept(v, 0x70, false);
	vlapic_ack(v, 0x70);
	vlapic_ack(v, 0x61);   /* ack of a non-highest vector is still honoured */
	wr(v, APIC_EOI, 0, 0); /* 0x70, edge */
	assert_int_equal(f->r.neoi, 0);
	wr(v, APIC_EOI, 0, 0); /* 0x61, level */
	assert_int_equal(f->r.neoi, 1);
	assert_int_equal(f->r.eoi[0], 0x61);
	/* The same vector accepted edge-triggered clears TMR again. */
	vlapic_accept(v, 0x61, false);
	assert_int_equal(rd(v, APIC_TMR + 0x30, 0), 0);
	vlapic_ack(v, 0x61);
	wr(v, APIC_EOI, 0, 0);
	assert_int_equal(f->r.neoi, 1);
}

/* SDM 11.4.7.2: software-disabled: LVTs masked and stay masked, fixed
 * interrupts are not accepted, what is already pending is held. */
static void test_software_disable(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	vlapic_accept(v, 0x40, false);          /* reset: SVR.8 = 0 */
	assert_int_equal(vlapic_pending(v), -1);
	wr(v, APIC_LVT_TIMER, 0x40, 0);
	assert_int_equal(rd(v, APIC_LVT_TIMER, 0), APIC_LVT_MASKED | 0x40);

	enable(v);
	wr(v, APIC_LVT_TIMER, 0x40, 0);
	wr(v, APIC_LVT_LINT0, APIC_LVT_DM_EXTINT, 0);
	assert_int_equal(rd(v, APIC_LVT_TIMER, 0), 0x40);
	vlapic_accept(v, 0x80, false);

	wr(v, APIC_SVR, 0xff, 0);               /* software-disable */
	assert_int_equal(rd(v, APIC_LVT_TIMER, 0), APIC_LVT_MASKED | 0x40);
	assert_int_equal(rd(v, APIC_LVT_LINT0, 0), APIC_LVT_MASKED | APIC_LVT_DM_EXTINT);
	assert_int_equal(vlapic_pending(v), 0x80);   /* held */
	vlapic_accept(v, 0x90, false);
	assert_false(irr(v, 0x90));
}

/* ---- timer (SDM 11.5.4) ---- */

static void test_timer_oneshot(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	wr(v, APIC_TDCR, 0xb, 0);                 /* divide by 1 */
	wr(v, APIC_LVT_TIMER, 0x40, 0);           /* one-shot, unmasked */
	wr(v, APIC_TMICT, 100, 1000);             /* 100 counts = 1000 TSC */
	assert_int_equal(vlapic_timer_deadline(v), 2000);
	assert_int_equal(rd(v, APIC_TMCCT, 1000), 100);
	assert_int_equal(rd(v, APIC_TMCCT, 1500), 50);
	assert_int_equal(rd(v, APIC_TMCCT, 1509), 50);
	assert_int_equal(rd(v, APIC_TMCCT, 1510), 49);
	assert_int_equal(rd(v, APIC_TMCCT, 1999), 1);
	vlapic_timer_update(v, 1999);
	assert_false(irr(v, 0x40));
	vlapic_timer_update(v, 2000);
	assert_true(irr(v, 0x40));
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	assert_int_equal(rd(v, APIC_TMCCT, 2500), 0);
	assert_int_equal(rd(v, APIC_TMICT, 2500), 100);   /* TMICT keeps its value */
	vlapic_ack(v, 0x40);
	wr(v, APIC_EOI, 0, 3000);
	vlapic_timer_update(v, 100000);
	assert_int_equal(vlapic_pending(v), -1);          /* fired once */

	/* Re-writing TMICT restarts; 0 stops. */
	wr(v, APIC_TMICT, 10, 5000);
	assert_int_equal(vlapic_timer_deadline(v), 5100);
	wr(v, APIC_TMICT, 0, 5050);
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	vlapic_timer_update(v, 6000);
	assert_int_equal(vlapic_pending(v), -1);
}

/* An expiry is seen by any access that carries `now`, even without
 * vlapic_timer_update: reading TMCCT after the deadline fires it. */
static void test_timer_fires_on_access(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	wr(v, APIC_TDCR, 0xb, 0);
	wr(v, APIC_LVT_TIMER, 0x41, 0);
	wr(v, APIC_TMICT, 5, 0);
	assert_int_equal(rd(v, APIC_TMCCT, 60), 0);
	assert_int_equal(vlapic_pending(v), 0x41);
}

static void test_timer_periodic(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	wr(v, APIC_TDCR, 0xb, 0);
	wr(v, APIC_LVT_TIMER, APIC_TIMER_PERIODIC | 0x40, 0);
	wr(v, APIC_TMICT, 100, 1000);
	vlapic_timer_update(v, 2000);
	assert_int_equal(vlapic_pending(v), 0x40);
	assert_int_equal(vlapic_timer_deadline(v), 3000);      /* re-armed */
	assert_int_equal(rd(v, APIC_TMCCT, 2000), 100);        /* reloaded */
	assert_int_equal(rd(v, APIC_TMCCT, 2250), 75);
	vlapic_ack(v, 0x40);
	wr(v, APIC_EOI, 0, 2300);
	vlapic_timer_update(v, 3500);                          /* late */
	assert_int_equal(vlapic_pending(v), 0x40);
	assert_int_equal(vlapic_timer_deadline(v), 4000);      /* no drift */
	vlapic_ack(v, 0x40);
	wr(v, APIC_EOI, 0, 3600);
	/* Many periods missed: one interrupt, next deadline on the grid. */
	vlapic_timer_update(v, 10500);
	assert_int_equal(vlapic_pending(v), 0x40);
	assert_int_equal(vlapic_timer_deadline(v), 11000);
	assert_int_equal(rd(v, APIC_TMCCT, 10500), 50);
	/* Periodic -> one-shot: keeps counting, stops after this period. */
	wr(v, APIC_LVT_TIMER, 0x40, 10600);
	assert_int_equal(vlapic_timer_deadline(v), 11000);
	vlapic_ack(v, 0x40);
	wr(v, APIC_EOI, 0, 10600);
	vlapic_timer_update(v, 11000);
	assert_int_equal(vlapic_pending(v), 0x40);
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
}

/* Divide configuration (SDM figure 11-10): bits 3,1,0 = 000 -> 2,
 * 001 -> 4, 010 -> 8, 011 -> 16, 100 -> 32, 101 -> 64, 110 -> 128,
 * 111 -> 1.  After 100 * div bus cycles (10 TSC each) 100 counts passed. */
static void test_timer_divide(void **state)
{
	static const struct { uint32_t dcr; uint32_t div; } tab[] = {
		{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
	};
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	wr(v, APIC_LVT_TIMER, 0x40, 0);
	for (unsigned i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		uint64_t t0 = 1000000ull * i;
		uint64_t per_count = 10ull * tab[i].div;

		wr(v, APIC_TDCR, tab[i].dcr, t0);
		wr(v, APIC_TMICT, 1000, t0);
		assert_int_equal(rd(v, APIC_TMCCT, t0 + 100 * per_count), 900);
		assert_int_equal(rd(v, APIC_TMCCT, t0 + 100 * per_count - 1), 901);
		assert_int_equal(vlapic_timer_deadline(v), t0 + 1000 * per_count);
	}
	/* Changing the divider mid-count continues from the current value. */
	wr(v, APIC_TDCR, 0xb, 0);
	wr(v, APIC_TMICT, 1000, 0);                 /* 10 TSC per count */
	wr(v, APIC_TDCR, 0x0, 5000);                /* 500 left, now 20 per count */
	assert_int_equal(rd(v, APIC_TMCCT, 5000), 500);
	assert_int_equal(rd(v, APIC_TMCCT, 7000), 400);
	assert_int_equal(vlapic_timer_deadline(v), 5000 + 500 * 20);
}

/* SDM 11.5.4.1 TSC-deadline mode. */
static void test_timer_tsc_deadline(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	/* Not in deadline mode: the MSR reads 0 and ignores writes. */
	vlapic_set_tsc_deadline(v, 0, 5000);
	assert_int_equal(vlapic_get_tsc_deadline(v), 0);

	wr(v, APIC_TMICT, 100, 0);                  /* running one-shot... */
	wr(v, APIC_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | 0x42, 10);
	assert_int_equal(rd(v, APIC_TMICT, 10), 0); /* ...disarmed by the switch */
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	wr(v, APIC_TMICT, 100, 20);                 /* ignored in this mode */
	assert_int_equal(rd(v, APIC_TMICT, 20), 0);
	assert_int_equal(rd(v, APIC_TMCCT, 20), 0);

	vlapic_set_tsc_deadline(v, 100, 5000);
	assert_int_equal(vlapic_get_tsc_deadline(v), 5000);
	assert_int_equal(vlapic_timer_deadline(v), 5000);
	vlapic_timer_update(v, 4999);
	assert_int_equal(vlapic_pending(v), -1);
	vlapic_timer_update(v, 5000);
	assert_int_equal(vlapic_pending(v), 0x42);
	assert_int_equal(vlapic_get_tsc_deadline(v), 0);   /* cleared on expiry */
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	vlapic_ack(v, 0x42);
	wr(v, APIC_EOI, 0, 5001);

	/* A deadline in the past fires at once; writing 0 disarms. */
	vlapic_set_tsc_deadline(v, 6000, 5500);
	assert_int_equal(vlapic_pending(v), 0x42);
	vlapic_ack(v, 0x42);
	wr(v, APIC_EOI, 0, 6000);
	vlapic_set_tsc_deadline(v, 6000, 9000);
	vlapic_set_tsc_deadline(v, 6001, 0);
	vlapic_timer_update(v, 10000);
	assert_int_equal(vlapic_pending(v), -1);

	/* Leaving deadline mode disarms too. */
	vlapic_set_tsc_deadline(v, 10000, 20000);
	wr(v, APIC_LVT_TIMER, 0x42, 10001);
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	vlapic_timer_update(v, 30000);
	assert_int_equal(vlapic_pending(v), -1);
}

/* A masked LVT timer runs but delivers nothing (SDM 11.5.1). */
static void test_timer_masked(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	enable(v);
	wr(v, APIC_TDCR, 0xb, 0);
	wr(v, APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_PERIODIC | 0x40, 0);
	wr(v, APIC_TMICT, 10, 0);
	vlapic_timer_update(v, 100);
	assert_int_equal(vlapic_pending(v), -1);
	assert_int_equal(vlapic_timer_deadline(v), 200);   /* still periodic */
	wr(v, APIC_LVT_TIMER, APIC_LVT_MASKED | APIC_TIMER_TSC_DEADLINE | 0x40, 150);
	vlapic_set_tsc_deadline(v, 150, 300);
	vlapic_timer_update(v, 300);
	assert_int_equal(vlapic_pending(v), -1);
	assert_int_equal(vlapic_get_tsc_deadline(v), 0);
}

/* Extreme clocks: conversions saturate instead of wrapping. */
static void test_timer_saturation(void **state)
{
	struct fix *f = *state;
	struct vlapic_config cfg = { .apic_id = 0, .bsp = true, .tsc_hz = 1ull << 48, .bus_hz = 1 };
	struct vlapic *v = &f->v;

	vlapic_init(v, &cfg);
	enable(v);
	wr(v, APIC_LVT_TIMER, 0x40, 0);
	wr(v, APIC_TDCR, 0xa, 0);                         /* divide by 128 */
	wr(v, APIC_TMICT, 0xffffffff, UINT64_MAX - 5);
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	assert_int_equal(rd(v, APIC_TMCCT, UINT64_MAX), 0xffffffff);
}

/* ---- IA32_APIC_BASE (SDM 11.12.5) ---- */

static uint64_t base_for(enum vlapic_mode m)
{
	uint64_t b = APIC_DEFAULT_BASE | APIC_BASE_BSP;

	if (m != VLAPIC_MODE_DISABLED)
		b |= APIC_BASE_EN;
	if (m == VLAPIC_MODE_X2APIC)
		b |= APIC_BASE_EXTD;
	return b;
}

static void go_to(struct vlapic *v, enum vlapic_mode m)
{
	if (vlapic_mode(v) == m)
		return;
	if (m == VLAPIC_MODE_X2APIC && vlapic_mode(v) == VLAPIC_MODE_DISABLED)
		assert_int_equal(vlapic_set_apic_base(v, base_for(VLAPIC_MODE_XAPIC)), 0);
	if (m == VLAPIC_MODE_XAPIC && vlapic_mode(v) == VLAPIC_MODE_X2APIC)
		assert_int_equal(vlapic_set_apic_base(v, base_for(VLAPIC_MODE_DISABLED)), 0);
	assert_int_equal(vlapic_set_apic_base(v, base_for(m)), 0);
	assert_int_equal(vlapic_mode(v), m);
}

static void test_apic_base_transitions(void **state)
{
	/* from x to: disabled, invalid (EN=0 EXTD=1), xAPIC, x2APIC */
	static const struct { enum vlapic_mode from; int to_dis, to_inv, to_x, to_x2; } tab[] = {
		{ VLAPIC_MODE_DISABLED, 0, -1, 0, -1 },
		{ VLAPIC_MODE_XAPIC,    0, -1, 0, 0 },
		{ VLAPIC_MODE_X2APIC,   0, -1, -1, 0 },
	};
	struct fix *f = *state;
	struct vlapic *v = &f->v;

	for (unsigned i = 0; i < 3; i++) {
		setup_cfg(f, 3, true);
		go_to(v, tab[i].from);
		assert_int_equal(vlapic_set_apic_base(v, (base_for(tab[i].from) & ~APIC_BASE_EN) |
						      APIC_BASE_EXTD), tab[i].to_inv);
		assert_int_equal(vlapic_mode(v), tab[i].from);
		assert_int_equal(vlapic_set_apic_base(v, base_for(VLAPIC_MODE_XAPIC)), tab[i].to_x);
		setup_cfg(f, 3, true);
		go_to(v, tab[i].from);
		assert_int_equal(vlapic_set_apic_base(v, base_for(VLAPIC_MODE_X2APIC)), tab[i].to_x2);
		setup_cfg(f, 3, true);
		go_to(v, tab[i].from);
		assert_int_equal(vlapic_set_apic_base(v, base_for(VLAPIC_MODE_DISABLED)), tab[i].to_dis);
		assert_int_equal(vlapic_mode(v), VLAPIC_MODE_DISABLED);
	}
}

static void test_apic_base_reserved_bits(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;
	uint64_t b = v->apic_base;

	assert_int_equal(vlapic_set_apic_base(v, b | 1), -1);
	assert_int_equal(vlapic_set_apic_base(v, b | 0x80), -1);
	assert_int_equal(vlapic_set_apic_base(v, b | 1ull << 9), -1);
	assert_int_equal(vlapic_set_apic_base(v, b | 1ull << 39), -1);  /* MAXPHYADDR 39 */
	assert_int_equal(vlapic_set_apic_base(v, b | 1ull << 63), -1);
	assert_int_equal(v->apic_base, b);
	/* Relocation and BSP flag are allowed. */
	assert_int_equal(vlapic_set_apic_base(v, 0x7ffff000ull | APIC_BASE_EN), 0);
	assert_int_equal(vlapic_mmio_base(v), 0x7ffff000ull);
	assert_int_equal(vlapic_set_apic_base(v, ((1ull << 39) - 0x1000) | APIC_BASE_EN), 0);

	/* Without CPUID x2APIC, EXTD is reserved. */
	struct vlapic_config cfg = { .apic_id = 1, .bsp = true };
	vlapic_init(v, &cfg);
	assert_int_equal(vlapic_set_apic_base(v, v->apic_base | APIC_BASE_EXTD), -1);
	assert_int_equal(vlapic_set_apic_base(v, 0xfee00000ull | 1ull << 36 | APIC_BASE_EN), -1);
}

/* Disabling loses all state but the IDs (SDM 11.12.5.1); MMIO is then not
 * decoded; accept/pending/timer do nothing. */
static void test_apic_disable_resets(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;
	uint32_t val;

	enable(v);
	wr(v, APIC_ID, 0x07000000, 0);
	wr(v, APIC_TPR, 0x20, 0);
	wr(v, APIC_LDR, 0x01000000, 0);
	wr(v, APIC_LVT_TIMER, 0x40, 0);
	wr(v, APIC_TMICT, 1000, 0);
	vlapic_accept(v, 0x50, true);
	assert_int_equal(vlapic_set_apic_base(v, APIC_DEFAULT_BASE | APIC_BASE_BSP), 0);
	assert_int_equal(vlapic_mmio_read(v, APIC_TPR, 4, 0, &val), VLAPIC_NOT_DECODED);
	assert_int_equal(vlapic_mmio_write(v, APIC_TPR, 4, 0, 1), VLAPIC_NOT_DECODED);
	assert_int_equal(vlapic_pending(v), -1);
	assert_int_equal(vlapic_timer_deadline(v), UINT64_MAX);
	vlapic_accept(v, 0x60, false);
	assert_false(vlapic_match_dest(v, 0xff, false));
	assert_true(vlapic_accepts_pic_intr(v));

	assert_int_equal(vlapic_set_apic_base(v, APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN), 0);
	assert_int_equal(rd(v, APIC_ID, 0), 0x07000000);   /* ID kept */
	assert_int_equal(rd(v, APIC_TPR, 0), 0);
	assert_int_equal(rd(v, APIC_LDR, 0), 0);
	assert_int_equal(rd(v, APIC_SVR, 0), 0xff);
	assert_int_equal(rd(v, APIC_LVT_TIMER, 0), APIC_LVT_MASKED);
	assert_int_equal(rd(v, APIC_TMICT, 0), 0);
	assert_int_equal(vlapic_pending(v), -1);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(v->irr[i] | v->isr[i] | v->tmr[i], 0);
}

/* xAPIC ID vs x2APIC ID formats, logical x2APIC ID (SDM 11.12.10.2). */
static void test_x2apic_ids(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;
	uint64_t val;

	setup_cfg(f, 0x123, true);
	assert_int_equal(rd(v, APIC_ID, 0), 0x23000000);   /* low 8 bits */
	assert_int_equal(vlapic_id(v), 0x23);
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_ID), 0, &val), -1);  /* not yet */
	to_x2apic(v);
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_ID), 0, &val), 0);
	assert_int_equal(val, 0x123);
	assert_int_equal(vlapic_id(v), 0x123);
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_LDR), 0, &val), 0);
	assert_int_equal(val, (0x12u << 16) | (1u << 3));
	/* INIT keeps x2APIC mode, the ID and the derived LDR. */
	vlapic_init_reset(v);
	assert_int_equal(vlapic_mode(v), VLAPIC_MODE_X2APIC);
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_LDR), 0, &val), 0);
	assert_int_equal(val, (0x12u << 16) | (1u << 3));
	/* Through disabled back to xAPIC: the 8-bit ID is still there. */
	assert_int_equal(vlapic_set_apic_base(v, APIC_DEFAULT_BASE | APIC_BASE_BSP), 0);
	assert_int_equal(vlapic_set_apic_base(v, APIC_DEFAULT_BASE | APIC_BASE_EN), 0);
	assert_int_equal(rd(v, APIC_ID, 0), 0x23000000);
	assert_int_equal(rd(v, APIC_LDR, 0), 0);
}

/* ---- x2APIC MSR interface (SDM 11.12.1.2) ---- */

static void test_x2apic_msr_gp(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;
	uint64_t val;

	/* Not in x2APIC mode: every x2APIC MSR faults. */
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_VER), 0, &val), -1);
	assert_int_equal(vlapic_msr_write(v, X2APIC_MSR(APIC_TPR), 0, 0), -1);
	to_x2apic(v);
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_VER), 0, &val), 0);
	assert_int_equal(val, 0x50014);
	/* MMIO is gone. */
	assert_int_equal(vlapic_mmio_read(v, APIC_VER, 4, 0, (uint32_t *)&val), VLAPIC_NOT_DECODED);

	/* Reserved MSRs. */
	static const uint32_t reserved[] = { 0x800, 0x801, 0x804, 0x809 /* APR */, 0x80c /* RRD */,
		0x80e /* DFR */, 0x829, 0x82f /* CMCI */, 0x831 /* ICR high */, 0x83a, 0x83d,
		0x840, 0x8ff };
	for (unsigned i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		assert_int_equal(vlapic_msr_read(v, reserved[i], 0, &val), -1);
		assert_int_equal(vlapic_msr_write(v, reserved[i], 0, 0), -1);
	}
	/* Outside the range. */
	assert_int_equal(vlapic_msr_read(v, 0x7ff, 0, &val), -1);
	assert_int_equal(vlapic_msr_read(v, 0x900, 0, &val), -1);

	/* Read-only registers. */
	static const uint32_t ro[] = { 0x802, 0x803, 0x80a, 0x80d, 0x810, 0x817, 0x818,
		0x820, 0x827, 0x839 };
	for (unsigned i = 0; i < sizeof ro / sizeof ro[0]; i++) {
		assert_int_equal(vlapic_msr_read(v, ro[i], 0, &val), 0);
		assert_int_equal(vlapic_msr_write(v, ro[i], 0, 0), -1);
	}
	/* Write-only registers. */
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_EOI), 0, &val), -1);
	assert_int_equal(vlapic_msr_read(v, X2APIC_MSR(APIC_SELF_IPI), 0, &val), -1);

	/* Reserved bits. */
	assert_int_equal(vlapic_msr_write(v, 0x808, 0, 0x100), -1);            /* TPR 31:8 */
	assert_int_equal(vlapic_msr_write(v, 0x808, 0, 1ull << 32), -1);      /* 63:32 */
	assert_int_equal(vlapic_msr_write(v, 0x808, 0, 0xff), 0);
	assert_int_equal(vlapic_msr_write(v, 0x80b, 0, 1), -1);               /* EOI != 0 */
	assert_int_equal(vlapic_msr_write(v, 0x80b, 0, 0), 0);
	assert_int_equal(vlapic_msr_write(v, 0x828, 0, 1), -1);               /* ESR != 0 */
	assert_int_equal(vlapic_msr_write(v, 0x828, 0, 0), 0);
	assert_int_equal(vlapic_msr_write(v, 0x80f, 0, 0x1000 | 0x1ff), -1);  /* SVR bit 12 */
	assert_int_equal(vlapic_msr_write(v, 0x80f, 0, 0x1ff), 0);
	assert_int_equal(vlapic_msr_write(v, 0x83e, 0, 0x4), -1);             /* TDCR bit 2 */
	assert_int_equal(vlapic_msr_write(v, 0x83e, 0, 0xb), 0);
	assert_int_equal(vlapic_msr_write(v, 0x832, 0, 1u << 13), -1);        /* timer has no polarity */
	assert_int_equal(vlapic_msr_write(v, 0x832, 0, 1u << 12 | 0x40), 0);  /* status: RO, ignored */
	assert_int_equal(vlapic_msr_read(v, 0x832, 0, &val), 0);
	assert_int_equal(val, 0x40);
	assert_int_equal(vlapic_msr_write(v, 0x837, 0, 0x700), -1);           /* error LVT: no DM */
	assert_int_equal(vlapic_msr_write(v, 0x83f, 0, 0x100), -1);           /* SELF IPI 31:8 */
	assert_int_equal(vlapic_msr_write(v, 0x830, 0, 1u << 13), -1);        /* ICR bit 13 */
	assert_int_equal(vlapic_msr_write(v, 0x830, 0, 1u << 16), -1);        /* ICR bit 16 */
	assert_int_equal(vlapic_msr_write(v, 0x830, 0, 1u << 20), -1);        /* ICR bit 20 */
	assert_int_equal(vlapic_msr_write(v, 0x838, 0, 0xffffffff), 0);       /* TMICT all 32 */
}

/* ---- IPIs (SDM 11.6.1) ---- */

static void test_icr_xapic(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;
	struct ipi *p;

	enable(v);
	wr(v, APIC_ICR_HI, 0x05000000, 0);
	assert_int_equal(f->r.nipi, 0);          /* the high half does not send */
	wr(v, APIC_ICR_LO, 0x00004031, 0);       /* fixed, physical, assert, vec 0x31 */
	assert_int_equal(f->r.nipi, 1);
	p = &f->r.ipi[0];
	assert_int_equal(p->dest, 5);
	assert_int_equal(p->shorthand, APIC_SH_NONE);
	assert_int_equal(p->mode, APIC_DM_FIXED);
	assert_int_equal(p->vector, 0x31);
	assert_false(p->logical);
	assert_true(p->assert);
	assert_false(p->level);
	assert_int_equal(rd(v, APIC_ICR_LO, 0) & APIC_ICR_BUSY, 0);   /* idle */
	assert_int_equal(rd(v, APIC_ICR_LO, 0), 0x4031);

	/* Each shorthand. */
	for (uint32_t sh = 0; sh < 4; sh++) {
		wr(v, APIC_ICR_LO, sh << 18 | 0x4032, 0);
		assert_int_equal(f->r.ipi[f->r.nipi - 1].shorthand, sh);
	}
	/* The INIT-SIPI-SIPI sequence as Linux sends it. */
	wr(v, APIC_ICR_HI, 0x02000000, 0);
	wr(v, APIC_ICR_LO, 0x0000c500, 0);       /* INIT, level, assert */
	p = &f->r.ipi[f->r.nipi - 1];
	assert_int_equal(p->mode, APIC_DM_INIT);
	assert_true(p->level);
	assert_true(p->assert);
	assert_int_equal(p->dest, 2);
	wr(v, APIC_ICR_LO, 0x00008500, 0);       /* INIT level de-assert */
	p = &f->r.ipi[f->r.nipi - 1];
	assert_int_equal(p->mode, APIC_DM_INIT);
	assert_false(p->assert);
	wr(v, APIC_ICR_LO, 0x0000069a, 0);       /* SIPI vector 0x9a */
	p = &f->r.ipi[f->r.nipi - 1];
	assert_int_equal(p->mode, APIC_DM_SIPI);
	assert_int_equal(p->vector, 0x9a);
	/* NMI to all-but-self, logical lowest priority, SMI. */
	wr(v, APIC_ICR_LO, 3u << 18 | 0x4400, 0);
	assert_int_equal(f->r.ipi[f->r.nipi - 1].mode, APIC_DM_NMI);
	wr(v, APIC_ICR_HI, 0x0f000000, 0);
	wr(v, APIC_ICR_LO, 0x4941, 0);
	p = &f->r.ipi[f->r.nipi - 1];
	assert_int_equal(p->mode, APIC_DM_LOWEST);
	assert_true(p->logical);
	assert_int_equal(p->dest, 0x0f);
	wr(v, APIC_ICR_LO, 0x4200, 0);
	assert_int_equal(f->r.ipi[f->r.nipi - 1].mode, APIC_DM_SMI);

	/* Illegal vector in a fixed IPI: not sent, ESR "send illegal". */
	unsigned n = f->r.nipi;
	wr(v, APIC_ICR_LO, 0x400f, 0);
	assert_int_equal(f->r.nipi, n);
	wr(v, APIC_ESR, 0, 0);
	assert_int_equal(rd(v, APIC_ESR, 0), APIC_ESR_SEND_ILLEGAL);
	/* ... but NMI/INIT don't use the vector. */
	wr(v, APIC_ICR_LO, 0x4405, 0);
	assert_int_equal(f->r.nipi, n + 1);
	/* Reserved delivery modes send nothing. */
	wr(v, APIC_ICR_LO, 0x4340, 0);
	wr(v, APIC_ICR_LO, 0x4740, 0);
	assert_int_equal(f->r.nipi, n + 1);
	/* Reserved ICR bits are dropped in xAPIC mode. */
	wr(v, APIC_ICR_LO, 0xfffb3040, 0);   /* + bits 12, 13, 16, 17, 20-31 */
	assert_int_equal(rd(v, APIC_ICR_LO, 0), 0x00080040);
}

static void test_icr_x2apic_and_self_ipi(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;
	uint64_t val;

	enable(v);
	to_x2apic(v);
	assert_int_equal(vlapic_msr_write(v, 0x830, 0, 0x12345678ull << 32 | 0x4851), 0);
	assert_int_equal(f->r.nipi, 1);
	assert_int_equal(f->r.ipi[0].dest, 0x12345678);
	assert_true(f->r.ipi[0].logical);
	assert_int_equal(f->r.ipi[0].vector, 0x51);
	assert_int_equal(vlapic_msr_read(v, 0x830, 0, &val), 0);
	assert_int_equal(val, 0x12345678ull << 32 | 0x4851);
	/* Delivery status: ignored on write, reads idle. */
	assert_int_equal(vlapic_msr_write(v, 0x830, 0, 1ull << 32 | 0x5051), 0);
	assert_int_equal(vlapic_msr_read(v, 0x830, 0, &val), 0);
	assert_int_equal(val, 1ull << 32 | 0x4051);
	assert_int_equal(f->r.ipi[1].dest, 1);

	/* SELF IPI: fixed, edge, to ourselves, locally. */
	assert_int_equal(vlapic_msr_write(v, 0x83f, 0, 0x77), 0);
	assert_int_equal(f->r.nipi, 2);
	assert_int_equal(vlapic_pending(v), 0x77);
	assert_int_equal(vlapic_msr_read(v, 0x817, 0, &val), 0);   /* ISR 0xe0-0xff */
	assert_int_equal(vlapic_msr_read(v, 0x823, 0, &val), 0);   /* IRR 0x60-0x7f */
	assert_int_equal(val, 1u << 0x17);
	assert_int_equal(vlapic_msr_write(v, 0x83f, 0, 0x0e), 0);
	assert_int_equal(vlapic_msr_write(v, 0x828, 0, 0), 0);
	assert_int_equal(vlapic_msr_read(v, 0x828, 0, &val), 0);
	assert_int_equal(val, APIC_ESR_SEND_ILLEGAL);
	/* EOI via MSR. */
	vlapic_ack(v, 0x77);
	assert_int_equal(vlapic_msr_write(v, 0x80b, 0, 0), 0);
	assert_int_equal(vlapic_msr_read(v, 0x813, 0, &val), 0);   /* ISR 0x60-0x7f */
	assert_int_equal(val, 0);
}

/* ---- destination matching (SDM 11.6.2) ---- */

static void test_match_dest(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;

	setup_cfg(f, 0x21, false);
	/* Physical, xAPIC. */
	assert_true(vlapic_match_dest(v, 0x21, false));
	assert_false(vlapic_match_dest(v, 0x22, false));
	assert_true(vlapic_match_dest(v, 0xff, false));
	assert_true(vlapic_match_dest(v, 0xffffff21, false));   /* 8 bits count */
	/* Logical flat: LDR bit 0 set. */
	wr(v, APIC_LDR, 0x01000000, 0);
	assert_true(vlapic_match_dest(v, 0x01, true));
	assert_true(vlapic_match_dest(v, 0x03, true));
	assert_false(vlapic_match_dest(v, 0x02, true));
	assert_false(vlapic_match_dest(v, 0x00, true));
	assert_true(vlapic_match_dest(v, 0xff, true));
	/* Logical cluster: cluster 2, member bit 0. */
	wr(v, APIC_DFR, 0x0fffffff, 0);
	wr(v, APIC_LDR, 0x21000000, 0);
	assert_true(vlapic_match_dest(v, 0x21, true));
	assert_true(vlapic_match_dest(v, 0x2f, true));
	assert_false(vlapic_match_dest(v, 0x22, true));
	assert_false(vlapic_match_dest(v, 0x11, true));
	assert_false(vlapic_match_dest(v, 0x01, true));
	assert_true(vlapic_match_dest(v, 0xff, true));
	/* Reserved DFR model. */
	wr(v, APIC_DFR, 0x5fffffff, 0);
	assert_false(vlapic_match_dest(v, 0x21, true));

	/* x2APIC: physical 32-bit, logical cluster 2 / bit 1. */
	to_x2apic(v);
	assert_true(vlapic_match_dest(v, 0x21, false));
	assert_false(vlapic_match_dest(v, 0x121, false));
	assert_false(vlapic_match_dest(v, 0xff, false));
	assert_true(vlapic_match_dest(v, 0xffffffff, false));
	assert_true(vlapic_match_dest(v, 0x00020002, true));
	assert_true(vlapic_match_dest(v, 0x0002ffff, true));
	assert_false(vlapic_match_dest(v, 0x00020001, true));
	assert_false(vlapic_match_dest(v, 0x00010002, true));
	assert_true(vlapic_match_dest(v, 0xffffffff, true));
	/* A software-disabled APIC still matches (INIT/SIPI must reach it). */
	assert_true(vlapic_match_dest(v, 0x21, false));
}

/* ---- INIT / SIPI (SDM 8.4, 11.4.7.3) ---- */

static void test_init_sipi(void **state)
{
	struct fix *f = *state;
	struct vlapic *v = &f->v;

	setup_cfg(f, 2, false);
	assert_true(v->wait_for_sipi);
	enable(v);
	wr(v, APIC_ID, 0x09000000, 0);
	wr(v, APIC_TPR, 0x30, 0);
	wr(v, APIC_LVT_TIMER, 0x40, 0);
	vlapic_accept(v, 0x50, false);
	assert_true(vlapic_sipi(v, 0x9a));
	assert_false(v->wait_for_sipi);
	assert_int_equal(v->sipi_vector, 0x9a);
	assert_false(vlapic_sipi(v, 0x10));          /* not waiting: ignored */
	assert_int_equal(v->sipi_vector, 0x9a);

	vlapic_init_reset(v);
	assert_true(v->wait_for_sipi);
	assert_int_equal(rd(v, APIC_ID, 0), 0x09000000);   /* ID survives INIT */
	assert_int_equal(rd(v, APIC_TPR, 0), 0);
	assert_int_equal(rd(v, APIC_SVR, 0), 0xff);
	assert_int_equal(rd(v, APIC_LVT_TIMER, 0), APIC_LVT_MASKED);
	assert_int_equal(vlapic_pending(v), -1);
	assert_int_equal(v->apic_base, 0xfee00800ull);

	setup_cfg(f, 0, true);                       /* the BSP does not wait */
	vlapic_init_reset(v);
	assert_false(v->wait_for_sipi);
	assert_false(vlapic_sipi(v, 0x9a));
}

static void test_pic_intr_and_names(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;

	assert_false(vlapic_accepts_pic_intr(v));          /* LINT0 masked at reset */
	enable(v);
	wr(v, APIC_LVT_LINT0, APIC_LVT_DM_EXTINT, 0);
	assert_true(vlapic_accepts_pic_intr(v));
	wr(v, APIC_LVT_LINT0, APIC_LVT_DM_EXTINT | APIC_LVT_MASKED, 0);
	assert_false(vlapic_accepts_pic_intr(v));
	assert_string_equal(vlapic_reg_name(APIC_TPR), "TPR");
	assert_string_equal(vlapic_reg_name(APIC_IRR + 0x70), "IRR");
	assert_string_equal(vlapic_reg_name(0x040), "reserved");
	assert_string_equal(vlapic_reg_name(0xff0), "reserved");
}

/* No callbacks at all: IPIs and level EOIs go nowhere, nothing crashes. */
static void test_no_ops(void **state)
{
	struct vlapic *v = &((struct fix *)*state)->v;
	struct vlapic_config cfg = { .apic_id = 0, .bsp = true };

	vlapic_init(v, &cfg);
	enable(v);
	wr(v, APIC_ICR_LO, 0x4040, 0);
	vlapic_accept(v, 0x40, true);
	vlapic_ack(v, 0x40);
	wr(v, APIC_EOI, 0, 0);
	assert_int_equal(vlapic_pending(v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reset_values, setup),
		cmocka_unit_test_setup(test_register_rw_masks, setup),
		cmocka_unit_test_setup(test_mmio_odd_accesses, setup),
		cmocka_unit_test_setup(test_esr_semantics, setup),
		cmocka_unit_test_setup(test_illegal_vectors, setup),
		cmocka_unit_test_setup(test_tpr_ppr, setup),
		cmocka_unit_test_setup(test_nested_eoi_order, setup),
		cmocka_unit_test_setup(test_level_eoi_callback, setup),
		cmocka_unit_test_setup(test_software_disable, setup),
		cmocka_unit_test_setup(test_timer_oneshot, setup),
		cmocka_unit_test_setup(test_timer_fires_on_access, setup),
		cmocka_unit_test_setup(test_timer_periodic, setup),
		cmocka_unit_test_setup(test_timer_divide, setup),
		cmocka_unit_test_setup(test_timer_tsc_deadline, setup),
		cmocka_unit_test_setup(test_timer_masked, setup),
		cmocka_unit_test_setup(test_timer_saturation, setup),
		cmocka_unit_test_setup(test_apic_base_transitions, setup),
		cmocka_unit_test_setup(test_apic_base_reserved_bits, setup),
		cmocka_unit_test_setup(test_apic_disable_resets, setup),
		cmocka_unit_test_setup(test_x2apic_ids, setup),
		cmocka_unit_test_setup(test_x2apic_msr_gp, setup),
		cmocka_unit_test_setup(test_icr_xapic, setup),
		cmocka_unit_test_setup(test_icr_x2apic_and_self_ipi, setup),
		cmocka_unit_test_setup(test_match_dest, setup),
		cmocka_unit_test_setup(test_init_sipi, setup),
		cmocka_unit_test_setup(test_pic_intr_and_names, setup),
		cmocka_unit_test_setup(test_no_ops, setup),
	};

	return cmocka_run_group_tests_name("vlapic", tests, NULL, NULL);
}
