/* test-lock-server.c — upkeep-lock's FleetLock endpoints and routing (lock-server.c), driven without
 * sockets: requests in, replies out, on a Manager with an SQLite backend in a temporary directory (and a
 * broken backend for the 503s). Locks and unlocks, both ways of running a call (waiting, and submitted
 * with a callback), every refusal (method, header, body, unknown group, bearer tokens, per-node tokens,
 * full, settle, paused, closed window), what they count, and the status endpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <strings.h>
#include <time.h>

#include "lock-fixture.h"

static const char two_groups[] = "[service]\nthreads = 4\n"
                                 "[lock]\ndefault_slots = 1\n"
                                 "[[lock.groups]]\nname = \"default\"\n"
                                 "[[lock.groups]]\nname = \"workers\"\nslots = 2\nsettle_secs = 3600\n"
                                 "[[lock.groups]]\nname = \"db\"\npaused = true\n"
                                 "[[lock.groups]]\nname = \"secure\"\nclient_tokens = [\"t1\", \"t2\"]\n";

static const char odd_names[] = "[auth]\nadmin_token = \"sesame\"\n"
                                "[lock]\ndefault_group_name = \"my_workers\"\n"
                                "[[lock.groups]]\nname = \"eu/west 2\"\n"
                                "[[lock.groups]]\nname = 'say \"hi\" \\o/'\n"
                                "[[lock.groups]]\nname = \"Z\xc3\xbcrich\"\n";

static uint64_t requests(Manager *m, FleetLockEndpoint endpoint, unsigned status)
{
        return m->requests[endpoint][lock_counted_code_index(status)];
}

static GroupState *state(Manager *m, const char *group)
{
        return generation_find_group(m->gen, group)->st;
}

static void test_lock_unlock(void **state_)
{
        LockFixture *f = fixture_new(two_groups, NULL);
        Manager *m = f->m;
        Answer a;

        a = fleetlock(m, true, "default", "n1", NULL, false);
        assert_int_equal(a.r, 0);
        assert_int_equal(a.status, 200);
        assert_int_equal(state(m, "default")->counters.grants, 1);
        /* recursive: holding is enough, and not a second grant */
        a = fleetlock(m, true, "default", "n1", NULL, true);
        assert_int_equal(a.status, 200);
        assert_true(a.deferred);
        assert_int_equal(state(m, "default")->counters.grants, 1);
        /* one slot: the next node waits */
        a = fleetlock(m, true, "default", "n2", NULL, true);
        assert_int_equal(a.status, 423);
        assert_contains(a.body, "\"kind\":\"failed_lock_semaphore_full\"");
        assert_contains(a.body, "all 1 semaphore slots currently locked");
        assert_int_equal(state(m, "default")->counters.denials[DENIAL_FULL], 1);
        /* steady-state frees the slot; a second one is harmless */
        a = fleetlock(m, false, "default", "n1", NULL, false);
        assert_int_equal(a.status, 200);
        assert_int_equal(state(m, "default")->counters.releases, 1);
        a = fleetlock(m, false, "default", "n1", NULL, true);
        assert_int_equal(a.status, 200);
        assert_int_equal(state(m, "default")->counters.releases, 1);
        a = fleetlock(m, true, "default", "n2", NULL, false);
        assert_int_equal(a.status, 200);

        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 200), 3);
        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 423), 1);
        assert_int_equal(requests(m, ENDPOINT_STEADY_STATE, 200), 2);
        assert_int_equal(m->latency.count, 6);
        assert_int_equal(m->backend_errors, 0);
        fixture_free(f);
}

static void test_refusals(void **state_)
{
        LockFixture *f = fixture_new(two_groups, NULL);
        Manager *m = f->m;
        LockRequest req = { .method = "POST", .path = "/v1/pre-reboot", .body = "{}", .body_len = 2 };
        Answer a;

        a = get(m, "/v1/pre-reboot", NULL);
        assert_int_equal(a.status, 405);
        assert_string_equal(answer_header(&a, "Allow"), "POST");
        /* no fleet-lock-protocol header, then a body without client_params */
        a = request(m, &req, false);
        assert_int_equal(a.status, 400);
        assert_contains(a.body, "fleet-lock-protocol");
        req.fleet_lock_protocol = "true";
        a = request(m, &req, false);
        assert_int_equal(a.status, 400);
        assert_contains(a.body, "\"kind\":\"invalid_request\"");
        assert_contains(a.body, "client_params");
        a = fleetlock(m, true, "nope", "n1", NULL, false);
        assert_int_equal(a.status, 404);
        assert_contains(a.body, "unknown group 'nope'");
        /* paused in the configuration */
        a = fleetlock(m, true, "db", "n1", NULL, false);
        assert_int_equal(a.status, 423);
        assert_contains(a.body, "\"kind\":\"group_paused\"");
        assert_int_equal(state(m, "db")->counters.denials[DENIAL_PAUSED], 1);
        /* the 405 is not counted; the others are */
        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 400), 2);
        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 404), 1);
        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 423), 1);
        assert_int_equal(m->latency.count, 4);
        fixture_free(f);
}

