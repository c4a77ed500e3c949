/* test-lock-admin.c — upkeep-lock's admin API (lock-admin.c), driven without sockets on a Manager with
 * an SQLite backend in a temporary directory: off without a token, the bearer token, the routes and
 * their methods, the groups' state as JSON, releasing a holder, pausing and resuming (which FleetLock
 * requests then see), and a backend that cannot be reached. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <strings.h>

#include "lock-fixture.h"

static const char config[] =
        "[auth]\nadmin_token = \"sesame\"\n"
        "[[lock.groups]]\nname = \"default\"\n"
        "[[lock.groups]]\nname = \"db\"\nslots = 2\npaused = true\nmax_hold_secs = 60\n";
#define AUTH "Bearer sesame"
static const char odd_names[] = "[auth]\nadmin_token = \"sesame\"\n"
                                "[lock]\ndefault_group_name = \"my_workers\"\n"
                                "[[lock.groups]]\nname = \"eu/west 2\"\n"
                                "[[lock.groups]]\nname = 'say \"hi\" \\o/'\n"
                                "[[lock.groups]]\nname = \"Z\xc3\xbcrich\"\n";

static void test_off_and_auth(void **state)
{
        LockFixture *f = fixture_new("[[lock.groups]]\nname = \"default\"\n", NULL);
        Answer a;

        a = get(f->m, "/v1/groups", AUTH);
        assert_int_equal(a.status, 404);
        assert_contains(a.body, "the admin API is off");
        fixture_free(f);

        f = fixture_new(config, NULL);
        a = get(f->m, "/v1/groups", NULL);
        assert_int_equal(a.status, 401);
        assert_string_equal(answer_header(&a, "WWW-Authenticate"), "Bearer");
        a = get(f->m, "/v1/groups/default", "Bearer sesam");
        assert_int_equal(a.status, 401);
        a = post(f->m, "/v1/groups/default/pause", NULL, "Basic sesame");
        assert_int_equal(a.status, 401);
        a = get(f->m, "/v1/groups/", AUTH);
        assert_int_equal(a.status, 200);
        fixture_free(f);
}

static void test_routes(void **state)
{
        LockFixture *f = fixture_new(config, NULL);
        Manager *m = f->m;
        Answer a;

        a = post(m, "/v1/groups", NULL, AUTH);
        assert_int_equal(a.status, 405);
        assert_string_equal(answer_header(&a, "Allow"), "GET");
        a = post(m, "/v1/groups/default", NULL, AUTH);
        assert_int_equal(a.status, 405);
        a = get(m, "/v1/groups/default/pause", AUTH);
        assert_int_equal(a.status, 405);
        assert_string_equal(answer_header(&a, "Allow"), "POST");
        a = get(m, "/v1/groups/nope", AUTH);
        assert_int_equal(a.status, 404);
        assert_contains(a.body, "\"kind\":\"unknown_group\"");
        assert_contains(a.body, "unknown group 'nope'");
        a = post(m, "/v1/groups/default/reboot", NULL, AUTH);
        assert_int_equal(a.status, 404);
        assert_contains(a.body, "no such endpoint");
        a = post(m, "/v1/groups/default/pause/now", NULL, AUTH);
        assert_int_equal(a.status, 404);
        a = get(m, "/v1/groupsx", AUTH);
        assert_int_equal(a.status, 404);
        fixture_free(f);
}

static void test_state(void **state)
{
        LockFixture *f = fixture_new(config, NULL);
        Manager *m = f->m;
        Answer a;

        a = get(m, "/v1/groups", AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.content_type, "application/json");
        assert_contains(a.body,
                        "{\"groups\":[{\"name\":\"default\",\"slots\":1,\"holders\":[],\"paused\":false,"
                        "\"paused_in_config\":false,\"max_hold_secs\":0,\"settle_secs\":0,"
                        "\"last_release\":0,\"window\":{\"configured\":false,\"open\":true}},");
        assert_contains(a.body, "{\"name\":\"db\",\"slots\":2,\"holders\":[],\"paused\":true,"
                                "\"paused_in_config\":true,\"max_hold_secs\":60,");
        assert_int_equal(fleetlock(m, true, "default", "n1", NULL, false).status, 200);
        a = get(m, "/v1/groups/default", AUTH);
        assert_int_equal(a.status, 200);
        assert_contains(a.body, "{\"name\":\"default\",\"slots\":1,\"holders\":[{\"id\":\"n1\",\"since\":");
        assert_contains(a.body, "\"age_secs\":");
        fixture_free(f);
}

static void test_release(void **state)
{
        LockFixture *f = fixture_new(config, NULL);
        Manager *m = f->m;
        Answer a;

        assert_int_equal(fleetlock(m, true, "default", "n1", NULL, false).status, 200);
        assert_int_equal(fleetlock(m, true, "default", "n2", NULL, false).status, 423);
        a = post(m, "/v1/groups/default/release", "{\"id\":\"n1\"}", AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"group\":\"default\",\"action\":\"release\",\"released\":true}");
        a = post(m, "/v1/groups/default/release", "{\"id\":\"n1\"}", AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"group\":\"default\",\"action\":\"release\",\"released\":false}");
        a = post(m, "/v1/groups/default/release", "{\"id\":\"\"}", AUTH);
        assert_int_equal(a.status, 400);
        assert_contains(a.body, "\"kind\":\"invalid_request\"");
        a = post(m, "/v1/groups/default/release", NULL, AUTH);
        assert_int_equal(a.status, 400);
        /* the slot is free again */
        assert_int_equal(fleetlock(m, true, "default", "n2", NULL, false).status, 200);
        fixture_free(f);
}

