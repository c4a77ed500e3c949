/* cli-release.c — `upkeep release`: release engineers' tooling over update metadata
 * (updates/<stream>.json): add, barrier, deadend, pause, resume, clean (edits written back atomically in
 * a stable format), validate (for CI: exit status 0, 1 or 2) and plan (a table and an SVG plot). The
 * logic is in the pure release-*.c; this file reads and writes files, the clock and time zones. */

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "graph-build.h"
#include "json-util.h"
#include "log.h"
#include "release-edit.h"
#include "release-plan.h"
#include "release-svg.h"
#include "release-time.h"
#include "release-validate.h"
#include "source.h"
#include "strutil.h"
#include "time-util.h"
#include "tz-load.h"

typedef struct ReleaseArgs {
        const char *cmd, *version;
        const char *updates, *stream, *releases, *reason, *svg, *basearch, *current;
        const char *start, *from, *to, *duration;
        bool no_releases, replace, strict, has_pct;
        double start_pct;
        long rows;
        int64_t now;
        char updates_buf[4096];
} ReleaseArgs;

void release_usage(FILE *f)
{
        fprintf(f,
                "usage: upkeep release COMMAND [VERSION] (--updates FILE | --stream NAME) [options]\n\n"
                "  add VERSION --start WHEN --duration DUR [--start-percentage P] [--replace]\n"
                "                     roll VERSION out from WHEN over DUR (e.g. 48h, 2d, 1d12h)\n"
                "  barrier VERSION [--reason TEXT]   make every older release pass through VERSION\n"
                "  deadend VERSION --reason TEXT     stop automatic updates out of VERSION\n"
                "  pause VERSION [--reason TEXT]     freeze VERSION's rollout at its current percentage\n"
                "  resume VERSION [--start WHEN]     continue it from there over the remaining duration\n"
                "  clean                             rewrite finished rollouts as rollout.py does\n"
                "  validate [--strict] [--no-releases]   check for CI: exit 0 valid, 1 invalid, 2 "
                "unchecked\n"
                "  plan [--from WHEN] [--to WHEN] [--rows N] [--svg FILE] [--basearch A] [--current V]\n"
                "                     which share of the fleet is offered which release over time\n\n"
                "  --updates FILE     the update metadata to edit; --stream NAME means updates/NAME.json\n"
                "  --releases FILE|URL  the release index (default: releases.json beside the updates file)\n"
                "  --now WHEN         the time to act at (default: the clock)\n"
                "WHEN: now, +2h, now-30m, a unix epoch, 2026-12-03T10:00+01:00, '2026-12-03 10:00 "
                "Europe/Berlin'\n");
}

static const struct option release_options[] = {
        { "updates", required_argument, NULL, 'u' },
        { "stream", required_argument, NULL, 'S' },
        { "releases", required_argument, NULL, 'r' },
        { "no-releases", no_argument, NULL, 'N' },
        { "start", required_argument, NULL, 's' },
        { "duration", required_argument, NULL, 'd' },
        { "start-percentage", required_argument, NULL, 'p' },
        { "replace", no_argument, NULL, 'R' },
        { "reason", required_argument, NULL, 'm' },
        { "now", required_argument, NULL, 'n' },
        { "from", required_argument, NULL, 'F' },
        { "to", required_argument, NULL, 'T' },
        { "rows", required_argument, NULL, 'w' },
        { "svg", required_argument, NULL, 'g' },
        { "basearch", required_argument, NULL, 'a' },
        { "current", required_argument, NULL, 'c' },
        { "strict", no_argument, NULL, 'x' },
        { "help", no_argument, NULL, 'h' },
        {},
};

static int zone_loader(const char *name, void *userdata, TimeZone **ret, Error *e)
{
        return tz_load(name, ret, e);
}

static int parse_when(const char *opt, const char *s, int64_t now, int64_t *ret)
{
        Error e = { { 0 } };
        int r = release_time_parse(s, now, zone_loader, NULL, ret, &e);
        if (r < 0)
                return log_error_errno(r, "%s: %s", opt, e.message);
        return 0;
}

