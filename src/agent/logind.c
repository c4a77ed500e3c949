/* logind.c — reboot, interactive sessions and terminal warnings through systemd-logind (sd-bus), and
 * running a configured command with a timeout and captured output. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "logind.h"
#include "macros.h"
#include "strutil.h"
#include "strv.h"
#include "time-util.h"

extern char **environ;

#define LOGIND_DEST "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define LOGIND_SESSION "org.freedesktop.login1.Session"

static void bus_unrefp(sd_bus **b)
{
        if (*b)
                sd_bus_flush_close_unref(*b);
}

static void msg_unrefp(sd_bus_message **m)
{
        sd_bus_message_unref(*m);
}

int logind_reboot(Error *e)
{
        __attribute__((cleanup(bus_unrefp))) sd_bus *bus = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return error_setf(e, r, "connecting to the system bus: %m");
        r = sd_bus_call_method(bus, LOGIND_DEST, LOGIND_PATH, LOGIND_MANAGER, "Reboot", &err, NULL, "b",
                               false);
        if (r < 0) {
                if (err.message)
                        error_setf(e, r, "logind Reboot: %s", err.message);
                else
                        error_setf(e, r, "logind Reboot: %m");
                sd_bus_error_free(&err);
                return r;
        }
        return 0;
}

static int session_property(sd_bus *bus, const char *path, const char *name, char type, void *ret)
{
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r;

        if (type == 's')
                r = sd_bus_get_property_string(bus, LOGIND_DEST, path, LOGIND_SESSION, name, &err, ret);
        else {
                __attribute__((cleanup(msg_unrefp))) sd_bus_message *reply = NULL;
                r = sd_bus_get_property(bus, LOGIND_DEST, path, LOGIND_SESSION, name, &err, &reply, "b");
                if (r >= 0) {
                        int b = 0;
                        r = sd_bus_message_read(reply, "b", &b);
                        if (r >= 0)
                                *(bool *)ret = b;
                }
        }
        sd_bus_error_free(&err);
        return r;
}

int logind_interactive_sessions(char ***ret_ttys, size_t *ret_n, Error *e)
{
        __attribute__((cleanup(bus_unrefp))) sd_bus *bus = NULL;
        __attribute__((cleanup(msg_unrefp))) sd_bus_message *reply = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **ttys = NULL;
        size_t n_ttys = 0, n = 0;
        const char *id, *user, *seat, *path;
        uint32_t uid;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return error_setf(e, r, "connecting to the system bus: %m");
        r = sd_bus_call_method(bus, LOGIND_DEST, LOGIND_PATH, LOGIND_MANAGER, "ListSessions", &err, &reply,
                               NULL);
        if (r < 0) {
                if (err.message)
                        error_setf(e, r, "logind ListSessions: %s", err.message);
                else
                        error_setf(e, r, "logind ListSessions: %m");
                sd_bus_error_free(&err);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(susso)");
        if (r < 0)
                return error_setf(e, r, "logind ListSessions: bad reply");
        while ((r = sd_bus_message_read(reply, "(susso)", &id, &uid, &user, &seat, &path)) > 0) {
                _cleanup_free_ char *cls = NULL, *tty = NULL;
                bool remote = false;

                if (n >= LOGIND_MAX_SESSIONS)
                        break;
                if (session_property(bus, path, "Class", 's', &cls) < 0 || !streq(cls, "user"))
                        continue;
                (void)session_property(bus, path, "TTY", 's', &tty);
                (void)session_property(bus, path, "Remote", 'b', &remote);
                if ((!tty || !*tty) && !remote)
                        continue;
                n++;
                if (tty && *tty) {
                        r = strv_push_owned(&ttys, &n_ttys, TAKE_PTR(tty));
                        if (r < 0)
                                return error_setf(e, r, "out of memory");
                }
        }
        if (r < 0)
                return error_setf(e, r, "logind ListSessions: bad reply");
        if (!ttys) {
                ttys = calloc(1, sizeof(char *));
                if (!ttys)
                        return error_setf(e, -ENOMEM, "out of memory");
        }
        *ret_ttys = TAKE_PTR(ttys);
        *ret_n = n;
        return 0;
}

static bool tty_name_valid(const char *t)
{
        size_t len = strlen(t);

        if (len == 0 || len > 64 || strstr(t, "..") || t[0] == '/')
                return false;
        if (!startswith(t, "tty") && !startswith(t, "pts/") && !startswith(t, "console") &&
            !startswith(t, "hvc") && !startswith(t, "ttyS"))
                return false;
        for (const char *p = t; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '/'))
                        return false;
        return true;
}

int tty_broadcast(char *const *ttys, const char *msg)
{
        int n = 0;

        for (char *const *t = ttys; t && *t; t++) {
                char path[80];
                int fd;

                if (!tty_name_valid(*t))
                        continue;
                snprintf(path, sizeof path, "/dev/%s", *t);
                fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (write(fd, msg, strlen(msg)) > 0)
                        n++;
                close(fd);
        }
        return n;
}

/* Keeps the last COMMAND_MAX_OUTPUT bytes of what arrives. */
static void keep_tail(char *out, size_t *len, const char *data, size_t n)
{
        /* n is at most one read's chunk, which is smaller than the cap */
        if (*len + n > COMMAND_MAX_OUTPUT) {
                size_t drop = *len + n - COMMAND_MAX_OUTPUT;
                memmove(out, out + drop, *len - drop);
                *len -= drop;
        }
        memcpy(out + *len, data, n);
        *len += n;
}

