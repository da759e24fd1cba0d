/*
 * The arch-neutral run loop: vCPUs placed on physical CPUs, each CPU
 * running its vCPUs until their VMs end — enter the guest through the
 * backend, hand the exit to kernel/exits.c, deliver interrupts, sleep
 * when everything is halted.
 */
#include <string.h>
#include "kernel/vm.h"
#include "kernel/backend.h"
#include "kernel/log.h"
#include "kernel/vintr.h"
#include "kernel/trace_l0.h"
#include "kernel/virtio_l0.h"
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "arch/x86/traps.h"

static struct vm vms[CFG_MAX_VMS];
static unsigned vm_count;
static struct vcpu *pcpu_vcpus[MAX_CPUS][CFG_MAX_VMS * VM_MAX_VCPUS];
static unsigned pcpu_nvcpus[MAX_CPUS];
static volatile unsigned aps_running;  /* APs still in pcpu_run */

/* A VM whose every vCPU is halted with interrupts off (or waits for a SIPI
 * no one will send) can never run again: `cli; hlt` is how a guest stops. */
static bool vm_stuck(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpu[i];
		if (!v->halted && !v->lapic.wait_for_sipi)
			return false;
		if (v->halted && (v->rflags & (1u << 9)))
			return false;
		if (v->halted && v->nested_deadline != UINT64_MAX)
			return false;   /* L1's preemption timer ends an L2's halt */
		if (v->pending_init || v->pending_sipi >= 0)
			return false;
	}
	return true;
}

#define SLICE_US 10000
#define MIN_RUN_US 20
static uint64_t min_run_ticks;  /* MIN_RUN_US in TSC ticks */

/* Sleep until the earliest vCPU timer or an IPI from another CPU. */
static void idle_until(uint64_t deadline)
{
	uint64_t now = rdtsc();
	if (deadline != UINT64_MAX) {
		if (deadline <= now)
			return;
		lapic_timer_until(VEC_LAPIC_TIMER, deadline);
	}
	sti();
	hlt();
	cli();
}

/* One vCPU until it halts, its VM ends, or L0 takes an interrupt (which
 * may mean another vCPU of this CPU has become runnable). */
static void run_vcpu(struct vcpu *v)
{
	struct vm_exit exit;
	if (v->long_mode_cr3) {
		/* ELF64 boot state, set on the CPU that runs the vCPU (VMX: its VMCS). */
		vcpu_ops->set_long_mode_boot(v, v->long_mode_cr3);
		v->long_mode_cr3 = 0;
	}
	trace_l0_select(v);
	while (v->vm->state == VM_RUNNING) {
		/* The guest must come back by its next virtual-timer event and,
		 * when it shares the CPU, by the end of its slice (interrupt
		 * delivery below may ask for sooner). */
		v->run_until = v->slice_end;
		if (v->vm->virtio_pending)      /* a kick left work: serve it */
			virtio_l0_poll(v->vm);
		vintr_before_entry(v);
		if (!vintr_runnable(v))
			return;
		uint64_t now = rdtsc();
		uint64_t d = vintr_next_deadline(v);
		if (d < v->run_until)
			v->run_until = d;
		/* Always let the guest run a little: a timer whose period is
		 * shorter than L0's exit path must not keep it from ever
		 * reaching its EOI. */
		if (v->run_until != UINT64_MAX && v->run_until < now + min_run_ticks)
			v->run_until = now + min_run_ticks;
		uint8_t level = v->level;
		if (v->reasons)   /* prices the last exit (kernel/exit_reasons.c) */
			exit_reasons_on_entry(v->reasons, level, now);
		vcpu_ops->vcpu_run(v, &exit);
		exit.level = level;   /* the level that ran: nested code may have switched since */
		bool go_on = handle_exit(v, &exit);
		if (!go_on || exit.kind == EXIT_INTR || (exit.kind == EXIT_TIMER && rdtsc() >= v->slice_end))
			return;
	}
}

/* Run the vCPUs placed on this physical CPU until their VMs end. */
static void pcpu_run(void)
{
	unsigned me = this_cpu()->index;
	if (pcpu_nvcpus[me] == 0)
		return;
	min_run_ticks = MIN_RUN_US * tsc_khz() / 1000;
	if (vcpu_ops->hw_enable()) {
		for (unsigned i = 0; i < pcpu_nvcpus[me]; i++)
			vm_end(pcpu_vcpus[me][i]->vm, -1, "virtualization unavailable on this CPU");
		return;
	}
	for (;;) {
		trace_l0_serve(me);
		bool live = false, ran = false;
		uint64_t deadline = UINT64_MAX;
		for (unsigned i = 0; i < pcpu_nvcpus[me]; i++) {
			struct vcpu *v = pcpu_vcpus[me][i];
			if (v->vm->state != VM_RUNNING)
				continue;
			live = true;
			vintr_before_entry(v);
			if (vintr_runnable(v)) {
				/* Sharing this CPU: a time slice, so a vCPU that never
				 * exits by itself cannot starve the others. */
				v->slice_end = pcpu_nvcpus[me] > 1 ? rdtsc() + SLICE_US * tsc_khz() / 1000 : UINT64_MAX;
				run_vcpu(v);
				ran = true;
			} else if (vm_stuck(v->vm)) {
				vm_end(v->vm, -1, "all vCPUs halted with interrupts disabled");
			} else {
				uint64_t d = vintr_next_deadline(v);
				if (d < deadline)
					deadline = d;
			}
		}
		if (!live)
			break;
		if (!ran)
			idle_until(deadline);
	}
}

static void ap_run(void)
{
	pcpu_run();
	__atomic_sub_fetch(&aps_running, 1, __ATOMIC_ACQ_REL);
}

int vms_run(const struct nestor_config *cfg, const struct boot_info *bi)
{
	if (!backend_choose()) {
		log_err("vm: no supported virtualization on this CPU (SVM with NPT, or VMX with EPT, VPID and unrestricted guest)");
		return (int)cfg->vm_count;
	}
	int failed = 0;
	unsigned next_pcpu = 0;
	trace_l0_init();
	nvmx_shadowing_off = !cfg->vmcs_shadow;
	for (unsigned i = 0; i < cfg->vm_count; i++) {
		struct vm *vm = &vms[vm_count];
		if (vm_create(vm, &cfg->vms[i], vm_count, bi)) {
			failed++;
			continue;
		}
		vm_count++;
		if (cfg->trace || vm->cfg->trace)  /* global or this VM's `trace = on` */
			trace_l0_set(vm, NULL, true);
		for (unsigned k = 0; k < vm->nvcpus; k++) {
			unsigned p = next_pcpu++ % cpus_online;
			vm->vcpu[k].pcpu = p;
			pcpu_vcpus[p][pcpu_nvcpus[p]++] = &vm->vcpu[k];
		}
	}
	for (unsigned p = 1; p < cpus_online; p++)
		if (pcpu_nvcpus[p]) {
			__atomic_add_fetch(&aps_running, 1, __ATOMIC_ACQ_REL);
			smp_run_on(p, ap_run);
		}
	pcpu_run();
	/* With tracing, also wait for the APs to leave their guests: then no
	 * CPU writes a ring and the last records can be dumped from here. */
	while (vms_alive() || (trace_l0_used() && aps_running))
		cpu_relax();
	for (unsigned i = 0; i < vm_count; i++)
		vm_print_exit_table(&vms[i]);
	trace_l0_flush();
	return failed;
}
