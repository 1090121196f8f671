/* The UEFI loader (the main boot path): reads tern.cfg and the load options, loads the
 * guest images from the ESP, takes the memory map, leaves boot services and calls
 * hv_main. After ExitBootServices no firmware service is used. */
#include <efi.h>
#include "boot/efi/config.h"
#include "hv/ap_start.h"
#include "hv/boot.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

#define STACK_SIZE (64 * 1024)

static EFI_SYSTEM_TABLE *st;
static EFI_BOOT_SERVICES *bs;
static struct boot_info bi;
static struct efi_config cfg;

static void say(const char *fmt, ...)
{
	char buf[256];
	CHAR16 wide[258];
	va_list ap;
	size_t i = 0;

	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (const char *p = buf; *p && i < ARRAY_SIZE(wide) - 2; p++) {
		if (*p == '\n')
			wide[i++] = L'\r';
		wide[i++] = (CHAR16)(unsigned char)*p;
	}
	wide[i] = 0;
	st->ConOut->OutputString(st->ConOut, wide);
}

/* Loader problems are both shown on the firmware console and kept for tern to print on
 * its own console, where the operator looks. */
static void note(const char *msg)
{
	say("tern: %s\n", msg);
	efi_config_append(bi.notes, sizeof(bi.notes), msg);
	efi_config_append(bi.notes, sizeof(bi.notes), ";");
}

static void to_wide_path(CHAR16 *out, size_t n, const char *path)
{
	size_t i = 0;

	for (; *path && i + 1 < n; path++)
		out[i++] = *path == '/' ? L'\\' : (CHAR16)(unsigned char)*path;
	out[i] = 0;
}

/* Reads a whole file into pages of LoaderData (which the boot map reports as in use). */
static EFI_STATUS read_file(EFI_FILE_HANDLE root, const char *path, uint64_t *base,
			    uint64_t *size)
{
	EFI_GUID info_id = EFI_FILE_INFO_ID;
	EFI_FILE_HANDLE f;
	CHAR16 wpath[128];
	union {
		EFI_FILE_INFO info;
		uint8_t raw[sizeof(EFI_FILE_INFO) + 512];
	} u;
	UINTN len = sizeof(u);
	EFI_PHYSICAL_ADDRESS pa;
	EFI_STATUS s;

	to_wide_path(wpath, ARRAY_SIZE(wpath), path);
	s = root->Open(root, &f, wpath, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(s))
		return s;
	s = f->GetInfo(f, &info_id, &len, &u.info);
	if (!EFI_ERROR(s)) {
		len = u.info.FileSize;
		s = bs->AllocatePages(AllocateAnyPages, EfiLoaderData,
				      EFI_SIZE_TO_PAGES(len ? len : 1), &pa);
	}
	if (!EFI_ERROR(s))
		s = f->Read(f, &len, (void *)(uintptr_t)pa);
	if (!EFI_ERROR(s) && len != u.info.FileSize)
		s = EFI_END_OF_FILE;
	f->Close(f);
	if (!EFI_ERROR(s)) {
		*base = pa;
		*size = len;
	}
	return s;
}

static EFI_FILE_HANDLE open_esp(EFI_HANDLE image)
{
	EFI_GUID lip_id = EFI_LOADED_IMAGE_PROTOCOL_GUID, fs_id = SIMPLE_FILE_SYSTEM_PROTOCOL;
	EFI_LOADED_IMAGE *li;
	EFI_FILE_IO_INTERFACE *fs;
	EFI_FILE_HANDLE root;

	if (EFI_ERROR(bs->HandleProtocol(image, &lip_id, (void **)&li)) ||
	    EFI_ERROR(bs->HandleProtocol(li->DeviceHandle, &fs_id, (void **)&fs)) ||
	    EFI_ERROR(fs->OpenVolume(fs, &root)))
		return NULL;
	return root;
}

/* Options given to the image (from the UEFI shell or a boot entry): UCS-2 text. The
 * shell passes the image's own name first; boot entries may pass binary data. */
