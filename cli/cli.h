/* pindns CLI: one function per subcommand; argv[0] is the subcommand. */
#ifndef PD_CLI_H
#define PD_CLI_H

#include <stddef.h>
#include <stdint.h>

#define PD_VERSION "0.1.0"

int pd_cmd_version(int argc, char **argv);
/* Policy commands (cli/check.c, cli/keys.c, cli/pin.c). */
int pd_cmd_check(int argc, char **argv);
int pd_cmd_keygen(int argc, char **argv);
int pd_cmd_sign(int argc, char **argv);
int pd_cmd_verify(int argc, char **argv);
int pd_cmd_pin(int argc, char **argv);
/* pindns digest FILE...: the {path, sha256} a signed policy writes. */
int pd_cmd_digest(int argc, char **argv);
/* b[0..n-1] as lower-case hex into out (2 * n + 1 bytes). */
void pd_cli_hex(const uint8_t *b, size_t n, char *out);
/* pindns query (cli/query.c): exit 0 accepted, 1 usage, 2 refused,
 * 3 temporary failure, 4 absent. */
int pd_cmd_query(int argc, char **argv);

#endif /* PD_CLI_H */
