/* test-release-edit.c — update metadata edits: byte-identical round trips of real Fedora CoreOS files,
 * Python-style number and string output, add/barrier/deadend in the release index's order, pause and
 * resume read back through upkeep-graph's own parser and throttle, and clean as rollout.py does it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "json-util.h"
#include "release-edit.h"
#include "test-util.h"

#define T0 INT64_C(1800000000)

static char *write_doc(const json_t *doc)
{
        Buf b = BUF_INIT(1u << 24);
        assert_int_equal(updates_doc_write(doc, &b), 0);
        assert_int_equal(buf_putc(&b, 0), 0);
        return buf_steal(&b, NULL);
}

static json_t *parse_doc(const char *s)
{
        Error e = { { 0 } };
        json_t *doc = NULL;
        if (updates_doc_parse(s, strlen(s), &doc, &e) < 0)
                fail_msg("%s", e.message);
        return doc;
}

static ReleaseIndex *index_of(const char *const *versions, size_t n)
{
        ReleaseIndex *ri = calloc(1, sizeof(*ri));
        assert_non_null(ri);
        ri->releases = calloc(n, sizeof(Release));
        ri->n_releases = n;
        for (size_t i = 0; i < n; i++)
                ri->releases[i].version = strdup(versions[i]);
        return ri;
}

static void test_round_trip(void **state)
{
        static const char *const files[] = { "testdata/fcos/updates-stable-4c055c1.json" };
        for (size_t i = 0; i < 1; i++) {
                size_t len;
                char *data = test_read_shared(files[i], &len);
                json_t *doc = parse_doc(data);
                char *out = write_doc(doc);
                assert_string_equal(out, data);
                free(out);
                json_decref(doc);
                free(data);
        }
}

static void test_python_format(void **state)
{
        json_t *doc =
                parse_doc("{\"releases\": [], \"x\": [0.1, 0.5, 1.0, 100, 1e-05, 0.0001, 12345.678, "
                          "1e16, 2.5e-7, -0.0, 0.047916666666666663, 5.0], \"s\": \"\\u00e9\\ud83d\\ude00"
                          "\\n\\u0001</>\", \"o\": {}, \"a\": [], \"t\": [true, false, null]}");
        char *out = write_doc(doc);
        assert_string_equal(out, "{\n"
                                 "  \"releases\": [],\n"
                                 "  \"x\": [\n"
                                 "    0.1,\n    0.5,\n    1.0,\n    100,\n    1e-05,\n    0.0001,\n"
                                 "    12345.678,\n    1e+16,\n    2.5e-07,\n    -0.0,\n"
                                 "    0.04791666666666666,\n    5.0\n"
                                 "  ],\n"
                                 "  \"s\": \"\\u00e9\\ud83d\\ude00\\n\\u0001</>\",\n"
                                 "  \"o\": {},\n"
                                 "  \"a\": [],\n"
                                 "  \"t\": [\n    true,\n    false,\n    null\n  ]\n"
                                 "}\n");
        free(out);
        json_decref(doc);
}

static void test_parse_errors(void **state)
{
        static const char *const bad[][2] = {
                { "[]", "must be a JSON object" },
                { "{}", "releases" },
                { "{\"releases\": [1]}", "release 0 must be an object" },
                { "{\"releases\": [{\"metadata\": {}}]}", "release 0" },
                { "{\"releases\": [{\"version\": \"\", \"metadata\": {}}]}", "empty" },
                { "{\"releases\": [{\"version\": \"1\", \"metadata\": []}]}", "metadata" },
                { "{\"releases\": [}", "line 1" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                Error e = { { 0 } };
                json_t *doc = NULL;
                assert_true(updates_doc_parse(bad[i][0], strlen(bad[i][0]), &doc, &e) < 0);
                assert_null(doc);
                if (!strstr(e.message, bad[i][1]))
                        fail_msg("%s: '%s' does not say '%s'", bad[i][0], e.message, bad[i][1]);
        }
}

static const char *const VERSIONS[] = { "40.1.3.0", "40.2.3.0", "40.3.3.0", "40.4.3.0" };

static void test_add_barrier_deadend(void **state)
{
        ReleaseIndex *ri = index_of(VERSIONS, 4);
        json_t *doc = parse_doc(
                "{\"stream\": \"stable\", \"metadata\": {\"last-modified\": \"x\"}, \"releases\": "
                "[{\"version\": \"40.3.3.0\", \"metadata\": {\"barrier\": {\"reason\": \"r\"}}}]}");
        RolloutSpec spec = { .start_epoch = T0, .duration_minutes = 60, .start_percentage = 0.0 };
        Error e = { { 0 } };
        char *out;

        assert_int_equal(release_add_rollout(doc, ri, "40.4.3.0", &spec, &e), 1);
        assert_int_equal(release_add_rollout(doc, ri, "40.4.3.0", &spec, &e), 0); /* same again */
        spec.duration_minutes = 120;
        assert_int_equal(release_add_rollout(doc, ri, "40.4.3.0", &spec, &e), -EEXIST);
        assert_non_null(strstr(e.message, "--replace"));
        spec.replace = true;
        assert_int_equal(release_add_rollout(doc, ri, "40.4.3.0", &spec, &e), 1);
        assert_int_equal(release_add_rollout(doc, ri, "41.0.3.0", &spec, &e), -ENOENT);
        assert_non_null(strstr(e.message, "41.0.3.0 is not in the release index"));
        spec.start_percentage = 1.5;
        assert_int_equal(release_add_rollout(doc, ri, "40.4.3.0", &spec, &e), -EINVAL);
        assert_int_equal(release_set_barrier(doc, ri, "40.1.3.0", NULL, &e), 1);
        assert_int_equal(release_set_barrier(doc, ri, "40.1.3.0", NULL, &e), 0);
        assert_int_equal(release_set_barrier(doc, ri, "40.3.3.0", NULL, &e), 0); /* keeps "r" */
        assert_int_equal(release_set_deadend(doc, ri, "40.2.3.0", "", &e), -EINVAL);
        assert_int_equal(release_set_deadend(doc, ri, "40.2.3.0", "https://bug/1", &e), 1);
        assert_int_equal(updates_doc_touch(doc, T0), 0);
        out = write_doc(doc);
        assert_string_equal(
                out, "{\n"
                     "  \"stream\": \"stable\",\n"
                     "  \"metadata\": {\n    \"last-modified\": \"2027-01-15T08:00:00Z\"\n  },\n"
                     "  \"releases\": [\n"
                     "    {\n      \"version\": \"40.1.3.0\",\n      \"metadata\": {\n"
                     "        \"barrier\": {\n          \"reason\": \"\"\n        }\n      }\n    },\n"
                     "    {\n      \"version\": \"40.2.3.0\",\n      \"metadata\": {\n"
                     "        \"deadend\": {\n          \"reason\": \"https://bug/1\"\n        }\n"
                     "      }\n    },\n"
                     "    {\n      \"version\": \"40.3.3.0\",\n      \"metadata\": {\n"
                     "        \"barrier\": {\n          \"reason\": \"r\"\n        }\n      }\n    },\n"
                     "    {\n      \"version\": \"40.4.3.0\",\n      \"metadata\": {\n"
                     "        \"rollout\": {\n          \"duration_minutes\": 120,\n"
                     "          \"start_epoch\": 1800000000,\n          \"start_percentage\": 0.0\n"
                     "        }\n      }\n    }\n"
                     "  ]\n}\n");
        free(out);
        json_decref(doc);
        release_index_free(ri);
}

