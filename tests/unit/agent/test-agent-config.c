/* test-agent-config.c — upkeep-agent's configuration: Fedora CoreOS's Zincati fragments unchanged, the
 * merge rules (later keys win, windows accumulate), Upkeep's keys, every key's bad values with the exact
 * error text, unknown-key warnings and base URL placeholders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "agent-config.h"
#include "strv.h"

#define USR "/usr/lib/zincati/config.d/"
#define ETC "/etc/zincati/config.d/"

static const char fcos_agent[] = "# How often to check for updates\n"
                                 "[agent.timing]\n"
                                 "steady_interval_secs = 300\n";
static const char fcos_strategy[] = "# Default update strategy\n"
                                    "[updates]\n"
                                    "strategy = \"immediate\"\n";
static const char fcos_cincinnati[] = "# Fedora CoreOS Cincinnati backend\n"
                                      "[cincinnati]\n"
                                      "base_url= \"https://updates.coreos.fedoraproject.org\"\n";
static const char fcos_identity[] = "[identity]\n"
                                    "group = \"default\"\n";

#define FRAG(p, s) ((AgentFragment){ .path = (p), .data = (s), .len = strlen(s) })

static AgentConfig *merge(const AgentFragment *f, size_t n, char ***w)
{
        AgentConfig *c = NULL;
        Error e = { { 0 } };
        if (agent_config_merge(f, n, &c, w, &e) < 0)
                fail_msg("unexpected error: %s", e.message);
        assert_non_null(c);
        return c;
}

/* The FCOS defaults plus one user fragment; the error must be exactly msg. */
static void expect_error_with(const char *user, const char *msg)
{
        AgentFragment f[] = {
                FRAG(USR "10-agent.toml", fcos_agent),
                FRAG(USR "30-updates-strategy.toml", fcos_strategy),
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-updates-strategy.toml", user),
        };
        AgentConfig *c = NULL;
        char **w = NULL;
        Error e = { { 0 } };
        assert_true(agent_config_merge(f, ELEMENTSOF(f), &c, &w, &e) < 0);
        assert_null(c);
        assert_null(w);
        if (!streq(e.message, msg))
                fail_msg("got '%s'\nwant '%s'", e.message, msg);
}

static void test_fcos_defaults(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "10-agent.toml", fcos_agent),
                FRAG(USR "10-identity.toml", fcos_identity),
                FRAG(USR "30-updates-strategy.toml", fcos_strategy),
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
        };
        char **w = NULL;
        AgentConfig *c = merge(f, ELEMENTSOF(f), &w);

        (void)state;
        assert_null(w);
        assert_int_equal(c->steady_interval_secs, 300);
        assert_string_equal(c->group, "default");
        assert_null(c->node_uuid);
        assert_false(c->has_rollout_wariness);
        assert_string_equal(c->cincinnati_base_url, "https://updates.coreos.fedoraproject.org");
        assert_true(c->updates_enabled);
        assert_false(c->allow_downgrade);
        assert_int_equal(c->strategy, AGENT_STRATEGY_IMMEDIATE);
        assert_string_equal(agent_strategy_to_string(c->strategy), "immediate");
        assert_null(c->fleet_lock_base_url);
        assert_false(c->only_in_periodic_windows);
        assert_string_equal(c->time_zone, "UTC");
        assert_int_equal(c->n_windows, 0);
        assert_null(c->calendar);
        /* Upkeep's defaults */
        assert_int_equal(c->os_backend, AGENT_OS_BACKEND_AUTO); /* detected at start (os-detect.h) */
        assert_string_equal(c->sysroot, "/");
        assert_null(c->osname);
        assert_string_equal(c->remote, "origin");
        assert_string_equal(c->stream_metadata_key, "fedora-coreos.stream");
        assert_int_equal(c->reboot_method, AGENT_REBOOT_LOGIND);
        assert_null(c->reboot_command);
        assert_string_equal(c->status_socket, "/run/upkeep/agent/status.sock");
        assert_string_equal(c->metrics_socket, "/run/upkeep/agent/metrics.promsock");
        assert_string_equal(c->motd_dir, "/run/motd.d");
        /* the boot assessment's defaults */
        assert_string_equal(c->state_dir, "/var/lib/upkeep/agent");
        assert_true(c->health_enabled);
        assert_int_equal(c->checks_timeout_secs, 300);
        assert_int_equal(c->stability_secs, 0);
        assert_int_equal(c->max_boot_attempts, 0); /* greenboot.conf's, else 3 */
        assert_string_equal(c->grubenv, "/boot/grub/grubenv");
        assert_string_equal(c->check_root, "/");
        assert_int_equal(c->n_health_checks, 0);
        agent_config_free(c);
}

