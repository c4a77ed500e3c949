"""Boot the Upkeep OSTree test VM (GRUB -> ostree deployment, qemu TCG) and prove the
OSTree + GRUB boot-counting plumbing.

Run as root:  /usr/bin/python3 -m pytest -q tests/vm/test_vm_boot.py
Serial logs of failed tests go to $UPKEEP_ARTIFACTS (default /tmp/upkeep-vm-artifacts).
"""

import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmutil  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the VM tests need root (loop devices, mounts, 9p passthrough)")

BOOT_TIMEOUT = 400      # one boot to the marker under TCG on two busy cores
BOOTED = r"UPKEEP-VM: booted (\S+) (\S+)"
# A guest that falls into an emergency shell or is stuck is a failure, not a wait.
FATAL = r"(Kernel panic - not syncing|You are in emergency mode|Entering emergency mode|Cannot open access to console)"

# Shared guest-side helpers for the scripts below (stdout/stderr go to the serial console).
GUEST_PRELUDE = """\
set -x
. /usr/lib/os-release
export OSTREE_GRUB2_EXEC=/usr/libexec/upkeep-vm/ostree-grub2-gen
PATH=/usr/libexec/upkeep-vm:$PATH
env_line() { echo "UPKEEP-VM: $1 $(grub-editenv /boot/grub/grubenv list | sort | tr '\\n' ' ')"; }
"""


@pytest.fixture(scope="session")
def image():
    return vmutil.build_image()


def test_scenario_a_staged_update_and_success(image, request):
    """v1 boots; v2 staged in the guest from the file:// remote, counter armed, reboot;
    v2 boots; the boot is marked good; grubenv is clean."""
    t0 = time.time()
    with vmutil.Workspace(image, request.node.name) as ws:
        v2 = ws.make_release("v2", files={"/usr/share/upkeep-vm/release": "v2\n"})
        ws.write_guest_script(GUEST_PRELUDE + """
case "$VERSION_ID" in
v1)
    stage-release v2
    ostree admin status
    arm-boot-counter 3
    env_line armed
    echo "UPKEEP-VM: rebooting"
    systemctl reboot --no-block
    ;;
v2)
    cat /usr/share/upkeep-vm/release
    mark-boot-good
    env_line marked
    ostree admin status
    systemctl poweroff --no-block
    ;;
esac
""")
        vm = ws.vm()
        vm.start()
        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.group(1) == "v1" and m.group(2) == image.v1, m.group(0)
        t_v1 = vm.elapsed()
        m = vm.wait_for(r"UPKEEP-VM: armed (.*)", 300, fail_on=FATAL)
        assert "boot_counter=3" in m.group(1) and "boot_success=0" in m.group(1)
        vm.wait_for(r"UPKEEP-VM: rebooting", 30)
        # ostree-finalize-staged runs at shutdown, then GRUB counts 3 -> 2 and boots entry 0
        m = vm.wait_for(r"UPKEEP-GRUB: boot_counter=(\S*) boot_success=(\S*) default=(\S*)", 300)
        assert m.groups() == ("2", "0", "0"), m.group(0)
        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.group(1) == "v2" and m.group(2) == v2, m.group(0)
        t_v2 = vm.elapsed()
        m = vm.wait_for(r"UPKEEP-VM: marked (.*)", 120, fail_on=FATAL)
        assert "boot_success=1" in m.group(1) and "boot_counter" not in m.group(1), m.group(0)
        vm.wait_exit(180)
        print("scenario A: v1 marker at %.0fs, v2 marker at %.0fs, total %.0fs"
              % (t_v1, t_v2, time.time() - t0))


