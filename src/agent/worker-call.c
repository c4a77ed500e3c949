/* worker-call.c — spawning upkeep-agent-worker for one action and reading its JSON lines (worker-call.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "json-util.h"
#include "macros.h"
#include "time-util.h"
#include "worker-call.h"
#include "fileio.h"

extern char **environ;

typedef struct Reader {
        WorkerProgressFn progress;
        void *userdata;
        json_t *result; /* the last result line (there is one) */
} Reader;

/* Handles the complete lines at the start of b; keeps the rest. */
static int take_lines(Buf *b, Reader *rd, Error *e)
{
        char *start = b->data, *nl;
        size_t left = b->len;

        while (left > 0 && (nl = memchr(start, '\n', left))) {
                size_t n = (size_t)(nl - start);
                WorkerProgress p;
                json_t *j = NULL;
                int r = worker_line_parse(start, n, &p, &j, e);
                if (r < 0)
                        return r;
                if (r == 0 && rd->progress)
                        rd->progress(&p, rd->userdata);
                if (r == 1) {
                        json_decref(rd->result);
                        rd->result = j;
                }
                start = nl + 1;
                left -= n + 1;
        }
        memmove(b->data, start, left);
        b->len = left;
        return 0;
}

/* Starts path with stdin and stdout on pipes: *ret_in is the write end, *ret_out the read end. */
static int spawn_worker(const char *path, pid_t *ret_pid, int *ret_in, int *ret_out, Error *e)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none;
        int in[2], out[2], r;
        char *argv[] = { (char *)path, NULL };

        if (pipe2(in, O_CLOEXEC) < 0)
                return error_setf(e, -errno, "pipe: %m");
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                close(in[0]);
                close(in[1]);
                return error_setf(e, r, "pipe: %m");
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        /* the daemon blocks its signals for its event loop: the worker starts with none blocked */
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        r = posix_spawn(ret_pid, path, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(in[0]);
        close(out[1]);
        if (r != 0) {
                close(in[1]);
                close(out[0]);
                return error_setf(e, -r, "starting %s: %m", path);
        }
        *ret_in = in[1];
        *ret_out = out[0];
        return 0;
}

/* Reads the worker's lines until it closes its stdout: 0, 1 when the deadline passed, or an error. */
static int read_lines(int fd, uint64_t deadline_ms, Reader *rd, Error *e)
{
        Buf b = BUF_INIT(WORKER_LINE_MAX);
        int r = 0;

        while (r >= 0) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now = now_msec(CLOCK_MONOTONIC);
                if (now >= deadline_ms) {
                        r = 1;
                        break;
                }
                int k = poll(&p, 1, (int)MIN(deadline_ms - now, 1000));
                if (k < 0 && errno != EINTR) {
                        r = error_setf(e, -errno, "reading the worker's output: %m");
                        break;
                }
                if (k <= 0)
                        continue;
                if (buf_reserve(&b, 65536) < 0) {
                        r = error_setf(e, -E2BIG, "a line of the worker's output is larger than %u bytes",
                                       WORKER_LINE_MAX);
                        break;
                }
                ssize_t n = read(fd, b.data + b.len, b.cap - b.len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                b.len += (size_t)n;
                r = take_lines(&b, rd, e);
        }
        buf_free(&b);
        return r;
}

int worker_call(const char *path, const char *request, unsigned timeout_sec, pid_t *pid_slot,
                WorkerProgressFn progress, void *userdata, json_t **ret, Error *e)
{
        Reader rd = { .progress = progress, .userdata = userdata };
        unsigned timeout = timeout_sec ? timeout_sec : 60;
        int in, out, status = 0, r;
        pid_t pid;

        assert(path);
        assert(request);
        assert(ret);
        r = spawn_worker(path, &pid, &in, &out, e);
        if (r < 0)
                return r;
        if (pid_slot)
                __atomic_store_n(pid_slot, pid, __ATOMIC_SEQ_CST);

        /* the request is small (a few KiB): the pipe takes it whole before the worker reads */
        r = loop_write(in, request, strlen(request));
        close(in);
        if (r == -EPIPE) /* it exited without reading: what it wrote and its exit status tell why */
                r = 0;
        if (r < 0)
                error_setf(e, r, "writing the request to %s: %m", path);
        else
                r = read_lines(out, now_msec(CLOCK_MONOTONIC) + (uint64_t)timeout * MSEC_PER_SEC, &rd, e);
        close(out);
        if (r != 0)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (pid_slot)
                __atomic_store_n(pid_slot, 0, __ATOMIC_SEQ_CST);
        if (r == 1)
                r = error_setf(e, -ETIMEDOUT, "%s: no result after %u s, killed", path, timeout);
        if (r < 0) {
                json_decref(rd.result);
                return r;
        }
        if (!rd.result) {
                if (WIFSIGNALED(status))
                        return error_setf(e, -EIO, "%s: killed by signal %d", path, WTERMSIG(status));
                return error_setf(e, -EIO, "%s: exit status %d without a result", path, WEXITSTATUS(status));
        }
        *ret = rd.result;
        return 0;
}
