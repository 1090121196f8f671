/* The guest's own GDT (crt0.S): flat segments, plus a 64-bit code segment for the
 * long-mode switch. Included from assembly too. */
#ifndef GUEST_SEGMENTS_H
#define GUEST_SEGMENTS_H

#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18

#endif
