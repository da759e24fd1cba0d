/*
 * kmain: where every boot path ends (DESIGN.md "One kernel, three ways in").
 *
 * The order matters and each step says why it comes where it does:
 *  1. per-CPU data, GDT/TSS/IDT, FPU: before anything can fault or use SSE;
 *  2. console: so every later failure is visible;
 *  3. configuration: it says how to end the run (exit device) and the log level;
 *  4. memory map -> frame allocator -> own page tables -> heap;
 *  5. CPU report, ACPI, LAPIC + timer calibration, SMP;
 *  6. the VMs of the configuration.
 */
#include <string.h>
#include <stdlib.h>
#include "kernel/boot_info.h"
#include "kernel/boot_modules.h"
#include "kernel/config.h"
#include "kernel/log.h"
#include "kernel/run.h"
#include "kernel/selftest.h"
#include "kernel/vm.h"
#include "mm/memmap.h"
#include "mm/frame.h"
#include "mm/paging.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/percpu.h"
#include "arch/x86/traps.h"
#include "arch/x86/lapic.h"
#include "arch/x86/acpi.h"
#include "arch/x86/smp.h"

#define NESTOR_VERSION "0.1"
#define HEAP_MAX ((uint64_t)16 << 20)

extern char __kernel_start[], __kernel_end[];
extern const char default_cfg_text[], default_cfg_end[];
void heap_init(uint64_t base, uint64_t size);
void kmain(const struct boot_info *bi_in);

static struct boot_info bi;          /* our copy: the original may be reused */
static struct nestor_config cfg;
static struct mem_region memmap[BOOT_MAX_REGIONS + 2 * BOOT_MAX_MODULES + 8];
static unsigned memmap_count;
static struct acpi_info acpi;
static volatile unsigned timer_ticks;

static const char *const path_names[] = { "?", "UEFI", "Multiboot1", "Multiboot2" };
static const char *const type_names[] = { "?", "usable", "ACPI reclaim", "ACPI NVS", "reserved", "bad" };

static bool module_exists(const char *name, void *ctx)
{
	(void)ctx;
	return boot_module_find(&bi, name) != NULL;
}

/* Configuration: nestor.cfg from the boot (ESP or Multiboot module), else
 * the embedded default; then the L0 command line overrides globals. */
static void load_config(void)
{
	struct cfg_error err;
	const struct boot_module *m = boot_module_find(&bi, "nestor.cfg");
	const char *text = m ? (const char *)m->addr : default_cfg_text;
	size_t len = m ? m->size : (size_t)(default_cfg_end - default_cfg_text);

	config_init(&cfg);
	int bad = config_parse(text, len, &cfg, &err);
	/* The command line (exit=...) applies even when the file is broken, so
	 * that the error still ends the run the way the harness expects. */
	struct cfg_error cmd_err;
	if (config_apply_cmdline(&cfg, bi.cmdline, &cmd_err)) {
		run_set_exit_mode(cfg.exit_mode);
		log_err("config: L0 command line: %s", cmd_err.msg);
		run_end(RUN_FAIL);
	}
	run_set_exit_mode(cfg.exit_mode);
	log_set_level((enum log_level)cfg.log_level);
	if (bad) {
		log_err("config: %s line %u: %s", m ? "nestor.cfg" : "built-in default", err.line, err.msg);
		run_end(RUN_FAIL);
	}
	if (config_check_files(&cfg, module_exists, NULL, &err)) {
		log_err("config: nestor.cfg line %u: %s", err.line, err.msg);
		run_end(RUN_FAIL);
	}
	log_info("config: %s, %u VM(s), exit=%s", m ? "nestor.cfg" : "built-in default",
		 cfg.vm_count, cfg_exit_mode_name(cfg.exit_mode));
}

/* The usable map minus everything still in use: the kernel image, the boot
 * modules, low memory (BIOS data, EBDA, the AP trampoline). */
static void build_memory_map(void)
{
	if (memmap_sanitize(bi.regions, bi.region_count, memmap, BOOT_MAX_REGIONS, &memmap_count))
		panic("memory map: cannot sanitize the %u boot regions", bi.region_count);

	/* The AP trampoline needs two free pages below 1 MiB (smp.c). */
	for (unsigned i = 0; i < memmap_count; i++) {
		const struct mem_region *r = &memmap[i];
		uint64_t start = r->base < 0x1000 ? 0x1000 : r->base;
		if (r->type == MEM_USABLE && start + 0x2000 <= r->base + r->length && start + 0x2000 <= 0x100000) {
			smp_set_trampoline(start);
			break;
		}
	}
	const unsigned max = sizeof(memmap) / sizeof(memmap[0]);
	int bad = memmap_reserve(memmap, &memmap_count, max, 0, 0x100000);
	bad |= memmap_reserve(memmap, &memmap_count, max, (uint64_t)__kernel_start,
			      (uint64_t)__kernel_end - (uint64_t)__kernel_start);
	for (unsigned i = 0; i < bi.module_count; i++)
		bad |= memmap_reserve(memmap, &memmap_count, max, bi.modules[i].addr, bi.modules[i].size);
	if (bad)
		panic("memory map: too many regions to reserve the kernel and modules");

	for (unsigned i = 0; i < memmap_count; i++)
		log_debug("mem: %016lx-%016lx %s", memmap[i].base, memmap[i].base + memmap[i].length - 1,
			  type_names[memmap[i].type <= MEM_BAD ? memmap[i].type : 0]);
	log_info("mem: %lu MiB usable in %u regions", memmap_usable_bytes(memmap, memmap_count) >> 20,
		 memmap_count);
}

