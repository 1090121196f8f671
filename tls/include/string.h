/* mbedTLS includes <string.h>; in tern's freestanding build that is tern's own. */
#include "hv/lib/string.h"
