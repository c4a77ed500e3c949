/* test-etcd.c — the etcd client adapter (etcd.c) against a REAL etcd (/usr/bin/etcd) started here on
 * loopback with free ports and a temporary data directory, against dead and silent endpoints (failover,
 * timeouts), and against a server built on the project's HTTP adapter that answers nonsense. (The JSON
 * codec's tests are in test-etcd-json.c, base64's in tests/unit/basic/test-base64.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lock/assert-aborts.h"
#include "buf.h"
#include "etcd-json.h"
#include "etcd.h"
#include "http-client.h"
#include "http-server.h"
#include "macros.h"
#include "time-util.h"

#define ETCD_BINARY "/usr/bin/etcd"

/* ---- a real etcd ---- */

static pid_t etcd_pid = -1;
static char etcd_dir[] = "/tmp/upkeep-test-etcd-XXXXXX";
static char etcd_url[64];
static bool have_etcd;

/* Two distinct free loopback ports: bound to port 0 together, then released. */
static int free_ports(uint16_t *a, uint16_t *b)
{
        int fds[2] = { -1, -1 };
        uint16_t p[2];
        int r = 0;

        for (int i = 0; i < 2; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                socklen_t l = sizeof(sa);

                fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    getsockname(fds[i], (struct sockaddr *)&sa, &l) < 0) {
                        r = -errno;
                        break;
                }
                p[i] = ntohs(sa.sin_port);
        }
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (r < 0)
                return r;
        *a = p[0];
        *b = p[1];
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
        (void)st;
        (void)type;
        (void)f;
        remove(path);
        return 0;
}

static void stop_etcd(void)
{
        if (etcd_pid > 0) {
                kill(etcd_pid, SIGTERM);
                for (int i = 0; i < 100; i++) {
                        if (waitpid(etcd_pid, NULL, WNOHANG) == etcd_pid) {
                                etcd_pid = -1;
                                break;
                        }
                        usleep(50 * 1000);
                }
                if (etcd_pid > 0) {
                        kill(etcd_pid, SIGKILL);
                        waitpid(etcd_pid, NULL, 0);
                        etcd_pid = -1;
                }
        }
}

static void print_etcd_log(void)
{
        char path[128], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/etcd.log", etcd_dir);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                fprintf(stderr, "# etcd: %s", line);
        fclose(f);
}

/* Starts etcd and waits for GET /health to say {"health":"true"}. 0, or -1 after printing why. */
static int start_etcd_once(void)
{
        char client[64], peer[64], cluster[96], data[128], logpath[128];
        HttpClientOptions ho = { .connect_timeout_ms = 500, .total_timeout_ms = 1000 };
        HttpClient *h = NULL;
        uint16_t cport, pport;
        int64_t deadline;
        pid_t pid;

        if (free_ports(&cport, &pport) < 0)
                return -1;
        snprintf(client, sizeof(client), "http://127.0.0.1:%u", cport);
        snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", pport);
        snprintf(cluster, sizeof(cluster), "test=%s", peer);
        snprintf(data, sizeof(data), "%s/data", etcd_dir);
        snprintf(logpath, sizeof(logpath), "%s/etcd.log", etcd_dir);

        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
                execl(ETCD_BINARY, ETCD_BINARY, "--name", "test", "--data-dir", data, "--listen-client-urls",
                      client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                      "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster, "--logger", "zap",
                      "--log-level", "error", (char *)NULL);
                _exit(127);
        }
        etcd_pid = pid;
        snprintf(etcd_url, sizeof(etcd_url), "%s", client);

        assert_int_equal(http_client_new(&ho, &h), 0);
        deadline = (int64_t)now_msec(CLOCK_MONOTONIC) + 30000;
        while ((int64_t)now_msec(CLOCK_MONOTONIC) < deadline) {
                char url[96];
                HttpResponse resp = {};
                Error e;

                if (waitpid(pid, NULL, WNOHANG) == pid) {
                        etcd_pid = -1;
                        break;
                }
                snprintf(url, sizeof(url), "%s/health", client);
                if (http_client_request(h, "GET", url, NULL, NULL, 0, &resp, &e) == 0) {
                        bool ok = resp.status == 200 && strstr(resp.body, "\"true\"");
                        http_response_done(&resp);
                        if (ok) {
                                http_client_free(h);
                                return 0;
                        }
                }
                usleep(50 * 1000);
        }
        http_client_free(h);
        print_etcd_log();
        stop_etcd();
        return -1;
}

