/* upkeep-graph.c — the update-graph server. Reads each stream's release index and update metadata
 * (local files or URLs), builds the graph for every configured basearch, and answers
 * GET /v1/graph with the edges the asking node may take now, from cached bytes. Refreshes on an
 * interval, on SIGHUP and when a local file changes; a broken input never replaces a good graph.
 *
 * With [reports] enabled it also takes outcome reports from the fleet (POST /v1/report) and pauses a
 * rollout that fails ([[policy]]), or on an operator's call (/v1/admin/pause).
 *
 * The parts: graph-manager (state, refreshes, event loop), graph-server (HTTP endpoints), graph-stream
 * (what each stream serves), graph-metrics (/metrics), graph-build and graph-metadata (the graph),
 * graph-report, graph-report-store and graph-report-server (outcome reports), graph-policy (when a
 * rollout pauses itself) and graph-admin (/v1/rollouts, pause and resume). */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon-util.h"
#include "graph-config.h"
#include "graph-manager.h"
#include "log.h"

enum {
        OPTION_CHECK_CONFIG = 0x100,
};

static int graph_option(int val, const char *arg, void *userdata)
{
        bool *check_only = userdata;

        if (val == OPTION_CHECK_CONFIG)
                *check_only = true;
        return 0;
}

int main(int argc, char **argv)
{
        static const DaemonHelp help = {
                .name = "upkeep-graph",
                .description = "The Upkeep update-graph server (Cincinnati protocol).",
                .default_config = GRAPH_CONFIG_DEFAULT_PATH,
                .extra = "      --check-config     parse the configuration and the inputs, print a summary, "
                         "exit\n",
        };
        static const struct option extra[] = {
                { "check-config", no_argument, NULL, OPTION_CHECK_CONFIG },
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        bool check_only = false;
        DaemonOptions opt;
        int r;

        daemon_seed_hash_keys();
        r = daemon_parse_options(argc, argv, &help, extra, ELEMENTSOF(extra), graph_option, &check_only,
                                 &opt);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* The event loop, the configuration, the streams and the HTTP client. */
        if (manager_new(&opt, &m) < 0)
                return EXIT_FAILURE;
        if (check_only)
                return manager_check(m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* Listen, load every stream, then refresh on the interval, on SIGHUP and on local changes. */
        if (manager_start(m, opt.port_file) < 0)
                return EXIT_FAILURE;
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop: %m"), EXIT_FAILURE;
        return EXIT_SUCCESS;
}
