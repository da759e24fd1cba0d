/*
 * Virtual I/O APIC (see vioapic.h).  References: Intel 82093AA I/O APIC
 * datasheet (section 3: registers), Intel ICH datasheets for the version
 * 0x20 EOI register, and Linux arch/x86/kernel/apic/io_apic.c for what a
 * guest relies on (the "mask + edge" trick to clear Remote IRR, the EOI
 * register).
 */
#include "drivers/platform/vioapic.h"

#include <string.h>

/* Bits of an entry software can write: vector, delivery mode, destination
 * mode, polarity, trigger mode, mask, destination (datasheet 3.2.4). */
#define RTE_WRITABLE (IOAPIC_RTE_VECTOR | 7ull << IOAPIC_RTE_DM_SHIFT | IOAPIC_RTE_LOGICAL | \
		      IOAPIC_RTE_POLARITY | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED |        \
		      0xffull << IOAPIC_RTE_DEST_SHIFT)

void vioapic_init(struct vioapic *io, uint64_t base, uint8_t id,
		  const struct vioapic_ops *ops, void *ctx)
{
	memset(io, 0, sizeof *io);
	io->base = base;
	io->id = (uint32_t)(id & 0xf) << 24;
	for (unsigned i = 0; i < VIOAPIC_PINS; i++)
		io->rte[i] = IOAPIC_RTE_MASKED;   /* reset: all masked */
	io->ops = ops;
	io->ctx = ctx;
}

static bool line_high(const struct vioapic *io, unsigned pin) { return io->line >> pin & 1; }

/* Send one interrupt message for `pin` (datasheet 2.4: the entry's fields
 * become the message).  Level-triggered entries then wait for the EOI. */
static void send(struct vioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	bool level = e & IOAPIC_RTE_LEVEL;

	if (level)
		io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
	if (io->ops && io->ops->deliver)
		io->ops->deliver(io->ctx, (uint8_t)(e >> IOAPIC_RTE_DEST_SHIFT),
				 e & IOAPIC_RTE_LOGICAL, (uint8_t)(e >> IOAPIC_RTE_DM_SHIFT & 7),
				 (uint8_t)(e & IOAPIC_RTE_VECTOR), level);
}

/* Level entries: deliver if asserted, unmasked and not waiting for EOI. */
static void level_check(struct vioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];

	if ((e & IOAPIC_RTE_LEVEL) && !(e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR)) &&
	    line_high(io, pin))
		send(io, pin);
}

void vioapic_set_irq(struct vioapic *io, unsigned pin, bool asserted)
{
	bool was;

	if (pin >= VIOAPIC_PINS)
		return;
	was = line_high(io, pin);
	if (asserted)
		io->line |= 1u << pin;
	else
		io->line &= ~(1u << pin);

	if (io->rte[pin] & IOAPIC_RTE_LEVEL)
		level_check(io, pin);
	else if (asserted && !was && !(io->rte[pin] & IOAPIC_RTE_MASKED))
		send(io, pin);   /* edge: masked edges are lost */
}

/* EOI message (datasheet 3.2.4, Remote IRR: "reset when an EOI message is
 * received with a matching vector"): every level entry with that vector. */
void vioapic_eoi(struct vioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
		uint64_t e = io->rte[pin];

		if ((e & IOAPIC_RTE_VECTOR) != vector || !(e & IOAPIC_RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
		level_check(io, pin);
	}
}

static uint32_t read_indirect(const struct vioapic *io, uint32_t idx)
{
	switch (idx) {
	case IOAPIC_REG_ID:  return io->id;
	case IOAPIC_REG_VER: return VIOAPIC_VERSION;
	case IOAPIC_REG_ARB: return io->id;
	default:
		break;
	}
	if (idx >= IOAPIC_REG_REDTBL && idx < IOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS) {
		uint64_t e = io->rte[(idx - IOAPIC_REG_REDTBL) / 2];

		return (idx & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;   /* unimplemented index */
}

static void write_indirect(struct vioapic *io, uint32_t idx, uint32_t val)
{
	unsigned pin;
	uint64_t old, e;

	if (idx == IOAPIC_REG_ID) {
		io->id = val & 0x0f000000u;
		return;
	}
	if (idx < IOAPIC_REG_REDTBL || idx >= IOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS)
		return;   /* VER, ARB and unimplemented indexes are read-only */

	pin = (idx - IOAPIC_REG_REDTBL) / 2;
	old = io->rte[pin];
	if (idx & 1)
		e = (old & 0xffffffffull) | (uint64_t)val << 32;
	else
		e = (old & ~0xffffffffull) | val;
	/* Writable bits from the guest, read-only ones (Remote IRR) kept. */
	e = (e & RTE_WRITABLE) | (old & IOAPIC_RTE_REMOTE_IRR);
	/* Remote IRR has no meaning for edge entries; switching to edge
	 * clears it.  Linux's fallback EOI ("mask + edge, then unmask +
	 * level") depends on this, as on real hardware. */
	if (!(e & IOAPIC_RTE_LEVEL))
		e &= ~IOAPIC_RTE_REMOTE_IRR;
	io->rte[pin] = e;
	/* Unmasking (or switching to level) a level entry whose line is
	 * asserted delivers now; edges seen while masked are gone. */
	level_check(io, pin);
}

int vioapic_mmio_read(struct vioapic *io, uint32_t offset, unsigned size, uint32_t *val)
{
	*val = 0;
	if (size != 4)
		return 1;
	switch (offset) {
	case IOAPIC_REGSEL: *val = io->regsel; return 0;
	case IOAPIC_WIN:    *val = read_indirect(io, io->regsel); return 0;
	case IOAPIC_EOI:    return 0;   /* write-only; reads 0 */
	default:            return 1;
	}
}

int vioapic_mmio_write(struct vioapic *io, uint32_t offset, unsigned size, uint32_t val)
{
	if (size != 4)
		return 1;
	switch (offset) {
	case IOAPIC_REGSEL: io->regsel = val & 0xff; return 0;
	case IOAPIC_WIN:    write_indirect(io, io->regsel, val); return 0;
	case IOAPIC_EOI:    vioapic_eoi(io, (uint8_t)val); return 0;
	default:            return 1;
	}
}
