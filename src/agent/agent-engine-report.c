/* agent-engine-report.c — the engine's outcome reports and bearer tokens (issues 13, 14): the spool of
 * [upkeep] report_url (report-spool.h), opened at the first status because its URL may name ${stream},
 * fed by the boot assessment and by abandoned stages; and the tokens for the lock server and the report
 * server, read once from their files (permissions checked as for every secret). A report never delays an
 * update or a rollback: enqueueing writes one small file and the spool's own thread sends it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent-engine-internal.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "strutil.h"
#include "time-util.h"
#include "worker-call.h"

#define TOKEN_FILE_MAX 4098 /* a token (4096 bytes) and its line ending */
#define REPORT_STOP_TIMEOUT_MS 2000

/* Reads one token file (read_token_file(): one line, trailing whitespace dropped), printable ASCII without
 * spaces. *ret stays NULL when path is NULL or empty. */
static int token_load(const char *key, const char *path, char **ret, Error *err)
{
        _cleanup_free_ char *data = NULL;
        Error warn = {}, e = {};
        int r;

        if (!path || !*path)
                return 0;
        r = read_token_file(path, TOKEN_FILE_MAX, &data, &warn, &e);
        if (r < 0 && r != -EINVAL)
                return error_setf(err, r, "upkeep.%s: %s", key, e.message);
        if (warn.message[0])
                log_warning("upkeep.%s: %s", key, warn.message);
        if (r < 0 || !worker_lock_token_valid(data))
                return error_setf(err, -EINVAL,
                                  "upkeep.%s: %s must hold one token: 1 to 4096 printable ASCII characters "
                                  "without spaces",
                                  key, path);
        *ret = TAKE_PTR(data);
        return 0;
}

int engine_tokens_load(Engine *e, Error *err)
{
        int r = token_load("lock_token_file", e->config->lock_token_file, &e->lock_token, err);
        if (r < 0)
                return r;
        return token_load("report_token_file", e->config->report_token_file, &e->report_token, err);
}

/* The spool's post(): one upkeep-agent-worker "report" action (the resident daemon does not link libcurl),
 * on the spool's thread. It does not take the engine's worker slot: stopping the agent kills it through
 * PR_SET_PDEATHSIG like every worker, and worker_call() kills it at its timeout. */
static int post_report(void *userdata, const char *url, const char *token, const char *body, size_t len,
                       unsigned timeout_ms, long *ret_status, Error *e)
{
        Engine *eng = userdata;
        _cleanup_free_ char *text = NULL, *copy = strndup(body, len);
        _cleanup_json_ json_t *res = NULL;
        json_t *args;
        int r;

        if (!copy)
                return error_setf(e, -ENOMEM, "out of memory");
        args = worker_report_args_new(url, token, copy);
        if (!args)
                return error_setf(e, -ENOMEM, "out of memory");
        r = worker_request_format(WORKER_COMMAND_REPORT, args, NULL, &text, e);
        if (r < 0)
                return r;
        r = worker_call(eng->worker_path, text, timeout_ms / 1000 + 5, NULL, NULL, NULL, &res, e);
        if (r < 0)
                return r;
        r = worker_result_check(res, NULL, e);
        if (r < 0)
                return r;
        if (worker_report_status(res, ret_status) < 0)
                return error_setf(e, -EBADMSG, "the worker's report reply has no HTTP status");
        error_setf(e, 0, "%s", json_string_value(json_object_get(res, "excerpt")) ?: "");
        return 0;
}

