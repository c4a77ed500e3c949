/* http-guard.h — the HTTP server's connection guard (used by http-server.c; header-only, like
 * time-util.h): open connections counted per client address against a limit, and a deadline for receiving
 * each request, whatever the pace of its bytes.
 *
 * Addresses: an IPv4 address (IPv4-mapped IPv6 ones too) or the /64 of an IPv6 address: a single host, or
 * a single customer, usually holds a whole /64, so counting single IPv6 addresses would limit nothing.
 * The host's own 127.0.0.1 and ::1 are not limited (see http_guard_addr_key()).
 * The counts live in an open-addressed table (linear probing, SipHash with a random key, at most half
 * full). http_guard_accept() refuses an address at its limit before MHD allocates anything; since several
 * threads accept, http_guard_open() counts exactly and shuts down a connection that went over.
 *
 * Deadlines: a connection receiving a request is in a list ordered by deadline (every deadline is the
 * current time plus the same timeout, so appending keeps the order). The reaper thread shuts down the
 * socket of each connection past its deadline: MHD then reads the end of the stream and closes the
 * connection in its own thread. The socket stays open until http_guard_close() has taken the connection
 * out of the list, under the same lock, so the reaper never touches a descriptor that was reused. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "macros.h"
#include "siphash13.h"
#include "time-util.h"

/* File descriptors the process needs beyond its connections: below that, the soft limit is raised. */
#define HTTP_GUARD_FD_SLACK 256U

/* One connection's part (embedded in the server's per-connection state). */
typedef struct GuardConn {
        int fd;            /* -1: no deadline (no socket known, or shut down at open) */
        uint64_t addr_key; /* valid when counted */
        bool counted;      /* in the address table */
        bool linked;       /* in the receiving list (under the lock) */
        bool armed;        /* has a deadline: the connection's thread's own view of linked */
        uint64_t deadline; /* CLOCK_MONOTONIC µs */
        struct GuardConn *prev, *next;
} GuardConn;

typedef struct GuardSlot {
        uint64_t key;
        uint32_t hash;
        uint32_t count; /* 0: the slot is free */
} GuardSlot;

typedef struct HttpGuard {
        pthread_mutex_t lock;
        GuardSlot *slots;
        size_t mask, used;
        uint64_t hash_key[2];
        unsigned per_address;
        unsigned max_connections;
        uint64_t timeout_usec;
        GuardConn *head, *tail; /* receiving a request, oldest deadline first */
        pthread_cond_t wake;
        pthread_t reaper;
        bool reaper_running, stop;
} HttpGuard;

/* The key a client address is counted under; false for an address not counted: other families, and the
 * host's own loopback address (127.0.0.1, ::1), where a local reverse proxy, a health check or a benchmark
 * connects from, and no remote client can. IPv4 keys start with 0xffffffff: ff00::/8 is multicast, never
 * a client's source address. */
static inline bool http_guard_addr_key(const struct sockaddr *sa, uint64_t *ret)
{
        const uint8_t *b;

        if (!sa)
                return false;
        if (sa->sa_family == AF_INET)
                b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        else if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

                if (IN6_IS_ADDR_LOOPBACK(a))
                        return false;
                if (!IN6_IS_ADDR_V4MAPPED(a)) {
                        *ret = 0;
                        for (size_t i = 0; i < 8; i++)
                                *ret = *ret << 8 | a->s6_addr[i];
                        return true;
                }
                b = &a->s6_addr[12];
        } else
                return false;
        if (b[0] == 127 && b[1] == 0 && b[2] == 0 && b[3] == 1)
                return false;
        *ret = UINT64_C(0xffffffff) << 32 | (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 |
               (uint64_t)b[2] << 8 | b[3];
        return true;
}

/* The client address as text ("" when unknown); IPv4 clients of a dual-stack socket (::ffff:a.b.c.d) as
 * a.b.c.d. */
