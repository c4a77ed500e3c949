"""upkeep-agent's whole health/rollback loop inside the OSTree test VM (issue 13), watched through the
serial console. Inside the guest, from the 9p share at every boot (tests/vm/guest-agent.sh): upkeep-graph
and upkeep-lock on the guest's loopback, upkeep-agent as dist/upkeep-agent.service (libostree backend,
logind reboots, GRUB boot counter). The test edits the graph's metadata in the share and reads the status
snapshots the guest writes there.

1. boot v1 -> the agent finds v2, stages it, takes the slot, arms the counter, reboots -> v2's required
   check fails -> one retry (GREENBOOT_MAX_BOOT_ATTEMPTS=2) -> rollback -> v1 green, slot released, v2
   recorded as bad and not staged again -> v3 published -> v3 lands green, slot released, reports stored.
2. v4's initramfs cannot start (the kernel panics before userspace) -> GRUB counts down and falls back to
   v1 -> the agent records boot_fallback, makes v1 the default again (the next boot takes GRUB's entry 0,
   v1, with the counter disarmed), reports it, and does not stage v4 again.

Run as root: /usr/bin/python3 -m pytest -q -s tests/vm/test_vm_agent.py (binaries from $UPKEEP_BUILD,
default build/; tests/vm/README.md).
"""

import json
import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmutil  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the VM tests need root (loop devices, mounts, 9p passthrough)")

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("UPKEEP_BUILD", os.path.join(TOP, "build"))
BINARIES = ["src/agent/upkeep-agent", "src/agent/upkeep-agent-worker", "src/cli/upkeep", "src/graph/upkeep-graph",
            "src/lock/upkeep-lock"]
NODE_UUID = "5eed0f0a11ba7c4d9e8f7a6b5c4d3e2f"
BOOT_TIMEOUT = 400
BOOTED = r"UPKEEP-VM: booted (\S+) (\S+)"
GRUB = r"UPKEEP-GRUB: boot_counter=(\S*) boot_success=(\S*) default=(\S*)"
GATE = r"UPKEEP-VM: gate rc=(\d+) after (\d+)s: (.*)"
FATAL = r"(You are in emergency mode|Entering emergency mode|Cannot open access to console|UPKEEP-VM: hook-exit [1-9])"
PANIC = r"Kernel panic - not syncing"

GRAPH_TOML = """[refresh]
interval_secs = 2

[streams.stable]
releases = "/mnt/host/meta/releases.json"
updates = "/mnt/host/meta/updates.json"
basearches = ["x86_64"]

[reports]
enabled = true
database = "/var/lib/upkeep-vm/reports.db"
"""

LOCK_TOML = "[lock]\ndefault_slots = 1\n"

AGENT_TOML = """[agent.timing]
steady_interval_secs = 5

[identity]
group = "default"
node_uuid = "%s"

[cincinnati]
base_url = "http://127.0.0.1:@GRAPH_PORT@/"

[updates]
strategy = "fleet_lock"

[updates.fleet_lock]
base_url = "http://127.0.0.1:@LOCK_PORT@/"

[health]
checks_timeout_secs = 120

[upkeep]
remote = "host"
stream_metadata_key = "upkeep.stream"
platform = "qemu"
report_url = "http://127.0.0.1:@GRAPH_PORT@/v1/report"
""" % NODE_UUID

# greenboot's own file, read as data by the agent: two boots of a new release before the rollback
GREENBOOT_CONF = "# /etc/greenboot/greenboot.conf (greenboot's)\nGREENBOOT_MAX_BOOT_ATTEMPTS=2\n"
BASE_CHECK = "#!/bin/sh\nsystemctl is-active --quiet dbus.service && echo \"vm-base: dbus is up\"\n"
FAILING_CHECK = "#!/bin/sh\necho \"vm-app: the service does not start on $(. /usr/lib/os-release; echo $VERSION_ID)\"\nexit 1\n"
PASSING_CHECK = "#!/bin/sh\necho \"vm-app: running on $(. /usr/lib/os-release; echo $VERSION_ID)\"\n"


def _binaries():
    paths = [os.path.join(BUILD, b) for b in BINARIES]
    missing = [p for p in paths if not os.access(p, os.X_OK)]
    return paths, missing


@pytest.fixture(scope="session")
def image():
    paths, missing = _binaries()
    if missing:
        pytest.skip("Upkeep is not built (missing %s; set UPKEEP_BUILD)" % ", ".join(missing))
    return vmutil.build_image()


