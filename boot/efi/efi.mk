# efi.mk: BOOTX64.EFI, the gnu-efi loader that carries build/nestor.elf.
#
# Included by the top Makefile:
#     BUILD ?= build
#     include boot/efi/efi.mk
# Needs $(BUILD)/nestor.elf (a rule of the top Makefile) and provides
#     $(BUILD)/BOOTX64.EFI     (also as the phony target "efi")
# Objects go to $(BUILD)/efi/.  Paths are relative to the repository root.
#
# EFI_KERNEL is the ELF that gets embedded; override it to embed another
# (e.g. a stand-in kernel for testing the loader):
#     make build/BOOTX64.EFI EFI_KERNEL=build/efi-test/stub.elf
#
# Debian's gnu-efi 3.0.15 layout: headers in /usr/include/efi, the crt0,
# linker script and libraries in /usr/lib.

BUILD ?= build
EFI_KERNEL ?= $(BUILD)/nestor.elf

EFI_INC ?= /usr/include/efi
EFI_LIB ?= /usr/lib
EFI_CC ?= gcc
EFI_LD ?= ld
EFI_OBJCOPY ?= objcopy

# -fpic: a UEFI image is relocated by the firmware; gnu-efi's crt0 applies
#  the ELF relocations itself (_relocate), so the code must be PIC.
# -mno-red-zone: firmware interrupt handlers run on our stack.
# -fshort-wchar: L"" strings are UCS-2 (CHAR16) as UEFI wants.
# -maccumulate-outgoing-args: needed with uefi_call_wrapper/ms_abi calls.
# GNU_EFI_USE_MS_ABI: firmware calls through ms_abi function pointers
#  (gcc >= 4.7), so uefi_call_wrapper() becomes a plain call.
EFI_CFLAGS := -std=gnu11 -O2 -fpic -ffreestanding -fshort-wchar \
	-mno-red-zone -maccumulate-outgoing-args -fno-stack-protector \
	-fno-strict-aliasing -Wall -Wextra -Werror \
	-I. -I$(EFI_INC) -I$(EFI_INC)/x86_64 \
	-DEFI_FUNCTION_WRAPPER -DGNU_EFI_USE_MS_ABI

# --no-undefined: -shared would otherwise accept a missing function silently
# and the firmware would jump to address 0 at run time.
EFI_LDFLAGS := -nostdlib -znocombreloc -shared -Bsymbolic --no-undefined \
	-T $(EFI_LIB)/elf_x86_64_efi.lds

EFI_OBJS := $(addprefix $(BUILD)/efi/, \
	loader.o files.o elf_load.o memmap.o libc.o config.o enter.o \
	kernel_blob.o)

# Sections of the ELF that become the PE image; .data holds .rodata, and
# with it the embedded kernel (see the linker script).
EFI_SECTIONS := -j .text -j .sdata -j .data -j .rodata -j .dynamic \
	-j .dynsym -j .rel -j .rela -j .rel.* -j .rela.* -j .reloc

.PHONY: efi
efi: $(BUILD)/BOOTX64.EFI

$(BUILD)/BOOTX64.EFI: $(BUILD)/efi/loader.so
	$(EFI_OBJCOPY) $(EFI_SECTIONS) --target efi-app-x86_64 $< $@

$(BUILD)/efi/loader.so: $(EFI_OBJS)
	$(EFI_LD) $(EFI_LDFLAGS) $(EFI_LIB)/crt0-efi-x86_64.o $(EFI_OBJS) \
		-L$(EFI_LIB) -lefi -lgnuefi -o $@

$(BUILD)/efi/%.o: boot/efi/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(EFI_CC) $(EFI_CFLAGS) -MMD -MP -c $< -o $@

# The config parser is shared with the kernel; here it is built PIC.
$(BUILD)/efi/config.o: kernel/config.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(EFI_CC) $(EFI_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/efi/enter.o: boot/efi/enter.S | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(EFI_CC) $(EFI_CFLAGS) -c $< -o $@

# .incbin is invisible to make: depend on the kernel explicitly, and on a
# stamp that changes when EFI_KERNEL names another file.
$(BUILD)/efi/kernel_blob.o: boot/efi/kernel_blob.S $(EFI_KERNEL) \
		$(BUILD)/efi/kernel-path.stamp
	@mkdir -p $(@D)
	$(EFI_CC) $(EFI_CFLAGS) -DNESTOR_ELF='"$(EFI_KERNEL)"' -c $< -o $@

$(BUILD)/efi/kernel-path.stamp: FORCE_EFI_STAMP
	@mkdir -p $(@D)
	@echo '$(EFI_KERNEL)' | cmp -s - $@ || echo '$(EFI_KERNEL)' > $@

.PHONY: FORCE_EFI_STAMP
FORCE_EFI_STAMP:

-include $(EFI_OBJS:.o=.d)