static inline void http_guard_addr_format(const struct sockaddr *sa, char *buf, size_t n)
{
        buf[0] = 0;
        if (!sa)
                return;
        if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, n);
        else if (sa->sa_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

                if (IN6_IS_ADDR_V4MAPPED(a))
                        inet_ntop(AF_INET, &a->s6_addr[12], buf, n);
                else
                        inet_ntop(AF_INET6, a, buf, n);
        }
}

/* The slot holding key, or the free slot where it would go. Under the lock. */
static inline size_t http_guard_find(const HttpGuard *g, uint64_t key, uint32_t *ret_hash)
{
        uint32_t h = (uint32_t)siphash13(g->hash_key[0], g->hash_key[1], &key, sizeof(key));
        size_t i = h & g->mask;

        while (g->slots[i].count > 0 && g->slots[i].key != key)
                i = (i + 1) & g->mask;
        *ret_hash = h;
        return i;
}

/* Frees slot i, moving back the entries whose probe ran over it (linear probing's deletion). */
static inline void http_guard_remove(HttpGuard *g, size_t i)
{
        for (size_t j = i;;) {
                size_t home;

                j = (j + 1) & g->mask;
                if (g->slots[j].count == 0)
                        break;
                home = g->slots[j].hash & g->mask;
                /* Entry j may move to i when its home is not cyclically within (i, j]. */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        g->slots[i] = g->slots[j];
                        i = j;
                }
        }
        g->slots[i].count = 0;
        g->used--;
}

/* Open connections counted under sa's address (0 for an address with none). */
static inline unsigned http_guard_count(HttpGuard *g, const struct sockaddr *sa)
{
        uint64_t key;
        uint32_t h;
        unsigned n;

        if (!http_guard_addr_key(sa, &key))
                return 0;
        pthread_mutex_lock(&g->lock);
        n = g->slots[http_guard_find(g, key, &h)].count;
        pthread_mutex_unlock(&g->lock);
        return n;
}

/* Whether a connection from sa may be accepted: its address is under the limit (and the table has room). */
static inline bool http_guard_accept(HttpGuard *g, const struct sockaddr *sa)
{
        uint64_t key;
        uint32_t h;
        bool ok;

        if (!http_guard_addr_key(sa, &key))
                return true;
        pthread_mutex_lock(&g->lock);
        ok = g->used <= g->mask / 2 && g->slots[http_guard_find(g, key, &h)].count < g->per_address;
        pthread_mutex_unlock(&g->lock);
        return ok;
}

static inline void http_guard_unlink(HttpGuard *g, GuardConn *c)
{
        if (!c->linked)
                return;
        *(c->prev ? &c->prev->next : &g->head) = c->next;
        *(c->next ? &c->next->prev : &g->tail) = c->prev;
        c->prev = c->next = NULL;
        c->linked = false;
}

/* Starts c's deadline for receiving a request. Under the lock. */
static inline void http_guard_link(HttpGuard *g, GuardConn *c)
{
        http_guard_unlink(g, c);
        c->deadline = now_usec(CLOCK_MONOTONIC) + g->timeout_usec;
        c->prev = g->tail;
        *(c->prev ? &c->prev->next : &g->head) = c;
        g->tail = c;
        c->linked = c->armed = true;
}

/* A connection opened on socket fd (-1: unknown) from sa: counts it under its address, shutting it down at
 * once when that goes over the limit, and starts the deadline of its first request. */
static inline void http_guard_open(HttpGuard *g, GuardConn *c, int fd, const struct sockaddr *sa)
{
        uint32_t h;
        size_t i;

        *c = (GuardConn){ .fd = fd };
        pthread_mutex_lock(&g->lock);
        if (http_guard_addr_key(sa, &c->addr_key)) {
                i = http_guard_find(g, c->addr_key, &h);
                if (g->slots[i].count == 0) {
                        g->slots[i] = (GuardSlot){ .key = c->addr_key, .hash = h };
                        g->used++;
                }
                c->counted = true;
                if (++g->slots[i].count > g->per_address && c->fd >= 0) {
                        (void)shutdown(c->fd, SHUT_RDWR);
                        c->fd = -1;
                }
        }
        if (c->fd >= 0)
                http_guard_link(g, c);
        pthread_mutex_unlock(&g->lock);
}