/* End of the highest RAM or ACPI region: what the identity map must cover
 * (besides the first 4 GiB).  Firmware-reserved windows high above RAM,
 * such as QEMU's at 1 TiB, are not ours to touch. */
static uint64_t ram_top(void)
{
	uint64_t top = 0;
	for (unsigned i = 0; i < memmap_count; i++)
		if (memmap[i].type <= MEM_ACPI_NVS && memmap[i].base + memmap[i].length > top)
			top = memmap[i].base + memmap[i].length;
	return top;
}

static const void *phys_identity(uint64_t addr, uint64_t len, void *ctx)
{
	(void)ctx;
	/* Everything below the identity map's top is reachable; page 0 is not. */
	if (addr < 0x400 || addr + len < addr)
		return NULL;
	uint64_t ps;
	if (!paging_lookup(addr, &ps) || !paging_lookup(addr + len - 1, &ps))
		return NULL;
	return (const void *)addr;
}

static void timer_tick(struct trap_frame *tf)
{
	(void)tf;
	timer_ticks++;
	lapic_eoi();
}

/* The LAPIC timer really interrupts us: three periodic ticks, each waking HLT. */
static void check_timer(void)
{
	trap_register(VEC_LAPIC_TIMER, timer_tick);
	uint64_t t0 = rdtsc();
	lapic_timer_periodic(VEC_LAPIC_TIMER, 10000);
	while (timer_ticks < 3) {
		sti();
		hlt();
		cli();
		if (rdtsc() - t0 > tsc_khz() * 5000)
			break;
	}
	lapic_timer_stop();
	uint64_t us = (rdtsc() - t0) * 1000 / (tsc_khz() ? tsc_khz() : 1);
	if (timer_ticks < 3)
		panic("timer: only %u LAPIC timer interrupts in %lu us", timer_ticks, us);
	log_info("timer: %u ticks of 10 ms in %lu us", timer_ticks, us);
}

static void start_cpus(void)
{
	char err[128];
	uint64_t rsdp = bi.rsdp ? bi.rsdp : acpi_find_rsdp_bios(phys_identity, NULL);
	if (!rsdp || acpi_parse(rsdp, phys_identity, NULL, &acpi, err, sizeof(err))) {
		log_warn("acpi: %s; running on the boot CPU only", rsdp ? err : "no RSDP found");
		return;
	}
	log_info("acpi: RSDP %#lx rev %u OEM \"%s\": %u CPU(s), %u IOAPIC(s), LAPIC at %#lx",
		 rsdp, acpi.revision, acpi.oem_id, acpi.cpu_count, acpi.ioapic_count, acpi.lapic_addr);
	smp_start_aps(&acpi);
}

void kmain(const struct boot_info *bi_in)
{
	cpu_init_this(0, 0);
	idt_init();
	log_init();
	if (!bi_in || bi_in->magic != BOOT_INFO_MAGIC)
		panic("kmain: boot_info missing or corrupt (magic %#lx)", bi_in ? bi_in->magic : 0);
	memcpy(&bi, bi_in, sizeof(bi));

	kprint("\nNestor " NESTOR_VERSION " - nested-virtualization microhypervisor\n");
	log_info("boot: %s via %s, command line \"%s\", %u modules",
		 path_names[bi.boot_path <= BOOT_PATH_MB2 ? bi.boot_path : 0],
		 bi.loader_name[0] ? bi.loader_name : "?", bi.cmdline, bi.module_count);
	load_config();

	build_memory_map();
	frame_init(memmap, memmap_count);
	paging_init(ram_top());
	tss_init_ist();
	selftest_run(cfg.selftest);
	uint64_t heap = frame_free_bytes() / 4 < HEAP_MAX ? frame_free_bytes() / 4 : HEAP_MAX;
	uint64_t heap_base = frame_alloc_pages(heap / PAGE_SIZE, 0);
	if (!heap_base)
		panic("heap: cannot allocate %lu KiB", heap >> 10);
	heap_init(heap_base, heap);

	cpu_caps_read();
	cpu_caps_report();
	percpu_area[0].apic_id = 0;
	lapic_init_this_cpu();
	percpu_area[0].apic_id = lapic_id();
	percpu_area[0].online = 1;
	/* The legacy PIC stays masked: L0 uses only the LAPIC. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	lapic_calibrate();
	check_timer();
	start_cpus();

	const char *virt = cpu_caps.has_svm ? "SVM" : cpu_caps.has_vmx ? "VMX" : "none";
	kprint("NESTOR: banner: %u CPUs online, virtualization %s, boot %s, %s APIC\n", cpus_online,
	       virt, path_names[bi.boot_path <= BOOT_PATH_MB2 ? bi.boot_path : 0],
	       lapic_x2apic_mode() ? "x2" : "x");
	for (unsigned i = 0; i < cfg.vm_count; i++)
		log_info("vm %s: %lu MiB, %u vCPU(s), image %s (%s)%s", cfg.vms[i].name,
			 cfg.vms[i].memory_bytes >> 20, cfg.vms[i].vcpus, cfg.vms[i].image,
			 cfg_format_name(cfg.vms[i].format), cfg.vms[i].nested ? ", nested" : "");
	int failed = vms_run(&cfg, &bi);
	if (failed)
		log_err("vm: %d VM(s) could not start", failed);
	run_end(failed ? RUN_FAIL : RUN_PASS);
}
