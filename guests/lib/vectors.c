#include "guests/lib/guest.h"
#include "guests/lib/probe.h"
#include "guests/lib/trap.h"

/* Mnemonics from SDM 3A, table 6-1 */
static const char *const names[NR_EXCEPTIONS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	"#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

const char *vector_name(int vector)
{
	if (vector < 0)
		return "no exception";
	return vector < NR_EXCEPTIONS ? names[vector] : "#?";
}

void unexpected_exception(int vector, uint64_t ip, uint64_t error, uint64_t cr2)
{
	printf("FAIL exception %d (%s) ip=0x%llx error=0x%llx cr2=0x%llx\n", vector,
	       vector_name(vector), (unsigned long long)ip, (unsigned long long)error,
	       (unsigned long long)cr2);
	exit(EXIT_EXCEPTION);
}
