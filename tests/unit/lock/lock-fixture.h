/* lock-fixture.h — what the unit tests of upkeep-lock's daemon parts share: a Manager on a configuration
 * given as TOML text, with an SQLite backend in a temporary directory (or a backend the test brings),
 * and requests driven through lock_server_handle() without any socket. Include after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lock-manager.h"
#include "lock-server.h"

typedef struct LockFixture {
        char dir[64];
        char path[128];
        Manager *m;
} LockFixture;

/* A backend whose store cannot be reached: every call fails with -EIO. */
static inline int broken_update(LockBackend *b, const char *group, uint64_t slots, SemaphoreUpdateFn fn,
                                void *userdata, Semaphore *ret, Error *e)
{
        return error_setf(e, -EIO, "the store is down");
}

static inline int broken_get(LockBackend *b, const char *group, Semaphore *ret, Error *e)
{
        return error_setf(e, -EIO, "the store is down");
}

static inline int broken_ping(LockBackend *b, Error *e)
{
        return error_setf(e, -EIO, "the store is down");
}

static inline void broken_free(LockBackend *b)
{
        free(b);
}

static const LockBackendOps broken_ops = {
        .name = "broken",
        .update = broken_update,
        .get = broken_get,
        .ping = broken_ping,
        .free = broken_free,
};

static inline LockBackend *broken_backend_new(void)
{
        LockBackend *b = calloc(1, sizeof(*b));

        assert_non_null(b);
        b->ops = &broken_ops;
        return b;
}

/* A Manager on the configuration toml, with backend (NULL: SQLite in a temporary directory). */
static inline LockFixture *fixture_new(const char *toml, LockBackend *backend)
{
        LockFixture *f = calloc(1, sizeof(*f));
        LockConfig *c = NULL;
        Error e = { { 0 } };

        assert_non_null(f);
        if (lock_config_parse(toml, strlen(toml), "lock.toml", &c, NULL, &e) < 0)
                fail_msg("lock_config_parse: %s", e.message);
        assert_int_equal(manager_new(c, &f->m), 0);
        if (!backend) {
                snprintf(f->dir, sizeof(f->dir), "/tmp/upkeep-lock-test-XXXXXX");
                assert_non_null(mkdtemp(f->dir));
                snprintf(f->path, sizeof(f->path), "%s/lock.db", f->dir);
                if (lock_backend_sqlite_new(f->path, &backend, &e) < 0)
                        fail_msg("lock_backend_sqlite_new: %s", e.message);
        }
        assert_int_equal(manager_set_backend(f->m, backend), 0);
        return f;
}

static inline void fixture_free(LockFixture *f)
{
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        char p[160];

        manager_free(f->m);
        if (f->dir[0]) {
                for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
                        unlink(p);
                }
                assert_int_equal(rmdir(f->dir), 0);
        }
        free(f);
}

/* An answer: status, body (NUL-terminated copy) and headers. */
typedef struct Answer {
        int r;
        unsigned status;
        char body[8192];
        const char *content_type;
        HttpReply reply; /* headers only */
        bool deferred;   /* came through fleetlock_call_submit() */
} Answer;

static inline void answer_take(Answer *a, int r, HttpReply *reply)
{
        a->r = r;
        a->status = reply->status;
        a->content_type = reply->content_type;
        snprintf(a->body, sizeof(a->body), "%.*s", (int)reply->owned_len, reply->owned ? reply->owned : "");
        free(reply->owned);
        reply->owned = NULL;
        a->reply = *reply;
}

static inline const char *answer_header(const Answer *a, const char *name)
{
        for (size_t i = 0; i < a->reply.n_headers; i++)
                if (strcasecmp(a->reply.header_names[i], name) == 0)
                        return a->reply.header_values[i];
        return NULL;
}

static inline void answer_deferred(void *userdata, int r, HttpReply *reply)
{
        Answer *a = userdata;

        answer_take(a, r, reply);
        __atomic_store_n(&a->deferred, true, __ATOMIC_RELEASE);
}

/* Sends req as the FleetLock listener would; a FleetLock call is run here (wait) or submitted. */
static inline Answer request(Manager *m, const LockRequest *req, bool submit)
{
        Answer a = { 0 };
        HttpReply reply = { 0 };
        FleetLockCall *call = NULL;
        int r = lock_server_handle(m, req, &reply, &call);

        if (r <= 0) {
                assert_null(call);
                answer_take(&a, r, &reply);
                return a;
        }
        assert_int_equal(r, 1);
        assert_non_null(call);
        if (!submit) {
                r = fleetlock_call_run(call, &reply);
                answer_take(&a, r, &reply);
                return a;
        }
        /* Answered on this thread or, when inline writes are off (one HTTP thread), the writer's. */
        fleetlock_call_submit(call, answer_deferred, &a);
        while (!__atomic_load_n(&a.deferred, __ATOMIC_ACQUIRE))
                usleep(1000);
        return a;
}

/* A FleetLock POST to /v1/pre-reboot (lock) or /v1/steady-state with Zincati's body. */
static inline Answer fleetlock(Manager *m, bool lock, const char *group, const char *id, const char *auth,
                               bool submit)
{
        char body[512];
        LockRequest req = {
                .method = "POST",
                .path = lock ? "/v1/pre-reboot" : "/v1/steady-state",
                .body = body,
                .fleet_lock_protocol = "true",
                .authorization = auth,
        };

        req.body_len = (size_t)snprintf(body, sizeof(body),
                                        "{\"client_params\":{\"id\":\"%s\",\"group\":\"%s\"}}", id, group);
        return request(m, &req, submit);
}

static inline Answer get(Manager *m, const char *path, const char *auth)
{
        LockRequest req = { .method = "GET", .path = path, .authorization = auth };
        return request(m, &req, false);
}

static inline Answer post(Manager *m, const char *path, const char *body, const char *auth)
{
        LockRequest req = {
                .method = "POST",
                .path = path,
                .body = body,
                .body_len = body ? strlen(body) : 0,
                .authorization = auth,
        };
        return request(m, &req, false);
}

static inline void assert_contains(const char *haystack, const char *needle)
{
        if (!strstr(haystack, needle))
                fail_msg("'%s' does not contain '%s'", haystack, needle);
}
