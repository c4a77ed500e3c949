/* test-os-detect.c — the OS backend chosen when [upkeep] os_backend is "auto" (the default): a root that
 * looks like Fedora CoreOS (/run/ostree-booted and rpm-ostree's D-Bus service or executable) gets
 * rpm-ostree, a plain OSTree host or a non-OSTree host libostree; a configured backend and a test sysroot
 * win over what is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-config.h"
#include "macros.h"
#include "os-detect.h"

static char root[] = "/tmp/test-os-detect-XXXXXX";

static void make(const char *rel, mode_t mode)
{
        char p[PATH_MAX], cmd[PATH_MAX + 32];
        FILE *f;

        snprintf(p, sizeof p, "%s%s", root, rel);
        snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
        assert_int_equal(system(cmd), 0);
        f = fopen(p, "w");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(p, mode), 0);
}

static void clear(void)
{
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'/run '%s'/usr", root, root);
        assert_int_equal(system(cmd), 0);
}

/* The default configuration: Zincati's fragments set no [upkeep] key. */
static AgentConfig *defaults(void)
{
        static const char text[] = "[cincinnati]\nbase_url = \"https://updates.coreos.fedoraproject.org\"\n";
        AgentFragment f = { .path = "/usr/lib/zincati/config.d/50-fedora-coreos-cincinnati.toml",
                            .data = text,
                            .len = sizeof text - 1 };
        AgentConfig *c = NULL;
        Error e = {};

        assert_int_equal(agent_config_merge(&f, 1, &c, NULL, &e), 0);
        assert_int_equal(c->os_backend, AGENT_OS_BACKEND_AUTO);
        return c;
}

static AgentOsBackend detect(const AgentConfig *c)
{
        OsDetectProbe p;

        os_detect_probe(root, c, &p);
        return os_detect_choose(c, &p);
}

static void test_fedora_coreos(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = defaults();

        clear();
        make("/run/ostree-booted", 0644);
        make("/usr/share/dbus-1/system-services/org.projectatomic.rpmostree1.service", 0644);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_RPM_OSTREE);

        /* the executable alone is enough; a file that is not executable is not */
        clear();
        make("/run/ostree-booted", 0644);
        make("/usr/bin/rpm-ostree", 0644);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_OSTREE);
        make("/usr/bin/rpm-ostree", 0755);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_RPM_OSTREE);

        /* the bus policy file names the service too */
        clear();
        make("/run/ostree-booted", 0644);
        make("/usr/share/dbus-1/system.d/org.projectatomic.rpmostree1.conf", 0644);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_RPM_OSTREE);
}

static void test_other_hosts(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = defaults();
        OsDetectProbe p;

        /* plain OSTree: booted, no rpm-ostree */
        clear();
        make("/run/ostree-booted", 0644);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_OSTREE);
        os_detect_probe(root, c, &p);
        assert_true(p.ostree_booted && !p.rpmostree_dbus && !p.rpmostree_binary);

        /* rpm-ostree installed on a host not booted from OSTree */
        clear();
        make("/usr/bin/rpm-ostree", 0755);
        make("/usr/share/dbus-1/system-services/org.projectatomic.rpmostree1.service", 0644);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_OSTREE);
}

static void test_configuration_wins(void **state)
{
        _cleanup_agent_config_ AgentConfig *c = defaults();
        OsDetectProbe fcos = { .ostree_booted = true, .rpmostree_dbus = true, .rpmostree_binary = true };
        OsDetectProbe none = { 0 };

        assert_int_equal(os_detect_choose(c, &fcos), AGENT_OS_BACKEND_RPM_OSTREE);
        c->os_backend = AGENT_OS_BACKEND_OSTREE;
        assert_int_equal(os_detect_choose(c, &fcos), AGENT_OS_BACKEND_OSTREE);
        c->os_backend = AGENT_OS_BACKEND_RPM_OSTREE;
        assert_int_equal(os_detect_choose(c, &none), AGENT_OS_BACKEND_RPM_OSTREE);
        /* a test sysroot is libostree's */
        c->os_backend = AGENT_OS_BACKEND_AUTO;
        free(c->sysroot);
        c->sysroot = strdup("/srv/test-sysroot");
        assert_int_equal(os_detect_choose(c, &fcos), AGENT_OS_BACKEND_OSTREE);
        free(c->sysroot);
        c->sysroot = strdup("/");
        assert_int_equal(os_detect_choose(c, &fcos), AGENT_OS_BACKEND_RPM_OSTREE);

        /* a configured rpm_ostree_path is looked for under the root */
        clear();
        make("/run/ostree-booted", 0644);
        make("/opt/bin/rpm-ostree", 0755);
        assert_int_equal(detect(c), AGENT_OS_BACKEND_OSTREE);
        c->rpm_ostree_path = strdup("/opt/bin/rpm-ostree");
        assert_int_equal(detect(c), AGENT_OS_BACKEND_RPM_OSTREE);
}

static int group_setup(void **state)
{
        return mkdtemp(root) ? 0 : -1;
}

static int group_teardown(void **state)
{
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fedora_coreos),
                cmocka_unit_test(test_other_hosts),
                cmocka_unit_test(test_configuration_wins),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
