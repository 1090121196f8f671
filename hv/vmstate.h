/* A VM's state as records, for migration now and checkpoints later. Each part of the
 * VM (the vCPU, each device) keeps its migratable state in a plain struct of
 * fixed-width fields (no pointers) and describes it with a table: a record has a name,
 * a version and fields, each with the largest value it may hold. Encoding packs the
 * fields little-endian in table order; decoding checks every field against its range
 * and then the rules that span fields, so a record from the network is whole and sane
 * before any model loads it. Pure: tested hosted and fuzzed with the wire codec. */
#ifndef TERN_VMSTATE_H
#define TERN_VMSTATE_H

#include "hv/types.h"

#define VMS_NAME_MAX 16 /* with its NUL */

struct vms_field {
	const char *name;
	uint32_t offset; /* of the first element in the record */
	uint8_t size;    /* bytes of an element: 1, 2, 4 or 8; 0 for an opaque byte string */
	uint16_t count;  /* elements (1 for a scalar); bytes of a byte string */
	uint32_t stride; /* bytes between elements */
	uint64_t max;    /* the largest value an element may hold */
};

#define VMS_MEMBER_SIZE(type, m) sizeof(((type *)0)->m)
/* A scalar member, at most max. */
#define VMS_FIELD(type, m, maxval) \
	{ #m, offsetof(type, m), VMS_MEMBER_SIZE(type, m), 1, 0, (maxval) }
/* An array member, each element at most max. */
#define VMS_ARRAY(type, m, maxval)                                                      \
	{ #m, offsetof(type, m), VMS_MEMBER_SIZE(type, m[0]),                           \
	  VMS_MEMBER_SIZE(type, m) / VMS_MEMBER_SIZE(type, m[0]),                       \
	  VMS_MEMBER_SIZE(type, m[0]), (maxval) }
/* Member f of each element of an array of structs arr. */
#define VMS_ELEM(type, arr, f, maxval)                                                  \
	{ #arr "[]." #f, offsetof(type, arr[0].f), VMS_MEMBER_SIZE(type, arr[0].f),     \
	  VMS_MEMBER_SIZE(type, arr) / VMS_MEMBER_SIZE(type, arr[0]),                   \
	  VMS_MEMBER_SIZE(type, arr[0]), (maxval) }
/* Bytes taken as they are (FIFO contents, a register page): any value is valid. */
#define VMS_BYTES(type, m) { #m, offsetof(type, m), 0, VMS_MEMBER_SIZE(type, m), 1, 0 }

#define VMS_MAX8 0xffull
#define VMS_MAX16 0xffffull
#define VMS_MAX32 0xffffffffull
#define VMS_MAX64 UINT64_MAX

struct vms_desc {
	const char *name;  /* unique among a VM's records, shorter than VMS_NAME_MAX */
	uint16_t version;
	uint32_t size;     /* sizeof the record struct */
	const struct vms_field *fields;
	unsigned nr_fields;
	/* The rules that span fields; false with the reason in err. NULL: none. */
	bool (*check)(const void *rec, char *err, size_t err_size);
};

/* Bytes of the record's encoding. */
size_t vms_size(const struct vms_desc *d);
/* Writes vms_size(d) bytes to out; returns that. */
size_t vms_encode(const struct vms_desc *d, const void *rec, uint8_t *out);
/* Decodes len bytes into rec (zeroed first, so padding is always 0). Returns 0, or
 * -E_FORMAT with the reason naming the record and field in err, e.g.
 * "pit: chan[].mode[1] = 7, above its maximum 5"; rec is then unspecified. */
int vms_decode(const struct vms_desc *d, const uint8_t *in, size_t len, void *rec, char *err,
	       size_t err_size);

#endif
