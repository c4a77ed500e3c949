/* agent-health.c — the boot assessment's shell and the memory of bad releases (see agent-health.h). */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "agent-health.h"
#include "agent-motd.h"
#include "bad-releases.h"
#include "buf.h"
#include "daemon-util.h"
#include "fileio.h"
#include "greenboot-conf.h"
#include "grubenv-file.h"
#include "health-checks.h"
#include "health-machine.h"
#include "health-record.h"
#include "log.h"
#include "strutil.h"
#include "strv.h"
#include "time-util.h"

struct AgentHealth {
        const AgentConfig *config;
        AgentHealthHost host;
        GreenbootConf greenboot;
        unsigned max_boot_attempts;
        bool journal; /* the agent's log goes to the journal ($JOURNAL_STREAM at start): checks' output too
                       */
        char record_path[PATH_MAX];
        char bad_path[PATH_MAX];

        /* the assessment (engine thread only) */
        bool started;
        HealthMachine m;
        HealthStep step;
        size_t next_action; /* of step, the first not performed yet */
        bool have_verdict;  /* RUN_CHECKS ran: feed its verdict */
        HealthVerdict verdict;
        char failed[HEALTH_FAILED_MAX + 1];
        char booted_checksum[HEALTH_CHECKSUM_MAX + 1];

        pthread_mutex_t lock; /* guards what follows (the status socket's thread forgets and allows) */
        BadReleases bad;
        char allowed[AGENT_VERSION_MAX + 1];
        AgentHealthInfo info;
};

/* root + path, where root "/" adds nothing */
static void join(char *dst, size_t cap, const char *root, const char *path)
{
        snprintf(dst, cap, "%s%s", streq(root, "/") ? "" : root, path);
}

static void publish(AgentHealth *h)
{
        pthread_mutex_lock(&h->lock);
        h->host.publish(h->host.userdata, &h->info);
        pthread_mutex_unlock(&h->lock);
}

/* The bad releases into the published view; h->lock held. */
static void info_bad_releases(AgentHealth *h)
{
        AgentHealthInfo *i = &h->info;

        i->n_bad_releases = 0;
        i->rollbacks_total = 0;
        for (size_t k = 0; k < h->bad.n_entries && k < AGENT_BAD_RELEASES_SHOWN; k++) {
                const BadRelease *b = &h->bad.entries[k];
                AgentBadReleaseInfo *o = &i->bad_releases[i->n_bad_releases++];
                agent_text_copy(o->version, sizeof o->version, b->version);
                agent_text_copy(o->checksum, sizeof o->checksum, b->checksum);
                agent_text_copy(o->outcome, sizeof o->outcome, bad_release_outcome_to_string(b->outcome));
                agent_text_copy(o->reason, sizeof o->reason, b->reason);
                o->time = b->when;
                if (b->outcome == BAD_RELEASE_ROLLED_BACK || b->outcome == BAD_RELEASE_BOOT_FALLBACK)
                        i->rollbacks_total++;
        }
}

/* max_boot_attempts: the configuration's, else greenboot.conf's (its default is greenboot's 3) */
static int load_greenboot(AgentHealth *h, Error *e)
{
        _cleanup_free_ char *data = NULL;
        char path[PATH_MAX];
        size_t len;
        int r;

        r = greenboot_conf_init(&h->greenboot);
        if (r < 0)
                return error_setf(e, r, "out of memory");
        join(path, sizeof path, h->config->check_root, GREENBOOT_CONF_PATH);
        r = read_full_file(path, GREENBOOT_CONF_MAX_BYTES, &data, &len);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "reading %s: %m; using greenboot's defaults", path);
        if (r >= 0) {
                GreenbootConf c;
                Error pe = {};
                if (greenboot_conf_parse(data, len, &c, &pe) < 0)
                        log_warning("%s: %s; using greenboot's defaults", path, pe.message);
                else {
                        greenboot_conf_done(&h->greenboot);
                        h->greenboot = c;
                        for (size_t i = 0; i < c.n_warnings; i++)
                                log_warning("%s", c.warnings[i]);
                }
        }
        h->max_boot_attempts = h->config->max_boot_attempts ?: h->greenboot.max_boot_attempts;
        if (h->max_boot_attempts == 0)
                h->max_boot_attempts = AGENT_DEFAULT_MAX_BOOT_ATTEMPTS;
        if (h->max_boot_attempts > HEALTH_ATTEMPTS_MAX + 1)
                h->max_boot_attempts = HEALTH_ATTEMPTS_MAX + 1;
        return 0;
}

