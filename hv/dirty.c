#include "hv/bitmap.h"
#include "hv/dirty.h"
#include "hv/sched.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "hv/backend.h"

_Static_assert(DIRTY_PML_PAGES >= VM_VCPUS_MAX, "a PML buffer for every vCPU");

/* The layout of a VM's shadow extent, page aligned parts:
 *   bitmap[0] bitmap[1] | log[0] log[1] | PML buffer | staging (a page per guest page) */
static uint64_t bitmap_bytes(uint64_t n)
{
	return ALIGN_UP(BITMAP_WORDS(n) * 8, PAGE_SIZE);
}

static uint64_t log_bytes(uint64_t n)
{
	return ALIGN_UP(n * 4, PAGE_SIZE);
}

/* Without staging room: a sample only counts pages, it never copies them. */
static uint64_t need_unstaged(uint64_t n)
{
	return 2 * bitmap_bytes(n) + 2 * log_bytes(n) + DIRTY_PML_PAGES * PAGE_SIZE;
}

uint64_t dirty_shadow_need(uint64_t n)
{
	return need_unstaged(n) + n * PAGE_SIZE;
}

static void lay_out(struct dirty *d)
{
	uint8_t *p = (uint8_t *)(uintptr_t)d->ext.base;

	for (int i = 0; i < 2; i++, p += bitmap_bytes(d->npages))
		d->bitmap[i] = (uint64_t *)p;
	for (int i = 0; i < 2; i++, p += log_bytes(d->npages))
		d->log[i] = (uint32_t *)p;
	d->pml = (uintptr_t)p;
	d->stage = d->sample ? NULL : p + DIRTY_PML_PAGES * PAGE_SIZE;
	d->log_len[0] = d->log_len[1] = 0;
	d->cur = 0;
}

static const char *const mode_names[] = { "off", "wp", "pml", "ad" };

const char *dirty_mode_name(enum dirty_mode m)
{
	return mode_names[m];
}

bool dirty_mode_parse(const char *s, enum dirty_mode *m)
{
	for (int i = DIRTY_WP; i <= DIRTY_AD; i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum dirty_mode)i;
			return true;
		}
	}
	return false;
}

static int start(struct vm *vm, enum dirty_mode mode, bool sample, char *err, size_t err_size)
{
	struct dirty *d = &vm->dirty;
	uint64_t n = vm->mem_size / PAGE_SIZE;
	uint64_t need = sample ? need_unstaged(n) : dirty_shadow_need(n);
	int e;

	if (d->mode != DIRTY_OFF && d->sample)
		dirty_stop(vm); /* the operator or a migration comes first */
	if (d->mode != DIRTY_OFF) {
		fmt_snprintf(err, err_size, "vm%d is tracked already (mode %s); dirty stop first",
			     vm->id, dirty_mode_name(d->mode));
		return -E_BUSY;
	}
	if ((mode == DIRTY_PML && !hv_caps()->dirty_log) ||
	    (mode == DIRTY_AD && !hv_caps()->dirty_flags)) {
		fmt_snprintf(err, err_size, "this CPU offers no %s",
			     mode == DIRTY_PML ? "page-modification logging" : "EPT dirty flags");
		return -E_NOSUP;
	}
	if (!shadow_alloc(need, vm->id, &d->ext)) {
		struct shadow_stats s = shadow_stats();
		fmt_snprintf(err, err_size,
			     "tracking vm%d (%llu MiB) needs %llu KiB of the shadow region; "
			     "%llu of its %llu KiB are free (shadow=<MiB> on tern's command line)",
			     vm->id, (unsigned long long)(vm->mem_size / MIB),
			     (unsigned long long)(need / KIB),
			     (unsigned long long)((s.size - s.used) / KIB),
			     (unsigned long long)(s.size / KIB));
		return -E_NOMEM;
	}
	vm_hold(vm); /* its CPU must not fault or log into half-laid tables */
	d->npages = n;
	d->sample = sample;
	lay_out(d);
	d->mode = mode;
	d->rounds = d->last_pages = d->last_round_us = d->exits = 0;
	d->round_start_us = time_now_us();
	e = hv_backend()->dirty_arm(vm);
	if (e) {
		d->mode = DIRTY_OFF;
		d->sample = false;
		shadow_free(&d->ext);
		fmt_snprintf(err, err_size, "cannot arm tracking: %s", error_str(e));
	}
	vm_unhold(vm);
	return e;
}