static int etcd_setup(void **state)
{
        if (access(ETCD_BINARY, X_OK) < 0) {
                fprintf(stderr, "# %s not installed: etcd tests are skipped\n", ETCD_BINARY);
                return 0;
        }
        if (!mkdtemp(etcd_dir))
                return -1;
        /* A free port can be taken by someone else before etcd binds it: try again with new ones. */
        for (int attempt = 0; attempt < 3; attempt++)
                if (start_etcd_once() == 0) {
                        have_etcd = true;
                        return 0;
                }
        return -1;
}

static int etcd_teardown(void **state)
{
        stop_etcd();
        if (etcd_dir[strlen(etcd_dir) - 1] != 'X')
                nftw(etcd_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return 0;
}

#define NEED_ETCD()                                                                                         \
        do {                                                                                                \
                if (!have_etcd)                                                                             \
                        skip();                                                                             \
        } while (0)

static Etcd *client_for(const char *const *endpoints, size_t n, unsigned timeout_ms)
{
        EtcdOptions o = { .endpoints = endpoints, .n_endpoints = n, .transaction_timeout_ms = timeout_ms };
        Etcd *c = NULL;
        Error e;
        int r = etcd_new(&o, &c, &e);
        if (r < 0)
                fprintf(stderr, "# etcd_new: %s\n", e.message);
        assert_int_equal(r, 0);
        return c;
}

static Etcd *live_client(void)
{
        const char *ep[] = { etcd_url };
        return client_for(ep, 1, 0);
}

static void test_options(void **state)
{
        static const char *const bad[] = { "",           "127.0.0.1:2379", "ftp://h",
                                           "http://",    "http:///",       "http://h/prefix",
                                           "http://u@h", "http://h?x",     "http://h 1" };
        EtcdOptions o = {};
        Etcd *c = (Etcd *)0x1;
        Error e;

        assert_int_equal(etcd_new(&o, &c, &e), -EINVAL);
        assert_aborts(etcd_new(NULL, &c, &e));
        assert_aborts(etcd_new(&o, NULL, &e));
        assert_aborts(etcd_get(NULL, "k", &(EtcdKv){}, &e));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                o = (EtcdOptions){ .endpoints = &bad[i], .n_endpoints = 1 };
                assert_int_equal(etcd_new(&o, &c, &e), -EINVAL);
                assert_non_null(strstr(e.message, "endpoint 1"));
        }
        assert_ptr_equal(c, (Etcd *)0x1);
        {
                const char *ok[] = { "http://127.0.0.1:2379/", "HTTPS://[::1]:2379" };
                o = (EtcdOptions){ .endpoints = ok, .n_endpoints = 2 };
                assert_int_equal(etcd_new(&o, &c, &e), 0);
                etcd_free(c);
        }
}

static void test_get_missing(void **state)
{
        NEED_ETCD();
        Etcd *c = live_client();
        EtcdKv kv = { .value = (char *)0x1 };
        Error e;

        assert_int_equal(etcd_get(c, "t/missing", &kv, &e), -ENOENT);
        assert_ptr_equal(kv.value, (char *)0x1); /* untouched */
        assert_int_equal(etcd_delete(c, "t/missing", &e), -ENOENT);
        etcd_free(c);
}

static void test_status(void **state)
{
        NEED_ETCD();
        Etcd *c = live_client();
        EtcdStatus s;
        Error e;

        assert_int_equal(etcd_status(c, &s, &e), 0);
        assert_true(strlen(s.version) > 0);
        assert_true(s.leader != 0);
        assert_int_equal(s.leader, s.member_id); /* a cluster of one */
        assert_true(s.revision >= 1);
        etcd_free(c);
}

