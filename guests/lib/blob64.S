/* Carries a guest's separately linked 64-bit part (guest64.ld, BLOB64_BASE) inside
 * its ELF32 image; BLOB64 names the flat binary. */
	.section .blob64, "awx"
	.globl blob64_start, blob64_end
blob64_start:
	.incbin BLOB64
blob64_end:
