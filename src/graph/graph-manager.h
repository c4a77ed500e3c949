/* graph-manager.h — upkeep-graph's state and its event loop (sd-event): the configuration, the streams
 * and where their inputs come from, the refresh of every stream on an interval, on SIGHUP, and 100 ms
 * after a local input changes (inotify), always keeping the last good graph when new inputs are broken;
 * and the HTTP server answering from the streams; with [reports] enabled, the reports' service and the
 * rollout pauses it keeps, which the graphs are rebuilt with whenever they change. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "daemon-util.h"
#include "graph-config.h"
#include "graph-server.h"
#include "graph-stream.h"
#include "http-client.h"
#include "http-server.h"
#include "macros.h"
#include "time-util.h"

/* How long the inputs must stay quiet after a local change before they are read (a burst of writes). */
#define GRAPH_SETTLE_USEC (100 * USEC_PER_MSEC)

typedef struct Manager {
        DaemonOptions opt; /* the command line: where the configuration is, address and port overrides */
        GraphConfig *config;
        GraphStreams streams;
        HttpClient *client;
        HttpServer *server;
        GraphReportService *reports; /* NULL unless [reports] enabled */
        GraphStatusFetcher *status;  /* the status page's upkeep-lock fetcher; NULL unless configured */
        GraphService service;        /* what the server's handler serves */
        char *admin_token;           /* read from [admin] token_file at start; NULL = no admin API */
        GraphPause *pauses;          /* the store's, applied to the streams' graphs */
        size_t n_pauses;
        int pauses_fd;                  /* eventfd: a pause changed (written from any thread) */
        sd_event_source *pauses_source; /* reads it: the graphs are rebuilt with the pauses */
        sd_event *event;
        DaemonReload reload;
        sd_event_source *refresh_timer;  /* every refresh_interval_secs */
        sd_event_source *settle_timer;   /* GRAPH_SETTLE_USEC after a local change */
        sd_event_source *inotify_source; /* the directories of the local inputs */
        int inotify_fd;
} Manager;

/* The event loop (signals: SIGTERM and SIGINT stop, SIGHUP reloads the configuration and refreshes), the
 * configuration (with the command line's address and port), the streams and the HTTP client. Logs what
 * fails. */
int manager_new(const DaemonOptions *opt, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Fetches and rebuilds every stream (only_dirty: those whose local inputs changed); a failure is
 * logged and counted, and the stream keeps its last good graph. */
void manager_refresh_all(Manager *m, bool only_dirty);
/* Re-reads the configuration file as at start and applies it in place: streams added and removed,
 * sources and basearches, refresh and cache settings (the refreshes are the caller's). What needs a
 * restart (the listening socket and its threads) is logged by name and keeps its running value. A file
 * that does not load changes nothing. Logs what it does; 0, or a negative errno when nothing changed. */
int manager_reload(Manager *m);
/* --check-config: loads every stream once and prints a summary. 0 when every stream loaded. */
int manager_check(Manager *m);
/* Listens (writing the port to port_file when not NULL), loads every stream, tells systemd it is
 * ready, and arms the refresh timer and the watch of the local inputs. Logs what fails. */
int manager_start(Manager *m, const char *port_file);