static void test_create_if_absent(void **state)
{
        NEED_ETCD();
        Etcd *c = live_client();
        EtcdTxnResult t = {};
        EtcdKv kv = {};
        int64_t created;
        Error e;

        assert_int_equal(etcd_txn_put_if(c, "t/create", ETCD_COMPARE_VERSION, 0, "one", 3, &t, &e), 0);
        assert_true(t.succeeded);
        assert_true(t.found);
        assert_null(t.kv.value);
        assert_int_equal(t.kv.mod_revision, t.revision);
        assert_true(t.revision > 0);
        created = t.kv.mod_revision;
        etcd_txn_result_done(&t);

        /* The second creation fails and returns what is there, in the same round trip. */
        assert_int_equal(etcd_txn_put_if(c, "t/create", ETCD_COMPARE_VERSION, 0, "two", 3, &t, &e), 0);
        assert_false(t.succeeded);
        assert_true(t.found);
        assert_int_equal(t.kv.value_len, 3);
        assert_string_equal(t.kv.value, "one");
        assert_int_equal(t.kv.mod_revision, created);
        assert_int_equal(t.kv.version, 1);
        etcd_txn_result_done(&t);

        assert_int_equal(etcd_get(c, "t/create", &kv, &e), 0);
        assert_string_equal(kv.value, "one");
        assert_int_equal(kv.mod_revision, created);
        assert_int_equal(kv.create_revision, created);
        etcd_kv_done(&kv);

        /* VERSION compare on an existing key */
        assert_int_equal(etcd_txn_put_if(c, "t/create", ETCD_COMPARE_VERSION, 1, "", 0, &t, &e), 0);
        assert_true(t.succeeded);
        assert_true(t.kv.mod_revision > created);
        etcd_txn_result_done(&t);
        /* an empty value reads back as empty, not absent */
        assert_int_equal(etcd_get(c, "t/create", &kv, &e), 0);
        assert_non_null(kv.value);
        assert_int_equal(kv.value_len, 0);
        assert_int_equal(kv.version, 2);
        assert_int_equal(kv.create_revision, created);
        etcd_kv_done(&kv);
        etcd_free(c);
}

static void test_cas_mod_revision(void **state)
{
        NEED_ETCD();
        Etcd *c = live_client();
        EtcdTxnResult t = {};
        int64_t r1, r2;
        Error e;

        assert_int_equal(etcd_put(c, "t/cas", "a", 1, &r1, &e), 0);
        assert_true(r1 > 0);
        assert_int_equal(etcd_txn_put_if(c, "t/cas", ETCD_COMPARE_MOD, r1, "b", 1, &t, &e), 0);
        assert_true(t.succeeded);
        r2 = t.kv.mod_revision;
        assert_true(r2 > r1);
        etcd_txn_result_done(&t);

        /* stale revision */
        assert_int_equal(etcd_txn_put_if(c, "t/cas", ETCD_COMPARE_MOD, r1, "c", 1, &t, &e), 0);
        assert_false(t.succeeded);
        assert_string_equal(t.kv.value, "b");
        assert_int_equal(t.kv.mod_revision, r2);
        etcd_txn_result_done(&t);

        assert_int_equal(etcd_txn_put_if(c, "t/cas", ETCD_COMPARE_MOD, r2, "c", 1, &t, &e), 0);
        assert_true(t.succeeded);
        etcd_txn_result_done(&t);

        /* mod_revision 0 means absent: fails on an existing key, creates an absent one */
        assert_int_equal(etcd_txn_put_if(c, "t/cas", ETCD_COMPARE_MOD, 0, "d", 1, &t, &e), 0);
        assert_false(t.succeeded);
        assert_string_equal(t.kv.value, "c");
        etcd_txn_result_done(&t);
        assert_int_equal(etcd_txn_put_if(c, "t/cas-new", ETCD_COMPARE_MOD, 0, "d", 1, &t, &e), 0);
        assert_true(t.succeeded);
        etcd_txn_result_done(&t);

        /* a compare on an absent key that fails reports it absent */
        assert_int_equal(etcd_txn_put_if(c, "t/cas-absent", ETCD_COMPARE_MOD, 5, "x", 1, &t, &e), 0);
        assert_false(t.succeeded);
        assert_false(t.found);
        etcd_txn_result_done(&t);

        assert_int_equal(etcd_delete(c, "t/cas", &e), 0);
        assert_int_equal(etcd_delete(c, "t/cas", &e), -ENOENT);
        etcd_free(c);
}