/* The throttle upkeep-graph computes for version from the serialized document. */
static double served_throttle(const json_t *doc, const char *version, int64_t now)
{
        static const char *rel =
                "{\"releases\": [{\"version\": \"40.1.3.0\", \"commits\": [{\"architecture\": "
                "\"x86_64\", \"checksum\": \"a\"}]}, {\"version\": \"40.4.3.0\", \"commits\": "
                "[{\"architecture\": \"x86_64\", \"checksum\": \"b\"}]}]}";
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Graph *g = NULL;
        Error e = { { 0 } };
        char *text = write_doc(doc);
        double t = -1;

        assert_int_equal(release_index_parse(rel, strlen(rel), &ri, &e), 0);
        assert_int_equal(update_metadata_parse(text, strlen(text), &um, &e), 0);
        assert_int_equal(graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, &e), 0);
        for (size_t i = 0; i < g->n_nodes; i++)
                if (strcmp(g->nodes[i].version, version) == 0)
                        t = graph_node_throttle(&g->nodes[i], now);
        graph_free(g);
        update_metadata_free(um);
        release_index_free(ri);
        free(text);
        return t;
}

static void test_pause_resume(void **state)
{
        json_t *doc =
                parse_doc("{\"stream\": \"s\", \"releases\": [{\"version\": \"40.4.3.0\", \"metadata\": "
                          "{\"rollout\": {\"duration_minutes\": 1000, \"start_epoch\": 1800000000, "
                          "\"start_percentage\": 0.2}}}]}");
        Error e = { { 0 } };
        json_t *ro;

        assert_true(fabs(served_throttle(doc, "40.4.3.0", T0 + 250 * 60) - 0.4) < 1e-9);
        assert_int_equal(release_pause(doc, "40.4.3.0", T0 + 250 * 60, "rollbacks", &e), 1);
        assert_int_equal(release_pause(doc, "40.4.3.0", T0 + 260 * 60, NULL, &e), -EALREADY);
        ro = json_object_get(json_object_get(updates_doc_find(doc, "40.4.3.0", NULL), "metadata"),
                             "rollout");
        assert_null(json_object_get(ro, "duration_minutes"));
        assert_int_equal(json_integer_value(json_object_get(ro, "start_epoch")), T0); /* left as it was */
        assert_int_equal(
                json_integer_value(json_object_get(json_object_get(ro, "paused"), "remaining_minutes")),
                750);
        /* Held at 0.4 for as long as it stays paused, as upkeep-graph reads the file. */
        for (int64_t dt = 0; dt < 30 * 86400; dt += 86400)
                assert_true(fabs(served_throttle(doc, "40.4.3.0", T0 + 250 * 60 + dt) - 0.4) < 1e-6);
        assert_int_equal(release_resume(doc, "40.4.3.0", T0 + 86400, &e), 1);
        assert_int_equal(release_resume(doc, "40.4.3.0", T0 + 86400, &e), -ESRCH);
        /* Resumed: from 0.4 with the original slope (0.8 per 1000 minutes), 1 after the 750 remaining. */
        assert_true(fabs(served_throttle(doc, "40.4.3.0", T0 + 86400) - 0.4) < 1e-6);
        assert_true(fabs(served_throttle(doc, "40.4.3.0", T0 + 86400 + 375 * 60) - 0.7) < 1e-6);
        assert_true(served_throttle(doc, "40.4.3.0", T0 + 86400 + 751 * 60) == 1.0);
        /* Nothing to pause: finished, not a rollout, not there, never progressing. */
        assert_int_equal(release_pause(doc, "40.4.3.0", T0 + 10 * 86400, NULL, &e), -ESRCH);
        assert_non_null(strstr(e.message, "finished"));
        assert_int_equal(release_pause(doc, "40.9.3.0", T0, NULL, &e), -ENOENT);
        json_object_del(json_object_get(json_object_get(updates_doc_find(doc, "40.4.3.0", NULL), "metadata"),
                                        "rollout"),
                        "duration_minutes");
        assert_int_equal(release_pause(doc, "40.4.3.0", T0, NULL, &e), -ESRCH);
        json_decref(doc);
}

