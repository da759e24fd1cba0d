/*
 * Unit tests: drivers/platform/vpic.c (virtual 8259A pair).
 *
 * The sequences are the ones Linux sends (arch/x86/kernel/i8259.c:
 * probe_8259A, init_8259A) plus the datasheet's EOI, rotation, poll and
 * special-mask commands.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "drivers/platform/vpic.h"

static int setup(void **state)
{
	static struct vpic p;

	vpic_init(&p);
	*state = &p;
	return 0;
}

static void out(struct vpic *p, uint16_t port, uint8_t v)
{
	assert_int_equal(vpic_io(p, port, true, &v), 0);
}

static uint8_t in(struct vpic *p, uint16_t port)
{
	uint8_t v = 0x5a;

	assert_int_equal(vpic_io(p, port, false, &v), 0);
	return v;
}

/* Linux init_8259A(auto_eoi = 0): vectors 0x30 / 0x38, cascade on IR2. */
static void linux_init(struct vpic *p)
{
	out(p, 0x21, 0xff);
	out(p, 0xa1, 0xff);
	out(p, 0x20, 0x11);   /* ICW1: edge, cascade, ICW4 */
	out(p, 0x21, 0x30);   /* ICW2 */
	out(p, 0x21, 0x04);   /* ICW3: slave on IR2 */
	out(p, 0x21, 0x01);   /* ICW4: 8086, normal EOI */
	out(p, 0xa0, 0x11);
	out(p, 0xa1, 0x38);
	out(p, 0xa1, 0x02);   /* ICW3: slave ID 2 */
	out(p, 0xa1, 0x01);
	out(p, 0x21, 0xfb);   /* everything masked but the cascade */
	out(p, 0xa1, 0xff);
}

static void test_power_on(void **state)
{
	struct vpic *p = *state;

	assert_int_equal(in(p, 0x21), 0xff);
	assert_int_equal(in(p, 0xa1), 0xff);
	assert_int_equal(in(p, 0x20), 0);        /* IRR */
	vpic_set_irq(p, 1, true);
	assert_int_equal(vpic_pending(p), -1);   /* masked */
	out(p, 0x21, 0xfd);
	assert_int_equal(vpic_pending(p), 0x08 + 1);   /* BIOS base 0x08 */
	assert_int_equal(p->chip[1].base, 0x70);
}

/* Linux probe_8259A: the mask must read back what was written. */
static void test_linux_probe(void **state)
{
	struct vpic *p = *state;

	out(p, 0xa1, 0xff);
	out(p, 0x21, 0xfb);
	assert_int_equal(in(p, 0x21), 0xfb);
	out(p, 0x21, 0xff);
	assert_int_equal(in(p, 0x21), 0xff);
	out(p, 0xa1, 0x00);
	assert_int_equal(in(p, 0xa1), 0x00);
}

/* The ICW sequence: data writes are ICW2-4, then OCW1 again. */
static void test_init_sequence(void **state)
{
	struct vpic *p = *state;

	out(p, 0x21, 0x55);
	out(p, 0x20, 0x11);                      /* ICW1 clears the IMR */
	assert_int_equal(in(p, 0x21), 0x00);
	out(p, 0x21, 0x37);                      /* ICW2: low 3 bits ignored */
	assert_int_equal(in(p, 0x21), 0x00);     /* not the IMR */
	out(p, 0x21, 0x04);                      /* ICW3 */
	assert_int_equal(in(p, 0x21), 0x00);
	out(p, 0x21, 0x01);                      /* ICW4 */
	out(p, 0x21, 0xaa);                      /* OCW1 */
	assert_int_equal(in(p, 0x21), 0xaa);
	assert_int_equal(p->chip[0].base, 0x30);

	/* Single mode, no ICW4: ICW2 ends the sequence. */
	out(p, 0xa0, 0x12);
	out(p, 0xa1, 0x48);
	out(p, 0xa1, 0x3c);
	assert_int_equal(in(p, 0xa1), 0x3c);
	assert_int_equal(p->chip[1].base, 0x48);
	/* Single + ICW4. */
	out(p, 0xa0, 0x13);
	out(p, 0xa1, 0x50);
	out(p, 0xa1, 0x01);
	out(p, 0xa1, 0x77);
	assert_int_equal(in(p, 0xa1), 0x77);
	assert_int_equal(p->chip[1].base, 0x50);
	/* Cascade without ICW4. */
	out(p, 0xa0, 0x10);
	out(p, 0xa1, 0x58);
	out(p, 0xa1, 0x02);
	out(p, 0xa1, 0x66);
	assert_int_equal(in(p, 0xa1), 0x66);
}