#define ROUNDS 20

typedef struct Racer {
        int id;
        pthread_barrier_t *barrier;
        bool won[ROUNDS];
        char seen[ROUNDS][32]; /* the loser's view of the value */
        int failed;
} Racer;

static void *race(void *p)
{
        Racer *r = p;
        Etcd *c = NULL;
        EtcdOptions o = { .endpoints = (const char *const[]){ etcd_url }, .n_endpoints = 1 };
        Error e;

        if (etcd_new(&o, &c, &e) < 0)
                r->failed = 1;
        for (int i = 0; i < ROUNDS; i++) {
                EtcdKv kv = {};
                EtcdTxnResult t = {};
                char v[32];
                int64_t rev = -1;

                if (!r->failed && etcd_get(c, "t/race", &kv, &e) == 0) {
                        rev = kv.mod_revision;
                        etcd_kv_done(&kv);
                } else
                        r->failed = 1;
                /* Both read the same revision before either writes. */
                pthread_barrier_wait(r->barrier);
                snprintf(v, sizeof(v), "r%d-t%d", i, r->id);
                if (!r->failed &&
                    etcd_txn_put_if(c, "t/race", ETCD_COMPARE_MOD, rev, v, strlen(v), &t, &e) == 0) {
                        r->won[i] = t.succeeded;
                        if (!t.succeeded && t.found)
                                snprintf(r->seen[i], sizeof(r->seen[i]), "%s", t.kv.value);
                        etcd_txn_result_done(&t);
                } else
                        r->failed = 1;
                pthread_barrier_wait(r->barrier);
        }
        etcd_free(c);
        return NULL;
}

static void test_concurrent_cas(void **state)
{
        NEED_ETCD();
        Etcd *c = live_client();
        pthread_barrier_t barrier;
        pthread_t th[2];
        Racer racers[2] = {};
        Error e;

        assert_int_equal(etcd_put(c, "t/race", "start", 5, NULL, &e), 0);
        etcd_free(c);
        assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
        for (int i = 0; i < 2; i++) {
                racers[i].id = i;
                racers[i].barrier = &barrier;
                assert_int_equal(pthread_create(&th[i], NULL, race, &racers[i]), 0);
        }
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        assert_int_equal(racers[0].failed + racers[1].failed, 0);
        for (int i = 0; i < ROUNDS; i++) {
                char want[32];
                int winner = racers[0].won[i] ? 0 : 1;

                assert_int_equal((int)racers[0].won[i] + (int)racers[1].won[i], 1);
                /* the loser saw the winner's value */
                snprintf(want, sizeof(want), "r%d-t%d", i, winner);
                assert_string_equal(racers[1 - winner].seen[i], want);
        }
}

static void test_big_value(void **state)
{
        NEED_ETCD();
        Etcd *c = live_client();
        size_t n = 1024 * 1024;
        unsigned char *v = malloc(n);
        EtcdTxnResult t = {};
        EtcdKv kv = {};
        unsigned seed = 7;
        Error e;

        assert_non_null(v);
        for (size_t i = 0; i < n; i++)
                v[i] = (unsigned char)(rand_r(&seed) & 0xff);
        assert_int_equal(etcd_txn_put_if(c, "t/big", ETCD_COMPARE_VERSION, 0, v, n, &t, &e), 0);
        assert_true(t.succeeded);
        etcd_txn_result_done(&t);
        assert_int_equal(etcd_get(c, "t/big", &kv, &e), 0);
        assert_int_equal(kv.value_len, n);
        assert_memory_equal(kv.value, v, n);
        etcd_kv_done(&kv);
        /* and back through a failed compare */
        assert_int_equal(etcd_txn_put_if(c, "t/big", ETCD_COMPARE_VERSION, 0, "x", 1, &t, &e), 0);
        assert_false(t.succeeded);
        assert_int_equal(t.kv.value_len, n);
        assert_memory_equal(t.kv.value, v, n);
        etcd_txn_result_done(&t);
        free(v);

        assert_int_equal(etcd_put(c, "t/big", "", ETCD_VALUE_MAX + 1, NULL, &e), -EMSGSIZE);
        etcd_free(c);
}

