/* metrics.h — Prometheus text exposition (format 0.0.4): writers for HELP/TYPE headers and samples
 * with escaped labels, and a lock-free fixed-bucket histogram that request threads update. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HISTOGRAM_MAX_BUCKETS 24

int metrics_header(Buf *b, const char *name, const char *type, const char *help);
/* labels: NULL-terminated list of alternating names and values, or NULL. */
int metrics_sample(Buf *b, const char *name, const char *const *labels, double value);
int metrics_sample_u64(Buf *b, const char *name, const char *const *labels, uint64_t value);

typedef struct Histogram {
        size_t n_bounds;
        double bounds[HISTOGRAM_MAX_BUCKETS];       /* upper bounds, ascending; +Inf is implicit */
        uint64_t counts[HISTOGRAM_MAX_BUCKETS + 1]; /* atomic; per bucket (not cumulative) */
        uint64_t count;                             /* atomic */
        uint64_t sum_micro;                         /* atomic: sum of observations * 1e6 */
} Histogram;

/* bounds must be ascending; at most HISTOGRAM_MAX_BUCKETS. Returns -EINVAL otherwise. */
int histogram_init(Histogram *h, const double *bounds, size_t n);
void histogram_observe(Histogram *h, double v);
/* Writes name_bucket{le=...}, name_sum and name_count (after the caller wrote the header). */
int histogram_write(Buf *b, const char *name, const char *const *labels, const Histogram *h);