static void test_client_tokens(void **state_)
{
        LockFixture *f = fixture_new(two_groups, NULL);
        Manager *m = f->m;
        Answer a;

        a = fleetlock(m, true, "secure", "n1", NULL, false);
        assert_int_equal(a.status, 401);
        assert_string_equal(answer_header(&a, "WWW-Authenticate"), "Bearer");
        a = fleetlock(m, true, "secure", "n1", "Bearer t3", false);
        assert_int_equal(a.status, 401);
        a = fleetlock(m, true, "secure", "n1", "Bearer t2", false);
        assert_int_equal(a.status, 200);
        a = fleetlock(m, false, "secure", "n1", "Bearer t1", true);
        assert_int_equal(a.status, 200);
        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 401), 2);
        /* other groups need none */
        a = fleetlock(m, true, "workers", "n1", "Bearer whatever", false);
        assert_int_equal(a.status, 200);
        fixture_free(f);
}

#define TOKEN_N1 "Bearer 11111111111111111111111111111111"
#define TOKEN_N2 "Bearer 22222222222222222222222222222222"

/* Per-node tokens: a node takes and releases only its own slot with its own token (403 with another
 * node's, 401 with none or a group's token, which no longer suffices); the admin API releases any. */
static void test_node_tokens(void **state_)
{
        static const char tokens[] = "n1 11111111111111111111111111111111\n"
                                     "n2 22222222222222222222222222222222\n";
        LockFixture *f = fixture_new("[auth]\nadmin_token = \"sesame\"\n"
                                     "[[lock.groups]]\nname = \"default\"\nclient_tokens = [\"group\"]\n",
                                     NULL);
        Manager *m = f->m;
        Error e = { { 0 } };
        Answer a;

        assert_int_equal(
                lock_node_tokens_parse(tokens, strlen(tokens), "tokens", &m->boot->config->node_tokens, &e),
                0);
        a = fleetlock(m, true, "default", "n1", TOKEN_N1, false);
        assert_int_equal(a.status, 200);
        /* n2's token cannot release n1's slot, nor take one for n1 */
        a = fleetlock(m, false, "default", "n1", TOKEN_N2, false);
        assert_int_equal(a.status, 403);
        assert_contains(a.body, "\"kind\":\"forbidden\"");
        assert_contains(a.body, "another node");
        a = fleetlock(m, true, "default", "n1", TOKEN_N2, true);
        assert_int_equal(a.status, 403);
        /* neither can a group token, nor no token, nor a node missing from the file */
        a = fleetlock(m, false, "default", "n1", "Bearer group", false);
        assert_int_equal(a.status, 401);
        assert_string_equal(answer_header(&a, "WWW-Authenticate"), "Bearer");
        assert_contains(a.body, "its own bearer token");
        a = fleetlock(m, false, "default", "n1", NULL, false);
        assert_int_equal(a.status, 401);
        a = fleetlock(m, true, "default", "n3", "Bearer group", false);
        assert_int_equal(a.status, 401);
        /* still held by n1: n2 waits */
        a = fleetlock(m, true, "default", "n2", TOKEN_N2, false);
        assert_int_equal(a.status, 423);
        /* the admin API releases any node's slot */
        a = post(m, "/v1/groups/default/release", "{\"id\":\"n1\"}", "Bearer sesame");
        assert_int_equal(a.status, 200);
        assert_contains(a.body, "\"released\":true");
        a = fleetlock(m, true, "default", "n2", TOKEN_N2, true);
        assert_int_equal(a.status, 200);
        a = fleetlock(m, false, "default", "n2", TOKEN_N2, true);
        assert_int_equal(a.status, 200);
        fixture_free(f);
}

static void test_settle(void **state_)
{
        LockFixture *f = fixture_new(two_groups, NULL);
        Manager *m = f->m;
        Answer a;

        assert_int_equal(fleetlock(m, true, "workers", "n1", NULL, false).status, 200);
        assert_int_equal(fleetlock(m, false, "workers", "n1", NULL, false).status, 200);
        a = fleetlock(m, true, "workers", "n2", NULL, false);
        assert_int_equal(a.status, 423);
        assert_contains(a.body, "settle delay");
        assert_contains(a.body, "3600 s");
        assert_int_equal(state(m, "workers")->counters.denials[DENIAL_FULL], 1);
        fixture_free(f);
}

static void test_window(void **state_)
{
        /* Open one minute a day, at midnight UTC. [lock] alone configures the default group (as in Airlock):
         * windows for Zincati's group "default" need another default_group_name. */
        static const char toml[] = "[lock]\ndefault_group_name = \"base\"\n"
                                   "[[lock.groups]]\nname = \"default\"\ntime_zone = \"UTC\"\n"
                                   "[[lock.groups.window]]\n"
                                   "days = [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\", \"Sat\", \"Sun\"]\n"
                                   "start_time = \"00:00\"\nlength_minutes = 1\n";
        LockFixture *f;
        Answer a;

        if (time(NULL) % 86400 < 120)
                skip(); /* the window may be open */
        f = fixture_new(toml, NULL);
        a = fleetlock(f->m, true, "default", "n1", NULL, false);
        assert_int_equal(a.status, 423);
        assert_contains(a.body, "\"kind\":\"outside_window\"");
        /* leaving is always allowed */
        assert_int_equal(fleetlock(f->m, false, "default", "n1", NULL, false).status, 200);
        assert_int_equal(state(f->m, "default")->counters.denials[DENIAL_OUTSIDE_WINDOW], 1);
        fixture_free(f);
}