/* A loopback port where nothing listens. */
static void dead_endpoint(char *buf, size_t n)
{
        uint16_t a, b;
        assert_int_equal(free_ports(&a, &b), 0);
        snprintf(buf, n, "http://127.0.0.1:%u", a);
}

/* A listening socket that never accepts: connections complete (backlog) but nothing ever answers. */
static int silent_endpoint(char *buf, size_t n)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
        snprintf(buf, n, "http://127.0.0.1:%u", ntohs(sa.sin_port));
        return fd;
}

static void test_failover(void **state)
{
        NEED_ETCD();
        char dead[64], silent[64];
        EtcdKv kv;
        Etcd *c;
        Error e;
        int64_t t0, t1;
        int fd;

        dead_endpoint(dead, sizeof(dead));
        {
                const char *ep[] = { dead, etcd_url };
                c = client_for(ep, 2, 0);
                assert_int_equal(etcd_current_endpoint(c), 0);
                assert_int_equal(etcd_get(c, "t/failover", &kv, &e), -ENOENT);
                assert_int_equal(etcd_current_endpoint(c), 1);
                assert_int_equal(etcd_status(c, NULL, &e), 0);
                assert_int_equal(etcd_current_endpoint(c), 1); /* prefers the live one now */
                etcd_free(c);
        }

        fd = silent_endpoint(silent, sizeof(silent));
        {
                const char *ep[] = { silent, etcd_url };
                c = client_for(ep, 2, 300);
                t0 = (int64_t)now_msec(CLOCK_MONOTONIC);
                assert_int_equal(etcd_status(c, NULL, &e), 0); /* after a 300 ms timeout */
                t1 = (int64_t)now_msec(CLOCK_MONOTONIC);
                assert_true(t1 - t0 >= 250);
                assert_true(t1 - t0 < 3000);
                assert_int_equal(etcd_current_endpoint(c), 1);
                /* the next calls go straight to the live endpoint */
                t0 = (int64_t)now_msec(CLOCK_MONOTONIC);
                for (int i = 0; i < 5; i++)
                        assert_int_equal(etcd_status(c, NULL, &e), 0);
                assert_true((int64_t)now_msec(CLOCK_MONOTONIC) - t0 < 1000);
                etcd_free(c);
        }
        close(fd);
}

static void test_all_dead(void **state)
{
        char dead1[64], dead2[64], silent[64];
        EtcdKv kv;
        Etcd *c;
        Error e;
        int64_t t0;
        int fd;

        dead_endpoint(dead1, sizeof(dead1));
        dead_endpoint(dead2, sizeof(dead2));
        {
                const char *ep[] = { dead1, dead2 };
                c = client_for(ep, 2, 0);
                t0 = (int64_t)now_msec(CLOCK_MONOTONIC);
                assert_int_equal(etcd_get(c, "t/x", &kv, &e), -ECONNREFUSED);
                assert_true((int64_t)now_msec(CLOCK_MONOTONIC) - t0 < 2000);
                assert_non_null(strstr(e.message, "none of 2 endpoints"));
                assert_non_null(strstr(e.message, dead1 + 7));
                assert_non_null(strstr(e.message, dead2 + 7));
                etcd_free(c);
        }

        fd = silent_endpoint(silent, sizeof(silent));
        {
                const char *ep[] = { silent };
                c = client_for(ep, 1, 200);
                t0 = (int64_t)now_msec(CLOCK_MONOTONIC);
                assert_int_equal(etcd_put(c, "t/x", "v", 1, NULL, &e), -ETIMEDOUT);
                assert_true((int64_t)now_msec(CLOCK_MONOTONIC) - t0 < 1500);
                assert_non_null(strstr(e.message, silent + 7));
                etcd_free(c);
        }
        close(fd);
}

/* ---- a server answering nonsense ---- */

static atomic_int garbage_mode;

