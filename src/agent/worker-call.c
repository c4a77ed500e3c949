/* worker-call.c — spawning upkeep-agent-worker for one action and reading its JSON lines (worker-call.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json-util.h"
#include "macros.h"
#include "worker-call.h"

extern char **environ;

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Handles the complete lines at the start of b; keeps the rest. */
static int take_lines(Buf *b, WorkerProgressFn progress, void *userdata, json_t **result, Error *e)
{
        char *start = b->data, *nl;
        size_t left = b->len;

        while (left > 0 && (nl = memchr(start, '\n', left))) {
                size_t n = (size_t)(nl - start);
                json_t *j = NULL;
                if (json_parse_strict(start, n, &j, e) < 0 || !json_is_object(j)) {
                        json_decref(j);
                        return error_setf(e, -EBADMSG, "the worker wrote a line that is not a JSON object");
                }
                if (json_object_get(j, "progress")) {
                        if (progress)
                                progress(json_object_get(j, "progress"), userdata);
                        json_decref(j);
                } else {
                        json_decref(*result); /* the last result line wins (there is one) */
                        *result = j;
                }
                start = nl + 1;
                left -= n + 1;
        }
        memmove(b->data, start, left);
        b->len = left;
        return 0;
}

int worker_call(const char *path, const char *request, unsigned timeout_sec, pid_t *pid_slot,
                WorkerProgressFn progress, void *userdata, json_t **ret, Error *e)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none;
        int in[2], out[2], status = 0, r;
        Buf b = BUF_INIT(WORKER_LINE_MAX);
        json_t *result = NULL;
        bool timed_out = false;
        int64_t deadline;
        pid_t pid;
        char *argv[] = { (char *)path, NULL };

        if (pipe2(in, O_CLOEXEC) < 0)
                return error_setf(e, -errno, "pipe: %s", strerror(errno));
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                close(in[0]);
                close(in[1]);
                return error_setf(e, r, "pipe: %s", strerror(-r));
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        /* the daemon blocks its signals for the signalfd: the worker starts with none blocked */
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        r = posix_spawn(&pid, path, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(in[0]);
        close(out[1]);
        if (r != 0) {
                close(in[1]);
                close(out[0]);
                return error_setf(e, -r, "starting %s: %s", path, strerror(r));
        }
        if (pid_slot)
                __atomic_store_n(pid_slot, pid, __ATOMIC_SEQ_CST);

        /* the request is small (a few KiB): the pipe takes it whole before the worker reads */
        r = write_all(in[1], request, strlen(request));
        close(in[1]);

        deadline = mono_ms() + (int64_t)(timeout_sec ? timeout_sec : 60) * 1000;
        while (r >= 0) {
                struct pollfd p = { .fd = out[0], .events = POLLIN };
                int64_t left = deadline - mono_ms();
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                int k = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
                if (k < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                if (k <= 0)
                        continue;
                r = buf_reserve(&b, 65536);
                if (r < 0) {
                        r = error_setf(e, -E2BIG, "a line of the worker's output is larger than %u bytes",
                                       WORKER_LINE_MAX);
                        break;
                }
                ssize_t n = read(out[0], b.data + b.len, b.cap - b.len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                b.len += (size_t)n;
                r = take_lines(&b, progress, userdata, &result, e);
        }
        close(out[0]);
        if (timed_out || r < 0)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (pid_slot)
                __atomic_store_n(pid_slot, 0, __ATOMIC_SEQ_CST);
        buf_free(&b);
        if (timed_out) {
                json_decref(result);
                return error_setf(e, -ETIMEDOUT, "%s: no result after %u s, killed", path, timeout_sec);
        }
        if (r < 0) {
                json_decref(result);
                return r;
        }
        if (!result) {
                if (WIFSIGNALED(status))
                        return error_setf(e, -EIO, "%s: killed by signal %d", path, WTERMSIG(status));
                return error_setf(e, -EIO, "%s: exit status %d without a result", path, WEXITSTATUS(status));
        }
        *ret = result;
        return 0;
}
