/* upkeep-lock.c — the FleetLock reboot coordinator. Counting semaphores per group so only N nodes
 * reboot at once, kept in SQLite (default) or etcd3 (Airlock's layout). Adds lock expiry, a settle delay,
 * server-side maintenance windows, pause, an admin API, bearer-token authentication and metrics. SIGHUP
 * reloads the groups and tokens in place (docs/lock.md).
 *
 * The parts: lock-manager.c (the state, generations, reloads, the expiry sweep), lock-server.c (the
 * FleetLock endpoints, routing and listeners), lock-admin.c (the admin API), lock-metrics.c (/metrics),
 * lock-batch.c (group commit), lock-sqlite.c and lock-etcd.c (the backends). This file starts them and
 * runs the event loop. */
#include <signal.h>
#include <stdlib.h>

#include <systemd/sd-event.h>

#include "daemon-util.h"
#include "lock-manager.h"
#include "lock-server.h"
#include "log.h"
#include "time-util.h"

#define SWEEP_INTERVAL_USEC (10 * USEC_PER_SEC)

typedef struct LockOptions {
        const char *sqlite; /* --sqlite PATH */
        bool check_only;    /* --check-config */
} LockOptions;

static int lock_option(int val, const char *arg, void *userdata)
{
        LockOptions *o = userdata;

        if (val == 0x100)
                o->sqlite = arg;
        else
                o->check_only = true;
        return 0;
}

static int parse_options(int argc, char **argv, LockOptions *lo, DaemonOptions *opt)
{
        static const DaemonHelp help = {
                .name = "upkeep-lock",
                .description = "The Upkeep FleetLock reboot coordinator.",
                .default_config = LOCK_CONFIG_DEFAULT_PATH,
                .extra =
                        "      --sqlite PATH      use the SQLite backend with this database (overrides the "
                        "config)\n"
                        "      --check-config     read and check the configuration, print a summary, exit\n",
        };
        static const struct option extra[] = {
                { "sqlite", required_argument, NULL, 0x100 },
                { "check-config", no_argument, NULL, 0x101 },
        };

        return daemon_parse_options(argc, argv, &help, extra, ELEMENTSOF(extra), lock_option, lo, opt);
}

/* --check-config: everything in the configuration read and checked (files, time zones, windows, TLS). The
 * backend is not contacted: /readyz tells whether it answers. */
static int check_config(Manager *m)
{
        _cleanup_free_ char *cert = NULL, *key = NULL;

        if (m->boot->config->tls && manager_read_tls(m, &cert, &key) < 0)
                return EXIT_FAILURE;
        manager_print_summary(m);
        return EXIT_SUCCESS;
}

static void on_reload(void *userdata)
{
        manager_reload(userdata);
}

static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
        manager_sweep(userdata);
        (void)sd_event_source_set_time_relative(s, SWEEP_INTERVAL_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int main(int argc, char **argv)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(manager_freep) Manager *m = NULL;
        DaemonReload reload = { .fn = on_reload };
        LockOptions lo = { 0 };
        DaemonOptions opt;
        int r;

        daemon_seed_hash_keys();
        r = parse_options(argc, argv, &lo, &opt);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        /* Signals are blocked before any thread starts (they inherit the mask). */
        r = daemon_event_new(&reload, &event);
        if (r < 0)
                return log_error_errno(r, "cannot set up the event loop: %m"), EXIT_FAILURE;
        /* A file size limit (RLIMIT_FSIZE) reached by the database: the write fails (503, nothing changed)
         * instead of the signal killing the daemon. */
        signal(SIGXFSZ, SIG_IGN);

        if (manager_load(&opt, lo.sqlite, &m) < 0)
                return EXIT_FAILURE;
        if (lo.check_only)
                return check_config(m);
        reload.userdata = m;
        if (manager_open_backend(m) < 0 || manager_generate_admin_token(m) < 0 ||
            lock_server_start(m, opt.port_file) < 0)
                return EXIT_FAILURE;

        manager_sweep(m);
        r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, SWEEP_INTERVAL_USEC, 0, on_sweep, m);
        if (r < 0)
                return log_error_errno(r, "cannot set up the expiry sweep: %m"), EXIT_FAILURE;
        daemon_notifyf("READY=1\nSTATUS=coordinating reboots for %zu groups (%s)", m->gen->n_groups,
                       m->backend->ops->name);

        r = sd_event_loop(event);
        if (r < 0)
                return log_error_errno(r, "event loop: %m"), EXIT_FAILURE;
        return EXIT_SUCCESS;
}
