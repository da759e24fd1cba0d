/*
 * The interrupts test guest: the virtual LAPIC's timer in every mode (ticks
 * arrive, HLT wakes), EOI, TPR masking, self-IPIs, and the IA32_APIC_BASE
 * transitions between xAPIC, x2APIC and disabled (SDM 11.12.5).
 */
#include <string.h>
#include "tests/guests/rt/rt.h"

#define VEC_TICK 0x40
#define VEC_ONESHOT 0x41
#define VEC_SELF 0x42
#define VEC_DEADLINE 0x43
#define APIC_BASE_MSR 0x1b

static volatile unsigned ticks, oneshots, selfs, deadlines;
static bool x2;
static void eoi(void)
{
	if (x2)
		wrmsr(0x80b, 0);
	else
		lapic_wr(0xb0, 0);
}
static void on_tick(void) { ticks++; eoi(); }
static void on_oneshot(void) { oneshots++; eoi(); }
static void on_self(void) { selfs++; eoi(); }
static void on_deadline(void) { deadlines++; eoi(); }

static uint64_t bus_khz, tsc_khz;

static void wait_for(volatile unsigned *counter, unsigned n, uint64_t max_ms)
{
	uint64_t end = rdtsc() + max_ms * tsc_khz;
	while (*counter < n && rdtsc() < end) {
		sti();
		hlt();          /* the timer interrupt ends HLT */
		cli();
	}
}

static void test_xapic_timer(void)
{
	lapic_wr(0xf0, 0x1ff);                         /* SVR: enabled, spurious 0xff */
	CHECK((lapic_rd(0x30) & 0xff) == 0x14, "lapic: version register");
	CHECK((lapic_rd(0x20) >> 24) == 0, "lapic: xAPIC ID of vCPU 0");
	lapic_wr(0x3e0, 0xb);                          /* divide by 1 */
	lapic_wr(0x320, VEC_TICK | (1u << 17));        /* periodic */
	/* 5 ms: a period shorter than one interrupt round trip through the
	 * emulator (Bochs runs 10M instructions/s) would be an interrupt storm
	 * that never lets the loop below test its counter, as on hardware. */
	lapic_wr(0x380, (uint32_t)bus_khz * 5);
	uint64_t t0 = rdtsc();
	wait_for(&ticks, 5, 1000);
	uint64_t ms = (rdtsc() - t0) / tsc_khz;
	lapic_wr(0x320, 1u << 16);                     /* mask */
	lapic_wr(0x380, 0);
	rt_check(ticks >= 5, "lapic: periodic timer ticks wake HLT", "%u ticks", ticks);
	rt_check(ms >= 20, "lapic: periodic timer period respected", "5 ticks in %lu ms", (unsigned long)ms);

	lapic_wr(0x320, VEC_ONESHOT);                  /* one-shot */
	lapic_wr(0x380, (uint32_t)bus_khz * 20);       /* 20 ms */
	uint32_t c1 = lapic_rd(0x390);
	rt_delay_tsc(tsc_khz);                         /* 1 ms */
	uint32_t c2 = lapic_rd(0x390);
	CHECK(c1 > c2 && c2 > 0, "lapic: current count decreases");
	wait_for(&oneshots, 1, 1000);
	rt_delay_tsc(30 * tsc_khz);
	sti();
	__asm__ volatile("nop");
	cli();
	CHECK(oneshots == 1, "lapic: one-shot timer fires exactly once");
	CHECK(lapic_rd(0x390) == 0, "lapic: one-shot count ends at 0");

	/* A guest that computes and never exits must still get its timer:
	 * L0 bounds each run by the next virtual-timer deadline. */
	oneshots = 0;
	lapic_wr(0x380, (uint32_t)bus_khz * 2);        /* 2 ms */
	sti();
	uint64_t until = rdtsc() + 20 * tsc_khz;
	while (rdtsc() < until && !oneshots)
		__asm__ volatile("pause");
	cli();
	CHECK(oneshots == 1, "lapic: timer interrupt reaches a guest that never exits");
}

static void self_ipi_xapic(void)
{
	lapic_wr(0x310, 0);
	lapic_wr(0x300, VEC_SELF | (1u << 18));        /* shorthand self, fixed */
}

