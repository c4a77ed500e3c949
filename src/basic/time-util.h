/* time-util.h — the one place Upkeep reads a clock and converts between time units. Header-only: the
 * pure cores may use the conversions, and a now_*() call in one of them shows up as clock_gettime in its
 * library's undefined symbols, which the purity check (tests/check-purity.py) refuses. */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define NSEC_PER_USEC UINT64_C(1000)
#define NSEC_PER_MSEC UINT64_C(1000000)
#define NSEC_PER_SEC UINT64_C(1000000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define MSEC_PER_SEC UINT64_C(1000)

static inline uint64_t timespec_to_nsec(const struct timespec *ts)
{
        return (uint64_t)ts->tv_sec * NSEC_PER_SEC + (uint64_t)ts->tv_nsec;
}

static inline struct timespec timespec_from_nsec(uint64_t nsec)
{
        return (struct timespec){ .tv_sec = (time_t)(nsec / NSEC_PER_SEC),
                                  .tv_nsec = (long)(nsec % NSEC_PER_SEC) };
}

/* The clock's time in nanoseconds, microseconds, milliseconds or (fractional) seconds. CLOCK_MONOTONIC for
 * durations and deadlines, CLOCK_REALTIME for what is shown to people or compared with wall-clock data. */
static inline uint64_t now_nsec(clockid_t clock)
{
        struct timespec ts;

        (void)clock_gettime(clock, &ts); /* cannot fail for the clocks used here */
        return timespec_to_nsec(&ts);
}

static inline usec_t now_usec(clockid_t clock)
{
        return now_nsec(clock) / NSEC_PER_USEC;
}

static inline uint64_t now_msec(clockid_t clock)
{
        return now_nsec(clock) / NSEC_PER_MSEC;
}

static inline double now_seconds(clockid_t clock)
{
        return (double)now_nsec(clock) / (double)NSEC_PER_SEC;
}

/* The wall clock in whole seconds since the epoch, as the decisions that compare with wall-clock data
 * (holder ages, windows, rollouts) take it. */
static inline int64_t now_unix(void)
{
        return (int64_t)(now_nsec(CLOCK_REALTIME) / NSEC_PER_SEC);
}
