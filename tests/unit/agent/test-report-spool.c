/* test-report-spool.c — unit tests for the durable queue of outcome reports (src/agent/report-spool.c)
 * against a small HTTP server run by the test on 127.0.0.1, port 0, in a thread: reports delivered in
 * order with the bearer token, 503 then 200 (retried), 400 dropped, 401 kept, a server that is down then up
 * across a restart of the spool on the same directory, a duplicate enqueued once, max_queued dropping the
 * oldest, a damaged spool file dropped, and stop returning within its bound while a POST hangs (enqueue
 * meanwhile does not wait). */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "http-client.h"
#include "report-spool.h"
#include "time-util.h"

#define NODE "0123456789abcdef0123456789abcdef"
#define MAX_BODIES 64

typedef enum ServerMode {
        SERVER_ANSWER, /* answers the next scripted status, then default_status */
        SERVER_DOWN,   /* closes every connection without an answer */
        SERVER_HANG,   /* reads the request and answers nothing until the mode changes */
} ServerMode;

typedef struct FakeServer {
        int fd;
        uint16_t port;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        bool stop;
        ServerMode mode;
        int script[16];
        size_t n_script, next_script;
        int default_status;
        unsigned n_connections;
        bool hanging; /* a request is being held */
        char *bodies[MAX_BODIES];
        size_t n_bodies;
        char auth[256];
        char content_type[128];
} FakeServer;

static FakeServer server;
static char spool_dir[] = "/tmp/test-report-spool-XXXXXX";

/* Copies the value of header name (with ": ") from the request head into out, "" when absent. */
static void header_value(const char *head, const char *name, char *out, size_t size)
{
        const char *p = strcasestr(head, name);
        size_t n;

        out[0] = '\0';
        if (!p)
                return;
        p += strlen(name);
        n = strcspn(p, "\r\n");
        snprintf(out, size, "%.*s", (int)n, p);
}

/* Reads one request: its head into head, its body (Content-Length bytes) as a new string. */
static char *read_request(int fd, char *head, size_t size)
{
        size_t n = 0, want;
        char *end = NULL, *body, clen[32];
        ssize_t k;

        while (!end && n < size - 1) {
                k = read(fd, head + n, size - 1 - n);
                if (k <= 0)
                        return NULL;
                n += (size_t)k;
                head[n] = '\0';
                end = strstr(head, "\r\n\r\n");
        }
        if (!end)
                return NULL;
        header_value(head, "\r\nContent-Length: ", clen, sizeof clen);
        want = (size_t)strtoul(clen, NULL, 10);
        body = calloc(1, want + 1);
        n -= (size_t)(end + 4 - head);
        memcpy(body, end + 4, MIN(n, want));
        while (n < want && (k = read(fd, body + n, want - n)) > 0)
                n += (size_t)k;
        return body;
}

static void serve_one(int cfd)
{
        char head[16384], reply[128];
        char *body;
        int status;

        pthread_mutex_lock(&server.lock);
        server.n_connections++;
        if (server.mode == SERVER_DOWN) {
                pthread_mutex_unlock(&server.lock);
                return;
        }
        pthread_mutex_unlock(&server.lock);
        body = read_request(cfd, head, sizeof head);
        if (!body)
                return;
        pthread_mutex_lock(&server.lock);
        header_value(head, "\r\nAuthorization: ", server.auth, sizeof server.auth);
        header_value(head, "\r\nContent-Type: ", server.content_type, sizeof server.content_type);
        server.hanging = server.mode == SERVER_HANG;
        pthread_cond_broadcast(&server.changed);
        while (server.mode == SERVER_HANG && !server.stop)
                pthread_cond_wait(&server.changed, &server.lock);
        server.hanging = false;
        status = server.next_script < server.n_script ? server.script[server.next_script++]
                                                      : server.default_status;
        if (server.mode == SERVER_ANSWER && server.n_bodies < MAX_BODIES)
                server.bodies[server.n_bodies++] = body;
        else
                free(body);
        pthread_mutex_unlock(&server.lock);
        snprintf(reply, sizeof reply, "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
                 status);
        (void)!write(cfd, reply, strlen(reply));
}

static void *server_main(void *arg)
{
        for (;;) {
                struct pollfd p = { .fd = server.fd, .events = POLLIN };
                bool stop;
                int cfd;

                pthread_mutex_lock(&server.lock);
                stop = server.stop;
                pthread_mutex_unlock(&server.lock);
                if (stop)
                        return NULL;
                if (poll(&p, 1, 20) <= 0)
                        continue;
                cfd = accept4(server.fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0)
                        continue;
                serve_one(cfd);
                close(cfd);
        }
}

