/* http-loop.c — the event-loop thread of a one-thread HTTP server (see http-loop.h).
 *
 * Why our own loop: with poll(), libmicrohttpd looks at every open connection on every turn, so the cost
 * of a request grows with the number of connections (a 1,000-connection load served 0.6× of what 64
 * connections get). Its epoll mode only touches connections with events, but its internal thread
 * stalls in libmicrohttpd 0.9.75: when one epoll_wait() returns its maximum (128 events), MHD calls
 * epoll_wait() again with the turn's full timeout, unbounded when no connection is due, so the 128 ready
 * connections wait for the next unrelated event (reproduced with a bare MHD server and 256 wrk
 * connections). Here MHD only ever runs with a zero timeout (MHD_run()), which cannot block, and this
 * thread does the waiting: on MHD's epoll descriptor (readable when any of its sockets has an event) and
 * on an eventfd that other threads write to wake it: to resume a connection (MHD drops its own
 * inter-thread channel in this mode), to quiesce the daemon, to stop. The wait is bounded by
 * MHD_get_timeout(), which is 0 while connections still have work queued. */
#include "http-loop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct HttpLoop {
        struct MHD_Daemon *daemon;
        int epoll_fd; /* MHD's */
        int wake_fd;  /* eventfd */
        pthread_t thread;
        pthread_mutex_t lock; /* the requests below */
        pthread_cond_t done;
        bool stop;
        bool quiesce, quiesced;
        MHD_socket listen_fd; /* what MHD_quiesce_daemon() returned */
};

/* Takes the wake-ups and carries out what was asked. false: stop. */
static bool loop_requests(HttpLoop *l)
{
        uint64_t n;
        bool go_on;

        (void)read(l->wake_fd, &n, sizeof(n));
        pthread_mutex_lock(&l->lock);
        if (l->quiesce && !l->quiesced) {
                l->listen_fd = MHD_quiesce_daemon(l->daemon);
                l->quiesced = true;
                pthread_cond_broadcast(&l->done);
        }
        go_on = !l->stop;
        pthread_mutex_unlock(&l->lock);
        return go_on;
}

/* How long the thread may wait for an event: MHD's next timeout, or forever when none is due. */
static int wait_timeout(struct MHD_Daemon *d)
{
        MHD_UNSIGNED_LONG_LONG t;

        if (MHD_get_timeout(d, &t) != MHD_YES)
                return -1;
        return t > INT_MAX ? INT_MAX : (int)t;
}

static void *loop_main(void *userdata)
{
        HttpLoop *l = userdata;
        struct pollfd fds[2] = {
                { .fd = l->epoll_fd, .events = POLLIN },
                { .fd = l->wake_fd, .events = POLLIN },
        };
        sigset_t pipe;

        /* A peer that has gone makes sendfile() raise SIGPIPE (it has no MSG_NOSIGNAL): keep it blocked
         * here, so it only fails with EPIPE. */
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, NULL);
        for (;;) {
                (void)MHD_run(l->daemon);
                if (poll(fds, 2, wait_timeout(l->daemon)) < 0) {
                        /* ENOMEM is passing: wait a little and go on. The thread never ends on its own,
                         * as quiescing and stopping need it; the requests are looked at every time. */
                        if (errno != EINTR)
                                (void)poll(NULL, 0, 10);
                        fds[1].revents = POLLIN;
                }
                if (fds[1].revents && !loop_requests(l))
                        break;
        }
        return NULL;
}

int http_loop_start(struct MHD_Daemon *d, HttpLoop **ret)
{
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
        HttpLoop *l;
        int r;

        if (!info || info->epoll_fd < 0)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->daemon = d;
        l->epoll_fd = info->epoll_fd;
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->wake_fd < 0) {
                r = -errno;
                free(l);
                return r;
        }
        pthread_mutex_init(&l->lock, NULL);
        pthread_cond_init(&l->done, NULL);
        r = -pthread_create(&l->thread, NULL, loop_main, l);
        if (r < 0) {
                close(l->wake_fd);
                pthread_cond_destroy(&l->done);
                pthread_mutex_destroy(&l->lock);
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

void http_loop_wake(HttpLoop *l)
{
        uint64_t one = 1;

        /* EAGAIN: the counter is full, so the thread is woken anyway. */
        while (write(l->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
                ;
}

MHD_socket http_loop_quiesce(HttpLoop *l)
{
        MHD_socket fd;

        pthread_mutex_lock(&l->lock);
        l->quiesce = true;
        pthread_mutex_unlock(&l->lock);
        http_loop_wake(l);
        pthread_mutex_lock(&l->lock);
        while (!l->quiesced)
                pthread_cond_wait(&l->done, &l->lock);
        fd = l->listen_fd;
        pthread_mutex_unlock(&l->lock);
        return fd;
}

void http_loop_stop(HttpLoop *l)
{
        if (!l)
                return;
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_mutex_unlock(&l->lock);
        http_loop_wake(l);
        pthread_join(l->thread, NULL);
        close(l->wake_fd);
        pthread_cond_destroy(&l->done);
        pthread_mutex_destroy(&l->lock);
        free(l);
}
