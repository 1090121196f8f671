/* tern's entropy for mbedTLS's accumulator (SHA-256 over everything the sources return):
 * the CPU's hardware generator where CPUID reports one, and TSC jitter always. */
#include "hv/lib/string.h"
#include "hv/x86.h"
#include "tls/tls_int.h"

/* CPUID.01H:ECX[30] RDRAND, CPUID.(07H,0):EBX[18] RDSEED (SDM Vol. 2, CPUID, Tables 3-8
 * and 3-8 continued). */
#define CPUID1_ECX_RDRAND (1u << 30)
#define CPUID7_EBX_RDSEED (1u << 18)

/* Both instructions may fail transiently (CF = 0) when the generator is drained: Intel's DRNG
 * Software Implementation Guide (5.2.1) bounds RDRAND's retries at 10; RDSEED, which draws
 * from the conditioner itself, is given more, with PAUSE between. */
#define RDRAND_TRIES 10
#define RDSEED_TRIES 100

/* Samples of TSC jitter folded into each byte: the byte counts as 8 bits for mbedTLS, and a
 * sample's low bits carry far less than one bit each on a quiet machine. */
#define JITTER_SAMPLES 64

static bool has_rdseed(void)
{
	return cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ebx & CPUID7_EBX_RDSEED);
}

static bool has_rdrand(void)
{
	return cpuid(1, 0).ecx & CPUID1_ECX_RDRAND;
}

bool tls_entropy_hw(void)
{
	return has_rdseed() || has_rdrand();
}

static bool rdseed64(uint64_t *v)
{
	uint8_t ok;

	for (int i = 0; i < RDSEED_TRIES; i++) {
		asm volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
		if (ok)
			return true;
		asm volatile("pause");
	}
	return false;
}

static bool rdrand64(uint64_t *v)
{
	uint8_t ok;

	for (int i = 0; i < RDRAND_TRIES; i++) {
		asm volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
		if (ok)
			return true;
	}
	return false;
}

static int hw_poll(void *data, unsigned char *out, size_t len, size_t *olen)
{
	bool seed = has_rdseed(), rand = has_rdrand();
	size_t done = 0;
	uint64_t v;

	while (done < len) {
		if (!(seed && rdseed64(&v)) && !(rand && rdrand64(&v)))
			break;
		memcpy(out + done, &v, MIN(sizeof(v), len - done));
		done += MIN(sizeof(v), len - done);
	}
	*olen = done;
	return done ? 0 : MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
}

/* How long a few memory accesses take varies with caches, TLBs, interrupts and SMIs on real
 * hardware; an emulator's TSC counts instructions and makes this predictable. */
static uint8_t jitter_byte(void)
{
	static volatile uint8_t scratch[4096];
	uint64_t acc = 0;

	for (int i = 0; i < JITTER_SAMPLES; i++) {
		uint64_t t0 = rdtsc();

		scratch[(acc * 2654435761u) % sizeof(scratch)] += (uint8_t)t0;
		acc = (acc << 7 | acc >> 57) ^ (rdtsc() - t0);
	}
	for (int s = 32; s >= 8; s /= 2)
		acc ^= acc >> s;
	return (uint8_t)acc;
}

static int jitter_poll(void *data, unsigned char *out, size_t len, size_t *olen)
{
	for (size_t i = 0; i < len; i++)
		out[i] = jitter_byte();
	*olen = len;
	return 0;
}

/* The hardware source is the strong one when present; jitter is mixed in regardless, and
 * has to stand alone (counted strong, or mbedTLS would refuse to seed) on a CPU without. */
int tls_entropy_sources(mbedtls_entropy_context *e, bool hw)
{
	int ret = 0;

	if (hw)
		ret = mbedtls_entropy_add_source(e, hw_poll, NULL, MBEDTLS_ENTROPY_BLOCK_SIZE,
						 MBEDTLS_ENTROPY_SOURCE_STRONG);
	if (ret == 0)
		ret = mbedtls_entropy_add_source(e, jitter_poll, NULL, MBEDTLS_ENTROPY_BLOCK_SIZE,
						 hw ? MBEDTLS_ENTROPY_SOURCE_WEAK :
						      MBEDTLS_ENTROPY_SOURCE_STRONG);
	return ret;
}

int tls_entropy_add(mbedtls_entropy_context *e)
{
	return tls_entropy_sources(e, tls_entropy_hw());
}