static void add_load_options(EFI_HANDLE image)
{
	EFI_GUID lip_id = EFI_LOADED_IMAGE_PROTOCOL_GUID;
	EFI_LOADED_IMAGE *li;
	char text[BOOT_CMDLINE_MAX], *p = text;
	size_t n, i;

	if (EFI_ERROR(bs->HandleProtocol(image, &lip_id, (void **)&li)) || !li->LoadOptions)
		return;
	n = li->LoadOptionsSize / sizeof(CHAR16);
	for (i = 0; i < n && i + 1 < sizeof(text); i++) {
		CHAR16 c = ((CHAR16 *)li->LoadOptions)[i];
		if (!c)
			break;
		if (c < 0x20 || c > 0x7e)
			return; /* not text: ignore it all */
		text[i] = (char)c;
	}
	text[i] = 0;
	while (*p == ' ')
		p++;
	char *first_end = strchr(p, ' ');
	size_t first_len = first_end ? (size_t)(first_end - p) : strlen(p);
	if (first_len >= 4 && (strncmp(p + first_len - 4, ".efi", 4) == 0 ||
			       strncmp(p + first_len - 4, ".EFI", 4) == 0))
		p += first_len;
	efi_config_append(bi.cmdline, sizeof(bi.cmdline), p);
}

static void load_config(EFI_FILE_HANDLE root)
{
	uint64_t base, size;
	char msg[160];

	if (EFI_ERROR(read_file(root, "\\tern.cfg", &base, &size)))
		return; /* no config file: defaults */
	efi_config_parse(&cfg, (const char *)(uintptr_t)base, size);
	bs->FreePages(base, EFI_SIZE_TO_PAGES(size ? size : 1));
	if (cfg.error[0])
		note(cfg.error);
	strlcpy(bi.cmdline, cfg.cmdline, sizeof(bi.cmdline));
	for (unsigned i = 0; i < cfg.nr_modules; i++) {
		struct boot_module *m = &bi.modules[bi.nr_modules];
		EFI_STATUS s = read_file(root, cfg.modules[i].path, &m->base, &m->size);
		if (EFI_ERROR(s)) {
			fmt_snprintf(msg, sizeof(msg), "cannot load module %s (EFI status %lld)",
				     cfg.modules[i].path, (long long)(s & ~EFI_ERROR_MASK));
			note(msg);
			continue;
		}
		boot_module_name(m->name, sizeof(m->name), cfg.modules[i].path);
		strlcpy(m->args, cfg.modules[i].args, sizeof(m->args));
		bi.nr_modules++;
	}
}

static uint64_t find_rsdp(void)
{
	EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
	uint64_t old = 0;

	for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
		if (memcmp(&t->VendorGuid, &acpi20, sizeof(EFI_GUID)) == 0)
			return (uintptr_t)t->VendorTable;
		if (memcmp(&t->VendorGuid, &acpi10, sizeof(EFI_GUID)) == 0)
			old = (uintptr_t)t->VendorTable;
	}
	return old;
}

static uint32_t mem_type(UINT32 efi_type)
{
	switch (efi_type) {
	case EfiConventionalMemory:
		return BOOT_MEM_USABLE;
	case EfiBootServicesCode:
	case EfiBootServicesData:
		return BOOT_MEM_RECLAIM;
	case EfiLoaderCode:
	case EfiLoaderData:
		return BOOT_MEM_LOADED;
	case EfiACPIReclaimMemory:
	case EfiACPIMemoryNVS:
		return BOOT_MEM_ACPI;
	default:
		return BOOT_MEM_RESERVED;
	}
}

/* The start pages of the other CPUs must lie below 1 MiB (SIPI vectors are page
 * numbers): taken from the firmware while it still hands out memory, as LoaderData so
 * that the map tern gets shows them in use. Below 640 KiB, clear of ROM and video. */
static void reserve_ap_start(void)
{
	EFI_PHYSICAL_ADDRESS pa = 0xa0000 - 1;

	if (EFI_ERROR(bs->AllocatePages(AllocateMaxAddress, EfiLoaderData, AP_START_PAGES, &pa))) {
		note("no free memory below 640 KiB: the other CPUs cannot be started");
		return;
	}
	bi.ap_start = pa;
	boot_add_used(&bi, pa, AP_START_PAGES * PAGE_SIZE);
}

/* EFI_MP_SERVICES_PROTOCOL (UEFI PI specification 1.7, Vol. 2, 13.4): its first two
 * functions, to list the processors where the firmware gives no ACPI MADT. */
