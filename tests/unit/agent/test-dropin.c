/* test-dropin.c — collecting drop-in fragments: the agent's directory precedence, same-name replacement
 * across Zincati's and Upkeep's directories, /dev/null masking, ignored names, sorted order, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-config.h"
#include "dropin.h"
#include "macros.h"

static char root[PATH_MAX];

static void mkdir_p(const char *rel)
{
        char p[PATH_MAX * 2];
        snprintf(p, sizeof(p), "%s%s", root, rel);
        for (char *s = p + strlen(root) + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void)mkdir(p, 0755);
                        *s = '/';
                }
        (void)mkdir(p, 0755);
}

static void put(const char *dir, const char *name, const char *text)
{
        char p[PATH_MAX * 2];
        FILE *f;
        mkdir_p(dir);
        snprintf(p, sizeof(p), "%s%s/%s", root, dir, name);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void link_to(const char *dir, const char *name, const char *target)
{
        char p[PATH_MAX * 2];
        mkdir_p(dir);
        snprintf(p, sizeof(p), "%s%s/%s", root, dir, name);
        assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
        char tmpl[] = "/tmp/test-dropin-XXXXXX";
        (void)state;
        if (!mkdtemp(tmpl))
                return -1;
        snprintf(root, sizeof(root), "%s", tmpl);
        return 0;
}

static int teardown(void **state)
{
        char cmd[PATH_MAX + 16];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static void collect(DropinFile **f, size_t *n)
{
        Error e = { { 0 } };
        if (dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, f, n, &e) < 0)
                fail_msg("unexpected error: %s", e.message);
}

static void assert_path(const DropinFile *f, const char *rel)
{
        char p[PATH_MAX * 2];
        snprintf(p, sizeof(p), "%s%s", root, rel);
        assert_string_equal(f->path, p);
}

static void test_empty(void **state)
{
        DropinFile *f = (DropinFile *)1;
        size_t n = 99;

        (void)state;
        collect(&f, &n); /* no directories at all */
        assert_null(f);
        assert_int_equal(n, 0);
}

static void test_fcos_tree(void **state)
{
        DropinFile *f = NULL;
        size_t n = 0;
        AgentFragment frags[8];
        AgentConfig *c = NULL;
        Error e = { { 0 } };

        (void)state;
        put("/usr/lib/zincati/config.d", "10-agent.toml", "[agent.timing]\nsteady_interval_secs = 300\n");
        put("/usr/lib/zincati/config.d", "30-updates-strategy.toml",
            "[updates]\nstrategy = \"immediate\"\n");
        put("/usr/lib/zincati/config.d", "50-fedora-coreos-cincinnati.toml",
            "[cincinnati]\nbase_url= \"https://updates.coreos.fedoraproject.org\"\n");
        put("/etc/zincati/config.d", "55-updates-strategy.toml",
            "[updates]\nstrategy = \"periodic\"\n[[updates.periodic.window]]\ndays = [\"Sat\"]\n"
            "start_time = \"23:30\"\nlength_minutes = 60\n");
        put("/run/upkeep/agent.d", "56-more-windows.toml",
            "[[updates.periodic.window]]\ndays = [\"Sun\"]\nstart_time = \"02:00\"\nlength_minutes = 30\n");
        /* ignored: dotfiles, other suffixes, directories named *.toml */
        put("/etc/zincati/config.d", ".hidden.toml", "garbage = [");
        put("/etc/zincati/config.d", "README", "garbage = [");
        put("/etc/zincati/config.d", "60.toml.bak", "garbage = [");
        mkdir_p("/etc/zincati/config.d/70-dir.toml");

        collect(&f, &n);
        assert_int_equal(n, 5);
        assert_string_equal(f[0].name, "10-agent.toml");
        assert_path(&f[0], "/usr/lib/zincati/config.d/10-agent.toml");
        assert_string_equal(f[1].name, "30-updates-strategy.toml");
        assert_string_equal(f[2].name, "50-fedora-coreos-cincinnati.toml");
        assert_string_equal(f[3].name, "55-updates-strategy.toml");
        assert_path(&f[3], "/etc/zincati/config.d/55-updates-strategy.toml");
        assert_string_equal(f[4].name, "56-more-windows.toml");
        assert_string_equal(f[0].data, "[agent.timing]\nsteady_interval_secs = 300\n");
        assert_int_equal(f[0].len, strlen(f[0].data));

        for (size_t i = 0; i < n; i++)
                frags[i] = (AgentFragment){ .path = f[i].path, .data = f[i].data, .len = f[i].len };
        if (agent_config_merge(frags, n, &c, NULL, &e) < 0)
                fail_msg("%s", e.message);
        assert_int_equal(c->strategy, AGENT_STRATEGY_PERIODIC);
        assert_int_equal(c->n_windows, 2);
        assert_int_equal(calendar_total_minutes(c->calendar), 90);
        agent_config_free(c);
        dropin_files_free(f, n);
}

