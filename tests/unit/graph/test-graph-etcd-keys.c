/* test-graph-etcd-keys.c — the etcd layout of the shared report store: keys (escaping, sections, the
 * counts key decoded back, foreign keys refused), counts' values, pause records encoded and decoded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "graph-etcd-keys.h"
#include "json-util.h"

#define P "upkeep-graph/"

static void test_keys(void **state)
{
        char k[GRAPH_ETCD_KEY_MAX];

        assert_int_equal(
                graph_etcd_report_key(P, "41.3", GRAPH_REPORT_ROLLED_BACK, "0123abcd", k, sizeof(k)), 0);
        assert_string_equal(k, P "reports/41.3/rolled_back/0123abcd");
        assert_int_equal(
                graph_etcd_count_key(P, "stable", "41 3/x", "db", GRAPH_REPORT_SUCCEEDED, k, sizeof(k)), 0);
        assert_string_equal(k, P "counts/stable/41%203%2Fx/db/succeeded");
        assert_int_equal(graph_etcd_pause_key("/x", "st~a_b-c", "r\xc3\xa9", k, sizeof(k)), 0);
        assert_string_equal(k, "/xpauses/st~a_b-c/r%C3%A9");
        /* Too small a buffer, a bad prefix, a bad outcome. */
        assert_int_equal(graph_etcd_pause_key(P, "stable", "41.3", k, 20), -ENAMETOOLONG);
        assert_int_equal(graph_etcd_pause_key(P, "stable", "41.3", k, strlen(P "pauses/stable/41.3")),
                         -ENAMETOOLONG);
        assert_int_equal(graph_etcd_pause_key(P, "stable", "41.3", k, strlen(P "pauses/stable/41.3") + 1),
                         0);
        assert_int_equal(graph_etcd_pause_key("a b/", "stable", "41.3", k, sizeof(k)), -EINVAL);
        assert_int_equal(graph_etcd_pause_key("", "stable", "41.3", k, sizeof(k)), -EINVAL);
        assert_int_equal(graph_etcd_count_key(P, "s", "r", "g", _GRAPH_REPORT_OUTCOME_MAX, k, sizeof(k)),
                         -EINVAL);
}

static void test_prefix(void **state)
{
        char long_prefix[GRAPH_ETCD_PREFIX_MAX + 2];

        assert_true(graph_etcd_prefix_valid("upkeep-graph/"));
        assert_true(graph_etcd_prefix_valid("/fleet/a/"));
        assert_false(graph_etcd_prefix_valid(NULL));
        assert_false(graph_etcd_prefix_valid(""));
        assert_false(graph_etcd_prefix_valid("a\tb"));
        assert_false(graph_etcd_prefix_valid("caf\xc3\xa9"));
        memset(long_prefix, 'a', sizeof(long_prefix) - 1);
        long_prefix[sizeof(long_prefix) - 1] = 0;
        assert_false(graph_etcd_prefix_valid(long_prefix));
        long_prefix[GRAPH_ETCD_PREFIX_MAX] = 0;
        assert_true(graph_etcd_prefix_valid(long_prefix));
}

static void test_section_range(void **state)
{
        char from[300], end[300], k[GRAPH_ETCD_KEY_MAX];

        assert_int_equal(graph_etcd_section_range(P, GRAPH_ETCD_COUNTS, from, end, sizeof(from)), 0);
        assert_string_equal(from, P "counts/");
        assert_string_equal(end, P "counts0");
        /* Every counts key is inside, no pauses key is. */
        assert_int_equal(graph_etcd_count_key(P, "~", "~~", "~", GRAPH_REPORT_STAGE_FAILED, k, sizeof(k)),
                         0);
        assert_true(strcmp(k, from) >= 0 && strcmp(k, end) < 0);
        assert_int_equal(graph_etcd_pause_key(P, "a", "b", k, sizeof(k)), 0);
        assert_false(strcmp(k, from) >= 0 && strcmp(k, end) < 0);
}

