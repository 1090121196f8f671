#include "hv/acpi.h"
#include "hv/apicv.h"
#include "hv/boot.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/cpu.h"
#include "hv/hv.h"
#include "hv/idle.h"
#include "hv/monitor.h"
#include "migrate/migrate.h"
#include "hv/paging.h"
#include "hv/pcpu.h"
#include "hv/panic.h"
#include "hv/pmm.h"
#include "hv/shadow.h"
#include "hv/smp.h"
#include "hv/time.h"
#include "hv/turn.h"
#include "hv/sched.h"
#include "hv/vm.h"
#include "hv/wallclock.h"
#include "hv/x86.h"
#include "hv/x86_rules.h"
#include "net/net.h"
#include "hv/backend.h"

static const struct boot_info *boot;

const struct boot_info *hv_boot_info(void)
{
	return boot;
}

static void report_vmx(void)
{
	const struct hv_caps *c = hv_caps();

	if (!c->usable) {
		kprintf("vmx: unavailable \xe2\x80\x94 guests cannot run on this host (%s)\n", c->why);
		return;
	}
	kprintf("vmx: available: ept %s, vpid %s, unrestricted-guest %s, pml %s, ept-ad %s, "
		"preemption-timer %s\n",
		c->stage2 ? "yes" : "no", c->tagged_tlb ? "yes" : "no",
		c->unrestricted ? "yes" : "no", c->dirty_log ? "yes" : "no",
		c->dirty_flags ? "yes" : "no", c->preemption_timer ? "yes" : "no");
}

__noreturn void hv_main(const struct boot_info *bi)
{
	bool console_ok;
	const char *why = NULL;

	boot = bi;
	cli();
	console_ok = console_init(bi->cmdline);
	kprintf("\ntern %s (loader: %s)\n", TERN_VERSION, boot_loader_name(bi->loader));
	if (!console_ok)
		kprintf("warning: console= not understood; using COM1\n");
	if (bi->notes[0])
		kprintf("loader: %s\n", bi->notes);
	if (bi->cmdline[0]) {
		static char shown[BOOT_CMDLINE_MAX];

		cmdline_redact(shown, sizeof(shown), bi->cmdline, "key"); /* the cluster key */
		kprintf("cmdline: %s\n", shown);
	}
	cpu_control_init();
	idt_init();
	pcpu_boot_init();
	if (pmm_init(bi) < 0)
		panic("no usable memory for the page allocator in the boot memory map");
	if (paging_init(bi) < 0)
		panic("out of memory building tern's page tables");
	pmm_reclaim(bi); /* firmware page tables and stacks are no longer in use */
	time_init();
	if (wallclock_init())
		kprintf("wallclock: the machine's RTC did not answer; guests' clocks start in 1970\n");
	idle_init();
	if (acpi_init(bi->rsdp) < 0)
		kprintf("acpi: no tables found; poweroff falls back to the chipset's PM registers\n");
	hv_backend_init();
	hv_apicv_init(hv_caps(), bi->cmdline, &why);
	if (why)
		kprintf("warning: %s\n", why);
	why = NULL;
	report_vmx();
	if (hv_caps()->usable && hv_enable(&why) < 0)
		kprintf("vmx: cannot enter VMX operation: %s; guests cannot run\n", why);
	smp_init(bi);
	if (!shadow_init(bi->cmdline))
		kprintf("shadow: no memory for the shadow region; dirty tracking is off\n");
	kprintf("shadow: %llu MiB reserved for dirty tracking\n",
		(unsigned long long)(shadow_stats().size / MIB));
	kprintf("memory: %llu MiB total, %llu MiB free; tsc %llu MHz\n",
		(unsigned long long)(pmm_stats().total / MIB),
		(unsigned long long)(pmm_stats().free / MIB),
		(unsigned long long)(time_tsc_hz() / 1000000));
	net_init(bi->cmdline);
	migrate_init(bi->cmdline);
	monitor_init();
	for (;;) {
		uint64_t t0 = time_now_us(), frames = net_frames();
		bool ran;

		net_poll();
		migrate_poll();
		monitor_poll();
		ran = sched_run_once();
		turn_note(t0, time_now_us());
		if (!ran && net_frames() == frames)
			sched_idle(net_active());
	}
}