static int parse_option(ReleaseArgs *a, int c, const char **when_now)
{
        uint64_t rows;

        switch (c) {
        case 'u':
                a->updates = optarg;
                break;
        case 'S':
                a->stream = optarg;
                break;
        case 'r':
                a->releases = optarg;
                break;
        case 'N':
                a->no_releases = true;
                break;
        case 's':
                a->start = optarg;
                break;
        case 'd':
                a->duration = optarg;
                break;
        case 'p':
                if (safe_atod(optarg, &a->start_pct) < 0 || !(a->start_pct >= 0 && a->start_pct <= 1))
                        return log_error_errno(EINVAL, "--start-percentage: '%s' is not a number in [0, 1]",
                                               optarg);
                a->has_pct = true;
                break;
        case 'R':
                a->replace = true;
                break;
        case 'm':
                a->reason = optarg;
                break;
        case 'n':
                *when_now = optarg;
                break;
        case 'F':
                a->from = optarg;
                break;
        case 'T':
                a->to = optarg;
                break;
        case 'w':
                if (safe_atou64(optarg, &rows) < 0 || rows < 2 || rows > PLAN_MAX_TIMES)
                        return log_error_errno(EINVAL, "--rows: '%s' is not a number from 2 to %d", optarg,
                                               PLAN_MAX_TIMES);
                a->rows = (long)rows;
                break;
        case 'g':
                a->svg = optarg;
                break;
        case 'a':
                a->basearch = optarg;
                break;
        case 'c':
                a->current = optarg;
                break;
        case 'x':
                a->strict = true;
                break;
        default:
                release_usage(stderr);
                return -EINVAL;
        }
        return 0;
}

static int parse_release_args(int argc, char **argv, ReleaseArgs *a)
{
        const char *when_now = NULL;
        int c, r;

        *a = (ReleaseArgs){ .basearch = "x86_64", .rows = 25, .now = now_unix() };
        a->cmd = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "h", release_options, NULL)) >= 0) {
                if (c == 'h') {
                        release_usage(stdout);
                        exit(EXIT_SUCCESS);
                }
                if ((r = parse_option(a, c, &when_now)) < 0)
                        return r;
        }
        if (when_now && (r = parse_when("--now", when_now, a->now, &a->now)) < 0)
                return r;
        if (optind < argc)
                a->version = argv[optind++];
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s'", argv[optind]);
        if (a->stream && !a->updates) {
                if (!*a->stream || strchr(a->stream, '/'))
                        return log_error_errno(EINVAL, "--stream: '%s' is not a stream name", a->stream);
                snprintf(a->updates_buf, sizeof(a->updates_buf), "updates/%s.json", a->stream);
                a->updates = a->updates_buf;
        }
        if (!a->updates)
                return log_error_errno(EINVAL,
                                       "which update metadata? give --updates FILE or --stream NAME");
        return 0;
}

/* The release index: --releases, or releases.json in the update metadata's directory. */
static int load_index(const ReleaseArgs *a, ReleaseIndex **ret)
{
        _cleanup_free_ char *data = NULL, *dir = strdup(a->updates), *path = NULL;
        Error e = { { 0 } };
        size_t len;
        int r;

        if (!dir)
                return log_error_errno(ENOMEM, "out of memory");
        if (!a->releases) {
                if (asprintf(&path, "%s/releases.json", dirname(dir)) < 0)
                        return log_error_errno(ENOMEM, "out of memory");
                if (access(path, F_OK) < 0)
                        return log_error_errno(
                                ENOENT,
                                "no release index: %s does not exist; give --releases FILE|URL "
                                "(e.g. https://builds.coreos.fedoraproject.org/prod/streams/"
                                "STREAM/releases.json)",
                                path);
        }
        r = cli_fetch(a->releases ? a->releases : path, &data, &len);
        if (r < 0)
                return r;
        r = release_index_parse(data, len, ret, &e);
        if (r < 0)
                return log_error_errno(r, "%s: %s", a->releases ? a->releases : path, e.message);
        return 0;
}