static void test_precedence(void **state)
{
        DropinFile *f = NULL;
        size_t n = 0;

        (void)state;
        /* one name in every directory: the highest wins, i.e. /etc/upkeep/agent.d */
        for (size_t i = 0; i < DROPIN_AGENT_N_DIRS; i++) {
                char text[64];
                snprintf(text, sizeof(text), "# %zu\n", i);
                put(DROPIN_AGENT_DIRS[i], "20-x.toml", text);
        }
        /* within a tier, Upkeep's directory beats Zincati's */
        put("/usr/lib/zincati/config.d", "30-y.toml", "# zincati usr\n");
        put("/usr/lib/upkeep/agent.d", "30-y.toml", "# upkeep usr\n");
        /* a higher tier beats Upkeep's lower tier */
        put("/usr/lib/upkeep/agent.d", "40-z.toml", "# upkeep usr\n");
        put("/run/zincati/config.d", "40-z.toml", "# zincati run\n");
        /* order is by name, not directory */
        put("/etc/upkeep/agent.d", "05-first.toml", "# first\n");
        put("/usr/lib/zincati/config.d", "99-last.toml", "# last\n");

        collect(&f, &n);
        assert_int_equal(n, 5);
        assert_string_equal(f[0].name, "05-first.toml");
        assert_string_equal(f[1].name, "20-x.toml");
        assert_string_equal(f[1].data, "# 5\n");
        assert_path(&f[1], "/etc/upkeep/agent.d/20-x.toml");
        assert_string_equal(f[2].data, "# upkeep usr\n");
        assert_path(&f[3], "/run/zincati/config.d/40-z.toml");
        assert_string_equal(f[4].name, "99-last.toml");
        dropin_files_free(f, n);
}

static void test_masking(void **state)
{
        DropinFile *f = NULL;
        size_t n = 0;

        (void)state;
        put("/usr/lib/zincati/config.d", "30-updates-strategy.toml",
            "[updates]\nstrategy = \"immediate\"\n");
        put("/usr/lib/zincati/config.d", "50-fedora-coreos-cincinnati.toml", "# cincinnati\n");
        put("/usr/lib/zincati/config.d", "60-kept.toml", "# kept\n");
        /* masked from /etc (Zincati's dir) and from Upkeep's /run dir */
        link_to("/etc/zincati/config.d", "30-updates-strategy.toml", "/dev/null");
        link_to("/run/upkeep/agent.d", "50-fedora-coreos-cincinnati.toml", "/dev/null");
        /* a mask in a lower directory is overridden by a real file in a higher one */
        link_to("/run/zincati/config.d", "60-kept.toml", "/dev/null");
        put("/etc/upkeep/agent.d", "60-kept.toml", "# etc\n");
        /* a symlink to a real file is followed */
        put("/usr/share/upkeep", "shared.toml", "# shared\n");
        {
                char target[PATH_MAX + 64];
                snprintf(target, sizeof(target), "%s/usr/share/upkeep/shared.toml", root);
                link_to("/etc/upkeep/agent.d", "70-link.toml", target);
        }

        collect(&f, &n);
        assert_int_equal(n, 2);
        assert_string_equal(f[0].name, "60-kept.toml");
        assert_string_equal(f[0].data, "# etc\n");
        assert_string_equal(f[1].name, "70-link.toml");
        assert_string_equal(f[1].data, "# shared\n");
        dropin_files_free(f, n);
}