static void test_tpr(void)
{
	lapic_wr(0x80, 0x50);                          /* TPR class 5 masks class 4 */
	sti();
	self_ipi_xapic();
	rt_delay_tsc(tsc_khz);
	cli();
	CHECK(selfs == 0, "lapic: TPR holds back a lower-priority interrupt");
	CHECK(lapic_rd(0x200 + (VEC_SELF / 32) * 0x10) & (1u << (VEC_SELF % 32)), "lapic: it waits in IRR");
	sti();
	lapic_wr(0x80, 0);
	rt_delay_tsc(tsc_khz);
	cli();
	CHECK(selfs == 1, "lapic: lowering TPR delivers it");
	CHECK(lapic_rd(0xa0) == 0, "lapic: PPR back to 0 after EOI");
}

static bool wrmsr_faults(uint32_t msr, uint64_t val)
{
	struct rt_fault f;
	rt_expect_fault(2);
	wrmsr(msr, val);
	return rt_fault_taken(&f) && f.vector == 13;
}

static void test_x2apic(void)
{
	uint64_t base;
	CHECK(cpuid(1, 0).ecx & (1u << 21), "x2apic: offered in CPUID");
	rdmsr_safe(APIC_BASE_MSR, &base);
	CHECK((base & ~0xfffull) == 0xfee00000ull && (base & (1u << 11)) && (base & (1u << 8)),
	      "x2apic: APIC base, enabled, BSP");
	uint64_t v;
	CHECK(rdmsr_safe(0x802, &v) == -1, "x2apic: MSRs #GP while in xAPIC mode");
	CHECK(!wrmsr_faults(APIC_BASE_MSR, base | (1u << 10)), "x2apic: xAPIC -> x2APIC");
	x2 = true;
	CHECK(rdmsr_safe(0x802, &v) == 0 && v == 0, "x2apic: ID MSR reads 0 for vCPU 0");
	CHECK(rdmsr_safe(0x80d, &v) == 0 && v == 1, "x2apic: LDR derived from the ID");
	CHECK(lapic_rd(0x30) == 0xffffffffu, "x2apic: the MMIO page is gone");
	CHECK(wrmsr_faults(0x802, 5), "x2apic: ID is read-only (#GP)");
	wrmsr(0x80f, 0x1ff);                           /* SVR */
	wrmsr(0x83e, 0xb);
	ticks = 0;
	wrmsr(0x832, VEC_TICK | (1u << 17));
	wrmsr(0x838, bus_khz * 5);
	wait_for(&ticks, 3, 1000);
	wrmsr(0x832, 1u << 16);
	rt_check(ticks >= 3, "x2apic: timer through MSRs", "%u ticks", ticks);
	selfs = 0;
	sti();
	wrmsr(0x83f, VEC_SELF);                        /* SELF IPI */
	rt_delay_tsc(tsc_khz);
	cli();
	CHECK(selfs == 1, "x2apic: SELF IPI MSR");
	/* TSC-deadline mode (SDM 11.5.4.1) */
	CHECK(cpuid(1, 0).ecx & (1u << 24), "tsc-deadline: offered in CPUID");
	wrmsr(0x832, VEC_DEADLINE | (2u << 17));
	wrmsr(0x6e0, rdtsc() + 2 * tsc_khz);
	wait_for(&deadlines, 1, 1000);
	CHECK(deadlines == 1, "tsc-deadline: fires");
	wrmsr(0x832, 1u << 16);

	CHECK(wrmsr_faults(APIC_BASE_MSR, base), "x2apic: x2APIC -> xAPIC directly is #GP");
	CHECK(!wrmsr_faults(APIC_BASE_MSR, base & ~((1ull << 11) | (1ull << 10))), "x2apic: x2APIC -> disabled");
	x2 = false;
	CHECK(wrmsr_faults(APIC_BASE_MSR, base | (1u << 10)), "x2apic: disabled -> x2APIC directly is #GP");
	CHECK(!wrmsr_faults(APIC_BASE_MSR, base), "x2apic: disabled -> xAPIC");
	CHECK((lapic_rd(0x30) & 0xff) == 0x14, "x2apic: back in xAPIC mode, the page answers again");
}

#define IOAPIC ((volatile uint32_t *)0xfec00000ull)
#define VEC_UART 0x60
static volatile unsigned uart_irqs;
static volatile uint8_t uart_iir;
static uint32_t ioapic_rd(uint32_t reg) { IOAPIC[0] = reg; return IOAPIC[4]; }
static void ioapic_wr(uint32_t reg, uint32_t v) { IOAPIC[0] = reg; IOAPIC[4] = v; }
static void on_uart(void)
{
	uart_iir = inb(0x3fa);             /* IIR: reading it clears "THR empty" */
	uart_irqs++;
	lapic_wr(0xb0, 0);
}

