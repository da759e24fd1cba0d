/*
 * Virtual 8259A programmable interrupt controller pair, as on a PC
 * (Intel 8259A datasheet; the PC wiring: slave INT on master IR2).
 *
 * Ports (vpic_io):
 *   0x20 / 0xa0  master / slave command: write ICW1 (bit 4 = 1), OCW2
 *                (bits 4:3 = 00) or OCW3 (bits 4:3 = 01); read IRR or ISR
 *                (as OCW3 selected) or the poll word (after OCW3 poll)
 *   0x21 / 0xa1  master / slave data: ICW2-4 during initialization,
 *                otherwise OCW1 = the interrupt mask register (readable)
 *   0x4d0/0x4d1  edge/level control registers (ELCR, PIIX/ICH): 1 = level.
 *                IRQ 0, 1, 2, 8 and 13 are always edge.
 *
 * Modelled: the ICW1-ICW4 sequence (single/cascade, ICW4 optional,
 * LTIM level mode, auto-EOI, special fully nested mode), vector base from
 * ICW2, masks, non-specific/specific EOI, rotation (rotate on EOI, rotate
 * in auto-EOI, set priority), IRR/ISR read select, poll mode, special mask
 * mode, spurious IRQ 7/15.
 * Not modelled: ICW3 wiring (the slave is always on master IR2 and answers
 * the cascade), buffered mode, MCS-80 mode (ICW4 bit 0 is assumed 1).
 *
 * Power-on state: as a PC BIOS leaves it (there is no BIOS here):
 * vectors 0x08 and 0x70, all inputs masked, ready for OCWs.  A guest
 * writing 0xff to the mask reads back 0xff (how Linux detects a PIC).
 *
 * Lines: vpic_set_irq(irq 0-15, asserted).  Edge inputs latch IRR on a
 * rising edge; level inputs show the line in IRR.  IRQ 2 is the cascade
 * input and ignores vpic_set_irq.
 *
 * Delivery (vCPU loop, when the LAPIC passes ExtINT, see
 * vlapic_accepts_pic_intr):  if (vpic_pending(p) >= 0 && IF)
 *                                inject(vpic_ack(p));
 * Pure: no allocation, no globals.
 */
#ifndef NESTOR_VPIC_H
#define NESTOR_VPIC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VPIC_MASTER_CMD   0x20
#define VPIC_MASTER_DATA  0x21
#define VPIC_SLAVE_CMD    0xa0
#define VPIC_SLAVE_DATA   0xa1
#define VPIC_ELCR_MASTER  0x4d0
#define VPIC_ELCR_SLAVE   0x4d1
#define VPIC_CASCADE_IRQ  2

struct vpic_chip {
	uint8_t irr;          /* edge latches (level inputs use `line`) */
	uint8_t line;         /* input levels */
	uint8_t isr;
	uint8_t imr;
	uint8_t elcr;         /* 1 = level-triggered input */
	uint8_t base;         /* ICW2 & 0xf8 */
	uint8_t lowest;       /* IR with the lowest priority (rotation) */
	uint8_t icw3;         /* stored, not used (fixed PC wiring) */
	uint8_t init_state;   /* 0 ready, 1 expect ICW2, 2 ICW3, 3 ICW4 */
	bool need_icw4, single, ltim;
	bool auto_eoi, rotate_aeoi, sfnm;   /* ICW4 / OCW2 */
	bool read_isr, poll, special_mask;  /* OCW3 */
};

struct vpic {
	struct vpic_chip chip[2];   /* [0] master, [1] slave */
};

void vpic_init(struct vpic *p);

/* Port access: 0 = handled (*val set on reads), -1 = not a PIC port. */
int vpic_io(struct vpic *p, uint16_t port, bool write, uint8_t *val);

/* Device interrupt line `irq` (0-15) asserted or not. */
void vpic_set_irq(struct vpic *p, unsigned irq, bool asserted);

/* The vector the master's INT would present, or -1 when INT is low. */
int vpic_pending(const struct vpic *p);

/* INTA: the vector the PIC pair hands the CPU, updating IRR/ISR.  With
 * nothing pending, the master's spurious vector (IRQ 7). */
int vpic_ack(struct vpic *p);

#endif
