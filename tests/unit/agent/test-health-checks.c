/* test-health-checks.c — unit tests for the health checks runner (src/agent/health-checks.c) with real
 * scripts in a temporary root: discovery order and rules, greenboot.conf's disabled list, *.sh without
 * the exec bit, pass/fail, greenboot's stop at the first required failure and run_all, a hanging check
 * killed with its process group at its timeout, the capped and cleaned output tail, commands, a fake bus
 * for units, and a local HTTP listener on 127.0.0.1 port 0 for the probe. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "health-checks.h"
#include "time-util.h"

#define SEC UINT64_C(1000000)

static char root[64];

static void mkdir_p(const char *path)
{
        char buf[512];

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        (void)mkdir(buf, 0755);
                        *p = '/';
                }
        (void)mkdir(buf, 0755);
}

/* Writes root/rel with mode, creating its directories. */
static void put(const char *rel, const char *text, mode_t mode)
{
        char path[512], dir[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s%s", root, rel);
        snprintf(dir, sizeof(dir), "%s", path);
        *strrchr(dir, '/') = '\0';
        mkdir_p(dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
}

static int setup_root(void **state)
{
        snprintf(root, sizeof(root), "/tmp/test-health-checks.XXXXXX");
        assert_non_null(mkdtemp(root));
        return 0;
}

static int teardown_root(void **state)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static HealthCheckList discover(const GreenbootConf *conf)
{
        HealthCheckList l = {};
        Error e = {};

        if (health_checks_discover(root, conf, &l, &e) < 0)
                fail_msg("discover: %s", e.message);
        return l;
}

static HealthResults run(const HealthCheckList *l, const HealthRunOptions *o)
{
        HealthResults r;
        Error e = {};

        if (health_checks_run(l, o, &r, &e) < 0)
                fail_msg("run: %s", e.message);
        return r;
}

static void test_discover_order(void **state)
{
        HealthCheckList l;
        static const char *const want[] = { "a", "b.sh", "0-first.sh", "e", "w.sh" };

        put("/usr/lib/greenboot/check/required.d/b.sh", "exit 0\n", 0644); /* *.sh: no exec bit needed */
        put("/usr/lib/greenboot/check/required.d/a", "#!/bin/sh\nexit 0\n", 0755);
        put("/usr/lib/greenboot/check/required.d/c.txt", "not a check\n", 0644);
        put("/usr/lib/greenboot/check/required.d/.hidden.sh", "exit 1\n", 0755);
        put("/usr/lib/greenboot/check/required.d/dir.sh/x", "", 0644); /* a directory named *.sh */
        put("/etc/greenboot/check/required.d/0-first.sh", "exit 0\n", 0755);
        put("/etc/upkeep/check/required.d/e", "#!/bin/sh\nexit 0\n", 0755);
        put("/usr/lib/upkeep/check/wanted.d/w.sh", "exit 0\n", 0644);
        put("/etc/greenboot/green.d/g.sh", "exit 0\n", 0644);

        l = discover(NULL);
        assert_int_equal(l.n, ELEMENTSOF(want));
        for (size_t i = 0; i < l.n; i++) {
                assert_string_equal(l.checks[i].name, want[i]);
                assert_int_equal(l.checks[i].kind, HEALTH_CHECK_SCRIPT);
                assert_int_equal(l.checks[i].required, i < 4);
                assert_int_equal(l.checks[i].bash, strstr(want[i], ".sh") != NULL);
        }
        assert_non_null(strstr(l.checks[2].path, "/etc/greenboot/check/required.d/0-first.sh"));

        /* all of them run, *.sh without the exec bit through bash */
        HealthResults r = run(&l, NULL);
        assert_int_equal(r.n, l.n);
        assert_false(r.red);
        for (size_t i = 0; i < r.n; i++) {
                assert_true(r.results[i].ok);
                assert_int_equal(r.results[i].exit_status, 0);
                assert_string_equal(r.results[i].reason, "");
        }
        health_results_done(&r);
        health_check_list_done(&l);

        /* disabled by greenboot.conf */
        static const char conf_text[] = "DISABLED_HEALTHCHECKS=(b.sh e)\n";
        GreenbootConf conf;
        Error e = {};
        assert_int_equal(greenboot_conf_parse(conf_text, strlen(conf_text), &conf, &e), 0);
        l = discover(&conf);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.checks[0].name, "a");
        assert_string_equal(l.checks[1].name, "0-first.sh");
        assert_string_equal(l.checks[2].name, "w.sh");
        health_check_list_done(&l);
        greenboot_conf_done(&conf);

        /* hooks */
        put("/etc/upkeep/green.d/h", "#!/bin/sh\n", 0755);
        put("/etc/upkeep/red.d/r.sh", "", 0644);
        assert_int_equal(health_hooks_discover(root, HEALTH_HOOKS_GREEN, &l, &e), 0);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.checks[0].name, "g.sh");
        assert_string_equal(l.checks[1].name, "h");
        assert_false(l.checks[0].required);
        health_check_list_done(&l);
        assert_int_equal(health_hooks_discover(root, HEALTH_HOOKS_RED, &l, &e), 0);
        assert_int_equal(l.n, 1);
        health_check_list_done(&l);

        /* a missing root is empty, not an error */
        assert_int_equal(health_checks_discover("/nonexistent-root", NULL, &l, &e), 0);
        assert_int_equal(l.n, 0);
}

