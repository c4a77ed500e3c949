/* report-spool.h — the agent's outcome reports (agent-report.h), queued durably in a directory and POSTed to
 * the graph server by a sender thread, in order, with retries and backoff. A server that is down never
 * delays the caller: report_spool_enqueue() only writes a file and wakes the thread.
 *
 * The directory (the agent's state directory + "/reports", created 0700) holds one file per report, the
 * JSON body itself, named "r-<20-digit sequence>-<16 hex digits>.json": the sequence orders them, the
 * hex digits are a hash of (to_version, outcome), so the same outcome of the same update is queued once.
 * The files outlive the process: a new spool on the same directory sends what is left, and reads each
 * file back as outside input (a file that does not decode is dropped).
 *
 * The server's answer decides (report_classify_status()): 2xx deletes the file; 400 and other 4xx drop
 * it; 401/403/404 keep it and retry slowly (from about 5 minutes: a token or URL an operator may fix);
 * 408, 429, 5xx and network errors keep it and retry with report_backoff_usec(). The head of the queue is
 * retried before anything behind it is sent.
 *
 * Library code: nothing is logged; the counters and the last error (report_spool_get_stats()) are for
 * the agent's log and metrics. */
#pragma once

#include <stdint.h>

#include "error.h"
#include "agent-report.h"

#define REPORT_SPOOL_MAX_QUEUED_DEFAULT 256U
#define REPORT_SPOOL_POST_TIMEOUT_MS_DEFAULT 10000U
/* The most report files a directory scan considers; more is an error (something else fills the
 * directory). */
#define REPORT_SPOOL_SCAN_MAX 4096U

typedef struct ReportSpool ReportSpool;

typedef struct ReportSpoolSetup {
        const char *dir;     /* required; created 0700 when missing (its parent must exist) */
        const char *url;     /* required: http:// or https://, e.g. "http://graph.example/v1/report" */
        const char *token;   /* "Authorization: Bearer <token>"; NULL or "" = none */
        unsigned max_queued; /* 0 = REPORT_SPOOL_MAX_QUEUED_DEFAULT */
        /* Sends one report: POSTs body (JSON, len bytes) to url with "Authorization: Bearer <token>" when
         * token is not NULL, within timeout_ms. 0 with *ret_status when the server answered (e may carry
         * the start of its answer), or a negative errno with e (no answer). Called on the sender thread
         * only. Required: the daemon runs it in its worker (the resident agent does not link libcurl);
         * tests POST directly. */
        int (*post)(void *userdata, const char *url, const char *token, const char *body, size_t len,
                    unsigned timeout_ms, long *ret_status, Error *e);
        void *post_userdata;
        /* One POST, connecting included; 0 = REPORT_SPOOL_POST_TIMEOUT_MS_DEFAULT. */
        unsigned post_timeout_ms;
        /* The delay before retry attempt + 1; NULL = report_backoff_usec (tests pass a faster one). */
        uint64_t (*backoff)(unsigned attempt, double jitter01);
} ReportSpoolSetup;

typedef struct ReportSpoolStats {
        unsigned queued;        /* report files waiting now */
        uint64_t sent_total;    /* accepted by the server (2xx) */
        uint64_t dropped_total; /* refused by the server (4xx), unreadable, or pushed out by max_queued */
        /* POSTs that will be retried (network errors, 401/403/404, 408, 429, 5xx) */
        uint64_t failures_total;
        long last_status;                   /* the last HTTP status received, 0 when none yet */
        char last_error[ERROR_MESSAGE_MAX]; /* the last failure or drop, "" when none yet */
} ReportSpoolStats;

/* Creates the directory when missing, removes temporary files a crash left in it, and counts what is
 * queued. The sender does not run until report_spool_start(). -EINVAL (bad setup: no dir or URL, a
 * token with control characters), or the errno of mkdir/opendir, with e. */
int report_spool_new(const ReportSpoolSetup *setup, ReportSpool **ret, Error *e);

/* report_spool_enqueue()'s positive results: */
#define REPORT_SPOOL_ALREADY_QUEUED 1 /* a report with this (to_version, outcome) is waiting: unchanged */
#define REPORT_SPOOL_DROPPED_OLDEST 2 /* queued; the oldest report(s) were dropped, e says which */
/* Validates and writes r as a new file (atomically, fsync'd) and wakes the sender. 0 when queued, or
 * one of the positive values above, or a negative errno with e (-EINVAL/-EMSGSIZE: invalid report; the
 * errno of a failed write). Never waits for the network. */
int report_spool_enqueue(ReportSpool *s, const OutcomeReport *r, Error *e);

/* Starts the sender thread, which inherits the caller's signal mask: a daemon starts it after
 * daemon_event_new() has blocked the signals it handles. -EALREADY when already started (or stopped)
 * once; the errno of pthread_create with e. */
int report_spool_start(ReportSpool *s, Error *e);

/* Tells the sender to stop and waits for it at most timeout_ms. 0 when it ended (or never ran);
 * -ETIMEDOUT when it is still inside a POST: it is then left to end on its own when the POST returns
 * (at most post_timeout_ms), touching nothing but its file and the spool it keeps alive. The spool
 * cannot be started again. */
int report_spool_stop(ReportSpool *s, unsigned timeout_ms);

/* Stops the sender without waiting (report_spool_stop(s, 0)) and drops the caller's reference. NULL. */
ReportSpool *report_spool_free(ReportSpool *s);

void report_spool_get_stats(ReportSpool *s, ReportSpoolStats *ret);
