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

# The guest platform's device models: pure, so they are also in the unit tests.
DEV_SRCS := \
	hv/dev/dev.c \
	hv/dev/acpi_tables.c \
	hv/dev/acpi_pm.c \
	hv/dev/kbc.c \
	hv/dev/pci_host.c \
	hv/dev/rtc.c \
	hv/dev/uart.c \
	hv/dev/lapic.c \
	hv/dev/ioapic.c \
	hv/dev/pic.c \
	hv/dev/pit.c \

HV_SRCS := hv/main.c hv/bootinfo.c hv/console.c hv/cmdline.c hv/gdt.c hv/trap.c \
	hv/trap_entry.S hv/panic.c hv/pmm.c hv/paging.c hv/time.c hv/acpi.c \
	hv/lineedit.c hv/monitor.c hv/mon_cmds.c hv/pci.c hv/mbload.c hv/linuxload.c \
	hv/vm.c hv/vm_id.c hv/sched.c hv/vm_args.c hv/vconsole.c hv/pc.c hv/cpuid.c hv/mon_vm.c hv/mon_regs.c hv/vcpu.c hv/msr.c \
	hv/backend.c hv/apicv.c hv/apic_host.c hv/idle.c hv/pcpu.c hv/smp.c hv/ap_start.S \
	hv/shadow.c hv/dirty.c hv/bitmap.c hv/mon_dirty.c hv/load.c hv/turn.c \
	hv/vmstate.c hv/cpu_model.c hv/x86_rules.c hv/x86_state.c hv/x86_reset.c hv/calendar.c \
	hv/wallclock.c hv/gpt.c hv/insn.c hv/insn_emul.c hv/strio.c hv/vcpu_emul.c hv/throttle.c \
	hv/lib/string.c hv/lib/strlcpy.c hv/lib/fmt.c hv/lib/error.c $(DEV_SRCS)
VMX_SRCS := vmx/backend.c vmx/cap.c vmx/vmxon.c vmx/vmcs.c vmx/vcpu.c vmx/state.c vmx/entry.S \
	vmx/exit.c vmx/event.c vmx/names.c vmx/ept.c vmx/s2.c vmx/dirty.c vmx/apicv.c vmx/vapic.c
NET_SRCS := net/addr.c net/sys_arch.c net/pci.c net/e1000_ring.c net/e1000.c net/net.c net/ping.c \
	net/netperf.c
MIGRATE_SRCS := migrate/wire.c migrate/xbzrle.c migrate/stream.c migrate/send.c migrate/recv.c migrate/migrate.c \
	migrate/announce.c migrate/discovery.c migrate/autopolicy.c migrate/policy.c migrate/precopy.c migrate/converge.c \
	migrate/guard.c \
	migrate/cluster.c
TLS_SRCS := tls/tls.c tls/entropy.c tls/key.c tls/session.c
CORE_SRCS := $(HV_SRCS) $(VMX_SRCS) $(NET_SRCS) $(MIGRATE_SRCS) $(TLS_SRCS)
# lwIP 2.1.3 from Debian's source package (tools/deps fetches it; never committed):
# the core, IPv4 and Ethernet for the raw API, configured by net/lwipopts.h.
LWIP := third_party/lwip/src
LWIP_SRCS := $(addprefix $(LWIP)/core/,init.c def.c inet_chksum.c ip.c mem.c memp.c \
	netif.c pbuf.c raw.c tcp.c tcp_in.c tcp_out.c timeouts.c udp.c) \
	$(addprefix $(LWIP)/core/ipv4/,dhcp.c etharp.c icmp.c ip4.c ip4_addr.c ip4_frag.c) \
	$(LWIP)/netif/ethernet.c
LWIP_INC := -Inet -I$(LWIP)/include
LWIP_OBJS := $(patsubst $(LWIP)/%.c,$(BUILD)/obj/lwip/%.o,$(LWIP_SRCS))
# mbedTLS 2.28 from Debian's source package (tools/deps fetches it; never committed): the
# parts tls/mbedtls_config.h enables, for TLS 1.2 with a pre-shared key.
MBEDTLS := third_party/mbedtls
MBEDTLS_SRCS := $(addprefix $(MBEDTLS)/library/,ssl_tls.c ssl_cli.c ssl_srv.c ssl_msg.c \
	ssl_ciphersuites.c chacha20.c poly1305.c chachapoly.c cipher.c cipher_wrap.c md.c sha256.c \
	hkdf.c hmac_drbg.c entropy.c ecdh.c ecp.c ecp_curves.c bignum.c constant_time.c platform.c \
	platform_util.c memory_buffer_alloc.c)
