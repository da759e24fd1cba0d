/*
 * Port I/O the guest sees: a QEMU-compatible PC subset, so test kernels
 * written for `qemu -kernel` run unmodified (issue: L1 guests on SVM).
 *   0x3f8-0x3ff  16550 UART (COM1), lines go to the L0 log with the VM name
 *   0xf4         isa-debug-exit: writing v ends the VM with status (v<<1)|1
 *   0xcf8/0xcfc  PCI configuration: no devices, data reads all-ones
 *   0x510/0x511  QEMU fw_cfg (drivers/platform/fw_cfg.c)
 *   0x20/0x21, 0xa0/0xa1  the 8259 pair (drivers/platform/vpic.c): it can be
 *                programmed and masked; Nestor delivers interrupts only
 *                through the IOAPIC and LAPIC
 *   0x40-0x43, 0x61  the i8254 PIT (drivers/platform/vpit.c): counts, no IRQ 0
 *   0x70/0x71    the MC146818 RTC/CMOS (drivers/platform/vrtc.c)
 *   everything else: reads all-ones, writes dropped (what an ISA bus with
 *   nothing on it does), answered at once and counted per VM by the device
 *   a PC would have there; the counts are printed with the VM's exit table
 *   (pio_report_unassigned).  (Answered all-ones, the PIT and the RTC cost
 *   a Linux boot 100,000 and 40,000 exits of calibration and UIP loops
 *   running to their timeouts: hence their models.)
 */
#include <stdio.h>
#include <string.h>
#include "kernel/platform.h"
#include "kernel/log.h"
#include "kernel/guest_insn.h"
#include "arch/x86/traps.h"
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "mm/gwalk.h"

#define COM1 0x3f8

static bool vpic_port(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1;
}

#define UART_IRQ 4
#define IER_ETBEI 0x02   /* interrupt when the transmitter holding register is empty */
#define MCR_OUT2 0x08    /* on a PC, OUT2 gates the UART's interrupt onto the ISA bus */

/* The 16550's interrupt line (PC16550D datasheet, "interrupt identification"):
 * Nestor's transmitter never fills, so the only source is "THR empty",
 * raised when enabled or after a write, cleared by reading IIR. */
static void uart_update_irq(struct vm *vm)
{
	bool line = (vm->uart_ier & IER_ETBEI) && vm->uart_thre_pending && (vm->uart_mcr & MCR_OUT2);
	vm_set_irq(vm, UART_IRQ, line);
}

static uint32_t uart_read(struct vm *vm, unsigned reg)
{
	bool dlab = vm->uart_lcr & 0x80;
	switch (reg) {
	case 0: return dlab ? vm->uart_dll : 0;     /* RBR: nothing received */
	case 1: return dlab ? vm->uart_dlm : vm->uart_ier;
	case 2:                                      /* IIR, FIFOs on */
		if ((vm->uart_ier & IER_ETBEI) && vm->uart_thre_pending) {
			vm->uart_thre_pending = false;
			uart_update_irq(vm);
			return 0xc2;                 /* THR empty */
		}
		return 0xc1;                         /* no interrupt pending */
	case 3: return vm->uart_lcr;
	case 4: return vm->uart_mcr;
	case 5: return 0x60;                         /* LSR: transmitter empty, never busy */
	case 6: return 0xb0;                         /* MSR: DCD, DSR, CTS */
	default: return vm->uart_scratch;
	}
}

static void uart_write_reg(struct vm *vm, unsigned reg, uint8_t val)
{
	bool dlab = vm->uart_lcr & 0x80;
	switch (reg) {
	case 0:
		if (dlab) {
			vm->uart_dll = val;
		} else {
			vm_console_putc(vm, (char)val);
			vm->uart_thre_pending = true; /* sent at once: empty again */
			uart_update_irq(vm);
		}
		break;
	case 1:
		if (dlab) {
			vm->uart_dlm = val;
		} else {
			if ((val & IER_ETBEI) && !(vm->uart_ier & IER_ETBEI))
				vm->uart_thre_pending = true;
			vm->uart_ier = val & 0x0f;
			uart_update_irq(vm);
		}
		break;
	case 3: vm->uart_lcr = val; break;
	case 4: vm->uart_mcr = val; uart_update_irq(vm); break;
	case 7: vm->uart_scratch = val; break;
	default: break;
	}
}

