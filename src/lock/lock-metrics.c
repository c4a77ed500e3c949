/* lock-metrics.c — renders upkeep-lock's /metrics text from a snapshot (see lock-metrics.h). */
#include "lock-metrics.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "macros.h"

static const char *const denial_kinds[_DENIAL_MAX] = {
        [DENIAL_FULL] = "failed_lock_semaphore_full",
        [DENIAL_OUTSIDE_WINDOW] = "outside_window",
        [DENIAL_PAUSED] = "group_paused",
};

static const char *const endpoints[_ENDPOINT_MAX] = {
        [ENDPOINT_PRE_REBOOT] = "pre-reboot",
        [ENDPOINT_STEADY_STATE] = "steady-state",
};

static const unsigned counted_codes[LOCK_N_COUNTED_CODES] = { 200, 400, 401, 403, 404, 423, 503 };

const char *denial_kind(Denial d)
{
        assert(d >= 0 && d < _DENIAL_MAX);
        return denial_kinds[d];
}

const char *fleetlock_endpoint_to_string(FleetLockEndpoint e)
{
        assert(e >= 0 && e < _ENDPOINT_MAX);
        return endpoints[e];
}

int lock_counted_code_index(unsigned status)
{
        for (size_t i = 0; i < ELEMENTSOF(counted_codes); i++)
                if (counted_codes[i] == status)
                        return (int)i;
        return -1;
}

void lock_group_metrics_set_state(LockGroupMetrics *g, const Semaphore *s, bool paused_in_config,
                                  int64_t now)
{
        g->stored = true;
        g->holders = s->n_holders;
        g->oldest_age = 0;
        for (size_t h = 0; h < s->n_holders; h++)
                if (s->holders[h].since && now - s->holders[h].since > g->oldest_age)
                        g->oldest_age = (double)(now - s->holders[h].since);
        g->paused = s->paused || paused_in_config;
}

static int format_requests(const LockMetrics *m, Buf *b)
{
        char code[8];
        int r;

        r = metrics_header(b, "upkeep_lock_requests_total", "counter",
                           "FleetLock requests by endpoint and status.");
        for (size_t i = 0; r >= 0 && i < _ENDPOINT_MAX; i++)
                for (size_t k = 0; r >= 0 && k < ELEMENTSOF(counted_codes); k++) {
                        const char *labels[] = { "endpoint", endpoints[i], "code", code, NULL };
                        snprintf(code, sizeof(code), "%u", counted_codes[k]);
                        r = metrics_sample_u64(b, "upkeep_lock_requests_total", labels, m->requests[i][k]);
                }
        if (r >= 0)
                r = metrics_header(b, "upkeep_lock_request_duration_seconds", "histogram",
                                   "Time to answer FleetLock requests.");
        if (r >= 0)
                r = histogram_write(b, "upkeep_lock_request_duration_seconds", NULL, m->latency);
        return r;
}

typedef enum GroupGauge {
        GAUGE_SLOTS,
        GAUGE_HOLDERS,
        GAUGE_OLDEST_AGE,
        GAUGE_PAUSED,
        GAUGE_WINDOW_OPEN,
        _GAUGE_MAX,
} GroupGauge;

static const struct {
        const char *name, *help;
} group_gauges[_GAUGE_MAX] = {
        [GAUGE_SLOTS] = { "upkeep_lock_slots", "Configured slots per group." },
        [GAUGE_HOLDERS] = { "upkeep_lock_holders", "Current holders per group." },
        [GAUGE_OLDEST_AGE] = { "upkeep_lock_oldest_holder_age_seconds",
                               "Age of the oldest holder per group (0 when none)." },
        [GAUGE_PAUSED] = { "upkeep_lock_paused", "Whether reboots are paused in the group." },
        [GAUGE_WINDOW_OPEN] = { "upkeep_lock_window_open",
                                "Whether the group's maintenance windows are open (1 when it has none)." },
};

static double gauge_value(const LockGroupMetrics *g, GroupGauge n)
{
        switch (n) {
        case GAUGE_SLOTS:
                return (double)g->slots;
        case GAUGE_HOLDERS:
                return g->stored ? (double)g->holders : NAN;
        case GAUGE_OLDEST_AGE:
                return g->stored ? g->oldest_age : NAN;
        case GAUGE_PAUSED:
                return g->stored ? (double)g->paused : NAN;
        case GAUGE_WINDOW_OPEN:
                return g->window_open;
        default:
                assert(false);
                return NAN;
        }
}

typedef enum GroupCounter {
        COUNTER_GRANTS,
        COUNTER_RELEASES,
        COUNTER_EXPIRATIONS,
        _COUNTER_MAX,
} GroupCounter;

static const struct {
        const char *name, *help;
} group_counters[_COUNTER_MAX] = {
        [COUNTER_GRANTS] = { "upkeep_lock_grants_total", "Slots granted." },
        [COUNTER_RELEASES] = { "upkeep_lock_releases_total", "Slots released by their holders." },
        [COUNTER_EXPIRATIONS] = { "upkeep_lock_expirations_total",
                                  "Slots released because their holder kept them past max_hold_secs." },
};