static void test_count_key_parse(void **state)
{
        char s[GRAPH_REPORT_MAX_NAME + 1], r[GRAPH_REPORT_MAX_VERSION + 1], g[GRAPH_REPORT_MAX_NAME + 1],
                k[GRAPH_ETCD_KEY_MAX], big[GRAPH_REPORT_MAX_VERSION + 2];
        GraphReportOutcome o;

        assert_int_equal(graph_etcd_count_key(P, "stable", "41.3 /%", "gr\xc3\xa9",
                                              GRAPH_REPORT_BOOT_FALLBACK, k, sizeof(k)),
                         0);
        assert_int_equal(graph_etcd_count_key_parse(P, k, s, r, g, &o), 0);
        assert_string_equal(s, "stable");
        assert_string_equal(r, "41.3 /%");
        assert_string_equal(g, "gr\xc3\xa9");
        assert_int_equal(o, GRAPH_REPORT_BOOT_FALLBACK);
        /* The overflow key reads back as it is. */
        assert_int_equal(
                graph_etcd_count_key_parse(P, P "counts/_other/_other/_other/succeeded", s, r, g, &o), 0);
        assert_string_equal(g, "_other");
        /* Refused: another prefix or section, missing or extra parts, empty parts, an unknown outcome,
         * non-canonical escapes (lower case, an escaped plain byte, a NUL), bytes that should be escaped. */
        const char *bad[] = {
                "other/counts/s/r/g/succeeded",
                P "pauses/s/r",
                P "counts/s/r/g",
                P "counts/s/r/g/succeeded/x",
                P "counts/s//g/succeeded",
                P "counts/s/r/g/won",
                P "counts/s/r%2f/g/succeeded",
                P "counts/s/%41/g/succeeded",
                P "counts/s/%00/g/succeeded",
                P "counts/s/r r/g/succeeded",
                P "counts/s/r%2/g/succeeded",
                P "counts/s/r/g/succeeded/",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(graph_etcd_count_key_parse(P, bad[i], s, r, g, &o), -EINVAL);
        /* A release over its cap. */
        memset(big, 'v', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        assert_int_equal(graph_etcd_count_key(P, "s", big, "g", GRAPH_REPORT_SUCCEEDED, k, sizeof(k)), 0);
        assert_int_equal(graph_etcd_count_key_parse(P, k, s, r, g, &o), -EINVAL);
}

static void test_count_parse(void **state)
{
        uint64_t v;

        assert_int_equal(graph_etcd_count_parse("0", 1, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(graph_etcd_count_parse("18446744073709551615", 20, &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(graph_etcd_count_parse("18446744073709551616", 20, &v), -EINVAL);
        assert_int_equal(graph_etcd_count_parse("", 0, &v), -EINVAL);
        assert_int_equal(graph_etcd_count_parse(NULL, 0, &v), -EINVAL);
        assert_int_equal(graph_etcd_count_parse("-1", 2, &v), -EINVAL);
        assert_int_equal(graph_etcd_count_parse("12x", 3, &v), -EINVAL);
        assert_int_equal(graph_etcd_count_parse("12", 1, &v), 0); /* only len bytes count */
        assert_int_equal(v, 1);
}

static GraphPause sample_pause(void)
{
        GraphPause p = { 0 };

        strcpy(p.stream, "stable");
        strcpy(p.release, "41.3");
        strcpy(p.reason, "3 of 4 nodes failed (75.0%; \"quoted\"\n)");
        p.frozen = 0.1 + 0.2; /* not exactly representable in decimal: must come back bit for bit */
        p.paused_at = 1700000100;
        p.remaining_secs = 3000;
        p.had_node = p.had_rollout = p.had_duration = true;
        p.start_epoch = 1700000000;
        p.start_value = 1.0 / 3.0;
        p.duration_minutes = 60;
        return p;
}

static void test_pause_roundtrip(void **state)
{
        Buf b = BUF_INIT(GRAPH_ETCD_VALUE_MAX);
        GraphPause p = sample_pause(), got;
        Error e;

        assert_int_equal(graph_etcd_pause_encode(&p, &b), 0);
        assert_int_equal(graph_etcd_pause_decode(b.data, b.len, &got, &e), 0);
        assert_string_equal(got.stream, p.stream);
        assert_string_equal(got.release, p.release);
        assert_string_equal(got.reason, p.reason);
        assert_memory_equal(&got.frozen, &p.frozen, sizeof(double));
        assert_memory_equal(&got.start_value, &p.start_value, sizeof(double));
        assert_true(got.paused_at == p.paused_at && got.remaining_secs == 3000 && got.resumed_at == 0);
        assert_true(got.had_node && got.had_rollout && got.had_duration);
        assert_true(got.start_epoch == p.start_epoch && got.duration_minutes == 60);
        /* Encoding is deterministic: the same record gives the same bytes (compare-and-swap relies on it).
         */
        Buf b2 = BUF_INIT(GRAPH_ETCD_VALUE_MAX);
        assert_int_equal(graph_etcd_pause_encode(&got, &b2), 0);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.data, b.data, b.len);
        buf_free(&b);
        buf_free(&b2);
}

static void test_pause_decode_bad(void **state)
{
        const char *bad[] = {
                "",
                "[]",
                "{}",
                "{\"stream\":\"s\",\"release\":\"r\"}",
                /* frozen out of range */
                "{\"stream\":\"s\",\"release\":\"r\",\"reason\":\"x\",\"frozen\":1.5,\"paused_at\":1,"
                "\"remaining_secs\":0,\"resumed_at\":0,\"had_node\":true,\"had_rollout\":true,"
                "\"had_duration\":false,\"start_epoch\":0,\"start_value\":0,\"duration_minutes\":0}",
                /* a negative time */
                "{\"stream\":\"s\",\"release\":\"r\",\"reason\":\"x\",\"frozen\":0.5,\"paused_at\":-1,"
                "\"remaining_secs\":0,\"resumed_at\":0,\"had_node\":true,\"had_rollout\":true,"
                "\"had_duration\":false,\"start_epoch\":0,\"start_value\":0,\"duration_minutes\":0}",
                /* a boolean as a number */
                "{\"stream\":\"s\",\"release\":\"r\",\"reason\":\"x\",\"frozen\":0.5,\"paused_at\":1,"
                "\"remaining_secs\":0,\"resumed_at\":0,\"had_node\":1,\"had_rollout\":true,"
                "\"had_duration\":false,\"start_epoch\":0,\"start_value\":0,\"duration_minutes\":0}",
                /* an empty stream */
                "{\"stream\":\"\",\"release\":\"r\",\"reason\":\"x\",\"frozen\":0.5,\"paused_at\":1,"
                "\"remaining_secs\":0,\"resumed_at\":0,\"had_node\":true,\"had_rollout\":true,"
                "\"had_duration\":false,\"start_epoch\":0,\"start_value\":0,\"duration_minutes\":0}",
        };
        const char *good =
                "{\"stream\":\"s\",\"release\":\"r\",\"reason\":\"x\",\"frozen\":0.5,\"paused_at\":1,"
                "\"remaining_secs\":0,\"resumed_at\":0,\"had_node\":true,\"had_rollout\":true,"
                "\"had_duration\":false,\"start_epoch\":0,\"start_value\":0,\"duration_minutes\":0}";
        char reason[GRAPH_PAUSE_REASON_MAX + 200];
        GraphPause p;
        Error e;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                e.message[0] = 0;
                assert_int_equal(graph_etcd_pause_decode(bad[i], strlen(bad[i]), &p, &e), -EINVAL);
                assert_true(strstr(e.message, "pause record") != NULL);
        }
        assert_int_equal(graph_etcd_pause_decode(good, strlen(good), &p, &e), 0);
        assert_true(p.frozen == 0.5 && !p.had_duration);
        /* A reason too long for the record. */
        Buf b = BUF_INIT(GRAPH_ETCD_VALUE_MAX);
        memset(reason, 'x', sizeof(reason) - 1);
        reason[sizeof(reason) - 1] = 0;
        assert_int_equal(
                buf_printf(&b,
                           "{\"stream\":\"s\",\"release\":\"r\",\"reason\":\"%s\",\"frozen\":0.5,"
                           "\"paused_at\":1,\"remaining_secs\":0,\"resumed_at\":0,\"had_node\":true,"
                           "\"had_rollout\":true,\"had_duration\":false,\"start_epoch\":0,"
                           "\"start_value\":0,\"duration_minutes\":0}",
                           reason),
                0);
        assert_int_equal(graph_etcd_pause_decode(b.data, b.len, &p, &e), -EINVAL);
        buf_free(&b);
}

static void test_report_encode(void **state)
{
        GraphReport r = { .node = "0123456789abcdef0123456789abcdef",
                          .group = "db",
                          .stream = "stable",
                          .basearch = "x86_64",
                          .from_version = "41.2",
                          .to_version = "41.3",
                          .outcome = GRAPH_REPORT_ROLLED_BACK,
                          .detail = "health check \"db\" failed\n",
                          .n_checks = 2,
                          .time = 1700000000 };
        Buf b = BUF_INIT(GRAPH_ETCD_VALUE_MAX);
        json_t *j = NULL;
        Error e;

        strcpy(r.checks[0], "db");
        strcpy(r.checks[1], "web");
        assert_int_equal(graph_etcd_report_encode(&r, 1700000005, &b), 0);
        assert_int_equal(json_parse_strict(b.data, b.len, &j, &e), 0);
        assert_string_equal(json_string_value(json_object_get(j, "outcome")), "rolled_back");
        assert_string_equal(json_string_value(json_object_get(j, "detail")), r.detail);
        assert_int_equal(json_array_size(json_object_get(j, "failed_checks")), 2);
        assert_int_equal(json_integer_value(json_object_get(j, "received")), 1700000005);
        json_decref(j);
        buf_free(&b);

        /* The largest report the parser accepts, every character one JSON escapes: it fits. */
        memset(r.detail, '"', GRAPH_REPORT_MAX_DETAIL);
        r.detail[GRAPH_REPORT_MAX_DETAIL] = 0;
        memset(r.group, '\\', GRAPH_REPORT_MAX_NAME);
        r.group[GRAPH_REPORT_MAX_NAME] = 0;
        memset(r.from_version, '"', GRAPH_REPORT_MAX_VERSION);
        r.from_version[GRAPH_REPORT_MAX_VERSION] = 0;
        memset(r.to_version, '"', GRAPH_REPORT_MAX_VERSION);
        r.to_version[GRAPH_REPORT_MAX_VERSION] = 0;
        memcpy(r.stream, r.group, sizeof(r.stream));
        memcpy(r.basearch, r.group, sizeof(r.basearch));
        r.n_checks = GRAPH_REPORT_MAX_CHECKS;
        for (size_t i = 0; i < r.n_checks; i++)
                memcpy(r.checks[i], r.group, sizeof(r.checks[i]));
        assert_int_equal(graph_etcd_report_encode(&r, INT64_MAX, &b), 0);
        assert_int_equal(json_parse_strict(b.data, b.len, &j, &e), 0);
        json_decref(j);
        buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_prefix),
                cmocka_unit_test(test_section_range),
                cmocka_unit_test(test_count_key_parse),
                cmocka_unit_test(test_count_parse),
                cmocka_unit_test(test_pause_roundtrip),
                cmocka_unit_test(test_pause_decode_bad),
                cmocka_unit_test(test_report_encode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