static void test_no_fragments(void **state)
{
        AgentConfig *c = NULL;
        Error e = { { 0 } };
        AgentFragment off = FRAG(ETC "90-off.toml", "[updates]\nenabled = false\n");

        (void)state;
        assert_int_equal(agent_config_merge(NULL, 0, &c, NULL, &e), -EINVAL);
        assert_string_equal(e.message, "cincinnati.base_url: must be set when updates are enabled");
        /* with updates disabled, nothing is required */
        c = merge(&off, 1, NULL);
        assert_false(c->updates_enabled);
        assert_null(c->cincinnati_base_url);
        agent_config_free(c);
}

/* Zincati's docs: fleet_lock and periodic examples, as a user writes them in /etc. */
static void test_zincati_docs_fleet_lock(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "10-agent.toml", fcos_agent),
                FRAG(USR "30-updates-strategy.toml", fcos_strategy),
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-updates-strategy.toml", "[updates]\n"
                                                     "strategy = \"fleet_lock\"\n"
                                                     "[updates.fleet_lock]\n"
                                                     "base_url = \"http://fleet-lock.example.com:8080/\"\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);

        (void)state;
        assert_int_equal(c->strategy, AGENT_STRATEGY_FLEET_LOCK);
        assert_string_equal(c->fleet_lock_base_url, "http://fleet-lock.example.com:8080/");
        assert_null(c->calendar);
        agent_config_free(c);
}

static void test_zincati_docs_periodic(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "30-updates-strategy.toml", fcos_strategy),
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-updates-strategy.toml", "[updates]\n"
                                                     "strategy = \"periodic\"\n"
                                                     "\n"
                                                     "[updates.periodic]\n"
                                                     "time_zone = \"America/Chicago\"\n"
                                                     "\n"
                                                     "[[updates.periodic.window]]\n"
                                                     "days = [ \"Sat\", \"Sun\" ]\n"
                                                     "start_time = \"23:30\"\n"
                                                     "length_minutes = 60\n"
                                                     "\n"
                                                     "[[updates.periodic.window]]\n"
                                                     "days = [ \"Mon\" ]\n"
                                                     "start_time = \"00:00\"\n"
                                                     "length_minutes = 60\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);

        (void)state;
        assert_int_equal(c->strategy, AGENT_STRATEGY_PERIODIC);
        assert_string_equal(c->time_zone, "America/Chicago");
        assert_int_equal(c->n_windows, 2);
        assert_string_equal(c->windows[0].days[1], "Sun");
        assert_string_equal(c->windows[0].start_time, "23:30");
        assert_int_equal(c->windows[0].length_minutes, 60);
        assert_string_equal(c->windows[1].file, ETC "55-updates-strategy.toml");
        assert_int_equal(c->windows[1].line, 12);
        assert_non_null(c->calendar);
        /* Sat 23:30 + 60, Sun 23:30 + 60 and Mon 00:00 + 60 (overlapping the Sunday one by 30) */
        assert_int_equal(calendar_total_minutes(c->calendar), 150);
        agent_config_free(c);
}

static void test_later_overrides_and_windows_accumulate(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "10-agent.toml", fcos_agent),
                FRAG(USR "30-updates-strategy.toml", fcos_strategy),
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-a.toml", "[agent.timing]\nsteady_interval_secs = 60\n"
                                      "[updates]\nstrategy = \"periodic\"\n"
                                      "[[updates.periodic.window]]\ndays = [\"tuesday\"]\n"
                                      "start_time = \"7:5\"\nlength_minutes = 10\n"),
                FRAG(ETC "56-b.toml", "[agent.timing]\nsteady_interval_secs = 90\n"
                                      "[[updates.periodic.window]]\ndays = [\"WED\", \"wed\"]\n"
                                      "start_time = \"22:00\"\nlength_minutes = 30\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);

        (void)state;
        assert_int_equal(c->steady_interval_secs, 90);
        assert_int_equal(c->strategy, AGENT_STRATEGY_PERIODIC);
        assert_int_equal(c->n_windows, 2);
        assert_string_equal(c->windows[0].file, ETC "55-a.toml");
        assert_string_equal(c->windows[1].file, ETC "56-b.toml");
        assert_int_equal(c->windows[1].index, 0);
        assert_int_equal(calendar_total_minutes(c->calendar), 40);
        agent_config_free(c);
}

