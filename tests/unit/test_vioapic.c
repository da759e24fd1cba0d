/*
 * Unit tests: drivers/platform/vioapic.c (virtual I/O APIC).
 *
 * Expected behaviour from the 82093AA datasheet (registers, Remote IRR,
 * masking) and from what Linux's io_apic.c relies on (EOI register,
 * clearing Remote IRR by switching to edge).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "drivers/platform/vioapic.h"

struct msg {
	uint8_t dest, mode, vector;
	bool logical, level;
};

struct fix {
	struct vioapic io;
	struct msg m[32];
	unsigned n;
};

static void rec(void *ctx, uint8_t dest, bool logical, uint8_t mode, uint8_t vector, bool level)
{
	struct fix *f = ctx;

	assert_true(f->n < 32);
	f->m[f->n++] = (struct msg){ dest, mode, vector, logical, level };
}

static const struct vioapic_ops ops = { rec };

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof f);
	vioapic_init(&f.io, VIOAPIC_DEFAULT_BASE, 2, &ops, &f);
	*state = &f;
	return 0;
}

static uint32_t rd(struct vioapic *io, uint32_t idx)
{
	uint32_t v;

	assert_int_equal(vioapic_mmio_write(io, IOAPIC_REGSEL, 4, idx), 0);
	assert_int_equal(vioapic_mmio_read(io, IOAPIC_WIN, 4, &v), 0);
	return v;
}

static void wr(struct vioapic *io, uint32_t idx, uint32_t val)
{
	assert_int_equal(vioapic_mmio_write(io, IOAPIC_REGSEL, 4, idx), 0);
	assert_int_equal(vioapic_mmio_write(io, IOAPIC_WIN, 4, val), 0);
}

static void set_rte(struct vioapic *io, unsigned pin, uint64_t e)
{
	wr(io, IOAPIC_REG_REDTBL + 2 * pin + 1, (uint32_t)(e >> 32));
	wr(io, IOAPIC_REG_REDTBL + 2 * pin, (uint32_t)e);
}

static uint32_t rte_lo(struct vioapic *io, unsigned pin)
{
	return rd(io, IOAPIC_REG_REDTBL + 2 * pin);
}

static void test_reset_and_ids(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	assert_int_equal(rd(io, IOAPIC_REG_ID), 2u << 24);
	assert_int_equal(rd(io, IOAPIC_REG_VER), 0x00170020);
	assert_int_equal(rd(io, IOAPIC_REG_ARB), 2u << 24);
	for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
		assert_int_equal(rte_lo(io, pin), IOAPIC_RTE_MASKED);
		assert_int_equal(rd(io, IOAPIC_REG_REDTBL + 2 * pin + 1), 0);
	}
	/* ID: bits 27:24 only; VER and ARB read-only. */
	wr(io, IOAPIC_REG_ID, 0xffffffff);
	assert_int_equal(rd(io, IOAPIC_REG_ID), 0x0f000000);
	wr(io, IOAPIC_REG_VER, 0);
	assert_int_equal(rd(io, IOAPIC_REG_VER), 0x00170020);
	wr(io, IOAPIC_REG_ARB, 0);
	assert_int_equal(rd(io, IOAPIC_REG_ARB), 0x0f000000);
	/* IOREGSEL keeps 8 bits; unimplemented indexes read 0. */
	assert_int_equal(vioapic_mmio_write(io, IOAPIC_REGSEL, 4, 0x1234503), 0);
	uint32_t v;
	assert_int_equal(vioapic_mmio_read(io, IOAPIC_REGSEL, 4, &v), 0);
	assert_int_equal(v, 0x03);
	assert_int_equal(rd(io, 0x03), 0);
	assert_int_equal(rd(io, 0x40), 0);   /* just past entry 23 */
	assert_int_equal(rd(io, 0xff), 0);
	wr(io, 0x40, 0xffffffff);            /* ignored */
}

static void test_rte_bits(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	/* Writable: vector, delivery mode, dest mode, polarity, trigger,
	 * mask; delivery status and Remote IRR read-only; 31:17 reserved. */
	wr(io, IOAPIC_REG_REDTBL + 2 * 5, 0xffffffff);
	assert_int_equal(rte_lo(io, 5), 0x0001afff);
	wr(io, IOAPIC_REG_REDTBL + 2 * 5 + 1, 0xffffffff);
	assert_int_equal(rd(io, IOAPIC_REG_REDTBL + 2 * 5 + 1), 0xff000000);
	assert_int_equal(f->n, 0);   /* masked: nothing delivered */
}

