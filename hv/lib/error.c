#include "hv/error.h"

static const char *const names[] = {
	[E_OK] = "ok",
	[E_NOMEM] = "out of memory",
	[E_INVAL] = "invalid argument",
	[E_NOENT] = "not found",
	[E_RANGE] = "out of range",
	[E_NOSUP] = "not supported",
	[E_BUSY] = "busy",
	[E_IO] = "I/O error",
	[E_EXIST] = "already exists",
	[E_FORMAT] = "bad format",
	[E_FAULT] = "guest fault",
	[E_AUTH] = "not authenticated",
};

const char *error_str(int err)
{
	if (err < 0)
		err = -err;
	if ((unsigned)err < sizeof(names) / sizeof(names[0]) && names[err])
		return names[err];
	return "unknown error";
}
