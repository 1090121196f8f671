/* Whom this host trusts (issue 16): hosts that hold the cluster key, given as key=<64 hex
 * digits> or key-file=<a boot module holding them> on tern's command line (or tern.cfg's
 * cmdline lines); or anyone, with insecure-migration=on (the plain protocol, for a lab); or,
 * with neither, nobody: such a host neither announces itself, nor believes announcements,
 * nor takes or sends migrations. The parsing is pure and tested hosted. */
#ifndef TERN_MIGRATE_CLUSTER_H
#define TERN_MIGRATE_CLUSTER_H

#include "hv/types.h"
#include "tls/tls.h"

enum cluster_mode { CLUSTER_NONE, CLUSTER_KEYED, CLUSTER_INSECURE };

/* What a keyless host answers `migrate` and `policy on` with (after "error: "). */
#define CLUSTER_NO_KEY "no cluster key (key= on tern's command line, or insecure-migration=on)"

struct cluster_cfg {
	enum cluster_mode mode;
	struct tls_key key; /* CLUSTER_KEYED only; zero otherwise */
	char note[160];     /* a problem with what was given, for the boot console; "" if none */
};

/* A key-file's contents: the boot module named name, or NULL (*len unset). */
typedef const void *(*cluster_find_file)(const char *name, size_t *len);

/* Reads key=, key-file= and insecure-migration=on|off. A key that cannot be used (not 64 hex
 * digits, a key-file not found, or both key= and key-file=) leaves the host keyless, with
 * c->note saying why and never the key; insecure-migration=on beside a good key is noted and
 * ignored. A key file may end in white space (a newline). */
void cluster_parse(struct cluster_cfg *c, const char *cmdline, cluster_find_file find);

/* This host's configuration, once at boot (migrate_init). */
void cluster_use(const struct cluster_cfg *c);
/* This host's mode, and its cluster key (NULL unless keyed). */
enum cluster_mode cluster_mode(void);
const struct tls_key *cluster_key(void);
const char *cluster_mode_name(enum cluster_mode m);
/* For `migrate` and `policy on`: true if this host may migrate; else false, having printed
 * "error: " CLUSTER_NO_KEY. */
bool cluster_check(void);
/* `info net`'s lines: key: set|none, and insecure-migration: on|off (never the key). */
void cluster_print(void);

#endif
