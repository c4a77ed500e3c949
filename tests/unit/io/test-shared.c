/* test-shared.c — the small adapters: logging with journald prefixes, input sources (file and URL,
 * size caps, HTTP errors), and the daemon's port file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-util.h"
#include "fileio.h"
#include "http-client.h"
#include "http-server.h"
#include "log.h"
#include "source.h"

/* Runs fn with stderr redirected to a file, returns what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
        char path[] = "/tmp/upkeep-log-XXXXXX";
        int fd = mkstemp(path), saved = dup(2);
        char *data = NULL;
        size_t len;

        assert_true(fd >= 0 && saved >= 0);
        fflush(stderr);
        dup2(fd, 2);
        fn();
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(fd);
        assert_int_equal(read_full_file(path, 1 << 20, &data, &len), 0);
        unlink(path);
        return data;
}

static void log_some(void)
{
        log_set_prefix(1);
        log_set_max_level(LOG_INFO);
        log_info("hello %d", 1);
        log_debug("hidden");
        assert_int_equal(log_error_errno(ENOENT, "missing %s", "x"), -ENOENT);
        assert_int_equal(log_warning_errno(-EINVAL, "bad"), -EINVAL);
        log_set_prefix(0);
        log_notice("plain");
}

static void test_log(void **state)
{
        char *out = capture_stderr(log_some);
        assert_string_equal(out, "<6>hello 1\n<3>missing x\n<4>bad\nplain\n");
        free(out);
}

static int serve(void *userdata, const HttpRequest *req, HttpReply *reply)
{
        if (strcmp(req->path, "/ok.json") == 0) {
                reply->status = 200;
                reply->content_type = "application/json";
                reply->owned = strdup("{\"a\":1}");
                reply->owned_len = 7;
                return 0;
        }
        if (strcmp(req->path, "/big.json") == 0) {
                reply->status = 200;
                reply->owned = calloc(1, 5000);
                memset(reply->owned, 'x', 4999);
                reply->owned_len = 4999;
                return 0;
        }
        return http_reply_error(reply, 500, "boom", "broken");
}

static void test_source_url(void **state)
{
        HttpServerConfig cfg = { .address = "127.0.0.1", .port = 0, .handler = serve };
        HttpClientOptions o = { .max_body_bytes = 1000 };
        HttpServer *s = NULL;
        HttpClient *c = NULL;
        Error e = { { 0 } };
        char url[128], *data = NULL;
        size_t len;

        assert_int_equal(http_server_start(&cfg, &s, &e), 0);
        assert_int_equal(http_client_new(&o, &c), 0);

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/ok.json", http_server_port(s));
        assert_true(source_is_url(url));
        assert_int_equal(source_fetch(url, c, 1000, &data, &len, &e), 0);
        assert_int_equal(len, 7);
        assert_string_equal(data, "{\"a\":1}");
        free(data);
        data = NULL;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/fail", http_server_port(s));
        assert_int_equal(source_fetch(url, c, 1000, &data, &len, &e), -EPROTO);
        assert_non_null(strstr(e.message, "server answered HTTP 500"));
        assert_non_null(strstr(e.message, url));

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/big.json", http_server_port(s));
        assert_int_equal(source_fetch(url, c, 1000, &data, &len, &e), -EFBIG);
        assert_null(data);

        assert_int_equal(source_fetch(url, NULL, 1000, &data, &len, &e), -EINVAL);
        http_client_free(c);
        http_server_stop(s, 1000);
}

static void test_source_file(void **state)
{
        char path[] = "/tmp/upkeep-src-XXXXXX";
        int fd = mkstemp(path);
        Error e = { { 0 } };
        char *data = NULL;
        size_t len;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "0123456789", 10), 10);
        close(fd);
        assert_false(source_is_url(path));
        assert_int_equal(source_fetch(path, NULL, 10, &data, &len, &e), 0);
        assert_int_equal(len, 10);
        free(data);
        data = NULL;
        assert_int_equal(source_fetch(path, NULL, 9, &data, &len, &e), -EFBIG);
        assert_non_null(strstr(e.message, "larger than the limit of 9 bytes"));
        assert_null(data);
        unlink(path);
        assert_int_equal(source_fetch(path, NULL, 9, &data, &len, &e), -ENOENT);
        assert_non_null(strstr(e.message, path));
}

static void test_port_file(void **state)
{
        char dir[] = "/tmp/upkeep-port-XXXXXX", path[128], *data = NULL;
        size_t len;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/port", dir);
        assert_int_equal(daemon_write_port_file(path, 4242), 0);
        assert_int_equal(read_full_file(path, 100, &data, &len), 0);
        assert_string_equal(data, "4242\n");
        free(data);
        unlink(path);
        rmdir(dir);
        assert_true(daemon_write_port_file("/nonexistent-dir/port", 1) < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_log),
                cmocka_unit_test(test_source_url),
                cmocka_unit_test(test_source_file),
                cmocka_unit_test(test_port_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