static int load_updates(const char *path, char **ret_data, size_t *ret_len)
{
        int r = read_full_file(path, CLI_MAX_DOCUMENT, ret_data, ret_len);
        if (r < 0)
                return log_error_errno(r, "%s: %m", path);
        return 0;
}

/* The edit one command makes; 1 changed, 0 unchanged, negative on error (e filled, except on ENOMEM). */
static int apply_edit(const ReleaseArgs *a, json_t *doc, const ReleaseIndex *ri, Buf *note, Error *e)
{
        int64_t start = a->now, minutes;
        int r;

        if (a->start && (r = release_time_parse(a->start, a->now, zone_loader, NULL, &start, e)) < 0)
                return error_prefixf(e, r, "--start");
        if (streq(a->cmd, "add")) {
                if (!a->start || !a->duration)
                        return error_setf(e, -EINVAL, "add needs --start WHEN and --duration DUR");
                r = release_duration_parse(a->duration, &minutes, e);
                if (r < 0)
                        return error_prefixf(e, r, "--duration");
                RolloutSpec spec = { .start_epoch = start,
                                     .duration_minutes = minutes,
                                     .start_percentage = a->has_pct ? a->start_pct : 0.0,
                                     .replace = a->replace };
                return release_add_rollout(doc, ri, a->version, &spec, e);
        }
        if (streq(a->cmd, "barrier"))
                return release_set_barrier(doc, ri, a->version, a->reason, e);
        if (streq(a->cmd, "deadend"))
                return release_set_deadend(doc, ri, a->version, a->reason, e);
        if (streq(a->cmd, "pause"))
                return release_pause(doc, a->version, a->now, a->reason, e);
        if (streq(a->cmd, "resume"))
                return release_resume(doc, a->version, start, e);
        r = release_clean(doc, a->now, note);
        return r < 0 ? r : r > 0;
}

static void describe(const ReleaseArgs *a, const json_t *doc)
{
        json_t *entry = a->version ? updates_doc_find(doc, a->version, NULL) : NULL;
        json_t *ro = json_object_get(json_object_get(entry, "metadata"), "rollout");
        char ts[40];

        if (!ro || !(streq(a->cmd, "add") || streq(a->cmd, "pause") || streq(a->cmd, "resume")))
                return;
        if (release_time_format_utc(a->now, ts, sizeof(ts)) < 0)
                ts[0] = 0;
        printf("%s: %.2f%% of the fleet at %s%s\n", a->version,
               100.0 * CLAMP(rollout_throttle(ro, a->now), 0, 1), ts,
               json_object_get(ro, RELEASE_PAUSED_KEY) ? " (paused)" : "");
}

/* Stamps last-modified, serializes and writes doc back to the updates file; logs every failure. */
static int save_updates(const ReleaseArgs *a, json_t *doc, Buf *out)
{
        Error e = { { 0 } };
        int r;

        r = updates_doc_touch(doc, a->now);
        if (r == -ERANGE)
                return log_error_errno(
                        r, "%s: cannot set last-modified: the time is outside years 0 to 9999", a->updates);
        if (r < 0)
                return log_error_errno(r, "%s: cannot set last-modified: %m", a->updates);
        r = updates_doc_write(doc, out);
        if (r < 0)
                return log_error_errno(r, "%s: cannot serialize the update metadata: %m", a->updates);
        r = write_file_atomic(a->updates, out->data, out->len, WRITE_FILE_KEEP_MODE, &e);
        if (r < 0)
                return log_error_errno(r, "%s", e.message);
        printf("%s: updated\n", a->updates);
        return 0;
}