int dirty_start(struct vm *vm, enum dirty_mode mode, char *err, size_t err_size)
{
	return start(vm, mode, false, err, err_size);
}

int dirty_start_sample(struct vm *vm, enum dirty_mode mode, char *err, size_t err_size)
{
	return start(vm, mode, true, err, err_size);
}

void dirty_stop(struct vm *vm)
{
	struct dirty *d = &vm->dirty;

	if (d->mode == DIRTY_OFF)
		return;
	vm_hold(vm);
	hv_backend()->dirty_disarm(vm);
	d->mode = DIRTY_OFF;
	d->sample = false;
	shadow_free(&d->ext);
	d->bitmap[0] = d->bitmap[1] = NULL;
	d->log[0] = d->log[1] = NULL;
	vm_unhold(vm);
}

/* Runs with the VM out of its guest (between CPU 0's slices, or held on the CPU that runs
 * it: hv/sched.h), so no write lands while the bitmaps swap: every write is either in
 * the round that ends (collected first) or faults, logs or sets a dirty flag again
 * after re-arming, into the next one; the home CPU drops its stale translations before
 * it enters again (the hold's end). */
uint64_t dirty_sync(struct vm *vm)
{
	struct dirty *d = &vm->dirty;
	int c, o;
	uint64_t n, now;

	if (d->mode == DIRTY_OFF)
		return 0;
	vm_hold(vm);
	c = d->cur, o = c ^ 1;
	hv_backend()->dirty_collect(vm);
	n = d->log_len[c];
	hv_backend()->dirty_rearm(vm, d->log[c], n);
	for (uint64_t i = 0; i < d->log_len[o]; i++)
		bitmap_clear(d->bitmap[o], d->log[o][i]);
	d->log_len[o] = 0;
	d->cur = o;
	now = time_now_us();
	d->rounds++;
	d->last_pages = n;
	d->last_round_us = now - d->round_start_us;
	d->round_start_us = now;
	vm_unhold(vm);
	return n;
}

uint64_t dirty_pending(struct vm *vm)
{
	struct dirty *d = &vm->dirty;

	uint64_t n;

	if (d->mode == DIRTY_OFF)
		return 0;
	vm_hold(vm);
	hv_backend()->dirty_collect(vm);
	n = d->log_len[d->cur];
	vm_unhold(vm);
	return n;
}

uint64_t dirty_overlap(const struct vm *vm)
{
	return dirty_overlap_of(vm, UINT64_MAX);
}

uint64_t dirty_overlap_front(struct vm *vm)
{
	struct dirty *d = &vm->dirty;
	const uint64_t *last = d->bitmap[d->cur ^ 1];
	uint32_t *log = d->log[d->cur];
	uint64_t n = 0;

	if (d->mode == DIRTY_OFF)
		return 0;
	vm_hold(vm); /* tracking appends to the log from other CPUs */
	for (uint64_t i = 0; i < d->log_len[d->cur]; i++) {
		if (bitmap_test(last, log[i])) {
			uint32_t p = log[n];
			log[n++] = log[i];
			log[i] = p;
		}
	}
	vm_unhold(vm);
	return n;
}

uint64_t dirty_overlap_of(const struct vm *vm, uint64_t n)
{
	const struct dirty *d = &vm->dirty;
	uint64_t both = 0;

	if (d->mode == DIRTY_OFF)
		return 0;
	n = MIN(n, d->log_len[d->cur ^ 1]);
	for (uint64_t i = 0; i < n; i++)
		both += bitmap_test(d->bitmap[d->cur], d->log[d->cur ^ 1][i]);
	return both;
}

uint64_t dirty_rate(const struct dirty *d)
{
	return d->last_round_us ? d->last_pages * 1000000 / d->last_round_us : 0;
}
