/* A guest whose registers a migration must carry, checked all the time: the x87, SSE
 * and AVX state (XSAVE), the SYSCALL MSRs, FS/GS bases and KERNEL_GS_BASE, CR0/CR4,
 * XCR0, EFER, and a TSC that never goes back.
 *
 * In long mode it enables SSE (CR4.OSFXSR, OSXMMEXCPT) and, where CPUID offers XSAVE
 * and AVX, XSAVE with XCR0 = x87|SSE|AVX; fills xmm0-15 (and the upper halves of
 * ymm0-15), four x87 registers, the x87 control word and MXCSR from seed=N; sets up
 * SYSCALL with a handler that counts calls and returns by SYSRET, so its loop runs at
 * CPL 3 as a user program would; sets FS/GS base and KERNEL_GS_BASE, which the
 * handler's SWAPGS relies on. Then it loops: a syscall (whose handler checks the MSRs,
 * control registers and flags), an RDTSC that must not be below the last, and a check
 * of every register against what it loaded. Once per second of its TSC it prints
 *
 *   cpustate: seq=<n> syscalls=<n> tsc=<hex> avx=<yes|no> check=ok
 *
 * or, at once, "check=FAIL <what>" and a FAIL line. seconds=N ends it with PASS.
 *
 * The compiler never touches the vector or x87 registers (-mno-sse -mno-80387): only
 * the inline assembly here does. Built twice: 32-bit (guest_main: TSC rate, arguments,
 * the switch to long mode) and 64-bit (everything else; paging.h), hence the one
 * #ifdef: the 64-bit half's assembly names registers a 32-bit build has not. */
#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/paging.h"
#include "guests/lib/tsc.h"

/* Handed from the 32-bit half to the 64-bit one: fixed-size fields only. */
struct cs_args {
	uint32_t seconds, seed, tsc_khz;
};

#ifdef __x86_64__

#include "guests/lib/segments.h"

#define MSR_EFER 0xC0000080
#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_FMASK 0xC0000084
#define MSR_FS_BASE 0xC0000100
#define MSR_GS_BASE 0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102
#define EFER_SCE (1u << 0)

#define XCR0_X87_SSE_AVX 0x7

#define RFLAGS_FIXED (1u << 1)
#define RFLAGS_TF (1u << 8)
#define RFLAGS_IF (1u << 9)
#define RFLAGS_DF (1u << 10)
#define RFLAGS_IOPL3 (3u << 12) /* the user loop prints: port I/O at CPL 3 */
#define RFLAGS_NT (1u << 14)
#define RFLAGS_AC (1u << 18)    /* set in user mode, so SFMASK is seen clearing it */
#define SFMASK (RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_NT | RFLAGS_AC)

/* GDT. SYSCALL takes CS = STAR[47:32], SS = CS + 8; SYSRET to 64-bit code takes
 * CS = STAR[63:48] + 16, SS = STAR[63:48] + 8, both with RPL 3 (SDM 2B, SYSCALL,
 * SYSRET). The first four entries are crt0's (the IDT gates use SEL_CODE64). */
#define SEL_KDATA 0x20
#define SEL_USER_BASE 0x28
#define SEL_TSS 0x40
#define STAR ((uint64_t)SEL_USER_BASE << 48 | (uint64_t)SEL_CODE64 << 32)

#define SYS_COUNT 0
#define SYS_EXIT 1
#define STACK_SIZE 16384
#define FS_MAGIC 0x5346534653465346ull
#define GS_MAGIC 0x5347534753475347ull

/* Accessed bits preset, as in crt0 */
static uint64_t gdt[] = {
	0,
	0x00cf9b000000ffff, /* 0x08 32-bit code (crt0's) */
	0x00cf93000000ffff, /* 0x10 data (crt0's) */
	0x00209b0000000000, /* 0x18 64-bit code, DPL 0 */
	0x00cf93000000ffff, /* 0x20 data, DPL 0: SYSCALL's SS */
	0x00cffb000000ffff, /* 0x28 32-bit code, DPL 3 (SYSRET to compatibility mode) */
	0x00cff3000000ffff, /* 0x30 data, DPL 3: SYSRET's SS */
	0x0020fb0000000000, /* 0x38 64-bit code, DPL 3: SYSRET's CS */
	0, 0,               /* 0x40 the TSS, 16 bytes (SDM 3A, 7.2.3) */
};

/* 64-bit TSS (SDM 3A, figure 7-11): only RSP0, the stack for exceptions at CPL 3 */
static struct {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2, reserved1, ist[7], reserved2;
	uint16_t reserved3, iomap;
} __packed tss;

/* Where KERNEL_GS_BASE points: the handler finds its stack through %gs after SWAPGS */
static struct percpu {
	uint64_t self, kernel_rsp, user_rsp;
} percpu;