# x25519 is Project Everest's verified HACL* code that mbedTLS ships beside its library.
EVEREST := $(MBEDTLS)/3rdparty/everest
EVEREST_SRCS := $(addprefix $(EVEREST)/library/,everest.c x25519.c Hacl_Curve25519_joined.c)
EVEREST_CFLAGS := -I$(MBEDTLS)/library -I$(EVEREST)/include/everest \
	-I$(EVEREST)/include/everest/kremlib -include tls/everest_host.h
MBEDTLS_INC := -I$(MBEDTLS)/include -I$(EVEREST)/include \
	-DMBEDTLS_CONFIG_FILE='"tls/mbedtls_config.h"'
MBEDTLS_OBJS := $(patsubst $(MBEDTLS)/library/%.c,$(BUILD)/obj/mbedtls/%.o,$(MBEDTLS_SRCS)) \
	$(patsubst $(EVEREST)/library/%.c,$(BUILD)/obj/everest/%.o,$(EVEREST_SRCS))
EFI_SRCS := boot/efi/loader.c boot/efi/config.c
MB2_SRCS := boot/multiboot2/entry.S boot/multiboot2/mb2.c

obj = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(1)))
CORE_OBJS := $(call obj,$(CORE_SRCS)) $(LWIP_OBJS) $(MBEDTLS_OBJS)
EFI_OBJS := $(call obj,$(EFI_SRCS))
MB2_OBJS := $(call obj,$(MB2_SRCS))

# Test guests: ELF32 Multiboot v1 kernels with their own runtime (guests/lib) and
# flags: no PIC (they run where they are linked), 32-bit code unless in a 64-bit part.
GUESTS := hello spin memtouch hostile pages ticker echo cpustate badpc power apicpath smp
GUEST_ELFS := $(patsubst %,$(BUILD)/guests/%.elf,$(GUESTS))
GUESTS_64 := memtouch cpustate apicpath
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -nostdinc -isystem $(shell $(CC) -print-file-name=include) -fno-pic \
	-fno-stack-protector -mno-mmx -mno-sse -mno-sse2 -mno-80387 -fno-strict-aliasing \
	-fno-asynchronous-unwind-tables -ffunction-sections --param=min-pagesize=0 -I.
GUEST_LIB_SRCS := guests/lib/crt0.S guests/lib/trap_entry.S guests/lib/trap.c \
	guests/lib/probe.c guests/lib/vectors.c guests/lib/serial.c guests/lib/exit.c \
	guests/lib/cmdline.c guests/lib/paging.c guests/lib/long.S guests/lib/udivdi3.c \
	guests/lib/irq.c guests/lib/irq_entry.S guests/lib/pic.c guests/lib/pit.c \
	guests/lib/lapic.c guests/lib/ioapic.c guests/lib/tsc.c guests/lib/acpi.c guests/lib/mp.c \
	hv/lib/fmt.c hv/lib/string.c
GUEST_LIB64_SRCS := guests/lib/entry64.S guests/lib/trap64.c guests/lib/vectors.c \
	guests/lib/serial.c guests/lib/exit.c guests/lib/cmdline.c hv/lib/fmt.c hv/lib/string.c
G32 := $(BUILD)/obj/guests/32
G64 := $(BUILD)/obj/guests/64
GUEST_LIB_OBJS := $(patsubst %,$(G32)/%.o,$(basename $(GUEST_LIB_SRCS)))
GUEST_LIB64_OBJS := $(patsubst %,$(G64)/%.o,$(basename $(GUEST_LIB64_SRCS)))

.PHONY: all deps run demo test unit fuzz docs system bench clean
all: $(BUILD)/.deps $(BUILD)/tern.efi $(BUILD)/tern.elf $(BUILD)/tern.img $(BUILD)/tern.iso \
	$(LINUX_IMAGES) $(BUILD)/tern-tls-pipe

