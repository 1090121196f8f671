/* mbedTLS includes <stdlib.h> for calloc and free only, which it reaches through
 * mbedtls_calloc/mbedtls_free (MBEDTLS_PLATFORM_MEMORY): nothing to declare. */