static void test_pause_resume(void **state)
{
        LockFixture *f = fixture_new(config, NULL);
        Manager *m = f->m;
        Answer a;

        a = post(m, "/v1/groups/default/pause", NULL, AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"group\":\"default\",\"action\":\"pause\"}");
        a = fleetlock(m, true, "default", "n1", NULL, false);
        assert_int_equal(a.status, 423);
        assert_contains(a.body, "group_paused");
        a = get(m, "/v1/groups/default", AUTH);
        assert_contains(a.body, "\"paused\":true,\"paused_in_config\":false");
        /* twice is fine */
        assert_int_equal(post(m, "/v1/groups/default/pause", NULL, AUTH).status, 200);
        a = post(m, "/v1/groups/default/resume", NULL, AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"group\":\"default\",\"action\":\"resume\"}");
        assert_int_equal(fleetlock(m, true, "default", "n1", NULL, false).status, 200);
        /* resuming does not lift a pause in the configuration */
        assert_int_equal(post(m, "/v1/groups/db/resume", NULL, AUTH).status, 200);
        assert_int_equal(fleetlock(m, true, "db", "n1", NULL, false).status, 423);
        fixture_free(f);
}

static void test_backend_down(void **state)
{
        LockFixture *f = fixture_new(config, broken_backend_new());
        Manager *m = f->m;
        Answer a;

        a = get(m, "/v1/groups", AUTH);
        assert_int_equal(a.status, 503);
        assert_contains(a.body, "\"kind\":\"backend_unavailable\"");
        assert_contains(a.body, "the store is down");
        a = get(m, "/v1/groups/db", AUTH);
        assert_int_equal(a.status, 503);
        a = post(m, "/v1/groups/db/pause", NULL, AUTH);
        assert_int_equal(a.status, 503);
        assert_contains(a.body, "the store is down");
        assert_int_equal(m->backend_errors, 3);
        fixture_free(f);
}

/* Group names as Airlock accepts them: in the (percent-decoded) path, even with '/', and escaped in the
 * JSON answers. */
static void test_group_names(void **state)
{
        LockFixture *f = fixture_new(odd_names, NULL);
        Manager *m = f->m;
        Answer a;

        assert_int_equal(fleetlock(m, true, "eu/west 2", "n1", NULL, false).status, 200);
        a = get(m, "/v1/groups/eu/west 2", AUTH);
        assert_int_equal(a.status, 200);
        assert_contains(a.body, "{\"name\":\"eu/west 2\",\"slots\":1,\"holders\":[{\"id\":\"n1\"");
        a = post(m, "/v1/groups/eu/west 2/release", "{\"id\":\"n1\"}", AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"group\":\"eu/west 2\",\"action\":\"release\",\"released\":true}");
        a = post(m, "/v1/groups/say \"hi\" \\o//pause", NULL, AUTH);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.body, "{\"group\":\"say \\\"hi\\\" \\\\o/\",\"action\":\"pause\"}");
        a = get(m, "/v1/groups/my_workers", AUTH);
        assert_int_equal(a.status, 200);
        a = get(m, "/v1/groups", AUTH);
        assert_contains(a.body, "\"name\":\"Z\xc3\xbcrich\"");
        assert_contains(a.body, "\"name\":\"say \\\"hi\\\" \\\\o/\"");
        /* as the HTTP server hands them over: percent-encoded ('+' is not a space in a path) */
        a = post(m, "/v1/groups/say%20%22hi%22%20%5Co%2F/resume", NULL, AUTH);
        assert_int_equal(a.status, 200);
        assert_contains(a.body, "\"action\":\"resume\"");
        a = get(m, "/v1/groups/eu%2Fwest%202", AUTH);
        assert_int_equal(a.status, 200);
        assert_contains(a.body, "{\"name\":\"eu/west 2\"");
        a = get(m, "/v1/groups/Z%C3%BCrich", AUTH);
        assert_int_equal(a.status, 200);
        a = get(m, "/v1/groups/eu%2Fwest+2", AUTH);
        assert_int_equal(a.status, 404);
        a = get(m, "/v1/groups/eu%2", AUTH);
        assert_int_equal(a.status, 404);
        assert_contains(a.body, "bad percent-encoding");
        a = get(m, "/v1/groups/a%00b", AUTH);
        assert_int_equal(a.status, 404);
        a = get(m, "/v1/groups/eu/east", AUTH);
        assert_int_equal(a.status, 404);
        assert_contains(a.body, "unknown group 'eu'");
        fixture_free(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_off_and_auth), cmocka_unit_test(test_routes),
                cmocka_unit_test(test_state),        cmocka_unit_test(test_release),
                cmocka_unit_test(test_pause_resume), cmocka_unit_test(test_backend_down),
                cmocka_unit_test(test_group_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