/* What Zincati accepts: an empty strategy is the default one (immediate), an empty group or node uuid keeps
 * the default, any positive interval is taken (the engine caps its timer, agent-machine.h). */
static void test_zincati_leniency(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "10-agent.toml", fcos_agent),
                FRAG(USR "30-updates-strategy.toml", fcos_strategy),
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "50-fleet.toml", "[updates]\nstrategy = \"fleet_lock\"\n"
                                          "[updates.fleet_lock]\nbase_url = \"https://lock/\"\n"
                                          "[identity]\ngroup = \"workers\"\n"
                                          "node_uuid = \"27e3ac02af3946af995c9940e18b0ccf\"\n"),
                FRAG(ETC "60-empty.toml",
                     "[updates]\nstrategy = \"\"\n[identity]\ngroup = \"\"\nnode_uuid = \"\"\n"
                     "[agent.timing]\nsteady_interval_secs = 9223372036854775807\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);

        (void)state;
        assert_int_equal(c->strategy, AGENT_STRATEGY_IMMEDIATE);
        assert_string_equal(c->group, "default");
        assert_null(c->node_uuid);
        assert_true(c->steady_interval_secs == UINT64_C(9223372036854775807));
        agent_config_free(c);
}

/* Zincati merges before validating: an invalid value overridden later is fine; a wrong type is not. */
static void test_override_of_invalid_value(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "10-a.toml", "[updates]\nstrategy = \"bogus\"\n[identity]\ngroup = \"no/slash\"\n"),
                FRAG(ETC "20-b.toml",
                     "[updates]\nstrategy = \"immediate\"\n[identity]\ngroup = \"workers\"\n"),
        };
        AgentFragment g[] = {
                FRAG(ETC "10-a.toml", "[updates]\nstrategy = 1\n"),
                FRAG(ETC "20-b.toml", "[updates]\nstrategy = \"immediate\"\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);
        Error e = { { 0 } };

        (void)state;
        assert_string_equal(c->group, "workers");
        agent_config_free(c);
        c = NULL;
        assert_int_equal(agent_config_merge(g, ELEMENTSOF(g), &c, NULL, &e), -EINVAL);
        assert_string_equal(e.message, ETC "10-a.toml:2: updates.strategy: must be a string");
}

/* Windows are validated only where they are used, as Zincati does. */
static void test_windows_unused(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-w.toml", "[updates.periodic]\ntime_zone = \"../x\"\n"
                                      "[[updates.periodic.window]]\ndays = [\"funday\"]\n"
                                      "start_time = \"25:00\"\nlength_minutes = 0\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);

        (void)state;
        assert_int_equal(c->n_windows, 1);
        assert_null(c->calendar);
        agent_config_free(c);
}

static void test_fleet_lock_in_windows(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-s.toml",
                     "[updates]\nstrategy = \"fleet_lock\"\n"
                     "[updates.fleet_lock]\nbase_url = \"https://lock.example.com/${group}\"\n"
                     "only_in_periodic_windows = true\n"
                     "[updates.periodic]\ntime_zone = \"localtime\"\n"
                     "[[updates.periodic.window]]\ndays = [\"Sun\"]\n"
                     "start_time = \"23:00\"\nlength_minutes = 120\n"),
        };
        AgentFragment g[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "55-s.toml", "[updates]\nstrategy = \"immediate\"\n"
                                      "[updates.fleet_lock]\nonly_in_periodic_windows = true\n"),
        };
        char **w = NULL;
        AgentConfig *c = merge(f, ELEMENTSOF(f), &w);

        (void)state;
        assert_null(w);
        assert_true(c->only_in_periodic_windows);
        assert_string_equal(c->time_zone, "localtime");
        assert_non_null(c->calendar);
        assert_int_equal(calendar_total_minutes(c->calendar), 120);
        agent_config_free(c);

        c = merge(g, ELEMENTSOF(g), &w);
        assert_non_null(w);
        assert_string_equal(w[0],
                            ETC "55-s.toml:4: updates.fleet_lock.only_in_periodic_windows: has no effect "
                                "unless updates.strategy is fleet_lock");
        assert_null(w[1]);
        strv_free(w);
        agent_config_free(c);

        expect_error_with(
                "[updates]\nstrategy = \"fleet_lock\"\n[updates.fleet_lock]\n"
                "base_url = \"https://lock.example.com\"\nonly_in_periodic_windows = true\n",
                "updates.periodic.window: strategy fleet_lock with only_in_periodic_windows needs at "
                "least one periodic window with days (none configured)");
}