/* IRR/ISR reads (OCW3), ack and non-specific EOI (OCW2). */
static void test_ack_eoi_and_status(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	out(p, 0x21, 0xf9);                      /* unmask 1 (and 2) */
	vpic_set_irq(p, 1, true);
	vpic_set_irq(p, 4, true);                /* masked, but latched in IRR */
	out(p, 0x20, 0x0a);                      /* OCW3: read IRR */
	assert_int_equal(in(p, 0x20), 0x12);
	assert_int_equal(vpic_pending(p), 0x31);
	assert_int_equal(vpic_ack(p), 0x31);
	assert_int_equal(in(p, 0x20), 0x10);     /* edge latch cleared */
	out(p, 0x20, 0x0b);                      /* OCW3: read ISR */
	assert_int_equal(in(p, 0x20), 0x02);
	assert_int_equal(vpic_pending(p), -1);
	out(p, 0x20, 0x20);                      /* non-specific EOI */
	assert_int_equal(in(p, 0x20), 0x00);
	/* Edge: no new request without a new edge. */
	assert_int_equal(vpic_pending(p), -1);
	vpic_set_irq(p, 1, false);
	vpic_set_irq(p, 1, true);
	assert_int_equal(vpic_pending(p), 0x31);
}

/* Fully nested priorities: IR0 highest; lower ones wait for EOI. */
static void test_priorities(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	out(p, 0x21, 0x00);
	vpic_set_irq(p, 3, true);
	assert_int_equal(vpic_ack(p), 0x33);
	vpic_set_irq(p, 5, true);
	assert_int_equal(vpic_pending(p), -1);   /* below IR3 in service */
	vpic_set_irq(p, 1, true);
	assert_int_equal(vpic_pending(p), 0x31); /* above: nests */
	assert_int_equal(vpic_ack(p), 0x31);
	out(p, 0x20, 0x20);                      /* EOI retires IR1 first */
	assert_int_equal(p->chip[0].isr, 0x08);
	out(p, 0x20, 0x63);                      /* specific EOI IR3 */
	assert_int_equal(p->chip[0].isr, 0x00);
	assert_int_equal(vpic_pending(p), 0x35);

	/* Set priority: IR3 lowest, so IR4 highest, IR5 above IR1. */
	out(p, 0x20, 0xc3);
	vpic_set_irq(p, 1, false);
	vpic_set_irq(p, 1, true);
	assert_int_equal(vpic_pending(p), 0x35);
	assert_int_equal(vpic_ack(p), 0x35);
	/* Rotate on non-specific EOI: IR5 becomes lowest, IR6 highest. */
	out(p, 0x20, 0xa0);
	assert_int_equal(p->chip[0].lowest, 5);
	assert_int_equal(vpic_pending(p), 0x31);
	/* Rotate on specific EOI. */
	assert_int_equal(vpic_ack(p), 0x31);
	out(p, 0x20, 0xe1);
	assert_int_equal(p->chip[0].lowest, 1);
	assert_int_equal(p->chip[0].isr, 0);
	out(p, 0x20, 0x40);                      /* no-op command */
	assert_int_equal(p->chip[0].lowest, 1);
}