static const char *const garbage_range[] = {
        "not json",
        "[1,2,3]",
        "{\"header\":{\"revision\":\"abc\"}}",
        "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"dC9n\",\"create_revision\":\"1\",\"mod_"
        "revision\":"
        "\"1\",\"version\":\"1\",\"value\":\"@@@@\"}],\"count\":\"1\"}",
        "{\"header\":{\"revision\":\"1\"},\"kvs\":[{\"key\":\"b3RoZXI=\",\"create_revision\":\"1\",\"mod_"
        "revision\":"
        "\"1\",\"version\":\"1\"}],\"count\":\"1\"}",
        "{\"header\":{\"revision\":\"1\"},\"kvs\":\"x\"}",
        "",
};

static int garbage_handler(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        int mode = atomic_load(&garbage_mode);
        const char *body;

        reply->content_type = "application/json";
        if (mode < 0) {
                /* a member without a leader */
                reply->status = 503;
                body = "{\"error\":\"etcdserver: no leader\",\"message\":\"etcdserver: no "
                       "leader\",\"code\":14}";
        } else if (mode >= (int)ELEMENTSOF(garbage_range)) {
                reply->status = 500;
                reply->content_type = "text/plain";
                body = "internal \x01 trouble";
        } else {
                reply->status = 200;
                body = garbage_range[mode];
        }
        reply->owned = strdup(body);
        reply->owned_len = strlen(body);
        return reply->owned ? 0 : -ENOMEM;
}

static void test_garbage_server(void **state)
{
        HttpServerConfig sc = { .address = "127.0.0.1", .handler = garbage_handler };
        HttpServer *server = NULL;
        char url[64];
        EtcdTxnResult t;
        EtcdKv kv;
        Etcd *c;
        Error e;

        assert_int_equal(http_server_start(&sc, &server, &e), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", http_server_port(server));
        {
                const char *ep[] = { url };
                c = client_for(ep, 1, 0);
        }
        for (int m = 0; m < (int)ELEMENTSOF(garbage_range); m++) {
                atomic_store(&garbage_mode, m);
                assert_int_equal(etcd_get(c, "t/g", &kv, &e), -EPROTO);
                assert_non_null(strstr(e.message, url));
                assert_int_equal(etcd_txn_put_if(c, "t/g", ETCD_COMPARE_VERSION, 0, "v", 1, &t, &e),
                                 -EPROTO);
                if (m < 3 || m > 5) { /* 3 to 5 carry a valid header, all a put or delete answer needs */
                        assert_int_equal(etcd_put(c, "t/g", "v", 1, NULL, &e), -EPROTO);
                        assert_int_equal(etcd_delete(c, "t/g", &e), -EPROTO);
                }
                assert_int_equal(etcd_status(c, NULL, &e), -EPROTO);
        }
        atomic_store(&garbage_mode, (int)ELEMENTSOF(garbage_range));
        assert_int_equal(etcd_get(c, "t/g", &kv, &e), -EPROTO);
        assert_non_null(strstr(e.message, "500"));
        assert_null(strchr(e.message, '\x01'));

        /* a member that reports itself unavailable: -EIO alone, failover with a live one */
        atomic_store(&garbage_mode, -1);
        assert_int_equal(etcd_get(c, "t/g", &kv, &e), -EIO);
        assert_non_null(strstr(e.message, "no leader"));
        etcd_free(c);
        if (have_etcd) {
                const char *ep[] = { url, etcd_url };
                c = client_for(ep, 2, 0);
                assert_int_equal(etcd_status(c, NULL, &e), 0);
                assert_int_equal(etcd_current_endpoint(c), 1);
                etcd_free(c);
        }
        http_server_stop(server, 1000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_options),          cmocka_unit_test(test_get_missing),
                cmocka_unit_test(test_status),           cmocka_unit_test(test_create_if_absent),
                cmocka_unit_test(test_cas_mod_revision), cmocka_unit_test(test_concurrent_cas),
                cmocka_unit_test(test_big_value),        cmocka_unit_test(test_failover),
                cmocka_unit_test(test_all_dead),         cmocka_unit_test(test_garbage_server),
        };
        return cmocka_run_group_tests(tests, etcd_setup, etcd_teardown);
}