def test_scenario_b_grub_fallback_before_userspace(image, request):
    """v4's kernel command line panics before userspace (panic=1 reboots at once); with
    the counter armed GRUB boots it 3 times, then falls back to the previous deployment
    (v1) and leaves boot_counter=-1."""
    t0 = time.time()
    with vmutil.Workspace(image, request.node.name) as ws:
        v4 = ws.make_release("v4", kargs=["panic=1", "rdinit=/upkeep-vm-no-such-init"])
        ws.write_guest_script(GUEST_PRELUDE + """
if [ "$(booted-checksum)" = "$(cat /mnt/host/v1-checksum)" ] && [ ! -e /var/lib/upkeep-vm-staged-v4 ]; then
    stage-release v4
    ostree admin status
    arm-boot-counter 3
    mkdir -p /var/lib && touch /var/lib/upkeep-vm-staged-v4
    env_line armed
    echo "UPKEEP-VM: rebooting"
    systemctl reboot --no-block
else
    env_line after-fallback
    ostree admin status
    systemctl poweroff --no-block
fi
""")
        with open(os.path.join(ws.share, "v1-checksum"), "w") as f:
            f.write(image.v1 + "\n")
        vm = ws.vm()
        vm.start()
        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.groups() == ("v1", image.v1), m.group(0)
        m = vm.wait_for(r"UPKEEP-VM: armed (.*)", 300, fail_on=FATAL)
        assert "boot_counter=3" in m.group(1)
        vm.wait_for(r"UPKEEP-VM: rebooting", 30)
        grub = r"UPKEEP-GRUB: boot_counter=(\S*) boot_success=(\S*) default=(\S*)"
        # three boots of v4, each dying in the kernel before userspace
        for left in ("2", "1", "0"):
            m = vm.wait_for(grub, 300)
            assert m.groups() == (left, "0", "0"), m.group(0)
            vm.wait_for(r"Kernel panic - not syncing", 120, fail_on=r"UPKEEP-VM: booted")
        # countdown over: GRUB picks entry 1, the previous deployment
        m = vm.wait_for(grub, 120)
        assert m.groups() == ("-1", "0", "1"), m.group(0)
        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.groups() == ("v1", image.v1), m.group(0)
        m = vm.wait_for(r"UPKEEP-VM: after-fallback (.*)", 120, fail_on=FATAL)
        assert "boot_counter=-1" in m.group(1) and "boot_success=0" in m.group(1), m.group(0)
        # v4 is still deployed (as entry 0), just not booted
        assert any(v4 in line for line in vm.lines()), "v4 deployment not listed"
        vm.wait_exit(180)
        print("scenario B: total %.0fs" % (time.time() - t0))


def _upkeep_binaries():
    build = os.environ.get("UPKEEP_BUILD",
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
    root = os.path.join(build, "src")
    out = []
    if os.path.isdir(root):
        for sub in sorted(os.listdir(root)):
            d = os.path.join(root, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                p = os.path.join(d, name)
                if name.startswith("upkeep") and os.path.isfile(p) and os.access(p, os.X_OK):
                    out.append(p)
    return out


def test_upkeep_binaries_and_system_bus_in_guest(image, request):
    """Upkeep's host-built binaries ($UPKEEP_BUILD/src/*/upkeep*, default build/) shipped through the share
    resolve all their libraries in the guest; the system bus, systemd1 and logind answer."""
    bins = _upkeep_binaries()
    if not bins:
        pytest.skip("no built Upkeep binaries under build/src (run meson/ninja first)")
    with vmutil.Workspace(image, request.node.name) as ws:
        bindir = os.path.join(ws.share, "bin")
        os.makedirs(bindir)
        for b in bins:
            shutil.copy(b, bindir)
        ws.write_guest_script(GUEST_PRELUDE + """
missing=0
for b in /mnt/host/bin/*; do
    if ldd "$b" | grep 'not found'; then missing=$((missing + 1)); fi
done
echo "UPKEEP-VM: ldd-missing $missing"
busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping &&
busctl call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.DBus.Peer Ping &&
echo "UPKEEP-VM: bus ok"
systemctl poweroff --no-block
""")
        vm = ws.vm()
        vm.start()
        m = vm.wait_for(BOOTED, BOOT_TIMEOUT, fail_on=FATAL)
        assert m.groups() == ("v1", image.v1)
        m = vm.wait_for(r"^UPKEEP-VM: ldd-missing (\d+)", 300, fail_on=FATAL)
        assert m.group(1) == "0", "libraries missing in the guest (see serial log)"
        vm.wait_for(r"^UPKEEP-VM: bus ok", 120, fail_on=r"UPKEEP-VM: hook-exit")
        vm.wait_exit(180)
