/* test-agent-report.c — unit tests for the agent's outcome report (src/agent/agent-report.c): the outcome
 * names, building a report (cleaning of free text, caps), every validation error naming its field, the JSON
 * body both ways (round trip, rejected spool files, the 8 KiB cap), the retry schedule's bounds and the
 * verdict on each HTTP status. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent-report.h"

#define NODE "0123456789abcdef0123456789abcdef"

static void make(OutcomeReport *r)
{
        const char *checks[] = { "01_dns.sh", "kubelet.service" };
        Error e = {};

        if (report_init(r, NODE, "default", "stable", "x86_64", "41.2", "41.3", REPORT_ROLLED_BACK,
                        "required check failed", checks, 2, 1767225600, &e) < 0)
                fail_msg("report_init: %s", e.message);
}

static void assert_same_report(const OutcomeReport *a, const OutcomeReport *b)
{
        assert_string_equal(a->node, b->node);
        assert_string_equal(a->group, b->group);
        assert_string_equal(a->stream, b->stream);
        assert_string_equal(a->basearch, b->basearch);
        assert_string_equal(a->from_version, b->from_version);
        assert_string_equal(a->to_version, b->to_version);
        assert_int_equal(a->outcome, b->outcome);
        assert_string_equal(a->detail, b->detail);
        assert_int_equal(a->n_failed_checks, b->n_failed_checks);
        for (size_t i = 0; i < a->n_failed_checks; i++)
                assert_string_equal(a->failed_checks[i], b->failed_checks[i]);
        assert_int_equal(a->time, b->time);
}

static void test_outcome_names(void **state)
{
        assert_string_equal(report_outcome_to_string(REPORT_SUCCEEDED), "succeeded");
        assert_string_equal(report_outcome_to_string(REPORT_ROLLED_BACK), "rolled_back");
        assert_string_equal(report_outcome_to_string(REPORT_BOOT_FALLBACK), "boot_fallback");
        assert_string_equal(report_outcome_to_string(REPORT_STAGE_FAILED), "stage_failed");
        assert_string_equal(report_outcome_to_string(REPORT_MANUAL_INTERVENTION), "manual_intervention");
        assert_null(report_outcome_to_string(_REPORT_OUTCOME_MAX));
        assert_null(report_outcome_to_string(_REPORT_OUTCOME_INVALID));
        for (int o = 0; o < _REPORT_OUTCOME_MAX; o++)
                assert_int_equal(report_outcome_from_string(report_outcome_to_string(o)), o);
        assert_int_equal(report_outcome_from_string("rolled-back"), -EINVAL);
        assert_int_equal(report_outcome_from_string(""), -EINVAL);
        assert_int_equal(report_outcome_from_string(NULL), -EINVAL);
        assert_string_equal(report_verdict_to_string(REPORT_VERDICT_RETRY_SLOW), "retry_slow");
        assert_null(report_verdict_to_string(_REPORT_VERDICT_MAX));
}

static void test_init_cleans(void **state)
{
        const char *checks[REPORT_CHECKS_MAX + 3];
        char long_detail[REPORT_DETAIL_MAX + 100], long_name[REPORT_CHECK_NAME_MAX + 10];
        OutcomeReport r;
        Error e = {};

        memset(long_detail, 'd', sizeof long_detail - 1);
        long_detail[sizeof long_detail - 1] = '\0';
        /* "é" straddling the cut: the cut falls before it. */
        memset(long_name, 'n', sizeof long_name - 1);
        memcpy(long_name + REPORT_CHECK_NAME_MAX - 1, "\xc3\xa9", 2);
        long_name[sizeof long_name - 1] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                checks[i] = "c";
        checks[0] = "line\nbreak\x7f";
        checks[1] = "bad\xff utf8";
        checks[2] = long_name;
        checks[3] = ""; /* left out */
        assert_int_equal(report_init(&r, NODE, "g", "s", "a", "1", "2", REPORT_STAGE_FAILED, long_detail,
                                     checks, ELEMENTSOF(checks), 5, &e),
                         0);
        assert_int_equal(strlen(r.detail), REPORT_DETAIL_MAX);
        assert_int_equal(r.n_failed_checks, REPORT_CHECKS_MAX - 1);
        assert_string_equal(r.failed_checks[0], "line break?");
        assert_string_equal(r.failed_checks[1], "bad? utf8");
        assert_int_equal(strlen(r.failed_checks[2]), REPORT_CHECK_NAME_MAX - 1);
        assert_string_equal(r.failed_checks[3], "c");
        assert_int_equal(r.outcome, REPORT_STAGE_FAILED);
        assert_int_equal(r.time, 5);

        assert_int_equal(
                report_init(&r, NODE, "g", "s", "a", "1", "2", REPORT_SUCCEEDED, NULL, NULL, 0, 0, &e), 0);
        assert_string_equal(r.detail, "");
        assert_int_equal(r.n_failed_checks, 0);
}

