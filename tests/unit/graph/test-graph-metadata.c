/* test-graph-metadata.c — the release index and update metadata parsers: what they keep, and the
 * errors of malformed documents (named by release, position and field). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-build.h"
#include "graph-metadata.h"
#include "graph-test-util.h"

static void expect_error(const char *releases, const char *updates, int err, const char *msg)
{
        Error e = { { 0 } };
        int r;
        Graph *g = build_inline(releases, updates, &e, &r);
        assert_null(g);
        assert_int_equal(r, err);
        if (!strstr(e.message, msg))
                fail_msg("error '%s' does not contain '%s'", e.message, msg);
}

static void test_malformed(void **state)
{
        const char *ok_r = "{\"releases\":[" REL("1", "a") "]}";
        const char *ok_u = "{\"stream\":\"s\",\"releases\":[]}";

        expect_error("", ok_u, -EINVAL, "line 1");
        expect_error("[]", ok_u, -EINVAL, "release index: expected an object");
        expect_error("{}", ok_u, -EINVAL, "release index: missing field 'releases'");
        expect_error("{\"releases\":{}}", ok_u, -EINVAL, "field 'releases' must be an array");
        expect_error("{\"releases\":[{}]}", ok_u, -EINVAL, "release 0: missing field 'version'");
        expect_error("{\"releases\":[{\"version\":\"\"}]}", ok_u, -EINVAL,
                     "release 0: field 'version' is empty");
        expect_error("{\"releases\":[{\"version\":\"9\",\"commits\":[{\"architecture\":\"x86_64\"}]}]}",
                     ok_u, -EINVAL, "release 0 (9): commits[0]: missing field 'checksum'");
        expect_error(
                "{\"releases\":[{\"version\":\"9\",\"commits\":[{\"architecture\":1,\"checksum\":\"a\"}]}]}",
                ok_u, -EINVAL,
                "release 0 (9): commits[0]: field 'architecture' must be a string, got integer");
        expect_error("{\"releases\":[{\"version\":\"9\",\"oci-images\":[{\"architecture\":\"x\"}]}]}", ok_u,
                     -EINVAL, "oci-images[0]: missing field 'digest-ref'");
        expect_error("{\"releases\":[],\"releases\":[]}", ok_u, -EINVAL, "duplicate");
        expect_error(ok_r, "{\"releases\":[]}", -EINVAL, "update metadata: missing field 'stream'");
        expect_error(ok_r, "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\"}]}", -EINVAL,
                     "release 0 (1): missing field 'metadata'");
        expect_error(ok_r,
                     "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\",\"metadata\":{\"barrier\":{}}}]}",
                     -EINVAL, "release 0 (1): metadata.barrier: missing field 'reason'");
        expect_error(ok_r,
                     "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\",\"metadata\":{\"rollout\":"
                     "{\"start_epoch\":1.5}}}]}",
                     -EINVAL, "metadata.rollout: field 'start_epoch' must be an integer, got number");
        expect_error(ok_r,
                     "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\",\"metadata\":{\"rollout\":"
                     "{\"duration_minutes\":-1}}}]}",
                     -ERANGE, "field 'duration_minutes' is -1");
        expect_error(ok_r,
                     "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\",\"metadata\":{\"rollout\":"
                     "{\"start_percentage\":\"0.5\"}}}]}",
                     -EINVAL, "field 'start_percentage' must be a number, got string");
        expect_error(ok_r,
                     "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\",\"metadata\":{\"deadend\":7}}]}",
                     -EINVAL, "metadata.deadend must be an object, got integer");

        /* Unknown fields and nulls for optional ones are accepted, as upstream does. */
        Error e;
        int r;
        Graph *g =
                build_inline("{\"x\":1,\"releases\":[{\"version\":\"1\",\"commits\":null,\"new\":[]}]}",
                             "{\"stream\":\"s\",\"future\":{},\"releases\":[{\"version\":\"1\",\"metadata\":"
                             "{\"rollout\":null,\"other\":1}}]}",
                             &e, &r);
        assert_int_equal(r, 0);
        assert_int_equal(g->n_nodes, 0);
        graph_free(g);
}

