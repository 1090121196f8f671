/* The monitor's line discipline: bytes from the serial console in, whole lines out.
 * Backspace edits; overlong lines, control characters and non-ASCII bytes make the line
 * rejected at Enter, without ever writing past the buffer. Pure; tested hosted. */
#ifndef TERN_LINEEDIT_H
#define TERN_LINEEDIT_H

#include "hv/types.h"

#define LINE_MAX 256

enum le_result {
	LE_MORE,      /* keep feeding */
	LE_LINE,      /* a line is ready in le->buf */
	LE_TOO_LONG,  /* Enter on a line that overflowed */
	LE_BAD_BYTE,  /* Enter on a line that held a control or non-ASCII byte */
};

struct lineedit {
	char buf[LINE_MAX + 1];
	size_t len;
	bool overflow;
	int bad;          /* first offending byte of the line being typed, or -1 */
	int rejected;     /* after LE_BAD_BYTE: the byte that made the line rejected */
	bool last_cr;     /* swallow the \n of a \r\n pair */
	int esc;          /* 0, or the state of an ANSI escape sequence being skipped */
	/* Echo for the terminal: filled by le_feed, consumed by the caller. */
	char echo[8];
	size_t echo_len;
};

void le_init(struct lineedit *le);
/* Feeds one byte. After LE_LINE the line is in le->buf; the next le_feed starts a new one. */
enum le_result le_feed(struct lineedit *le, uint8_t c);

#endif