/* ---- ports nothing answers, counted by what a PC has there --------------- */

enum hole_class { HOLE_PIT, HOLE_CMOS, HOLE_PCI, HOLE_VGA, HOLE_COM, HOLE_OTHER, HOLE_CLASSES };
static const char *const hole_names[HOLE_CLASSES] = { "PIT", "CMOS/RTC", "PCI", "VGA", "COM2-4", "other" };

static struct {
	unsigned long long n[HOLE_CLASSES];
	uint16_t first_other;        /* the first "other" port seen, for the report */
	bool any_other;
} holes[CFG_MAX_VMS];

static enum hole_class hole_class(uint16_t port)
{
	if ((port >= 0x40 && port <= 0x43) || port == 0x61)
		return HOLE_PIT;                      /* i8254 and its gate/status port */
	if (port == 0x70 || port == 0x71)
		return HOLE_CMOS;
	if (port >= 0xcf8 && port <= 0xcff)
		return HOLE_PCI;                      /* configuration, no devices */
	if (port >= 0x3b0 && port <= 0x3df)
		return HOLE_VGA;
	if ((port >= 0x2f8 && port <= 0x2ff) || (port >= 0x3e8 && port <= 0x3ef) || (port >= 0x2e8 && port <= 0x2ef))
		return HOLE_COM;
	return HOLE_OTHER;
}

static void count_hole(struct vm *vm, uint16_t port)
{
	if (vm->id >= CFG_MAX_VMS)
		return;
	enum hole_class c = hole_class(port);
	__atomic_fetch_add(&holes[vm->id].n[c], 1, __ATOMIC_RELAXED);
	if (c == HOLE_OTHER && !holes[vm->id].any_other) {
		holes[vm->id].first_other = port;
		holes[vm->id].any_other = true;
	}
}

void pio_report_unassigned(const struct vm *vm)
{
	if (vm->id >= CFG_MAX_VMS)
		return;
	char line[200];
	int n = snprintf(line, sizeof(line), "vm %s: ports with no device (read all-ones):", vm->cfg->name);
	unsigned long long total = 0;
	for (unsigned c = 0; c < HOLE_CLASSES; c++) {
		unsigned long long k = __atomic_load_n(&holes[vm->id].n[c], __ATOMIC_RELAXED);
		total += k;
		if (k && n < (int)sizeof(line) - 40)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu", hole_names[c], k);
	}
	if (holes[vm->id].any_other && n < (int)sizeof(line) - 24)
		snprintf(line + n, sizeof(line) - (size_t)n, " (first other: %#x)", holes[vm->id].first_other);
	if (total)
		kprint("%s\n", line);
}

static bool pit_port(uint16_t port) { return (port >= 0x40 && port <= 0x43) || port == 0x61; }
static bool rtc_port(uint16_t port) { return port == 0x70 || port == 0x71; }

/* The platform clock in PIT ticks (1.193182 MHz) and in seconds since the
 * VM was created, from the TSC. */
static uint64_t pit_ticks(const struct vm *vm)
{
	uint64_t t = rdtsc() - vm->created_tsc;
	return (uint64_t)((unsigned __int128)t * VPIT_HZ / (tsc_khz() * 1000ull));
}

uint32_t pio_read(struct vcpu *v, uint16_t port, unsigned size)
{
	struct vm *vm = v->vm;
	if (port >= COM1 && port < COM1 + 8 && size == 1)
		return uart_read(vm, port - COM1);
	uint8_t b;
	if (size == 1 && vpic_port(port)) {
		spin_lock(&vm->dev_lock);
		vpic_io(&vm->pic, port, false, &b);
		spin_unlock(&vm->dev_lock);
		return b;
	}
	if (size == 1 && (pit_port(port) || rtc_port(port))) {
		spin_lock(&vm->dev_lock);
		b = pit_port(port) ? vpit_read(&vm->pit, port, pit_ticks(vm))
				   : vrtc_read(&vm->rtc, port, (rdtsc() - vm->created_tsc) / (tsc_khz() * 1000ull));
		spin_unlock(&vm->dev_lock);
		return b;
	}
	if (port == 0xcf8 && size == 4)
		return vm->pci_addr;
	uint32_t val;
	if (fw_cfg_io(&vm->fw_cfg, port, size, false, &val) == 0)
		return val;
	count_hole(vm, port);
	return 0xffffffffu;
}