static void test_backend_down(void **state_)
{
        LockFixture *f = fixture_new(two_groups, broken_backend_new());
        Manager *m = f->m;
        Answer a;

        a = fleetlock(m, true, "default", "n1", NULL, false);
        assert_int_equal(a.status, 503);
        assert_contains(a.body, "\"kind\":\"backend_unavailable\"");
        assert_contains(a.body, "the store is down");
        a = fleetlock(m, false, "default", "n1", NULL, true);
        assert_int_equal(a.status, 503);
        assert_int_equal(requests(m, ENDPOINT_PRE_REBOOT, 503), 1);
        assert_int_equal(requests(m, ENDPOINT_STEADY_STATE, 503), 1);
        assert_int_equal(m->backend_errors, 2);
        a = get(m, "/readyz", NULL);
        assert_int_equal(a.status, 503);
        /* /metrics still answers: what the backend holds is unknown */
        a = get(m, "/metrics", NULL);
        assert_int_equal(a.status, 200);
        assert_contains(a.body, "upkeep_lock_holders{group=\"default\"} NaN");
        fixture_free(f);
}

static void test_status_endpoints(void **state_)
{
        LockFixture *f = fixture_new(two_groups, NULL);
        Manager *m = f->m;
        LockRequest req = { .method = "GET", .path = "/v1/pre-reboot" };
        HttpReply reply = { 0 };
        Answer a;

        assert_int_equal(fleetlock(m, true, "workers", "n1", NULL, false).status, 200);
        a = get(m, "/healthz", NULL);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"status\":\"ok\"}");
        a = get(m, "/readyz", NULL);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"status\":\"ready\"}");
        a = get(m, "/metrics", NULL);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.content_type, METRICS_CONTENT_TYPE);
        assert_contains(a.body, "upkeep_lock_requests_total{endpoint=\"pre-reboot\",code=\"200\"} 1\n");
        assert_contains(a.body, "upkeep_lock_holders{group=\"workers\"} 1\n");
        assert_contains(a.body, "upkeep_lock_grants_total{group=\"workers\"} 1\n");
        assert_contains(a.body, "upkeep_lock_paused{group=\"db\"} 1\n");
        assert_contains(a.body, "upkeep_lock_backend_writes_total 1\n");
        a = post(m, "/metrics", NULL, NULL);
        assert_int_equal(a.status, 405);
        assert_string_equal(answer_header(&a, "Allow"), "GET, HEAD");
        a = get(m, "/nope", NULL);
        assert_int_equal(a.status, 404);
        /* the status listener serves nothing else */
        assert_int_equal(lock_server_handle_status(m, &req, &reply), 0);
        assert_int_equal(reply.status, 404);
        free(reply.owned);
        fixture_free(f);
}

/* Group names as Airlock accepts them: served, and escaped in /metrics' label values. */
static void test_group_names(void **state_)
{
        LockFixture *f = fixture_new(odd_names, NULL);
        Manager *m = f->m;
        Answer a;

        assert_int_equal(fleetlock(m, true, "my_workers", "n1", NULL, false).status, 200);
        assert_int_equal(fleetlock(m, true, "eu/west 2", "n1", NULL, false).status, 200);
        assert_int_equal(fleetlock(m, true, "say \\\"hi\\\" \\\\o/", "n1", NULL, false).status, 200);
        assert_int_equal(fleetlock(m, true, "Z\xc3\xbcrich", "n1", NULL, false).status, 200);
        a = fleetlock(m, true, "a\\nb", "n1", NULL, false);
        assert_int_equal(a.status, 400);
        assert_contains(a.body, "without control characters");
        a = get(m, "/metrics", NULL);
        assert_contains(a.body, "upkeep_lock_holders{group=\"my_workers\"} 1\n");
        assert_contains(a.body, "upkeep_lock_holders{group=\"eu/west 2\"} 1\n");
        assert_contains(a.body, "upkeep_lock_holders{group=\"say \\\"hi\\\" \\\\o/\"} 1\n");
        assert_contains(a.body, "upkeep_lock_holders{group=\"Z\xc3\xbcrich\"} 1\n");
        fixture_free(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lock_unlock),      cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_client_tokens),    cmocka_unit_test(test_settle),
                cmocka_unit_test(test_window),           cmocka_unit_test(test_backend_down),
                cmocka_unit_test(test_status_endpoints), cmocka_unit_test(test_group_names),
                cmocka_unit_test(test_node_tokens),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