static uint64_t counter_value(const LockGroupCounters *c, GroupCounter n)
{
        return n == COUNTER_GRANTS ? c->grants : n == COUNTER_RELEASES ? c->releases : c->expirations;
}

static int format_groups(const LockMetrics *m, Buf *b)
{
        int r = 0;

        for (GroupGauge n = 0; r >= 0 && n < _GAUGE_MAX; n++) {
                r = metrics_header(b, group_gauges[n].name, "gauge", group_gauges[n].help);
                for (size_t i = 0; r >= 0 && i < m->n_groups; i++) {
                        const char *labels[] = { "group", m->groups[i].name, NULL };
                        r = metrics_sample(b, group_gauges[n].name, labels, gauge_value(&m->groups[i], n));
                }
        }
        for (GroupCounter n = 0; r >= 0 && n < _COUNTER_MAX; n++) {
                r = metrics_header(b, group_counters[n].name, "counter", group_counters[n].help);
                for (size_t i = 0; r >= 0 && i < m->n_groups; i++) {
                        const char *labels[] = { "group", m->groups[i].name, NULL };
                        r = metrics_sample_u64(b, group_counters[n].name, labels,
                                               counter_value(&m->groups[i].counters, n));
                }
        }
        if (r >= 0)
                r = metrics_header(b, "upkeep_lock_denials_total", "counter",
                                   "Lock requests denied, by kind.");
        for (size_t i = 0; r >= 0 && i < m->n_groups; i++)
                for (size_t k = 0; r >= 0 && k < _DENIAL_MAX; k++) {
                        const char *labels[] = { "group", m->groups[i].name, "kind", denial_kinds[k], NULL };
                        r = metrics_sample_u64(b, "upkeep_lock_denials_total", labels,
                                               m->groups[i].counters.denials[k]);
                }
        return r;
}

/* The backend's counters, without labels. */
static int format_backend(const LockMetrics *m, Buf *b)
{
        const struct {
                const char *name, *help;
                uint64_t value;
        } counters[] = {
                { "upkeep_lock_backend_errors_total",
                  "Backend operations that failed (the request got 503).", m->backend_errors },
                { "upkeep_lock_backend_conflicts_total",
                  "Compare-and-swap conflicts retried inside the backend.", m->backend_conflicts },
                { "upkeep_lock_backend_writes_total",
                  "Backend writes: SQLite transactions (one fsync each, for every group in it), etcd "
                  "compare-and-swap updates of one group.",
                  m->writes },
                { "upkeep_lock_backend_write_updates_total",
                  "FleetLock requests and expiry sweeps those writes carried (divided by the writes: "
                  "the mean batch).",
                  m->write_updates },
                { "upkeep_lock_backend_gather_waits_total",
                  "Writes (etcd) whose writer thread first waited for the load's usual number of requests.",
                  m->gather_waits },
                { "upkeep_lock_backend_gather_timeouts_total",
                  "Of those, writes that started short because the wait ran out (clients went away).",
                  m->gather_timeouts },
        };
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(counters); i++) {
                r = metrics_header(b, counters[i].name, "counter", counters[i].help);
                if (r >= 0)
                        r = metrics_sample_u64(b, counters[i].name, NULL, counters[i].value);
        }
        return r;
}

static int format_process(const LockMetrics *m, Buf *b)
{
        const uint64_t reloads[2] = { m->reloads_ok, m->reloads_failed };
        int r;

        r = metrics_header(b, "process_start_time_seconds", "gauge",
                           "Start time of the process since unix epoch in seconds.");
        if (r >= 0)
                r = metrics_sample(b, "process_start_time_seconds", NULL, (double)m->started_at);
        if (r >= 0)
                r = metrics_header(
                        b, "upkeep_lock_config_reloads_total", "counter",
                        "Configuration reloads (SIGHUP), by result: a failed one changed nothing.");
        for (size_t i = 0; r >= 0 && i < 2; i++) {
                const char *labels[] = { "result", i ? "failed" : "ok", NULL };
                r = metrics_sample_u64(b, "upkeep_lock_config_reloads_total", labels, reloads[i]);
        }
        if (r >= 0)
                r = metrics_header(b, "upkeep_lock_config_last_reload_successful", "gauge",
                                   "Whether the last configuration reload succeeded (1 before any).");
        if (r >= 0)
                r = metrics_sample(b, "upkeep_lock_config_last_reload_successful", NULL,
                                   m->last_reload_failed ? 0 : 1);
        return r;
}

int lock_metrics_format(const LockMetrics *m, Buf *out)
{
        int r;

        assert(m);
        assert(out);
        r = format_requests(m, out);
        if (r >= 0)
                r = format_groups(m, out);
        if (r >= 0)
                r = format_backend(m, out);
        if (r >= 0)
                r = format_process(m, out);
        return r;
}