static void set_mode(ServerMode mode, int default_status)
{
        pthread_mutex_lock(&server.lock);
        server.mode = mode;
        server.default_status = default_status;
        pthread_cond_broadcast(&server.changed);
        pthread_mutex_unlock(&server.lock);
}

static void script(const int *statuses, size_t n)
{
        pthread_mutex_lock(&server.lock);
        memcpy(server.script, statuses, n * sizeof *statuses);
        server.n_script = n;
        server.next_script = 0;
        pthread_mutex_unlock(&server.lock);
}

static void remove_dir_contents(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || (de->d_name[1] && !(de->d_name[1] == '.' && !de->d_name[2])))
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

static int setup(void **state)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;

        memset(&server, 0, sizeof server);
        pthread_mutex_init(&server.lock, NULL);
        pthread_cond_init(&server.changed, NULL);
        server.default_status = 200;
        server.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(server.fd >= 0);
        assert_int_equal(bind(server.fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(server.fd, 16), 0);
        assert_int_equal(getsockname(server.fd, (struct sockaddr *)&a, &len), 0);
        server.port = ntohs(a.sin_port);
        assert_int_equal(pthread_create(&server.thread, NULL, server_main, NULL), 0);
        strcpy(spool_dir, "/tmp/test-report-spool-XXXXXX");
        assert_non_null(mkdtemp(spool_dir));
        return 0;
}

static int teardown(void **state)
{
        pthread_mutex_lock(&server.lock);
        server.stop = true;
        pthread_cond_broadcast(&server.changed);
        pthread_mutex_unlock(&server.lock);
        pthread_join(server.thread, NULL);
        close(server.fd);
        for (size_t i = 0; i < server.n_bodies; i++)
                free(server.bodies[i]);
        pthread_mutex_destroy(&server.lock);
        pthread_cond_destroy(&server.changed);
        char reports[sizeof spool_dir + 16];
        snprintf(reports, sizeof reports, "%s/reports", spool_dir);
        remove_dir_contents(reports);
        rmdir(reports);
        rmdir(spool_dir);
        return 0;
}

static uint64_t fast_backoff(unsigned attempt, double jitter01)
{
        return 20 * USEC_PER_MSEC;
}

/* The spool's post(), as a test sends it: directly with the HTTP client (the agent uses its worker). */
static int http_post(void *userdata, const char *url, const char *token, const char *body, size_t len,
                     unsigned timeout_ms, long *ret_status, Error *e)
{
        _cleanup_free_ char *auth = NULL;
        HttpClient *c = NULL;
        HttpResponse resp = {};
        int r;

        assert_null(userdata);
        if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                return -ENOMEM;
        r = http_client_new(&(HttpClientOptions){ .connect_timeout_ms = timeout_ms,
                                                  .total_timeout_ms = timeout_ms,
                                                  .max_body_bytes = 64 * 1024,
                                                  .max_redirects = -1,
                                                  .user_agent = "upkeep-test" },
                            &c);
        if (r < 0)
                return error_setf(e, r, "HTTP client: %m");
        r = http_client_request(c, "POST", url,
                                (const char *const[]){ "Content-Type: application/json", auth, NULL }, body,
                                len, &resp, e);
        if (r >= 0) {
                *ret_status = resp.status;
                error_setf(e, 0, "%.*s", (int)MIN(resp.body_len, (size_t)100), resp.body ? resp.body : "");
        }
        http_response_done(&resp);
        http_client_free(c);
        return r < 0 ? r : 0;
}

static ReportSpool *new_spool(unsigned max_queued, unsigned post_timeout_ms)
{
        char dir[sizeof spool_dir + 16], url[128];
        ReportSpool *s = NULL;
        Error e = {};

        snprintf(dir, sizeof dir, "%s/reports", spool_dir);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/report", server.port);
        if (report_spool_new(&(ReportSpoolSetup){ .post = http_post,
                                                  .dir = dir,
                                                  .url = url,
                                                  .token = "s3cret",
                                                  .max_queued = max_queued,
                                                  .post_timeout_ms = post_timeout_ms,
                                                  .backoff = fast_backoff },
                             &s, &e) < 0)
                fail_msg("report_spool_new: %s", e.message);
        return s;
}

static void make(OutcomeReport *r, const char *to_version, ReportOutcome outcome)
{
        const char *checks[] = { "01_dns.sh" };
        Error e = {};

        if (report_init(r, NODE, "default", "stable", "x86_64", "41.1", to_version, outcome, "detail",
                        checks, 1, 1767225600, &e) < 0)
                fail_msg("report_init: %s", e.message);
}