static uint64_t fs_block = FS_MAGIC, gs_block = GS_MAGIC;
static uint8_t kernel_stack[STACK_SIZE] __attribute__((aligned(16)));
static uint8_t user_stack[STACK_SIZE] __attribute__((aligned(16)));

/* What every register must hold */
static struct {
	uint64_t xmm[16][2], ymm_hi[16][2], st[4];
	uint8_t st80[4][10]; /* st[] as the x87 holds them */
	uint16_t fcw;
	uint32_t mxcsr;
	uint64_t efer, cr0, cr4, xcr0;
} want;

static struct cs_args args;
static bool avx;
static uint8_t fxarea[512] __attribute__((aligned(64)));
static uint64_t ymm_hi[16][2] __attribute__((aligned(32)));

/* Written by the syscall handler, read by the user loop */
static volatile uint64_t syscalls;
static const char *volatile kernel_fail;

void syscall_entry(void);
uint64_t syscall_handler(uint64_t nr, uint64_t arg, uint64_t user_rflags);

/* SYSCALL leaves RSP as the user had it: SWAPGS brings the kernel's %gs, which holds
 * its stack. RCX and R11 (the user's RIP and RFLAGS) go back for SYSRET; the other
 * registers the C code may clobber are saved, so the user sees only RAX, RCX and R11
 * change, as under Linux. 8 pushes keep the stack 16-byte aligned for the call. */
asm(".text\n"
    ".globl syscall_entry\n"
    "syscall_entry:\n"
    "	swapgs\n"
    "	mov %rsp, %gs:16\n"
    "	mov %gs:8, %rsp\n"
    "	push %rcx\n"
    "	push %r11\n"
    "	push %rdi\n"
    "	push %rsi\n"
    "	push %rdx\n"
    "	push %r8\n"
    "	push %r9\n"
    "	push %r10\n"
    "	mov %r11, %rdx\n"
    "	mov %rdi, %rsi\n"
    "	mov %rax, %rdi\n"
    "	call syscall_handler\n"
    "	pop %r10\n"
    "	pop %r9\n"
    "	pop %r8\n"
    "	pop %rdx\n"
    "	pop %rsi\n"
    "	pop %rdi\n"
    "	pop %r11\n"
    "	pop %rcx\n"
    "	mov %gs:16, %rsp\n"
    "	swapgs\n"
    "	sysretq\n");

static uint64_t read_rflags(void)
{
	uint64_t f;

	asm volatile("pushf; pop %0" : "=r"(f));
	return f;
}

/* The kernel's half of the check: what user code cannot read. After SWAPGS the GS
 * base is the kernel's and KERNEL_GS_BASE the user's. */
static const char *kernel_check(uint64_t user_rflags)
{
	static const struct {
		uint32_t msr;
		const char *name;
	} msrs[] = {
		{ MSR_STAR, "STAR" }, { MSR_LSTAR, "LSTAR" }, { MSR_FMASK, "SFMASK" },
		{ MSR_FS_BASE, "FS_BASE" }, { MSR_GS_BASE, "GS_BASE" },
		{ MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE" }, { MSR_EFER, "EFER" },
	};
	const uint64_t values[] = {
		STAR, (uint64_t)syscall_entry, SFMASK, (uint64_t)&fs_block,
		(uint64_t)&percpu, (uint64_t)&gs_block, want.efer,
	};

	for (size_t i = 0; i < ARRAY_SIZE(msrs); i++)
		if (rdmsr(msrs[i].msr) != values[i])
			return msrs[i].name;
	if (read_cr0() != want.cr0)
		return "CR0";
	if (read_cr4() != want.cr4)
		return "CR4";
	if (avx && xgetbv(0) != want.xcr0)
		return "XCR0";
	if (read_rflags() & SFMASK)
		return "RFLAGS in the handler (SFMASK not applied)";
	if (!(user_rflags & RFLAGS_AC) || (user_rflags & RFLAGS_IOPL3) != RFLAGS_IOPL3)
		return "user RFLAGS in R11";
	return NULL;
}

uint64_t syscall_handler(uint64_t nr, uint64_t arg, uint64_t user_rflags)
{
	const char *what;

	if (nr == SYS_EXIT)
		exit(arg); /* at CPL 0: exit() halts if the exit port does not end us */
	syscalls++;
	if (!kernel_fail && (what = kernel_check(user_rflags)))
		kernel_fail = what;
	return syscalls;
}

static uint64_t sys(uint64_t nr, uint64_t arg)
{
	uint64_t ret;

	asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(arg) : "rcx", "r11", "memory");
	return ret;
}

