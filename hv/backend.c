#include "hv/backend.h"
#include "hv/error.h"
#include "hv/x86.h"
#include "vmx/vmx.h"

static const struct hv_backend *backend = &vmx_backend;
static struct hv_caps caps;
static bool enabled;

/* One backend per vendor; AMD-V joins vmx here with its own probe. */
void hv_backend_init(void)
{
	backend = &vmx_backend;
	backend->probe(&caps);
}

const struct hv_backend *hv_backend(void)
{
	return backend;
}

const struct hv_caps *hv_caps(void)
{
	return &caps;
}

int hv_enable(const char **why)
{
	int e;

	if (enabled)
		return 0;
	e = backend->enable(why);
	enabled = !e;
	return e;
}

bool hv_enabled(void)
{
	return enabled;
}
