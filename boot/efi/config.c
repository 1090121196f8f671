#include "boot/efi/config.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool has_nul(const char *s, size_t n)
{
	while (n--)
		if (!*s++)
			return true;
	return false;
}

void efi_config_append(char *cmdline, size_t size, const char *words)
{
	size_t len = strlen(cmdline);

	while (blank(*words))
		words++;
	if (!*words)
		return;
	if (len && len + 1 < size)
		cmdline[len++] = ' ';
	strlcpy(cmdline + len, words, size - len);
}

static void note(struct efi_config *cfg, unsigned lineno, const char *what)
{
	if (!cfg->error[0])
		fmt_snprintf(cfg->error, sizeof(cfg->error), "tern.cfg line %u: %s", lineno, what);
}

static void parse_line(struct efi_config *cfg, char *line, unsigned lineno)
{
	char *word, *rest;

	while (blank(*line))
		line++;
	for (char *p = line + strlen(line); p > line && blank(p[-1]);)
		*--p = 0;
	if (!*line || *line == '#')
		return;
	word = line;
	for (rest = line; *rest && !blank(*rest); rest++)
		;
	if (*rest)
		*rest++ = 0;
	while (blank(*rest))
		rest++;
	if (strcmp(word, "cmdline") == 0) {
		efi_config_append(cfg->cmdline, sizeof(cfg->cmdline), rest);
	} else if (strcmp(word, "module") == 0) {
		struct efi_config_module *m;
		char *args = rest;
		if (!*rest)
			return note(cfg, lineno, "module needs a path");
		if (cfg->nr_modules == BOOT_MAX_MODULES)
			return note(cfg, lineno, "too many modules");
		while (*args && !blank(*args))
			args++;
		if (*args)
			*args++ = 0;
		while (blank(*args))
			args++;
		m = &cfg->modules[cfg->nr_modules];
		if (strlen(rest) >= sizeof(m->path) || strlen(args) >= sizeof(m->args))
			return note(cfg, lineno, "module path or arguments too long");
		strlcpy(m->path, rest, sizeof(m->path));
		strlcpy(m->args, args, sizeof(m->args));
		cfg->nr_modules++;
	} else {
		note(cfg, lineno, "unknown keyword");
	}
}

void efi_config_parse(struct efi_config *cfg, const char *text, size_t len)
{
	char line[512];
	unsigned lineno = 0;
	size_t start = 0;

	memset(cfg, 0, sizeof(*cfg));
	while (start < len) {
		size_t end = start, n;
		while (end < len && text[end] != '\n')
			end++;
		n = end - start;
		lineno++;
		if (n >= sizeof(line)) {
			note(cfg, lineno, "line too long");
		} else if (has_nul(text + start, n)) {
			note(cfg, lineno, "binary data");
		} else {
			memcpy(line, text + start, n);
			line[n] = 0;
			parse_line(cfg, line, lineno);
		}
		start = end + 1;
	}
}