int agent_health_new(const AgentConfig *c, const AgentHealthHost *host, AgentHealth **ret, Error *e)
{
        AgentHealth *h;
        Error be = {};
        int r;

        assert(c);
        assert(host);
        assert(ret);
        h = calloc(1, sizeof *h);
        if (!h)
                return error_setf(e, -ENOMEM, "out of memory");
        h->config = c;
        h->host = *host;
        h->journal = getenv("JOURNAL_STREAM") != NULL;
        pthread_mutex_init(&h->lock, NULL);
        snprintf(h->record_path, sizeof h->record_path, "%s/%s", c->state_dir, HEALTH_RECORD_FILE);
        snprintf(h->bad_path, sizeof h->bad_path, "%s/bad-releases.json", c->state_dir);
        r = load_greenboot(h, e);
        if (r < 0) {
                agent_health_free(h);
                return r;
        }
        r = bad_releases_load(h->bad_path, &h->bad, &be);
        if (r == -ENOMEM) {
                agent_health_free(h);
                return error_setf(e, r, "out of memory");
        }
        if (r < 0) /* kept for an administrator to inspect; overwritten only by a new entry */
                log_error("%s; no release is known as bad until it is fixed", be.message);
        h->info.enabled = c->health_enabled;
        h->info.attempts_left = h->max_boot_attempts - 1;
        info_bad_releases(h);
        /* "idle" from the start: until then the status says "disabled", which the boot-complete gate
         * (`upkeep status --wait-health`) takes for a verdict */
        publish(h);
        *ret = h;
        return 0;
}

AgentHealth *agent_health_free(AgentHealth *h)
{
        if (!h)
                return NULL;
        greenboot_conf_done(&h->greenboot);
        bad_releases_done(&h->bad);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
}

/* ---- files ---- */

/* The state directory and its parents (systemd's StateDirectory= creates it on a real host). */
static void make_state_dir(const char *dir)
{
        (void)mkdir_p(dir, 0755);
}

static int write_record(AgentHealth *h, const HealthRecord *rec, Error *e)
{
        _cleanup_(buf_free) Buf b = BUF_INIT(HEALTH_RECORD_FILE_MAX);
        int r = health_record_encode(rec, &b);

        if (r < 0)
                return error_setf(e, r, "encoding the health record: %m");
        make_state_dir(h->config->state_dir);
        return write_file_atomic(h->record_path, b.data, b.len, 0644, e);
}

/* 1 and *ret when a record exists, 0 when none (or a corrupt one, logged and left for inspection). */
static int load_record(AgentHealth *h, HealthRecord *ret)
{
        _cleanup_free_ char *data = NULL;
        Error e = {};
        size_t len;
        int r = read_full_file(h->record_path, HEALTH_RECORD_FILE_MAX, &data, &len);

        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                log_error_errno(r, "reading %s: %m; assessing nothing", h->record_path);
                return 0;
        }
        r = health_record_decode(data, len, ret, &e);
        if (r < 0) {
                log_error("%s: %s; assessing nothing", h->record_path, e.message);
                return 0;
        }
        return 1;
}

/* GRUB's counter as the machine sees it; a missing or unreadable block is "unset". */
static HealthGrubCounter grub_counter(AgentHealth *h)
{
        _cleanup_(grubenv_done) GrubEnv env = GRUBENV_INIT;
        Error e = {};
        int counter;

        if (grubenv_load(h->config->grubenv, &env, &e) < 0) {
                if (access(h->config->grubenv, F_OK) == 0)
                        log_warning("%s", e.message);
                return HEALTH_GRUB_UNSET;
        }
        if (grubenv_get_boot_counter(&env, &counter, &e) < 0)
                return HEALTH_GRUB_UNSET;
        return counter < 0 ? HEALTH_GRUB_FELL_BACK : HEALTH_GRUB_ARMED;
}

/* Arms (counter >= 0: boot_counter = counter, boot_success = 0) or clears (counter < 0: boot_success = 1,
 * no boot_counter) GRUB's counter in an existing block. */
