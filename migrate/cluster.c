/* The cluster key's options (migrate/cluster.h). */
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "migrate/cluster.h"

/* 64 digits and a line end or two; anything longer is not a key file. */
#define KEY_FILE_MAX 128

static struct cluster_cfg self; /* this host's, set once at boot */

static const char *const mode_names[] = {
	[CLUSTER_NONE] = "none",
	[CLUSTER_KEYED] = "keyed",
	[CLUSTER_INSECURE] = "insecure",
};

const char *cluster_mode_name(enum cluster_mode m)
{
	return mode_names[m];
}

static const char *key_error(int e)
{
	return e == -E_RANGE ? "is not 64 hex digits long"
			     : "holds a character that is not a hex digit";
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The key file's text without its trailing white space, into hex (KEY_FILE_MAX + 1 bytes). */
static int read_key_file(const char *name, cluster_find_file find, char *hex)
{
	size_t len = 0;
	const char *data = find ? find(name, &len) : NULL;

	if (!data)
		return -E_NOENT;
	while (len && is_blank(data[len - 1]))
		len--;
	if (len > KEY_FILE_MAX)
		return -E_RANGE;
	memcpy(hex, data, len);
	hex[len] = 0;
	return 0;
}

/* The key from key= or key-file=: 0, -E_NOENT when neither was given, else an error with
 * c->note set (a key file that is not there is such an error too). */
static int read_key(struct cluster_cfg *c, const char *cmdline, cluster_find_file find)
{
	char hex[KEY_FILE_MAX + 1], name[64];
	bool inline_key = cmdline_get(cmdline, "key", hex, sizeof(hex));
	bool file = cmdline_get(cmdline, "key-file", name, sizeof(name));
	int e;

	if (!inline_key && !file)
		return -E_NOENT;
	if (inline_key && file) {
		fmt_snprintf(c->note, sizeof(c->note), "both key= and key-file= given");
		e = -E_INVAL;
	} else if (inline_key) {
		e = tls_key_parse(&c->key, hex);
		if (e)
			fmt_snprintf(c->note, sizeof(c->note), "key= %s", key_error(e));
	} else if (read_key_file(name, find, hex)) {
		fmt_snprintf(c->note, sizeof(c->note), "key-file=%s: no such boot module, or "
			     "longer than a key", name);
		e = -E_NOENT;
	} else {
		e = tls_key_parse(&c->key, hex);
		if (e)
			fmt_snprintf(c->note, sizeof(c->note), "key-file=%s %s", name,
				     key_error(e));
	}
	memset(hex, 0, sizeof(hex));
	return e;
}

static bool insecure_on(struct cluster_cfg *c, const char *cmdline)
{
	char v[8];

	if (!cmdline_get(cmdline, "insecure-migration", v, sizeof(v)))
		return false;
	if (strcmp(v, "on") == 0)
		return true;
	if (strcmp(v, "off") != 0 && !c->note[0])
		fmt_snprintf(c->note, sizeof(c->note), "insecure-migration=%s is not on or off; "
			     "taken as off", v);
	return false;
}

void cluster_parse(struct cluster_cfg *c, const char *cmdline, cluster_find_file find)
{
	int e;
	bool insecure;

	memset(c, 0, sizeof(*c));
	e = read_key(c, cmdline, find);
	insecure = insecure_on(c, cmdline);
	if (e == 0) {
		c->mode = CLUSTER_KEYED;
		if (insecure)
			fmt_snprintf(c->note, sizeof(c->note), "insecure-migration=on ignored: a "
				     "key is set");
		return;
	}
	tls_key_wipe(&c->key);
	c->mode = insecure ? CLUSTER_INSECURE : CLUSTER_NONE;
}

void cluster_use(const struct cluster_cfg *c)
{
	self = *c;
}

enum cluster_mode cluster_mode(void)
{
	return self.mode;
}

const struct tls_key *cluster_key(void)
{
	return self.mode == CLUSTER_KEYED ? &self.key : NULL;
}

bool cluster_check(void)
{
	if (self.mode != CLUSTER_NONE)
		return true;
	kprintf("error: %s\n", CLUSTER_NO_KEY);
	return false;
}

void cluster_print(void)
{
	kprintf("key: %s\n", self.mode == CLUSTER_KEYED ? "set" : "none");
	kprintf("insecure-migration: %s\n", self.mode == CLUSTER_INSECURE ? "on" : "off");
}
