/* libFuzzer target for lib/kubeconfig: any input either parses into a
 * configuration or fails with a message, within the node limits. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kubeconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kubeconfig kc;
	struct kubeconfig_error err;
	char msg[320];
	int r = kubeconfig_parse((const char *)data, size, "/fuzz", &kc, &err);

	if (r == 0) {
		/* A parsed config always has what the applet relies on. */
		if (!kc.context || !kc.cluster || !kc.server)
			__builtin_trap();
		kubeconfig_free(&kc);
	} else {
		kubeconfig_strerror(&err, msg, sizeof(msg));
		if (r == -22 && !err.message[0])
			__builtin_trap();
	}
	return 0;
}