static int edit_cmd(const ReleaseArgs *a)
{
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ json_t *doc = NULL;
        ReleaseIndex *ri = NULL;
        Buf out = BUF_INIT(CLI_MAX_DOCUMENT * 2u), note = BUF_INIT(1u << 20);
        Error e = { { 0 } };
        size_t len;
        int r;

        if (!streq(a->cmd, "clean") && !a->version)
                return log_error_errno(EINVAL, "%s needs a VERSION", a->cmd);
        if ((r = load_updates(a->updates, &data, &len)) < 0)
                return r;
        if ((r = updates_doc_parse(data, len, &doc, &e)) < 0)
                return log_error_errno(r, "%s: %s", a->updates, e.message);
        if ((streq(a->cmd, "add") || streq(a->cmd, "barrier") || streq(a->cmd, "deadend")) &&
            (r = load_index(a, &ri)) < 0)
                return r;
        r = apply_edit(a, doc, ri, &note, &e);
        release_index_free(ri);
        if (r < 0 && e.message[0])
                log_error_errno(r, "%s: %s", a->updates, e.message);
        else if (r < 0)
                log_error_errno(r, "%s: %s failed: %m", a->updates, a->cmd);
        if (r > 0)
                r = save_updates(a, doc, &out);
        else if (r == 0)
                printf("%s: unchanged\n", a->updates);
        if (r >= 0) {
                if (note.len > 0)
                        fwrite(note.data, 1, note.len, stdout);
                describe(a, doc);
        }
        buf_free(&out);
        buf_free(&note);
        return r < 0 ? r : 0;
}

/* The stream a file's name implies: updates/<stream>.json, or <stream>/updates.json. */
static void stream_from_path(const char *path, char *buf, size_t size)
{
        _cleanup_free_ char *copy = strdup(path), *copy2 = strdup(path);
        const char *base;
        size_t n;

        buf[0] = 0;
        if (!copy || !copy2)
                return;
        base = basename(copy);
        n = strlen(base);
        if (n <= 5 || !endswith(base, ".json"))
                return;
        if (streq(base, "updates.json")) {
                const char *parent = basename(dirname(copy2));
                if (!streq(parent, ".") && !streq(parent, "/"))
                        snprintf(buf, size, "%s", parent);
                return;
        }
        snprintf(buf, size, "%.*s", (int)(n - 5), base);
}

static int validate_cmd(const ReleaseArgs *a)
{
        _cleanup_free_ char *data = NULL;
        ReleaseIndex *ri = NULL;
        Buf out = BUF_INIT(1u << 26);
        ValidateResult res;
        char stream[256];
        size_t len;
        int r;

        if (load_updates(a->updates, &data, &len) < 0)
                return 2;
        if (!a->no_releases && load_index(a, &ri) < 0)
                return 2;
        stream_from_path(a->updates, stream, sizeof(stream));
        r = release_validate(data, len, a->updates, ri, stream[0] ? stream : NULL, &out, &res);
        release_index_free(ri);
        if (r < 0) {
                buf_free(&out);
                log_error_errno(r, "%s: %m", a->updates);
                return 2;
        }
        if (out.len > 0)
                fwrite(out.data, 1, out.len, stdout);
        buf_free(&out);
        printf("%s: %u error%s, %u warning%s%s\n", a->updates, res.errors, res.errors == 1 ? "" : "s",
               res.warnings, res.warnings == 1 ? "" : "s",
               a->no_releases ? " (release index not checked)" : "");
        return res.errors > 0 || (a->strict && res.warnings > 0) ? 1 : 0;
}

static int plan_build_graph(const ReleaseArgs *a, Graph **ret)
{
        _cleanup_free_ char *data = NULL;
        ReleaseIndex *ri = NULL;
        UpdateMetadata *um = NULL;
        Error e = { { 0 } };
        size_t len;
        int r;

        if ((r = load_updates(a->updates, &data, &len)) < 0 || (r = load_index(a, &ri)) < 0)
                return r;
        r = update_metadata_parse(data, len, &um, &e);
        if (r < 0) {
                release_index_free(ri);
                return log_error_errno(r, "%s: %s", a->updates, e.message);
        }
        r = graph_build(ri, um, a->basearch, GRAPH_SCHEME_CHECKSUM, ret, &e);
        release_index_free(ri);
        update_metadata_free(um);
        if (r < 0)
                return log_error_errno(r, "%s: %s", a->updates, e.message);
        return 0;
}