static void test_env_root(void **state)
{
        DropinFile *f = NULL;
        size_t n = 0;
        Error e = { { 0 } };

        (void)state;
        put("/etc/zincati/config.d", "10.toml", "# env\n");
        assert_int_equal(setenv("UPKEEP_AGENT_ROOT", root, 1), 0);
        assert_int_equal(dropin_collect(NULL, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &f, &n, &e), 0);
        unsetenv("UPKEEP_AGENT_ROOT");
        assert_int_equal(n, 1);
        assert_path(&f[0], "/etc/zincati/config.d/10.toml");
        dropin_files_free(f, n);
}

static void test_errors(void **state)
{
        DropinFile *f = NULL;
        size_t n = 0;
        Error e = { { 0 } };
        char p[PATH_MAX * 2], want[PATH_MAX * 3];
        FILE *big;

        (void)state;
        /* a dangling symlink is an error naming the path */
        link_to("/etc/zincati/config.d", "10-dangling.toml", "/nonexistent/x.toml");
        assert_int_equal(dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &f, &n, &e), -ENOENT);
        snprintf(want, sizeof(want), "%s/etc/zincati/config.d/10-dangling.toml: No such file or directory",
                 root);
        assert_string_equal(e.message, want);
        assert_null(f);
        snprintf(p, sizeof(p), "%s/etc/zincati/config.d/10-dangling.toml", root);
        assert_int_equal(unlink(p), 0);

        /* too big */
        snprintf(p, sizeof(p), "%s/etc/zincati/config.d/20-big.toml", root);
        big = fopen(p, "w");
        assert_non_null(big);
        assert_int_equal(ftruncate(fileno(big), DROPIN_MAX_FILE_BYTES + 1), 0);
        fclose(big);
        assert_int_equal(dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &f, &n, &e), -EFBIG);
        snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", p);
        assert_string_equal(e.message, want);
        assert_int_equal(unlink(p), 0);

        /* unreadable (skipped when running as root, who reads anything) */
        if (geteuid() != 0) {
                put("/etc/zincati/config.d", "30-secret.toml", "# x\n");
                snprintf(p, sizeof(p), "%s/etc/zincati/config.d/30-secret.toml", root);
                assert_int_equal(chmod(p, 0), 0);
                assert_int_equal(dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &f, &n, &e),
                                 -EACCES);
                snprintf(want, sizeof(want), "%s: Permission denied", p);
                assert_string_equal(e.message, want);
                assert_int_equal(unlink(p), 0);
        }

        /* too many fragments */
        for (int i = 0; i <= DROPIN_MAX_FILES; i++) {
                char name[32];
                snprintf(name, sizeof(name), "%03d.toml", i);
                put("/run/upkeep/agent.d", name, "");
        }
        assert_int_equal(dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &f, &n, &e), -E2BIG);
        assert_string_equal(e.message, "more than 256 configuration fragments");
        /* ...but masking one brings it back under the cap */
        link_to("/etc/upkeep/agent.d", "000.toml", "/dev/null");
        assert_int_equal(dropin_collect(root, DROPIN_AGENT_DIRS, DROPIN_AGENT_N_DIRS, &f, &n, &e), 0);
        assert_int_equal(n, DROPIN_MAX_FILES);
        assert_string_equal(f[0].name, "001.toml");
        dropin_files_free(f, n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fcos_tree, setup, teardown),
                cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
                cmocka_unit_test_setup_teardown(test_masking, setup, teardown),
                cmocka_unit_test_setup_teardown(test_env_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
