/*
 * pindns preload: the cheap clock the per-thread caches expire by.
 */
#ifndef PD_PRELOAD_CLOCK_H
#define PD_PRELOAD_CLOCK_H

#include <stdint.h>
#include <time.h>

/*
 * Milliseconds on CLOCK_MONOTONIC_COARSE: a vDSO read, no system call,
 * a few ms of resolution, which is plenty for one-second caches. Never
 * returns 0 (0 means "never expires" / "not filled" to the callers).
 */
static inline uint64_t
pd_clock_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		return 1;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u +
	    1;
}

#endif /* PD_PRELOAD_CLOCK_H */
