/* Facts about the running host that several parts of tern read. */
#ifndef TERN_HV_H
#define TERN_HV_H

#include "hv/boot.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0.0.0"
#endif

const struct boot_info *hv_boot_info(void);

#endif