static const char *last_line(char *out, size_t len)
{
        while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
                out[--len] = 0;
        out[len] = 0;
        char *nl = strrchr(out, '\n');
        return nl ? nl + 1 : out;
}

int run_command(char *const *argv, unsigned timeout_sec, char **ret_output, Error *e)
{
        posix_spawn_file_actions_t fa;
        int pipefd[2], status = 0, r;
        _cleanup_free_ char *out = NULL;
        size_t out_len = 0;
        bool timed_out = false;
        uint64_t deadline;
        pid_t pid;

        if (!argv || !argv[0] || argv[0][0] != '/')
                return error_setf(e, -EINVAL, "command must start with an absolute path");
        out = malloc(COMMAND_MAX_OUTPUT + 1);
        if (!out)
                return error_setf(e, -ENOMEM, "out of memory");
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return error_setf(e, -errno, "pipe: %m");
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
        r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return error_setf(e, -r, "%s: cannot start: %m", argv[0]);
        }

        deadline = now_msec(CLOCK_MONOTONIC) + (uint64_t)(timeout_sec ? timeout_sec : 60) * MSEC_PER_SEC;
        for (;;) {
                struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
                uint64_t now = now_msec(CLOCK_MONOTONIC);
                char chunk[4096];

                static_assert(sizeof chunk < COMMAND_MAX_OUTPUT, "a chunk fits in the output");
                ssize_t k;

                if (now >= deadline) {
                        timed_out = true;
                        break;
                }
                r = poll(&p, 1, (int)MIN(deadline - now, 1000));
                if (r < 0 && errno != EINTR)
                        break;
                if (r <= 0)
                        continue;
                k = read(pipefd[0], chunk, sizeof chunk);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                keep_tail(out, &out_len, chunk, (size_t)k);
        }
        close(pipefd[0]);
        if (timed_out)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (timed_out)
                return error_setf(e, -ETIMEDOUT, "%s: no result after %u s, killed", argv[0],
                                  timeout_sec ? timeout_sec : 60);
        if (WIFSIGNALED(status))
                return error_setf(e, -EIO, "%s: killed by signal %d: %s", argv[0], WTERMSIG(status),
                                  last_line(out, out_len));
        if (WEXITSTATUS(status) != 0)
                return error_setf(e, -EIO, "%s: exit status %d: %s", argv[0], WEXITSTATUS(status),
                                  last_line(out, out_len));
        out[out_len] = 0;
        if (ret_output)
                *ret_output = TAKE_PTR(out);
        return 0;
}