static void test_pause_before_start(void **state)
{
        json_t *doc =
                parse_doc("{\"stream\": \"s\", \"releases\": [{\"version\": \"40.4.3.0\", \"metadata\": "
                          "{\"rollout\": {\"duration_minutes\": 60, \"start_epoch\": 1800000000}}}]}");
        Error e = { { 0 } };

        assert_int_equal(release_pause(doc, "40.4.3.0", T0 - 3600, NULL, &e), 1);
        assert_true(served_throttle(doc, "40.4.3.0", T0 + 86400) == 0.0);
        assert_int_equal(release_resume(doc, "40.4.3.0", T0 + 86400, &e), 1);
        assert_true(fabs(served_throttle(doc, "40.4.3.0", T0 + 86400 + 1800) - 0.5) < 1e-9);
        json_decref(doc);
}

static void test_clean(void **state)
{
        json_t *doc = parse_doc(
                "{\"stream\": \"s\", \"releases\": ["
                "{\"version\": \"1\", \"metadata\": {\"deadend\": {\"reason\": \"x\"}}},"
                "{\"version\": \"2\", \"metadata\": {\"rollout\": {\"start_percentage\": 1.0}}},"
                "{\"version\": \"3\", \"metadata\": {\"barrier\": {\"reason\": \"b\"}, \"rollout\": "
                "{\"duration_minutes\": 10, \"start_epoch\": 1000, \"start_percentage\": 0.0}}},"
                "{\"version\": \"4\", \"metadata\": {\"rollout\": {\"duration_minutes\": 10, "
                "\"start_epoch\": "
                "2000}}},"
                "{\"version\": \"5\", \"metadata\": {\"rollout\": {\"start_epoch\": 2500, "
                "\"start_percentage\": 0.5, "
                "\"paused\": {\"since_epoch\": 2500, \"remaining_minutes\": 5}}}},"
                "{\"version\": \"6\", \"metadata\": {\"rollout\": {\"duration_minutes\": 10, "
                "\"start_epoch\": 1000000}}}"
                "]}");
        Buf names = BUF_INIT(4096);
        char *out;

        assert_int_equal(release_clean(doc, 10000, &names), 4);
        assert_int_equal(release_clean(doc, 10000, NULL), 0);
        assert_int_equal(buf_putc(&names, 0), 0);
        assert_non_null(strstr((char *)names.data, "4: rollout finished"));
        assert_non_null(strstr((char *)names.data, "2: dropped"));
        out = write_doc(doc);
        /* 2 dropped; 3 keeps its barrier only; 4 is the newest finished; 5 (paused) and 6 (future) stay. */
        json_t *d2 = parse_doc(out);
        json_t *rels = json_object_get(d2, "releases");
        assert_int_equal(json_array_size(rels), 5);
        assert_null(updates_doc_find(d2, "2", NULL));
        assert_null(
                json_object_get(json_object_get(updates_doc_find(d2, "3", NULL), "metadata"), "rollout"));
        assert_non_null(strstr(out, "\"version\": \"4\",\n      \"metadata\": {\n        \"rollout\": {\n"
                                    "          \"start_percentage\": 1.0\n        }"));
        assert_non_null(json_object_get(
                json_object_get(json_object_get(updates_doc_find(d2, "5", NULL), "metadata"), "rollout"),
                "paused"));
        free(out);
        json_decref(d2);
        buf_free(&names);
        json_decref(doc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_python_format),
                cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_add_barrier_deadend),
                cmocka_unit_test(test_pause_resume), cmocka_unit_test(test_pause_before_start),
                cmocka_unit_test(test_clean),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
