/* The ACPI fixed-feature hardware of tern's platform (ACPI 6.3, 4.8): the PM1a event
 * block (PM1_STS at 0x600, PM1_EN at 0x602), the PM1a control block (PM1_CNT at 0x604)
 * and the 32-bit, 3.579545 MHz PM timer at 0x608, as the FADT of hv/dev/acpi_tables.c
 * describes them. The SCI is IRQ 9, level, active high: held while an enabled status
 * bit is set. There is no SMI_CMD, so the hardware is always in ACPI mode (SCI_EN
 * reads 1). Writing SLP_TYP 5 with SLP_EN powers the VM off (\_S5). */
#ifndef TERN_DEV_ACPI_PM_H
#define TERN_DEV_ACPI_PM_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define ACPI_PM_TMR_HZ 3579545ull

/* PM1_STS and PM1_EN bits (Tables 4-16, 4-17); each enable is its status's bit */
#define PM1_TMR (1u << 0)         /* bit 31 of the PM timer flipped */
#define PM1_BM (1u << 4)          /* status only */
#define PM1_GBL (1u << 5)         /* global lock released by firmware (never: none) */
#define PM1_PWRBTN (1u << 8)      /* the power button was pressed */
#define PM1_SLPBTN (1u << 9)
#define PM1_RTC (1u << 10)
#define PM1_PCIEXP_WAKE (1u << 14) /* PCIEXP_WAKE_STS; in PM1_EN, PCIEXP_WAKE_DIS */
#define PM1_WAK (1u << 15)         /* status only: the system woke from a sleep */

/* PM1_CNT bits (Table 4-18) */
#define PM1_CNT_SCI_EN (1u << 0)
#define PM1_CNT_BM_RLD (1u << 1)
#define PM1_CNT_GBL_RLS (1u << 2)
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN (1u << 13)

/* What tern's hardware ever sets in PM1_STS, keeps in PM1_EN and stores in PM1_CNT. */
#define ACPI_PM_STS_BITS (PM1_TMR | PM1_PWRBTN | PM1_WAK)
#define ACPI_PM_EN_BITS (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | PM1_PCIEXP_WAKE)
#define ACPI_PM_CNT_BITS (PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP)

struct acpi_pm_state {
	uint16_t sts; /* PM1_STS */
	uint16_t en;  /* PM1_EN */
	uint16_t cnt; /* PM1_CNT's stored bits (SCI_EN is fixed at 1, SLP_EN reads 0) */
	/* The PM timer counts ticks of the VM's clock from its time 0, so it needs no
	 * state; this is that count >> 31 when TMR_STS was last brought up to date. */
	uint64_t tmr_half;
};

struct acpi_pm {
	struct acpi_pm_state s;
	/* runtime */
	struct irq_line sci;
	struct dev_log *log;
	void (*poweroff)(void *ctx);
	void *ctx;
	int sci_level; /* as last driven; -1 before the first */
};

extern const struct vms_desc acpi_pm_vms; /* record "acpi_pm" */

/* Power-on state: all status and enables clear, SCI low. */
void acpi_pm_init(struct acpi_pm *pm, struct irq_line sci, struct dev_log *log,
		  void (*poweroff)(void *ctx), void *ctx, uint64_t now);

/* Port accesses to 0x600-0x60B. Good ones have size 1, 2 or 4, are aligned to it and lie
 * inside one block (0x600-0x603, 0x604-0x605, 0x608-0x60B); anything else reads all
 * ones, writes nothing and is logged once. */
void acpi_pm_read(struct acpi_pm *pm, uint16_t port, unsigned size, uint32_t *value,
		  uint64_t now);
void acpi_pm_write(struct acpi_pm *pm, uint16_t port, unsigned size, uint32_t value,
		   uint64_t now);

/* When bit 31 of the timer next flips, while TMR_EN is set; DEV_NEVER otherwise. */
uint64_t acpi_pm_next_event(const struct acpi_pm *pm);
void acpi_pm_run(struct acpi_pm *pm, uint64_t now);
/* After pm->s was replaced by a decoded record: drives the SCI from it. */
void acpi_pm_restore(struct acpi_pm *pm, uint64_t now);

/* The power button (a monitor's request for an orderly shutdown): sets PWRBTN_STS. */
void acpi_pm_power_button(struct acpi_pm *pm, uint64_t now);

#endif