static int plan_start_node(const ReleaseArgs *a, const Graph *g, size_t *ret)
{
        for (size_t i = 0; i < g->n_nodes; i++)
                if (a->current ? streq(g->nodes[i].version, a->current) : !g->nodes[i].deadend) {
                        *ret = i;
                        return 0;
                }
        if (a->current)
                return log_error_errno(ENOENT, "--current: %s is not in the %s graph", a->current,
                                       a->basearch);
        return log_error_errno(ENOENT, "the %s graph has no release to start from", a->basearch);
}

static int plan_output(const ReleaseArgs *a, const Graph *g, size_t from, int64_t t0, int64_t t1, bool svg)
{
        _cleanup_free_ int64_t *times = NULL;
        Buf out = BUF_INIT(1u << 26);
        Plan *p = NULL;
        Error e = { { 0 } };
        char title[512];
        int r;

        r = plan_times(t0, t1, svg ? 400 : (size_t)a->rows, &times, &e);
        if (r >= 0)
                r = plan_compute(g, from, times, svg ? 400 : (size_t)a->rows, &p, &e);
        if (r < 0)
                return log_error_errno(r, "plan: %s", e.message);
        snprintf(title, sizeof(title), "Share of the %s fleet on %s bound for each release", a->basearch,
                 g->nodes[from].version);
        r = svg ? plan_write_svg(p, title, &out) : plan_write_table(p, &out);
        plan_free(p);
        if (r >= 0 && svg) {
                r = write_file_atomic(a->svg, out.data, out.len, 0644, &e);
                if (r < 0)
                        log_error_errno(r, "%s", e.message);
        } else if (r >= 0) {
                printf("nodes on %s (%s), wariness uniform over [0, 1]: share bound for each release\n",
                       g->nodes[from].version, a->basearch);
                if (out.len > 0)
                        fwrite(out.data, 1, out.len, stdout);
        }
        buf_free(&out);
        return r;
}

static int plan_cmd(const ReleaseArgs *a)
{
        Graph *g = NULL;
        int64_t t0 = a->now, t1;
        size_t from = 0;
        int r;

        if ((r = plan_build_graph(a, &g)) < 0)
                return r;
        if ((r = plan_start_node(a, g, &from)) < 0 ||
            (a->from && (r = parse_when("--from", a->from, a->now, &t0)) < 0))
                goto out;
        t1 = plan_default_end(g, t0);
        if (a->to && (r = parse_when("--to", a->to, a->now, &t1)) < 0)
                goto out;
        r = plan_output(a, g, from, t0, t1, false);
        if (r >= 0 && a->svg)
                r = plan_output(a, g, from, t0, t1, true);
out:
        graph_free(g);
        return r;
}

int release_cmd(int argc, char **argv)
{
        static const char *const edits[] = { "add", "barrier", "deadend", "pause", "resume", "clean" };
        ReleaseArgs a;

        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                release_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        bool edit = false;
        for (size_t i = 0; i < ELEMENTSOF(edits); i++)
                edit = edit || streq(argv[1], edits[i]);
        if (!edit && !streq(argv[1], "validate") && !streq(argv[1], "plan")) {
                log_error("unknown release command '%s'", argv[1]);
                release_usage(stderr);
                return 2;
        }
        if (parse_release_args(argc, argv, &a) < 0)
                return 2;
        if (edit)
                return edit_cmd(&a) < 0 ? 1 : 0;
        if (streq(a.cmd, "validate"))
                return validate_cmd(&a);
        return plan_cmd(&a) < 0 ? 1 : 0;
}
