/* http-loop.h — the event-loop thread of a one-thread HTTP server: libmicrohttpd in its external epoll
 * mode, driven by a thread of ours (see http-loop.c for why not MHD's own epoll thread). */
#pragma once

#include <microhttpd.h>

typedef struct HttpLoop HttpLoop;

/* Starts a thread that runs d (started with MHD_USE_EPOLL and no internal thread) until
 * http_loop_stop(). 0 or a negative errno. */
int http_loop_start(struct MHD_Daemon *d, HttpLoop **ret);
/* Wakes the thread: call after MHD_resume_connection() from another thread (MHD has no inter-thread
 * channel of its own in this mode). */
void http_loop_wake(HttpLoop *l);
/* MHD_quiesce_daemon(), run by the loop's thread (MHD's epoll bookkeeping is not safe to change from
 * another thread while it runs): the listening socket, or MHD_INVALID_SOCKET. */
MHD_socket http_loop_quiesce(HttpLoop *l);
/* Stops the thread and waits for it (the daemon is left to MHD_stop_daemon()). NULL is fine. */
void http_loop_stop(HttpLoop *l);
