/* pindns CLI: one function per subcommand; argv[0] is the subcommand. */
#ifndef PD_CLI_H
#define PD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PD_VERSION "0.1.0"

/* Exit status of a usage or configuration error, in every subcommand. */
#define PD_EXIT_USAGE	1

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
/* pindns query (cli/query.c): exit 0 accepted, 1 usage or configuration
 * (no policy, an invalid one), 2 refused, 3 temporary failure, 4 absent. */
int pd_cmd_query(int argc, char **argv);
/* pindns status [PID...] (cli/status.c): 0 every process named (or at
 * least one found) has the preload, 1 usage, 2 otherwise. */
int pd_cmd_status(int argc, char **argv);
/* pindns serve (cli/serve.c): exit 0 on SIGTERM, 1 when it cannot start. */
int pd_cmd_serve(int argc, char **argv);

/*
 * cli/opt.c. pd_cli_usage_error prints "pindns CMD: MESSAGE", the usage
 * line and where to read more on stderr, and returns PD_EXIT_USAGE.
 * pd_cli_bad_option does it for what getopt_long returned ('?' or ':'),
 * naming the option. pd_cli_no_policy: when path does not exist, says so
 * on stderr with what to do (how: the way to name another, e.g. "-p
 * POLICY") and the shipped example's path, and returns true.
 */
int	pd_cli_usage_error(const char *cmd, const char *usage, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
int	pd_cli_bad_option(const char *cmd, const char *usage, int c,
	    char **argv);
bool	pd_cli_no_policy(const char *cmd, const char *path, const char *how);

/*
 * cli/record.c. The value of name in /proc/PID/environ into out: 1 set,
 * 0 unset, -1 with errno (not readable: root or the same user only).
 */
int	pd_cli_proc_env(long pid, const char *name, char *out, size_t size);
/*
 * The record of process pid (resolver/stats.h), from the runtime
 * directory its environment and uid give. 0: *v filled; -1: why says
 * why not (no such process, no record, a record not trusted).
 */
struct pd_stats_view;
int	pd_cli_record(long pid, struct pd_stats_view *v, char *why,
	    size_t whylen);
int	pd_cmd_stats(int argc, char **argv);

#endif /* PD_CLI_H */