static void test_required_stops(void **state)
{
        HealthCheckList l;
        HealthResults r;
        HealthRunOptions all = { .run_all = true };

        /* executable, with a /bin/sh shebang, yet run with bash as greenboot does */
        put("/usr/lib/upkeep/check/required.d/1-ok.sh", "#!/bin/sh\n[ -n \"$BASH_VERSION\" ] && echo fine\n",
            0755);
        put("/usr/lib/upkeep/check/required.d/2-bad.sh", "echo broken >&2\nexit 3\n", 0644);
        put("/usr/lib/upkeep/check/required.d/3-ok.sh", "exit 0\n", 0644);
        put("/usr/lib/upkeep/check/wanted.d/4-bad.sh", "exit 1\n", 0644);
        l = discover(NULL);
        assert_int_equal(l.n, 4);

        /* greenboot: the first required failure skips the remaining required checks, wanted ones still run
         */
        r = run(&l, NULL);
        assert_true(r.red);
        assert_int_equal(r.n, 3);
        assert_int_equal(r.n_skipped, 1);
        assert_string_equal(r.results[2].name, "4-bad.sh");
        assert_false(r.results[2].ok);
        assert_string_equal(r.results[2].reason, "exited with status 1");
        assert_true(r.results[0].ok);
        assert_string_equal(r.results[0].output, "fine\n");
        assert_false(r.results[1].ok);
        assert_int_equal(r.results[1].exit_status, 3);
        assert_int_equal(r.results[1].signal, 0);
        assert_string_equal(r.results[1].output, "broken\n");
        assert_string_equal(r.results[1].reason, "exited with status 3");
        health_results_done(&r);

        /* run_all: everything runs; the wanted failure is recorded */
        r = run(&l, &all);
        assert_true(r.red);
        assert_int_equal(r.n, 4);
        assert_int_equal(r.n_skipped, 0);
        assert_true(r.results[2].ok);
        assert_false(r.results[3].ok);
        assert_false(r.results[3].required);
        health_results_done(&r);
        health_check_list_done(&l);

        /* only a wanted failure: not red, and the run goes on */
        unlink(strcat(strcpy((char[256]){ 0 }, root), "/usr/lib/upkeep/check/required.d/2-bad.sh"));
        put("/usr/lib/upkeep/check/wanted.d/5-ok.sh", "exit 0\n", 0644);
        l = discover(NULL);
        r = run(&l, NULL);
        assert_false(r.red);
        assert_int_equal(r.n, 4);
        assert_false(r.results[2].ok);
        assert_true(r.results[3].ok);
        health_results_done(&r);
        health_check_list_done(&l);
}

static bool process_gone(pid_t pid)
{
        char path[64], buf[256];
        FILE *f;
        bool gone = true;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "r");
        if (!f)
                return true;
        if (fgets(buf, sizeof(buf), f)) {
                const char *p = strrchr(buf, ')');
                gone = p && p[2] == 'Z'; /* a zombie waiting for its new parent is dead too */
        }
        fclose(f);
        return gone;
}

