#include "hv/cmdline.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/vm_args.h"
#include "hv/vmstate.h"

bool vm_name_valid(const char *name)
{
	size_t n = strlen(name);
	bool digits = true;

	if (n == 0 || n >= VM_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.';
		if (!ok)
			return false;
		digits &= *p >= '0' && *p <= '9';
	}
	return !digits;
}

/* A module's name as a record carries it: 1..VM_NAME_MAX-1 visible characters. */
static bool module_name_ok(const char *s, bool may_be_empty)
{
	size_t n = strnlen(s, VM_NAME_MAX);

	if (n == VM_NAME_MAX || (!n && !may_be_empty))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* The strings end inside their arrays and hold only what the monitor could have given
 * (a peer's record reaches a guest's command line and tern's messages); unused module
 * slots and an unused command line are empty. */
static bool boot_check(const void *rec, char *err, size_t err_size)
{
	const struct vm_boot *b = rec;
	size_t n = strnlen(b->args, sizeof(b->args));

	if (n == sizeof(b->args) || (!b->has_args && n)) {
		fmt_snprintf(err, err_size, "boot: args %s", n == sizeof(b->args) ?
			     "not terminated" : "given while has_args is 0");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (b->args[i] < ' ' || b->args[i] > '~') {
			fmt_snprintf(err, err_size, "boot: args[%zu] = 0x%02x, not printable", i,
				     (unsigned)(uint8_t)b->args[i]);
			return false;
		}
	}
	for (unsigned i = 0; i < ARRAY_SIZE(b->mods); i++) {
		if (!module_name_ok(b->mods[i], i >= b->nr_mods) ||
		    (i >= b->nr_mods && b->mods[i][0])) {
			fmt_snprintf(err, err_size, "boot: mods[%u] is not a module name%s", i,
				     i >= b->nr_mods ? " or not empty past nr_mods" : "");
			return false;
		}
	}
	if (!module_name_ok(b->initrd, true)) {
		fmt_snprintf(err, err_size, "boot: initrd is not a module name");
		return false;
	}
	if (b->initrd[0] && b->nr_mods) {
		fmt_snprintf(err, err_size, "boot: an initrd beside Multiboot modules");
		return false;
	}
	return true;
}

static const struct vms_field boot_fields[] = {
	VMS_BYTES(struct vm_boot, args),
	VMS_BYTES(struct vm_boot, mods),
	VMS_BYTES(struct vm_boot, initrd),
	VMS_FIELD(struct vm_boot, has_args, 1),
	VMS_FIELD(struct vm_boot, nr_mods, 8),
};

const struct vms_desc vm_boot_vms = {
	.name = "boot",
	.version = 1,
	.size = sizeof(struct vm_boot),
	.fields = boot_fields,
	.nr_fields = ARRAY_SIZE(boot_fields),
	.check = boot_check,
};

static int fail(char *err, size_t size, const char *fmt, const char *arg)
{
	fmt_snprintf(err, size, fmt, arg);
	return -E_INVAL;
}

/* "0,1,...": up to VM_VCPUS_MAX host CPU numbers; -1 if malformed */
static int parse_pin(const char *s, struct vm_start_args *a)
{
	char num[8];

	a->npin = 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		uint64_t cpu;

		if (n == 0 || n >= sizeof(num) || a->npin == VM_VCPUS_MAX)
			return -1;
		memcpy(num, s, n);
		num[n] = 0;
		if (!parse_u64(num, &cpu) || cpu >= PCPU_MAX)
			return -1;
		a->pin[a->npin++] = (uint8_t)cpu;
		s += n;
		if (*s == ',' && !*++s)
			return -1; /* a trailing comma */
	}
	return a->npin ? 0 : -1;
}

int vm_parse_start(int argc, char **argv, struct vm_start_args *a, char *cmdline_buf,
		   size_t cmdline_size, char *err, size_t err_size)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->mem_mib = VM_DEFAULT_MEM_MIB;
	a->cpu = -1;
	a->vcpus = 1;
	if (argc < 1 || strcmp(argv[0], "--") == 0)
		return fail(err, err_size, "usage: vm start <image> [mem=MiB] [name=NAME] "
				"[mod=IMAGE ...] [initrd=IMAGE] [cpu=N] [cpus=N] [pin=N,...] "
				"[-- guest command line]%s",
			    "");
	a->image = argv[0];
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *w = argv[i];
		if (strncmp(w, "mem=", 4) == 0) {
			if (!parse_u64(w + 4, &a->mem_mib) || a->mem_mib < 2 ||
			    a->mem_mib > VM_MAX_MEM_MIB)
				return fail(err, err_size,
					    "bad mem= value '%s': give MiB, from 2 to 65536", w + 4);
		} else if (strncmp(w, "name=", 5) == 0) {
			if (!vm_name_valid(w + 5))
				return fail(err, err_size,
					    "bad name '%s': use letters, digits, '_', '-', '.' "
					    "(not only digits; at most 31)", w + 5);
			a->name = w + 5;
		} else if (strncmp(w, "mod=", 4) == 0) {
			if (a->nr_mods == ARRAY_SIZE(a->mods))
				return fail(err, err_size, "too many modules (at most 8)%s", "");
			if (!w[4])
				return fail(err, err_size, "mod= needs an image name%s", "");
			a->mods[a->nr_mods++] = w + 4;
		} else if (strncmp(w, "initrd=", 7) == 0) {
			if (!w[7])
				return fail(err, err_size, "initrd= needs an image name%s", "");
			if (a->initrd)
				return fail(err, err_size, "one initrd= only%s", "");
			a->initrd = w + 7;
		} else if (strncmp(w, "cpus=", 5) == 0) {
			uint64_t n;
			if (!parse_u64(w + 5, &n) || n < 1 || n > VM_VCPUS_MAX)
				return fail(err, err_size, "bad cpus= value '%s': give the VM's "
					    "vCPUs, from 1 to 8", w + 5);
			a->vcpus = (unsigned)n;
		} else if (strncmp(w, "pin=", 4) == 0) {
			if (parse_pin(w + 4, a))
				return fail(err, err_size, "bad pin= value '%s': give host CPU "
					    "numbers (info cpu), one for each vCPU, as pin=0,1",
					    w + 4);
		} else if (strncmp(w, "cpu=", 4) == 0) {
			uint64_t n;
			if (!parse_u64(w + 4, &n) || n >= VM_CPU_LIMIT)
				return fail(err, err_size, "bad cpu= value '%s': give a host CPU's "
					    "number (info cpu)", w + 4);
			a->cpu = (int)n;
		} else {
			return fail(err, err_size,
				    "unknown argument '%s' (mem=, name=, mod=, initrd=, cpu=, cpus=, "
				    "pin=, or -- before the guest's command line)", w);
		}
	}
	if (a->npin && a->cpu >= 0)
		return fail(err, err_size, "cpu= puts every vCPU on one CPU, pin= each on its "
			    "own: give one of them%s", "");
	if (a->npin > a->vcpus) {
		fmt_snprintf(err, err_size, "pin= names %u CPUs for %u vCPU(s) (cpus=)",
			     a->npin, a->vcpus);
		return -E_INVAL;
	}
	if (i < argc) { /* "--": the rest, joined, is the guest's command line */
		cmdline_buf[0] = 0;
		for (i++; i < argc; i++) {
			size_t len = strlen(cmdline_buf);
			if (len + strlen(argv[i]) + 2 > cmdline_size)
				return fail(err, err_size, "guest command line too long%s", "");
			if (len)
				cmdline_buf[len++] = ' ';
			strlcpy(cmdline_buf + len, argv[i], cmdline_size - len);
		}
		a->cmdline = cmdline_buf;
	}
	return 0;
}