static int grub_set(AgentHealth *h, int counter, Error *e)
{
        _cleanup_(grubenv_done) GrubEnv env = GRUBENV_INIT;
        int r = grubenv_load(h->config->grubenv, &env, e);

        if (r < 0)
                return r;
        if (counter >= 0)
                r = grubenv_set_boot_counter(&env, counter, e);
        else
                (void)grubenv_unset(&env, GRUBENV_BOOT_COUNTER);
        if (r >= 0)
                r = grubenv_set_boot_success(&env, counter < 0, e);
        if (r >= 0)
                r = grubenv_save(h->config->grubenv, &env, e);
        return r;
}

/* ---- the checks ---- */

static int add_declared(const AgentConfig *c, HealthCheckList *l)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->n_health_checks; i++) {
                const AgentHealthCheckSpec *s = &c->health_checks[i];
                uint64_t t = (uint64_t)s->timeout_secs * USEC_PER_SEC;
                if (s->kind == AGENT_HEALTH_CHECK_UNIT)
                        r = health_check_list_add_unit(l, s->name, s->required, s->unit, t);
                else if (s->kind == AGENT_HEALTH_CHECK_HTTP)
                        r = health_check_list_add_http(l, s->name, s->required, s->url, t);
                else
                        r = health_check_list_add_command(l, s->name, s->required, s->argv, t);
        }
        return r;
}

/* The last line of a check's output, for the journal line. */
static const char *last_line(const char *out, char *buf, size_t cap)
{
        size_t n = strlen(out);
        const char *start;

        while (n > 0 && out[n - 1] == '\n')
                n--;
        start = out + n;
        while (start > out && start[-1] != '\n')
                start--;
        snprintf(buf, cap, "%.*s", (int)(out + n - start), start);
        return buf;
}

/* A check's output (its kept tail) in the journal under the check's own name, one entry per line
 * (`journalctl -t 10-app.sh`), when the agent's own log goes to the journal (h->journal). */
static void journal_output(const AgentHealth *h, const HealthCheckResult *c)
{
        int prio = c->ok ? LOG_INFO : c->required ? LOG_ERR : LOG_WARNING;
        char line[HEALTH_OUTPUT_MAX + 1];

        if (!h->journal)
                return;
        for (const char *p = c->output; *p;) {
                size_t n = strcspn(p, "\n");
                snprintf(line, sizeof line, "%.*s", (int)MIN(n, sizeof line - 1), p);
                (void)sd_journal_send("MESSAGE=%s", line, "PRIORITY=%i", prio, "SYSLOG_IDENTIFIER=%s",
                                      c->name, "UPKEEP_HEALTH_CHECK=%s", c->name, NULL);
                p += n + (p[n] == '\n');
        }
}

/* One journal line per check, and its output under its own name. */
static void log_results(const AgentHealth *h, const HealthResults *res, const char *what)
{
        char tail[160];

        for (size_t k = 0; k < res->n; k++) {
                const HealthCheckResult *c = &res->results[k];
                log_full(c->ok         ? LOG_INFO
                         : c->required ? LOG_ERR
                                       : LOG_WARNING,
                         "%s %s (%s): %s after %" PRIu64 " ms%s%s", what, c->name,
                         c->required ? "required" : "wanted", c->ok ? "passed" : c->reason,
                         c->duration_usec / USEC_PER_MSEC, c->output[0] ? ": " : "",
                         last_line(c->output, tail, sizeof tail));
                journal_output(h, c);
        }
}

