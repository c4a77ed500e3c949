/* agent-socket.c — upkeep-agent's status and metrics sockets on the daemon's sd-event loop
 * (agent-socket.h): one non-blocking connection object per client, each with its own deadline. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-request.h"
#include "agent-socket.h"
#include "agent-status.h"
#include "buf.h"
#include "json-util.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"

#define METRICS_MAX_BYTES (1u << 20)
#define LISTEN_BACKLOG 64
#define PERMISSION_DENIED "permission denied: the agent's status socket is for root"
#define ACCEPT_PAUSE_USEC (100 * USEC_PER_MSEC) /* after running out of file descriptors */

typedef enum SocketKind {
        SOCKET_STATUS,
        SOCKET_METRICS,
        _SOCKET_KIND_MAX,
} SocketKind;

typedef struct Listener {
        AgentSockets *owner;
        SocketKind kind;
        int fd;
        char *path; /* removed at the end */
        sd_event_source *source, *pause;
        unsigned n_conns;
} Listener;

/* One client. Reading its request while out is NULL, then writing out[off..len). */
typedef struct Conn {
        Listener *listener;
        struct Conn *prev, *next;
        int fd;
        bool denied; /* neither root nor our user: its request is read, and refused */
        sd_event_source *io, *deadline;
        char in[AGENT_REQUEST_SIZE_MAX + 1];
        size_t in_len;
        char *out;
        size_t out_len, out_off;
} Conn;

struct AgentSockets {
        sd_event *event;
        Engine *engine;
        Listener listeners[_SOCKET_KIND_MAX];
        Conn *conns;
};

static void conn_free(Conn *c)
{
        AgentSockets *s = c->listener->owner;

        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->listener->n_conns--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->deadline);
        close(c->fd);
        free(c->out);
        free(c);
}

/* Ends a connection whose reply is sent. What the client sent beyond its request is read first (up to a
 * bound): closing a unix socket with unread data resets it, and the client would lose the reply. */
static void conn_done(Conn *c)
{
        char scratch[4096];

        for (size_t i = 0; i < 16; i++)
                if (read(c->fd, scratch, sizeof scratch) <= 0)
                        break;
        conn_free(c);
}

/* ---- replies ---- */

/* The reply document and its newline, or NULL when out of memory. */
static char *reply_text(json_t *reply, size_t *ret_len)
{
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

        json_decref(reply);
        if (!text)
                return NULL;
        *ret_len = strlen(text);
        text[(*ret_len)++] = '\n'; /* json_dumps' NUL becomes the newline */
        return text;
}

static json_t *reply_error(const char *message)
{
        return json_pack("{s:b,s:s}", "ok", false, "error", message);
}

/* {"ok":true,"status":{...}} with the engine's state after the request, and a message if any. */
static json_t *reply_status(Engine *engine, const char *message)
{
        _cleanup_free_ AgentSnapshot *snap = malloc(sizeof *snap);
        json_t *status, *reply;

        if (!snap)
                return NULL;
        engine_snapshot(engine, snap);
        status = agent_status_to_json(snap);
        reply = status ? json_pack("{s:b,s:o}", "ok", true, "status", status) : NULL;
        if (reply && message && json_object_set_new(reply, "message", json_string(message)) < 0) {
                json_decref(reply);
                return NULL;
        }
        return reply;
}

static json_t *handle_request(Engine *engine, const char *data, size_t len)
{
        AgentRequest req;
        char message[AGENT_REQUEST_ARG_MAX + 64];
        Error e = {};
        int r;

        if (agent_request_decode(data, len, &req, &e) < 0)
                return reply_error(e.message);
        switch (req.method) {
        case AGENT_METHOD_UPDATE_NOW:
                if (req.release[0]) {
                        log_info("update check requested through the status socket, allowing %s",
                                 req.release);
                        engine_update_now_allowing(engine, req.release);
                        snprintf(message, sizeof message, "update check started, allowing %s", req.release);
                } else {
                        log_info("update check requested through the status socket");
                        engine_update_now(engine);
                        snprintf(message, sizeof message, "update check started");
                }
                return reply_status(engine, message);
        case AGENT_METHOD_FORGET_RELEASE:
                r = engine_forget_bad_release(engine, req.release, &e);
                if (r < 0)
                        return reply_error(e.message[0] ? e.message : "cannot forget that release");
                log_info("bad release %s forgotten through the status socket", req.release);
                snprintf(message, sizeof message, "release %s is no longer recorded as bad", req.release);
                return reply_status(engine, message);
        default:
                return reply_status(engine, NULL);
        }
}