class Node:
    """The share of one agent VM: binaries, units, configuration, graph metadata, the guest's output."""

    def __init__(self, ws):
        self.ws = ws
        self.share = ws.share
        self.releases = []  # [(version, checksum, offered)]
        for d in ("bin", "units", "conf/etc/greenboot", "conf/etc/upkeep/check/required.d", "meta", "out",
                  "control"):
            os.makedirs(os.path.join(self.share, d), exist_ok=True)
        for b in _binaries()[0]:
            shutil.copy(b, os.path.join(self.share, "bin"))
        shutil.copy(os.path.join(TOP, "dist", "upkeep-agent.service"), os.path.join(self.share, "units"))
        self.put("conf/graph.toml", GRAPH_TOML)
        self.put("conf/lock.toml", LOCK_TOML)
        self.put("conf/agent.toml", AGENT_TOML)
        self.put("conf/etc/greenboot/greenboot.conf", GREENBOOT_CONF)
        self.put("conf/etc/upkeep/check/required.d/10-vm-base.sh", BASE_CHECK, 0o755)
        with open(os.path.join(HERE, "guest-agent.sh")) as f:
            ws.write_guest_script(f.read())

    def put(self, rel, text, mode=0o644):
        p = os.path.join(self.share, rel)
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, p)

    def publish(self, releases):
        """The graph's inputs: releases [(version, checksum)], oldest first; each after the first is
        fully rolled out (upkeep-graph in the guest re-reads them every 2 s)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        rel = {"stream": "stable", "metadata": {"last-modified": stamp},
               "releases": [{"version": v, "commits": [{"architecture": "x86_64", "checksum": c}]}
                            for v, c in releases]}
        upd = {"stream": "stable", "metadata": {"last-modified": stamp},
               "releases": [{"version": v, "metadata": {"rollout": {"start_percentage": 1.0}}}
                            for v, _ in releases[1:]]}
        self.put("meta/releases.json", json.dumps(rel, indent=1))
        self.put("meta/updates.json", json.dumps(upd, indent=1))

    def out(self, boot, name):
        with open(os.path.join(self.share, "out", "boot-%d" % boot, name)) as f:
            text = f.read()
        return json.loads(text) if name.endswith(".json") else text

    def status(self, boot):
        s = self.out(boot, "status.json")
        return s.get("status", s)

    def holders(self, boot):
        """The ids holding a slot of group "default" (lock.json: `upkeep lock status --json`)."""
        doc = self.out(boot, "lock.json")
        groups = doc.get("groups", doc if isinstance(doc, list) else [doc])
        return {h["id"] if isinstance(h, dict) else h
                for g in groups if g.get("name", g.get("group")) == "default" for h in g.get("holders") or []}

    def reports(self, boot):
        """Per release, the outcome counts upkeep-graph stored ({} until the guest wrote a snapshot)."""
        try:
            doc = self.out(boot, "rollouts.json")
        except (OSError, ValueError):
            return {}
        return {r["release"]: r.get("reports", {}) for r in doc["rollouts"]}

    def reboot(self, boot):
        self.put("control/reboot-%d" % boot, "")

    def poweroff(self):
        self.put("control/poweroff", "")


class Clock:
    def __init__(self, name):
        self.name, self.t0, self.marks = name, time.time(), []

    def mark(self, what):
        self.marks.append((what, time.time() - self.t0))
        vmutil._log("%s +%.0fs: %s" % (self.name, self.marks[-1][1], what))

    def summary(self):
        return "%s: %s" % (self.name, ", ".join("%s %.0fs" % m for m in self.marks))


def boot_into(vm, version, checksum, grub=None):
    """The next boot: GRUB's counter line (checked when `grub` is given), then the guest's marker.
    Returns (boot number, index of the boot's first line after the marker) for find()."""
    m = vm.wait_for(GRUB, 600)
    if grub is not None:
        assert m.groups() == grub, m.group(0)
    m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL + "|" + PANIC)
    assert m.groups() == (version, checksum), m.group(0)
    since = vm.mark()
    return int(vm.find(r"UPKEEP-VM: boot-number (\d+)", since, 60).group(1)), since


def gate(vm, since, timeout=600):
    """The boot-complete gate's verdict on this boot (`upkeep status --wait-health`)."""
    m = vm.find(GATE, since, timeout, fail_on=FATAL)
    return int(m.group(1)), m.group(3)


def agent_log(vm, since, pattern, timeout=300):
    """A line of the agent's journal (forwarded to the console) in this boot."""
    return vm.find(r"^UPKEEP-JOURNAL: .* upkeep-agent\[\d+\]: " + pattern, since, timeout, fail_on=FATAL)


def journal(vm):
    return [line for line in vm.lines() if line.startswith("UPKEEP-JOURNAL: ")]


