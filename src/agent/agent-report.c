/* agent-report.c — the agent's outcome report (agent-report.h): validation, the JSON body both ways, the
 * retry schedule and the verdict on the server's answer. Pure: report-spool.c does the files and the HTTP.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "strutil.h"
#include "agent-report.h"

static const char *const outcome_names[_REPORT_OUTCOME_MAX] = {
        [REPORT_SUCCEEDED] = "succeeded",
        [REPORT_ROLLED_BACK] = "rolled_back",
        [REPORT_BOOT_FALLBACK] = "boot_fallback",
        [REPORT_STAGE_FAILED] = "stage_failed",
        [REPORT_MANUAL_INTERVENTION] = "manual_intervention",
};

static const char *const verdict_names[_REPORT_VERDICT_MAX] = {
        [REPORT_VERDICT_DONE] = "done",
        [REPORT_VERDICT_DROP] = "drop",
        [REPORT_VERDICT_RETRY] = "retry",
        [REPORT_VERDICT_RETRY_SLOW] = "retry_slow",
};

const char *report_outcome_to_string(ReportOutcome o)
{
        if (o < 0 || o >= _REPORT_OUTCOME_MAX)
                return NULL;
        return outcome_names[o];
}

ReportOutcome report_outcome_from_string(const char *s)
{
        if (!s)
                return _REPORT_OUTCOME_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(outcome_names); i++)
                if (streq(s, outcome_names[i]))
                        return (ReportOutcome)i;
        return _REPORT_OUTCOME_INVALID;
}

const char *report_verdict_to_string(ReportVerdict v)
{
        if (v < 0 || v >= _REPORT_VERDICT_MAX)
                return NULL;
        return verdict_names[v];
}

/* Copies s into out (max bytes and a NUL), cleaned by text_clean(): control characters and invalid
 * UTF-8 replaced, cut at a character boundary. */
static void clean_text(const char *s, char *out, size_t max)
{
        (void)text_clean(out, max + 1, s, strlen(s), 0);
}

/* Checks one string field: NUL-terminated within size bytes, non-empty when required, and kept as it is
 * by text_clean() (valid UTF-8, no control or bidi characters). */
static int check_text(const char *field, const char *s, size_t size, bool required, Error *e)
{
        size_t n = strnlen(s, size);

        if (n == size)
                return error_setf(e, -EINVAL, "report: %s: longer than %zu bytes", field, size - 1);
        if (required && n == 0)
                return error_setf(e, -EINVAL, "report: %s: empty", field);
        if (!text_is_clean(s, n, 0))
                return error_setf(e, -EINVAL, "report: %s: invalid UTF-8 or a control character", field);
        return 0;
}

static int check_node(const char *node, Error *e)
{
        size_t n = strnlen(node, REPORT_NODE_LEN + 1);

        if (n != REPORT_NODE_LEN)
                return error_setf(e, -EINVAL,
                                  "report: node: expected %d lower-case hex digits, got %zu%s bytes",
                                  REPORT_NODE_LEN, n, n > REPORT_NODE_LEN ? " or more" : "");
        for (size_t i = 0; i < n; i++)
                if (!((node[i] >= '0' && node[i] <= '9') || (node[i] >= 'a' && node[i] <= 'f')))
                        return error_setf(e, -EINVAL, "report: node: byte %zu is not a lower-case hex digit",
                                          i);
        return 0;
}

/* Everything but the encoded size. */
static int validate_fields(const OutcomeReport *r, Error *e)
{
        int k;

        k = check_node(r->node, e);
        if (k == 0)
                k = check_text("group", r->group, sizeof r->group, true, e);
        if (k == 0)
                k = check_text("stream", r->stream, sizeof r->stream, true, e);
        if (k == 0)
                k = check_text("basearch", r->basearch, sizeof r->basearch, true, e);
        if (k == 0)
                k = check_text("from_version", r->from_version, sizeof r->from_version, true, e);
        if (k == 0)
                k = check_text("to_version", r->to_version, sizeof r->to_version, true, e);
        if (k == 0 && !report_outcome_to_string(r->outcome))
                k = error_setf(e, -EINVAL, "report: outcome: unknown value %d", (int)r->outcome);
        if (k == 0)
                k = check_text("detail", r->detail, sizeof r->detail, false, e);
        if (k == 0 && r->n_failed_checks > REPORT_CHECKS_MAX)
                k = error_setf(e, -EINVAL, "report: failed_checks: %zu names, at most %d",
                               r->n_failed_checks, REPORT_CHECKS_MAX);
        for (size_t i = 0; k == 0 && i < r->n_failed_checks; i++) {
                char field[32];

                snprintf(field, sizeof field, "failed_checks[%zu]", i);
                k = check_text(field, r->failed_checks[i], sizeof r->failed_checks[i], true, e);
        }
        if (k == 0 && (r->time < 0 || r->time > REPORT_TIME_MAX))
                k = error_setf(e, -EINVAL, "report: time: %lld is not within 0 to %lld", (long long)r->time,
                               (long long)REPORT_TIME_MAX);
        return k;
}

