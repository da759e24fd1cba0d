/*
 * Virtual 8259A pair (see vpic.h).  References: Intel 8259A datasheet
 * (order 231468), "Programming the 8259A" (ICW/OCW formats, priority
 * rotation, special mask mode, poll command).
 *
 * Priorities: with rotation, IR `lowest` has the lowest priority and
 * (lowest + 1) & 7 the highest; after reset lowest = 7, so IR0 is highest.
 * Priority numbers below: 0 = highest, 7 = lowest, 8 = none.
 */
#include "drivers/platform/vpic.h"

#include <string.h>

#define MASTER 0
#define SLAVE  1

/* IRQs that can never be level-triggered (PIIX ELCR: 0, 1, 2; 8, 13). */
static const uint8_t elcr_writable[2] = { 0xf8, 0xde };

static uint8_t level_mask(const struct vpic_chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

/* IRR as the datasheet defines it: edge latches, level lines. */
static uint8_t chip_irr(const struct vpic_chip *c)
{
	uint8_t lvl = level_mask(c);

	return (uint8_t)((c->irr & ~lvl) | (c->line & lvl));
}

/* Priority number of the highest-priority bit set in `bits`, or 8. */
static unsigned prio_of(const struct vpic_chip *c, uint8_t bits)
{
	for (unsigned p = 0; p < 8; p++)
		if (bits >> ((p + c->lowest + 1) & 7) & 1)
			return p;
	return 8;
}

static unsigned irq_of(const struct vpic_chip *c, unsigned prio)
{
	return (prio + c->lowest + 1) & 7;
}

/*
 * The IR this chip would raise INT for, or -1: the highest-priority
 * unmasked request that outranks everything in service.  In special mask
 * mode, masked in-service levels do not block (datasheet: "special mask
 * mode").  In special fully nested mode the master lets a higher-priority
 * slave request through while the cascade is in service.
 */
static int chip_get_irq(const struct vpic_chip *c, bool master)
{
	uint8_t req = chip_irr(c) & (uint8_t)~c->imr;
	uint8_t isr = c->isr;
	unsigned rp, sp;

	if (!req)
		return -1;
	if (c->special_mask)
		isr &= (uint8_t)~c->imr;
	if (master && c->sfnm)
		isr &= (uint8_t)~(1u << VPIC_CASCADE_IRQ);
	rp = prio_of(c, req);
	sp = prio_of(c, isr);
	return rp < sp ? (int)irq_of(c, rp) : -1;
}

/* A change of one input line (edge inputs latch on a rising edge). */
static void chip_set_line(struct vpic_chip *c, unsigned ir, bool asserted)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (asserted) {
		if (!(c->line & bit))
			c->irr |= bit;
		c->line |= bit;
	} else {
		c->line &= (uint8_t)~bit;
	}
}

/* The slave's INT output drives master IR2. */
static void update_cascade(struct vpic *p)
{
	chip_set_line(&p->chip[MASTER], VPIC_CASCADE_IRQ,
		      chip_get_irq(&p->chip[SLAVE], false) >= 0);
}

/* INTA for IR `ir`: in service (unless auto-EOI), edge latch cleared. */
static void chip_intack(struct vpic_chip *c, unsigned ir)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (c->auto_eoi) {
		if (c->rotate_aeoi)
			c->lowest = (uint8_t)ir;
	} else {
		c->isr |= bit;
	}
	c->irr &= (uint8_t)~bit;
}

void vpic_init(struct vpic *p)
{
	memset(p, 0, sizeof *p);
	for (unsigned i = 0; i < 2; i++) {
		p->chip[i].imr = 0xff;
		p->chip[i].lowest = 7;
	}
	p->chip[MASTER].base = 0x08;
	p->chip[SLAVE].base = 0x70;
}

void vpic_set_irq(struct vpic *p, unsigned irq, bool asserted)
{
	if (irq >= 16 || irq == VPIC_CASCADE_IRQ)
		return;
	chip_set_line(&p->chip[irq >> 3], irq & 7, asserted);
	update_cascade(p);
}

int vpic_pending(const struct vpic *p)
{
	int irq = chip_get_irq(&p->chip[MASTER], true);
	int sirq;

	if (irq < 0)
		return -1;
	if (irq != VPIC_CASCADE_IRQ || p->chip[MASTER].single)
		return p->chip[MASTER].base + irq;
	sirq = chip_get_irq(&p->chip[SLAVE], false);
	/* The slave's request went away after it raised IR2: spurious IRQ 15. */
	return p->chip[SLAVE].base + (sirq < 0 ? 7 : sirq);
}

int vpic_ack(struct vpic *p)
{
	struct vpic_chip *m = &p->chip[MASTER], *s = &p->chip[SLAVE];
	int irq = chip_get_irq(m, true), sirq, vec;

	if (irq < 0)
		return m->base + 7;   /* spurious IRQ 7: no ISR bit */
	chip_intack(m, (unsigned)irq);
	if (irq != VPIC_CASCADE_IRQ || m->single) {
		vec = m->base + irq;
	} else {
		sirq = chip_get_irq(s, false);
		if (sirq < 0) {
			vec = s->base + 7;   /* spurious IRQ 15 */
		} else {
			chip_intack(s, (unsigned)sirq);
			vec = s->base + sirq;
		}
	}
	update_cascade(p);
	return vec;
}