/* splitmix64: any seed gives well-mixed values */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A positive integer as FILD stores it: 64-bit significand with its explicit
 * integer bit, biased exponent 16383 (SDM 1, 4.2.2) */
static void to_ext80(uint64_t v, uint8_t out[10])
{
	int msb = 63 - __builtin_clzll(v);
	uint64_t sig = v << (63 - msb);
	uint16_t exp = 16383 + msb;

	memcpy(out, &sig, 8);
	memcpy(out + 8, &exp, 2);
}

static void make_values(uint32_t seed)
{
	uint64_t s = seed;

	for (int i = 0; i < 16; i++) {
		want.xmm[i][0] = next(&s), want.xmm[i][1] = next(&s);
		want.ymm_hi[i][0] = next(&s), want.ymm_hi[i][1] = next(&s);
	}
	for (int i = 0; i < 4; i++) {
		want.st[i] = (next(&s) >> 1) | 1; /* positive, non-zero: exact in 80 bits */
		to_ext80(want.st[i], want.st80[3 - i]); /* the last loaded is ST(0) */
	}
	/* non-default rounding (1-3) in both; MXCSR also flushes to zero; all
	 * exceptions stay masked, so nothing here can fault */
	want.fcw = 0x037f | (1 + seed % 3) << 10;
	want.mxcsr = 0x1f80 | (1 + (seed / 3) % 3) << 13 | 1u << 15;
}

static void load_fpu(void)
{
	asm volatile("fninit; fldcw %0" : : "m"(want.fcw));
	for (int i = 0; i < 4; i++)
		asm volatile("fildll %0" : : "m"(want.st[i]));
	asm volatile("ldmxcsr %0" : : "m"(want.mxcsr));
	asm volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
		     "movdqu \\i*16(%0), %%xmm\\i\n"
		     ".endr" : : "r"(want.xmm) : "memory");
	if (avx)
		asm volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
			     "vinsertf128 $1, \\i*16(%0), %%ymm\\i, %%ymm\\i\n"
			     ".endr" : : "r"(want.ymm_hi) : "memory");
}

/* FXSAVE area (SDM 1, table 10-2): FCW 0, FSW 2, abridged FTW 4, MXCSR 24,
 * ST(i) at 32 + 16 i, XMM(i) at 160 + 16 i */
#define FSW_TOP4 0x2000 /* four loaded: TOP = 8 - 4 */
#define FTW_4 0xf0      /* physical registers 4-7 in use */

static const char *check_vectors(void)
{
	uint16_t fcw, fsw;
	uint32_t mxcsr;

	memset(fxarea, 0, sizeof(fxarea));
	asm volatile("fxsave64 %0" : "=m"(fxarea));
	memcpy(&fcw, fxarea, 2);
	memcpy(&fsw, fxarea + 2, 2);
	memcpy(&mxcsr, fxarea + 24, 4);
	if (fcw != want.fcw)
		return "x87 control word";
	if (fsw != FSW_TOP4 || fxarea[4] != FTW_4)
		return "x87 status or tag word";
	if (mxcsr != want.mxcsr)
		return "MXCSR";
	for (int i = 0; i < 4; i++)
		if (memcmp(fxarea + 32 + 16 * i, want.st80[i], 10))
			return "x87 register stack";
	for (int i = 0; i < 16; i++)
		if (memcmp(fxarea + 160 + 16 * i, want.xmm[i], 16))
			return "xmm registers";
	if (!avx)
		return NULL;
	memset(ymm_hi, 0, sizeof(ymm_hi));
	asm volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
		     "vextractf128 $1, %%ymm\\i, \\i*16(%0)\n"
		     ".endr" : : "r"(ymm_hi) : "memory");
	if (memcmp(ymm_hi, want.ymm_hi, sizeof(ymm_hi)))
		return "upper halves of ymm registers";
	return NULL;
}

/* The bases in effect, not just the MSRs: through the segments themselves */
static const char *check_segments(void)
{
	uint64_t fs, gs;

	asm volatile("mov %%fs:0, %0; mov %%gs:0, %1" : "=r"(fs), "=r"(gs));
	if (fs != FS_MAGIC)
		return "FS base (the word at %fs:0)";
	if (gs != GS_MAGIC)
		return "GS base (the word at %gs:0)";
	return NULL;
}

static uint64_t seq;

static void report(const char *what)
{
	printf("cpustate: seq=%llu syscalls=%llu tsc=%llx avx=%s check=%s%s\n",
	       (unsigned long long)seq, (unsigned long long)syscalls,
	       (unsigned long long)rdtsc(), avx ? "yes" : "no", what ? "FAIL " : "ok",
	       what ? what : "");
}

/* CPL 3 from here on: the exit port is reached through the kernel (SYS_EXIT), since
 * exit()'s HLT would fault at CPL 3 */