static void test_parsed_fields(void **state)
{
        const char *releases = "{\"stream\":\"next\",\"releases\":["
                               "{\"version\":\"1\",\"metadata\":\"https://example.com/1\",\"commits\":["
                               "{\"architecture\":\"x86_64\",\"checksum\":\"c1\"},{\"architecture\":"
                               "\"aarch64\",\"checksum\":"
                               "\"a1\"}]},"
                               "{\"version\":\"2\",\"oci-images\":[{\"architecture\":\"x86_64\",\"digest-"
                               "ref\":\"q@sha256:2\"}]}]}";
        const char *updates = "{\"stream\":\"next\",\"releases\":["
                              "{\"version\":\"1\",\"metadata\":{\"barrier\":{\"reason\":\"\"},"
                              "\"deadend\":{\"reason\":\"bad\"}}},"
                              "{\"version\":\"2\",\"metadata\":{\"rollout\":{\"start_epoch\":-5,"
                              "\"start_percentage\":0.75,\"duration_minutes\":60}}},"
                              "{\"version\":\"3\",\"metadata\":{\"rollout\":{}}}]}";
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Error e = { { 0 } };

        assert_int_equal(release_index_parse(releases, strlen(releases), &ri, &e), 0);
        assert_string_equal(ri->stream, "next");
        assert_int_equal(ri->n_releases, 2);
        assert_string_equal(ri->releases[0].version, "1");
        assert_int_equal(ri->releases[0].n_commits, 2);
        assert_string_equal(ri->releases[0].commits[1].architecture, "aarch64");
        assert_string_equal(ri->releases[0].commits[1].payload, "a1");
        assert_int_equal(ri->releases[0].n_oci_images, 0);
        assert_int_equal(ri->releases[1].n_commits, 0);
        assert_int_equal(ri->releases[1].n_oci_images, 1);
        assert_string_equal(ri->releases[1].oci_images[0].payload, "q@sha256:2");
        release_index_free(ri);

        /* Without "stream" the release index says nothing about it. */
        assert_int_equal(release_index_parse("{\"releases\":[]}", 15, &ri, &e), 0);
        assert_null(ri->stream);
        assert_int_equal(ri->n_releases, 0);
        release_index_free(ri);

        assert_int_equal(update_metadata_parse(updates, strlen(updates), &um, &e), 0);
        assert_string_equal(um->stream, "next");
        assert_int_equal(um->n_entries, 3);
        assert_string_equal(um->entries[0].barrier_reason, "");
        assert_string_equal(um->entries[0].deadend_reason, "bad");
        assert_false(um->entries[0].rollout);
        assert_null(um->entries[1].barrier_reason);
        assert_true(um->entries[1].rollout);
        assert_true(um->entries[1].has_start_epoch && um->entries[1].start_epoch == -5);
        assert_true(um->entries[1].has_start_percentage && um->entries[1].start_percentage == 0.75);
        assert_true(um->entries[1].has_duration && um->entries[1].duration_minutes == 60);
        assert_true(um->entries[2].rollout);
        assert_false(um->entries[2].has_start_epoch || um->entries[2].has_start_percentage ||
                     um->entries[2].has_duration);
        update_metadata_free(um);
}

/* fedora-coreos-cincinnati reads start_percentage as any float: FCOS's testing stream published 100 in
 * 2019. Such a value is kept as given, so the graph and its throttling are upstream's, with a warning. */
static void test_start_percentage_out_of_range(void **state)
{
        const char *releases = "{\"releases\":[" REL("1", "c1") "," REL("2", "c2") "," REL("3", "c3") "]}";
        const char *updates = "{\"stream\":\"testing\",\"releases\":["
                              "{\"version\":\"2\",\"metadata\":{\"rollout\":{\"start_epoch\":1000,"
                              "\"start_percentage\":100,\"duration_minutes\":60}}},"
                              "{\"version\":\"3\",\"metadata\":{\"rollout\":{\"start_epoch\":1000,"
                              "\"start_percentage\":-0.5}}}]}";
        UpdateMetadata *um = NULL;
        ReleaseIndex *ri = NULL;
        Error e = { { 0 } };
        Graph *g = NULL;

        assert_int_equal(update_metadata_parse(updates, strlen(updates), &um, &e), 0);
        assert_true(um->entries[0].has_start_percentage && um->entries[0].start_percentage == 100.0);
        assert_true(um->entries[1].start_percentage == -0.5);
        assert_int_equal(um->n_warnings, 2);
        assert_non_null(strstr(um->warnings[0], "release 0 (2): metadata.rollout: start_percentage 100 is "
                                                "outside [0, 1]"));
        assert_non_null(strstr(um->warnings[1], "start_percentage -0.5 is outside [0, 1]"));
        assert_null(um->warnings[2]);

        assert_int_equal(release_index_parse(releases, strlen(releases), &ri, &e), 0);
        assert_int_equal(graph_build(ri, um, "x86_64", GRAPH_SCHEME_CHECKSUM, &g, &e), 0);
        /* The metadata carries the value as upstream prints it. */
        for (size_t k = 0; k < g->nodes[1].n_meta; k++)
                if (strcmp(g->nodes[1].meta_keys[k], META_START_VALUE) == 0)
                        assert_string_equal(g->nodes[1].meta_values[k], "100");
        /* Upstream's arithmetic: 100 throttles from 100 down to 1 over the hour, so even the warinest node
         * sees it once it starts, none before; -0.5 without a duration hides it from everyone. */
        assert_true(graph_node_throttle(&g->nodes[1], 999) == 0.0);
        assert_true(graph_node_throttle(&g->nodes[1], 1000) == 100.0);
        assert_true(graph_node_throttle(&g->nodes[1], 1000 + 1800) == 50.5);
        assert_true(graph_node_throttle(&g->nodes[1], 1000 + 3601) == 1.0);
        assert_true(graph_node_throttle(&g->nodes[2], 5000) == -0.5);
        graph_free(g);
        release_index_free(ri);
        update_metadata_free(um);

        /* A document within the convention has no warnings. */
        updates = "{\"stream\":\"s\",\"releases\":[{\"version\":\"1\",\"metadata\":{\"rollout\":"
                  "{\"start_percentage\":1}}}]}";
        assert_int_equal(update_metadata_parse(updates, strlen(updates), &um, &e), 0);
        assert_int_equal(um->n_warnings, 0);
        assert_null(um->warnings);
        update_metadata_free(um);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_parsed_fields),
                cmocka_unit_test(test_start_percentage_out_of_range),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
