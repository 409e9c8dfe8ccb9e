/*
 * Clock and sort helpers shared by the test tools (tests/tools/) and the
 * benchmarks (bench/): header-only, libc only, so the plain_* programs
 * that run under any preload can use them too.
 */
#ifndef PD_TOOLS_CLOCK_H
#define PD_TOOLS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t
pd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline double
pd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* qsort comparison of doubles, ascending. */
static inline int
pd_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif /* PD_TOOLS_CLOCK_H */