/* ---- one connection ---- */

static int on_conn_io(sd_event_source *source, int fd, uint32_t revents, void *userdata);

/* Writes what the socket takes now; 1 when all is written, 0 to wait, negative on a dead peer. */
static int conn_flush(Conn *c)
{
        while (c->out_off < c->out_len) {
                ssize_t k = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return errno == EAGAIN ? 0 : -errno;
                c->out_off += (size_t)k;
        }
        return 1;
}

/* Takes text (the reply) and sends it, within a fresh deadline; the connection ends when it is sent (or
 * cannot be). */
static void conn_reply(Conn *c, char *text, size_t len)
{
        int r;

        if (!text) {
                conn_free(c);
                return;
        }
        c->out = text;
        c->out_len = len;
        r = conn_flush(c);
        if (r != 0) {
                r > 0 ? conn_done(c) : conn_free(c);
                return;
        }
        r = c->io ? sd_event_source_set_io_events(c->io, EPOLLOUT)
                  : sd_event_add_io(c->listener->owner->event, &c->io, c->fd, EPOLLOUT, on_conn_io, c);
        if (r >= 0)
                r = sd_event_source_set_time_relative(c->deadline, AGENT_SOCKET_DEADLINE_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->deadline, SD_EVENT_ONESHOT);
        if (r < 0)
                conn_free(c);
}

static void conn_reply_json(Conn *c, json_t *reply)
{
        size_t len = 0;
        char *text = reply_text(reply, &len);

        conn_reply(c, text, len);
}

/* Reads what has arrived; answers once the request is whole (a newline, or the client closed its side). */
static void conn_read(Conn *c)
{
        for (;;) {
                ssize_t k = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return;
                if (k < 0) {
                        conn_free(c);
                        return;
                }
                char *nl = k > 0 ? memchr(c->in + c->in_len, '\n', (size_t)k) : NULL;
                c->in_len += (size_t)k;
                if (!nl && k > 0 && c->in_len < sizeof c->in)
                        continue; /* not whole yet */
                if (nl)
                        c->in_len = (size_t)(nl - c->in);
                conn_reply_json(c, c->denied ? reply_error(PERMISSION_DENIED)
                                   : !nl && k > 0
                                           ? reply_error("request too large")
                                           : handle_request(c->listener->owner->engine, c->in, c->in_len));
                return;
        }
}

static int on_conn_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        Conn *c = userdata;
        int r;

        if (!c->out) {
                conn_read(c);
                return 0;
        }
        r = conn_flush(c);
        if (r > 0)
                conn_done(c);
        else if (r < 0)
                conn_free(c);
        return 0;
}

/* The deadline: a request still incomplete is told so (if the socket takes it now), a reply still
 * unread is dropped. */
static int on_conn_deadline(sd_event_source *source, uint64_t usec, void *userdata)
{
        Conn *c = userdata;

        if (!c->out) {
                size_t len = 0;
                _cleanup_free_ char *text = reply_text(reply_error("request timed out"), &len);
                if (text && send(c->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len) {
                        conn_done(c);
                        return 0;
                }
        }
        conn_free(c);
        return 0;
}

/* The metrics exposition, or NULL when out of memory. */
static char *metrics_text(Engine *engine, size_t *ret_len)
{
        _cleanup_free_ AgentSnapshot *snap = malloc(sizeof *snap);
        Buf out = BUF_INIT(METRICS_MAX_BYTES);

        if (!snap)
                return NULL;
        engine_snapshot(engine, snap);
        if (agent_metrics_write(snap, &out) < 0) {
                buf_free(&out);
                return NULL;
        }
        return buf_steal(&out, ret_len);
}

/* Root or the agent's own user. */
static bool peer_allowed(int fd)
{
        struct ucred cred;
        socklen_t len = sizeof cred;

        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) >= 0 &&
               (cred.uid == 0 || cred.uid == getuid());
}