/* Slave interrupts arrive through master IR2; both need an EOI. */
static void test_cascade(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	out(p, 0xa1, 0xef);                      /* unmask IRQ 12 */
	vpic_set_irq(p, 12, true);
	assert_int_equal(vpic_pending(p), 0x3c);
	assert_int_equal(vpic_ack(p), 0x3c);
	assert_int_equal(p->chip[0].isr, 0x04);
	assert_int_equal(p->chip[1].isr, 0x10);
	vpic_set_irq(p, 12, false);
	vpic_set_irq(p, 12, true);
	assert_int_equal(vpic_pending(p), -1);   /* slave IR4 in service */
	out(p, 0xa0, 0x20);
	assert_int_equal(vpic_pending(p), -1);   /* master IR2 still in service */
	out(p, 0x20, 0x20);
	assert_int_equal(vpic_pending(p), 0x3c);

	/* The cascade pin is not a device line. */
	vpic_set_irq(p, 2, true);
	vpic_set_irq(p, 16, true);
	vpic_set_irq(p, 200, true);
}

/* A request that disappears after INT was raised gives IRQ 7 / 15. */
static void test_spurious(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	assert_int_equal(vpic_ack(p), 0x37);     /* nothing: spurious IRQ 7 */
	assert_int_equal(p->chip[0].isr, 0);

	out(p, 0xa1, 0xef);
	vpic_set_irq(p, 12, true);               /* master IR2 latched */
	out(p, 0xa1, 0xff);                      /* slave request masked */
	assert_int_equal(vpic_pending(p), 0x3f); /* spurious IRQ 15 */
	assert_int_equal(vpic_ack(p), 0x3f);
	assert_int_equal(p->chip[1].isr, 0);
	assert_int_equal(p->chip[0].isr, 0x04);  /* the master did ack IR2 */
}

/* ELCR (0x4d0/0x4d1): level inputs stay requested while asserted. */
static void test_level_elcr(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	out(p, 0x4d0, 0xff);
	assert_int_equal(in(p, 0x4d0), 0xf8);    /* IRQ 0-2 always edge */
	out(p, 0x4d1, 0xff);
	assert_int_equal(in(p, 0x4d1), 0xde);    /* IRQ 8, 13 always edge */
	out(p, 0x4d0, 0x00);
	out(p, 0x4d1, 0x04);                     /* IRQ 10 level */
	out(p, 0xa1, 0xfb);
	vpic_set_irq(p, 10, true);
	assert_int_equal(vpic_ack(p), 0x3a);
	out(p, 0xa0, 0x20);
	out(p, 0x20, 0x20);
	assert_int_equal(vpic_pending(p), 0x3a); /* still asserted */
	/* The line drops before the CPU takes it: the slave request is gone,
	 * but master IR2 latched the slave's INT edge, so the CPU gets the
	 * slave's spurious IRQ 15 (the classic 8259 spurious interrupt). */
	vpic_set_irq(p, 10, false);
	assert_int_equal(p->chip[1].irr & 0x04, 0);
	assert_int_equal(vpic_pending(p), 0x3f);
	assert_int_equal(vpic_ack(p), 0x3f);
	out(p, 0x20, 0x20);                      /* the master did ack IR2 */
	assert_int_equal(vpic_pending(p), -1);

	/* LTIM in ICW1 makes every input level-triggered. */
	out(p, 0x20, 0x19);
	out(p, 0x21, 0x30);
	out(p, 0x21, 0x04);
	out(p, 0x21, 0x01);
	out(p, 0x21, 0xf7);
	vpic_set_irq(p, 3, true);
	assert_int_equal(vpic_ack(p), 0x33);
	out(p, 0x20, 0x20);
	assert_int_equal(vpic_pending(p), 0x33);
}

