/* lwIP includes <string.h>; in tern's freestanding build that is tern's own. Only lwIP's
 * objects see this directory. */
#include "hv/lib/string.h"