/* Logs the results (outside the lock: journald may be slow), then puts them into the published view. */
static void record_results(AgentHealth *h, const HealthResults *res, const char *what)
{
        AgentHealthInfo *i = &h->info;
        size_t failed_len = 0;

        log_results(h, res, what);
        pthread_mutex_lock(&h->lock);
        i->n_checks = 0;
        i->checks_failed = 0;
        h->failed[0] = 0;
        for (size_t k = 0; k < res->n; k++) {
                const HealthCheckResult *c = &res->results[k];
                uint64_t ms = c->duration_usec / USEC_PER_MSEC;
                if (!c->ok)
                        i->checks_failed++;
                if (!c->ok && c->required && failed_len + strlen(c->name) + 3 < sizeof h->failed)
                        failed_len += (size_t)snprintf(h->failed + failed_len, sizeof h->failed - failed_len,
                                                       "%s%s", failed_len ? ", " : "", c->name);
                if (i->n_checks >= AGENT_HEALTH_CHECKS_SHOWN)
                        continue;
                AgentHealthCheckInfo *o = &i->checks[i->n_checks++];
                agent_text_copy(o->name, sizeof o->name, c->name);
                o->required = c->required;
                o->ok = c->ok;
                o->duration_ms = ms;
                /* the tail of the tail, from a character boundary; already cleaned (newlines kept) */
                const char *t = c->output + strlen(c->output);
                t -= MIN(strlen(c->output), sizeof o->output - 1);
                while ((*t & 0xc0) == 0x80)
                        t++;
                snprintf(o->output, sizeof o->output, "%s", t);
        }
        agent_text_copy(i->failed, sizeof i->failed, h->failed);
        pthread_mutex_unlock(&h->lock);
}

/* RUN_CHECKS: the verdict for the next CHECKS event. A runner failure is red. */
static void run_checks(AgentHealth *h)
{
        _cleanup_(health_check_list_done) HealthCheckList l = {};
        _cleanup_(health_results_done) HealthResults res = {};
        Error e = {};
        int r;

        r = health_checks_discover(h->config->check_root, &h->greenboot, &l, &e);
        if (r >= 0)
                r = add_declared(h->config, &l) < 0 ? error_setf(&e, -ENOMEM, "out of memory") : 0;
        if (r >= 0) {
                log_info("running %zu health check(s)", l.n);
                r = health_checks_run(&l, &(HealthRunOptions){}, &res, &e);
        }
        h->have_verdict = true;
        if (r < 0) {
                log_error("health checks: %s", e.message);
                h->verdict = HEALTH_VERDICT_RED;
                snprintf(h->failed, sizeof h->failed, "(the checks could not run)");
                return;
        }
        record_results(h, &res, "health check");
        h->verdict = res.red ? HEALTH_VERDICT_RED : HEALTH_VERDICT_GREEN;
        publish(h);
}

/* RUN_GREEN_HOOKS / RUN_RED_HOOKS: logged; their failures change nothing (greenboot's). */
static void run_hooks(AgentHealth *h, HealthHookKind kind)
{
        _cleanup_(health_check_list_done) HealthCheckList l = {};
        _cleanup_(health_results_done) HealthResults res = {};
        const char *what = kind == HEALTH_HOOKS_GREEN ? "green.d hook" : "red.d hook";
        Error e = {};
        char tail[160];

        if (health_hooks_discover(h->config->check_root, kind, &l, &e) < 0 ||
            health_checks_run(&l, &(HealthRunOptions){ .run_all = true }, &res, &e) < 0) {
                log_error("%ss: %s", what, e.message);
                return;
        }
        for (size_t k = 0; k < res.n; k++)
                log_full(res.results[k].ok ? LOG_INFO : LOG_WARNING, "%s %s: %s%s%s", what,
                         res.results[k].name, res.results[k].ok ? "passed" : res.results[k].reason,
                         res.results[k].output[0] ? ": " : "",
                         last_line(res.results[k].output, tail, sizeof tail));
}

/* ---- the actions ---- */

/* MARK_BAD: record.to_* as bad, with the failing checks' names. */
static int mark_bad(AgentHealth *h, const HealthStep *s, Error *e)
{
        _cleanup_strv_free_ char **checks = NULL;
        const HealthRecord *rec = s->record ? s->record : &h->m.record;
        BadReleaseOutcome o = s->outcome == HEALTH_OUTCOME_BOOT_FALLBACK ? BAD_RELEASE_BOOT_FALLBACK
                                                                         : BAD_RELEASE_ROLLED_BACK;
        size_t n = 0;
        int r = 0;

        for (char *p = h->failed, *tok; o == BAD_RELEASE_ROLLED_BACK && r >= 0 && (tok = strsep(&p, ","));)
                if (*(tok += strspn(tok, " ")))
                        r = strv_push(&checks, &n, tok);
        if (r < 0)
                return error_setf(e, r, "out of memory");
        pthread_mutex_lock(&h->lock);
        r = bad_releases_add(&h->bad, rec->to_version[0] ? rec->to_version : rec->to_checksum,
                             rec->to_checksum, o, s->reason ? s->reason : "", checks, n,
                             (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_SEC), e);
        if (r >= 0) {
                make_state_dir(h->config->state_dir);
                r = bad_releases_store(h->bad_path, &h->bad, e);
        }
        info_bad_releases(h);
        pthread_mutex_unlock(&h->lock);
        if (r >= 0)
                log_warning("release %s (%s) recorded as bad: it will not be staged again", rec->to_version,
                            rec->to_checksum);
        return r;
}

