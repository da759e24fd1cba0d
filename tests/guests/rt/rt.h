/*
 * The test-guest runtime: console, results, exceptions, hypercalls.
 * A guest defines guest_main(); the runtime prints PASS/FAIL lines and a
 * summary and ends the VM through the isa-debug-exit port (status 1 when
 * every check passed, 3 otherwise), which works under Nestor and QEMU.
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "arch/x86/cpu.h"
#include "kernel/hypercall.h"
#include "kernel/boot_info.h"

struct rt_boot_facts {
	unsigned boot_path;      /* BOOT_PATH_MB1 or BOOT_PATH_MB2 (kernel/boot_info.h) */
	uint64_t ram_bytes;      /* from the memory map: end of the highest usable region */
	const char *cmdline;
	unsigned mods_count;
	uint64_t rsdp;           /* Multiboot2 ACPI tag (0 with Multiboot1) */
	bool entered_64;         /* came in through elf64_entry (rt/entry64.S) */
};
const struct boot_module *rt_boot_module(unsigned i);
extern struct rt_boot_facts rt_boot;

void guest_main(void);
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_check(bool ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define CHECK(cond, name) rt_check((cond), (name), "%s", #cond)
void rt_exit(void) __attribute__((noreturn));

/* Exceptions: while armed, the next exception is recorded and execution
 * resumes after the faulting instruction, whose length the caller gives
 * (these are hand-picked instructions of known length). */
struct rt_fault { int vector; uint64_t error; uint64_t cr2; };
void rt_expect_fault(unsigned insn_len);
bool rt_fault_taken(struct rt_fault *f); /* disarms */

/* Interrupt handlers for vectors 32-255 (the handler does its own EOI). */
void rt_irq_register(uint8_t vector, void (*fn)(void));
void rt_idt_load(void);   /* on an AP: the shared IDT */

/* The local APIC, xAPIC page at its default address (SDM 11.4.1). */
#define RT_LAPIC ((volatile uint32_t *)0xfee00000ull)
static inline uint32_t lapic_rd(uint32_t off) { return RT_LAPIC[off / 4]; }
static inline void lapic_wr(uint32_t off, uint32_t v) { RT_LAPIC[off / 4] = v; }
static inline void rt_delay_tsc(uint64_t ticks) { uint64_t end = rdtsc() + ticks; while (rdtsc() < end) cpu_relax(); }

bool rt_under_nestor(void);
bool rt_is_amd(void);
long rt_hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3);
#endif
