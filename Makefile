# tern: one flat Makefile; a source list per folder.
VERSION := 0.1.0
BUILD := build
PY := /usr/bin/python3

CC := gcc
LD := ld
OBJCOPY := objcopy

# Freestanding: no host headers or libc, no SSE (tern never saves guest FPU state
# around its own code), no red zone (exceptions run on the same stack), and position
# independent so the same objects link into the UEFI application and tern.elf.
KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -nostdinc -isystem $(shell $(CC) -print-file-name=include) \
	-fno-stack-protector -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mno-80387 \
	-fpic -fvisibility=hidden -fno-asynchronous-unwind-tables -fno-omit-frame-pointer \
	-fno-strict-aliasing --param=min-pagesize=0 -I. -DTERN_VERSION='"$(VERSION)"'
EFICFLAGS := $(KCFLAGS) -fshort-wchar -DGNU_EFI_USE_MS_ABI -I/usr/include/efi \
	-I/usr/include/efi/x86_64

HV_SRCS := hv/main.c hv/bootinfo.c hv/console.c hv/cmdline.c hv/gdt.c hv/trap.c \
	hv/trap_entry.S hv/panic.c hv/pmm.c hv/paging.c hv/time.c hv/acpi.c \
	hv/lineedit.c hv/monitor.c hv/mon_cmds.c hv/pci.c \
	hv/lib/string.c hv/lib/strlcpy.c hv/lib/fmt.c hv/lib/error.c
VMX_SRCS := vmx/cap.c
CORE_SRCS := $(HV_SRCS) $(VMX_SRCS)
EFI_SRCS := boot/efi/loader.c boot/efi/config.c
MB2_SRCS := boot/multiboot2/entry.S boot/multiboot2/mb2.c

obj = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(1)))
CORE_OBJS := $(call obj,$(CORE_SRCS))
EFI_OBJS := $(call obj,$(EFI_SRCS))
MB2_OBJS := $(call obj,$(MB2_SRCS))

GUESTS :=
GUEST_ELFS := $(patsubst %,$(BUILD)/guests/%.elf,$(GUESTS))

.PHONY: all deps run test unit system clean
all: $(BUILD)/.deps $(BUILD)/tern.efi $(BUILD)/tern.elf $(BUILD)/tern.img $(BUILD)/tern.iso

# make, make run and make test install what is missing; tools/deps is a quick check
# when everything is there.
deps:
	tools/deps
$(BUILD)/.deps: tools/deps
	tools/deps
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/boot/efi/%.o: boot/efi/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(EFICFLAGS) -MMD -c $< -o $@
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) -MMD -c $< -o $@
$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) -MMD -c $< -o $@

# The multiboot2 stub uses absolute 32-bit addresses: no PIC there.
$(BUILD)/obj/boot/multiboot2/entry.o: boot/multiboot2/entry.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"; $(CC) $(filter-out -fpic,$(KCFLAGS)) -fno-pic -MMD -c $< -o $@

$(BUILD)/tern.so: $(EFI_OBJS) $(CORE_OBJS)
	$(LD) -nostdlib -znocombreloc -z noexecstack -T /usr/lib/elf_x86_64_efi.lds -shared \
		-Bsymbolic --no-undefined -L/usr/lib /usr/lib/crt0-efi-x86_64.o $^ -lgnuefi -o $@

$(BUILD)/tern.efi: $(BUILD)/tern.so
	$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
		-j '.rel.*' -j '.rela.*' -j .reloc --target efi-app-x86_64 --subsystem=10 $< $@

$(BUILD)/tern.elf: $(MB2_OBJS) $(CORE_OBJS) boot/multiboot2/tern.ld
	$(LD) -nostdlib -static -z noexecstack -z max-page-size=4096 --no-warn-rwx-segments \
		-T boot/multiboot2/tern.ld $(MB2_OBJS) $(CORE_OBJS) -o $@
	grub-file --is-x86-multiboot2 $@

MODULE_ARGS = $(foreach g,$(GUEST_ELFS),--module $(g))

$(BUILD)/tern.img: $(BUILD)/tern.efi $(GUEST_ELFS) tools/mkimg
	tools/mkimg efi --efi $< --out $@ $(MODULE_ARGS)

$(BUILD)/tern.iso: $(BUILD)/tern.elf $(GUEST_ELFS) tools/mkimg
	tools/mkimg iso --elf $< --out $@ $(MODULE_ARGS)

run: all
	tools/run

# --- tests ---
UNIT_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I. \
	-fsanitize=address,undefined -fno-sanitize-recover=all -DTERN_VERSION='"$(VERSION)"'
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
UNIT_SRCS := hv/lib/fmt.c hv/cmdline.c hv/lineedit.c hv/monitor.c hv/pmm.c hv/bootinfo.c \
	hv/acpi.c hv/pci.c hv/lib/error.c hv/lib/strlcpy.c boot/efi/config.c tests/unit/stubs.c

$(BUILD)/unit/%: tests/unit/%.c $(UNIT_SRCS) $(wildcard hv/*.h hv/lib/*.h boot/efi/*.h tests/unit/*.h) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $< $(UNIT_SRCS) -lcmocka -o $@

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

system: all
	$(PY) -m pytest -v tests/system

test: all unit system

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