/* The MOTD of the assessment: written for manual intervention, removed otherwise. */
static void health_motd(AgentHealth *h, const char *text)
{
        Error e = {};
        if (agent_motd_set(h->config->motd_dir, AGENT_MOTD_HEALTH_FILE, text, &e) < 0)
                log_warning("%s", e.message);
}

/* The outcome of an update: the journal, and the host's report spool. */
static void report_outcome(AgentHealth *h, HealthOutcome o, const HealthRecord *rec, const char *reason,
                           const char *failed)
{
        log_notice("update outcome %s: from %s to %s%s%s%s%s", health_outcome_name(o),
                   rec ? rec->from_version : "-", rec ? rec->to_version : "-", reason && *reason ? ": " : "",
                   reason ? reason : "", failed && *failed ? "; failing checks: " : "",
                   failed ? failed : "");
        if (h->host.report)
                h->host.report(h->host.userdata, o, rec, reason, failed);
}

/* REPORT: journal, status, MOTD and the outcome hook. */
static void report(AgentHealth *h, const HealthStep *s)
{
        char motd[AGENT_TEXT_MAX + 64];
        bool manual = s->outcome == HEALTH_OUTCOME_MANUAL;

        if (manual) {
                log_error("%s: not updating; the fleet lock slot stays held", s->reason ? s->reason : "");
                daemon_notifyf("STATUS=%s", s->reason ? s->reason : "manual intervention needed");
        }
        pthread_mutex_lock(&h->lock);
        agent_text_copy(h->info.reason, sizeof h->info.reason, s->reason ? s->reason : "");
        h->info.manual_intervention = manual;
        pthread_mutex_unlock(&h->lock);
        snprintf(motd, sizeof motd, "upkeep-agent: %s\n",
                 s->reason ? s->reason : "manual intervention needed");
        health_motd(h, manual ? motd : NULL);
        report_outcome(h, s->outcome, h->m.have_record ? &h->m.record : NULL, s->reason, h->failed);
}

/* One action of the step. 0, or -errno when it must be tried again at the next report. */
static int perform(AgentHealth *h, HealthActionKind k)
{
        const HealthStep *s = &h->step;
        Error e = {};
        int r = 0;

        log_debug("health action %s", health_action_name(k));
        switch (k) {
        case HEALTH_ACTION_RUN_CHECKS:
                run_checks(h);
                break;
        case HEALTH_ACTION_RUN_GREEN_HOOKS:
        case HEALTH_ACTION_RUN_RED_HOOKS:
                run_hooks(h, k == HEALTH_ACTION_RUN_GREEN_HOOKS ? HEALTH_HOOKS_GREEN : HEALTH_HOOKS_RED);
                break;
        case HEALTH_ACTION_CLEAR_BOOT_COUNTER:
                r = grub_set(h, -1, &e);
                break;
        case HEALTH_ACTION_WRITE_RECORD:
                r = write_record(h, s->record ? s->record : &h->m.record, &e);
                break;
        case HEALTH_ACTION_REMOVE_RECORD:
                if (unlink(h->record_path) < 0 && errno != ENOENT)
                        r = error_setf(&e, -errno, "removing %s: %m", h->record_path);
                break;
        case HEALTH_ACTION_MARK_BAD:
                r = mark_bad(h, s, &e);
                break;
        case HEALTH_ACTION_ROLLBACK:
                log_warning("rolling back to %s (%s)", h->m.record.from_version, h->m.record.from_checksum);
                r = h->host.set_default(h->host.userdata, h->m.record.from_checksum, &e);
                break;
        case HEALTH_ACTION_MAKE_BOOTED_DEFAULT:
                r = h->host.set_default(h->host.userdata, h->booted_checksum, &e);
                break;
        case HEALTH_ACTION_REBOOT:
                r = h->host.reboot(h->host.userdata, &e);
                break;
        case HEALTH_ACTION_REPORT:
                report(h, s);
                break;
        default: /* WAIT: the loop sleeps; REPORT_STEADY, RELEASE_SLOT: at the end */
                break;
        }
        if (r < 0)
                log_error("health action %s failed: %s; trying again later", health_action_name(k),
                          e.message);
        publish(h);
        return r;
}