static void test_timeout_kills_group(void **state)
{
        HealthCheckList l = {};
        HealthResults r;
        char script[512], pidfile[300], *argv[] = { (char *)"/bin/sh", script, NULL };
        uint64_t t0;
        FILE *f;
        int bg = 0;

        snprintf(pidfile, sizeof(pidfile), "%s/bg.pid", root);
        snprintf(script, sizeof(script), "%s/hang.sh", root);
        f = fopen(script, "w");
        assert_non_null(f);
        fprintf(f, "sleep 100 &\necho $! > %s\necho started\nsleep 100\n", pidfile);
        fclose(f);
        assert_int_equal(health_check_list_add_command(&l, "hang", true, argv, SEC / 2), 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        r = run(&l, NULL);
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 < 2 * SEC); /* SIGTERM was enough */
        assert_false(r.results[0].ok);
        assert_true(r.results[0].timed_out);
        assert_int_equal(r.results[0].signal, SIGTERM);
        assert_int_equal(r.results[0].exit_status, -1);
        assert_string_equal(r.results[0].reason, "timed out after 0.5 s");
        assert_string_equal(r.results[0].output, "started\n");
        assert_true(r.results[0].duration_usec >= SEC / 2);
        f = fopen(pidfile, "r");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%d", &bg), 1);
        fclose(f);
        usleep(100000);
        assert_true(process_gone(bg)); /* the background child went with its group */
        health_results_done(&r);
        health_check_list_done(&l);

        /* a check that ignores SIGTERM gets SIGKILL after the grace period */
        char *stubborn[] = { (char *)"/bin/bash", (char *)"-c", (char *)"trap '' TERM; sleep 100", NULL };
        assert_int_equal(health_check_list_add_command(&l, "stubborn", true, stubborn, 1 * SEC), 0);
        t0 = now_usec(CLOCK_MONOTONIC);
        r = run(&l, NULL);
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 >= 1 * SEC + HEALTH_KILL_GRACE_USEC);
        assert_true(r.results[0].timed_out);
        assert_int_equal(r.results[0].signal, SIGKILL);
        assert_string_equal(r.results[0].reason, "timed out after 1 s");
        health_results_done(&r);
        health_check_list_done(&l);
}

static void test_output_tail(void **state)
{
        HealthCheckList l;
        HealthResults r;

        put("/etc/upkeep/check/required.d/huge.sh",
            "head -c 100000 /dev/zero | tr '\\0' a\necho\necho END\n", 0644);
        put("/etc/upkeep/check/required.d/noisy.sh",
            "printf '\\033[31mred\\033[0m\\001 \\303\\251t\\303\\251\\tok\\r\\n\\377\\n'\n", 0644);
        put("/etc/upkeep/check/required.d/signal.sh", "kill -SEGV $$\n", 0644);
        l = discover(NULL);
        r = run(&l, NULL);
        assert_int_equal(r.n, 3);
        assert_true(r.results[0].ok);
        assert_int_equal(strlen(r.results[0].output), HEALTH_OUTPUT_MAX);
        assert_string_equal(r.results[0].output + HEALTH_OUTPUT_MAX - 5, "\nEND\n");
        assert_string_equal(r.results[1].output, "?[31mred?[0m? \xc3\xa9t\xc3\xa9\tok \n?\n");
        assert_false(r.results[2].ok);
        assert_int_equal(r.results[2].exit_status, -1);
        assert_int_equal(r.results[2].signal, SIGSEGV);
        assert_string_equal(r.results[2].reason, "killed by signal SIGSEGV");
        health_results_done(&r);
        health_check_list_done(&l);
}

