/* test-release-validate.c — what `upkeep release validate` reports: a clean real file, then each schema,
 * semantic and release-index finding with the file, release and field it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release-validate.h"
#include "test-util.h"

static char *run(const char *doc, const ReleaseIndex *ri, const char *stream, ValidateResult *res)
{
        Buf out = BUF_INIT(1u << 20);
        assert_int_equal(release_validate(doc, strlen(doc), "u.json", ri, stream, &out, res), 0);
        assert_int_equal(buf_putc(&out, 0), 0);
        return buf_steal(&out, NULL);
}

static void test_real_file_is_clean(void **state)
{
        size_t ulen, rlen;
        char *u = test_read_shared("testdata/fcos/updates-stable-4c055c1.json", &ulen);
        char *r = test_read_shared("testdata/fcos/releases-2021-01-05.json", &rlen);
        ReleaseIndex *ri = NULL;
        Error e = { { 0 } };
        ValidateResult res;

        assert_int_equal(release_index_parse(r, rlen, &ri, &e), 0);
        char *out = run(u, ri, "stable", &res);
        assert_string_equal(out, "");
        assert_int_equal(res.errors, 0);
        assert_int_equal(res.warnings, 0);
        free(out);
        release_index_free(ri);
        free(u);
        free(r);
}

static void expect(const char *doc, const ReleaseIndex *ri, unsigned errors, unsigned warnings,
                   const char *const *lines)
{
        ValidateResult res;
        char *out = run(doc, ri, "stable", &res);
        for (; *lines; lines++)
                if (!strstr(out, *lines))
                        fail_msg("missing '%s' in:\n%s", *lines, out);
        if (res.errors != errors || res.warnings != warnings)
                fail_msg("%u errors, %u warnings (expected %u, %u):\n%s", res.errors, res.warnings, errors,
                         warnings, out);
        free(out);
}

static void test_schema(void **state)
{
        expect("{\"releases\": [", NULL, 1, 0,
               (const char *const[]){ "u.json: error: not valid JSON", NULL });
        expect("[]", NULL, 1, 0, (const char *const[]){ "must be a JSON object", NULL });
        expect("{\"stream\": 1, \"releases\": {}}", NULL, 2, 0,
               (const char *const[]){ "u.json: error: stream: must be a string",
                                      "u.json: error: releases: must be an array", NULL });
        expect("{\"stream\": \"stable\", \"releases\": [{\"version\": \"33.20201214.3.1\", \"metadata\": "
               "{\"rollout\": {\"start_epoch\": 1.5, \"start_percentage\": 5, \"duration_minutes\": -3}}}]}",
               NULL, 3, 0,
               (const char *const[]){
                       "u.json: error: release 0 (33.20201214.3.1): metadata.rollout.start_epoch: must be "
                       "an "
                       "integer",
                       "u.json: error: release 0 (33.20201214.3.1): metadata.rollout.start_percentage: 5 is "
                       "outside [0, 1]",
                       "metadata.rollout.duration_minutes: must be a non-negative integer", NULL });
        expect("{\"stream\": \"stable\", \"releases\": [{\"version\": \"33.20201214.3.1\", \"metadata\": "
               "{\"barier\": {}, \"deadend\": {\"reason\": \"\"}, \"barrier\": {}}}]}",
               NULL, 2, 1,
               (const char *const[]){ "metadata: unknown key 'barier'", "metadata.deadend.reason: is empty",
                                      "metadata.barrier.reason: is missing", NULL });
        expect("{\"stream\": \"stable\", \"releases\": [{\"version\": \"33.20201214.3.1\", \"metadata\": "
               "{}}]}",
               NULL, 0, 1, (const char *const[]){ "metadata: has no barrier, dead-end or rollout", NULL });
}

static void test_semantics(void **state)
{
        expect("{\"stream\": \"stable\", \"releases\": ["
               "{\"version\": \"33.20201214.3.1\", \"metadata\": {\"rollout\": {\"start_percentage\": "
               "0.5}}},"
               "{\"version\": \"33.20201214.3.1\", \"metadata\": {\"rollout\": {\"duration_minutes\": 0}}},"
               "{\"version\": \"33.20201214.2.1\", \"metadata\": {\"rollout\": {\"duration_minutes\": 5, "
               "\"paused\": {\"remaining_minutes\": 0}}}},"
               "{\"version\": \"latest\", \"metadata\": {\"deadend\": {\"reason\": \"x\"}, \"rollout\": "
               "{\"duration_minutes\": 5}}}]}",
               NULL, 4, 5,
               (const char *const[]){
                       "release 0 (33.20201214.3.1): metadata.rollout: has no duration_minutes: it stays at "
                       "0.5",
                       "release 1 (33.20201214.3.1): version: duplicate of release 0",
                       "release 1 (33.20201214.3.1): metadata.rollout.duration_minutes: is 0",
                       "release 2 (33.20201214.2.1): version: stream code 2 is not stable's (3)",
                       "metadata.rollout.paused.remaining_minutes: must be an integer >= 1",
                       "metadata.rollout.paused.since_epoch: must be an integer",
                       "metadata.rollout: is paused but has duration_minutes",
                       "release 3 (latest): version: 'latest' is not Fedora CoreOS's",
                       "release 3 (latest): metadata.rollout: rolls out a dead-end", NULL });
}

static void test_cross_checks(void **state)
{
        ReleaseIndex ri = { .stream = "stable" };
        Release rels[2] = { { .version = "33.20201201.3.0" }, { .version = "33.20201214.3.1" } };
        ri.releases = rels;
        ri.n_releases = 2;
        expect("{\"stream\": \"stable\", \"releases\": ["
               "{\"version\": \"33.20201214.3.1\", \"metadata\": {\"barrier\": {\"reason\": \"b\"}}},"
               "{\"version\": \"33.20201201.3.0\", \"metadata\": {\"barrier\": {\"reason\": \"b\"}}},"
               "{\"version\": \"33.20201299.3.0\", \"metadata\": {\"barrier\": {\"reason\": \"b\"}}}]}",
               &ri, 1, 1,
               (const char *const[]){
                       "release 1 (33.20201201.3.0): version: listed after a newer release",
                       "release 2 (33.20201299.3.0): version: not in the release index: servers "
                       "ignore this entry, so nodes do not stop at this barrier",
                       NULL });
        ri.stream = "testing";
        expect("{\"stream\": \"stable\", \"releases\": []}", &ri, 1, 0,
               (const char *const[]){ "stream: 'stable', but the release index is for 'testing'", NULL });
        ValidateResult res;
        char *out = run("{\"stream\": \"next\", \"releases\": []}", NULL, "stable", &res);
        assert_non_null(strstr(out, "u.json: warning: stream: 'next', but the file name says 'stable'"));
        free(out);
}

/* Many releases (lookups are sorted once and binary-searched, not a scan per entry: bench it, not timed
 * here): the same findings as a short file gives. */
