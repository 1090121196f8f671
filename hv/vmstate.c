#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/vmstate.h"

size_t vms_size(const struct vms_desc *d)
{
	size_t n = 0;

	for (unsigned i = 0; i < d->nr_fields; i++)
		n += d->fields[i].size ? (size_t)d->fields[i].size * d->fields[i].count
				       : d->fields[i].count;
	return n;
}

static uint64_t load_elem(const uint8_t *p, unsigned size)
{
	switch (size) {
	case 1: return *p;
	case 2: return *(const uint16_t *)p;
	case 4: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static void store_elem(uint8_t *p, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: *p = (uint8_t)v; break;
	case 2: *(uint16_t *)p = (uint16_t)v; break;
	case 4: *(uint32_t *)p = (uint32_t)v; break;
	default: *(uint64_t *)p = v; break;
	}
}

size_t vms_encode(const struct vms_desc *d, const void *rec, uint8_t *out)
{
	const uint8_t *r = rec;
	uint8_t *p = out;

	for (unsigned i = 0; i < d->nr_fields; i++) {
		const struct vms_field *f = &d->fields[i];
		if (!f->size) {
			memcpy(p, r + f->offset, f->count);
			p += f->count;
			continue;
		}
		for (unsigned k = 0; k < f->count; k++) {
			uint64_t v = load_elem(r + f->offset + (size_t)k * f->stride, f->size);
			for (unsigned b = 0; b < f->size; b++)
				*p++ = (uint8_t)(v >> (8 * b));
		}
	}
	return (size_t)(p - out);
}

int vms_decode(const struct vms_desc *d, const uint8_t *in, size_t len, void *rec, char *err,
	       size_t err_size)
{
	uint8_t *r = rec;
	const uint8_t *p = in;

	if (len != vms_size(d)) {
		fmt_snprintf(err, err_size, "%s: %zu bytes where its version %u has %zu", d->name,
			     len, d->version, vms_size(d));
		return -E_FORMAT;
	}
	memset(rec, 0, d->size);
	for (unsigned i = 0; i < d->nr_fields; i++) {
		const struct vms_field *f = &d->fields[i];
		if (!f->size) {
			memcpy(r + f->offset, p, f->count);
			p += f->count;
			continue;
		}
		for (unsigned k = 0; k < f->count; k++) {
			uint64_t v = 0;
			for (unsigned b = 0; b < f->size; b++)
				v |= (uint64_t)*p++ << (8 * b);
			if (v > f->max) {
				if (f->count > 1)
					fmt_snprintf(err, err_size,
						     "%s: %s[%u] = 0x%llx, above its maximum 0x%llx",
						     d->name, f->name, k, (unsigned long long)v,
						     (unsigned long long)f->max);
				else
					fmt_snprintf(err, err_size,
						     "%s: %s = 0x%llx, above its maximum 0x%llx",
						     d->name, f->name, (unsigned long long)v,
						     (unsigned long long)f->max);
				return -E_FORMAT;
			}
			store_elem(r + f->offset + (size_t)k * f->stride, f->size, v);
		}
	}
	if (d->check && !d->check(rec, err, err_size))
		return -E_FORMAT;
	return 0;
}
