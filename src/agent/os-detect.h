/* os-detect.h — which OS backend drives this host when the configuration does not say ([upkeep]
 * os_backend = "auto", the default): rpm-ostree where rpm-ostree manages the host, as on Fedora CoreOS with
 * only Zincati's configuration fragments, libostree otherwise. */
#pragma once

#include "agent-config.h"

/* What the host has, as os_detect_probe() finds it. */
typedef struct OsDetectProbe {
        bool ostree_booted;    /* /run/ostree-booted exists: booted from an OSTree deployment */
        bool rpmostree_dbus;   /* org.projectatomic.rpmostree1 is a D-Bus system service here */
        bool rpmostree_binary; /* the rpm-ostree executable is present */
} OsDetectProbe;

/* Pure: the backend for configuration c (os_backend and sysroot) on a host with probe p. A configured
 * backend stays; a test sysroot (sysroot other than "/") is libostree's; else rpm-ostree when the host is
 * booted from OSTree and rpm-ostree is there (its D-Bus service or its executable), libostree otherwise. */
AgentOsBackend os_detect_choose(const AgentConfig *c, const OsDetectProbe *p);

/* Looks under root (NULL: "/"; the agent's --root) for <root>/run/ostree-booted, rpm-ostree's D-Bus
 * service (<root>/usr/share/dbus-1/system-services/org.projectatomic.rpmostree1.service or its bus policy
 * <root>/usr/share/dbus-1/system.d/org.projectatomic.rpmostree1.conf) and its executable
 * (<root><rpm_ostree_path> when configured, else <root>/usr/bin/rpm-ostree). */
void os_detect_probe(const char *root, const AgentConfig *c, OsDetectProbe *ret);