static void test_odd_accesses(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;
	uint32_t v;

	assert_int_equal(vioapic_mmio_write(io, IOAPIC_REGSEL, 4, IOAPIC_REG_VER), 0);
	assert_int_equal(vioapic_mmio_read(io, IOAPIC_WIN, 1, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(vioapic_mmio_read(io, 0x14, 4, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(vioapic_mmio_read(io, 0x20, 4, &v), 1);
	assert_int_equal(vioapic_mmio_write(io, IOAPIC_REGSEL, 2, IOAPIC_REG_ID), 1);
	assert_int_equal(vioapic_mmio_read(io, IOAPIC_REGSEL, 4, &v), 0);
	assert_int_equal(v, IOAPIC_REG_VER);   /* unchanged */
	assert_int_equal(vioapic_mmio_read(io, IOAPIC_EOI, 4, &v), 0);
	assert_int_equal(v, 0);
}

/* Edge: one message per rising edge, only while unmasked. */
static void test_edge(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	set_rte(io, 4, 0x03ull << 56 | 0x34);   /* fixed, physical, dest 3 */
	vioapic_set_irq(io, 4, true);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->m[0].dest, 3);
	assert_int_equal(f->m[0].vector, 0x34);
	assert_int_equal(f->m[0].mode, 0);
	assert_false(f->m[0].logical);
	assert_false(f->m[0].level);
	assert_int_equal(rte_lo(io, 4) & IOAPIC_RTE_REMOTE_IRR, 0);
	vioapic_set_irq(io, 4, true);            /* no edge */
	assert_int_equal(f->n, 1);
	vioapic_set_irq(io, 4, false);
	vioapic_set_irq(io, 4, true);
	assert_int_equal(f->n, 2);

	/* Masked: the edge is lost, unmasking does not replay it. */
	vioapic_set_irq(io, 4, false);
	set_rte(io, 4, IOAPIC_RTE_MASKED | 0x34);
	vioapic_set_irq(io, 4, true);
	assert_int_equal(f->n, 2);
	set_rte(io, 4, 0x34);
	assert_int_equal(f->n, 2);
	/* EOI is meaningless for edge entries. */
	vioapic_eoi(io, 0x34);
	assert_int_equal(f->n, 2);
}

/* Level: Remote IRR holds off repeats until the EOI (datasheet 3.2.4). */
static void test_level_remote_irr(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	set_rte(io, 10, 0x0full << 56 | IOAPIC_RTE_LEVEL | IOAPIC_RTE_LOGICAL |
		       IOAPIC_RTE_POLARITY | 1u << 8 | 0x61);   /* lowest prio, logical */
	vioapic_set_irq(io, 10, true);
	assert_int_equal(f->n, 1);
	assert_true(f->m[0].level);
	assert_true(f->m[0].logical);
	assert_int_equal(f->m[0].mode, 1);
	assert_int_equal(f->m[0].dest, 0x0f);
	assert_true(rte_lo(io, 10) & IOAPIC_RTE_REMOTE_IRR);
	vioapic_set_irq(io, 10, true);           /* still waiting for EOI */
	vioapic_set_irq(io, 10, false);
	vioapic_set_irq(io, 10, true);
	assert_int_equal(f->n, 1);

	vioapic_eoi(io, 0x62);                   /* other vector: no effect */
	assert_true(rte_lo(io, 10) & IOAPIC_RTE_REMOTE_IRR);
	vioapic_eoi(io, 0x61);                   /* line still up: again */
	assert_int_equal(f->n, 2);
	assert_true(rte_lo(io, 10) & IOAPIC_RTE_REMOTE_IRR);
	vioapic_set_irq(io, 10, false);
	/* EOI through the version-0x20 EOI register. */
	assert_int_equal(vioapic_mmio_write(io, IOAPIC_EOI, 4, 0x61), 0);
	assert_int_equal(f->n, 2);
	assert_int_equal(rte_lo(io, 10) & IOAPIC_RTE_REMOTE_IRR, 0);

	/* The guest cannot write Remote IRR. */
	wr(io, IOAPIC_REG_REDTBL + 20, IOAPIC_RTE_LEVEL | IOAPIC_RTE_REMOTE_IRR | 0x61);
	assert_int_equal(rte_lo(io, 10) & IOAPIC_RTE_REMOTE_IRR, 0);
}

/* One EOI clears every level entry with that vector (shared vector). */
static void test_eoi_shared_vector(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	set_rte(io, 16, IOAPIC_RTE_LEVEL | 0x70);
	set_rte(io, 17, IOAPIC_RTE_LEVEL | 0x70);
	vioapic_set_irq(io, 16, true);
	vioapic_set_irq(io, 17, true);
	assert_int_equal(f->n, 2);
	vioapic_set_irq(io, 16, false);
	vioapic_eoi(io, 0x70);
	assert_int_equal(f->n, 3);               /* only 17 is still asserted */
	assert_int_equal(rte_lo(io, 16) & IOAPIC_RTE_REMOTE_IRR, 0);
	assert_true(rte_lo(io, 17) & IOAPIC_RTE_REMOTE_IRR);
}

/* Masked level: held by the line, delivered on unmask. */
static void test_level_masked_then_unmasked(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	set_rte(io, 9, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x49);
	vioapic_set_irq(io, 9, true);
	assert_int_equal(f->n, 0);
	assert_int_equal(rte_lo(io, 9) & IOAPIC_RTE_REMOTE_IRR, 0);
	set_rte(io, 9, IOAPIC_RTE_LEVEL | 0x49);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->m[0].vector, 0x49);
	/* Mask while waiting for EOI; EOI; unmask: delivered again. */
	set_rte(io, 9, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x49);
	assert_true(rte_lo(io, 9) & IOAPIC_RTE_REMOTE_IRR);   /* kept */
	vioapic_eoi(io, 0x49);
	assert_int_equal(f->n, 1);
	set_rte(io, 9, IOAPIC_RTE_LEVEL | 0x49);
	assert_int_equal(f->n, 2);
	/* Deasserted while masked: nothing on unmask. */
	vioapic_eoi(io, 0x49);
	assert_int_equal(f->n, 3);
	set_rte(io, 9, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x49);
	vioapic_set_irq(io, 9, false);
	vioapic_eoi(io, 0x49);
	set_rte(io, 9, IOAPIC_RTE_LEVEL | 0x49);
	assert_int_equal(f->n, 3);
}

/* Linux's fallback EOI: mask + edge clears Remote IRR, then unmask +
 * level re-evaluates the line (io_apic.c, eoi_ioapic_pin). */
static void test_edge_switch_clears_remote_irr(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	set_rte(io, 11, IOAPIC_RTE_LEVEL | 0x5b);
	vioapic_set_irq(io, 11, true);
	assert_int_equal(f->n, 1);
	set_rte(io, 11, IOAPIC_RTE_MASKED | 0x5b);
	assert_int_equal(rte_lo(io, 11) & IOAPIC_RTE_REMOTE_IRR, 0);
	assert_int_equal(f->n, 1);
	set_rte(io, 11, IOAPIC_RTE_LEVEL | 0x5b);
	assert_int_equal(f->n, 2);               /* line still up */
	/* Writing only the high dword changes nothing else. */
	wr(io, IOAPIC_REG_REDTBL + 2 * 11 + 1, 0x07000000);
	assert_true(rte_lo(io, 11) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(f->n, 2);
}

static void test_bad_pins_and_no_ops(void **state)
{
	struct fix *f = *state;
	struct vioapic *io = &f->io;

	vioapic_set_irq(io, 24, true);
	vioapic_set_irq(io, 1000, true);
	assert_int_equal(io->line, 0);
	assert_int_equal(f->n, 0);

	vioapic_init(io, VIOAPIC_DEFAULT_BASE, 0, NULL, NULL);
	set_rte(io, 0, IOAPIC_RTE_LEVEL | 0x30);
	vioapic_set_irq(io, 0, true);            /* no callback: still tracked */
	assert_true(rte_lo(io, 0) & IOAPIC_RTE_REMOTE_IRR);
	/* NMI, INIT and ExtINT modes pass through unchanged. */
	vioapic_init(io, VIOAPIC_DEFAULT_BASE, 0, &ops, f);
	set_rte(io, 1, 4u << 8);
	set_rte(io, 2, 5u << 8);
	set_rte(io, 3, 7u << 8);
	vioapic_set_irq(io, 1, true);
	vioapic_set_irq(io, 2, true);
	vioapic_set_irq(io, 3, true);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->m[0].mode, 4);
	assert_int_equal(f->m[1].mode, 5);
	assert_int_equal(f->m[2].mode, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reset_and_ids, setup),
		cmocka_unit_test_setup(test_rte_bits, setup),
		cmocka_unit_test_setup(test_odd_accesses, setup),
		cmocka_unit_test_setup(test_edge, setup),
		cmocka_unit_test_setup(test_level_remote_irr, setup),
		cmocka_unit_test_setup(test_eoi_shared_vector, setup),
		cmocka_unit_test_setup(test_level_masked_then_unmasked, setup),
		cmocka_unit_test_setup(test_edge_switch_clears_remote_irr, setup),
		cmocka_unit_test_setup(test_bad_pins_and_no_ops, setup),
	};

	return cmocka_run_group_tests_name("vioapic", tests, NULL, NULL);
}