# make, make run and make test install what is missing; tools/deps is a quick check
# when everything is there. It runs while the Makefile is read, before anything is
# built: make reads a directory once, so sources fetched during the build (lwIP's,
# mbedTLS's) could stay unseen and their objects have "no rule".
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
ifneq ($(shell tools/deps 1>&2; echo $$?),0)
$(error tools/deps could not install what the build needs (its messages are above))
endif
endif
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

# tern's net/ code includes lwIP headers; lwIP itself also gets the <string.h> shim
# and is compiled as it comes, with the warnings its code trips switched off there only.
$(BUILD)/obj/migrate/%.o: migrate/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) $(LWIP_INC) -MMD -c $< -o $@
$(BUILD)/obj/net/%.o: net/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) $(LWIP_INC) -MMD -c $< -o $@
$(BUILD)/obj/lwip/%.o: $(LWIP)/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) $(LWIP_INC) -Inet/include -Wno-address \
		-Wno-sign-compare -Wno-type-limits -MMD -c $< -o $@

# tls/ and mbedTLS get tls/include (the few libc headers mbedTLS includes) and its configuration.
$(BUILD)/obj/tls/%.o: tls/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) -Itls/include $(MBEDTLS_INC) -MMD -c $< -o $@
$(BUILD)/obj/mbedtls/%.o: $(MBEDTLS)/library/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) -Itls/include $(MBEDTLS_INC) -MMD -c $< -o $@
$(BUILD)/obj/everest/%.o: $(EVEREST)/library/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(KCFLAGS) -Itls/include $(MBEDTLS_INC) $(EVEREST_CFLAGS) -MMD -c $< -o $@

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

$(G32)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC32    $<"; $(CC) $(GUEST_CFLAGS) -m32 -MMD -c $< -o $@
$(G32)/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS32    $<"; $(CC) $(GUEST_CFLAGS) -m32 -MMD -c $< -o $@
$(G64)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC64    $<"; $(CC) $(GUEST_CFLAGS) -m64 -mno-red-zone -MMD -c $< -o $@
$(G64)/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS64    $<"; $(CC) $(GUEST_CFLAGS) -m64 -MMD -c $< -o $@

# A guest's 64-bit part: its own .c compiled 64-bit, linked at BLOB64_BASE, flattened,
# and carried in the ELF32 by blob64.S. --gc-sections drops its 32-bit-only code.
$(G64)/%.elf: $(G64)/guests/%.o $(GUEST_LIB64_OBJS) guests/lib/guest64.ld
	@echo "  LD64    $@"; $(LD) -m elf_x86_64 -nostdlib -static -z noexecstack \
		--no-warn-rwx-segments --gc-sections -T guests/lib/guest64.ld $(filter %.o,$^) -o $@
$(G64)/%.bin: $(G64)/%.elf
	@echo "  BIN     $@"; $(OBJCOPY) -O binary --set-section-flags .bss=alloc,load,contents $< $@
$(G32)/%-blob64.o: guests/lib/blob64.S $(G64)/%.bin
	@mkdir -p $(dir $@)
	@echo "  AS32    $< ($*)"; $(CC) $(GUEST_CFLAGS) -m32 -DBLOB64='"$(G64)/$*.bin"' -c $< -o $@

# Objects reached only through pattern rules would count as intermediate and be deleted.
.SECONDARY: $(GUEST_LIB_OBJS) $(GUEST_LIB64_OBJS) $(patsubst %,$(G32)/guests/%.o,$(GUESTS)) \
	$(foreach g,$(GUESTS_64),$(G64)/guests/$(g).o $(G64)/$(g).elf $(G64)/$(g).bin \
	$(G32)/$(g)-blob64.o)
$(patsubst %,$(BUILD)/guests/%.elf,$(GUESTS_64)): $(BUILD)/guests/%.elf: $(G32)/%-blob64.o
$(BUILD)/guests/%.elf: $(G32)/guests/%.o $(GUEST_LIB_OBJS) guests/lib/guest.ld
	@mkdir -p $(dir $@)
	@echo "  LD32    $@"; $(LD) -m elf_i386 -nostdlib -static -z noexecstack \
		--no-warn-rwx-segments --gc-sections -T guests/lib/guest.ld $(filter %.o,$^) -o $@

