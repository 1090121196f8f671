#include "hv/vm_id.h"

int vm_id_take(int *next, bool (*held)(int id, void *ctx), void *ctx)
{
	for (;;) {
		int id = *next;

		*next = id >= VM_ID_MAX || id < 1 ? 1 : id + 1;
		if (id >= 1 && !held(id, ctx))
			return id;
	}
}