/* Opens and starts the spool once the stream is known (engine thread). A failure is logged once. */
static void reports_open(Engine *e)
{
        const AgentConfig *c = e->config;
        _cleanup_free_ char *url = NULL, *dir = NULL;
        char stream[AGENT_TEXT_MAX];
        ReportSpool *s = NULL;
        Error err = {};
        int r;

        if (e->reports || e->reports_broken || !c->report_url || !*c->report_url)
                return;
        pthread_mutex_lock(&e->lock);
        memcpy(stream, e->snap.stream, sizeof stream);
        pthread_mutex_unlock(&e->lock);
        if (!*stream)
                return; /* no status yet: the URL may need ${stream} */
        r = agent_config_expand_url(c->report_url, e->basearch, c->group, e->platform, stream, &url, &err);
        if (r >= 0 && asprintf(&dir, "%s/reports", c->state_dir) < 0)
                r = error_setf(&err, -ENOMEM, "out of memory");
        if (r >= 0 && (r = mkdir_p(c->state_dir, 0755)) < 0)
                error_setf(&err, r, "cannot create %s: %m", c->state_dir);
        if (r >= 0)
                r = report_spool_new(
                        &(ReportSpoolSetup){
                                .dir = dir,
                                .url = url,
                                .token = e->report_token,
                                .post = post_report,
                                .post_userdata = e,
                        },
                        &s, &err);
        if (r >= 0 && (r = report_spool_start(s, &err)) < 0)
                s = report_spool_free(s);
        if (r < 0) {
                log_error("outcome reports to %s are off: %s", c->report_url, err.message);
                e->reports_broken = true;
                return;
        }
        log_info("outcome reports go to %s (queued in %s)", url, dir);
        pthread_mutex_lock(&e->lock);
        e->reports = s;
        e->snap.reports.enabled = true;
        pthread_mutex_unlock(&e->lock);
}

void engine_reports_open(Engine *e)
{
        reports_open(e);
}

/* Splits "a, b" into at most REPORT_CHECKS_MAX names pointing into buf. */
static size_t split_names(char *buf, const char *names[REPORT_CHECKS_MAX])
{
        size_t n = 0;

        for (char *p = buf, *next; p && *p && n < REPORT_CHECKS_MAX; p = next) {
                next = strstr(p, ", ");
                if (next) {
                        *next = 0;
                        next += 2;
                }
                if (*p)
                        names[n++] = p;
        }
        return n;
}

void engine_report(Engine *e, ReportOutcome o, const char *from, const char *to, const char *detail,
                   const char *failed)
{
        char names_buf[AGENT_TEXT_MAX], stream[AGENT_TEXT_MAX];
        const char *names[REPORT_CHECKS_MAX];
        OutcomeReport rep;
        Error err = {};
        size_t n;
        int r;

        reports_open(e);
        if (!e->reports)
                return;
        snprintf(names_buf, sizeof names_buf, "%s", failed ? failed : "");
        n = split_names(names_buf, names);
        pthread_mutex_lock(&e->lock);
        memcpy(stream, e->snap.stream, sizeof stream);
        pthread_mutex_unlock(&e->lock);
        r = report_init(&rep, e->node_uuid, e->config->group, stream, e->basearch,
                        from && *from ? from : "-", to && *to ? to : "-", o, detail ? detail : "", names, n,
                        (int64_t)now_seconds(CLOCK_REALTIME), &err);
        if (r >= 0)
                r = report_spool_enqueue(e->reports, &rep, &err);
        if (r < 0)
                log_error("cannot queue the %s report for %s: %s", report_outcome_to_string(o),
                          rep.to_version, err.message);
        else if (r == REPORT_SPOOL_DROPPED_OLDEST)
                log_warning("outcome report queue full: %s", err.message);
        else
                log_info("queued the %s report for %s", report_outcome_to_string(o), to ? to : "-");
}

void engine_reports_stats(Engine *e, AgentReportInfo *info)
{
        ReportSpoolStats st;

        if (!e->reports)
                return;
        report_spool_get_stats(e->reports, &st);
        info->queued = st.queued;
        info->sent_total = st.sent_total;
        info->dropped_total = st.dropped_total;
        info->failures_total = st.failures_total;
}

void engine_reports_close(Engine *e)
{
        if (!e->reports)
                return;
        if (report_spool_stop(e->reports, REPORT_STOP_TIMEOUT_MS) == -ETIMEDOUT)
                log_warning("an outcome report was still being sent at exit; it is sent again at the next "
                            "start");
        e->reports = report_spool_free(e->reports);
}