/* The JSON text of a report whose fields are valid, from json_dumps(): free() it. */
static char *dump(const OutcomeReport *r)
{
        _cleanup_json_ json_t *obj = NULL, *checks = NULL;
        int k = 0;

        checks = json_array();
        if (!checks)
                return NULL;
        for (size_t i = 0; k == 0 && i < r->n_failed_checks; i++)
                k = json_array_append_new(checks, json_string(r->failed_checks[i]));
        if (k < 0)
                return NULL;
        obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:I}", "node", r->node, "group",
                        r->group, "stream", r->stream, "basearch", r->basearch, "from_version",
                        r->from_version, "to_version", r->to_version, "outcome",
                        report_outcome_to_string(r->outcome), "detail", r->detail, "failed_checks", checks,
                        "time", (json_int_t)r->time);
        if (!obj)
                return NULL;
        return json_dumps(obj, JSON_COMPACT);
}

int report_encode(const OutcomeReport *r, Buf *out, Error *e)
{
        _cleanup_free_ char *text = NULL;
        size_t n;
        int k;

        assert(r);
        assert(out);
        k = validate_fields(r, e);
        if (k < 0)
                return k;
        text = dump(r);
        if (!text)
                return error_setf(e, -ENOMEM, "report: encoding: %m");
        n = strlen(text);
        if (n > REPORT_BODY_MAX)
                return error_setf(e, -EMSGSIZE, "report: %zu bytes encoded, at most %d", n, REPORT_BODY_MAX);
        k = buf_append(out, text, n);
        if (k < 0)
                return error_setf(e, k, "report: encoding: %m");
        return 0;
}

int report_validate(const OutcomeReport *r, Error *e)
{
        Buf b = BUF_INIT(REPORT_BODY_MAX);
        int k;

        assert(r);
        k = report_encode(r, &b, e);
        buf_free(&b);
        return k;
}

/* Copies s into the size bytes at dst, or fails naming field. */
static int copy_field(const char *field, const char *s, char *dst, size_t size, Error *e)
{
        if (!s)
                return error_setf(e, -EINVAL, "report: %s: missing", field);
        if (strlen(s) >= size)
                return error_setf(e, -EINVAL, "report: %s: longer than %zu bytes", field, size - 1);
        memcpy(dst, s, strlen(s) + 1);
        return 0;
}

int report_init(OutcomeReport *r, const char *node, const char *group, const char *stream,
                const char *basearch, const char *from_version, const char *to_version,
                ReportOutcome outcome, const char *detail, const char *const *failed_checks,
                size_t n_failed_checks, int64_t time, Error *e)
{
        _cleanup_free_ OutcomeReport *n = NULL;
        int k;

        assert(r);
        assert(failed_checks || n_failed_checks == 0);
        n = calloc(1, sizeof *n);
        if (!n)
                return error_setf(e, -ENOMEM, "report: %m");
        k = copy_field("node", node, n->node, sizeof n->node, e);
        if (k == 0)
                k = copy_field("group", group, n->group, sizeof n->group, e);
        if (k == 0)
                k = copy_field("stream", stream, n->stream, sizeof n->stream, e);
        if (k == 0)
                k = copy_field("basearch", basearch, n->basearch, sizeof n->basearch, e);
        if (k == 0)
                k = copy_field("from_version", from_version, n->from_version, sizeof n->from_version, e);
        if (k == 0)
                k = copy_field("to_version", to_version, n->to_version, sizeof n->to_version, e);
        if (k < 0)
                return k;
        n->outcome = outcome;
        clean_text(detail ? detail : "", n->detail, REPORT_DETAIL_MAX);
        for (size_t i = 0; i < MIN(n_failed_checks, (size_t)REPORT_CHECKS_MAX); i++) {
                clean_text(failed_checks[i] ? failed_checks[i] : "", n->failed_checks[n->n_failed_checks],
                           REPORT_CHECK_NAME_MAX);
                if (n->failed_checks[n->n_failed_checks][0])
                        n->n_failed_checks++;
        }
        n->time = time;
        k = report_validate(n, e);
        if (k < 0)
                return k;
        *r = *n;
        return 0;
}

/* Copies the string member key of obj into the size bytes at dst. */
static int decode_text(const json_t *obj, const char *key, bool required, char *dst, size_t size, Error *e)
{
        const char *s = "";
        int k;

        k = json_member_string(obj, key, required, "report", &s, e);
        if (k == -ENOENT && !required)
                k = 0;
        if (k < 0)
                return k;
        if (strlen(s) >= size)
                return error_setf(e, -EINVAL, "report: %s: longer than %zu bytes", key, size - 1);
        memcpy(dst, s, strlen(s) + 1);
        return 0;
}