static void expect_init_error(const char *node, const char *group, const char *from, ReportOutcome outcome,
                              int64_t time, const char *message)
{
        OutcomeReport r;
        Error e = {};

        memset(&r, 0x5a, sizeof r);
        assert_int_equal(report_init(&r, node, group, "stable", "x86_64", from, "41.3", outcome, "", NULL, 0,
                                     time, &e),
                         -EINVAL);
        assert_string_equal(e.message, message);
        assert_int_equal((unsigned char)r.node[0], 0x5a); /* untouched */
}

static void test_init_errors(void **state)
{
        char long_group[REPORT_NAME_MAX + 2];

        memset(long_group, 'g', sizeof long_group - 1);
        long_group[sizeof long_group - 1] = '\0';
        expect_init_error("0123", "default", "41.2", REPORT_SUCCEEDED, 0,
                          "report: node: expected 32 lower-case hex digits, got 4 bytes");
        expect_init_error("0123456789ABCDEF0123456789abcdef", "default", "41.2", REPORT_SUCCEEDED, 0,
                          "report: node: byte 10 is not a lower-case hex digit");
        expect_init_error(NODE "0", "default", "41.2", REPORT_SUCCEEDED, 0,
                          "report: node: longer than 32 bytes");
        expect_init_error(NULL, "default", "41.2", REPORT_SUCCEEDED, 0, "report: node: missing");
        expect_init_error(NODE, "", "41.2", REPORT_SUCCEEDED, 0, "report: group: empty");
        expect_init_error(NODE, long_group, "41.2", REPORT_SUCCEEDED, 0,
                          "report: group: longer than 128 bytes");
        expect_init_error(NODE, "de\tfault", "41.2", REPORT_SUCCEEDED, 0,
                          "report: group: invalid UTF-8 or a control character");
        expect_init_error(NODE, "default", "41.\xc0\xaf", REPORT_SUCCEEDED, 0,
                          "report: from_version: invalid UTF-8 or a control character");
        expect_init_error(NODE, "default", "", REPORT_SUCCEEDED, 0, "report: from_version: empty");
        expect_init_error(NODE, "default", "41.2", _REPORT_OUTCOME_MAX, 0,
                          "report: outcome: unknown value 5");
        expect_init_error(NODE, "default", "41.2", REPORT_SUCCEEDED, -1,
                          "report: time: -1 is not within 0 to 1099511627776");
        expect_init_error(NODE, "default", "41.2", REPORT_SUCCEEDED, REPORT_TIME_MAX + 1,
                          "report: time: 1099511627777 is not within 0 to 1099511627776");
}

static void expect_validate_error(const OutcomeReport *r, int err, const char *message)
{
        Error e = {};

        assert_int_equal(report_validate(r, &e), err);
        assert_string_equal(e.message, message);
}