static void publish_state(AgentHealth *h)
{
        pthread_mutex_lock(&h->lock);
        agent_text_copy(h->info.state, sizeof h->info.state, health_state_name(h->m.state));
        if (h->m.have_record)
                h->info.attempts_left = h->m.record.attempts_left;
        if (h->m.state == HEALTH_STATE_MANUAL)
                h->info.manual_intervention = true;
        pthread_mutex_unlock(&h->lock);
        publish(h);
}

static int step(AgentHealth *h, const HealthEvent *ev)
{
        int r = health_machine_step(&h->m, ev, now_usec(CLOCK_MONOTONIC), &h->step);

        if (r < 0)
                return log_error_errno(r, "the health machine refused an event in state %s: %m",
                                       health_state_name(h->m.state));
        h->next_action = 0;
        if (h->step.state_changed)
                log_info("boot assessment: %s", health_state_name(h->m.state));
        publish_state(h);
        return 0;
}

/* The START event, once per boot. */
static int start(AgentHealth *h, const AgentDeploymentInfo *booted, const AgentDeploymentInfo *staged,
                 bool have_previous)
{
        HealthMachineConfig mc = {
                .checks_timeout_usec = h->config->checks_timeout_secs * USEC_PER_SEC,
                .stability_usec = h->config->stability_secs * USEC_PER_SEC,
        };
        HealthRecord rec;
        HealthEvent ev = { .kind = HEALTH_EVENT_START, .have_previous = have_previous };
        int r;

        agent_text_copy(h->booted_checksum, sizeof h->booted_checksum, booted->checksum);
        pthread_mutex_lock(&h->lock);
        agent_text_copy(h->info.booted_version, sizeof h->info.booted_version, booted->version);
        pthread_mutex_unlock(&h->lock);
        r = health_machine_init(&h->m, &mc, now_usec(CLOCK_MONOTONIC));
        if (r < 0)
                return log_error_errno(r, "the health machine: %m");
        ev.record = load_record(h, &rec) > 0 ? &rec : NULL;
        if (ev.record && rec.phase == HEALTH_PHASE_FINALIZED && staged->present &&
            streq(staged->checksum, rec.to_checksum)) { /* the agent restarted before the host rebooted */
                log_info("%s is finalized but not booted yet; nothing to assess", rec.to_version);
                ev.record = NULL;
        }
        ev.booted_checksum = h->booted_checksum;
        ev.grub = grub_counter(h);
        r = step(h, &ev);
        if (r < 0 && ev.record) { /* a record the machine refuses: assess nothing, keep the file */
                ev.record = NULL;
                r = step(h, &ev);
        }
        if (r >= 0)
                h->started = true;
        return r;
}

/* Performs the step's actions and feeds the next events until the machine is terminal. */
static int drive(AgentHealth *h)
{
        HealthEvent ev;
        int r;

        for (;;) {
                for (; h->next_action < h->step.n_actions; h->next_action++) {
                        r = perform(h, h->step.actions[h->next_action]);
                        if (r < 0)
                                return r;
                }
                if (health_state_is_terminal(h->m.state))
                        return 0;
                if (h->have_verdict) {
                        ev = (HealthEvent){ .kind = HEALTH_EVENT_CHECKS,
                                            .verdict = h->verdict,
                                            .failed = h->verdict == HEALTH_VERDICT_RED ? h->failed : NULL };
                        h->have_verdict = false;
                } else if (h->step.wake_usec > 0) {
                        if (!h->host.sleep_until(h->host.userdata, h->step.wake_usec))
                                return -ECANCELED;
                        ev = (HealthEvent){ .kind = HEALTH_EVENT_TICK };
                } else
                        return log_error_errno(-EINVAL, "boot assessment stuck in state %s",
                                               health_state_name(h->m.state));
                r = step(h, &ev);
                if (r < 0)
                        return r;
        }
}