static void test_upkeep_keys(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG("/etc/upkeep/agent.d/60-upkeep.toml",
                     "[identity]\n"
                     "node_uuid = \"27E3AC02-AF39-46AF-995C-9940E18B0CCE\"\n"
                     "rollout_wariness = 1\n"
                     "[updates]\n"
                     "allow_downgrade = true\n"
                     "[upkeep]\n"
                     "os_backend = \"rpm-ostree\"\n"
                     "sysroot = \"/sysroot\"\n"
                     "osname = \"fedora-coreos\"\n"
                     "remote = \"fedora\"\n"
                     "stream_metadata_key = \"example.stream\"\n"
                     "reboot_method = \"command\"\n"
                     "reboot_command = [\"/usr/bin/systemctl\", \"reboot\", \"--no-wall\"]\n"
                     "status_socket = \"/run/s.sock\"\n"
                     "metrics_socket = \"/run/m.sock\"\n"
                     "motd_dir = \"/etc/motd.d\"\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);

        (void)state;
        assert_string_equal(c->node_uuid, "27e3ac02af3946af995c9940e18b0cce");
        assert_true(c->has_rollout_wariness);
        assert_true(c->rollout_wariness == 1.0);
        assert_true(c->allow_downgrade);
        assert_int_equal(c->os_backend, AGENT_OS_BACKEND_RPM_OSTREE);
        assert_string_equal(c->sysroot, "/sysroot");
        assert_string_equal(c->osname, "fedora-coreos");
        assert_string_equal(c->remote, "fedora");
        assert_string_equal(c->stream_metadata_key, "example.stream");
        assert_int_equal(c->reboot_method, AGENT_REBOOT_COMMAND);
        assert_int_equal(c->n_reboot_command, 3);
        assert_string_equal(c->reboot_command[2], "--no-wall");
        assert_null(c->reboot_command[3]);
        assert_string_equal(c->status_socket, "/run/s.sock");
        assert_string_equal(c->metrics_socket, "/run/m.sock");
        assert_string_equal(c->motd_dir, "/etc/motd.d");
        agent_config_free(c);
}

/* [health] and [[health.check]]: values, the grubenv default following the sysroot, checks accumulating
 * across fragments. */
static void test_health_keys(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG("/etc/upkeep/agent.d/60-health.toml", "[upkeep]\n"
                                                           "sysroot = \"/sysroot\"\n"
                                                           "state_dir = \"/srv/agent\"\n"
                                                           "[health]\n"
                                                           "enabled = false\n"
                                                           "checks_timeout_secs = 60\n"
                                                           "stability_secs = 45\n"
                                                           "max_boot_attempts = 2\n"
                                                           "check_root = \"/tmp/root\"\n"
                                                           "[[health.check]]\n"
                                                           "name = \"kubelet\"\n"
                                                           "kind = \"unit\"\n"
                                                           "unit = \"kubelet.service\"\n"
                                                           "[[health.check]]\n"
                                                           "name = \"api\"\n"
                                                           "kind = \"http\"\n"
                                                           "url = \"http://127.0.0.1:8080/healthz\"\n"
                                                           "required = false\n"
                                                           "timeout_secs = 5\n"),
                FRAG("/etc/upkeep/agent.d/70-more.toml", "[[health.check]]\n"
                                                         "name = \"db\"\n"
                                                         "kind = \"command\"\n"
                                                         "argv = [\"/usr/bin/pg_isready\", \"-q\"]\n"),
        };
        AgentConfig *c = merge(f, ELEMENTSOF(f), NULL);
        const AgentHealthCheckSpec *h = c->health_checks;

        (void)state;
        assert_string_equal(c->state_dir, "/srv/agent");
        assert_false(c->health_enabled);
        assert_int_equal(c->checks_timeout_secs, 60);
        assert_int_equal(c->stability_secs, 45);
        assert_int_equal(c->max_boot_attempts, 2);
        assert_string_equal(c->grubenv, "/sysroot/boot/grub/grubenv");
        assert_string_equal(c->check_root, "/tmp/root");
        assert_int_equal(c->n_health_checks, 3);
        assert_string_equal(h[0].name, "kubelet");
        assert_int_equal(h[0].kind, AGENT_HEALTH_CHECK_UNIT);
        assert_string_equal(h[0].unit, "kubelet.service");
        assert_true(h[0].required);
        assert_int_equal(h[0].timeout_secs, 0);
        assert_int_equal(h[1].kind, AGENT_HEALTH_CHECK_HTTP);
        assert_string_equal(h[1].url, "http://127.0.0.1:8080/healthz");
        assert_false(h[1].required);
        assert_int_equal(h[1].timeout_secs, 5);
        assert_int_equal(h[2].kind, AGENT_HEALTH_CHECK_COMMAND);
        assert_int_equal(h[2].n_argv, 2);
        assert_string_equal(h[2].argv[1], "-q");
        assert_string_equal(agent_health_check_kind_to_string(h[2].kind), "command");
        agent_config_free(c);

        AgentFragment g[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG("/etc/upkeep/agent.d/60-health.toml", "[health]\ngrubenv = \"/boot/efi/grubenv\"\n"),
        };
        c = merge(g, ELEMENTSOF(g), NULL);
        assert_string_equal(c->grubenv, "/boot/efi/grubenv");
        agent_config_free(c);
}

