/* time-util.h — the one place Upkeep reads a clock, converts between time units and formats times and
 * durations for people. Header-only: the
 * pure cores may use the conversions, and a now_*() call in one of them shows up as clock_gettime in its
 * library's undefined symbols, which the purity check (tests/check-purity.py) refuses. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Seconds since the epoch t as "2026-12-02 19:30:00 UTC" into out (n bytes), or as the number when it is no
 * date (negative, past year 9999, or out too small). */
static inline void format_timestamp_utc(int64_t t, char *out, size_t n)
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (t < 0 || t > INT64_C(253402300799) || !gmtime_r(&tt, &tm) ||
            strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(out, n, "%lld", (long long)t);
}

/* A duration in seconds, its two largest units, into out (n bytes): "3d 4h", "2h 5m", "4m 10s", "7s";
 * a negative one as "0s". */
static inline void format_duration_short(int64_t secs, char *out, size_t n)
{
        if (secs < 0)
                secs = 0;
        if (secs >= 86400)
                snprintf(out, n, "%lldd %lldh", (long long)(secs / 86400), (long long)(secs % 86400 / 3600));
        else if (secs >= 3600)
                snprintf(out, n, "%lldh %lldm", (long long)(secs / 3600), (long long)(secs % 3600 / 60));
        else if (secs >= 60)
                snprintf(out, n, "%lldm %llds", (long long)(secs / 60), (long long)(secs % 60));
        else
                snprintf(out, n, "%llds", (long long)secs);
}
