/* The APIC virtualization tern uses: what the CPU offers, less what apicv= forbids. */
#include "hv/apicv.h"
#include "hv/cmdline.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

enum apicv_mode { APICV_OFF, APICV_TPR, APICV_ON };

static struct hv_apicv chosen;

static enum apicv_mode mode_of(const char *cmdline, const char **warning)
{
	char val[8];

	*warning = NULL;
	if (!cmdline || !cmdline_get(cmdline, "apicv", val, sizeof(val)) || !strcmp(val, "on"))
		return APICV_ON;
	if (!strcmp(val, "off"))
		return APICV_OFF;
	if (!strcmp(val, "tpr"))
		return APICV_TPR;
	*warning = "apicv= is none of on, tpr, off; taken as on";
	return APICV_ON;
}

void hv_apicv_choose(const struct hv_caps *caps, const char *cmdline, struct hv_apicv *out,
		     const char **warning)
{
	enum apicv_mode m = mode_of(cmdline, warning);

	*out = (struct hv_apicv){ 0 };
	if (m == APICV_OFF) {
		out->why = "apicv=off";
		return;
	}
	if (!caps->tpr_shadow) { /* every other feature works through the TPR shadow */
		out->why = "the CPU has no TPR shadow";
		return;
	}
	out->tpr_shadow = true;
	if (m == APICV_TPR) {
		out->why = "apicv=tpr";
		return;
	}
	out->reg_virt = caps->apic_reg_virt;
	out->intr_delivery = caps->virt_intr_delivery;
	out->x2apic = caps->x2apic_virt;
}

void hv_apicv_describe(const struct hv_apicv *a, char *buf, size_t size)
{
	static const char *const names[] = { "tpr-shadow", "register virtualization",
					      "virtual-interrupt delivery", "x2apic" };
	const bool on[] = { a->tpr_shadow, a->reg_virt, a->intr_delivery, a->x2apic };
	size_t n;

	if (!a->tpr_shadow) {
		fmt_snprintf(buf, size, "off (%s)", a->why ? a->why : "not offered");
		return;
	}
	n = (size_t)fmt_snprintf(buf, size, "on (");
	for (unsigned i = 0; i < ARRAY_SIZE(names) && n < size; i++)
		if (on[i])
			n += (size_t)fmt_snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
						  names[i]);
	if (n < size && a->why)
		n += (size_t)fmt_snprintf(buf + n, size - n, "; %s", a->why);
	if (n < size)
		fmt_snprintf(buf + n, size - n, ")");
}

void hv_apicv_init(const struct hv_caps *caps, const char *cmdline, const char **warning)
{
	hv_apicv_choose(caps, cmdline, &chosen, warning);
}

const struct hv_apicv *hv_apicv(void)
{
	return &chosen;
}
