/* Which APIC virtualization the backend uses: the part of what the CPU offers (struct
 * hv_caps) that tern's command line allows. Chosen once at boot; every vCPU runs the
 * same path. Pure; tested hosted.
 *
 *   apicv=on   (default) every feature the CPU has
 *   apicv=tpr  the TPR shadow only: CR8 without exits, the rest trapped
 *   apicv=off  the trapping path: every APIC access exits to the local APIC model
 */
#ifndef TERN_APICV_H
#define TERN_APICV_H

#include "hv/backend.h"
#include "hv/types.h"

struct hv_apicv {
	/* CR8 reads and writes go to the TPR in the virtual-APIC page (the model's page)
	 * without exits; the rest below need it. */
	bool tpr_shadow;
	/* xAPIC: the page at the APIC base reads from the virtual-APIC page and writes
	 * there, then exits after the write (APIC-write) for the model to act. */
	bool reg_virt;
	/* The CPU delivers the local APIC's vectors itself (from IRR, through ISR and PPR)
	 * and performs EOIs; level-triggered ones still exit so the I/O APIC sees them. */
	bool intr_delivery;
	/* x2APIC: register reads, TPR, EOI and self-IPI writes without exits. */
	bool x2apic;
	/* Why less than the CPU offers is used ("apicv=off", "the CPU has no TPR shadow"),
	 * or NULL. */
	const char *why;
};

/* The choice for these capabilities and command line. *warning is set (else NULL)
 * when apicv= holds something else than on, tpr or off (then it is taken as on). */
void hv_apicv_choose(const struct hv_caps *caps, const char *cmdline, struct hv_apicv *out,
		     const char **warning);
/* "on (tpr-shadow, register virtualization, virtual-interrupt delivery, x2apic)",
 * "on (tpr-shadow; apicv=tpr)", "off (apicv=off)": what `info cpu` prints. */
void hv_apicv_describe(const struct hv_apicv *a, char *buf, size_t size);

/* The choice in force (chosen by hv_apicv_init at boot; all off before). */
void hv_apicv_init(const struct hv_caps *caps, const char *cmdline, const char **warning);
const struct hv_apicv *hv_apicv(void);

#endif
