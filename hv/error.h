/* Errors are negative values returned up the stack and reported once, with context,
 * where they can be acted on. trace_error() records where an error was born. */
#ifndef TERN_ERROR_H
#define TERN_ERROR_H

enum {
	E_OK = 0,
	E_NOMEM = 1,  /* out of memory */
	E_INVAL = 2,  /* bad argument or input */
	E_NOENT = 3,  /* no such object */
	E_RANGE = 4,  /* value out of range */
	E_NOSUP = 5,  /* not supported by this CPU or platform */
	E_BUSY = 6,   /* object in a state that forbids the request */
	E_IO = 7,     /* device or hardware failure */
	E_EXIST = 8,  /* already exists */
	E_FORMAT = 9, /* malformed image or message */
	E_FAULT = 10, /* the guest's access faults: the CPU would raise an exception */
	E_AUTH = 11,  /* not authenticated: another key, or data altered on the way */
};

const char *error_str(int err);

#endif