static void test_unknown_keys(void **state)
{
        AgentFragment f[] = {
                FRAG(USR "50-fedora-coreos-cincinnati.toml", fcos_cincinnati),
                FRAG(ETC "60-x.toml", "[agent.timing]\nsteady_interval = 1\n"
                                      "[identity]\ncolour = \"red\"\n"
                                      "[frobnicate]\nx = 1\n"
                                      "[[updates.periodic.window]]\ndays = []\nstart_time = \"1:00\"\n"
                                      "length_minutes = 1\nnote = \"x\"\n"),
        };
        char **w = NULL;
        AgentConfig *c = merge(f, ELEMENTSOF(f), &w);

        (void)state;
        assert_int_equal(strv_length(w), 4);
        assert_string_equal(w[0], ETC "60-x.toml:2: unknown key 'agent.timing.steady_interval' ignored");
        assert_string_equal(w[1], ETC "60-x.toml:4: unknown key 'identity.colour' ignored");
        assert_string_equal(w[2], ETC "60-x.toml:5: unknown key 'frobnicate' ignored");
        assert_string_equal(w[3], ETC "60-x.toml:11: unknown key 'updates.periodic.window[0].note' ignored");
        strv_free(w);
        agent_config_free(c);
}

static void test_syntax_error(void **state)
{
        (void)state;
        expect_error_with(
                "[updates]\nstrategy = \"immediate\n",
                ETC "55-updates-strategy.toml:2:22: unterminated string (newline before the closing quote)");
}

#define E ETC "55-updates-strategy.toml:"
#define PERIODIC "[updates]\nstrategy = \"periodic\"\n"