bool agent_health_report_steady(AgentHealth *h, const AgentDeploymentInfo *booted,
                                const AgentDeploymentInfo *staged, bool have_previous)
{
        assert(h);
        assert(booted);
        if (!h->config->health_enabled)
                return h->host.release_slot(h->host.userdata);
        if (!h->started && start(h, booted, staged, have_previous) < 0)
                return false;
        if (drive(h) < 0)
                return false;
        switch (h->m.state) {
        case HEALTH_STATE_STEADY:
        case HEALTH_STATE_SUCCEEDED:
        case HEALTH_STATE_RECOVERED:
                if (h->info.manual_intervention || h->m.state != HEALTH_STATE_STEADY)
                        health_motd(h, NULL);
                return h->host.release_slot(h->host.userdata);
        default: /* rebooting, rolling back, or manual intervention: the slot stays held */
                return false;
        }
}

int agent_health_arm(AgentHealth *h, const AgentDeploymentInfo *from, const char *to_version,
                     const char *to_checksum, Error *e)
{
        HealthRecord rec = { .phase = HEALTH_PHASE_FINALIZED, .attempts_left = h->max_boot_attempts - 1 };
        int r;

        assert(h);
        if (!h->config->health_enabled)
                return 0;
        if (strlen(to_checksum) > HEALTH_CHECKSUM_MAX || strlen(to_version) > HEALTH_VERSION_MAX)
                return error_setf(e, -E2BIG, "the release's version or checksum is too long to record");
        snprintf(rec.to_version, sizeof rec.to_version, "%s", to_version);
        snprintf(rec.to_checksum, sizeof rec.to_checksum, "%s", to_checksum);
        snprintf(rec.from_version, sizeof rec.from_version, "%s", from->version);
        snprintf(rec.from_checksum, sizeof rec.from_checksum, "%s", from->checksum);
        r = write_record(h, &rec, e);
        if (r < 0)
                return r;
        if (access(h->config->grubenv, F_OK) < 0)
                return 0;
        r = grub_set(h, (int)h->max_boot_attempts, e);
        if (r < 0) {
                (void)unlink(h->record_path);
                return r;
        }
        return 0;
}

/* ---- bad releases ---- */

bool agent_health_is_bad(AgentHealth *h, const char *version, const char *checksum)
{
        bool bad;

        pthread_mutex_lock(&h->lock);
        bad = bad_releases_find(&h->bad, version, checksum) &&
              !(version && h->allowed[0] && streq(version, h->allowed));
        pthread_mutex_unlock(&h->lock);
        return bad;
}

char **agent_health_denylist(AgentHealth *h)
{
        char **l = calloc(1, sizeof(char *)); /* never NULL when empty */
        size_t n = 0;
        int r = l ? 0 : -ENOMEM;

        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; r >= 0 && i < h->bad.n_entries; i++)
                if (!(h->allowed[0] && streq(h->bad.entries[i].version, h->allowed)))
                        r = strv_push(&l, &n, h->bad.entries[i].checksum);
        pthread_mutex_unlock(&h->lock);
        if (r < 0) {
                strv_free(l);
                return NULL;
        }
        return l;
}

void agent_health_allow_once(AgentHealth *h, const char *version)
{
        pthread_mutex_lock(&h->lock);
        agent_text_copy(h->allowed, sizeof h->allowed, version ? version : "");
        pthread_mutex_unlock(&h->lock);
}

bool agent_health_take_allowance(AgentHealth *h, const char *version)
{
        bool taken;

        pthread_mutex_lock(&h->lock);
        taken = h->allowed[0] && version && streq(version, h->allowed);
        if (taken)
                h->allowed[0] = 0;
        pthread_mutex_unlock(&h->lock);
        return taken;
}

int agent_health_forget(AgentHealth *h, const char *key, Error *e)
{
        int r;

        assert(h);
        assert(key);
        pthread_mutex_lock(&h->lock);
        r = bad_releases_forget(&h->bad, key, e);
        if (r >= 0)
                r = bad_releases_store(h->bad_path, &h->bad, e);
        info_bad_releases(h);
        h->host.publish(h->host.userdata, &h->info);
        pthread_mutex_unlock(&h->lock);
        return r < 0 ? r : 0;
}
