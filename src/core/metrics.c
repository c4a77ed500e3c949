/* metrics.c — Prometheus text exposition helpers (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <stdbool.h>
#include <stdio.h>

int metrics_header(Buf *b, const char *name, const char *type, const char *help)
{
        int r = buf_printf(b, "# HELP %s ", name);
        for (const char *p = help; r >= 0 && *p; p++) {
                if (*p == '\\')
                        r = buf_puts(b, "\\\\");
                else if (*p == '\n')
                        r = buf_puts(b, "\\n");
                else
                        r = buf_putc(b, *p);
        }
        if (r >= 0)
                r = buf_printf(b, "\n# TYPE %s %s\n", name, type);
        return r;
}

static int write_labels(Buf *b, const char *const *labels, const char *extra_name, const char *extra_value)
{
        bool any = false;
        int r = 0;

        if ((!labels || !labels[0]) && !extra_name)
                return 0;
        r = buf_putc(b, '{');
        for (size_t i = 0; r >= 0 && labels && labels[i] && labels[i + 1]; i += 2) {
                r = buf_printf(b, "%s%s=\"", any ? "," : "", labels[i]);
                for (const char *p = labels[i + 1]; r >= 0 && *p; p++) {
                        if (*p == '\\')
                                r = buf_puts(b, "\\\\");
                        else if (*p == '"')
                                r = buf_puts(b, "\\\"");
                        else if (*p == '\n')
                                r = buf_puts(b, "\\n");
                        else
                                r = buf_putc(b, *p);
                }
                if (r >= 0)
                        r = buf_putc(b, '"');
                any = true;
        }
        if (r >= 0 && extra_name)
                r = buf_printf(b, "%s%s=\"%s\"", any ? "," : "", extra_name, extra_value);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

static int format_value(double v, char *out, size_t n)
{
        if (isnan(v))
                return snprintf(out, n, "NaN"), 0;
        if (isinf(v))
                return snprintf(out, n, v > 0 ? "+Inf" : "-Inf"), 0;
        if (v == floor(v) && fabs(v) < 1e15)
                return snprintf(out, n, "%.0f", v), 0;
        return snprintf(out, n, "%.17g", v), 0;
}

int metrics_sample(Buf *b, const char *name, const char *const *labels, double value)
{
        char v[64];
        int r = buf_puts(b, name);
        if (r >= 0)
                r = write_labels(b, labels, NULL, NULL);
        format_value(value, v, sizeof(v));
        if (r >= 0)
                r = buf_printf(b, " %s\n", v);
        return r;
}

int metrics_sample_u64(Buf *b, const char *name, const char *const *labels, uint64_t value)
{
        int r = buf_puts(b, name);
        if (r >= 0)
                r = write_labels(b, labels, NULL, NULL);
        if (r >= 0)
                r = buf_printf(b, " %llu\n", (unsigned long long)value);
        return r;
}

int histogram_init(Histogram *h, const double *bounds, size_t n)
{
        if (n > HISTOGRAM_MAX_BUCKETS)
                return -EINVAL;
        for (size_t i = 1; i < n; i++)
                if (!(bounds[i] > bounds[i - 1]))
                        return -EINVAL;
        memset(h, 0, sizeof(*h));
        h->n_bounds = n;
        memcpy(h->bounds, bounds, n * sizeof(double));
        return 0;
}

void histogram_observe(Histogram *h, double v)
{
        size_t i = 0;
        while (i < h->n_bounds && v > h->bounds[i])
                i++;
        __atomic_add_fetch(&h->counts[i], 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
        if (v > 0 && v < 1e12)
                __atomic_add_fetch(&h->sum_micro, (uint64_t)llround(v * 1e6), __ATOMIC_RELAXED);
}

int histogram_write(Buf *b, const char *name, const char *const *labels, const Histogram *h)
{
        uint64_t cum = 0;
        char le[64];
        int r = 0;

        for (size_t i = 0; r >= 0 && i <= h->n_bounds; i++) {
                cum += __atomic_load_n(&h->counts[i], __ATOMIC_RELAXED);
                if (i < h->n_bounds)
                        format_value(h->bounds[i], le, sizeof(le));
                else
                        strcpy(le, "+Inf");
                r = buf_printf(b, "%s_bucket", name);
                if (r >= 0)
                        r = write_labels(b, labels, "le", le);
                if (r >= 0)
                        r = buf_printf(b, " %llu\n", (unsigned long long)cum);
        }
        if (r >= 0) {
                r = buf_printf(b, "%s_sum", name);
                if (r >= 0)
                        r = write_labels(b, labels, NULL, NULL);
                if (r >= 0)
                        r = buf_printf(b, " %.6f\n",
                                       (double)__atomic_load_n(&h->sum_micro, __ATOMIC_RELAXED) / 1e6);
        }
        if (r >= 0) {
                r = buf_printf(b, "%s_count", name);
                if (r >= 0)
                        r = write_labels(b, labels, NULL, NULL);
                if (r >= 0)
                        r = buf_printf(b, " %llu\n",
                                       (unsigned long long)__atomic_load_n(&h->count, __ATOMIC_RELAXED));
        }
        return r;
}
