#include "hv/cmdline.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/vm_args.h"

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

static int fail(char *err, size_t size, const char *fmt, const char *arg)
{
	fmt_snprintf(err, size, fmt, arg);
	return -E_INVAL;
}

int vm_parse_start(int argc, char **argv, struct vm_start_args *a, char *cmdline_buf,
		   size_t cmdline_size, char *err, size_t err_size)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->mem_mib = VM_DEFAULT_MEM_MIB;
	if (argc < 1 || strcmp(argv[0], "--") == 0)
		return fail(err, err_size, "usage: vm start <image> [mem=MiB] [name=NAME] "
				"[mod=IMAGE ...] [initrd=IMAGE] [-- guest command line]%s", "");
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
		} else {
			return fail(err, err_size,
				    "unknown argument '%s' (mem=, name=, mod=, initrd=, or -- "
				    "before the guest's command line)", w);
		}
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
