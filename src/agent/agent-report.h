/* agent-report.h — the agent's outcome report: what happened when this node tried an update, as POSTed to
 * the graph server's /v1/report (an Upkeep extension) and kept in the report spool until delivered:
 *   {"node": "<32 lower-case hex>", "group": "default", "stream": "stable", "basearch": "x86_64",
 *    "from_version": "41.2", "to_version": "41.3", "outcome": "rolled_back", "detail": "…",
 *    "failed_checks": ["01_dns.sh"], "time": 1767225600}
 * Pure: the report (fixed-size fields with caps), its validation, its JSON form both ways (the decoder
 * reads spool files back after a reboot, so it treats them as outside input), the retry schedule and the
 * meaning of the server's answer. report-spool.c queues and sends. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define REPORT_NODE_LEN 32                 /* lower-case hex digits */
#define REPORT_NAME_MAX 128                /* group, stream, basearch: bytes */
#define REPORT_VERSION_MAX 256             /* from_version, to_version: bytes */
#define REPORT_DETAIL_MAX 1024             /* bytes */
#define REPORT_CHECKS_MAX 32               /* failed_checks entries */
#define REPORT_CHECK_NAME_MAX 128          /* bytes */
#define REPORT_BODY_MAX (8 * 1024)         /* the encoded report, what the server accepts */
#define REPORT_TIME_MAX (INT64_C(1) << 40) /* unix seconds (about year 36812), as the server caps it */

typedef enum ReportOutcome {
        REPORT_SUCCEEDED,           /* the node booted the new release and it is healthy */
        REPORT_ROLLED_BACK,         /* health checks failed; the agent rolled back */
        REPORT_BOOT_FALLBACK,       /* the release did not boot; the bootloader fell back */
        REPORT_STAGE_FAILED,        /* staging the release failed */
        REPORT_MANUAL_INTERVENTION, /* red with nothing to roll back to: the agent stopped */
        _REPORT_OUTCOME_MAX,
        _REPORT_OUTCOME_INVALID = -EINVAL,
} ReportOutcome;

/* "succeeded", "rolled_back", "boot_fallback", "stage_failed", "manual_intervention"; NULL when out of
 * range. */
const char *report_outcome_to_string(ReportOutcome o);
ReportOutcome report_outcome_from_string(const char *s);

/* Every string is NUL-terminated within its array. A report is valid (report_validate()) when node is
 * REPORT_NODE_LEN lower-case hex digits; group, stream, basearch, from_version and to_version are
 * non-empty; every string is as text_clean() leaves it (valid UTF-8, no control or bidi characters);
 * outcome is known; 0 <= time <= REPORT_TIME_MAX; and
 * the encoding fits in REPORT_BODY_MAX. */
typedef struct OutcomeReport {
        char node[REPORT_NODE_LEN + 1];
        char group[REPORT_NAME_MAX + 1];
        char stream[REPORT_NAME_MAX + 1];
        char basearch[REPORT_NAME_MAX + 1];
        char from_version[REPORT_VERSION_MAX + 1];
        char to_version[REPORT_VERSION_MAX + 1];
        ReportOutcome outcome;
        char detail[REPORT_DETAIL_MAX + 1]; /* may be "" */
        char failed_checks[REPORT_CHECKS_MAX][REPORT_CHECK_NAME_MAX + 1];
        size_t n_failed_checks;
        int64_t time; /* unix seconds */
} OutcomeReport;

/* Fills r from its parts. The identifying fields (node, group, stream, basearch, versions) are copied
 * as they are and must then pass report_validate(): -EINVAL with e naming the field when one does not
 * fit or is invalid. detail and the check names are free text: cleaned by text_clean() (strutil.h:
 * control and bidi characters and invalid UTF-8 replaced) and cut at a character boundary to their caps;
 * names that clean to "" and names beyond REPORT_CHECKS_MAX are left out. r is written only on
 * success. */
int report_init(OutcomeReport *r, const char *node, const char *group, const char *stream,
                const char *basearch, const char *from_version, const char *to_version,
                ReportOutcome outcome, const char *detail, const char *const *failed_checks,
                size_t n_failed_checks, int64_t time, Error *e);

/* 0, or -EINVAL with e naming the first invalid field ("report: node: …"). */
int report_validate(const OutcomeReport *r, Error *e);

/* Appends the compact JSON body (no newline) to out. The report must be valid: -EINVAL with e
 * otherwise, -EMSGSIZE when the encoding exceeds REPORT_BODY_MAX, -ENOBUFS past out's cap, -ENOMEM. out
 * is unchanged on failure. */
int report_encode(const OutcomeReport *r, Buf *out, Error *e);
/* Decodes and validates len bytes (a spool file or a request body). Unknown members are ignored. -EINVAL
 * with e naming the member, -EFBIG over REPORT_BODY_MAX, -ENOMEM. *ret is written only on success. */
int report_decode(const char *data, size_t len, OutcomeReport *ret, Error *e);

/* The delay before retry number attempt + 1 (attempt 0: the first retry): 5 s doubling up to 1 h,
 * multiplied by 0.8 + 0.4 * jitter01 (jitter01 in [0, 1], clamped; NaN counts as 0.5). */
#define REPORT_BACKOFF_BASE_USEC (UINT64_C(5) * UINT64_C(1000000))
#define REPORT_BACKOFF_MAX_USEC (UINT64_C(3600) * UINT64_C(1000000))
uint64_t report_backoff_usec(unsigned attempt, double jitter01);

typedef enum ReportVerdict {
        REPORT_VERDICT_DONE,       /* 2xx: accepted or a duplicate; forget the report */
        REPORT_VERDICT_DROP,       /* the server will never take it (400, 413, other 4xx): forget it */
        REPORT_VERDICT_RETRY,      /* the server is busy or broken (408, 429, 5xx, 1xx, 3xx) */
        REPORT_VERDICT_RETRY_SLOW, /* 401, 403, 404: a token or URL an operator may fix; retry slowly */
        _REPORT_VERDICT_MAX,
} ReportVerdict;

/* What to do with a report after the server answered status. A network error (no status) is
 * REPORT_VERDICT_RETRY. */
ReportVerdict report_classify_status(long status);
/* "done", "drop", "retry", "retry_slow". */
const char *report_verdict_to_string(ReportVerdict v);
/* The attempt number at or above which a slow retry waits: report_backoff_usec(MAX(attempt,
 * REPORT_SLOW_ATTEMPT), …), about 5 minutes and more. */
#define REPORT_SLOW_ATTEMPT 6U