static int decode_checks(const json_t *obj, OutcomeReport *r, Error *e)
{
        json_t *arr = NULL, *v;
        size_t i;
        int k;

        k = json_member_array(obj, "failed_checks", false, "report", &arr, e);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return k;
        if (json_array_size(arr) > REPORT_CHECKS_MAX)
                return error_setf(e, -EINVAL, "report: failed_checks: %zu names, at most %d",
                                  json_array_size(arr), REPORT_CHECKS_MAX);
        json_array_foreach(arr, i, v) {
                if (!json_is_string(v))
                        return error_setf(e, -EINVAL,
                                          "report: failed_checks[%zu]: expected a string, got %s", i,
                                          json_type_name(v));
                if (json_string_length(v) > REPORT_CHECK_NAME_MAX)
                        return error_setf(e, -EINVAL, "report: failed_checks[%zu]: longer than %d bytes", i,
                                          REPORT_CHECK_NAME_MAX);
                memcpy(r->failed_checks[i], json_string_value(v), json_string_length(v) + 1);
                r->n_failed_checks++;
        }
        return 0;
}

static int decode_object(const json_t *root, OutcomeReport *r, Error *e)
{
        const char *outcome = NULL;
        int k;

        k = decode_text(root, "node", true, r->node, sizeof r->node, e);
        if (k == 0)
                k = decode_text(root, "group", true, r->group, sizeof r->group, e);
        if (k == 0)
                k = decode_text(root, "stream", true, r->stream, sizeof r->stream, e);
        if (k == 0)
                k = decode_text(root, "basearch", true, r->basearch, sizeof r->basearch, e);
        if (k == 0)
                k = decode_text(root, "from_version", true, r->from_version, sizeof r->from_version, e);
        if (k == 0)
                k = decode_text(root, "to_version", true, r->to_version, sizeof r->to_version, e);
        if (k == 0)
                k = json_member_string(root, "outcome", true, "report", &outcome, e);
        if (k == 0 && (r->outcome = report_outcome_from_string(outcome)) < 0)
                k = error_setf(e, -EINVAL, "report: outcome: unknown value \"%.64s\"", outcome);
        if (k == 0)
                k = decode_text(root, "detail", false, r->detail, sizeof r->detail, e);
        if (k == 0)
                k = decode_checks(root, r, e);
        if (k == 0)
                k = json_member_int(root, "time", true, "report", 0, REPORT_TIME_MAX, &r->time, e);
        return k;
}

int report_decode(const char *data, size_t len, OutcomeReport *ret, Error *e)
{
        _cleanup_free_ OutcomeReport *r = NULL;
        _cleanup_json_ json_t *root = NULL;
        int k;

        assert(data || len == 0);
        assert(ret);
        if (len > REPORT_BODY_MAX)
                return error_setf(e, -EFBIG, "report: %zu bytes, at most %d", len, REPORT_BODY_MAX);
        r = calloc(1, sizeof *r);
        if (!r)
                return error_setf(e, -ENOMEM, "report: %m");
        k = json_parse_strict(data, len, &root, e);
        if (k < 0)
                return k == -ENOMEM ? k : error_prefixf(e, -EINVAL, "report");
        if (!json_is_object(root))
                return error_setf(e, -EINVAL, "report: expected an object, got %s", json_type_name(root));
        k = decode_object(root, r, e);
        if (k == 0)
                k = report_validate(r, e);
        if (k < 0)
                return k == -ENOMEM ? k : -EINVAL;
        *ret = *r;
        return 0;
}

uint64_t report_backoff_usec(unsigned attempt, double jitter01)
{
        uint64_t d = REPORT_BACKOFF_BASE_USEC;
        double factor;

        if (isnan(jitter01))
                jitter01 = 0.5;
        jitter01 = CLAMP(jitter01, 0.0, 1.0);
        for (unsigned i = 0; i < attempt && d < REPORT_BACKOFF_MAX_USEC; i++)
                d *= 2;
        d = MIN(d, REPORT_BACKOFF_MAX_USEC);
        factor = 0.8 + 0.4 * jitter01;
        return (uint64_t)((double)d * factor + 0.5);
}

ReportVerdict report_classify_status(long status)
{
        if (status >= 200 && status <= 299)
                return REPORT_VERDICT_DONE;
        if (status == 401 || status == 403 || status == 404)
                return REPORT_VERDICT_RETRY_SLOW;
        if (status == 408 || status == 429)
                return REPORT_VERDICT_RETRY;
        if (status >= 400 && status <= 499)
                return REPORT_VERDICT_DROP;
        return REPORT_VERDICT_RETRY; /* 5xx, and 1xx/3xx/nonsense a proxy may produce */
}