# The Linux guest: Debian's kernel (tools/deps fetches it into third_party/linux) and an
# initramfs (cpio, newc) of busybox-static, guests/linux/init and the test programs of
# guests/linux/, built static with the host's libc. /dev/console must be in the archive
# (the kernel opens it for init before anything is mounted): fakeroot lets mknod make it
# without root. Images "linux" and "initramfs" for `vm start linux initrd=initramfs`.
LINUX_PROGS := memtouch clockstep
LINUX_DIR := $(BUILD)/linux
LINUX_BINS := $(patsubst %,$(LINUX_DIR)/bin/%,$(LINUX_PROGS))
LINUX_IMAGES := $(LINUX_DIR)/linux $(LINUX_DIR)/initramfs
LINUX_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -static

$(LINUX_DIR)/bin/%: guests/linux/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CCLINUX $<"; $(CC) $(LINUX_CFLAGS) $< -o $@

$(LINUX_DIR)/linux: $(BUILD)/.deps
	@mkdir -p $(dir $@)
	cp -L third_party/linux/vmlinuz $@

$(LINUX_DIR)/initramfs: guests/linux/init $(LINUX_BINS) $(BUILD)/.deps
	rm -rf $@.root && mkdir -p $(addprefix $@.root/,bin sbin usr/bin usr/sbin proc sys dev \
		tmp root etc)
	cp /bin/busybox $(LINUX_BINS) $@.root/bin/
	install -m 755 guests/linux/init $@.root/init
	cd $@.root && fakeroot sh -c 'mknod -m 600 dev/console c 5 1 && \
		find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0' > $(abspath $@).tmp
	rm -rf $@.root && mv $@.tmp $@

MODULE_ARGS = $(foreach g,$(GUEST_ELFS) $(LINUX_IMAGES),--module $(g))

$(BUILD)/tern.img: $(BUILD)/tern.efi $(GUEST_ELFS) $(LINUX_IMAGES) tools/mkimg
	tools/mkimg efi --efi $< --out $@ $(MODULE_ARGS)

$(BUILD)/tern.iso: $(BUILD)/tern.elf $(GUEST_ELFS) $(LINUX_IMAGES) tools/mkimg
	tools/mkimg iso --elf $< --out $@ $(MODULE_ARGS)

run: all
	tools/run

# tern's main job end to end: two hosts on one LAN, memtouch moved there and back.
demo: all
	tools/demo

# --- tests ---
UNIT_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I. \
	-fsanitize=address,undefined -fno-sanitize-recover=all -DTERN_VERSION='"$(VERSION)"' \
	$(MBEDTLS_INC)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
UNIT_SRCS := hv/lib/fmt.c hv/cmdline.c hv/lineedit.c hv/monitor.c hv/pmm.c hv/bootinfo.c hv/linuxload.c \
	hv/acpi.c hv/pci.c hv/mbload.c hv/vm_args.c vmx/ept.c vmx/vapic.c hv/apicv.c hv/vconsole.c hv/bitmap.c hv/lib/error.c hv/lib/strlcpy.c boot/efi/config.c tests/unit/stubs.c \
	net/e1000_ring.c net/addr.c migrate/wire.c migrate/xbzrle.c migrate/announce.c migrate/policy.c migrate/precopy.c hv/load.c hv/turn.c \
	hv/throttle.c hv/vm_id.c migrate/converge.c migrate/cluster.c migrate/guard.c \
	hv/vmstate.c hv/cpu_model.c hv/cpuid.c hv/x86_rules.c hv/x86_state.c hv/x86_reset.c hv/calendar.c \
	hv/wallclock.c hv/gpt.c hv/insn.c hv/insn_emul.c hv/strio.c $(DEV_SRCS) \
	$(TLS_SRCS) $(MBEDTLS_SRCS) $(EVEREST_SRCS)

