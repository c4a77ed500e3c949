/* daemon-util.c — signals, sd_notify and port files for the daemons (see daemon-util.h). */
#include "daemon-util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "strutil.h"
#include "strv.h"
#include "toml.h"

static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        log_info("received %s, stopping", strsignal((int)si->ssi_signo));
        daemon_notifyf("STOPPING=1\nSTATUS=stopping");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int on_reload_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        const DaemonReload *reload = userdata;

        if (reload && reload->fn)
                reload->fn(reload->userdata);
        return 0;
}

int daemon_event_new(const DaemonReload *reload, sd_event **ret)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        sigset_t mask;
        int r;

        assert(ret);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if ((r = pthread_sigmask(SIG_BLOCK, &mask, NULL)) != 0)
                return -r;
        if ((r = sd_event_new(&e)) < 0)
                return r;
        if ((r = sd_event_add_signal(e, NULL, SIGTERM, on_stop_signal, NULL)) < 0 ||
            (r = sd_event_add_signal(e, NULL, SIGINT, on_stop_signal, NULL)) < 0 ||
            (r = sd_event_add_signal(e, NULL, SIGHUP, on_reload_signal, (void *)reload)) < 0)
                return r;
        /* Pings the service manager's watchdog from the loop when WatchdogSec= is set; a no-op otherwise. */
        if ((r = sd_event_set_watchdog(e, true)) < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}

void daemon_notifyf(const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        (void)sd_notify(0, msg);
}

void daemon_seed_hash_keys(void)
{
        uint64_t key[2];

        /* Without randomness (very early boot) the parsers keep their fixed key: correct, less hardened. */
        if (getrandom(key, sizeof(key), GRND_NONBLOCK) == (ssize_t)sizeof(key))
                toml_set_hash_key(key[0], key[1]);
}

int daemon_write_port_file(const char *path, uint16_t port)
{
        char tmp[4096];
        FILE *f;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        f = fopen(tmp, "we");
        if (!f)
                return negative_errno();
        fprintf(f, "%u\n", port);
        if (fclose(f) != 0 || rename(tmp, path) < 0) {
                int r = negative_errno();
                unlink(tmp);
                return r;
        }
        return 0;
}

static void print_help(const DaemonHelp *h)
{
        printf("%s [OPTIONS]\n\n%s\n\n"
               "  -c, --config PATH      configuration file (default %s)\n"
               "  -a, --address ADDR     listen address (overrides the configuration)\n"
               "  -p, --port PORT        listen port, 0 for any (overrides the configuration)\n"
               "      --port-file PATH   write the bound port to PATH once listening\n"
               "%s"
               "  -v, --verbose          log debug messages\n"
               "  -h, --help             show this help\n"
               "      --version          show the version\n",
               h->name, h->description, h->default_config, h->extra);
}

int daemon_parse_options(int argc, char **argv, const DaemonHelp *help, const struct option *extra,
                         size_t n_extra, int (*on_extra)(int val, const char *arg, void *userdata),
                         void *userdata, DaemonOptions *ret)
{
        static const struct option common[] = {
                { "config", required_argument, NULL, 'c' }, { "address", required_argument, NULL, 'a' },
                { "port", required_argument, NULL, 'p' },   { "port-file", required_argument, NULL, 'P' },
                { "verbose", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
        };
        struct option options[ELEMENTSOF(common) + DAEMON_EXTRA_OPTIONS_MAX + 1];
        DaemonOptions o = { .config_path = help->default_config, .port = -1 };
        size_t n = 0;
        int c;

        assert(n_extra <= DAEMON_EXTRA_OPTIONS_MAX);
        for (size_t i = 0; i < ELEMENTSOF(common); i++)
                options[n++] = common[i];
        for (size_t i = 0; i < n_extra; i++)
                options[n++] = extra[i];
        options[n] = (struct option){ 0 };

        optind = 1;
        while ((c = getopt_long(argc, argv, "c:a:p:vh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        o.config_path = optarg;
                        o.explicit_config = true;
                        break;
                case 'a':
                        o.address = optarg;
                        break;
                case 'p': {
                        uint16_t p16;
                        if (safe_atou16(optarg, &p16) < 0)
                                return log_error_errno(EINVAL, "invalid port '%s'", optarg);
                        o.port = p16;
                        break;
                }
                case 'P':
                        o.port_file = optarg;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        print_help(help);
                        return 0;
                case 'V':
                        printf("%s %s\n", help->name, UPKEEP_VERSION);
                        return 0;
                default:
                        if (c >= 0x100 && on_extra && on_extra(c, optarg, userdata) >= 0)
                                break;
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s'", argv[optind]);
        *ret = o;
        return 1;
}

int daemon_read_config(const char *path, bool explicit_path, char **ret_data, size_t *ret_len)
{
        int r = read_full_file(path, 1 << 20, ret_data, ret_len);
        if (r == -ENOENT && !explicit_path) {
                log_notice("%s not found, using the built-in defaults", path);
                return 0;
        }
        if (r == -EFBIG)
                return log_error_errno(r, "%s: larger than 1 MiB", path);
        if (r < 0)
                return log_error_errno(r, "%s: %m", path);
        return 1;
}

void daemon_log_warnings(char **warnings)
{
        for (char **w = warnings; w && *w; w++)
                log_warning("%s", *w);
        strv_free(warnings);
}