void pio_write(struct vcpu *v, uint16_t port, unsigned size, uint32_t val)
{
	struct vm *vm = v->vm;
	if (port >= COM1 && port < COM1 + 8 && size == 1) {
		uart_write_reg(vm, port - COM1, (uint8_t)val);
	} else if (size == 1 && vpic_port(port)) {
		uint8_t b = (uint8_t)val;
		spin_lock(&vm->dev_lock);
		vpic_io(&vm->pic, port, true, &b);
		spin_unlock(&vm->dev_lock);
	} else if (size == 1 && (pit_port(port) || rtc_port(port))) {
		spin_lock(&vm->dev_lock);
		if (pit_port(port))
			vpit_write(&vm->pit, port, (uint8_t)val, pit_ticks(vm));
		else
			vrtc_write(&vm->rtc, port, (uint8_t)val);
		spin_unlock(&vm->dev_lock);
	} else if (port == 0xf4) {
		/* QEMU's isa-debug-exit semantics: the status is (v << 1) | 1. */
		vm_end(vm, (int)(((val & 0xff) << 1) | 1), "debug-exit port");
	} else if (port == 0xcf8 && size == 4) {
		vm->pci_addr = val;
	} else if (fw_cfg_io(&vm->fw_cfg, port, size, true, &val) != 0) {
		count_hole(vm, port);
	}
}

/* INS/OUTS (with REP): element by element through the guest's page tables,
 * from ES:RDI or DS:RSI (SDM vol. 2 INS/OUTS).  Returns false when a fault
 * was injected (RIP not advanced) or the VM ended. */
bool io_string(struct vcpu *v, const struct vm_exit *e)
{
	unsigned addr_bits = vcpu_ops->guest_cs_size(v);
	uint64_t amask = addr_bits == 64 ? ~0ull : addr_bits == 32 ? 0xffffffffull : 0xffffull;
	uint64_t count = e->io.rep ? (v->gpr[RCX] & amask) : 1;
	int step = (v->rflags & (1u << 10)) ? -(int)e->io.size : (int)e->io.size;
	enum gpr idx = e->io.in ? RDI : RSI;
	uint64_t base = vcpu_ops->seg_base(v, e->io.in ? 0 : 3);

	for (; count; count--) {
		uint64_t la = (base + (v->gpr[idx] & amask)) & (addr_bits == 64 ? ~0ull : 0xffffffffull);
		uint32_t val = 0, pf = 0;
		uint64_t fault_la = 0;
		enum gva_result r;
		if (e->io.in) {
			val = pio_read(v, e->io.port, e->io.size);
			r = guest_linear_write(v, la, &val, e->io.size, &pf, &fault_la);
		} else {
			r = guest_linear_read(v, la, &val, e->io.size, 0, &pf, &fault_la);
			if (r == GVA_OK)
				pio_write(v, e->io.port, e->io.size, val);
		}
		if (r == GVA_PAGE_FAULT) {
			vcpu_ops->set_cr(v, 2, fault_la);
			vcpu_ops->inject_exception(v, VEC_PF, true, pf);
			return false;
		}
		if (r != GVA_OK) {
			vm_end(v->vm, -1, "string I/O to memory that is not RAM");
			return false;
		}
		v->gpr[idx] = (v->gpr[idx] & ~amask) | ((v->gpr[idx] + (uint64_t)step) & amask);
		if (e->io.rep)
			v->gpr[RCX] = (v->gpr[RCX] & ~amask) | ((v->gpr[RCX] - 1) & amask);
		if (v->vm->state != VM_RUNNING)
			return false;
	}
	return true;
}
