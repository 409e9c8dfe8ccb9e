/*
 * pindns unit tests: what several test programs share. Every file of
 * tests/unit/ not named test_* is linked into each unit test.
 */
#ifndef PD_TEST_LAB_H
#define PD_TEST_LAB_H

#include <stdbool.h>

/*
 * Read the lab's variables (KEY=VALUE lines) from $PINDNS_LAB_ENV
 * (tests/run sets it for tests tagged `lab`; bench/run for bench_dot),
 * once per process. false when it is not set or cannot be read.
 */
bool pd_lab_load(void);

/* The value of KEY in the lab's variables, valid until the process
 * ends, or NULL when the lab has no KEY. */
const char *pd_lab_opt(const char *key);

/* KEY's value as a port number, 0 when the lab has no KEY. */
int pd_lab_port(const char *key);

/* pd_lab_opt(), but prints "not ok" and exits when KEY is missing. */
const char *pd_lab(const char *key);

/* Size of the path buffers pd_lab_begin() fills. */
#define PD_LAB_PATH	300

/*
 * The start of a test that runs against the lab: read the lab's variables
 * (pd_lab_load), make a temporary directory (dir is a mkdtemp template,
 * changed in place) and put the paths DIR/policy.yaml and DIR/audit.log
 * into policy and auditlog (PD_LAB_PATH bytes each). false when the
 * variables cannot be read (the caller reports it) or the directory
 * cannot be made.
 */
bool pd_lab_begin(char *dir, char *policy, char *auditlog);

/* Remove the directory pd_lab_begin() made, and all in it. */
void pd_lab_end(const char *dir);

/*
 * Write a file whole: the text goes to PATH.tmp, which is then renamed
 * over PATH (a new inode: a reader never sees half of it, and a policy
 * watch sees the change within the same second). Exits on failure.
 */
void pd_test_write(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* PD_TEST_LAB_H */