static void test_many_releases(void **state)
{
        enum { N = 50000 };
        Release *rels = calloc(N, sizeof(Release));
        ReleaseIndex ri = { .stream = "stable", .releases = rels, .n_releases = N };
        Buf doc = BUF_INIT(1u << 26);

        assert_non_null(rels);
        assert_int_equal(buf_puts(&doc, "{\"stream\": \"stable\", \"releases\": ["), 0);
        for (unsigned i = 0; i < N; i++) {
                assert_true(asprintf(&rels[i].version, "40.20260101.3.%u", i) > 0);
                assert_int_equal(buf_printf(&doc,
                                            "{\"version\": \"%s\", \"metadata\": {\"barrier\": "
                                            "{\"reason\": \"b\"}}},",
                                            rels[i].version),
                                 0);
        }
        /* Two more entries for release 7 (each a duplicate of the first), one not in the index. */
        assert_int_equal(buf_puts(&doc,
                                  "{\"version\": \"40.20260101.3.7\", \"metadata\": {\"barrier\": {}}},"
                                  "{\"version\": \"40.20260101.3.7\", \"metadata\": {\"barrier\": {}}},"
                                  "{\"version\": \"40.20269999.3.0\", \"metadata\": {\"barrier\": "
                                  "{\"reason\": \"b\"}}}]}"),
                         0);
        assert_int_equal(buf_putc(&doc, 0), 0);
        expect(doc.data, &ri, 5, 1,
               (const char *const[]){
                       "release 50000 (40.20260101.3.7): version: duplicate of release 7: servers apply "
                       "both",
                       "release 50001 (40.20260101.3.7): version: duplicate of release 7: servers apply "
                       "both",
                       "release 50000 (40.20260101.3.7): version: listed after a newer release",
                       "release 50002 (40.20269999.3.0): version: not in the release index", NULL });
        for (unsigned i = 0; i < N; i++)
                free(rels[i].version);
        free(rels);
        buf_free(&doc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_file_is_clean), cmocka_unit_test(test_schema),
                cmocka_unit_test(test_semantics),          cmocka_unit_test(test_cross_checks),
                cmocka_unit_test(test_many_releases),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