static void test_validate_errors(void **state)
{
        OutcomeReport r, bad;

        make(&r);
        assert_int_equal(report_validate(&r, NULL), 0);

        bad = r;
        memset(bad.stream, 's', sizeof bad.stream); /* not NUL-terminated */
        expect_validate_error(&bad, -EINVAL, "report: stream: longer than 128 bytes");
        bad = r;
        bad.basearch[0] = '\0';
        expect_validate_error(&bad, -EINVAL, "report: basearch: empty");
        bad = r;
        strcpy(bad.to_version, "41\x1b[0m");
        expect_validate_error(&bad, -EINVAL, "report: to_version: invalid UTF-8 or a control character");
        bad = r;
        strcpy(bad.detail, "tail\xc2\x85");
        expect_validate_error(&bad, -EINVAL, "report: detail: invalid UTF-8 or a control character");
        bad = r;
        bad.n_failed_checks = REPORT_CHECKS_MAX + 1;
        expect_validate_error(&bad, -EINVAL, "report: failed_checks: 33 names, at most 32");
        bad = r;
        bad.failed_checks[1][0] = '\0';
        expect_validate_error(&bad, -EINVAL, "report: failed_checks[1]: empty");
        bad = r;
        bad.outcome = _REPORT_OUTCOME_INVALID;
        expect_validate_error(&bad, -EINVAL, "report: outcome: unknown value -22");

        /* Every field at its cap and full of characters JSON escapes: over the 8 KiB body. */
        bad = r;
        memset(bad.detail, '"', REPORT_DETAIL_MAX);
        bad.detail[REPORT_DETAIL_MAX] = '\0';
        bad.n_failed_checks = REPORT_CHECKS_MAX;
        for (size_t i = 0; i < REPORT_CHECKS_MAX; i++) {
                memset(bad.failed_checks[i], '\\', REPORT_CHECK_NAME_MAX);
                bad.failed_checks[i][REPORT_CHECK_NAME_MAX] = '\0';
        }
        assert_int_equal(report_validate(&bad, NULL), -EMSGSIZE);
}

static void test_roundtrip(void **state)
{
        Buf a = BUF_INIT(REPORT_BODY_MAX), b = BUF_INIT(REPORT_BODY_MAX);
        OutcomeReport r, back;
        Error e = {};

        make(&r);
        assert_int_equal(report_encode(&r, &a, &e), 0);
        assert_string_equal(a.data,
                            "{\"node\":\"" NODE "\",\"group\":\"default\",\"stream\":\"stable\","
                            "\"basearch\":\"x86_64\",\"from_version\":\"41.2\",\"to_version\":\"41.3\","
                            "\"outcome\":\"rolled_back\",\"detail\":\"required check failed\","
                            "\"failed_checks\":[\"01_dns.sh\",\"kubelet.service\"],\"time\":1767225600}");
        assert_int_equal(report_decode(a.data, a.len, &back, &e), 0);
        assert_same_report(&back, &r);
        assert_int_equal(report_encode(&back, &b, &e), 0);
        assert_string_equal(a.data, b.data);

        /* Non-ASCII text and escapes survive. */
        strcpy(r.detail, "caf\xc3\xa9 \"quoted\" back\\slash");
        buf_truncate(&a, 0);
        assert_int_equal(report_encode(&r, &a, &e), 0);
        assert_int_equal(report_decode(a.data, a.len, &back, &e), 0);
        assert_string_equal(back.detail, r.detail);

        /* A full buffer: -ENOBUFS, the buffer unchanged. */
        {
                Buf tiny = BUF_INIT(16);

                assert_int_equal(buf_puts(&tiny, "x"), 0);
                assert_int_equal(report_encode(&r, &tiny, &e), -ENOBUFS);
                assert_int_equal(tiny.len, 1);
                buf_free(&tiny);
        }
        buf_free(&a);
        buf_free(&b);
}

static void test_decode_optional(void **state)
{
        const char *text = "{\"node\":\"" NODE "\",\"group\":\"g\",\"stream\":\"s\",\"basearch\":\"a\","
                           "\"from_version\":\"1\",\"to_version\":\"2\",\"outcome\":\"boot_fallback\","
                           "\"time\":0,\"later\":{\"x\":[1]}}";
        OutcomeReport r;
        Error e = {};

        assert_int_equal(report_decode(text, strlen(text), &r, &e), 0);
        assert_string_equal(r.detail, "");
        assert_int_equal(r.n_failed_checks, 0);
        assert_int_equal(r.outcome, REPORT_BOOT_FALLBACK);
        assert_int_equal(r.time, 0);
}

