/*
 * pindns unit tests: a tiny TAP-speaking runner (the dialect tests/run
 * reads). Header-only; include once per test program.
 *
 *	T_OK(cond, "what")             ok - what / not ok - what + detail
 *	T_EQ_INT(got, want, "what")    shows expected and got on failure
 *	T_EQ_STR(got, want, "what")
 *	return t_done();               exit status: 0 if nothing failed
 */
#ifndef PD_TAP_H
#define PD_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int t_failed, t_passed;

__attribute__((format(printf, 4, 5))) static int
t_report(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf(pass ? "ok - " : "not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass)
		printf("#   at %s:%d\n", file, line);
	if (pass)
		t_passed++;
	else
		t_failed++;
	fflush(stdout);
	return pass;
}

#define T_OK(cond, ...) t_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define T_EQ_INT(got, want, ...) do {					\
	long long t_g_ = (long long)(got), t_w_ = (long long)(want);	\
	if (!t_report(t_g_ == t_w_, __FILE__, __LINE__, __VA_ARGS__))	\
		printf("#   expected: %lld\n#   got:      %lld\n",	\
		    t_w_, t_g_);					\
} while (0)

#define T_EQ_STR(got, want, ...) do {					\
	const char *t_g_ = (got), *t_w_ = (want);			\
	int t_p_ = (t_g_ == NULL && t_w_ == NULL) ||			\
	    (t_g_ != NULL && t_w_ != NULL && strcmp(t_g_, t_w_) == 0);	\
	if (!t_report(t_p_, __FILE__, __LINE__, __VA_ARGS__))		\
		printf("#   expected: %s\n#   got:      %s\n",		\
		    t_w_ ? t_w_ : "(null)", t_g_ ? t_g_ : "(null)");	\
} while (0)

static int
t_done(void)
{
	printf("# %d passed, %d failed\n", t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif /* PD_TAP_H */
