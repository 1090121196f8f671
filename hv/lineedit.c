#include "hv/lib/string.h"
#include "hv/lineedit.h"

enum { ESC_NONE, ESC_START, ESC_CSI };

void le_init(struct lineedit *le)
{
	memset(le, 0, sizeof(*le));
	le->bad = -1;
}

static void echo(struct lineedit *le, const char *s)
{
	size_t n = strlen(s);

	if (le->echo_len + n <= sizeof(le->echo)) {
		memcpy(le->echo + le->echo_len, s, n);
		le->echo_len += n;
	}
}

static enum le_result finish(struct lineedit *le)
{
	enum le_result r = le->overflow ? LE_TOO_LONG : le->bad >= 0 ? LE_BAD_BYTE : LE_LINE;

	echo(le, "\n"); /* the console sends \r\n */
	le->buf[le->len] = 0;
	le->rejected = le->bad;
	/* Start the next line; buf, rejected and echo stay for the caller to read. */
	le->len = 0;
	le->overflow = false;
	le->bad = -1;
	return r;
}

/* Arrow keys and the like arrive as ESC [ ... final-byte: skip them quietly. */
static bool skip_escape(struct lineedit *le, uint8_t c)
{
	switch (le->esc) {
	case ESC_START:
		le->esc = c == '[' ? ESC_CSI : ESC_NONE;
		return true;
	case ESC_CSI:
		if (c >= 0x40 && c <= 0x7e)
			le->esc = ESC_NONE;
		return true;
	default:
		if (c == 0x1b) {
			le->esc = ESC_START;
			return true;
		}
		return false;
	}
}

enum le_result le_feed(struct lineedit *le, uint8_t c)
{
	bool after_cr = le->last_cr;

	le->echo_len = 0;
	le->last_cr = c == '\r';
	if (c == '\n' && after_cr)
		return LE_MORE;
	if (c == '\r' || c == '\n') {
		le->esc = ESC_NONE;
		return finish(le);
	}
	if (skip_escape(le, c))
		return LE_MORE;
	if (c == 0x08 || c == 0x7f) {
		if (le->len && !le->overflow) {
			le->len--;
			echo(le, "\b \b");
		}
		return LE_MORE;
	}
	if (c == '\t')
		c = ' ';
	if (c < 0x20 || c > 0x7e) {
		if (le->bad < 0)
			le->bad = c;
		return LE_MORE;
	}
	if (le->len == LINE_MAX) {
		le->overflow = true;
		return LE_MORE;
	}
	le->buf[le->len++] = (char)c;
	if (le->bad < 0 && !le->overflow) {
		char s[2] = { (char)c, 0 };
		echo(le, s);
	}
	return LE_MORE;
}