/* A tail cut in the middle of a character does not start with '?' for the rest of it. */
static void test_output_tail_cut_character(void **state)
{
        HealthCheckList l;
        HealthResults r;

        /* 5000 'é' and a newline: 10001 bytes, the kept 4096 start on the second byte of an 'é' */
        put("/etc/upkeep/check/required.d/accents.sh", "yes \xc3\xa9 | head -n 5000 | tr -d '\\n'\necho\n",
            0644);
        l = discover(NULL);
        r = run(&l, NULL);
        assert_int_equal(r.n, 1);
        assert_true(r.results[0].ok);
        assert_int_equal(strlen(r.results[0].output), HEALTH_OUTPUT_MAX - 1);
        for (size_t i = 0; i + 1 < HEALTH_OUTPUT_MAX - 1; i += 2)
                assert_memory_equal(r.results[0].output + i, "\xc3\xa9", 2);
        assert_string_equal(r.results[0].output + HEALTH_OUTPUT_MAX - 2, "\n");
        health_results_done(&r);
        health_check_list_done(&l);
}

static void test_clean_output(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain text\n", "plain text\n" },
                { "a\x1b[0mb", "a?[0mb" },
                { "tab\there\r\n", "tab\there \n" },
                { "\x7f\x01\x02"
                  "x",
                  "???x" },
                { "caf\xc3\xa9", "caf\xc3\xa9" },
                { "\xe2\x82\xac"
                  " euro",
                  "\xe2\x82\xac"
                  " euro" },
                { "\xf0\x9f\x98\x80"
                  "!",
                  "\xf0\x9f\x98\x80"
                  "!" },
                { "\xc2\x85"
                  "next",
                  " next" }, /* C1 control NEL, a line break */
                { "\xc2\x9b"
                  "2J",
                  "?2J" }, /* C1 control CSI */
                { "\xe2\x80\xae"
                  "txt",
                  "?txt" }, /* bidi override */
                { "\xc0\xaf"
                  "over",
                  "??over" }, /* overlong '/' */
                { "\xe0\x80\xaf"
                  "over",
                  "???over" }, /* overlong, 3 bytes */
                { "\xed\xa0\x80"
                  "sur",
                  "???sur" }, /* surrogate */
                { "\xf4\x90\x80\x80"
                  "big",
                  "????big" }, /* over U+10FFFF */
                { "\x80\xbf"
                  " cont",
                  "?? cont" },              /* stray continuation */
                { "end\xe2\x82", "end??" }, /* truncated sequence */
                { "", "" },
        };
        char out[64];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t n = health_clean_output(cases[i].in, strlen(cases[i].in), out);
                assert_string_equal(out, cases[i].out);
                assert_int_equal(n, strlen(cases[i].out));
        }
        assert_int_equal(health_clean_output("a\0b", 3, out), 3);
        assert_string_equal(out, "a?b");
}

static void test_commands(void **state)
{
        HealthCheckList l = {};
        HealthResults r;
        char *ok[] = { (char *)"sh", (char *)"-c", (char *)"echo from PATH", NULL };
        char *missing[] = { (char *)"/nonexistent/check", NULL };
        char *empty[] = { NULL };

        assert_int_equal(health_check_list_add_command(&l, "ok", true, ok, 0), 0);
        assert_int_equal(health_check_list_add_command(&l, "missing", false, missing, 0), 0);
        assert_int_equal(health_check_list_add_command(&l, "x", true, empty, 0), -EINVAL);
        assert_int_equal(health_check_list_add_command(&l, "", true, ok, 0), -EINVAL);
        assert_int_equal(health_check_list_add_command(&l, "x", true, ok, HEALTH_CHECK_TIMEOUT_MAX_USEC + 1),
                         -ERANGE);
        assert_int_equal(l.n, 2);
        r = run(&l, NULL);
        assert_int_equal(r.n, 2);
        assert_true(r.results[0].ok);
        assert_int_equal(r.results[0].kind, HEALTH_CHECK_COMMAND);
        assert_string_equal(r.results[0].output, "from PATH\n");
        assert_false(r.results[1].ok);
        assert_false(r.red);
        assert_string_equal(r.results[1].reason,
                            "cannot start /nonexistent/check: No such file or directory");
        health_results_done(&r);
        health_check_list_done(&l);
}