def wait_status(node, boot, pred, timeout=120):
    """The guest's latest `upkeep status` snapshot of this boot, once pred(status) holds (else the last)."""
    deadline = time.time() + timeout
    while True:
        try:
            st = node.status(boot)
        except (OSError, ValueError):
            st = None
        if (st is not None and pred(st)) or time.time() > deadline:
            return st
        time.sleep(2)


def test_red_release_rolled_back_then_fixed_release_lands(image, request):
    clock = Clock("scenario 1")
    with vmutil.Workspace(image, request.node.name) as ws:
        node = Node(ws)
        v2 = ws.make_release("v2", files={"/usr/lib/greenboot/check/required.d/50-vm-app.sh": FAILING_CHECK})
        v3 = ws.make_release("v3", files={"/usr/lib/upkeep/check/required.d/50-vm-app.sh": PASSING_CHECK})
        # make_release writes files 0644: greenboot runs *.sh with bash, executable or not
        node.publish([("v1", image.v1), ("v2", v2)])
        vm = ws.vm()
        vm.start()

        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.groups() == ("v1", image.v1), m.group(0)
        since = vm.mark()
        assert gate(vm, since) == (0, "this boot is good (health: steady)")
        clock.mark("v1 up, nothing to assess")
        agent_log(vm, since, r"staging v2 \(%s\)" % v2)
        agent_log(vm, since, r"finalizing v2 and rebooting")
        clock.mark("v2 staged, slot taken, finalized")

        # GREENBOOT_MAX_BOOT_ATTEMPTS=2: the counter is armed with 2; GRUB counts 2 -> 1, then 1 -> 0
        _, since = boot_into(vm, "v2", v2, grub=("1", "0", "0"))
        agent_log(vm, since, r"health check 50-vm-app.sh \(required\): exited with status 1 after \d+ ms: "
                  r"vm-app: the service does not start on v2")
        # the check's own output, in the journal under its own name
        vm.find(r"^UPKEEP-JOURNAL: .* 50-vm-app\.sh\[\d+\]: vm-app: the service does not start on v2$", since,
                60)
        agent_log(vm, since, r"boot assessment: rebooting", 120)
        clock.mark("v2 red (1st boot), retrying")
        _, since = boot_into(vm, "v2", v2, grub=("0", "0", "0"))
        agent_log(vm, since, r"health check 50-vm-app.sh \(required\): exited with status 1")
        agent_log(vm, since, r"boot assessment: rolling_back", 120)
        clock.mark("v2 red (2nd boot), rolling back")
        # the rollback made v1 the default entry and disarmed the counter: GRUB boots entry 0 = v1
        boot, since = boot_into(vm, "v1", image.v1, grub=("", "0", "0"))
        assert gate(vm, since) == (0, "this boot is good (health: recovered)")
        clock.mark("v1 green again")
        agent_log(vm, since, r"health check 10-vm-base.sh \(required\): passed after \d+ ms: vm-base: dbus is up",
                  10)
        vm.find(r"^UPKEEP-JOURNAL: .* 10-vm-base\.sh\[\d+\]: vm-base: dbus is up$", since, 10)
        st = wait_status(node, boot, lambda st: st["lock"]["state"] == "released")
        assert st["health"]["state"] == "recovered", st["health"]
        assert st["deployments"]["booted"]["checksum"] == image.v1
        bad = st["bad_releases"]
        assert [(b["version"], b["checksum"], b["outcome"]) for b in bad] == [("v2", v2, "rolled_back")], bad
        assert "50-vm-app.sh" in bad[0]["reason"], bad
        assert st["lock"]["state"] == "released", st["lock"]
        assert NODE_UUID not in node.holders(boot)

        # v2 is still offered, but never staged again
        agent_log(vm, since, r"skipping 1 release\(s\) recorded as bad here", 120)
        checks0 = st["last_check"]["time"]
        st = wait_status(node, boot, lambda st: st["last_check"]["time"] != checks0, 60)
        time.sleep(12)  # two more check intervals
        st = node.status(boot)
        assert st["last_check"]["time"] != checks0, st["last_check"]
        assert st["deployments"]["staged"] is None, st["deployments"]
        assert not [x for x in vm.lines()[since:] if "staging v2" in x]
        clock.mark("v2 not staged again")

        node.publish([("v1", image.v1), ("v2", v2), ("v3", v3)])
        agent_log(vm, since, r"staging v3 \(%s\)" % v3)
        agent_log(vm, since, r"finalizing v3 and rebooting")
        boot, since = boot_into(vm, "v3", v3, grub=("1", "0", "0"))
        assert gate(vm, since) == (0, "this boot is good (health: succeeded)")
        clock.mark("v3 green")
        m = vm.find(r"UPKEEP-VM: after-gate grubenv (.*)", since, 60)
        assert "boot_success=1" in m.group(1) and "boot_counter" not in m.group(1), m.group(0)
        # the outcome reports reached upkeep-graph's /v1/report (queued durably, sent after each reboot)
        st = wait_status(node, boot, lambda st: st["lock"]["state"] == "released"
                         and node.reports(boot).get("v3", {}).get("succeeded") == 1)
        assert st["health"]["state"] == "succeeded"
        assert {c["name"]: c["ok"] for c in st["health"]["checks"]} == {"10-vm-base.sh": True, "50-vm-app.sh": True}
        assert [b["version"] for b in st["bad_releases"]] == ["v2"]
        assert st["lock"]["state"] == "released"
        reports = node.reports(boot)
        assert reports.get("v2", {}).get("failed") == 1, reports
        assert reports.get("v3", {}).get("succeeded") == 1, reports
        assert NODE_UUID not in node.holders(boot)
        node.poweroff()
        vm.wait_exit(180)
        clock.mark("powered off")
        journal_text = node.out(boot, "journal.txt")
        assert "health check 50-vm-app.sh (required): passed" in journal_text
    print(clock.summary())