#define MP_SERVICES_GUID                                                                \
	{                                                                               \
		0x3fdda605, 0xa76e, 0x4f46, { 0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08 } \
	}
#define MP_PROC_ENABLED (1u << 1)

struct mp_proc_info {
	UINT64 ProcessorId; /* the local APIC ID */
	UINT32 StatusFlag;
	UINT32 Package, Core, Thread;
	UINT8 extended[24]; /* filled only when asked for; room in case a firmware does */
};

struct mp_services {
	EFI_STATUS(EFIAPI *GetNumberOfProcessors)(struct mp_services *self, UINTN *n,
						  UINTN *enabled);
	EFI_STATUS(EFIAPI *GetProcessorInfo)(struct mp_services *self, UINTN i,
					     struct mp_proc_info *info);
};

static void list_cpus(void)
{
	EFI_GUID id = MP_SERVICES_GUID;
	struct mp_services *mp;
	UINTN n, enabled;

	if (EFI_ERROR(bs->LocateProtocol(&id, NULL, (void **)&mp)) ||
	    EFI_ERROR(mp->GetNumberOfProcessors(mp, &n, &enabled)))
		return;
	for (UINTN i = 0; i < n && bi.nr_cpus < BOOT_MAX_CPUS; i++) {
		struct mp_proc_info info;
		if (!EFI_ERROR(mp->GetProcessorInfo(mp, i, &info)) &&
		    (info.StatusFlag & MP_PROC_ENABLED))
			bi.cpu_apic_id[bi.nr_cpus++] = (uint32_t)info.ProcessorId;
	}
}

static __noreturn void enter_hv(uint64_t stack_top)
{
	asm volatile("movq %0, %%rsp\n\t"
		     "xorl %%ebp, %%ebp\n\t"
		     "call *%2"
		     :
		     : "r"(stack_top), "D"(&bi), "r"(hv_main)
		     : "memory");
	__builtin_unreachable();
}

/* Called by gnu-efi's crt0 with the System V convention, after _relocate. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_MEMORY_DESCRIPTOR *map;
	UINTN map_size = 0, key, desc_size;
	UINT32 desc_ver;
	EFI_PHYSICAL_ADDRESS stack;
	EFI_FILE_HANDLE root;
	EFI_STATUS s;

	st = systab;
	bs = systab->BootServices;
	bs->SetWatchdogTimer(0, 0, 0, NULL);
	bi.loader = BOOT_LOADER_UEFI;
	root = open_esp(image);
	if (root)
		load_config(root);
	else
		note("cannot open the boot partition: no tern.cfg, no modules");
	add_load_options(image);
	bi.rsdp = find_rsdp();
	reserve_ap_start();
	list_cpus();
	if (EFI_ERROR(bs->AllocatePages(AllocateAnyPages, EfiLoaderData,
					EFI_SIZE_TO_PAGES(STACK_SIZE), &stack))) {
		say("tern: out of memory for the stack\n");
		return EFI_OUT_OF_RESOURCES;
	}
	/* The map grows by the allocation that holds it: leave room for a few entries. */
	bs->GetMemoryMap(&map_size, NULL, &key, &desc_size, &desc_ver);
	map_size += 16 * desc_size;
	if (EFI_ERROR(bs->AllocatePool(EfiLoaderData, map_size, (void **)&map))) {
		say("tern: out of memory for the memory map\n");
		return EFI_OUT_OF_RESOURCES;
	}
	for (int tries = 0;; tries++) {
		UINTN size = map_size;
		s = bs->GetMemoryMap(&size, map, &key, &desc_size, &desc_ver);
		if (!EFI_ERROR(s))
			s = bs->ExitBootServices(image, key);
		if (!EFI_ERROR(s)) {
			map_size = size;
			break;
		}
		if (tries == 3) {
			say("tern: ExitBootServices failed (status %lld)\n",
			    (long long)(s & ~EFI_ERROR_MASK));
			return s;
		}
	}
	/* Boot services are gone: from here on, plain memory only. */
	for (UINTN off = 0; off + desc_size <= map_size; off += desc_size) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((uint8_t *)map + off);
		boot_add_mem(&bi, d->PhysicalStart, d->NumberOfPages * PAGE_SIZE,
			     mem_type(d->Type));
	}
	enter_hv(stack + STACK_SIZE);
}
