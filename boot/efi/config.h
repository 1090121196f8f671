/* tern.cfg on the EFI system partition. Lines:
 *   # comment
 *   cmdline <words for tern's command line>     (several lines add up)
 *   module <path on the ESP> [arguments]        (one per guest image, in order)
 * Pure; tested hosted. */
#ifndef TERN_EFI_CONFIG_H
#define TERN_EFI_CONFIG_H

#include "hv/boot.h"

struct efi_config_module {
	char path[128];
	char args[256];
};

struct efi_config {
	char cmdline[BOOT_CMDLINE_MAX];
	unsigned nr_modules;
	struct efi_config_module modules[BOOT_MAX_MODULES];
	char error[128]; /* the first problem found, for the operator; "" when none */
};

/* Parses len bytes of text; problems are noted in cfg->error and the line skipped. */
void efi_config_parse(struct efi_config *cfg, const char *text, size_t len);
/* Appends words to a command line, with a space, truncating at the buffer's end. */
void efi_config_append(char *cmdline, size_t size, const char *words);

#endif