static int conn_new(Listener *l, int fd)
{
        AgentSockets *s = l->owner;
        Conn *c = calloc(1, sizeof *c);
        int r;

        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        *c = (Conn){ .listener = l, .fd = fd, .next = s->conns };
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        l->n_conns++;
        r = sd_event_add_time_relative(s->event, &c->deadline, CLOCK_MONOTONIC, AGENT_SOCKET_DEADLINE_USEC,
                                       0, on_conn_deadline, c);
        if (r < 0) {
                conn_free(c);
                return r;
        }
        if (l->kind == SOCKET_METRICS) {
                size_t len = 0;
                char *text = metrics_text(s->engine, &len);
                conn_reply(c, text, len);
        } else {
                c->denied = !peer_allowed(fd);
                r = sd_event_add_io(s->event, &c->io, fd, EPOLLIN, on_conn_io, c);
                if (r < 0)
                        conn_free(c);
        }
        return r < 0 ? r : 0;
}

/* ---- the listening sockets ---- */

static int on_accept_resume(sd_event_source *source, uint64_t usec, void *userdata)
{
        Listener *l = userdata;

        l->pause = sd_event_source_disable_unref(l->pause);
        return sd_event_source_set_enabled(l->source, SD_EVENT_ON);
}

/* Out of file descriptors or memory: stop accepting for a moment rather than spin. */
static void accept_pause(Listener *l)
{
        if (l->pause)
                return;
        if (sd_event_add_time_relative(l->owner->event, &l->pause, CLOCK_MONOTONIC, ACCEPT_PAUSE_USEC, 0,
                                       on_accept_resume, l) >= 0)
                (void)sd_event_source_set_enabled(l->source, SD_EVENT_OFF);
}

/* Takes every pending connection: beyond the cap, each is closed at once. */
static int on_accept(sd_event_source *source, int lfd, uint32_t revents, void *userdata)
{
        Listener *l = userdata;

        for (unsigned i = 0; i < 4 * AGENT_SOCKET_MAX_CONNECTIONS; i++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                accept_pause(l);
                        return 0;
                }
                if (l->n_conns >= AGENT_SOCKET_MAX_CONNECTIONS)
                        close(fd);
                else if (conn_new(l, fd) == -ENOMEM)
                        accept_pause(l);
        }
        return 0;
}

/* A listening unix socket at path (its directory created), mode applied to the socket file. */
static int listen_unix(const char *path, mode_t mode)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *dir = strdup(path);
        int fd, r;

        if (!dir)
                return -ENOMEM;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return r;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, mode) < 0 ||
            listen(fd, LISTEN_BACKLOG) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int listener_open(AgentSockets *s, SocketKind kind, const char *path, mode_t mode, Error *e)
{
        static const char *const names[_SOCKET_KIND_MAX] = {
                [SOCKET_STATUS] = "status socket",
                [SOCKET_METRICS] = "metrics socket",
        };
        Listener *l = &s->listeners[kind];
        int r;

        l->path = strdup(path);
        if (!l->path)
                return error_setf(e, -ENOMEM, "out of memory");
        l->fd = listen_unix(path, mode);
        if (l->fd < 0)
                return error_setf(e, l->fd, "%s %s: %m", names[kind], path);
        r = sd_event_add_io(s->event, &l->source, l->fd, EPOLLIN, on_accept, l);
        if (r < 0)
                return error_setf(e, r, "watching the %s: %m", names[kind]);
        return 0;
}

int agent_sockets_new(sd_event *event, Engine *engine, const char *status_path, const char *metrics_path,
                      AgentSockets **ret, Error *e)
{
        AgentSockets *s;
        int r;

        assert(event && engine && status_path && metrics_path && ret);
        s = calloc(1, sizeof *s);
        if (!s)
                return error_setf(e, -ENOMEM, "out of memory");
        s->event = sd_event_ref(event);
        s->engine = engine;
        for (size_t i = 0; i < ELEMENTSOF(s->listeners); i++)
                s->listeners[i] = (Listener){ .owner = s, .kind = (SocketKind)i, .fd = -EBADF };
        r = listener_open(s, SOCKET_STATUS, status_path, 0600, e);
        if (r >= 0)
                r = listener_open(s, SOCKET_METRICS, metrics_path, 0666, e);
        if (r < 0) {
                agent_sockets_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

AgentSockets *agent_sockets_free(AgentSockets *s)
{
        if (!s)
                return NULL;
        while (s->conns)
                conn_free(s->conns);
        for (size_t i = 0; i < ELEMENTSOF(s->listeners); i++) {
                Listener *l = &s->listeners[i];
                sd_event_source_disable_unref(l->source);
                sd_event_source_disable_unref(l->pause);
                if (l->fd >= 0) {
                        close(l->fd);
                        (void)unlink(l->path);
                }
                free(l->path);
        }
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
