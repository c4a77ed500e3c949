#!/bin/sh
# Guest side of tests/vm/test_vm_agent.py, run at every boot as /mnt/host/run-in-guest.sh (by the
# image's boot-hook, output on the serial console). Each boot it starts, from the 9p share, upkeep-graph
# and upkeep-lock on the guest's loopback (port 0, state in /var, which survives deployments) and
# upkeep-agent as the real dist/upkeep-agent.service (libostree backend, logind reboots); it forwards
# the agent's and the checks' journal lines to the console, prints the boot assessment's verdict, and keeps
# snapshots of `upkeep status`, the lock's holders and the graph's rollouts in /mnt/host/out/boot-N/.
# The test drives the rest: it edits the graph's metadata in the share, creates
# /mnt/host/control/reboot-N to have boot N reboot, and /mnt/host/control/poweroff when it is done.
#
# Share layout (written by the test): bin/ (upkeep, upkeep-agent, upkeep-agent-worker, upkeep-graph,
# upkeep-lock), units/ (dist's unit files), conf/graph.toml, conf/lock.toml, conf/agent.toml (with
# @GRAPH_PORT@ and @LOCK_PORT@), conf/etc/ (copied over /etc: greenboot.conf, checks), meta/ (graph input).
H=/mnt/host
R=/run/upkeep-vm
S=/var/lib/upkeep-vm
PATH=$R/bin:/usr/libexec/upkeep-vm:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
export OSTREE_GRUB2_EXEC=/usr/libexec/upkeep-vm/ostree-grub2-gen
. /usr/lib/os-release
say() { echo "UPKEEP-VM: $*"; }

mkdir -p "$R/bin" "$S" /run/upkeep/agent.d /run/motd.d /etc/upkeep/agent.d
cp "$H"/bin/* "$R/bin/"
boot=$(($(cat "$S/boots" 2>/dev/null || echo 0) + 1))
echo "$boot" > "$S/boots"
OUT="$H/out/boot-$boot"
mkdir -p "$OUT"
csum=$(booted-checksum)
printf '%s %s\n' "$VERSION_ID" "$csum" > "$OUT/booted"
say "boot-number $boot $VERSION_ID"
ostree admin status | sed 's/^/UPKEEP-VM: ostree-status /'

# the checks and greenboot.conf of this node (in /etc, so every deployment has them)
cp -r "$H/conf/etc/." /etc/

# the servers, on loopback only (no network in this guest)
wait_port() { # FILE
	for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.2; done
	say "no port in $1"; return 1
}
rm -f "$R/graph.port" "$R/lock.port"
systemd-run --quiet --unit=upkeep-graph --collect \
	"$R/bin/upkeep-graph" -c "$H/conf/graph.toml" --address 127.0.0.1 --port 0 --port-file "$R/graph.port"
systemd-run --quiet --unit=upkeep-lock --collect \
	"$R/bin/upkeep-lock" -c "$H/conf/lock.toml" --address 127.0.0.1 --port 0 --port-file "$R/lock.port" \
	--sqlite "$S/lock.db"
wait_port "$R/graph.port" && wait_port "$R/lock.port" || exit 1
GP=$(cat "$R/graph.port")
LP=$(cat "$R/lock.port")
say "servers graph=$GP lock=$LP"
sed -e "s/@GRAPH_PORT@/$GP/g" -e "s/@LOCK_PORT@/$LP/g" "$H/conf/agent.toml" > /run/upkeep/agent.d/50-vm.toml

# the agent: dist's unit, with the binaries from the share and the test image's GRUB config writer
cp "$H"/units/*.service /run/systemd/system/
mkdir -p /run/systemd/system/upkeep-agent.service.d
cat > /run/systemd/system/upkeep-agent.service.d/50-vm.conf <<EOF
[Service]
ExecStart=
ExecStart=$R/bin/upkeep-agent --verbose
Environment=OSTREE_GRUB2_EXEC=/usr/libexec/upkeep-vm/ostree-grub2-gen
EOF
systemctl daemon-reload
# the agent's and the checks' journal lines on the console, with their identifiers
idents=""
for f in $(ls /usr/lib/greenboot/check/*/ /etc/greenboot/check/*/ /usr/lib/upkeep/check/*/ /etc/upkeep/check/*/ 2>/dev/null | grep -v '^/' | grep -v '^$' | sort -u); do
	idents="$idents -t $f"
done
journalctl -f -n all -o short-monotonic -t upkeep-agent $idents 2>&1 | sed -u 's/^/UPKEEP-JOURNAL: /' &
systemctl start --no-block upkeep-agent.service

snapshot() {
	upkeep status --json > "$OUT/status.json.tmp" 2>&1 && mv "$OUT/status.json.tmp" "$OUT/status.json"
	upkeep lock status --url "http://127.0.0.1:$LP" --token-file "$S/admin.token" --json \
		> "$OUT/lock.json.tmp" 2>&1 && mv "$OUT/lock.json.tmp" "$OUT/lock.json"
	curl -sf "http://127.0.0.1:$GP/v1/rollouts" > "$OUT/rollouts.json.tmp" &&
		mv "$OUT/rollouts.json.tmp" "$OUT/rollouts.json"
}

# the boot-complete gate (dist/upkeep-health-gate.service runs the same command)
for _ in $(seq 1 100); do [ -S /run/upkeep/agent/status.sock ] && break; sleep 0.3; done
t0=$(cut -d' ' -f1 /proc/uptime)
upkeep status --wait-health=900 > "$OUT/gate.txt" 2>&1
rc=$?
snapshot
say "gate rc=$rc after $(echo "$(cut -d' ' -f1 /proc/uptime) $t0" | awk '{printf "%d", $1 - $2}')s: $(tail -1 "$OUT/gate.txt")"
say "after-gate grubenv $(grub-editenv /boot/grub/grubenv list | sort | tr '\n' ' ')"
say "after-gate default $(ostree admin status | grep -m1 -oE '[0-9a-f]{64}')"
ostree admin status | sed 's/^/UPKEEP-VM: ostree-status /'


# until the test says so (or the agent reboots us): keep the snapshots fresh
for _ in $(seq 1 900); do
	if [ -e "$H/control/reboot-$boot" ]; then
		snapshot
		say "rebooting as asked"
		systemctl reboot --no-block
		exit 0
	fi
	if [ -e "$H/control/poweroff" ]; then
		snapshot
		journalctl -o short-monotonic -b > "$OUT/journal.txt" 2>&1
		say "powering off"
		systemctl poweroff --no-block
		exit 0
	fi
	snapshot
	sleep 2
done
say "gave up waiting for the test"
systemctl poweroff --no-block