static void enqueue(ReportSpool *s, const char *to_version, ReportOutcome outcome, int expect)
{
        OutcomeReport r;
        Error e = {};
        int k;

        make(&r, to_version, outcome);
        k = report_spool_enqueue(s, &r, &e);
        if (k != expect)
                fail_msg("enqueue %s: %d, expected %d (%s)", to_version, k, expect, e.message);
}

static ReportSpoolStats stats(ReportSpool *s)
{
        ReportSpoolStats st;

        report_spool_get_stats(s, &st);
        return st;
}

/* Waits up to 5 s for the server to have recorded n bodies. */
static void wait_bodies(size_t n)
{
        for (int i = 0; i < 500; i++) {
                size_t have;

                pthread_mutex_lock(&server.lock);
                have = server.n_bodies;
                pthread_mutex_unlock(&server.lock);
                if (have >= n)
                        return;
                usleep(10000);
        }
        fail_msg("the server got %zu reports, expected %zu", server.n_bodies, n);
}

#define WAIT_FOR(cond)                                                                                      \
        do {                                                                                                \
                int _i = 0;                                                                                 \
                while (!(cond) && _i++ < 500)                                                               \
                        usleep(10000);                                                                      \
                if (!(cond))                                                                                \
                        fail_msg("timed out waiting for %s", #cond);                                        \
        } while (0)

/* The to_version of request i's body, as the server received it (every request, whatever its answer). */
static void assert_body_version(size_t i, const char *to_version)
{
        OutcomeReport r;
        Error e = {};

        pthread_mutex_lock(&server.lock);
        assert_true(i < server.n_bodies);
        if (report_decode(server.bodies[i], strlen(server.bodies[i]), &r, &e) < 0)
                fail_msg("body %zu: %s", i, e.message);
        pthread_mutex_unlock(&server.lock);
        assert_string_equal(r.to_version, to_version);
}

static unsigned count_files(void)
{
        char dir[sizeof spool_dir + 16];
        unsigned n = 0;
        struct dirent *de;
        DIR *d;

        snprintf(dir, sizeof dir, "%s/reports", spool_dir);
        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void test_delivered_in_order(void **state)
{
        ReportSpool *s = new_spool(0, 0);
        struct stat st;
        char dir[sizeof spool_dir + 16];

        snprintf(dir, sizeof dir, "%s/reports", spool_dir);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        enqueue(s, "41.2", REPORT_SUCCEEDED, 0);
        enqueue(s, "41.3", REPORT_ROLLED_BACK, 0);
        enqueue(s, "41.4", REPORT_STAGE_FAILED, 0);
        assert_int_equal(stats(s).queued, 3);
        assert_int_equal(count_files(), 3);
        assert_int_equal(report_spool_start(s, NULL), 0);
        assert_int_equal(report_spool_start(s, NULL), -EALREADY);
        wait_bodies(3);
        assert_body_version(0, "41.2");
        assert_body_version(1, "41.3");
        assert_body_version(2, "41.4");
        WAIT_FOR(stats(s).sent_total == 3);
        assert_int_equal(stats(s).queued, 0);
        assert_int_equal(stats(s).last_status, 200);
        assert_int_equal(count_files(), 0);
        assert_string_equal(server.auth, "Bearer s3cret");
        assert_string_equal(server.content_type, "application/json");
        /* A report queued while the sender waits goes out at once. */
        enqueue(s, "41.5", REPORT_SUCCEEDED, 0);
        wait_bodies(4);
        assert_body_version(3, "41.5");
        assert_int_equal(report_spool_stop(s, 2000), 0);
        assert_int_equal(report_spool_stop(s, 2000), 0);
        assert_int_equal(report_spool_start(s, NULL), -EALREADY);
        WAIT_FOR(stats(s).sent_total == 4);
        assert_int_equal(stats(s).failures_total, 0);
        assert_int_equal(stats(s).dropped_total, 0);
        report_spool_free(s);
}

static void test_retry_then_done_and_drop(void **state)
{
        static const int statuses[] = { 503, 429, 200, 400, 401, 200 };
        ReportSpool *s = new_spool(0, 0);
        ReportSpoolStats st;

        script(statuses, ELEMENTSOF(statuses));
        enqueue(s, "41.2", REPORT_SUCCEEDED, 0);
        enqueue(s, "41.3", REPORT_BOOT_FALLBACK, 0);
        enqueue(s, "41.4", REPORT_MANUAL_INTERVENTION, 0);
        assert_int_equal(report_spool_start(s, NULL), 0);
        /* 41.2: 503, 429, 200; 41.3: 400 (dropped); 41.4: 401 (kept), 200. */
        wait_bodies(6);
        WAIT_FOR(stats(s).sent_total == 2);
        st = stats(s);
        assert_int_equal(st.failures_total, 3);
        assert_int_equal(st.dropped_total, 1);
        assert_int_equal(st.queued, 0);
        assert_int_equal(count_files(), 0);
        assert_body_version(0, "41.2");
        assert_body_version(1, "41.2");
        assert_body_version(2, "41.2");
        assert_body_version(3, "41.3");
        assert_body_version(4, "41.4");
        assert_body_version(5, "41.4");
        pthread_mutex_lock(&server.lock);
        assert_int_equal(server.next_script, 6);
        pthread_mutex_unlock(&server.lock);
        assert_int_equal(report_spool_stop(s, 2000), 0);
        report_spool_free(s);
}

static void test_down_then_up_across_restart(void **state)
{
        ReportSpool *s = new_spool(0, 0);
        unsigned n;

        set_mode(SERVER_DOWN, 200);
        enqueue(s, "41.2", REPORT_SUCCEEDED, 0);
        enqueue(s, "41.3", REPORT_ROLLED_BACK, 0);
        assert_int_equal(report_spool_start(s, NULL), 0);
        WAIT_FOR(stats(s).failures_total >= 2);
        assert_true(strlen(stats(s).last_error) > 0);
        assert_int_equal(stats(s).last_status, 0);
        assert_int_equal(report_spool_stop(s, 2000), 0);
        report_spool_free(s);
        pthread_mutex_lock(&server.lock);
        n = server.n_connections;
        pthread_mutex_unlock(&server.lock);
        assert_true(n >= 2);
        assert_int_equal(count_files(), 2);

        /* "Restart": a new spool on the same directory sends what was left, in order. */
        set_mode(SERVER_ANSWER, 200);
        s = new_spool(0, 0);
        assert_int_equal(stats(s).queued, 2);
        assert_int_equal(report_spool_start(s, NULL), 0);
        wait_bodies(2);
        assert_body_version(0, "41.2");
        assert_body_version(1, "41.3");
        WAIT_FOR(stats(s).sent_total == 2);
        assert_int_equal(count_files(), 0);
        assert_int_equal(report_spool_stop(s, 2000), 0);
        report_spool_free(s);
}

static void test_duplicate_and_max_queued(void **state)
{
        ReportSpool *s = new_spool(3, 0);
        OutcomeReport r;
        Error e = {};

        enqueue(s, "41.2", REPORT_ROLLED_BACK, 0);
        enqueue(s, "41.2", REPORT_ROLLED_BACK, REPORT_SPOOL_ALREADY_QUEUED);
        assert_int_equal(count_files(), 1);
        enqueue(s, "41.2", REPORT_SUCCEEDED, 0); /* another outcome of the same update */
        enqueue(s, "41.3", REPORT_ROLLED_BACK, 0);
        assert_int_equal(count_files(), 3);
        make(&r, "41.4", REPORT_ROLLED_BACK);
        assert_int_equal(report_spool_enqueue(s, &r, &e), REPORT_SPOOL_DROPPED_OLDEST);
        assert_non_null(strstr(e.message, "dropped the oldest 1"));
        assert_int_equal(count_files(), 3);
        assert_int_equal(stats(s).dropped_total, 1);
        assert_int_equal(stats(s).queued, 3);
        /* The dropped one was the oldest: 41.2 rolled_back can be queued again. */
        enqueue(s, "41.2", REPORT_ROLLED_BACK, REPORT_SPOOL_DROPPED_OLDEST);
        assert_int_equal(report_spool_start(s, NULL), 0);
        wait_bodies(3);
        assert_body_version(0, "41.3");
        assert_body_version(1, "41.4");
        assert_body_version(2, "41.2");
        WAIT_FOR(stats(s).sent_total == 3);
        assert_int_equal(report_spool_stop(s, 2000), 0);
        report_spool_free(s);
}

static void test_bad_input(void **state)
{
        char dir[sizeof spool_dir + 16], path[sizeof dir + 64];
        ReportSpool *s = NULL;
        OutcomeReport r;
        Error e = {};

        snprintf(dir, sizeof dir, "%s/reports", spool_dir);
        assert_int_equal(report_spool_new(&(ReportSpoolSetup){ .post = http_post, .dir = dir }, &s, &e),
                         -EINVAL);
        assert_string_equal(e.message, "report spool: no URL");
        assert_int_equal(report_spool_new(&(ReportSpoolSetup){ .dir = dir, .url = "http://x/" }, &s, &e),
                         -EINVAL);
        assert_string_equal(e.message, "report spool: no way to send");
        assert_int_equal(report_spool_new(&(ReportSpoolSetup){ .post = http_post,
                                                               .dir = dir,
                                                               .url = "http://x/",
                                                               .token = "a\r\nX: y" },
                                          &s, &e),
                         -EINVAL);
        assert_non_null(strstr(e.message, "token"));
        assert_int_equal(
                report_spool_new(&(ReportSpoolSetup){ .post = http_post, .dir = dir, .url = "ftp://x/" }, &s,
                                 &e),
                -EINVAL);
        assert_string_equal(e.message, "report spool: URL: not http:// or https://");
        assert_int_equal(
                report_spool_new(&(ReportSpoolSetup){ .post = http_post, .url = "http://x/" }, &s, &e),
                -EINVAL);
        assert_null(s);
        assert_int_equal(report_spool_new(&(ReportSpoolSetup){ .post = http_post,
                                                               .dir = "/nonexistent/a/b",
                                                               .url = "http://x/" },
                                          &s, &e),
                         -ENOENT);

        s = new_spool(0, 0);
        make(&r, "41.2", REPORT_SUCCEEDED);
        r.node[0] = 'X';
        assert_int_equal(report_spool_enqueue(s, &r, &e), -EINVAL);
        assert_non_null(strstr(e.message, "node"));
        /* A damaged file (and a crash's leftover temporary file) in the spool: dropped, the next is sent. */
        snprintf(path, sizeof path, "%s/r-00000000000000000001-0000000000000000.json", dir);
        assert_int_equal(write_file_atomic(path, "{\"node\":", 8, 0600, &e), 0);
        snprintf(path, sizeof path, "%s/.#r-00000000000000000009-0000000000000000.json.abcdef", dir);
        assert_int_equal(write_file_atomic(path, "x", 1, 0600, &e), 0);
        report_spool_free(s);
        s = new_spool(0, 0);
        assert_int_equal(count_files(), 1); /* the temporary file is gone */
        enqueue(s, "41.2", REPORT_SUCCEEDED, 0);
        assert_int_equal(report_spool_start(s, NULL), 0);
        wait_bodies(1);
        assert_body_version(0, "41.2");
        WAIT_FOR(stats(s).sent_total == 1);
        assert_int_equal(stats(s).dropped_total, 1);
        assert_non_null(strstr(stats(s).last_error, "r-00000000000000000001-0000000000000000.json"));
        assert_int_equal(report_spool_stop(s, 2000), 0);
        report_spool_free(s);
}

static void test_stop_while_hanging(void **state)
{
        ReportSpool *s = new_spool(0, 3000);
        bool hanging = false;
        usec_t t;
        int k;

        set_mode(SERVER_HANG, 200);
        enqueue(s, "41.2", REPORT_SUCCEEDED, 0);
        assert_int_equal(report_spool_start(s, NULL), 0);
        for (int i = 0; i < 500 && !hanging; i++) {
                pthread_mutex_lock(&server.lock);
                hanging = server.hanging;
                pthread_mutex_unlock(&server.lock);
                if (!hanging)
                        usleep(10000);
        }
        assert_true(hanging);
        /* Enqueueing does not wait for the POST in flight. */
        t = now_usec(CLOCK_MONOTONIC);
        enqueue(s, "41.3", REPORT_SUCCEEDED, 0);
        assert_true(now_usec(CLOCK_MONOTONIC) - t < 500 * USEC_PER_MSEC);
        t = now_usec(CLOCK_MONOTONIC);
        k = report_spool_stop(s, 200);
        t = now_usec(CLOCK_MONOTONIC) - t;
        assert_int_equal(k, -ETIMEDOUT);
        assert_true(t >= 150 * USEC_PER_MSEC && t < 1000 * USEC_PER_MSEC);
        report_spool_free(s); /* the sender still holds the spool */
        /* Let the held request go: the sender finishes it, removes that file, and ends. */
        set_mode(SERVER_ANSWER, 200);
        WAIT_FOR(count_files() == 1);
        usleep(100000);
        assert_int_equal(count_files(), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_delivered_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_then_done_and_drop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_down_then_up_across_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_duplicate_and_max_queued, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_while_hanging, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
