#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"

int mon_split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return argc;
		if (argc == max)
			return -1;
		argv[argc++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
	}
}

/* How many leading words of argv the command's name matches (0 when it does not). */
static int match(const char *name, int argc, char **argv)
{
	int words = 0;

	for (const char *p = name; *p;) {
		size_t len = strchr(p, ' ') ? (size_t)(strchr(p, ' ') - p) : strlen(p);
		if (words == argc || strlen(argv[words]) != len || strncmp(p, argv[words], len))
			return 0;
		words++;
		p += len;
		while (*p == ' ')
			p++;
	}
	return words;
}

int mon_exec(const struct mon_cmd *table, size_t n, char *line)
{
	char *argv[MON_MAX_ARGS];
	int argc = mon_split(line, argv, MON_MAX_ARGS), best = 0;
	const struct mon_cmd *cmd = NULL;

	if (argc < 0) {
		kprintf("error: too many words (at most %d)\n", MON_MAX_ARGS);
		return -E_INVAL;
	}
	if (argc == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int w = match(table[i].name, argc, argv);
		if (w > best) {
			best = w;
			cmd = &table[i];
		}
	}
	if (!cmd) {
		/* "info foo": name both words, so the operator sees which part was wrong */
		bool group = false;
		size_t len = strlen(argv[0]);
		for (size_t i = 0; i < n; i++)
			group |= strncmp(table[i].name, argv[0], len) == 0 && table[i].name[len] == ' ';
		if (group && argc > 1)
			kprintf("error: unknown command '%s %s'\n", argv[0], argv[1]);
		else
			kprintf("error: unknown command '%s'\n", argv[0]);
		return -E_NOENT;
	}
	return cmd->run(argc - best, argv + best);
}

void mon_help(const struct mon_cmd *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char head[64];
		size_t len = strlcpy(head, table[i].name, sizeof(head));
		if (table[i].usage[0] && len + 1 < sizeof(head)) {
			head[len] = ' ';
			strlcpy(head + len + 1, table[i].usage, sizeof(head) - len - 1);
		}
		kprintf("  %-28s %s\n", head, table[i].help);
	}
}
