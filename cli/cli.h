/* pindns CLI: one function per subcommand; argv[0] is the subcommand. */
#ifndef PD_CLI_H
#define PD_CLI_H

#define PD_VERSION "0.1.0"

int pd_cmd_version(int argc, char **argv);

#endif /* PD_CLI_H */