# The code under test is compiled once, hosted, and linked into every test.
UNIT_OBJS := $(patsubst %.c,$(BUILD)/unit/obj/%.o,$(UNIT_SRCS))
# Reached only through a pattern rule, they would count as intermediate and be deleted
# after each test links, and every test would compile them all again.
.SECONDARY: $(UNIT_OBJS)
$(BUILD)/unit/obj/$(EVEREST)/%.o: UNIT_CFLAGS += $(EVEREST_CFLAGS)
$(BUILD)/unit/obj/%.o: %.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(UNIT_CFLAGS) -MMD -c $< -o $@
$(BUILD)/unit/%: tests/unit/%.c $(UNIT_OBJS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(UNIT_CFLAGS) -MMD $< $(UNIT_OBJS) -lcmocka -o $@

# The migration stream over lwIP's own TCP: lwIP compiled hosted for that one test (its
# sources are not ours to hold to our warnings; ssize_t as the C library has it, where
# lwIP would make it an int).
UNIT_LWIP_INC := $(LWIP_INC) -DSSIZE_MAX=LONG_MAX
UNIT_LWIP_OBJS := $(patsubst $(LWIP)/%.c,$(BUILD)/unit/lwip/%.o,$(LWIP_SRCS))
.SECONDARY: $(UNIT_LWIP_OBJS)
$(BUILD)/unit/lwip/%.o: $(LWIP)/%.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(filter-out -Werror -Wall -Wextra,$(UNIT_CFLAGS)) -w \
		$(UNIT_LWIP_INC) -MMD -c $< -o $@
$(BUILD)/unit/test_stream: tests/unit/test_stream.c $(UNIT_OBJS) $(UNIT_LWIP_OBJS) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(UNIT_CFLAGS) $(UNIT_LWIP_INC) -MMD $< $(UNIT_OBJS) \
		$(UNIT_LWIP_OBJS) -lcmocka -o $@

# The system tests' TLS-PSK client and server (tools/tls_pipe.c), linked with tls/ and mbedTLS
# as the unit tests compile them hosted.
TLS_PIPE_SRCS := $(TLS_SRCS) $(MBEDTLS_SRCS) $(EVEREST_SRCS) hv/lib/fmt.c hv/lib/strlcpy.c hv/lib/error.c
$(BUILD)/tern-tls-pipe: tools/tls_pipe.c $(patsubst %.c,$(BUILD)/unit/obj/%.o,$(TLS_PIPE_SRCS))
	@echo "  CC      $@"; $(CC) $(UNIT_CFLAGS) $^ -o $@

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# The migration stream's decoder under libFuzzer (clang), seeded with valid frames of
# every type written by the encoder. A fixed number of runs, capped at a minute; any
# crash, sanitizer report or broken round trip fails, its input kept in $(FUZZ)/.
FUZZ := $(BUILD)/fuzz
FUZZ_SRCS := migrate/wire.c migrate/xbzrle.c hv/lib/fmt.c hv/lib/strlcpy.c
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I. \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUNS := 200000

$(FUZZ)/fuzz_wire: tests/fuzz/fuzz_wire.c $(FUZZ_SRCS) $(wildcard hv/*.h hv/lib/*.h migrate/*.h) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CLANG   $@"; clang $(FUZZ_CFLAGS) $< $(FUZZ_SRCS) -o $@
$(FUZZ)/mkseed: tests/fuzz/mkseed.c $(FUZZ_SRCS) $(wildcard hv/*.h hv/lib/*.h migrate/*.h) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(UNIT_CFLAGS) $< $(FUZZ_SRCS) -o $@

fuzz: $(FUZZ)/fuzz_wire $(FUZZ)/mkseed
	@rm -rf $(FUZZ)/seed $(FUZZ)/corpus && mkdir -p $(FUZZ)/seed $(FUZZ)/corpus
	$(FUZZ)/mkseed $(FUZZ)/seed
	$(FUZZ)/fuzz_wire -runs=$(FUZZ_RUNS) -max_total_time=60 -max_len=8192 \
		-artifact_prefix=$(FUZZ)/ -print_final_stats=1 $(FUZZ)/corpus $(FUZZ)/seed

system: all
	$(PY) -m pytest -v --durations=25 tests/system

# The README's measured figures against the goals they must meet (no emulator).
docs:
	$(PY) -m pytest -q tests/docs

test: all unit fuzz docs system

# Benchmarks print figures (for the README); they are not tests and assert no speed.
bench: all
	@set -e; for b in tests/bench/*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/unit -name '*.d' 2>/dev/null)
