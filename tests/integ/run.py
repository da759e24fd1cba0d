#!/usr/bin/env python3
"""Nestor's scenario runner: boots Nestor in an emulator per scenario and
decides PASS/FAIL from explicit result lines on serial plus the emulator's
exit status (never the status alone: QEMU exits 0 on a triple fault with
-no-reboot).  One line per scenario: name, platform, PASS/FAIL, seconds.

Usage: run.py [--only NAME[,NAME]] [--list] [--keep] [--run]
The table SCENARIOS below is the one place later issues extend.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
WORK = os.path.join(BUILD, "integ")
ELF = os.path.join(BUILD, "nestor.elf")
EFI = os.path.join(BUILD, "BOOTX64.EFI")
CFG_DIR = os.path.join(ROOT, "tests", "integ", "cfg")
OVMF = "/usr/share/OVMF/OVMF_CODE.fd"

QEMU_PASS, QEMU_FAIL = 33, 35       # (0x10 << 1) | 1, (0x11 << 1) | 1: kernel/run_end.c
BOCHS_PASS, BOCHS_FAIL = 0, 1       # debugger 'quit' after port 0x8900 'D' / "Shutdown"


@dataclass
class Scenario:
    name: str
    emulator: str                 # qemu | bochs
    boot: str                     # uefi | mb1 | mb2
    cfg: str = None               # file in tests/integ/cfg, passed as nestor.cfg
    cmdline: str = ""
    expect: list = field(default_factory=list)   # regexes that must all appear
    reject: list = field(default_factory=list)   # regexes that must not appear
    result: str = "PASS"          # how Nestor must end: PASS or FAIL
    timeout: int = 120
    cpus: int = 2
    memory_mb: int = 512
    modules: list = field(default_factory=list)  # extra files (paths from ROOT)
    reject_common: bool = True    # fail on any L0 exception/panic line
    # Post-check commands: (argv, regexes) run after the emulator, from ROOT;
    # "{serial}" and "{dir}" in argv name the serial log and the scenario's
    # directory.  Each must exit 0 and print (stdout + stderr) every regex.
    post: list = field(default_factory=list)
    # Timing marks: (label, regex) pairs.  The serial log is polled while the
    # emulator runs, and the seconds from its start to each regex's first
    # appearance are printed on the scenario's line ("boot-to-init 7.9s").
    marks: list = field(default_factory=list)
    needs: str = None             # a make target built first (e.g. linux-guest)
    # Disk images made for the run (nothing binary in the repository):
    # name -> size in bytes, zero-filled, staged and passed like modules.
    disks: dict = field(default_factory=dict)
    # Not in `make test` (run with --slow, or by name with --only):
    # too long, or not yet reliable (the reason is on the scenario).
    slow: bool = False

    @property
    def platform(self):
        return f"{self.emulator}/{self.boot}"


COMMON_REJECT = [r"L0 EXCEPTION", r"L0 PANIC"]
# What a Linux guest prints when something went wrong: a panic, an MSR
# access that raised #GP outside rdmsr_safe, a WARN() ("WARNING: CPU: n
# PID: ..."; not the mitigation notes that start with "RETBleed: WARNING:"),
# a stack dump, BUG() or an oops.
LINUX_TROUBLE = r"\[(linux|net-a|net-b)\] .*(Kernel panic|unchecked MSR access|WARNING: CPU:|Call Trace|BUG:|Oops)"
# What /init of the busybox initramfs (tools/linux-guest/init) and the
# kernel print on the way when Linux boots as L1, on either vendor.
LINUX_L1_EXPECT = [
    r"vm linux: Linux command line: .*tsc_early_khz=\d+ tsc=reliable",
    r"\[linux\] .*Linux version \d+\.\d+\.\d+-\d+-cloud-amd64",
    r"\[linux\] .*ACPI: RSDP 0x00000000000F0000",
    r"\[linux\] .*smp: Brought up 1 node, 2 CPUs",
    r"\[linux\] NESTOR-LINUX: init reached, uname: \d+\.\d+\.\d+-\d+-cloud-amd64",
    r"\[linux\] NESTOR-LINUX: uptime [\d.]+ s, 2 CPUs online",
    r"\[linux\] NESTOR-LINUX: clocksource tsc(-early)?, clockevent lapic-deadline",
    r"\[linux\] NESTOR-LINUX: interrupts: \d+:( \d+)* [1-9]\d*( \d+)* IO-APIC 4-edge ttyS0",
    r"\[linux\] NESTOR-LINUX: interrupts: LOC: [1-9]\d* [1-9]\d* Local timer interrupts",
    r"\[linux\] NESTOR-LINUX: userspace: 500500",
    r"vm linux ended: status 1 \(debug-exit port\)",
    # the PIT and the RTC are modelled (no probe loops to their timeouts)
    r"vm linux: ports with no device \(read all-ones\): PCI=\d+",
]


def linux_kvm_expect(emu):
    """What the linux-kvm scenario must print: KVM in L1 (kvm_amd on QEMU's
    SVM, kvm_intel on Bochs's VMX) and every kvm-l2 case."""
    if emu == "qemu":
        vendor = [r"\[linux\] .*kvm: Nested Virtualization enabled",
                  r"\[linux\] .*SVM: kvm: Nested Paging enabled",
                  r"\[linux\] NESTOR-KVM: modules loaded in [\d.]+ s: irqbypass kvm kvm_amd \(kvm_amd nested=1\), "
                  r"/dev/kvm present",
                  r"vm linux: vCPU 0: nested SVM: .* INTR/NMI to L1 \([1-9]\d* deferred past an EVENTINJ\)"]
    else:
        vendor = [r"\[linux\] NESTOR-KVM: modules loaded in [\d.]+ s: irqbypass kvm kvm_intel \(kvm_intel nested=Y\), "
                  r"/dev/kvm present",
                  r"vm linux: vCPU 0: nested VMX: .* INTR/NMI to L1 \([1-9]\d* deferred past an injection\)"]
    return vendor + [
        r"\[linux\] NESTOR-LINUX: init reached, uname: \d+\.\d+\.\d+-\d+-cloud-amd64",
        r"\[linux\] NESTOR-LINUX: uptime [\d.]+ s, 2 CPUs online",
        r"\[linux\] NESTOR-KVM: real-mode L2: 5000 cpuid \+ 5000 pio OK, [\d.]+ us/iter",
        r"\[linux\] NESTOR-KVM: long-mode L2: 5000 cpuid \+ 5000 pio OK, [\d.]+ us/iter",
        r"\[linux\] NESTOR-KVM: long-mode L2 interrupts: 1000 interrupts injected \+ 1000 handled OK "
        r"\(1000 window exits\), [\d.]+ us/irq",
        r"\[linux\] NESTOR-KVM: cpu0 long-mode L2: 5000 cpuid \+ 5000 pio OK, [\d.]+ us/iter",
        r"\[linux\] NESTOR-KVM: cpu1 long-mode L2: 5000 cpuid \+ 5000 pio OK, [\d.]+ us/iter",
        r"\[linux\] NESTOR-KVM: 2 CPUs, one long-mode L2 each, in parallel: OK",
        r"\[linux\] NESTOR-KVM: L2 phase [\d.]+ s, all cases passed",
        r"\[linux\] NESTOR-KVM: kvm-l2 exit status 0",
        r"\[linux\] NESTOR-KVM: phases \(L1 uptime\): boot to init [\d.]+ s, module load [\d.]+ s, "
        r"L2 guests [\d.]+ s",
        r"\[linux\] NESTOR-LINUX: done, ending the VM",
        r"vm linux ended: status 1 \(debug-exit port\)"]

SCENARIOS = [
    Scenario("boot", "qemu", "mb1", cfg="boot.cfg",
             expect=[r"boot: Multiboot1", r"cpu: SVM revision \d+, \d+ ASIDs, features: NPT",
                     r"timer: 3 ticks", r"cpu 1 online",
                     r"NESTOR: banner: 2 CPUs online, virtualization SVM, boot Multiboot1",
                     r"vm demo-a: 64 MiB, 1 vCPU"]),
    Scenario("boot", "qemu", "uefi", cfg="boot.cfg",
             expect=[r"boot: UEFI via nestor-efi", r"acpi: RSDP", r"cpu 1 online",
                     r"NESTOR: banner: 2 CPUs online, virtualization SVM, boot UEFI",
                     r"vm demo-a: 64 MiB, 1 vCPU"]),
    Scenario("boot", "bochs", "mb2", cfg="boot-novm.cfg", timeout=240,
             expect=[r"boot: Multiboot2", r"cpu: VMX revision", r"VMX secondary: .*EPT.*VMCSShadowing",
                     r"VMX EPT/VPID: .*4Level", r"cpu 1 online",
                     r"NESTOR: banner: 2 CPUs online, virtualization VMX, boot Multiboot2"]),
    Scenario("bad-config", "qemu", "mb1", cfg="bad-size.cfg", result="FAIL", cpus=1,
             expect=[r"config: nestor.cfg line 6: .*memory"]),
    Scenario("missing-image", "qemu", "mb1", cfg="missing-image.cfg", result="FAIL", cpus=1,
             expect=[r"config: nestor.cfg line 4: .*nothere\.elf"]),
    # Deliberate L0 faults: the exception report appears and the run fails.
    Scenario("fault-null", "qemu", "mb1", cmdline="selftest=null", result="FAIL", cpus=1,
             reject_common=False,
             expect=[r"L0 EXCEPTION on cpu 0: vector 14 \(#PF", r"not-present page read at 0\n",
                     r"RIP [0-9a-f]{16}", r"CR2 0000000000000000", r"RAX [0-9a-f]{16}"]),
    Scenario("fault-wx", "qemu", "mb1", cmdline="selftest=write-text", result="FAIL", cpus=1,
             reject_common=False,
             expect=[r"vector 14 \(#PF", r"protection violation write"]),
    Scenario("fault-nx", "qemu", "mb1", cmdline="selftest=exec-data", result="FAIL", cpus=1,
             reject_common=False,
             expect=[r"vector 14 \(#PF", r"\(instruction fetch\)"]),
    Scenario("fault-stack", "qemu", "mb1", cmdline="selftest=stack", result="FAIL", cpus=1,
             reject_common=False,
             expect=[r"vector 8 \(#DF double fault\)"]),
    Scenario("fault-null", "bochs", "mb2", cmdline="selftest=null", result="FAIL", cpus=1,
             reject_common=False, timeout=240,
             expect=[r"L0 EXCEPTION on cpu 0: vector 14 \(#PF", r"CR2 0000000000000000"]),
    # L1 guests on SVM (QEMU TCG): each test guest prints PASS/FAIL lines and a summary.
    Scenario("l1-guests", "qemu", "mb1", cfg="l1-guests.cfg", timeout=180,
             modules=[f"build/guests/{g}.elf" for g in ("cpu", "memory", "io", "triple", "platform", "platform64")],
             expect=[r"\[cpu\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm cpu ended: status 1 ",
                     r"\[memory\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm memory ended: status 1 ",
                     r"\[io\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm io ended: status 1 ",
                     r"vm triple: vCPU 0 shut down \(triple fault\)", r"vm triple ended: status -1 \(triple fault\)",
                     r"\[platform\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[platform-mb2\] platform: booted via Multiboot2, command line \"hello from the config\"",
                     r"\[platform-mb2\] PASS: multiboot2: ACPI RSDP tag",
                     r"\[platform-mb2\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[platform64\] PASS: elf64: entered in 64-bit mode",
                     r"\[platform64\] PASS: boot: the module's name and contents",
                     r"\[platform64\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"vm cpu: vCPU 0: \d+ exits: CPUID="],
             reject=[r"\] FAIL:"]),
    Scenario("l1-guests", "qemu", "uefi", cfg="l1-guests.cfg", timeout=180,
             modules=[f"build/guests/{g}.elf" for g in ("cpu", "memory", "io", "triple", "platform", "platform64")],
             expect=[r"boot: UEFI", r"\[cpu\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[memory\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[io\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[platform\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"vm triple ended: status -1 \(triple fault\)"],
             reject=[r"\] FAIL:"]),
    Scenario("l1-interrupts", "qemu", "mb1", cfg="l1-interrupts.cfg", timeout=180,
             modules=["build/guests/interrupts.elf", "build/guests/smp.elf"],
             expect=[r"\[interrupts\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm interrupts ended: status 1 ",
                     r"\[smp\] smp: AP running, LAPIC ID 1",
                     r"\[smp\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm smp ended: status 1 "],
             reject=[r"\] FAIL:"]),
    # The same L1 guests on Intel VMX (Bochs): the neutral layer, unchanged.
    Scenario("l1-guests", "bochs", "mb2", cfg="l1-guests.cfg", timeout=400,
             modules=[f"build/guests/{g}.elf" for g in ("cpu", "memory", "io", "triple", "platform", "platform64")],
             expect=[r"\[cpu\] SUMMARY: [1-9]\d* passed, 0 failed", r"\[cpu\] cpu test guest: Intel, under Nestor",
                     r"\[memory\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[io\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[platform\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[platform-mb2\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[platform64\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"vm triple ended: status -1 \(triple fault\)"],
             reject=[r"\] FAIL:"]),
    Scenario("l1-interrupts", "bochs", "mb2", cfg="l1-interrupts.cfg", timeout=400,
             modules=["build/guests/interrupts.elf", "build/guests/smp.elf"],
             expect=[r"\[interrupts\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[smp\] SUMMARY: [1-9]\d* passed, 0 failed"],
             reject=[r"\] FAIL:"]),
    Scenario("l1-lapic-alone", "qemu", "mb1", cfg="l1-lapic-alone.cfg", timeout=120,
             modules=["build/guests/interrupts.elf"],
             expect=[r"\[interrupts\] SUMMARY: [1-9]\d* passed, 0 failed"], reject=[r"\] FAIL:"]),
    Scenario("l1-lapic-alone", "bochs", "mb2", cfg="l1-lapic-alone.cfg", timeout=300,
             modules=["build/guests/interrupts.elf"],
             expect=[r"\[interrupts\] SUMMARY: [1-9]\d* passed, 0 failed"], reject=[r"\] FAIL:"]),
    # Nested SVM end to end: svmhv (tests/guests/svmhv.c) runs the test guests as L2.
    Scenario("nested-svm", "qemu", "mb1", cfg="nested-svm.cfg", timeout=180, memory_mb=1024,
             modules=[f"build/guests/{g}.elf" for g in ("svmhv", "cpu", "io", "memory", "npt12")],
             expect=[r"\[l2-cpu\] svmhv: running cpu\.elf as L2 \(NPT12 4K\+2M, nRIP (yes|no)\)",
                     r"\[l2-cpu\] cpu test guest: AMD, under Nestor",
                     r"\[l2-cpu\] PASS: hypercall: console write",
                     r"\[l2-cpu\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[l2-cpu\] svmhv: L2 ended with status 0 after \d+ exits", r"vm l2-cpu ended: status 1 ",
                     # L0's counters split each reflected exit (kernel/exit_reasons.h)
                     r"vm l2-cpu: vCPU 0: L2: CPUID\(0x72\) count=[1-9]\d* cost: mean=[1-9]\d*[^\n]*\n"
                     r"vm l2-cpu: vCPU 0: L2:   reflected=[1-9]\d* l1_exits/trip=[1-9]\d*\.\d\d before: mean=[1-9]"
                     r"[^\n]*\| l1: mean=[1-9][^\n]*\| after: mean=[1-9]",
                     r"\[l2-io\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-io ended: status 1 ",
                     r"\[l2-memory\] PASS: mmio: REP STOSD into a hole",
                     r"\[l2-memory\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-memory ended: status 1 ",
                     r"\[l2-npt12\] PASS: remap: L2 reads the new L1 page",
                     r"\[l2-npt12\] PASS: unmap 4K page: the read takes exactly one #NPF in svmhv",
                     r"\[l2-npt12\] PASS: unmap page in a 2M page: the write takes exactly one #NPF in svmhv",
                     r"\[l2-npt12\] PASS: split: each 4 KiB page shows its new L1 page",
                     r"\[l2-npt12\] PASS: 1G: L2 reads L1 memory through a 1 GiB NPT12 page",
                     r"\[l2-npt12\] SUMMARY: 22 passed, 0 failed",
                     r"\[l2-npt12\] svmhv: L2 ended with status 0 after \d+ exits \(\d+ cpuid, \d+ vmmcall, 2 npf\)",
                     r"vm l2-npt12 ended: status 1 ",
                     r"vm l2-npt12: vCPU 0: nested SVM: \d+ VMRUN \(0 invalid, 0 #GP\)"],
             reject=[r"\] FAIL:"]),
    Scenario("nested-svm-interrupts", "qemu", "mb1", cfg="nested-svm-interrupts.cfg", timeout=120,
             modules=["build/guests/svmhv.elf", "build/guests/interrupts.elf"],
             expect=[r"\[l2-interrupts\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-interrupts ended: status 1 ",
                     r"vm l2-interrupts: vCPU 0: nested SVM: \d+ VMRUN"],
             reject=[r"\] FAIL:"]),
    # Nested SVM, three levels: svmhv runs a copy of itself, which runs the cpu guest as L3.
    Scenario("nested-svm-l3", "qemu", "mb1", cfg="nested-svm-l3.cfg", timeout=120,
             modules=["build/guests/svmhv.elf", "build/guests/cpu.elf", "build/guests/npt12.elf"],
             expect=[r"vm \S+: vCPU 0: nested SVM: .*, [2-9]\d* ASID02 leases",  # L2 and L3: two contexts
                     r"\[l3\] svmhv: running svmhv\.elf as L2 \(NPT12 4K\+2M, nRIP (yes|no)\), \d+ MiB at L1 "
                     r"0x[0-9a-f]+, offering it SVM, modules cpu\.elf",
                     r"\[l3\] svmhv\(L2\): running cpu\.elf as L2",
                     r"\[l3\] svmhv: L2 runs its own guest \(L3\): vmcb23 at L2 0x[0-9a-f]+, NPT23 composed",
                     r"\[l3\] cpu test guest: AMD, under Nestor",
                     r"\[l3\] PASS: cpuid: SVM hidden \(not nested\)",
                     r"\[l3\] PASS: hypercall: console write",
                     r"\[l3\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[l3\] svmhv\(L2\): L2 ended with status 0 after \d+ exits",
                     r"\[l3\] svmhv: L2 ended with status 0 after \d+ exits",
                     r"\[l3\] svmhv: L3 \(L2's guest\): [1-9]\d* VMRUN by L2 \(0 invalid\)",
                     r"vm l3 ended: status 1 ",
                     r"vm l3: vCPU 0: nested SVM: \d+ VMRUN \(0 invalid, 0 #GP\)",
                     r"\[l3-npt12\] SUMMARY: 22 passed, 0 failed",
                     r"\[l3-npt12\] svmhv\(L2\): L2 ended with status 0 after \d+ exits \(\d+ cpuid, \d+ vmmcall, 2 npf\)",
                     r"\[l3-npt12\] svmhv: L3 \(L2's guest\): \d+ VMRUN by L2 \(0 invalid\), \d+ L3 exits: \d+ to L2 \(2 #NPF\)",
                     r"vm l3-npt12 ended: status 1 "],
             reject=[r"\] FAIL:"]),
    # The teaching trace (docs/teaching-trace.md): an L2 CPUID told step by step.
    Scenario("nested-teach", "qemu", "mb1", cfg="nested-teach.cfg", timeout=120,
             modules=["build/guests/svmhv.elf", "build/guests/cpu.elf"],
             expect=[r"teach: vm teach: L1 VMRUN, vmcb12 at 0x[0-9a-f]+: checks of APM 15\.5\.1 pass",
                     r"teach: vm teach: L2 exit 0x72 \(CPUID\) at RIP 0x[0-9a-f]+: vmcb12 intercepts it: goes to L1",
                     r"teach: vm teach:     vmcb12\.EXITCODE +0x[0-9a-f]+ -> 0x72",
                     r"teach: vm teach:     vmcb12\.nRIP",
                     r"teach: vm teach:     L1 resumes after its VMRUN at RIP 0x[0-9a-f]+ with GIF = 0",
                     r"teach: vm teach: \(40 transitions shown; quiet from here\)",
                     r"\[teach\] SUMMARY: [1-9]\d* passed, 0 failed"],
             reject=[r"\] FAIL:"]),
    Scenario("nested-teach", "bochs", "mb2", cfg="nested-teach-vmx.cfg", timeout=300,
             modules=["build/guests/vmxhv.elf", "build/guests/cpu.elf"],
             expect=[r"teach: vm teach: L1 VMLAUNCH, vmcs12 at 0x[0-9a-f]+: the checks of SDM 26\.2-26\.3 pass",
                     r"teach: vm teach: L2 exit 10 \(CPUID\) at RIP 0x[0-9a-f]+: L1 asked for it: goes to L1",
                     r"teach: vm teach:     vmcs12\.EXIT_REASON +0x[0-9a-f]+ -> 0xa",
                     r"teach: vm teach:     L1 resumes at its HOST_RIP 0x[0-9a-f]+",
                     r"teach: vm teach: L1 VMRESUME, vmcs12 at 0x[0-9a-f]+: only \d+ hot field",
                     r"\[teach\] SUMMARY: [1-9]\d* passed, 0 failed"],
             reject=[r"\] FAIL:"]),
    # Nested SVM (QEMU TCG): broken vmcb12s from a hostile L1, next to a plain VM.
    Scenario("nsvm-hostile", "qemu", "mb1", cfg="nested-svm-hostile.cfg", timeout=120,
             modules=["build/guests/nsvm_hostile.elf", "build/guests/cpu.elf"],
             expect=[r"\[hostile\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm hostile ended: status 1 ",
                     r"\[hostile\] PASS: clean bits: with I marked clean, the cached CPUID intercept holds",
                     r"\[hostile\] PASS: clean bits: at another VMCB address they count as zero",
                     r"VMRUN 0x[0-9a-f]+: VMEXIT_INVALID: ASID is zero \(APM 15\.5\.1\)",
                     r"VMRUN 0x[0-9a-f]+: VMEXIT_INVALID: nCR3 table not in L1 memory",
                     r"VMRUN 0xfee00000: #GP: VMCB page not in L1 RAM",
                     r"\[cpu\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm cpu ended: status 1 ",
                     r"vm hostile: vCPU 0: nested SVM: \d+ VMRUN \(19 invalid, [1-4] #GP\)"],
             reject=[r"\] FAIL:"]),
    # Nested VMX (Bochs): a minimal guest hypervisor, VMLAUNCH/VMRESUME round trips.
    Scenario("nvmx-smoke", "bochs", "mb2", cfg="nested-vmx-smoke.cfg", timeout=300, cpus=1,
             modules=["build/guests/nvmx_smoke.elf"],
             expect=[r"\[vsmoke\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm vsmoke ended: status 1 ",
                     r"vm vsmoke: vCPU 0: nested VMX: \d+ VMX instructions",
                     r"\[vsmoke\] PASS: vpid: L2 runs under VPID 1, 2, 1",
                     r"\[vsmoke\] PASS: invvpid: single-context of a VPID that never ran",
                     r"vm vsmoke: vCPU 0: nested VMX: .*, 2 VPID02s assigned",
                     r"\[vsmoke\] PASS: preemption timer: L2's spin loop exits to L1 with reason 52",
                     r"\[vsmoke\] PASS: preemption timer: not before 2000 units",
                     r"\[vsmoke\] PASS: preemption timer: wakes L2 from HLT with interrupts off",
                     r"\[vsmoke\] PASS: preemption timer: the exit saves activity state HLT",
                     r"\[vsmoke\] PASS: shadow VMCS: L2's VMREAD reads the shadow VMCS",
                     r"\[vsmoke\] PASS: shadow VMCS: L2's VMWRITE went into the shadow VMCS",
                     r"\[vsmoke\] PASS: shadow VMCS: a VMREAD whose bitmap bit is set exits to L1",
                     r"\[vsmoke\] PASS: shadow VMCS: a link pointer to an ordinary VMCS fails the entry",
                     r"vm vsmoke: vCPU 0: nested VMX: .*, 2 L2 VMREAD/VMWRITE on L1's shadow VMCS"],
             reject=[r"\] FAIL:"]),
    # The exit trace (issue 8): a nested VM traced by its config, a VM switching
    # tracing by hypercall; nestor-trace reads the dumps from the serial log.
    Scenario("nested-trace", "qemu", "mb1", cfg="nested-trace.cfg", timeout=180,
             modules=["build/guests/svmhv.elf", "build/guests/cpu.elf", "build/guests/trace_hc.elf"],
             expect=[r"\[l2-traced\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-traced ended: status 1 ",
                     r"\[hc-trace\] SUMMARY: 5 passed, 0 failed", r"vm hc-trace ended: status 1 ",
                     r"NTRACE v1 begin cpu=\d+ count=[1-9]\d* dropped=\d+ [0-9a-f]{8}\n",
                     r"vm l2-traced: vCPU 0: L1: \d+ exits:.* NESTED=",
                     r"vm l2-traced: vCPU 0: L2: \d+ exits:.* IO=\d+.* NESTED="],
             reject=[r"\] FAIL:"],
             post=[(["build/tools/nestor-trace", "--csv", "{dir}/trace.csv", "--timeline", "{dir}/time.svg", "{serial}"],
                    [r"^nestor-trace: \d+ dumps?, \d+ records, [1-9]\d* exits$",
                     r"^\s+0\s+0\s+L1 svm\s+0x80\s+VMRUN\s+[1-9]\d*$",     # vm 0 = l2-traced, by level
                     r"^\s+0\s+0\s+L2 svm\s+0x72\s+CPUID\s+[1-9]\d*$",
                     r"^\s+1\s+0\s+L1 svm\s+0x72\s+CPUID\s+10$",           # vm 1 = hc-trace: on..dump
                     r"^\s+1\s+0\s+L1 svm\s+0x81\s+VMMCALL\s+3$",
                     r"^Nested exit anatomy",
                     r"^\s+L2 svm\s+0x(72|81)\s+(CPUID|VMMCALL)\s+[1-9]\d*(\s+\d+){4}\s+\d+\.\d\d$"])]),
    # Nested VMX end to end: vmxhv (tests/guests/vmxhv.c) runs the test guests as L2 with EPT12.
    Scenario("nested-vmx", "bochs", "mb2", cfg="nested-vmx.cfg", timeout=400,
             modules=[f"build/guests/{g}.elf" for g in ("vmxhv", "cpu", "io", "memory", "npt12")],
             expect=[r"\[l2-cpu\] vmxhv: running cpu\.elf as L2 \(EPT12 4K\+2M, VPID (yes|no), shadow VMCS (yes|no)\)",
                     r"\[l2-cpu\] cpu test guest: Intel, under Nestor", r"\[l2-cpu\] PASS: cpuid: VMX hidden \(not nested\)",
                     r"\[l2-cpu\] PASS: hypercall: console write", r"\[l2-cpu\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[l2-cpu\] vmxhv: L2 ended with status 0 after \d+ exits", r"vm l2-cpu ended: status 1 ",
                     r"vm l2-cpu: vCPU 0: L2: CPUID\(0xa\) count=[1-9]\d* cost: mean=[1-9]\d*[^\n]*\n"
                     r"vm l2-cpu: vCPU 0: L2:   reflected=[1-9]\d* l1_exits/trip=[1-9]\d*\.\d\d before: mean=[1-9]"
                     r"[^\n]*\| l1: mean=[1-9][^\n]*\| after: mean=[1-9]",
                     r"\[l2-io\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-io ended: status 1 ",
                     r"\[l2-memory\] PASS: mmio: REP STOSD into a hole",
                     r"\[l2-memory\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-memory ended: status 1 ",
                     r"\[l2-npt12\] PASS: remap: L2 reads the new L1 page",
                     r"\[l2-npt12\] PASS: unmap 4K page: the read takes exactly one EPT violation in vmxhv",
                     r"\[l2-npt12\] PASS: unmap page in a 2M page: the write takes exactly one EPT violation in vmxhv",
                     r"\[l2-npt12\] PASS: split: each 4 KiB page shows its new L1 page",
                     r"\[l2-npt12\] PASS: 1G: L2 reads L1 memory through a 1 GiB EPT12 page",
                     r"\[l2-npt12\] PASS: exec-only: a read is one EPT violation: read, entry X only",
                     r"\[l2-npt12\] SUMMARY: 26 passed, 0 failed",
                     r"\[l2-npt12\] vmxhv: L2 ended with status 0 after \d+ exits \(\d+ cpuid, \d+ vmcall, 3 ept\)",
                     r"vm l2-npt12 ended: status 1 ",
                     r"vm l2-npt12: vCPU 0: nested VMX: \d+ VMX instructions, \d+ VM entries \(\d+ fast, 0 VMfailValid, 0 entry-failure exits\)"],
             reject=[r"\] FAIL:"]),
    Scenario("nested-vmx-interrupts", "bochs", "mb2", cfg="nested-vmx-interrupts.cfg", timeout=300,
             modules=["build/guests/vmxhv.elf", "build/guests/interrupts.elf"],
             expect=[r"\[l2-interrupts\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-interrupts ended: status 1 ",
                     r"vm l2-interrupts: vCPU 0: nested VMX: \d+ VMX instructions"], reject=[r"\] FAIL:"]),
    # Nested VMX, three levels: vmxhv runs a copy of itself, which runs the cpu (and npt12)
    # guest as L3; and the hostile guest hypervisor as L2 under vmxhv's emulated VMX.
    Scenario("nested-vmx-l3", "bochs", "mb2", cfg="nested-vmx-l3.cfg", timeout=300,
             modules=["build/guests/vmxhv.elf", "build/guests/cpu.elf", "build/guests/npt12.elf",
                      "build/guests/nvmx_hostile.elf"],
             expect=[r"\[l3\] vmxhv: running vmxhv\.elf as L2 \(EPT12 4K\+2M, VPID (yes|no), shadow VMCS (yes|no)\), "
                     r"\d+ MiB at L1 0x[0-9a-f]+, offering it VMX, modules cpu\.elf",
                     r"\[l3\] vmxhv\(L2\): running cpu\.elf as L2 \(EPT12 4K\+2M, VPID no, shadow VMCS no\)",
                     r"\[l3\] vmxhv: L2 runs its own guest \(L3\): vmcs23 at L2 0x[0-9a-f]+, EPT23 composed",
                     r"\[l3\] cpu test guest: Intel, under Nestor",
                     r"\[l3\] PASS: cpuid: VMX hidden \(not nested\)",
                     r"\[l3\] PASS: vmx: VMXON gives #UD when not nested",
                     r"\[l3\] PASS: hypercall: console write",
                     r"\[l3\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[l3\] vmxhv\(L2\): L2 ended with status 0 after \d+ exits",
                     r"\[l3\] vmxhv: L2 ended with status 0 after \d+ exits",
                     r"\[l3\] vmxhv: L3 \(L2's guest\): [1-9]\d* VMLAUNCH/VMRESUME by L2 \(0 entry failures\), "
                     r"\d+ L3 exits: [1-9]\d* to L2 \(0 EPT\)",
                     r"\[l3\] vmxhv: L2's VMX: \d+ instructions, 0 VMfailValid",
                     r"vm l3 ended: status 1 ",
                     r"vm l3: vCPU 0: nested VMX: \d+ VMX instructions",
                     r"\[l3-npt12\] SUMMARY: 19 passed, 0 failed",
                     r"\[l3-npt12\] vmxhv\(L2\): L2 ended with status 0 after \d+ exits \(\d+ cpuid, \d+ vmcall, 2 ept\)",
                     r"\[l3-npt12\] vmxhv: L3 \(L2's guest\): \d+ VMLAUNCH/VMRESUME by L2 \(0 entry failures\), "
                     r"\d+ L3 exits: \d+ to L2 \(2 EPT\)",
                     r"\[l3-npt12\] vmxhv: L2's VMX: \d+ instructions, 0 VMfailValid, [1-9]\d* INVEPT",
                     r"vm l3-npt12 ended: status 1 ",
                     r"\[l2-hostile\] vmxhv: L2's VMLAUNCH of vmcs23 0x[0-9a-f]+: VMfailValid\(7\): 27\.2\.1\.1: CR3-target",
                     r"\[l2-hostile\] vmxhv: L2's VM entry fails: exit reason 34, qualification 2 \(27\.8\)",
                     r"\[l2-hostile\] PASS: intr: with acknowledge-on-exit, reason 1 carries vector 0x40",
                     r"\[l2-hostile\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-hostile ended: status 1 "],
             reject=[r"\] FAIL:"]),
    # Nested VMX: a hostile L1 (bad VMXON/VMPTRLD/VMCLEAR/VMWRITE/VMLAUNCH, 26.x checks, MSR-load
    # lists) gets the SDM's answers and log lines, next to a plain VM that keeps running.
    Scenario("nvmx-hostile", "bochs", "mb2", cfg="nested-vmx-hostile.cfg", timeout=300,
             modules=["build/guests/nvmx_hostile.elf", "build/guests/cpu.elf"],
             expect=[r"\[hostile\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm hostile ended: status 1 ",
                     r"\[hostile\] PASS: vmptrld: VMCS in MMIO \(LAPIC page\) gives VMfailValid\(9\)",
                     r"\[hostile\] PASS: intr: with acknowledge-on-exit, reason 1 carries vector 0x40",
                     r"vm hostile: vCPU 0: VMLAUNCH of vmcs12: fails SDM [\d.]+: CR3-target count",
                     r"vm hostile: vCPU 0: VMLAUNCH of vmcs12: fails SDM [\d.]+: guest RFLAGS reserved bits",
                     r"\[cpu\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm cpu ended: status 1 ",
                     r"vm hostile: vCPU 0: nested VMX: \d+ VMX instructions, \d+ VM entries \(\d+ fast, 6 VMfailValid, 3 entry-failure exits\)"],
             reject=[r"\] FAIL:"]),
    # The same without VMCS shadowing: every VMREAD/VMWRITE of L1 exits and is emulated.
    Scenario("nvmx-noshadow", "bochs", "mb2", cfg="nested-vmx-smoke.cfg", cmdline="vmcs_shadow=off",
             timeout=300, cpus=1, modules=["build/guests/nvmx_smoke.elf"],
             expect=[r"\[vsmoke\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm vsmoke ended: status 1 ",
                     r"vm vsmoke: vCPU 0: nested VMX: [1-9]\d{3,} VMX instructions, \d+ VM entries \(0 fast"],
             reject=[r"\] FAIL:", r"VMCS shadowing on"]),
    # An unmodified Debian Linux kernel as L1 with 2 vCPUs (docs/linux-guests.md): the
    # kernel of linux-image-*-cloud-amd64 and a busybox initramfs (make linux-guest);
    # its /init reports, runs a pipeline and ends the VM through port 0xf4.
    Scenario("linux-l1", "qemu", "mb1", cfg="linux-l1.cfg", timeout=400, needs="linux-guest",
             modules=["build/linux-guest/vmlinuz", "build/linux-guest/initramfs.cpio"],
             marks=[("boot-to-init", r"NESTOR-LINUX: init reached")],
             expect=LINUX_L1_EXPECT, reject=[LINUX_TROUBLE, r"vm linux: vCPU \d+ shut down"]),
    # The same kernel as L1 on Bochs's VMX (issue 9): the VMX side of the Linux guest.
    Scenario("linux-l1", "bochs", "mb2", cfg="linux-l1.cfg", timeout=600, needs="linux-guest",
             modules=["build/linux-guest/vmlinuz", "build/linux-guest/initramfs.cpio"],
             marks=[("boot-to-init", r"NESTOR-LINUX: init reached")],
             expect=LINUX_L1_EXPECT, reject=[LINUX_TROUBLE, r"vm linux: vCPU \d+ shut down"]),
    # Linux's own virtio drivers (virtio_mmio, virtio_blk, virtio_console,
    # virtio_net, loaded from the initramfs) on Nestor's devices.
    Scenario("linux-virtio", "qemu", "mb1", cfg="linux-virtio.cfg", timeout=400, needs="linux-guest",
             modules=["build/linux-guest/vmlinuz", "build/linux-guest/initramfs.cpio"],
             disks={"disk.img": 4 << 20},
             expect=[r"vm linux: virtio-blk@0xd0001000: disk\.img, 4096 KiB, GSI 16",
                     r"\[linux\] NESTOR-VIRTIO: virtio\d+ device id 0x0002 driver virtio_blk",
                     r"\[linux\] NESTOR-VIRTIO: virtio\d+ device id 0x0003 driver virtio_console",
                     r"\[linux\] NESTOR-VIRTIO: virtio\d+ device id 0x0001 driver virtio_net",
                     r"\[linux\] NESTOR-VIRTIO: vda 8192 sectors",
                     r"\[linux\] NESTOR-VIRTIO: vda: \d+ bytes written, read back and equal",
                     r"\[linux\] NESTOR-VIRTIO: hello through hvc0",
                     r"\[linux\] NESTOR-VIRTIO: net eth0 address 52:54:00:12:34:56",
                     r"vm linux ended: status 1 \(debug-exit port\)"],
             reject=[LINUX_TROUBLE, r"NESTOR-VIRTIO: FAIL",
                     r"vm linux: vCPU \d+ shut down"]),
    # Network traffic between two Linux VMs through Nestor's L0 switch: ping and a 0.9 MB
    # TCP stream, every byte compared (docs/linux-guests.md, "Network traffic").
    Scenario("linux-net", "qemu", "mb1", cfg="linux-net.cfg", timeout=400, needs="linux-guest",
             modules=["build/linux-guest/vmlinuz", "build/linux-guest/initramfs.cpio"],
             expect=[r"vm net-a: virtio-net@0xd0001000: MAC 52:54:00:12:34:56, switch port 0",
                     r"vm net-b: virtio-net@0xd0001000: MAC 52:54:00:12:34:57, switch port 1",
                     r"\[net-a\] NESTOR-NET: eth0 52:54:00:12:34:56 is 10\.0\.2\.1, peer 10\.0\.2\.2",
                     r"\[net-b\] NESTOR-NET: eth0 52:54:00:12:34:57 is 10\.0\.2\.2, peer 10\.0\.2\.1",
                     r"\[net-a\] NESTOR-NET: 10\.0\.2\.2 answers",
                     r"\[net-a\] NESTOR-NET: ping: 200 packets transmitted, 200 packets received, 0% packet loss",
                     r"\[net-a\] NESTOR-NET: sent 938895 bytes to 10\.0\.2\.2 in [\d.]+ s",
                     r"\[net-b\] NESTOR-NET: received 938895 bytes from 10\.0\.2\.1, equal to the pattern",
                     r"vm net-a ended: status 1 \(debug-exit port\)",
                     r"vm net-b ended: status 1 \(debug-exit port\)"],
             reject=[LINUX_TROUBLE, r"NESTOR-NET: FAIL", r"vm net-.: vCPU \d+ shut down"]),
    # Linux's KVM as L1 (issue 9, docs/linux-guests.md "KVM in L1"): the linux-l1 VM with
    # nested virtualization; /init loads kvm_amd (QEMU, nested SVM) or kvm_intel (Bochs,
    # nested VMX) with nested=1, kvm-l2 runs real-mode and long-mode L2 guests (CPUID +
    # OUT loops, every OUT checked), interrupts KVM injects into L2 (KVM_INTERRUPT
    # through an interrupt window), then one L2 per vCPU in parallel.  About one QEMU
    # run in ten meets QEMU's spurious page faults (docs/emulators.md); those end in
    # one of known_intermittent()'s signatures and run again.
    *[Scenario("linux-kvm", emu, boot, cfg="linux-kvm.cfg", timeout=600 if emu == "qemu" else 1200,
               needs="linux-guest",
               modules=["build/linux-guest/vmlinuz", "build/linux-guest/initramfs.cpio"],
               marks=[("boot-to-init", r"NESTOR-LINUX: init reached"),
                      ("modules", r"NESTOR-KVM: modules loaded"),
                      ("l2-done", r"NESTOR-KVM: L2 phase")],
               expect=linux_kvm_expect(emu),
               reject=[LINUX_TROUBLE,
                       r"\[linux\] NESTOR-KVM: FAIL",
                       r"vm linux: vCPU \d+ shut down", r"VMEXIT_INVALID", r"(?m)^\[cpu\d+ [EW]\] "])
      for emu, boot in (("qemu", "mb1"), ("bochs", "mb2"))],
    # virtio-blk end to end (issue 7): the vblk guest on a 1 MiB RAM disk made by the
    # harness, both ring formats, EVENT_IDX, hostile driver moves; a read-only second device.
    *[Scenario("virtio-blk", emu, boot, cfg="vblk.cfg", timeout=180 if emu == "qemu" else 400,
               modules=["build/guests/vblk.elf"], disks={"vblk.img": 1 << 20},
               expect=[r"vm vblk: virtio-blk@0xd0001000: vblk\.img, 1024 KiB, GSI 16",
                       r"vm vblk: virtio-blk@0xd0002000: vblk\.img, 1024 KiB read-only, GSI 17",
                       r"\[vblk\] vblk: virtio-mmio at 0xd0001000, 4096 bytes, GSI 16",
                       r"\[vblk\] vblk: GET_ID \"vblk\.img\"",
                       r"\[vblk\] PASS: split: every sector holds the pattern",
                       r"\[vblk\] PASS: packed: every sector holds the pattern",
                       r"vm vblk: virtio-blk@0xd0001000: queue size 0, above the maximum, or \(split\) not a "
                       r"power of two: DEVICE_NEEDS_RESET",
                       r"vm vblk: virtio-blk@0xd0001000: kick before DRIVER_OK: ignored",
                       r"vm vblk: virtio-blk@0xd0001000: buffer not in guest RAM: DEVICE_NEEDS_RESET",
                       r"vm vblk: virtio-blk@0xd0001000: descriptor chain longer than its table \(a loop\): "
                       r"DEVICE_NEEDS_RESET",
                       r"\[vblk\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm vblk ended: status 1 ",
                       r"vm vblk: virtio-blk@0xd0001000: \d+ kicks \(\d+ ignored\), \d+ interrupts, \d+ requests"],
               reject=[r"\] FAIL:"])
      for emu, boot in (("qemu", "mb1"), ("qemu", "uefi"), ("bochs", "mb2"))],
    # virtio-console (issue 7): lines the vcons guest prints through the device appear in
    # the L0 log like UART output; a hostile transmit chain is logged and survived.
    *[Scenario("virtio-console", emu, boot, cfg="vcons.cfg", timeout=120 if emu == "qemu" else 400, cpus=1,
               modules=["build/guests/vcons.elf"],
               expect=[r"vm vcons: virtio-console@0xd0001000: console, GSI 16",
                       r"\[vcons\] vcons: hello via virtio-console on the split ring\n",
                       r"\[vcons\] vcons: one line in three descriptors via virtio-console \(split\)\n",
                       r"\[vcons\] vcons: one line in two chains via virtio-console \(packed\)\n",
                       r"\[vcons\] vcons: split\+event_idx line 64 of 64 via virtio-console\n",
                       r"\[vcons\] vcons: packed line 64 of 64 via virtio-console\n",
                       r"vm vcons: virtio-console@0xd0001000: virtio-console: transmit chain with a "
                       r"device-writable buffer \(nothing written into it\)",
                       r"\[vcons\] vcons: still working after the hostile chain via virtio-console",
                       r"\[vcons\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm vcons ended: status 1 ",
                       r"vm vcons: virtio-console@0xd0001000: \d+ kicks \(\d+ ignored\), \d+ interrupts, "
                       r"\d+ chains, \d+ bytes \(0 dropped, 1 writable chains\)"],
               reject=[r"\] FAIL:"])
      for emu, boot in (("qemu", "mb1"), ("bochs", "mb2"))],
    # virtio-net (issue 7): two VMs exchange thousands of checked frames both ways through
    # the L0 switch, split then packed ring; vnet-a's hostile moves are dropped and logged
    # (one needs a reset) while vnet-b keeps running.
    *[Scenario("virtio-net", emu, boot, cfg="vnet.cfg", timeout=300 if emu == "qemu" else 900, cpus=2,
               modules=["build/guests/vnet.elf"],
               expect=[r"vm vnet-a: virtio-net@0xd0001000: MAC 52:54:00:12:34:56, switch port 0, MTU 1500, GSI 16",
                       r"vm vnet-b: virtio-net@0xd0001000: MAC 52:54:00:4e:53:02, switch port 1, MTU 1500, GSI 16",
                       r"vm vnet-a: virtio-net@0xd0001000: virtio-net: transmit chain with a device-writable "
                       r"buffer: frame dropped",
                       r"vm vnet-a: virtio-net@0xd0001000: virtio-net: frame shorter than an Ethernet header "
                       r"or over the MTU: dropped \(0x5f7\)",
                       r"vm vnet-a: virtio-net@0xd0001000: virtio-net: header asks for an offload not offered",
                       r"vm vnet-a: virtio-net@0xd0001000: buffer not in guest RAM: DEVICE_NEEDS_RESET",
                       r"\[vnet-a\] PASS: split: 2000 frames received in order, checksums and data right",
                       r"\[vnet-b\] PASS: split: 2000 frames received in order, checksums and data right",
                       r"\[vnet-a\] PASS: packed: 2000 frames received in order, checksums and data right",
                       r"\[vnet-b\] PASS: packed: 2000 frames received in order, checksums and data right",
                       r"\[vnet-a\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm vnet-a ended: status 1 ",
                       r"\[vnet-b\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm vnet-b ended: status 1 ",
                       r"vm vnet-a: virtio-net@0xd0001000: \d+ kicks \(\d+ ignored\), \d+ interrupts, "
                       r"[1-9]\d{3,} frames sent, [1-9]\d{3,} received",
                       r"vm vnet-b: virtio-net@0xd0001000: \d+ kicks \(\d+ ignored\), \d+ interrupts, "
                       r"[1-9]\d{3,} frames sent, [1-9]\d{3,} received"],
               reject=[r"\] FAIL:"])
      for emu, boot in (("qemu", "mb1"), ("bochs", "mb2"))],
    Scenario("default-config", "qemu", "mb1", cpus=1,
             expect=[r"config: built-in default, 1 VM", r"vm demo: 32 MiB",
                     r"\[demo\] Hello from a Nestor guest", r"\[demo\] SUMMARY: 2 passed, 0 failed"]),
]


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def stage(sc, d):
    """Collect the files of a scenario in d: nestor.cfg and modules."""
    files = []
    if sc.cfg:
        shutil.copy(os.path.join(CFG_DIR, sc.cfg), os.path.join(d, "nestor.cfg"))
        files.append("nestor.cfg")
    for m in sc.modules:
        shutil.copy(os.path.join(ROOT, m), d)
        files.append(os.path.basename(m))
    for name, size in sc.disks.items():
        with open(os.path.join(d, name), "wb") as fh:
            fh.truncate(size)
        files.append(name)
    return files


def run_qemu(sc, d, serial):
    files = stage(sc, d)
    cmd = ["qemu-system-x86_64", "-accel", os.environ.get("NESTOR_QEMU_ACCEL", "tcg"), "-cpu", "max", "-smp", str(sc.cpus),
           "-m", f"{sc.memory_mb}M", "-display", "none", "-no-reboot", "-net", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-serial", f"file:{serial}"]
    # NESTOR_QEMU_MONITOR=PATH: QEMU's monitor on a unix socket, to sample a
    # stuck run (echo "info registers -a" | socat - UNIX-CONNECT:PATH).
    mon = os.environ.get("NESTOR_QEMU_MONITOR")
    cmd += ["-monitor", f"unix:{mon},server,nowait" if mon else "none"]
    # QEMU's view of resets, always on (it logs only at power-on and on a
    # reset or triple fault): a machine that ends without Nestor's result
    # line then says why (docs/emulators.md, "intermittent reset").
    # NESTOR_QEMU_LOG adds more (e.g. "cpu_reset,guest_errors,int").
    cmd += ["-d", os.environ.get("NESTOR_QEMU_LOG") or "cpu_reset", "-D", os.path.join(d, "qemu.log")]
    # NESTOR_QEMU_EXTRA: more QEMU options, e.g. "-action shutdown=pause" to
    # keep a triple-faulted machine for the monitor (docs/emulators.md).
    cmd += os.environ.get("NESTOR_QEMU_EXTRA", "").split()
    if sc.boot == "mb1":
        cmd += ["-kernel", ELF, "-append", ("exit=qemu " + sc.cmdline).strip()]
        if files:
            cmd += ["-initrd", ",".join(f"{os.path.join(d, f)} {f}" for f in files)]
    elif sc.boot == "uefi":
        esp = os.path.join(d, "esp", "EFI", "BOOT")
        os.makedirs(esp)
        shutil.copy(EFI, esp)
        for f in files:
            shutil.copy(os.path.join(d, f), esp)
        if "nestor.cfg" in files:   # the ESP has no command line: say exit=qemu in the file
            with open(os.path.join(esp, "nestor.cfg"), "r+") as fh:
                text = fh.read()
                fh.seek(0)
                fh.write("exit = qemu\n" + text)
        cmd += ["-bios", OVMF, "-drive", f"format=raw,file=fat:rw:{os.path.join(d, 'esp')}"]
    else:
        raise ValueError(sc.boot)
    return cmd, {QEMU_PASS: "PASS", QEMU_FAIL: "FAIL"}


def run_bochs(sc, d, serial):
    files = {"nestor.elf": ELF, **{f: os.path.join(d, f) for f in stage(sc, d)}}
    entry = [f"multiboot2 /boot/nestor.elf {('exit=bochs ' + sc.cmdline).strip()}"]
    entry += [f"module2 /boot/{f} {f}" for f in files if f != "nestor.elf"]
    iso = grub_cd(d, "nestor.iso", files, entry)
    return bochs_cmd(d, sc.memory_mb, sc.cpus, iso, serial), {BOCHS_PASS: "PASS", BOCHS_FAIL: "FAIL"}


def grub_cd(d, name, files, entry):
    """A GRUB CD image d/name: files ({name: path}) under /boot, and one
    menu entry of the given commands, booted at once."""
    iso_root = os.path.join(d, "iso")
    os.makedirs(os.path.join(iso_root, "boot", "grub"))
    for f, src in files.items():
        shutil.copy(src, os.path.join(iso_root, "boot", f))
    lines = ["set timeout=0", "set default=0", "menuentry boot {"] + [f"  {c}" for c in entry] + ["  boot", "}"]
    with open(os.path.join(iso_root, "boot", "grub", "grub.cfg"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    iso = os.path.join(d, name)
    r = sh(["grub-mkrescue", "-o", iso, iso_root])
    if r.returncode != 0:
        raise RuntimeError("grub-mkrescue failed:\n" + r.stdout[-2000:])
    return iso


def bochs_cmd(d, megs, cpus, iso, serial):
    """Bochs booting iso (a CD) with its serial port in a file: its bochsrc,
    and an rc file that starts the machine and quits the debugger at the end.
    The TSC counts instructions (clock sync=none), so runs repeat."""
    rc = os.path.join(d, "bochs.rc")
    with open(rc, "w") as fh:
        fh.write("c\nquit\n")
    bochsrc = os.path.join(d, "bochsrc")
    with open(bochsrc, "w") as fh:
        fh.write(f"""megs: {megs}
cpu: model=corei7_skylake_x, count={cpus}, ips=10000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path={iso}, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev={serial}
display_library: rfb, options="timeout=0"
sound: driver=dummy
speaker: enabled=0
log: {os.path.join(d, 'bochs.log')}
panic: action=fatal
error: action=report
clock: sync=none, time0=1
""")
    return ["bochs", "-q", "-f", bochsrc, "-rc", rc]


def post_checks(sc, d, serial):
    """Run the scenario's post-check commands; their output is kept in d."""
    problems = []
    for i, (argv, regexes) in enumerate(sc.post):
        argv = [a.format(serial=serial, dir=d) for a in argv]
        try:
            r = sh(argv, cwd=ROOT)
        except OSError as e:
            problems.append(f"{argv[0]}: {e}")
            continue
        with open(os.path.join(d, f"post{i}.txt"), "w") as fh:
            fh.write(r.stdout)
        what = f"{os.path.basename(argv[0])} (output in {os.path.relpath(d, ROOT)}/post{i}.txt)"
        if r.returncode != 0:
            problems.append(f"{what}: exit status {r.returncode}")
        for rx in regexes:
            if not re.search(rx, r.stdout, re.M):
                problems.append(f"{what}: missing /{rx}/")
    return problems


def run_emulator(cmd, timeout, cwd, serial, marks=(), stop=None):
    """Run an emulator to its end: (exit status, output bytes, {label: s}).
    With marks ((label, regex) pairs) the serial log is polled every 20 ms and
    the seconds from the start to each regex's first appearance recorded.
    With stop (a mark's label) the emulator is killed once that mark is seen:
    for a guest that cannot end its machine (Linux alone on Bochs).
    Raises subprocess.TimeoutExpired (output in .stdout), like subprocess.run."""
    if not marks:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd)
        return p.returncode, p.stdout, {}
    seen, pos, carry = {}, 0, ""
    with tempfile.TemporaryFile() as out:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        while True:
            done = p.poll() is not None
            with open(serial, "rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
            pos += len(chunk)
            now = time.monotonic() - t0
            window = carry + chunk.decode(errors="replace")
            for label, rx in marks:
                if label not in seen and re.search(rx, window):
                    seen[label] = now
            carry = window[window.rfind("\n") + 1:]   # a line still being written
            if stop in seen and not done:
                p.kill()
                p.wait()
                done = True
            if done:
                break
            if now > timeout:
                p.kill()
                p.wait()
                out.seek(0)
                raise subprocess.TimeoutExpired(cmd, timeout, output=out.read())
            time.sleep(0.02)
        out.seek(0)
        return p.returncode, out.read(), seen


# QEMU 7.2's spurious page faults after a world switch (docs/emulators.md,
# "Spurious page faults"; docs/linux-guests.md, "Intermittent failures"):
# a page walk over intact tables fails.  Seen as L0 triple-faulting (QEMU
# logs "Triple fault", no result line), an L1 Linux triple-faulting on its
# own IDT (CR2 = its CPU entry area's IDT + 0x80), or a nested guest of
# svmhv shutting down on a fetch from its own code.  A scenario failing
# with exactly one of these signatures is run again (at most
# INTERMITTENT_RETRIES times), and its line says so; any other failure
# stays a failure.
def scenario_dir(sc):
    return os.path.join(WORK, f"{sc.name}-{sc.emulator}-{sc.boot}")


def known_intermittent(sc):
    d = scenario_dir(sc)
    try:
        with open(os.path.join(d, "serial.txt"), errors="replace") as fh:
            log = fh.read()
    except OSError:
        return None
    if "NESTOR: run ends:" not in log and os.path.exists(os.path.join(d, "qemu.log")):
        with open(os.path.join(d, "qemu.log"), errors="replace") as fh:
            if "Triple fault" in fh.read():
                return "L0 triple fault (QEMU logged it)"
    if re.search(r"shut down \(triple fault\); state:\n(.*\n){2}.*CR2 0xfffffe0000000080", log):
        return "L1 Linux triple fault on its own IDT (CR2 = IDT + 0x80)"
    if re.search(r"FAIL: svmhv: L2 exit: EXITCODE 0x7f ", log):
        return "a nested guest shut down: its page tables read as not present"
    return None


def fresh_run_dir(d):
    """An empty directory d for one emulator run, with its (empty) serial
    log, which the run's marks poll from the start: the log's path."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    serial = os.path.join(d, "serial.txt")
    open(serial, "w").close()
    return serial


# Runs a scenario may get when each failure has one of those signatures:
# about 1 run in 10 of the Linux ones meets them, so one retry still let
# a clean-clone CI fail now and then (session 5: linux-kvm met the IDT
# signature, then the L0 one).  Any other failure ends it at once.
INTERMITTENT_RETRIES = 2


def run_scenario_retrying(sc, keep=False):
    for attempt in range(INTERMITTENT_RETRIES + 1):
        if run_scenario(sc, keep):
            return True
        why = known_intermittent(sc)
        if not why or os.environ.get("NESTOR_NO_RETRY") or attempt == INTERMITTENT_RETRIES:
            return False   # keep the failing run's logs
        print(f"    ^ QEMU's spurious page faults ({why}; docs/emulators.md): running it again "
              f"({attempt + 1} of {INTERMITTENT_RETRIES} retries)", flush=True)
    return False


def run_scenario(sc, keep=False):
    if sc.needs:   # e.g. the Linux guest's files, fetched into build/ once
        r = sh(["make", "-s", sc.needs], cwd=ROOT)
        if r.returncode != 0:
            print(f"{sc.name:<16} {sc.platform:<11} FAIL    0.0s")
            print(f"    make {sc.needs} failed:\n" + "\n".join(f"    | {l}" for l in r.stdout.splitlines()[-10:]))
            return False
    d = scenario_dir(sc)
    serial = fresh_run_dir(d)
    cmd, statuses = (run_qemu if sc.emulator == "qemu" else run_bochs)(sc, d, serial)
    t0 = time.monotonic()
    timed_out = False
    marks = {}
    try:
        status, out, marks = run_emulator(cmd, sc.timeout, d, serial, sc.marks)
        emu_out = out.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        timed_out, status = True, None
        emu_out = (e.stdout or b"").decode(errors="replace")
    secs = time.monotonic() - t0
    with open(serial, errors="replace") as fh:
        log = fh.read().replace("\r", "")

    problems = []
    m = re.search(r"NESTOR: run ends: (PASS|FAIL)", log)
    ended = m.group(1) if m else None
    if timed_out:
        problems.append(f"timed out after {sc.timeout} s")
    if ended != sc.result:
        problems.append(f"result line: want 'run ends: {sc.result}', got {ended or 'none'}")
        qlog = os.path.join(d, "qemu.log")
        if not ended and os.path.exists(qlog):
            with open(qlog, errors="replace") as f:
                q = f.read()
            why = [l for l in q.splitlines() if re.search(r"triple fault|shutdown|reset request", l, re.I)]
            problems.append(f"qemu.log: {q.count('CPU Reset')} CPU reset dump(s); "
                            + ("; ".join(why[-3:]) if why else "no triple fault logged")
                            + f" (full log {os.path.relpath(qlog, ROOT)})")
    if not timed_out and statuses.get(status) != sc.result:
        problems.append(f"emulator exit status {status} (want the {sc.result} status)")
    for rx in sc.expect:
        if not re.search(rx, log):
            problems.append(f"missing: /{rx}/")
    for rx in (COMMON_REJECT if sc.reject_common else []) + sc.reject:
        if re.search(rx, log):
            problems.append(f"unexpected: /{rx}/")
    problems += post_checks(sc, d, serial)
    ok = not problems
    timing = "".join(f"  {label} {marks[label]:.1f}s" for label, _ in sc.marks if label in marks)
    print(f"{sc.name:<16} {sc.platform:<11} {'PASS' if ok else 'FAIL'} {secs:6.1f}s{timing}", flush=True)
    if not ok:
        for p_ in problems:
            print(f"    {p_}")
        print("    --- last serial lines ---")
        for line in log.strip().splitlines()[-25:]:
            print(f"    | {line}")
        if emu_out.strip():
            print("    --- emulator output ---")
            for line in emu_out.strip().splitlines()[-10:]:
                print(f"    | {line}")
    elif not keep:
        for sub in ("iso", "esp"):
            shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
    return ok


def run_default():
    """make run: the default configuration under QEMU TCG, console on stdout."""
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "512M",
           "-display", "none", "-no-reboot", "-net", "none", "-monitor", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", "stdio",
           "-kernel", ELF, "-append", "exit=qemu"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL)
    return 0 if p.returncode == QEMU_PASS else 1


BENCH_CFG = "bench.cfg"
BENCH_IPI_CFG = "bench-ipi.cfg"
BENCH_TIMEOUT = 180   # per run; the longest takes well under a minute


def bench_figures(log, vendor_level, mode, variant=""):
    """BENCHRAW lines of the bench guest -> (name, value, unit) figures;
    variant (e.g. "_traced") follows the operation in the names."""
    out = []
    for m in re.finditer(r"BENCHRAW (\w+) (\w+) (\d+) (\d+) (\d+)", log):
        vendor, op, ticks, exits100, khz = m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))
        name = f"{vendor}_{vendor_level}_{op}{variant}"
        if mode == "insns" and op.endswith("_late"):
            # a delay past a deadline: under icount it includes idle time
            # QEMU skips, so TSC ticks rather than instructions
            out.append((f"{name}_ticks", ticks, "ticks"))
            out.append((f"{name}_l0_exits", f"{exits100 / 100:.2f}", "exits"))
        elif mode == "insns":
            out.append((f"{name}_insns", ticks, "instructions"))
            out.append((f"{name}_l0_exits", f"{exits100 / 100:.2f}", "exits"))
        else:
            ns = ticks * 1e6 / khz if khz else 0
            out.append((f"{name}_ns", f"{ns:.0f}", "ns"))
            out.append((f"{name}_per_s", f"{1e9 / ns:.0f}" if ns else "0", "ops/s"))
    # L0's split of the reflected hypercall (kernel/exit_reasons.h): L0 before
    # L1's entry, L1's handling, L0 after L1's VMRUN/VMRESUME; means over the run
    if mode == "insns" and vendor_level == "l2":
        for m in re.finditer(r"vm \S+: vCPU 0: L2: (VMMCALL\(0x81\)|VMCALL\(0x12\)) count=\d+[^\n]*\n"
                             r"vm \S+: vCPU 0: L2:   reflected=\d+ l1_exits/trip=([\d.]+) before: mean=(\d+)"
                             r"[^\n]*\| l1: mean=(\d+)[^\n]*\| after: mean=(\d+)", log):
            name = f"{'svm' if m.group(1).startswith('VMMCALL') else 'vmx'}_l2_hypercall_by_l1{variant}"
            out.append((f"{name}_split_l0_before_ticks", int(m.group(3)), "ticks"))
            out.append((f"{name}_split_l1_ticks", int(m.group(4)), "ticks"))
            out.append((f"{name}_split_l0_after_ticks", int(m.group(5)), "ticks"))
            out.append((f"{name}_split_l1_exits", m.group(2), "exits"))
    # how many VMREAD/VMWRITE L1 does per round trip (VMX guest hypervisors)
    if mode == "insns":
        for m in re.finditer(r"BENCHVMCS (\w+) (\w+) (\d+) (\d+)", log):
            name = f"{m.group(1)}_{vendor_level}_{m.group(2)}{variant}"
            out.append((f"{name}_l1_vmreads", int(m.group(3)), "vmreads"))
            out.append((f"{name}_l1_vmwrites", int(m.group(4)), "vmwrites"))
    return out


def run_bench(only=None):
    """make bench: the bench guest as L1 — under QEMU TCG (SVM) with -icount
    (TSC ticks = instructions, deterministic) and on wall-clock time, and
    under Bochs (VMX), whose TSC also counts instructions."""
    results = []
    icount = ["-icount", "shift=0,sleep=off"]
    runs = [("qemu", "insns", icount, "l1", BENCH_CFG, "bench.elf"), ("qemu", "wall", [], "l1", BENCH_CFG, "bench.elf"),
            ("bochs", "insns", None, "l1", BENCH_CFG, "bench.elf"),
            ("qemu", "insns", icount, "l2", "nested-bench.cfg", "nsvm_bench.elf"),
            ("bochs", "insns", None, "l2", "nested-vmx-bench.cfg", "nvmx_bench.elf"),
            ("bochs", "insns", None, "l2", "nested-vmx-bench-noshadow.cfg", "nvmx_bench.elf", "_noshadow"),
            # the same with the exit trace on: what recording costs (docs/benchmarks.md)
            ("qemu", "insns", icount, "l2", "nested-bench-traced.cfg", "nsvm_bench.elf", "_traced"),
            ("qemu", "wall", [], "l2", "nested-bench.cfg", "nsvm_bench.elf"),
            # IPI ping-pong between two vCPUs, one per physical CPU; deterministic
            # modes only (docs/benchmarks.md, "Found by these benchmarks")
            ("qemu", "insns", icount, "l1", BENCH_IPI_CFG, "bench.elf"),
            ("bochs", "insns", None, "l1", BENCH_IPI_CFG, "bench.elf"),
            # the same between two L2s, one on each vCPU of the guest hypervisor
            ("qemu", "insns", icount, "l2", "nested-bench-ipi.cfg", "nsvm_bench.elf"),
            ("bochs", "insns", None, "l2", "nested-vmx-bench-ipi.cfg", "nvmx_bench.elf"),
            # CPUID through the guest hypervisor svmhv, at L2 and at L3 (svmhv
            # running svmhv): exit multiplication level by level
            ("qemu", "insns", icount, "l2", "bench-l2-svm.cfg", "svmhv.elf+bench.elf", "_via_svmhv"),
            ("qemu", "insns", icount, "l3", "bench-l3-svm.cfg", "svmhv.elf+bench.elf", "_via_svmhv")]
    for emulator, mode, extra, level, cfg, guest, *variant in runs:
        variant = "".join(variant)
        if only and level not in only.split(","):
            continue
        sc = Scenario("bench", emulator, "mb1" if emulator == "qemu" else "mb2", cfg=cfg,
                      cpus=2 if "ipi" in cfg else 1, timeout=BENCH_TIMEOUT,
                      modules=[f"build/guests/{g}" for g in guest.split("+")])
        d = os.path.join(WORK, f"bench-{emulator}-{mode}-{level}{variant}" + ("-ipi" if "ipi" in cfg else ""))
        serial = fresh_run_dir(d)
        cmd, _ = (run_qemu if emulator == "qemu" else run_bochs)(sc, d, serial)
        try:
            subprocess.run(cmd + (extra or []), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=sc.timeout, cwd=d)
        except subprocess.TimeoutExpired:
            # keep what was measured before (e.g. a lost wake-up in HLT)
            print(f"bench ({emulator}, {mode}, {cfg}): timed out after {sc.timeout} s; "
                  f"figures so far kept; serial tail:\n" +
                  "\n".join(open(serial, errors="replace").read().strip().splitlines()[-5:]))
        with open(serial, errors="replace") as fh:
            log = fh.read()
        figures = bench_figures(log, level, mode, variant)
        if not figures:
            print(f"bench ({emulator}, {mode}): no figures; serial tail:")
            print("\n".join(log.strip().splitlines()[-15:]))
            return 1
        results += figures
    if not only or "vblk" in only.split(","):
        figures = bench_vblk()
        if not figures:
            return 1
        results += figures
    if not only or "vnet" in only.split(","):
        figures = bench_vnet()
        if not figures:
            return 1
        results += figures
    if not only or "linux" in only.split(","):
        figures = bench_linux()
        if not figures:
            return 1
        results += figures
    if not only or "linux-kvm" in only.split(","):
        figures = bench_linux_kvm()
        if not figures:
            return 1
        results += figures
    if not only or "linux-kvm-vmx" in only.split(","):
        figures = bench_linux_kvm_vmx()
        if not figures:
            return 1
        results += figures
    for name, value, unit in results:
        print(f"BENCH {name} {value} {unit}")
    # one table (operation x level x vendor), build/bench/bench.csv and .svg
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import bench_report
    bench_report.report(results, os.path.join(BUILD, "bench"))
    return 0


def bench_vblk():
    """virtio-blk (docs/benchmarks.md): the vblk guest with `bench` on its
    command line reads 4 KiB blocks from a 1 MiB RAM disk, 32 per batch,
    under QEMU with -icount (instructions), on wall-clock time, and under
    Bochs.  Its lines: BENCHVBLK <vendor> <op> <TSC ticks per request>
    <L0 exits per request x100> <interrupts per request x100> <TSC kHz>."""
    out = []
    icount = ["-icount", "shift=0,sleep=off"]
    for emulator, mode, extra in (("qemu", "insns", icount), ("qemu", "wall", []), ("bochs", "insns", [])):
        sc = Scenario("bench-vblk", emulator, "mb1" if emulator == "qemu" else "mb2", cfg="vblk-bench.cfg",
                      cpus=1, timeout=600, modules=["build/guests/vblk.elf"], disks={"vblk.img": 1 << 20})
        d = os.path.join(WORK, f"bench-vblk-{emulator}-{mode}")
        serial = fresh_run_dir(d)
        cmd, _ = (run_qemu if emulator == "qemu" else run_bochs)(sc, d, serial)
        subprocess.run(cmd + extra, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=sc.timeout, cwd=d)
        with open(serial, errors="replace") as fh:
            log = fh.read()
        lines = re.findall(r"BENCHVBLK (\w+) (\w+) (\d+) (\d+) (\d+) (\d+)", log)
        if not lines:
            print(f"bench (vblk, {emulator}, {mode}): no figures; serial tail:")
            print("\n".join(log.strip().splitlines()[-15:]))
            return None
        for vendor, op, ticks, exits100, irqs100, khz in lines:
            ticks, exits100, irqs100, khz = int(ticks), int(exits100), int(irqs100), int(khz)
            name = f"{vendor}_l1_{op}"
            if mode == "insns":
                out.append((f"{name}_insns_per_req", ticks, "instructions"))
                out.append((f"{name}_l0_exits_per_req", f"{exits100 / 100:.2f}", "exits"))
                out.append((f"{name}_irqs_per_req", f"{irqs100 / 100:.2f}", "interrupts"))
                out.append((f"{name}_bytes_per_exit", f"{409600 / exits100:.0f}" if exits100 else "0", "bytes"))
            else:
                ns = ticks * 1e6 / khz if khz else 0
                out.append((f"{name}_ns_per_req", f"{ns:.0f}", "ns"))
                out.append((f"{name}_reqs_per_s", f"{1e9 / ns:.0f}" if ns else "0", "requests/s"))
    return out


def bench_vnet():
    """virtio-net (docs/benchmarks.md): the virtio-net scenario's two VMs
    (tests/guests/vnet.c) exchange 2,000 frames each way per ring format
    through the L0 switch, one vCPU each on its own CPU.  vnet-a prints
    BENCHVNET <vendor> <op> <TSC ticks per frame> <frames per L0 exit x100>
    <frames> <TSC kHz> <frame bytes per L0 exit>, counting the frames and
    bytes it sent and received and its own exits.  Under QEMU -icount and
    Bochs the TSC counts instructions of the whole machine -- both CPUs,
    the peer's polling included; on wall-clock QEMU it gives ns and
    frames/s."""
    out = []
    icount = ["-icount", "shift=0,sleep=off"]
    for emulator, mode, extra in (("qemu", "insns", icount), ("qemu", "wall", []), ("bochs", "insns", [])):
        sc = next(s for s in SCENARIOS if s.name == "virtio-net" and s.emulator == emulator)
        d = os.path.join(WORK, f"bench-vnet-{emulator}-{mode}")
        serial = fresh_run_dir(d)
        cmd, _ = (run_qemu if emulator == "qemu" else run_bochs)(sc, d, serial)
        log = serial_after_run(cmd + extra, sc.timeout, d, serial)
        lines = re.findall(r"BENCHVNET (\w+) (\w+) (\d+) (\d+) (\d+) (\d+) (\d+)", log)
        if not lines:
            print(f"bench (vnet, {emulator}, {mode}): no figures; serial tail:")
            print("\n".join(log.strip().splitlines()[-15:]))
            return None
        for vendor, op, ticks, per_exit100, frames, khz, bytes_per_exit in lines:
            name = f"{vendor}_l1_{op}"
            if mode == "wall":
                ns = int(ticks) * 1e6 / int(khz) if int(khz) else 0
                out.append((f"{name}_ns_per_frame", f"{ns:.0f}", "ns"))
                out.append((f"{name}_frames_per_s", f"{1e9 / ns:.0f}" if ns else "0", "frames/s"))
                continue
            out.append((f"{name}_insns_per_frame", int(ticks), "instructions"))
            out.append((f"{name}_frames_per_exit", f"{int(per_exit100) / 100:.2f}", "frames"))
            out.append((f"{name}_l0_exits_per_frame", f"{100 / int(per_exit100):.3f}" if int(per_exit100) else "0",
                        "exits"))
            out.append((f"{name}_bytes_per_exit", int(bytes_per_exit), "bytes"))
    return out


# QEMU's microvm machine without PIT, PIC and RTC: the platform Nestor gives
# Linux (ACPI with a hardware-reduced FADT, LAPIC, IOAPIC, COM1), so that a
# comparison with it isolates what running under Nestor costs.
MICROVM = "microvm,pit=off,pic=off,rtc=off,acpi=on,pcie=off,auto-kernel-cmdline=off"


def linux_native_cmd(sc, machine, serial, cmdline):
    """QEMU booting a Linux scenario's kernel and initramfs itself (-kernel),
    with the scenario VM's memory, vCPUs and the command line Nestor gave it."""
    with open(os.path.join(CFG_DIR, sc.cfg)) as fh:
        cfg = fh.read()
    mem = re.search(r"^memory = (\S+)", cfg, re.M).group(1)
    vcpus = re.search(r"^vcpus = (\d+)", cfg, re.M).group(1)
    return ["qemu-system-x86_64", "-M", machine, "-accel", "tcg", "-cpu", "max", "-smp", vcpus,
            "-m", mem, "-display", "none", "-no-reboot", "-net", "none", "-monitor", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", f"file:{serial}",
            "-kernel", os.path.join(ROOT, sc.modules[0]), "-initrd", os.path.join(ROOT, sc.modules[1]),
            "-append", cmdline]


def bench_linux():
    """Linux boot to init (docs/linux-guests.md), wall-clock seconds from the
    emulator's start to init's first line: the linux-l1 scenario's kernel and
    initramfs as L1 under Nestor, then booted by QEMU itself (-kernel) on its
    pc machine and on a microvm shaped like Nestor's platform, with the same
    command line, memory and CPUs, in the same run."""
    r = sh(["make", "-s", "linux-guest"], cwd=ROOT)
    if r.returncode != 0:
        print("bench (linux): make linux-guest failed:\n" + r.stdout[-2000:])
        return None
    sc = next(s for s in SCENARIOS if s.name == "linux-l1")
    init = sc.marks[0][1]
    d = os.path.join(WORK, "bench-linux-l1")
    serial = fresh_run_dir(d)
    cmd, _ = run_qemu(sc, d, serial)
    _, _, marks = run_emulator(cmd, sc.timeout, d, serial,
                               [("vm", r"vm linux: .* loaded at"), ("init", init)])
    with open(serial, errors="replace") as fh:
        log = fh.read()
    m = re.search(r"vm linux: Linux command line: (.*)", log)
    if "init" not in marks or not m:
        print("bench (linux, under Nestor): init not reached; serial tail:")
        print("\n".join(log.strip().splitlines()[-15:]))
        return None
    cmdline = m.group(1).strip()
    exits = sum(int(n) for n in re.findall(r"vm linux: vCPU \d+: (\d+) exits", log))
    holes = re.search(r"vm linux: ports with no device \(read all-ones\):(.*)", log)
    unassigned = sum(int(n) for n in re.findall(r"=(\d+)", holes.group(1))) if holes else 0
    out = [("linux_l1_boot_to_init_s", f"{marks['init']:.2f}", "s"),
           ("linux_l1_vm_start_to_init_s", f"{marks['init'] - marks.get('vm', 0):.2f}", "s"),
           ("linux_l1_boot_exits", exits, "exits"),
           ("linux_l1_boot_unassigned_port_accesses", unassigned, "accesses")]
    for name, machine in (("native", "pc"), ("native_microvm", MICROVM)):
        nd = os.path.join(WORK, f"bench-linux-{name}")
        nserial = fresh_run_dir(nd)
        ncmd = linux_native_cmd(sc, machine, nserial, cmdline)
        _, _, nmarks = run_emulator(ncmd, sc.timeout, nd, nserial, [("init", init)])
        if "init" not in nmarks:
            with open(nserial, errors="replace") as fh:
                print(f"bench (linux, {machine}): init not reached; serial tail:")
                print("\n".join(fh.read().strip().splitlines()[-15:]))
            return None
        out.append((f"linux_{name}_boot_to_init_s", f"{nmarks['init']:.2f}", "s"))
        out.append((f"linux_l1_vs_{name}_boot_ratio", f"{marks['init'] / nmarks['init']:.2f}", "x"))
    return out


# kvm-l2's result lines: "NESTOR-KVM: <case>: ... <x> us/iter" (or us/irq)
KVM_CASES = (("realmode", r"real-mode L2: .*?([\d.]+) us/iter"),
             ("longmode", r"long-mode L2: .*?([\d.]+) us/iter"),
             ("longmode_irq", r"long-mode L2 interrupts: .*?([\d.]+) us/irq"))


def serial_after_run(cmd, timeout, d, serial, marks=(), stop=None):
    """Run an emulator to its end, or until timeout, and return its serial
    log: a bench keeps what was printed before a hang."""
    try:
        run_emulator(cmd, timeout, d, serial, marks, stop)
    except subprocess.TimeoutExpired:
        pass
    with open(serial, errors="replace") as fh:
        return fh.read()


def kvm_l2_under_nestor(sc, run_fn, dirname):
    """kvm-l2 in the linux-kvm VM of scenario sc under Nestor: (the command
    line Nestor gave Linux, {case: microseconds}), or None."""
    r = sh(["make", "-s", "linux-guest"], cwd=ROOT)
    if r.returncode != 0:
        print("bench (linux-kvm): make linux-guest failed:\n" + r.stdout[-2000:])
        return None
    d = os.path.join(WORK, dirname)
    serial = fresh_run_dir(d)
    cmd, _ = run_fn(sc, d, serial)
    log = serial_after_run(cmd, sc.timeout, d, serial)
    m = re.search(r"vm linux: Linux command line: (.*)", log)
    nestor = kvm_l2_figures(log)
    if not m or not nestor:
        print(f"bench (linux-kvm, {sc.platform}, under Nestor): no kvm-l2 figures; serial tail:")
        print("\n".join(log.strip().splitlines()[-15:]))
        return None
    return m.group(1).strip(), nestor


def bench_linux_kvm():
    """Linux's KVM in L1 running L2 (docs/linux-guests.md, "KVM in L1"):
    kvm-l2's microseconds per CPUID+OUT iteration (and per injected
    interrupt) with Nestor as L0 (the linux-kvm scenario), then the same
    kernel, initramfs and command line booted by QEMU itself, whose own SVM
    is then L0 for Linux's KVM.  Wall-clock time on the same host, same run.
    A case QEMU's own SVM does not finish within the time allowed is
    reported as missing, not as a figure."""
    sc = next(s for s in SCENARIOS if s.name == "linux-kvm" and s.emulator == "qemu")
    got = kvm_l2_under_nestor(sc, run_qemu, "bench-linux-kvm")
    if not got:
        return None
    cmdline, nestor = got
    nd = os.path.join(WORK, "bench-linux-kvm-native")
    nserial = fresh_run_dir(nd)
    # QEMU's own SVM was seen to hang in the long-mode case (docs/linux-guests.md): 180 s at most
    nlog = serial_after_run(linux_native_cmd(sc, "pc", nserial, cmdline), 180, nd, nserial)
    return kvm_l2_comparison("svm", "qemu_l0", "QEMU's own SVM", kvm_l2_figures(nlog), nestor)


def kvm_l2_figures(log):
    """kvm-l2's figures in a serial log: {case: microseconds}."""
    return {k: float(x.group(1)) for k, rx in KVM_CASES if (x := re.search(r"NESTOR-KVM: " + rx, log))}


def kvm_l2_comparison(vendor, other, other_name, native, nestor):
    """BENCH figures of kvm-l2 under Nestor, under the emulator's own
    virtualization (named by `other`), and their ratio; a case the
    emulator alone did not finish is said, not reported."""
    out = []
    for case, _ in KVM_CASES:
        unit = "us/irq" if case.endswith("irq") else "us/iter"
        name = f"{vendor}_linux_kvm_l2_{case}"
        if case in nestor:
            out.append((f"{name}_us", nestor[case], unit))
        if case in native:
            out.append((f"{name}_us_{other}", native[case], unit))
        if case in nestor and case in native:
            out.append((f"{name}_nestor_vs_{other}", f"{nestor[case] / native[case]:.2f}", "x"))
        elif case in nestor:
            print(f"bench (linux-kvm): {other_name} did not finish the {case} case")
    return out


def bochs_linux_native_cmd(d, serial, cmdline):
    """Bochs booting the Linux guest itself: GRUB's `linux` and `initrd`
    from a CD, the same CPU model, memory and clock as Nestor's runs."""
    files = {f: os.path.join(BUILD, "linux-guest", f) for f in ("vmlinuz", "initramfs.cpio")}
    iso = grub_cd(d, "linux.iso", files, [f"linux /boot/vmlinuz {cmdline}", "initrd /boot/initramfs.cpio"])
    return bochs_cmd(d, 512, 2, iso, serial)


def bench_linux_kvm_vmx():
    """The same on Bochs (docs/linux-guests.md, "Linux on Intel VMX"):
    kvm_intel in L1 with Nestor's nested VMX as L0 (the linux-kvm@bochs
    scenario), then Linux booted by Bochs itself (GRUB), whose own VMX is
    L0.  Bochs's TSC counts instructions (ips=10,000,000, clock sync=none)
    and both Linuxes take their TSC frequency from tsc_early_khz, so the
    "µs" kvm-l2 prints are instruction counts / 10 in both runs: the ratio
    is one of instructions, not of the host's load."""
    sc = next(s for s in SCENARIOS if s.name == "linux-kvm" and s.emulator == "bochs")
    got = kvm_l2_under_nestor(sc, run_bochs, "bench-linux-kvm-bochs")
    if not got:
        return None
    cmdline, nestor = got
    nd = os.path.join(WORK, "bench-linux-kvm-bochs-native")
    nserial = fresh_run_dir(nd)
    # Linux alone cannot end Bochs's machine: stop at kvm-l2's end
    nlog = serial_after_run(bochs_linux_native_cmd(nd, nserial, cmdline), sc.timeout, nd, nserial,
                            [("end", r"NESTOR-KVM: kvm-l2 exit status")], stop="end")
    return kvm_l2_comparison("vmx", "bochs_l0", "Bochs's own VMX", kvm_l2_figures(nlog), nestor)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated scenario names or name@platform")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep boot media of passing scenarios")
    ap.add_argument("--run", action="store_true", help="boot the default config (make run)")
    ap.add_argument("--bench", action="store_true", help="run the benchmark guests (make bench)")
    ap.add_argument("--slow", action="store_true", help="run the scenarios marked slow (none today)")
    a = ap.parse_args()
    if a.run:
        return run_default()
    if a.bench:
        os.makedirs(WORK, exist_ok=True)
        return run_bench(a.only)  # --only l1,l2: just those levels
    chosen = [s for s in SCENARIOS if s.slow == a.slow]
    if a.only:
        want = a.only.split(",")
        chosen = [s for s in SCENARIOS if s.name in want or f"{s.name}@{s.platform}" in want]
    if a.list:
        for s in chosen:
            print(f"{s.name:<16} {s.platform}")
        return 0
    os.makedirs(WORK, exist_ok=True)
    t0 = time.monotonic()
    passed = sum(run_scenario_retrying(s, a.keep) for s in chosen)
    failed = len(chosen) - passed
    print(f"all scenarios took {time.monotonic() - t0:.0f} s")
    print(f"scenarios: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
