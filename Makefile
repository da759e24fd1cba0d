# Nestor build.  `make` builds build/nestor.elf and build/BOOTX64.EFI;
# `make test` runs the unit tests, a short fuzz smoke and the boot scenarios;
# `make run` boots the default configuration under QEMU; `make fuzz` fuzzes
# the pure modules for longer.  Missing Debian packages are installed first
# (tools/install-deps.sh, as root) and newlib is built once into build/.

BUILD    ?= build
CC       := gcc
LD       := ld
NEWLIB   := $(BUILD)/newlib/x86_64-elf
GCC_INC  := $(shell $(CC) -print-file-name=include)
LIBGCC   := $(shell $(CC) -print-libgcc-file-name)

# The kernel: freestanding, non-PIC, linked at 1 MiB (linker.ld).  No red
# zone (interrupts use the current stack); general registers only in our
# own code (newlib is the only SSE user and the FPU state is set up early).
KERNEL_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-address-of-packed-member \
	-ffreestanding -fno-pic -fno-pie -mno-red-zone -mcmodel=small \
	-mgeneral-regs-only -fno-stack-protector -fno-omit-frame-pointer \
	-fno-strict-aliasing -nostdinc -isystem $(NEWLIB)/include -isystem $(GCC_INC) -I.
KERNEL_ASFLAGS := -I. -fno-pic -fno-pie

