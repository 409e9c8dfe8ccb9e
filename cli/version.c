/* pindns version */
#include <stdio.h>

#include <sodium.h>
#include <yaml.h>
#include <openssl/opensslv.h>
#include <openssl/crypto.h>

#include "cli/cli.h"
#include "resolver/dot/dot.h"

int
pd_cmd_version(int argc, char **argv)
{
	const struct pd_dot_ops *dot = pd_dot_get(NULL, 0);

	printf("pindns %s\n", PD_VERSION);
	printf("getdns %s\n", dot != NULL && dot->version != NULL ?
	    dot->version() : "(backend unavailable)");
	printf("libyaml %s\n", yaml_get_version_string());
	printf("libsodium %s\n", sodium_version_string());
	printf("OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	return 0;
}