/* The connection is closing (its socket is still open). */
static inline void http_guard_close(HttpGuard *g, GuardConn *c)
{
        uint32_t h;
        size_t i;

        pthread_mutex_lock(&g->lock);
        http_guard_unlink(g, c);
        if (c->counted) {
                i = http_guard_find(g, c->addr_key, &h);
                if (--g->slots[i].count == 0)
                        http_guard_remove(g, i);
                c->counted = false;
        }
        pthread_mutex_unlock(&g->lock);
}

/* The request has been received whole (or refused): its deadline no longer applies. */
static inline void http_guard_received(HttpGuard *g, GuardConn *c)
{
        if (!c->armed)
                return;
        c->armed = false;
        pthread_mutex_lock(&g->lock);
        http_guard_unlink(g, c);
        pthread_mutex_unlock(&g->lock);
}

/* A response was sent: the next request's deadline runs from now. */
static inline void http_guard_rearm(HttpGuard *g, GuardConn *c)
{
        if (c->fd < 0)
                return;
        pthread_mutex_lock(&g->lock);
        http_guard_link(g, c);
        pthread_mutex_unlock(&g->lock);
}

/* The reaper thread: shuts down the sockets of connections past their deadline. */
static inline void *http_guard_reaper(void *userdata)
{
        HttpGuard *g = userdata;

        pthread_mutex_lock(&g->lock);
        while (!g->stop) {
                uint64_t now = now_usec(CLOCK_MONOTONIC), wake = now + USEC_PER_SEC;
                struct timespec ts;

                while (g->head && g->head->deadline <= now) {
                        GuardConn *c = g->head;

                        http_guard_unlink(g, c);
                        (void)shutdown(c->fd, SHUT_RDWR);
                }
                if (g->head)
                        wake = MIN(wake, g->head->deadline);
                ts = timespec_from_nsec(wake * NSEC_PER_USEC);
                (void)pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        }
        pthread_mutex_unlock(&g->lock);
        return NULL;
}

/* Sets up g for max_connections (a table of twice as many slots, a power of two). -ENOMEM. */
static inline int http_guard_init(HttpGuard *g, unsigned max_connections, unsigned per_address,
                                  unsigned timeout_sec)
{
        pthread_condattr_t attr;
        size_t slots = 64;

        *g = (HttpGuard){ .per_address = per_address,
                          .max_connections = max_connections,
                          .timeout_usec = (uint64_t)timeout_sec * USEC_PER_SEC };
        pthread_mutex_init(&g->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&g->wake, &attr);
        pthread_condattr_destroy(&attr);
        /* Without randomness (very early boot) the key stays zero: correct, less hardened. */
        (void)getrandom(g->hash_key, sizeof(g->hash_key), GRND_NONBLOCK);
        while (slots < 2 * (size_t)max_connections + 64)
                slots *= 2;
        g->slots = calloc(slots, sizeof(GuardSlot));
        if (!g->slots)
                return -ENOMEM;
        g->mask = slots - 1;
        return 0;
}

/* Starts the reaper; raises the soft limit on open files to the hard one when it is too low for the
 * connections (MHD uses poll(), no FD_SETSIZE limit; systemd's default soft limit is 1024). */
static inline int http_guard_start(HttpGuard *g)
{
        struct rlimit rl;
        int r;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
            rl.rlim_cur < (rlim_t)g->max_connections + HTTP_GUARD_FD_SLACK && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        r = -pthread_create(&g->reaper, NULL, http_guard_reaper, g);
        if (r < 0)
                return r;
        g->reaper_running = true;
        return 0;
}

/* Stops the reaper and frees g (initialized, started or not). */
static inline void http_guard_done(HttpGuard *g)
{
        if (g->reaper_running) {
                pthread_mutex_lock(&g->lock);
                g->stop = true;
                pthread_cond_signal(&g->wake);
                pthread_mutex_unlock(&g->lock);
                pthread_join(g->reaper, NULL);
                g->reaper_running = false;
        }
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g->slots);
        g->slots = NULL;
}