KERNEL_SRC := $(wildcard arch/x86/*.c arch/x86/*.S kernel/*.c kernel/*.S mm/*.c \
	drivers/*.c drivers/platform/*.c drivers/virtio/*.c svm/*.c svm/*.S svm/nested/*.c vmx/*.c vmx/*.S vmx/nested/*.c \
	boot/multiboot2/*.c boot/multiboot2/*.S)
KERNEL_OBJ := $(patsubst %,$(BUILD)/kernel/%.o,$(KERNEL_SRC))

DEPS_STAMP := $(BUILD)/.deps-ok
# Keep intermediate objects (guest objects are made through pattern chains).
.SECONDARY:
GUESTS := $(patsubst tests/guests/%.c,$(BUILD)/guests/%.elf,$(wildcard tests/guests/*.c)) \
	$(BUILD)/guests/platform64.elf
.SECONDEXPANSION:

.PHONY: all guests bench deps run test unit fuzz fuzz-smoke integ clean
all: $(BUILD)/nestor.elf $(BUILD)/BOOTX64.EFI $(GUESTS)

$(DEPS_STAMP): tools/install-deps.sh
	@mkdir -p $(@D)
	@tools/install-deps.sh
	@touch $@
deps: $(DEPS_STAMP)

$(NEWLIB)/lib/libc.a: tools/build-newlib.sh | $(DEPS_STAMP)
	@echo "  NEWLIB  (once, ~1 min)"
	@tools/build-newlib.sh $(BUILD)/newlib

$(BUILD)/kernel/%.c.o: %.c $(NEWLIB)/lib/libc.a
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(KERNEL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/kernel/%.S.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  AS      $<"
	@$(CC) $(KERNEL_ASFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/kernel/kernel/default_cfg.S.o: kernel/default.cfg
$(BUILD)/kernel/kernel/builtin_guests.S.o: KERNEL_ASFLAGS += -DBUILTIN_DEMO='"$(BUILD)/guests/demo.elf"'
$(BUILD)/kernel/kernel/builtin_guests.S.o: $(BUILD)/guests/demo.elf

# ---- test guests (tests/guests): Multiboot1 kernels on the same runtime,
# reusing Nestor's own Multiboot entry and trap stubs.
GUEST_RT_SRC := tests/guests/rt/rt.c tests/guests/rt/entry64.S boot/multiboot2/mb_parse.c boot/multiboot2/entry.S arch/x86/trampoline.S arch/x86/entry64.S arch/x86/traps.S
GUEST_RT_OBJ := $(patsubst %,$(BUILD)/guests/obj/%.o,$(GUEST_RT_SRC))

$(BUILD)/guests/obj/%.c.o: %.c $(NEWLIB)/lib/libc.a
	@mkdir -p $(@D)
	@echo "  CC      $< (guest)"
	@$(CC) $(KERNEL_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/guests/obj/%.S.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@$(CC) $(KERNEL_ASFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/guests/%.elf: $(BUILD)/guests/obj/tests/guests/%.c.o $(GUEST_RT_OBJ) tests/guests/rt/guest.ld
	@echo "  LD      $@"
	@$(LD) -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T tests/guests/rt/guest.ld \
		-o $@ $< $(GUEST_RT_OBJ) $(NEWLIB)/lib/libc.a $(LIBGCC)
# The platform guest once more, entered through its 64-bit entry (format = elf64).
$(BUILD)/guests/platform64.elf: $(BUILD)/guests/obj/tests/guests/platform.c.o $(GUEST_RT_OBJ) tests/guests/rt/guest.ld
	@echo "  LD      $@"
	@$(LD) -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T tests/guests/rt/guest.ld -e elf64_entry \
		-o $@ $< $(GUEST_RT_OBJ) $(NEWLIB)/lib/libc.a $(LIBGCC)
guests: $(GUESTS)

$(BUILD)/nestor.elf: $(KERNEL_OBJ) linker.ld $(NEWLIB)/lib/libc.a
	@echo "  LD      $@"
	@$(LD) -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T linker.ld \
		-o $@ $(KERNEL_OBJ) $(NEWLIB)/lib/libc.a $(LIBGCC)

include boot/efi/efi.mk

# ---- host unit tests (cmocka): one binary per tests/unit/test_*.c, linked
# with the pure modules it tests.
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -fsanitize=address,undefined
UNIT_SRCS_test_config    := kernel/config.c
UNIT_SRCS_test_mb_parse  := boot/multiboot2/mb_parse.c
UNIT_SRCS_test_memmap    := mm/memmap.c
UNIT_SRCS_test_frame_pool := mm/frame_pool.c
UNIT_SRCS_test_acpi      := arch/x86/acpi.c
UNIT_SRCS_test_cpu_caps  := arch/x86/cpu_caps_names.c
UNIT_SRCS_test_decode    := arch/x86/decode.c
UNIT_SRCS_test_cpuid_view := kernel/cpuid_view.c
UNIT_SRCS_test_exit_cost := kernel/exit_cost.c
UNIT_SRCS_test_exit_reasons := kernel/exit_reasons.c kernel/exit_cost.c
UNIT_SRCS_test_nested_tags := kernel/nested_tags.c
UNIT_SRCS_test_msr_rules := kernel/msr_rules.c
# nested SVM and VMX cores (pure; not yet linked into the kernel)
UNIT_SRCS_test_nsvm_check   := svm/nested/vmcb12_check.c mm/gmem.c
UNIT_SRCS_test_nsvm_merge   := svm/nested/vmcb02_merge.c svm/nested/vmcb_clean.c mm/gmem.c
UNIT_SRCS_test_nsvm_reflect := svm/nested/exit_reflect.c mm/gmem.c
UNIT_SRCS_test_nsvm_npt     := svm/nested/npt_compose.c mm/gmem.c
UNIT_SRCS_test_nvmx_vmcs12  := vmx/nested/vmcs12.c vmx/vmcs_fields.c mm/gmem.c
UNIT_SRCS_test_nvmx_insn    := vmx/nested/vmx_insn.c vmx/nested/vmcs12.c vmx/vmcs_fields.c mm/gmem.c
UNIT_SRCS_test_nvmx_merge   := vmx/nested/vmcs02_merge.c vmx/nested/exit_reflect.c vmx/vmcs_fields.c mm/gmem.c
UNIT_SRCS_test_nvmx_reflect := vmx/nested/exit_reflect.c vmx/vmcs_fields.c mm/gmem.c
UNIT_SRCS_test_nvmx_ept     := vmx/nested/ept_compose.c mm/gmem.c
UNIT_SRCS_test_nvmx_caps    := vmx/nested/nvmx_caps.c vmx/nested/vmcs12.c vmx/vmcs_fields.c mm/gmem.c
UNIT_SRCS_test_vmcs_fields := vmx/vmcs_fields.c
UNIT_SRCS_test_vmx_check := vmx/vmx_check.c vmx/vmcs_fields.c
UNIT_SRCS_test_guest_load := kernel/guest_load.c mm/gmem.c boot/multiboot2/mb_parse.c
UNIT_SRCS_test_gmem      := mm/gmem.c
UNIT_SRCS_test_s2pt      := mm/s2pt.c mm/gmem.c
UNIT_SRCS_test_gwalk     := mm/gwalk.c mm/gmem.c
UNIT_SRCS_test_vlapic    := drivers/platform/vlapic.c
UNIT_SRCS_test_vioapic   := drivers/platform/vioapic.c
UNIT_SRCS_test_vpic      := drivers/platform/vpic.c
UNIT_SRCS_test_vpit      := drivers/platform/vpit.c
UNIT_SRCS_test_vrtc      := drivers/platform/vrtc.c
UNIT_SRCS_test_guest_acpi := drivers/platform/guest_acpi.c
UNIT_SRCS_test_fw_cfg    := drivers/platform/fw_cfg.c
# virtio (pure; in the kernel through kernel/virtio_l0.c)
UNIT_SRCS_test_virtqueue   := drivers/virtio/virtqueue.c mm/gmem.c
UNIT_SRCS_test_virtio_mmio := drivers/virtio/virtio_mmio.c drivers/virtio/virtio.c drivers/virtio/virtio_blk.c drivers/virtio/virtqueue.c mm/gmem.c
UNIT_SRCS_test_virtio_blk  := drivers/virtio/virtio_blk.c drivers/virtio/virtio.c drivers/virtio/virtqueue.c mm/gmem.c
UNIT_SRCS_test_virtio_net  := drivers/virtio/virtio_net.c drivers/virtio/vnet_switch.c drivers/virtio/virtio.c drivers/virtio/virtqueue.c mm/gmem.c
UNIT_SRCS_test_virtio_console := drivers/virtio/virtio_console.c drivers/virtio/virtio.c drivers/virtio/virtqueue.c mm/gmem.c
UNIT_SRCS_test_vnet_switch := drivers/virtio/vnet_switch.c
UNIT_SRCS_test_trace     := kernel/trace.c
# runs build/tools/nestor-trace over a synthetic dump
UNIT_SRCS_test_trace_tool := kernel/trace.c vmx/vmcs_fields.c
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))

$(BUILD)/unit/%: tests/unit/%.c $$(UNIT_SRCS_%) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@"
	@$(CC) $(HOST_CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(UNIT_SRCS_$*) -lcmocka
unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do $$t; done

# ---- libFuzzer targets for the pure modules (clang, ASan + UBSan).
FUZZ_SRCS_fuzz_config := kernel/config.c
FUZZ_SRCS_fuzz_mb2    := boot/multiboot2/mb_parse.c mm/memmap.c
FUZZ_SRCS_fuzz_mb1    := boot/multiboot2/mb_parse.c mm/memmap.c
FUZZ_SRCS_fuzz_memmap := mm/memmap.c
FUZZ_SRCS_fuzz_acpi   := arch/x86/acpi.c
FUZZ_SRCS_fuzz_guest_load := kernel/guest_load.c mm/gmem.c
FUZZ_SRCS_fuzz_vmx_check := vmx/vmx_check.c vmx/vmcs_fields.c
FUZZ_SRCS_fuzz_nsvm_check   := svm/nested/vmcb12_check.c svm/nested/vmcb02_merge.c svm/nested/vmcb_clean.c mm/gmem.c
FUZZ_SRCS_fuzz_nsvm_reflect := svm/nested/exit_reflect.c mm/gmem.c
FUZZ_SRCS_fuzz_nsvm_npt     := svm/nested/npt_compose.c mm/gmem.c
FUZZ_SRCS_fuzz_nvmx_vmcs12  := vmx/nested/vmcs12.c vmx/vmcs_fields.c mm/gmem.c
FUZZ_SRCS_fuzz_nvmx_ept     := vmx/nested/ept_compose.c mm/gmem.c
FUZZ_SRCS_fuzz_decode := arch/x86/decode.c
FUZZ_SRCS_fuzz_gwalk  := mm/gwalk.c mm/gmem.c
FUZZ_SRCS_fuzz_s2pt   := mm/s2pt.c mm/gmem.c
FUZZ_SRCS_fuzz_vlapic := drivers/platform/vlapic.c
FUZZ_SRCS_fuzz_fw_cfg := drivers/platform/fw_cfg.c
FUZZ_SRCS_fuzz_guest_acpi := drivers/platform/guest_acpi.c
FUZZ_SRCS_fuzz_virtqueue := drivers/virtio/virtio_mmio.c drivers/virtio/virtio.c drivers/virtio/virtio_blk.c drivers/virtio/virtqueue.c mm/gmem.c
FUZZ_SRCS_fuzz_vnet := drivers/virtio/vnet_switch.c drivers/virtio/virtio_net.c drivers/virtio/virtio_mmio.c drivers/virtio/virtio.c drivers/virtio/virtqueue.c mm/gmem.c
FUZZ_SRCS_fuzz_trace_decode := kernel/trace.c
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4

$(BUILD)/fuzz/%: tests/fuzz/%.c $$(FUZZ_SRCS_%) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	@clang -g -O1 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-MMD -MP -MF $@.d -o $@ $< $(FUZZ_SRCS_$*)

# Each target runs over its committed corpus (regressions) and then explores
# for a bounded time; new inputs go to build/, not into the repository.
define run_fuzz
	@set -e; for f in $(FUZZ_TARGETS); do n=$$(basename $$f | sed 's/^fuzz_//'); \
		mkdir -p $(BUILD)/fuzz/corpus-$$n; \
		echo "  FUZZ    $$n ($(1) s)"; \
		$$f -max_total_time=$(1) -print_final_stats=0 $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n \
			> $(BUILD)/fuzz/$$n.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$n.log; exit 1; }; \
	done
endef
fuzz: $(FUZZ_TARGETS)
	$(call run_fuzz,$(FUZZ_SECONDS))
fuzz-smoke: $(FUZZ_TARGETS)
	$(call run_fuzz,$(FUZZ_SMOKE_SECONDS))

# ---- host tools: nestor-trace turns exit-trace dumps in a serial log into
# tables, CSV and SVG (docs/trace-format.md).  Built by `make`; its test
# (tests/unit/test_trace_tool.c) runs it under `make unit`.
TOOL_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -I.
NESTOR_TRACE_SRCS := tools/nestor-trace.c kernel/trace.c vmx/vmcs_fields.c
$(BUILD)/tools/nestor-trace: $(NESTOR_TRACE_SRCS) kernel/trace.h kernel/exit_names.h vmx/vmcs_fields.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@"
	@$(CC) $(TOOL_CFLAGS) -o $@ $(NESTOR_TRACE_SRCS)
all: $(BUILD)/tools/nestor-trace
$(BUILD)/unit/test_trace_tool: $(BUILD)/tools/nestor-trace
$(BUILD)/unit/test_trace_tool: HOST_CFLAGS += -DNESTOR_TRACE_TOOL='"$(BUILD)/tools/nestor-trace"'
.PHONY: clean-tools
clean-tools:
	rm -rf $(BUILD)/tools
clean: clean-tools

# ---- the Linux guest (docs/linux-guests.md): Debian's cloud kernel and an
# initramfs of Debian's busybox-static, /init and nestor-exit, in a cache
# under build/linux-guest.  apt-get download runs once; afterwards the
# cache is enough (offline).  `rm -rf build/linux-guest` fetches anew.
LINUX_GUEST := $(BUILD)/linux-guest
$(LINUX_GUEST)/vmlinuz $(LINUX_GUEST)/busybox $(LINUX_GUEST)/modules/modules.builtin &: | $(DEPS_STAMP)
	@tools/linux-guest/fetch.sh $(LINUX_GUEST)
$(LINUX_GUEST)/nestor-exit: tools/linux-guest/nestor-exit.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@ (static, runs in the guest)"
	@$(CC) -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie -O2 \
		-Wall -Wextra -Werror -o $@ $<
# kvm-l2 runs L2 guests through L1's /dev/kvm (scenario linux-kvm): a
# static glibc program (threads, stdio), unlike the libc-free nestor-exit.
$(LINUX_GUEST)/kvm-l2: tools/linux-guest/kvm-l2.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@ (static, runs in the guest)"
	@$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $<
# The initramfs carries kvm_amd and kvm_intel (nested=1) and their
# dependencies from the kernel's own package; /init loads the one for the
# CPU's vendor, and only for the linux-kvm scenario.
$(LINUX_GUEST)/initramfs.cpio: tools/linux-guest/mkinitramfs.py tools/linux-guest/init \
		$(LINUX_GUEST)/busybox $(LINUX_GUEST)/nestor-exit $(LINUX_GUEST)/kvm-l2 \
		$(LINUX_GUEST)/modules/modules.builtin
	@python3 tools/linux-guest/mkinitramfs.py $@ $(LINUX_GUEST)/busybox tools/linux-guest/init \
		$(LINUX_GUEST)/nestor-exit --bin $(LINUX_GUEST)/kvm-l2 \
		--modules $(LINUX_GUEST)/modules --load kvm_amd:nested=1 --load kvm_intel:nested=1 \
		--load virtio_mmio --load virtio_blk --load virtio_console --load virtio_net
.PHONY: linux-guest
linux-guest: $(LINUX_GUEST)/vmlinuz $(LINUX_GUEST)/initramfs.cpio

# ---- emulator scenarios (tests/integ/run.py: table of scenarios)
integ: all linux-guest
	@python3 tests/integ/run.py

test: all unit fuzz-smoke linux-guest
	@python3 tests/integ/run.py


# Boot the default configuration under QEMU TCG (Multiboot1 path) and
# return when Nestor ends; exit status 0 when it ended with PASS.
run: all
	@python3 tests/integ/run.py --run

# Benchmarks: BENCH <name> <value> <unit> lines (docs/benchmarks.md).
bench: all linux-guest
	@python3 tests/integ/run.py --bench

clean:
	rm -rf $(BUILD)/kernel $(BUILD)/efi $(BUILD)/unit $(BUILD)/fuzz $(BUILD)/integ \
		$(BUILD)/nestor.elf $(BUILD)/BOOTX64.EFI

-include $(KERNEL_OBJ:.o=.d) $(GUEST_RT_OBJ:.o=.d) $(UNIT_TESTS:=.d) $(FUZZ_TARGETS:=.d)
