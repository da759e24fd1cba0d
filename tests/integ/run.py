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

    @property
    def platform(self):
        return f"{self.emulator}/{self.boot}"


COMMON_REJECT = [r"L0 EXCEPTION", r"L0 PANIC"]

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
                     r"\[l2-io\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-io ended: status 1 ",
                     r"\[l2-memory\] PASS: mmio: REP STOSD into a hole",
                     r"\[l2-memory\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-memory ended: status 1 ",
                     r"\[l2-npt12\] PASS: remap: L2 reads the new L1 page",
                     r"\[l2-npt12\] PASS: unmap 4K page: the read takes exactly one #NPF in svmhv",
                     r"\[l2-npt12\] PASS: unmap page in a 2M page: the write takes exactly one #NPF in svmhv",
                     r"\[l2-npt12\] PASS: split: each 4 KiB page shows its new L1 page",
                     r"\[l2-npt12\] SUMMARY: 19 passed, 0 failed",
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
             expect=[r"\[l3\] svmhv: running svmhv\.elf as L2 \(NPT12 4K\+2M, nRIP (yes|no)\), \d+ MiB at L1 "
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
                     r"\[l3-npt12\] SUMMARY: 19 passed, 0 failed",
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
                     r"vm vsmoke: vCPU 0: nested VMX: \d+ VMX instructions"],
             reject=[r"\] FAIL:"]),
    # The exit trace (issue 8): a nested VM traced by its config, a VM switching
    # tracing by hypercall; nestor-trace reads the dumps from the serial log.
    Scenario("nested-trace", "qemu", "mb1", cfg="nested-trace.cfg", timeout=180,
             modules=["build/guests/svmhv.elf", "build/guests/cpu.elf", "build/guests/trace_hc.elf"],
             expect=[r"\[l2-traced\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-traced ended: status 1 ",
                     r"\[hc-trace\] SUMMARY: 4 passed, 0 failed", r"vm hc-trace ended: status 1 ",
                     r"NTRACE v1 begin cpu=\d+ count=[1-9]\d* dropped=\d+ [0-9a-f]{8}\n",
                     r"vm l2-traced: vCPU 0: L1: \d+ exits:.* NESTED=",
                     r"vm l2-traced: vCPU 0: L2: \d+ exits:.* IO=\d+.* NESTED="],
             reject=[r"\] FAIL:"],
             post=[(["build/tools/nestor-trace", "--csv", "{dir}/trace.csv", "{serial}"],
                    [r"^nestor-trace: \d+ dumps?, \d+ records, [1-9]\d* exits$",
                     r"^\s+0\s+0\s+L1 svm\s+0x80\s+VMRUN\s+[1-9]\d*$",     # vm 0 = l2-traced, by level
                     r"^\s+0\s+0\s+L2 svm\s+0x72\s+CPUID\s+[1-9]\d*$",
                     r"^\s+1\s+0\s+L1 svm\s+0x72\s+CPUID\s+10$",           # vm 1 = hc-trace: on..dump
                     r"^\s+1\s+0\s+L1 svm\s+0x81\s+VMMCALL\s+2$",
                     r"^Nested exit anatomy",
                     r"^\s+L2 svm\s+0x(72|81)\s+(CPUID|VMMCALL)\s+[1-9]\d*(\s+\d+){4}\s+\d+\.\d\d$"])]),
    # Nested VMX end to end: vmxhv (tests/guests/vmxhv.c) runs the test guests as L2 with EPT12.
    Scenario("nested-vmx", "bochs", "mb2", cfg="nested-vmx.cfg", timeout=400,
             modules=[f"build/guests/{g}.elf" for g in ("vmxhv", "cpu", "io", "memory", "npt12")],
             expect=[r"\[l2-cpu\] vmxhv: running cpu\.elf as L2 \(EPT12 4K\+2M, VPID (yes|no), shadow VMCS (yes|no)\)",
                     r"\[l2-cpu\] cpu test guest: Intel, under Nestor", r"\[l2-cpu\] PASS: cpuid: VMX hidden \(not nested\)",
                     r"\[l2-cpu\] PASS: hypercall: console write", r"\[l2-cpu\] SUMMARY: [1-9]\d* passed, 0 failed",
                     r"\[l2-cpu\] vmxhv: L2 ended with status 0 after \d+ exits", r"vm l2-cpu ended: status 1 ",
                     r"\[l2-io\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-io ended: status 1 ",
                     r"\[l2-memory\] PASS: mmio: REP STOSD into a hole",
                     r"\[l2-memory\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-memory ended: status 1 ",
                     r"\[l2-npt12\] PASS: remap: L2 reads the new L1 page",
                     r"\[l2-npt12\] PASS: unmap 4K page: the read takes exactly one EPT violation in vmxhv",
                     r"\[l2-npt12\] PASS: unmap page in a 2M page: the write takes exactly one EPT violation in vmxhv",
                     r"\[l2-npt12\] PASS: split: each 4 KiB page shows its new L1 page",
                     r"\[l2-npt12\] SUMMARY: 19 passed, 0 failed",
                     r"\[l2-npt12\] vmxhv: L2 ended with status 0 after \d+ exits \(\d+ cpuid, \d+ vmcall, 2 ept\)",
                     r"vm l2-npt12 ended: status 1 ",
                     r"vm l2-npt12: vCPU 0: nested VMX: \d+ VMX instructions, \d+ VM entries \(\d+ fast, 0 VMfailValid, 0 entry-failure exits\)"],
             reject=[r"\] FAIL:"]),
    Scenario("nested-vmx-interrupts", "bochs", "mb2", cfg="nested-vmx-interrupts.cfg", timeout=300,
             modules=["build/guests/vmxhv.elf", "build/guests/interrupts.elf"],
             expect=[r"\[l2-interrupts\] SUMMARY: [1-9]\d* passed, 0 failed", r"vm l2-interrupts ended: status 1 ",
                     r"vm l2-interrupts: vCPU 0: nested VMX: \d+ VMX instructions"], reject=[r"\] FAIL:"]),
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
    return files