static void test_auto_eoi(void **state)
{
	struct vpic *p = *state;

	out(p, 0x20, 0x11);
	out(p, 0x21, 0x20);
	out(p, 0x21, 0x04);
	out(p, 0x21, 0x03);                      /* ICW4: AEOI */
	out(p, 0x21, 0xfe);
	vpic_set_irq(p, 0, true);
	assert_int_equal(vpic_ack(p), 0x20);
	assert_int_equal(p->chip[0].isr, 0);     /* no EOI needed */
	/* Rotate in auto-EOI mode: the acked IR becomes lowest. */
	out(p, 0x20, 0x80);
	out(p, 0x21, 0x00);
	vpic_set_irq(p, 0, false);
	vpic_set_irq(p, 0, true);
	vpic_set_irq(p, 6, true);
	assert_int_equal(vpic_ack(p), 0x20);
	assert_int_equal(p->chip[0].lowest, 0);
	out(p, 0x20, 0x00);                      /* clear rotate in AEOI */
	assert_false(p->chip[0].rotate_aeoi);
	assert_int_equal(vpic_ack(p), 0x26);
	assert_int_equal(p->chip[0].lowest, 0);
}

/* Poll command (OCW3 bit 2): the next read of the command port acks. */
static void test_poll(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	out(p, 0x21, 0x00);
	out(p, 0x20, 0x0c);
	assert_int_equal(in(p, 0x20), 0x00);     /* nothing pending */
	vpic_set_irq(p, 5, true);
	out(p, 0x20, 0x0c);
	assert_int_equal(in(p, 0x20), 0x85);
	assert_int_equal(p->chip[0].isr, 0x20);
	assert_int_equal(in(p, 0x20), 0x00);     /* back to IRR reads */
}

/* Special mask mode: a masked in-service level no longer blocks. */
static void test_special_mask(void **state)
{
	struct vpic *p = *state;

	linux_init(p);
	out(p, 0x21, 0x00);
	vpic_set_irq(p, 3, true);
	assert_int_equal(vpic_ack(p), 0x33);
	vpic_set_irq(p, 5, true);
	assert_int_equal(vpic_pending(p), -1);
	out(p, 0x21, 0x08);                      /* mask IR3 */
	assert_int_equal(vpic_pending(p), -1);
	out(p, 0x20, 0x68);                      /* set special mask mode */
	assert_int_equal(vpic_pending(p), 0x35);
	out(p, 0x20, 0x48);                      /* reset special mask mode */
	assert_int_equal(vpic_pending(p), -1);
}

/* Special fully nested mode: a higher slave IRQ gets through while the
 * cascade is in service. */
static void test_sfnm(void **state)
{
	struct vpic *p = *state;

	out(p, 0x20, 0x11);
	out(p, 0x21, 0x30);
	out(p, 0x21, 0x04);
	out(p, 0x21, 0x11);                      /* ICW4: SFNM */
	out(p, 0xa0, 0x11);
	out(p, 0xa1, 0x38);
	out(p, 0xa1, 0x02);
	out(p, 0xa1, 0x01);
	out(p, 0x21, 0x00);
	out(p, 0xa1, 0x00);
	vpic_set_irq(p, 12, true);
	assert_int_equal(vpic_ack(p), 0x3c);
	vpic_set_irq(p, 9, true);                /* slave IR1 > IR4 */
	assert_int_equal(vpic_pending(p), 0x39);
}

static void test_other_ports(void **state)
{
	struct vpic *p = *state;
	uint8_t v = 0;

	assert_int_equal(vpic_io(p, 0x22, false, &v), -1);
	assert_int_equal(vpic_io(p, 0x40, true, &v), -1);
	assert_int_equal(vpic_io(p, 0x4d2, false, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_power_on, setup),
		cmocka_unit_test_setup(test_linux_probe, setup),
		cmocka_unit_test_setup(test_init_sequence, setup),
		cmocka_unit_test_setup(test_ack_eoi_and_status, setup),
		cmocka_unit_test_setup(test_priorities, setup),
		cmocka_unit_test_setup(test_cascade, setup),
		cmocka_unit_test_setup(test_spurious, setup),
		cmocka_unit_test_setup(test_level_elcr, setup),
		cmocka_unit_test_setup(test_auto_eoi, setup),
		cmocka_unit_test_setup(test_poll, setup),
		cmocka_unit_test_setup(test_special_mask, setup),
		cmocka_unit_test_setup(test_sfnm, setup),
		cmocka_unit_test_setup(test_other_ports, setup),
	};

	return cmocka_run_group_tests_name("vpic", tests, NULL, NULL);
}