/* The fake bus: "name=state" pairs in userdata; "broken.service" fails the call. */
static int fake_unit_state(const char *unit, char *ret_state, size_t size, void *userdata, Error *e)
{
        for (const char *const *p = userdata; *p; p += 2)
                if (strcmp(*p, unit) == 0) {
                        snprintf(ret_state, size, "%s", p[1]);
                        return 0;
                }
        return error_setf(e, -ECONNREFUSED, "GetUnit %s: %m", unit);
}

static void test_units(void **state)
{
        static const char *const units[] = { "sshd.service", "active", "db.service", "failed", NULL };
        HealthRunOptions o = { .unit_state = fake_unit_state, .userdata = (void *)units, .run_all = true };
        HealthCheckList l = {};
        HealthResults r;

        assert_int_equal(health_check_list_add_unit(&l, "ssh", true, "sshd.service", 0), 0);
        assert_int_equal(health_check_list_add_unit(&l, "db", false, "db.service", 0), 0);
        assert_int_equal(health_check_list_add_unit(&l, "gone", true, "broken.service", 0), 0);
        assert_int_equal(health_check_list_add_unit(&l, "x", true, "", 0), -EINVAL);
        r = run(&l, &o);
        assert_int_equal(r.n, 3);
        assert_true(r.results[0].ok);
        assert_int_equal(r.results[0].kind, HEALTH_CHECK_UNIT);
        assert_false(r.results[1].ok);
        assert_string_equal(r.results[1].reason, "unit db.service is failed");
        assert_false(r.results[2].ok);
        assert_string_equal(
                r.results[2].reason,
                "cannot get the state of broken.service: GetUnit broken.service: Connection refused");
        assert_true(r.red);
        health_results_done(&r);
        health_check_list_done(&l);
}

typedef struct Server {
        int fd;
        const char *reply; /* NULL: accept and never answer */
        char request[1024];
} Server;

static void *serve(void *p)
{
        Server *s = p;
        int c = accept(s->fd, NULL, NULL);
        size_t got = 0;

        if (c < 0)
                return NULL;
        while (got < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
                ssize_t n = read(c, s->request + got, sizeof(s->request) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
                s->request[got] = '\0';
        }
        if (s->reply)
                (void)!write(c, s->reply, strlen(s->reply));
        else
                usleep(1500000);
        close(c);
        return NULL;
}

/* Serves one connection with reply; returns the check's result. */
static HealthCheckResult probe(const char *reply, const char *path, uint64_t timeout, char *request)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        Server s = { .reply = reply };
        HealthCheckList l = {};
        HealthResults r;
        HealthCheckResult res;
        pthread_t t;
        char url[128];

        s.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s.fd >= 0);
        assert_int_equal(bind(s.fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(s.fd, 1), 0);
        assert_int_equal(getsockname(s.fd, (struct sockaddr *)&a, &len), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", ntohs(a.sin_port), path);
        assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);
        assert_int_equal(health_check_list_add_http(&l, "web", true, url, timeout), 0);
        r = run(&l, NULL);
        pthread_join(t, NULL);
        close(s.fd);
        res = r.results[0];
        r.results[0] = (HealthCheckResult){};
        health_results_done(&r);
        health_check_list_done(&l);
        if (request)
                strcpy(request, s.request);
        return res;
}

static void result_clear(HealthCheckResult *r)
{
        free(r->name);
        free(r->output);
        free(r->reason);
}

static void test_http(void **state)
{
        HealthCheckResult res;
        char request[1024];

        res = probe("HTTP/1.1 204 No Content\r\n\r\n", "/healthz?full=1#frag", SEC, request);
        assert_true(res.ok);
        assert_int_equal(res.kind, HEALTH_CHECK_HTTP);
        assert_non_null(strstr(request, "GET /healthz?full=1 HTTP/1.1\r\n"));
        assert_non_null(strstr(request, "\r\nHost: 127.0.0.1:"));
        assert_non_null(strstr(request, "\r\nConnection: close\r\n"));
        result_clear(&res);

        res = probe("HTTP/1.0 503 Service Unavailable\r\n\r\n", "", SEC, request);
        assert_false(res.ok);
        assert_non_null(strstr(request, "GET / HTTP/1.1\r\n"));
        assert_non_null(strstr(res.reason, " answered 503"));
        result_clear(&res);

        res = probe("SSH-2.0-OpenSSH\r\n", "/", SEC, NULL);
        assert_false(res.ok);
        assert_non_null(strstr(res.reason, ": not an HTTP reply"));
        result_clear(&res);

        res = probe(NULL, "/", SEC / 2, NULL);
        assert_false(res.ok);
        assert_true(res.timed_out);
        assert_non_null(strstr(res.reason, ": timed out after 0.5 s"));
        assert_true(res.duration_usec >= SEC / 2 && res.duration_usec < SEC * 14 / 10);
        result_clear(&res);
}