def run_qemu(sc, d, serial):
    files = stage(sc, d)
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", str(sc.cpus),
           "-m", f"{sc.memory_mb}M", "-display", "none", "-no-reboot", "-net", "none",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-serial", f"file:{serial}", "-monitor", "none"]
    if os.environ.get("NESTOR_QEMU_LOG"):   # debugging: QEMU's view of resets and guest errors
        cmd += ["-d", os.environ["NESTOR_QEMU_LOG"], "-D", os.path.join(d, "qemu.log")]
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
    files = stage(sc, d)
    iso_root = os.path.join(d, "iso")
    os.makedirs(os.path.join(iso_root, "boot", "grub"))
    shutil.copy(ELF, os.path.join(iso_root, "boot", "nestor.elf"))
    lines = ["set timeout=0", "set default=0", "menuentry nestor {",
             f"  multiboot2 /boot/nestor.elf {('exit=bochs ' + sc.cmdline).strip()}"]
    for f in files:
        shutil.copy(os.path.join(d, f), os.path.join(iso_root, "boot", f))
        lines.append(f"  module2 /boot/{f} {f}")
    lines += ["  boot", "}"]
    with open(os.path.join(iso_root, "boot", "grub", "grub.cfg"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    iso = os.path.join(d, "nestor.iso")
    r = sh(["grub-mkrescue", "-o", iso, iso_root])
    if r.returncode != 0:
        raise RuntimeError("grub-mkrescue failed:\n" + r.stdout[-2000:])
    rc = os.path.join(d, "bochs.rc")
    with open(rc, "w") as fh:
        fh.write("c\nquit\n")
    bochsrc = os.path.join(d, "bochsrc")
    with open(bochsrc, "w") as fh:
        fh.write(f"""megs: {sc.memory_mb}
cpu: model=corei7_skylake_x, count={sc.cpus}, ips=10000000, reset_on_triple_fault=0
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
    cmd = ["bochs", "-q", "-f", bochsrc, "-rc", rc]
    return cmd, {BOCHS_PASS: "PASS", BOCHS_FAIL: "FAIL"}


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


def run_scenario(sc, keep=False):
    d = os.path.join(WORK, f"{sc.name}-{sc.emulator}-{sc.boot}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    serial = os.path.join(d, "serial.txt")
    open(serial, "w").close()
    cmd, statuses = (run_qemu if sc.emulator == "qemu" else run_bochs)(sc, d, serial)
    t0 = time.monotonic()
    timed_out = False
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=sc.timeout, cwd=d)
        status, emu_out = p.returncode, p.stdout.decode(errors="replace")
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
    print(f"{sc.name:<16} {sc.platform:<11} {'PASS' if ok else 'FAIL'} {secs:6.1f}s", flush=True)
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


def bench_figures(log, vendor_level, mode, variant=""):
    """BENCHRAW lines of the bench guest -> (name, value, unit) figures;
    variant (e.g. "_traced") follows the operation in the names."""
    out = []
    for m in re.finditer(r"BENCHRAW (\w+) (\w+) (\d+) (\d+) (\d+)", log):
        vendor, op, ticks, exits100, khz = m.group(1), m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))
        name = f"{vendor}_{vendor_level}_{op}{variant}"
        if mode == "insns":
            out.append((f"{name}_insns", ticks, "instructions"))
            out.append((f"{name}_l0_exits", f"{exits100 / 100:.2f}", "exits"))
        else:
            ns = ticks * 1e6 / khz if khz else 0
            out.append((f"{name}_ns", f"{ns:.0f}", "ns"))
            out.append((f"{name}_per_s", f"{1e9 / ns:.0f}" if ns else "0", "ops/s"))
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
            ("qemu", "wall", [], "l2", "nested-bench.cfg", "nsvm_bench.elf")]
    for emulator, mode, extra, level, cfg, guest, *variant in runs:
        variant = "".join(variant)
        if only and level not in only.split(","):
            continue
        sc = Scenario("bench", emulator, "mb1" if emulator == "qemu" else "mb2", cfg=cfg, cpus=1,
                      timeout=600, modules=[f"build/guests/{guest}"])
        d = os.path.join(WORK, f"bench-{emulator}-{mode}-{level}{variant}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        serial = os.path.join(d, "serial.txt")
        open(serial, "w").close()
        cmd, _ = (run_qemu if emulator == "qemu" else run_bochs)(sc, d, serial)
        subprocess.run(cmd + (extra or []), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=sc.timeout, cwd=d)
        with open(serial, errors="replace") as fh:
            log = fh.read()
        figures = bench_figures(log, level, mode, variant)
        if not figures:
            print(f"bench ({emulator}, {mode}): no figures; serial tail:")
            print("\n".join(log.strip().splitlines()[-15:]))
            return 1
        results += figures
    for name, value, unit in results:
        print(f"BENCH {name} {value} {unit}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated scenario names or name@platform")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep boot media of passing scenarios")
    ap.add_argument("--run", action="store_true", help="boot the default config (make run)")
    ap.add_argument("--bench", action="store_true", help="run the benchmark guests (make bench)")
    a = ap.parse_args()
    if a.run:
        return run_default()
    if a.bench:
        os.makedirs(WORK, exist_ok=True)
        return run_bench(a.only)  # --only l1,l2: just those levels
    chosen = SCENARIOS
    if a.only:
        want = a.only.split(",")
        chosen = [s for s in SCENARIOS if s.name in want or f"{s.name}@{s.platform}" in want]
    if a.list:
        for s in chosen:
            print(f"{s.name:<16} {s.platform}")
        return 0
    os.makedirs(WORK, exist_ok=True)
    t0 = time.monotonic()
    passed = sum(run_scenario(s, a.keep) for s in chosen)
    failed = len(chosen) - passed
    print(f"all scenarios took {time.monotonic() - t0:.0f} s")
    print(f"scenarios: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