static void test_bad_values(void **state)
{
        (void)state;
        /* [agent.timing] */
        expect_error_with("[agent.timing]\nsteady_interval_secs = 0\n",
                          E "2: agent.timing.steady_interval_secs: must be a positive integer");
        expect_error_with("[agent.timing]\nsteady_interval_secs = -5\n",
                          E "2: agent.timing.steady_interval_secs: must be a positive integer");
        expect_error_with("[agent.timing]\nsteady_interval_secs = \"300\"\n",
                          E "2: agent.timing.steady_interval_secs: must be an integer");
        expect_error_with("agent = 1\n", E "1: agent: must be a table");
        expect_error_with("[agent]\ntiming = []\n", E "2: agent.timing: must be a table");
        /* [health] */
        expect_error_with("[upkeep]\nstate_dir = \"var/lib\"\n",
                          E "2: upkeep.state_dir: must be an absolute path");
        expect_error_with("[health]\nenabled = 1\n", E "2: health.enabled: must be true or false");
        expect_error_with("[health]\nchecks_timeout_secs = 0\n",
                          E "2: health.checks_timeout_secs: must be an integer between 1 and 86400");
        expect_error_with("[health]\nstability_secs = -1\n",
                          E "2: health.stability_secs: must be an integer between 0 and 86400");
        expect_error_with("[health]\nmax_boot_attempts = 0\n",
                          E "2: health.max_boot_attempts: must be an integer between 1 and 100");
        expect_error_with("[health]\ngrubenv = \"grubenv\"\n",
                          E "2: health.grubenv: must be an absolute path");
        expect_error_with("[health]\ncheck_root = \"\"\n",
                          E "2: health.check_root: must be an absolute path");
        expect_error_with("[health]\ncheck = 1\n",
                          E "2: health.check: must be an array of tables ([[health.check]])");
        expect_error_with("[[health.check]]\nkind = \"unit\"\n", E "1: health.check[0].name: must be set");
        expect_error_with("[[health.check]]\nname = \"a\"\n", E "1: health.check[0].kind: must be set");
        expect_error_with("[[health.check]]\nname = \"a\"\nkind = \"script\"\n",
                          E "1: health.check[0].kind: must be one of unit, http, command");
        expect_error_with("[[health.check]]\nname = \"a\"\nkind = \"unit\"\n",
                          E "1: health.check[0].unit: must be set with kind \"unit\"");
        expect_error_with("[[health.check]]\nname = \"a\"\nkind = \"http\"\nurl = \"https://x/\"\n",
                          E "1: health.check[0].url: must be an http:// URL");
        expect_error_with("[[health.check]]\nname = \"a\"\nkind = \"command\"\n",
                          E "1: health.check[0].argv: must be set with kind \"command\"");
        expect_error_with("[[health.check]]\nname = \"a\"\nkind = \"command\"\nargv = [\"\"]\n",
                          E "4: health.check[0].argv: must be an array of non-empty strings");
        expect_error_with(
                "[[health.check]]\nname = \"a\"\nkind = \"unit\"\nunit = \"a.service\"\ntimeout_secs = 0\n",
                E "5: health.check[0].timeout_secs: must be an integer between 1 and 86400");
        expect_error_with("[[health.check]]\nname = \"a\"\nkind = \"unit\"\nunit = \"a.service\"\n"
                          "[[health.check]]\nname = \"a\"\nkind = \"unit\"\nunit = \"b.service\"\n",
                          E "5: health.check[1].name: is the name of another check");
        /* [identity] */
        expect_error_with("[identity]\ngroup = \"a b\"\n",
                          E "2: identity.group: must match ^[a-zA-Z0-9.-]+$");
        expect_error_with("[identity]\ngroup = \"a\\u0000b\"\n",
                          E "2: identity.group: must not contain NUL characters");
        expect_error_with("[identity]\nnode_uuid = \"xyz\"\n",
                          E "2: identity.node_uuid: must be a 128-bit id of 32 hexadecimal digits");
        expect_error_with("[identity]\nnode_uuid = \"27e3ac02af3946af995c9940e18b0ccg\"\n",
                          E "2: identity.node_uuid: must be a 128-bit id of 32 hexadecimal digits");
        expect_error_with("[identity]\nrollout_wariness = 1.5\n",
                          E "2: identity.rollout_wariness: must be a number between 0.0 and 1.0");
        expect_error_with("[identity]\nrollout_wariness = -0.1\n",
                          E "2: identity.rollout_wariness: must be a number between 0.0 and 1.0");
        expect_error_with("[identity]\nrollout_wariness = nan\n",
                          E "2: identity.rollout_wariness: must be a number between 0.0 and 1.0");
        expect_error_with("[identity]\nrollout_wariness = \"0.5\"\n",
                          E "2: identity.rollout_wariness: must be a number");
        /* [cincinnati] */
        expect_error_with("[cincinnati]\nbase_url = \"ftp://example.com\"\n",
                          E "2: cincinnati.base_url: must be an http:// or https:// URL");
        expect_error_with("[cincinnati]\nbase_url = \"\"\n",
                          E "2: cincinnati.base_url: must be an http:// or https:// URL");
        expect_error_with("[cincinnati]\nbase_url = \"https:///x\"\n",
                          E "2: cincinnati.base_url: must be an http:// or https:// URL with a host");
        expect_error_with("[cincinnati]\nbase_url = \"https://x/${arch}\"\n",
                          E "2: cincinnati.base_url: unknown placeholder '${arch}'");
        expect_error_with("[cincinnati]\nbase_url = \"https://x/${stream\"\n",
                          E "2: cincinnati.base_url: unterminated placeholder");
        expect_error_with("[cincinnati]\nbase_url = \"https://x/a b\"\n",
                          E "2: cincinnati.base_url: must not contain spaces or control characters");
        /* [updates] */
        expect_error_with("[updates]\nstrategy = \"marker\"\n",
                          E "2: updates.strategy: must be one of immediate, fleet_lock, periodic");
        expect_error_with("\n\n[updates]\nstrategy = \"Immediate\"\n",
                          E "4: updates.strategy: must be one of immediate, fleet_lock, periodic");
        expect_error_with("[updates]\nenabled = \"yes\"\n", E "2: updates.enabled: must be true or false");
        expect_error_with("[updates]\nallow_downgrade = 1\n",
                          E "2: updates.allow_downgrade: must be true or false");
        /* [updates.fleet_lock] */
        expect_error_with("[updates]\nstrategy = \"fleet_lock\"\n",
                          "updates.fleet_lock.base_url: must be set with strategy fleet_lock");
        expect_error_with(
                "[updates]\nstrategy = \"fleet_lock\"\n[updates.fleet_lock]\nbase_url = \"lock\"\n",
                E "4: updates.fleet_lock.base_url: must be an http:// or https:// URL");
        expect_error_with("[updates.fleet_lock]\nonly_in_periodic_windows = \"yes\"\n",
                          E "2: updates.fleet_lock.only_in_periodic_windows: must be true or false");
        /* [updates.periodic] */
        expect_error_with(PERIODIC, "updates.periodic.window: strategy periodic needs at least one periodic "
                                    "window with days (none configured)");
        expect_error_with(PERIODIC "[[updates.periodic.window]]\ndays = []\nstart_time = \"1:00\"\n"
                                   "length_minutes = 5\n",
                          "updates.periodic.window: strategy periodic needs at least one periodic "
                          "window with days (none configured)");
        expect_error_with(PERIODIC "[updates.periodic]\ntime_zone = \"../etc/passwd\"\n"
                                   "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"1:00\"\n"
                                   "length_minutes = 5\n",
                          E
                          "4: updates.periodic.time_zone: must be \"localtime\" or an IANA time zone name");
        expect_error_with(PERIODIC "[updates.periodic]\ntime_zone = 0\n",
                          E "4: updates.periodic.time_zone: must be a string");
        expect_error_with(
                "[updates.periodic]\nwindow = 1\n",
                E "2: updates.periodic.window: must be an array of tables ([[updates.periodic.window]])");
        expect_error_with(PERIODIC "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"1:00\"\n"
                                   "length_minutes = 5\n"
                                   "[[updates.periodic.window]]\ndays = [\"Mon\", \"funday\"]\n"
                                   "start_time = \"1:00\"\nlength_minutes = 5\n",
                          E "7: updates.periodic.window[1].days[1]: 'funday' is not a day of the week");
        expect_error_with(PERIODIC "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"25:00\"\n"
                                   "length_minutes = 5\n",
                          E "3: updates.periodic.window[0].start_time: '25:00' is not HH:MM");
        expect_error_with(PERIODIC "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"1:00\"\n"
                                   "length_minutes = 10081\n",
                          E "3: updates.periodic.window[0].length_minutes: must be an integer between 1 and "
                            "10080");
        expect_error_with(PERIODIC "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"1:00\"\n"
                                   "length_minutes = 0\n",
                          E "3: updates.periodic.window[0].length_minutes: must be an integer between 1 and "
                            "10080");
        expect_error_with("[[updates.periodic.window]]\ndays = [\"Mon\"]\nlength_minutes = 5\n",
                          E "1: updates.periodic.window[0]: needs days, start_time and length_minutes");
        expect_error_with("[[updates.periodic.window]]\ndays = \"Mon\"\n",
                          E "2: updates.periodic.window[0].days: must be an array of at most 64 strings");
        expect_error_with("[[updates.periodic.window]]\ndays = [1]\n",
                          E "2: updates.periodic.window[0].days: must be an array of at most 64 strings");
        expect_error_with("[[updates.periodic.window]]\nstart_time = 100\n",
                          E "2: updates.periodic.window[0].start_time: must be a string");
        expect_error_with("[[updates.periodic.window]]\nlength_minutes = \"5\"\n",
                          E "2: updates.periodic.window[0].length_minutes: must be an integer");
        expect_error_with("[updates.periodic]\nwindow = [1]\n",
                          E "2: updates.periodic.window[0]: must be a table with days, start_time and "
                            "length_minutes");
        /* [upkeep] */
        expect_error_with("[upkeep]\nos_backend = \"dnf\"\n",
                          E "2: upkeep.os_backend: must be one of ostree, rpm-ostree, auto");
        expect_error_with("[upkeep]\nsysroot = \"sysroot\"\n",
                          E "2: upkeep.sysroot: must be an absolute path");
        expect_error_with("[upkeep]\nosname = \"a/b\"\n",
                          E "2: upkeep.osname: must be a non-empty name without '/'");
        expect_error_with("[upkeep]\nosname = \"\"\n",
                          E "2: upkeep.osname: must be a non-empty name without '/'");
        expect_error_with("[upkeep]\nremote = \"\"\n",
                          E "2: upkeep.remote: must be a non-empty ostree remote name without '/'");
        expect_error_with("[upkeep]\nstream_metadata_key = \"\"\n",
                          E "2: upkeep.stream_metadata_key: must not be empty");
        expect_error_with("[upkeep]\nreboot_method = \"kexec\"\n",
                          E "2: upkeep.reboot_method: must be \"logind\" or \"command\"");
        expect_error_with("[upkeep]\nreboot_method = \"command\"\n",
                          "upkeep.reboot_command: must be set with reboot_method \"command\"");
        expect_error_with("[upkeep]\nreboot_command = []\n",
                          E "2: upkeep.reboot_command: must be a non-empty array whose first string is an "
                            "absolute path");
        expect_error_with("[upkeep]\nreboot_command = [\"reboot\"]\n",
                          E "2: upkeep.reboot_command: must be a non-empty array whose first string is an "
                            "absolute path");
        expect_error_with("[upkeep]\nreboot_command = \"/sbin/reboot\"\n",
                          E "2: upkeep.reboot_command: must be an array of at most 64 strings");
        expect_error_with("[upkeep]\nstatus_socket = \"s.sock\"\n",
                          E "2: upkeep.status_socket: must be an absolute path of at most 107 bytes");
        expect_error_with("[upkeep]\nmetrics_socket = \"/run/"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxx.sock\"\n",
                          E "2: upkeep.metrics_socket: must be an absolute path of at most 107 bytes");
        expect_error_with("[upkeep]\nmotd_dir = \"motd\"\n",
                          E "2: upkeep.motd_dir: must be an absolute path");
        expect_error_with("upkeep = \"x\"\n", E "1: upkeep: must be a table");
}