static void test_http_errors(void **state)
{
        HealthCheckList l = {};
        HealthResults r;

        assert_int_equal(health_check_list_add_http(&l, "tls", true, "https://example.org/", SEC), 0);
        assert_int_equal(health_check_list_add_http(&l, "bad", true, "http://:80/", SEC), 0);
        assert_int_equal(health_check_list_add_http(&l, "closed", true, "http://127.0.0.1:1/", SEC), 0);
        r = run(&l, &(HealthRunOptions){ .run_all = true });
        assert_int_equal(r.n, 3);
        assert_string_equal(r.results[0].reason,
                            "https://example.org/: only http:// is supported here (https "
                            "is not)");
        assert_string_equal(r.results[1].reason, "http://:80/: malformed URL");
        assert_string_equal(r.results[2].reason, "http://127.0.0.1:1/: Connection refused");
        for (size_t i = 0; i < r.n; i++)
                assert_false(r.results[i].ok);
        health_results_done(&r);
        health_check_list_done(&l);
}

static void test_url_split(void **state)
{
        static const struct {
                const char *url, *host, *port, *path;
                int r;
        } cases[] = {
                { "http://example.org", "example.org", "80", "/", 0 },
                { "http://example.org:8080/a/b?c", "example.org", "8080", "/a/b?c", 0 },
                { "http://[::1]:9/x", "::1", "9", "/x", 0 },
                { "http://[::1]/", "::1", "80", "/", 0 },
                { "http://h?q", "h", "80", "/?q", 0 },
                { "https://example.org/", NULL, NULL, NULL, -EPROTONOSUPPORT },
                { "ftp://example.org/", NULL, NULL, NULL, -EPROTONOSUPPORT },
                { "example.org", NULL, NULL, NULL, -EINVAL },
                { "http:///path", NULL, NULL, NULL, -EINVAL },
                { "http://h:0/", NULL, NULL, NULL, -EINVAL },
                { "http://h:65536/", NULL, NULL, NULL, -EINVAL },
                { "http://h:x/", NULL, NULL, NULL, -EINVAL },
                { "http://user@h/", NULL, NULL, NULL, -EINVAL },
                { "http://[::1/", NULL, NULL, NULL, -EINVAL },
                { "http://[::1]x/", NULL, NULL, NULL, -EINVAL },
                { "http://h/a b", NULL, NULL, NULL, -EINVAL },
                { "http://h/\r\nX: y", NULL, NULL, NULL, -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *host = NULL, *port = NULL, *path = NULL;
                int r = health_http_url_split(cases[i].url, &host, &port, &path);

                if (r != cases[i].r)
                        fail_msg("%s: %d, expected %d", cases[i].url, r, cases[i].r);
                if (r < 0) {
                        assert_null(host);
                        continue;
                }
                assert_string_equal(host, cases[i].host);
                assert_string_equal(port, cases[i].port);
                assert_string_equal(path, cases[i].path);
                free(host);
                free(port);
                free(path);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_discover_order, setup_root, teardown_root),
                cmocka_unit_test_setup_teardown(test_required_stops, setup_root, teardown_root),
                cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup_root, teardown_root),
                cmocka_unit_test_setup_teardown(test_output_tail, setup_root, teardown_root),
                cmocka_unit_test_setup_teardown(test_output_tail_cut_character, setup_root, teardown_root),
                cmocka_unit_test(test_clean_output),
                cmocka_unit_test(test_commands),
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_http),
                cmocka_unit_test(test_http_errors),
                cmocka_unit_test(test_url_split),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