static void expect_decode_error(const char *text, int err, const char *message)
{
        OutcomeReport r;
        Error e = {};

        memset(&r, 0x5a, sizeof r);
        assert_int_equal(report_decode(text, strlen(text), &r, &e), err);
        if (!strstr(e.message, message))
                fail_msg("\"%s\" does not contain \"%s\"", e.message, message);
        assert_int_equal((unsigned char)r.node[0], 0x5a);
}

#define HEAD "{\"node\":\"" NODE "\",\"group\":\"g\",\"stream\":\"s\",\"basearch\":\"a\","
#define TAIL "\"from_version\":\"1\",\"to_version\":\"2\",\"outcome\":\"succeeded\",\"time\":1"

static void test_decode_errors(void **state)
{
        char big[REPORT_BODY_MAX + 2];

        expect_decode_error("", -EINVAL, "report: ");
        expect_decode_error("{\"node\":", -EINVAL, "report: line 1");
        expect_decode_error("[]", -EINVAL, "report: expected an object, got array");
        expect_decode_error("{\"group\":\"g\"}", -EINVAL, "node");
        expect_decode_error("{\"node\":7}", -EINVAL, "node");
        expect_decode_error(HEAD TAIL ",\"time\":2}", -EINVAL, "line 1"); /* duplicate key */
        expect_decode_error(HEAD "\"from_version\":\"1\",\"to_version\":\"2\",\"outcome\":\"exploded\","
                                 "\"time\":1}",
                            -EINVAL, "report: outcome: unknown value \"exploded\"");
        expect_decode_error(HEAD TAIL ",\"detail\":\"a\\nb\"}", -EINVAL,
                            "report: detail: invalid UTF-8 or a control character");
        expect_decode_error(HEAD TAIL ",\"failed_checks\":[\"a\",3]}", -EINVAL,
                            "report: failed_checks[1]: expected a string, got integer");
        expect_decode_error(HEAD TAIL ",\"failed_checks\":\"a\"}", -EINVAL, "failed_checks");
        expect_decode_error(HEAD TAIL ",\"failed_checks\":[\"\"]}", -EINVAL,
                            "report: failed_checks[0]: empty");
        expect_decode_error(HEAD "\"from_version\":\"1\",\"to_version\":\"2\",\"outcome\":\"succeeded\","
                                 "\"time\":-5}",
                            -EINVAL, "time");
        expect_decode_error(HEAD "\"from_version\":\"1\",\"to_version\":\"2\",\"outcome\":\"succeeded\","
                                 "\"time\":1.5}",
                            -EINVAL, "time");
        expect_decode_error("{\"node\":\"" NODE "\",\"group\":\"g\",\"stream\":\"s\",\"basearch\":\"a\","
                            "\"from_version\":\"1\",\"outcome\":\"succeeded\",\"time\":1}",
                            -EINVAL, "to_version");
        memset(big, ' ', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        expect_decode_error(big, -EFBIG, "report: 8193 bytes, at most 8192");
}

static void test_decode_caps(void **state)
{
        char text[REPORT_BODY_MAX], names[40 * 6];
        size_t o = 0;

        /* 33 check names. */
        for (int i = 0; i < 33; i++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s\"c\"", i ? "," : "");
        snprintf(text, sizeof text, HEAD TAIL ",\"failed_checks\":[%s]}", names);
        expect_decode_error(text, -EINVAL, "report: failed_checks: 33 names, at most 32");
        snprintf(text, sizeof text, HEAD TAIL ",\"failed_checks\":[\"%0129d\"]}", 0);
        expect_decode_error(text, -EINVAL, "report: failed_checks[0]: longer than 128 bytes");
        snprintf(text, sizeof text, HEAD TAIL ",\"detail\":\"%01025d\"}", 0);
        expect_decode_error(text, -EINVAL, "report: detail: longer than 1024 bytes");
        snprintf(text, sizeof text,
                 "{\"node\":\"" NODE "\",\"group\":\"g\",\"stream\":\"s\",\"basearch\":\"a\","
                 "\"from_version\":\"1\",\"to_version\":\"%0257d\",\"outcome\":\"succeeded\",\"time\":1}",
                 0);
        expect_decode_error(text, -EINVAL, "report: to_version: longer than 256 bytes");
}

static void test_backoff(void **state)
{
        const uint64_t s = UINT64_C(1000000);

        assert_int_equal(report_backoff_usec(0, 0.5), 5 * s);
        assert_int_equal(report_backoff_usec(1, 0.5), 10 * s);
        assert_int_equal(report_backoff_usec(2, 0.5), 20 * s);
        assert_int_equal(report_backoff_usec(0, 0.0), 4 * s);
        assert_int_equal(report_backoff_usec(0, 1.0), 6 * s);
        assert_int_equal(report_backoff_usec(0, -3.0), 4 * s);
        assert_int_equal(report_backoff_usec(0, 7.0), 6 * s);
        assert_int_equal(report_backoff_usec(0, NAN), 5 * s);
        /* 5 s * 2^10 > 1 h: capped; jitter still applies. */
        assert_int_equal(report_backoff_usec(10, 0.5), 3600 * s);
        assert_int_equal(report_backoff_usec(UINT32_MAX, 0.5), 3600 * s);
        assert_int_equal(report_backoff_usec(UINT32_MAX, 1.0), 4320 * s);
        for (unsigned a = 0; a < 40; a++) {
                uint64_t lo = report_backoff_usec(a, 0.0), mid = report_backoff_usec(a, 0.5),
                         hi = report_backoff_usec(a, 1.0);

                assert_true(lo >= 4 * s && hi <= 4320 * s);
                assert_true(lo < mid && mid < hi);
                assert_true(a == 0 || report_backoff_usec(a, 0.5) >= report_backoff_usec(a - 1, 0.5));
        }
        assert_true(report_backoff_usec(REPORT_SLOW_ATTEMPT, 0.0) >= 240 * s);
}

static void test_classify(void **state)
{
        static const struct {
                long status;
                ReportVerdict v;
        } cases[] = {
                { 200, REPORT_VERDICT_DONE },       { 202, REPORT_VERDICT_DONE },
                { 204, REPORT_VERDICT_DONE },       { 400, REPORT_VERDICT_DROP },
                { 413, REPORT_VERDICT_DROP },       { 422, REPORT_VERDICT_DROP },
                { 401, REPORT_VERDICT_RETRY_SLOW }, { 403, REPORT_VERDICT_RETRY_SLOW },
                { 404, REPORT_VERDICT_RETRY_SLOW }, { 408, REPORT_VERDICT_RETRY },
                { 429, REPORT_VERDICT_RETRY },      { 500, REPORT_VERDICT_RETRY },
                { 502, REPORT_VERDICT_RETRY },      { 503, REPORT_VERDICT_RETRY },
                { 301, REPORT_VERDICT_RETRY },      { 100, REPORT_VERDICT_RETRY },
                { 0, REPORT_VERDICT_RETRY },        { 999, REPORT_VERDICT_RETRY },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (report_classify_status(cases[i].status) != cases[i].v)
                        fail_msg("status %ld: %s, expected %s", cases[i].status,
                                 report_verdict_to_string(report_classify_status(cases[i].status)),
                                 report_verdict_to_string(cases[i].v));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_outcome_names), cmocka_unit_test(test_init_cleans),
                cmocka_unit_test(test_init_errors),   cmocka_unit_test(test_validate_errors),
                cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_decode_optional),
                cmocka_unit_test(test_decode_errors), cmocka_unit_test(test_decode_caps),
                cmocka_unit_test(test_backoff),       cmocka_unit_test(test_classify),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