static __noreturn void user_main(void)
{
	uint64_t hz = args.tsc_khz * 1000ull, start = rdtsc(), last = start, calls = 0, t;
	const char *what;

	for (;;) {
		t = rdtsc();
		if (sys(SYS_COUNT, 0) != ++calls)
			what = "syscall count (the handler did not run once per syscall)";
		else if (kernel_fail)
			what = kernel_fail;
		else if (t < last)
			what = "TSC went backwards";
		else if (!(what = check_vectors()))
			what = check_segments();
		if (what) {
			report(what);
			printf("FAIL cpustate: %s\n", what);
			sys(SYS_EXIT, EXIT_FAIL);
		}
		last = t;
		if ((t - start) / hz <= seq)
			continue;
		seq = (t - start) / hz; /* seconds of TSC: a pause skips lines */
		report(NULL);
		if (args.seconds && seq >= args.seconds) {
			printf("PASS\n");
			sys(SYS_EXIT, EXIT_PASS);
		}
	}
}

static void setup_segments(void)
{
	uint64_t base = (uint64_t)&tss;
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed desc = { sizeof(gdt) - 1, (uint64_t)gdt };

	tss.rsp0 = (uint64_t)kernel_stack + STACK_SIZE;
	tss.iomap = sizeof(tss); /* no I/O bitmap: IOPL 3 alone lets the loop print */
	/* available 64-bit TSS, present (type 9, SDM 3A, figure 7-4) */
	gdt[SEL_TSS / 8] = (sizeof(tss) - 1) | (base & 0xffffff) << 16 | 0x89ull << 40 |
			   (base >> 24 & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	/* selectors 0x08-0x18 keep their descriptors, so none needs reloading */
	asm volatile("lgdt %0; ltr %w1" : : "m"(desc), "r"(SEL_TSS) : "memory");
}

static void setup_fpu(void)
{
	struct cpuid_regs r = cpuid_sub(1, 0);

	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
	avx = (r.c & CPUID1_ECX_XSAVE) && (r.c & CPUID1_ECX_AVX) &&
	      (cpuid_sub(0xd, 0).a & XCR0_X87_SSE_AVX) == XCR0_X87_SSE_AVX;
	if (avx) {
		write_cr4(read_cr4() | CR4_OSXSAVE);
		xsetbv(0, XCR0_X87_SSE_AVX);
		want.xcr0 = XCR0_X87_SSE_AVX;
	}
	want.cr0 = read_cr0();
	want.cr4 = read_cr4();
}

static void setup_syscall(void)
{
	percpu = (struct percpu){ (uint64_t)&percpu, (uint64_t)kernel_stack + STACK_SIZE, 0 };
	wrmsr(MSR_STAR, STAR);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, SFMASK);
	wrmsr(MSR_FS_BASE, (uint64_t)&fs_block);
	wrmsr(MSR_GS_BASE, (uint64_t)&gs_block);
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)&percpu);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	want.efer = rdmsr(MSR_EFER);
}

void guest_main64(void *arg)
{
	register uint64_t rflags asm("r11") = RFLAGS_FIXED | RFLAGS_IOPL3 | RFLAGS_AC;

	args = *(struct cs_args *)arg;
	setup_segments();
	setup_fpu();
	setup_syscall();
	make_values(args.seed);
	load_fpu();
	printf("cpustate: seed=%u avx=%s xcr0=0x%llx cr4=0x%llx efer=0x%llx seconds=%u\n",
	       args.seed, avx ? "yes" : "no", (unsigned long long)want.xcr0,
	       (unsigned long long)want.cr4, (unsigned long long)want.efer, args.seconds);
	/* Into user mode the way every return from a syscall goes */
	asm volatile("mov %0, %%rsp; sysretq"
		     /* as if called: the ABI's entry alignment */
		     : : "r"((uint64_t)user_stack + STACK_SIZE - 8), "c"(user_main), "r"(rflags)
		     : "memory");
	__builtin_unreachable();
}

#else /* the 32-bit half */

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	static struct cs_args a;
	const char *args = cmdline_args(mb_cmdline(mbi)), *source;

	EXPECT(magic == MB_BOOT_MAGIC);
	a.seconds = arg_u32(args, "seconds", 0);
	a.seed = arg_u32(args, "seed", 1);
	a.tsc_khz = tsc_khz(&source);
	if (!a.tsc_khz) {
		printf("FAIL cpustate: no TSC rate\n");
		exit(EXIT_FAIL);
	}
	printf("cpustate: tsc-khz=%u from %s\n", a.tsc_khz, source);
	enter_long_mode(mb_ram_top(mbi), BLOB64_BASE, &a);
}

#endif