static void test_ioapic_uart(void)
{
	/* The legacy PIC: masked, as Linux and most kernels leave it. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	CHECK(inb(0x21) == 0xff && inb(0xa1) == 0xff, "pic: masks read back");
	CHECK((ioapic_rd(1) & 0xff) == 0x20 && ((ioapic_rd(1) >> 16) & 0xff) == 23,
	      "ioapic: version 0x20, 24 pins");
	/* Disabling the APIC above reset it (SDM 11.4.7.2): software-enable again. */
	lapic_wr(0xf0, 0x1ff);
	ioapic_wr(0x10 + 2 * 4, VEC_UART);   /* pin 4: fixed, physical, edge, high */
	ioapic_wr(0x10 + 2 * 4 + 1, 0);      /* destination APIC 0 */
	CHECK(ioapic_rd(0x10 + 2 * 4) == VEC_UART, "ioapic: redirection entry reads back");
	outb(0x3fc, 0x0b);                   /* MCR: DTR, RTS, OUT2 */
	sti();
	outb(0x3f9, 0x02);                   /* IER: THR empty interrupt */
	rt_delay_tsc(2 * tsc_khz);
	cli();
	rt_check(uart_irqs >= 1 && (uart_iir & 0x0f) == 0x02, "ioapic: UART interrupt routed through pin 4",
		 "%u interrupts, IIR %#x", uart_irqs, uart_iir);
	outb(0x3f9, 0x00);
	ioapic_wr(0x10 + 2 * 4, VEC_UART | (1u << 16));  /* masked */
	/* Printing the line above raised "THR empty" again: let an interrupt
	 * that was already accepted by the LAPIC arrive before counting. */
	sti();
	rt_delay_tsc(tsc_khz);
	cli();
	unsigned before = uart_irqs;
	sti();
	outb(0x3f9, 0x02);
	rt_delay_tsc(2 * tsc_khz);
	cli();
	CHECK(uart_irqs == before, "ioapic: a masked pin delivers nothing");
	outb(0x3f9, 0x00);
}

/* NMIs (SDM 6.7.1): a self-NMI through the ICR reaches vector 2; a second
 * NMI sent from inside the handler waits for its IRET, then arrives. */
static volatile unsigned nmis, nested_nmis, nmi_depth;
static void send_self_nmi(void)
{
	lapic_wr(0x310, 0);
	lapic_wr(0x300, (4u << 8) | (1u << 18)); /* NMI, shorthand self */
}
static void on_nmi(void)
{
	if (++nmi_depth > 1)
		nested_nmis++;
	if (nmis++ == 0) {
		send_self_nmi();                     /* held: NMIs are blocked here */
		rt_delay_tsc(tsc_khz);
	}
	nmi_depth--;
}

static void test_nmi(void)
{
	lapic_wr(0xf0, 0x1ff);
	rt_irq_register(2, on_nmi);
	send_self_nmi();
	uint64_t end = rdtsc() + 200 * tsc_khz;
	while (nmis < 2 && rdtsc() < end)
		cpu_relax();
	rt_irq_register(2, NULL);
	CHECK(nmis == 2, "nmi: a self-NMI is delivered, and one sent from its handler after IRET");
	CHECK(nested_nmis == 0, "nmi: no NMI nests inside the handler (NMI blocking until IRET)");
}

void guest_main(void)
{
	if (!rt_under_nestor()) {
		rt_printf("interrupts: expects Nestor's virtual LAPIC; skipped\n");
		return;
	}
	tsc_khz = cpuid(0x40000010, 0).eax;
	bus_khz = cpuid(0x40000010, 0).ebx;
	rt_irq_register(VEC_TICK, on_tick);
	rt_irq_register(VEC_ONESHOT, on_oneshot);
	rt_irq_register(VEC_SELF, on_self);
	rt_irq_register(VEC_DEADLINE, on_deadline);
	rt_irq_register(VEC_UART, on_uart);
	test_xapic_timer();
	test_tpr();
	test_x2apic();
	test_ioapic_uart();
	test_nmi();
}