def test_kernel_panic_falls_back_and_agent_records_it(image, request):
    clock = Clock("scenario 2")
    with vmutil.Workspace(image, request.node.name) as ws:
        node = Node(ws)
        # v4's initramfs has no /init: the kernel cannot mount root=UUID=... by itself and panics
        kver = image.env["KVER"]
        v4 = ws.make_release("v4", files={"/usr/lib/modules/%s/initramfs.img" % kver:
                                          vmutil.newc_cpio([("dev", 0o40755, None), ("root", 0o40700, None)])})
        node.publish([("v1", image.v1), ("v4", v4)])
        vm = ws.vm()
        vm.start()
        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.groups() == ("v1", image.v1), m.group(0)
        since = vm.mark()
        assert gate(vm, since) == (0, "this boot is good (health: steady)")
        clock.mark("v1 up")
        agent_log(vm, since, r"finalizing v4 and rebooting")
        clock.mark("v4 staged and finalized")
        for left in ("1", "0"):
            m = vm.wait_for(GRUB, 600)
            assert m.groups() == (left, "0", "0"), m.group(0)
            vm.wait_for(PANIC, 180, fail_on=r"UPKEEP-VM: booted")
        clock.mark("v4 panicked twice")
        boot, since = boot_into(vm, "v1", image.v1, grub=("-1", "0", "1"))
        agent_log(vm, since, r"update outcome boot_fallback: from v1 to v4")
        assert gate(vm, since) == (0, "this boot is good (health: recovered)")
        clock.mark("fallback recorded, v1 green")
        m = vm.find(r"UPKEEP-VM: after-gate grubenv (.*)", since, 60)
        assert "boot_counter" not in m.group(1), m.group(0)
        # the booted deployment is the default again (first in `ostree admin status`, GRUB's entry 0)
        m = vm.find(r"UPKEEP-VM: after-gate default (\S*)", since, 60)
        assert m.group(1) == image.v1, m.group(0)
        st = wait_status(node, boot, lambda st: st["lock"]["state"] == "released"
                         and node.reports(boot).get("v4", {}).get("failed") == 1)
        bad = st["bad_releases"]
        assert [(b["version"], b["checksum"], b["outcome"]) for b in bad] == [("v4", v4, "boot_fallback")], bad
        assert st["deployments"]["booted"]["checksum"] == image.v1
        assert st["lock"]["state"] == "released", st["lock"]
        assert node.reports(boot).get("v4", {}).get("failed") == 1, node.reports(boot)
        assert NODE_UUID not in node.holders(boot)
        agent_log(vm, since, r"skipping 1 release\(s\) recorded as bad here", 120)
        assert node.status(boot)["deployments"]["staged"] is None
        clock.mark("v4 not staged again")

        # one more reboot: GRUB's counter is disarmed and entry 0 is v1, nothing left to assess
        node.reboot(boot)
        boot, since = boot_into(vm, "v1", image.v1, grub=("", "0", "0"))
        assert gate(vm, since) == (0, "this boot is good (health: steady)")
        assert [b["version"] for b in wait_status(node, boot, lambda st: True)["bad_releases"]] == ["v4"]
        clock.mark("v1 booted as the default")
        node.poweroff()
        vm.wait_exit(180)
        clock.mark("powered off")
    print(clock.summary())
