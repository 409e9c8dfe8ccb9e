/* pindns CLI: one function per subcommand; argv[0] is the subcommand. */
#ifndef PD_CLI_H
#define PD_CLI_H

#define PD_VERSION "0.1.0"

int pd_cmd_version(int argc, char **argv);
/* Policy commands (cli/check.c, cli/keys.c, cli/pin.c). */
int pd_cmd_check(int argc, char **argv);
int pd_cmd_keygen(int argc, char **argv);
int pd_cmd_sign(int argc, char **argv);
int pd_cmd_verify(int argc, char **argv);
int pd_cmd_pin(int argc, char **argv);
/* pindns query (cli/query.c): exit 0 accepted, 1 usage, 2 refused,
 * 3 temporary failure, 4 absent. */
int pd_cmd_query(int argc, char **argv);

#endif /* PD_CLI_H */