/* ICW1 (datasheet "Initialization command words"). */
static void icw1(struct vpic_chip *c, uint8_t val)
{
	c->irr = 0;              /* edge sense circuit reset */
	c->isr = 0;
	c->imr = 0;              /* IMR cleared */
	c->lowest = 7;           /* IR7 lowest priority */
	c->special_mask = false; /* special mask mode cleared, */
	c->read_isr = false;     /* status read set to IRR */
	c->poll = false;
	c->auto_eoi = c->rotate_aeoi = c->sfnm = false;  /* ICW4 functions 0 */
	c->ltim = val & 0x08;
	c->single = val & 0x02;
	c->need_icw4 = val & 0x01;
	c->init_state = 1;
}

/* OCW2: EOI and rotation commands, R SL EOI in bits 7:5. */
static void ocw2(struct vpic_chip *c, uint8_t val)
{
	unsigned ir = val & 7, p;

	switch (val >> 5) {
	case 0: c->rotate_aeoi = false; break;   /* clear rotate in AEOI */
	case 4: c->rotate_aeoi = true;  break;   /* set rotate in AEOI */
	case 1:                                   /* non-specific EOI */
	case 5:                                   /* rotate on non-specific EOI */
		p = prio_of(c, c->isr);
		if (p == 8)
			break;
		ir = irq_of(c, p);
		c->isr &= (uint8_t)~(1u << ir);
		if (val >> 5 == 5)
			c->lowest = (uint8_t)ir;
		break;
	case 3:                                   /* specific EOI */
		c->isr &= (uint8_t)~(1u << ir);
		break;
	case 7:                                   /* rotate on specific EOI */
		c->isr &= (uint8_t)~(1u << ir);
		c->lowest = (uint8_t)ir;
		break;
	case 6:                                   /* set priority */
		c->lowest = (uint8_t)ir;
		break;
	default:                                  /* 010: no operation */
		break;
	}
}

/* OCW3: ESMM SMM (6:5), P (2), RR RIS (1:0). */
static void ocw3(struct vpic_chip *c, uint8_t val)
{
	if (val & 0x04)
		c->poll = true;
	if (val & 0x02)
		c->read_isr = val & 0x01;
	if (val & 0x40)
		c->special_mask = val & 0x20;
}

static void data_write(struct vpic_chip *c, uint8_t val)
{
	switch (c->init_state) {
	case 1:   /* ICW2: vector base, T7-T3 */
		c->base = val & 0xf8;
		c->init_state = c->single ? (c->need_icw4 ? 3 : 0) : 2;
		break;
	case 2:   /* ICW3: cascade wiring (fixed here) */
		c->icw3 = val;
		c->init_state = c->need_icw4 ? 3 : 0;
		break;
	case 3:   /* ICW4: AEOI (bit 1), SFNM (bit 4) */
		c->auto_eoi = val & 0x02;
		c->sfnm = val & 0x10;
		c->init_state = 0;
		break;
	default:  /* OCW1 */
		c->imr = val;
		break;
	}
}

/* Poll command: the read acknowledges the highest request (datasheet
 * "the poll command"): bit 7 = interrupt, bits 2:0 = level. */
static uint8_t poll_read(struct vpic *p, unsigned chip)
{
	struct vpic_chip *c = &p->chip[chip];
	int ir = chip_get_irq(c, chip == MASTER);

	c->poll = false;
	if (ir < 0)
		return 0;
	chip_intack(c, (unsigned)ir);
	return (uint8_t)(0x80 | ir);
}

int vpic_io(struct vpic *p, uint16_t port, bool write, uint8_t *val)
{
	unsigned chip;
	struct vpic_chip *c;

	switch (port) {
	case VPIC_ELCR_MASTER:
	case VPIC_ELCR_SLAVE:
		chip = port - VPIC_ELCR_MASTER;
		if (write)
			p->chip[chip].elcr = *val & elcr_writable[chip];
		else
			*val = p->chip[chip].elcr;
		update_cascade(p);
		return 0;
	case VPIC_MASTER_CMD: case VPIC_MASTER_DATA:
	case VPIC_SLAVE_CMD:  case VPIC_SLAVE_DATA:
		break;
	default:
		return -1;
	}

	chip = port >= VPIC_SLAVE_CMD;
	c = &p->chip[chip];
	if (!write) {
		if (port & 1)
			*val = c->imr;
		else if (c->poll)
			*val = poll_read(p, chip);
		else
			*val = c->read_isr ? c->isr : chip_irr(c);
	} else if (port & 1) {
		data_write(c, *val);
	} else if (*val & 0x10) {
		icw1(c, *val);
	} else if (*val & 0x08) {
		ocw3(c, *val);
	} else {
		ocw2(c, *val);
	}
	update_cascade(p);
	return 0;
}
