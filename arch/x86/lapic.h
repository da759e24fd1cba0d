#ifndef NESTOR_LAPIC_H
#define NESTOR_LAPIC_H
#include <stdint.h>

/* Register offsets in the xAPIC page (SDM 3A table 11-1); x2APIC MSR = 0x800 + off/16. */
#define LAPIC_ID      0x020
#define LAPIC_VER     0x030
#define LAPIC_TPR     0x080
#define LAPIC_EOI     0x0b0
#define LAPIC_SVR     0x0f0
#define LAPIC_ESR     0x280
#define LAPIC_ICR     0x300
#define LAPIC_ICR_HI  0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR  0x390
#define LAPIC_TIMER_DIV  0x3e0

#define ICR_INIT     (5u << 8)
#define ICR_STARTUP  (6u << 8)
#define ICR_ASSERT   (1u << 14)
#define ICR_LEVEL    (1u << 15)
#define ICR_PENDING  (1u << 12)

void lapic_init_this_cpu(void);   /* BSP first: picks xAPIC or x2APIC for all */
int lapic_x2apic_mode(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);
/* Timer, calibrated by lapic_calibrate() against the PIT (or CPUID 0x15/0x16). */
void lapic_calibrate(void);
uint64_t tsc_khz(void);
uint64_t lapic_timer_khz(void);
void lapic_timer_periodic(uint8_t vector, uint32_t period_us);
void lapic_timer_oneshot(uint8_t vector, uint32_t us);
/* One-shot interrupt at (or just after) a TSC value. */
void lapic_timer_until(uint8_t vector, uint64_t tsc_deadline);
void lapic_timer_stop(void);
void udelay(uint64_t us);        /* TSC busy-wait; valid after calibration */
#endif
