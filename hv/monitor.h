/* The operator's monitor on the serial console: a table of commands, each with its
 * usage and help, dispatched from whole lines. */
#ifndef TERN_MONITOR_H
#define TERN_MONITOR_H

#include "hv/types.h"

#define MON_MAX_ARGS 32
#define MON_PROMPT "tern> "

struct mon_cmd {
	const char *name;   /* one or two words, e.g. "info mem" */
	const char *usage;  /* arguments, e.g. "<vm>" */
	const char *help;
	/* argv[0] is the first word after the command's name; returns 0 or a negative
	 * error the handler has already reported. */
	int (*run)(int argc, char **argv);
};

/* Splits a line in place into words; returns the count, or -1 when there are more
 * than max. */
int mon_split(char *line, char **argv, int max);
/* Finds the command a line names and runs it; prints the error for unknown ones.
 * Returns the handler's result, or a negative error. */
int mon_exec(const struct mon_cmd *table, size_t n, char *line);
void mon_help(const struct mon_cmd *table, size_t n);

/* The host's monitor (hv/mon_cmds.c). */
void monitor_init(void);
void monitor_poll(void);
/* Prints a line that did not come from a command (a guest's output, a VM's end)
 * without mangling what the operator is typing: the prompt and the partial input are
 * drawn again after it. */
/* On any CPU: another CPU's events queue (EVENT_RING lines a CPU, the excess counted
 * and dropped) until CPU 0 prints them with mon_drain_events(). */
void mon_event(const char *fmt, ...) __printf(1, 2);
void mon_drain_events(void);
void mon_guest_line(int vm_id, const char *text);

/* The operator's console goes to something else (a guest's UART) byte by byte until it
 * types MON_ESCAPE (Ctrl-]), or until mon_detach(); then the prompt comes back. */
#define MON_ESCAPE 0x1d
void mon_attach(void (*input)(void *ctx, uint8_t byte), void (*detached)(void *ctx), void *ctx);
void mon_detach(void);
bool mon_attached_to(const void *ctx);

#endif
