/* os-detect.c — choosing the OS backend when the configuration leaves it to the agent (see os-detect.h). */
#include "os-detect.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "strutil.h"

#define RPMOSTREE_DBUS_SERVICE "/usr/share/dbus-1/system-services/org.projectatomic.rpmostree1.service"
#define RPMOSTREE_DBUS_POLICY "/usr/share/dbus-1/system.d/org.projectatomic.rpmostree1.conf"
#define RPMOSTREE_BINARY "/usr/bin/rpm-ostree"
#define OSTREE_BOOTED "/run/ostree-booted"

AgentOsBackend os_detect_choose(const AgentConfig *c, const OsDetectProbe *p)
{
        assert(c);
        assert(p);
        if (c->os_backend != AGENT_OS_BACKEND_AUTO)
                return c->os_backend;
        if (c->sysroot && !streq(c->sysroot, "/"))
                return AGENT_OS_BACKEND_OSTREE;
        if (p->ostree_booted && (p->rpmostree_dbus || p->rpmostree_binary))
                return AGENT_OS_BACKEND_RPM_OSTREE;
        return AGENT_OS_BACKEND_OSTREE;
}

/* Whether <root><path> passes access(mode). A path too long for PATH_MAX is absent. */
static bool present(const char *root, const char *path, int mode)
{
        char p[PATH_MAX];
        int n = snprintf(p, sizeof p, "%s%s", root && !streq(root, "/") ? root : "", path);

        return n > 0 && (size_t)n < sizeof p && access(p, mode) == 0;
}

void os_detect_probe(const char *root, const AgentConfig *c, OsDetectProbe *ret)
{
        assert(c);
        assert(ret);
        *ret = (OsDetectProbe){
                .ostree_booted = present(root, OSTREE_BOOTED, F_OK),
                .rpmostree_dbus = present(root, RPMOSTREE_DBUS_SERVICE, F_OK) ||
                                  present(root, RPMOSTREE_DBUS_POLICY, F_OK),
                .rpmostree_binary =
                        present(root, c->rpm_ostree_path ? c->rpm_ostree_path : RPMOSTREE_BINARY, X_OK),
        };
}