static void test_too_many(void **state)
{
        static AgentFragment f[AGENT_CONFIG_MAX_FRAGMENTS + 1];
        AgentConfig *c = NULL;
        Error e = { { 0 } };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                f[i] = FRAG(ETC "x.toml", "");
        assert_int_equal(agent_config_merge(f, ELEMENTSOF(f), &c, NULL, &e), -E2BIG);
        assert_string_equal(e.message, "more than 256 configuration fragments");
        assert_null(c);
}

static void expand_ok(const char *t, const char *want)
{
        char *u = NULL;
        Error e = { { 0 } };
        if (agent_config_expand_url(t, "x86_64", "web-01", "gcp", "next devel", &u, &e) < 0)
                fail_msg("'%s': %s", t, e.message);
        assert_string_equal(u, want);
        free(u);
}

static void expand_bad(const char *t, const char *msg)
{
        char *u = NULL;
        Error e = { { 0 } };
        assert_int_equal(agent_config_expand_url(t, "x86_64", "g", "p", "s", &u, &e), -EINVAL);
        assert_null(u);
        assert_string_equal(e.message, msg);
}

static void test_expand_url(void **state)
{
        (void)state;
        expand_ok("https://updates.coreos.fedoraproject.org", "https://updates.coreos.fedoraproject.org");
        expand_ok("https://u.example.com/${stream}/${basearch}/${platform}?g=${group}",
                  "https://u.example.com/next%20devel/x86_64/gcp?g=web-01");
        expand_ok("HTTP://h:8080/$x/${group}${group}", "HTTP://h:8080/$x/web-01web-01");
        expand_bad("https://h/${Stream}", "unknown placeholder '${Stream}'");
        expand_bad("https://h/${}", "unknown placeholder '${}'");
        expand_bad("https://h/${stream", "unterminated placeholder");
        expand_bad("${group}://h", "must be an http:// or https:// URL");
        expand_bad("https://", "must be an http:// or https:// URL with a host");
        expand_bad("https://h/\t", "must not contain spaces or control characters");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fcos_defaults),
                cmocka_unit_test(test_no_fragments),
                cmocka_unit_test(test_zincati_docs_fleet_lock),
                cmocka_unit_test(test_zincati_docs_periodic),
                cmocka_unit_test(test_later_overrides_and_windows_accumulate),
                cmocka_unit_test(test_zincati_leniency),
                cmocka_unit_test(test_override_of_invalid_value),
                cmocka_unit_test(test_windows_unused),
                cmocka_unit_test(test_fleet_lock_in_windows),
                cmocka_unit_test(test_upkeep_keys),
                cmocka_unit_test(test_health_keys),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_syntax_error),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_too_many),
                cmocka_unit_test(test_expand_url),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
