/* test-daemon-util.c — unit tests for src/io/daemon-util.c: the event loop's signals (SIGTERM and SIGINT
 * end it and notify STOPPING=1, SIGHUP calls the reload function), the port file, and reading the
 * configuration file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon-util.h"
#include "fileio.h"
#include "log.h"
#include "test-util.h"

static int reloads;

static void on_reload(void *userdata)
{
        int *seen = userdata;

        (*seen)++;
        reloads++;
}

/* Runs the loop's iterations until fn has been called n times (or a second has gone by in vain). */
static void run_until_reloads(sd_event *e, int n)
{
        for (int i = 0; i < 10 && reloads < n; i++)
                assert_true(sd_event_run(e, 100 * 1000) >= 0);
        assert_int_equal(reloads, n);
}

/* A datagram socket standing in for systemd's notification socket, in NOTIFY_SOCKET. */
static int notify_socket(char *path, size_t size)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/upkeep-notify-XXXXXX";
        int fd;

        assert_non_null(mkdtemp(dir));
        snprintf(path, size, "%s/notify", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
        return fd;
}

static void notify_socket_done(int fd, const char *path)
{
        char dir[128];

        unsetenv("NOTIFY_SOCKET");
        close(fd);
        unlink(path);
        snprintf(dir, sizeof(dir), "%s", path);
        *strrchr(dir, '/') = 0;
        rmdir(dir);
}

static void test_event_signals(void **state)
{
        int seen = 0, fd;
        DaemonReload reload = { .fn = on_reload, .userdata = &seen };
        sd_event *e = NULL;
        sigset_t old, now;
        char path[128], msg[256];
        ssize_t n;

        assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &old), 0);
        fd = notify_socket(path, sizeof(path));
        reloads = 0;
        assert_int_equal(daemon_event_new(&reload, &e), 0);
        assert_non_null(e);

        /* The three signals are blocked (delivered to the loop only), SIGPIPE ignored. */
        assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
        assert_true(sigismember(&now, SIGTERM) && sigismember(&now, SIGINT) && sigismember(&now, SIGHUP));
        assert_true(signal(SIGPIPE, SIG_IGN) == SIG_IGN);

        /* SIGHUP calls the reload function, with its userdata, once per signal; the loop goes on. */
        assert_int_equal(raise(SIGHUP), 0);
        run_until_reloads(e, 1);
        assert_int_equal(seen, 1);
        assert_int_equal(raise(SIGHUP), 0);
        run_until_reloads(e, 2);
        assert_int_equal(seen, 2);
        assert_int_not_equal(sd_event_get_state(e), SD_EVENT_FINISHED);

        /* SIGTERM ends sd_event_loop() with 0, after telling the service manager. */
        assert_int_equal(raise(SIGTERM), 0);
        assert_int_equal(sd_event_loop(e), 0);
        assert_int_equal(sd_event_get_state(e), SD_EVENT_FINISHED);
        assert_int_equal(seen, 2);
        n = recv(fd, msg, sizeof(msg) - 1, 0);
        assert_true(n > 0);
        msg[n] = 0;
        assert_string_equal(msg, "STOPPING=1\nSTATUS=stopping");

        sd_event_unref(e);
        notify_socket_done(fd, path);
        assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}

static void test_event_no_reload(void **state)
{
        sd_event *e = NULL;
        sigset_t old;

        assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &old), 0);
        reloads = 0;
        assert_int_equal(daemon_event_new(NULL, &e), 0);

        /* Without a reload function SIGHUP is consumed and ignored: the process lives on, the loop too. */
        assert_int_equal(raise(SIGHUP), 0);
        assert_true(sd_event_run(e, 100 * 1000) >= 0);
        assert_int_not_equal(sd_event_get_state(e), SD_EVENT_FINISHED);

        /* SIGINT ends the loop like SIGTERM. */
        assert_int_equal(raise(SIGINT), 0);
        assert_int_equal(sd_event_loop(e), 0);
        assert_int_equal(sd_event_get_state(e), SD_EVENT_FINISHED);
        assert_int_equal(reloads, 0);
        sd_event_unref(e);
        assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
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

static char config_path[128];

static void read_configs(void)
{
        char *data = NULL;
        size_t len = 0;
        FILE *f;

        log_set_prefix(0);
        /* Missing: the defaults (logged) unless the file was named explicitly. */
        assert_int_equal(daemon_read_config(config_path, false, &data, &len), 0);
        assert_null(data);
        assert_int_equal(daemon_read_config(config_path, true, &data, &len), -ENOENT);
        assert_null(data);

        f = fopen(config_path, "we");
        assert_non_null(f);
        fputs("a = 1\n", f);
        fclose(f);
        assert_int_equal(daemon_read_config(config_path, true, &data, &len), 1);
        assert_string_equal(data, "a = 1\n");
        assert_int_equal(len, 6);
        free(data);
        data = NULL;

        /* Over 1 MiB. */
        assert_int_equal(truncate(config_path, (1 << 20) + 1), 0);
        assert_int_equal(daemon_read_config(config_path, false, &data, &len), -EFBIG);
        assert_null(data);
        unlink(config_path);
        log_set_prefix(1);
}

static void test_read_config(void **state)
{
        char dir[] = "/tmp/upkeep-config-XXXXXX", want[1024], *out;

        assert_non_null(mkdtemp(dir));
        snprintf(config_path, sizeof(config_path), "%s/x.toml", dir);
        out = test_capture_stderr(read_configs);
        rmdir(dir);
        /* Each line names the file; the error is the one that happened. */
        snprintf(want, sizeof(want),
                 "%s not found, using the built-in defaults\n%s: %s\n%s: larger than 1 MiB\n", config_path,
                 config_path, strerror(ENOENT), config_path);
        assert_string_equal(out, want);
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_event_signals),
                cmocka_unit_test(test_event_no_reload),
                cmocka_unit_test(test_port_file),
                cmocka_unit_test(test_read_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
