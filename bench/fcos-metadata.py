#!/usr/bin/python3
"""bench/fcos-metadata.py — a Fedora CoreOS-shaped release index and update metadata of N releases.

Today's stable stream has about 180 releases (a 44 KB graph for x86_64) and next about 200; the 2021
index in examples/graph has 26. This writes releases.json and updates.json in Fedora CoreOS's formats
(four architectures, commit checksums and OCI image digests, a barrier at the first release of every
Fedora major as Fedora CoreOS puts them, one dead-end, the newest release ramping from an hour ago over
two days), deterministic for a given N.

usage: bench/fcos-metadata.py N OUTDIR [NOW]
"""
import hashlib
import json
import os
import sys


def hexdigest(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    now = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    arches = ["aarch64", "ppc64le", "s390x", "x86_64"]
    per_major = 14
    releases, updates = [], []
    for i in range(n):
        major = 31 + i // per_major
        month, day = 1 + (i % per_major) * 12 // per_major, 1 + (i * 7) % 27
        year = 2019 + (major - 31) // 2
        version = f"{major}.{year}{month:02d}{day:02d}.3.{i % 2}"
        releases.append({
            "commits": [{"architecture": a, "checksum": hexdigest("commit", version, a)} for a in arches],
            "oci-images": [{"architecture": a, "image": "quay.io/fedora/fedora-coreos:stable",
                            "digest-ref": "quay.io/fedora/fedora-coreos@sha256:" + hexdigest("oci", version, a)}
                           for a in arches],
            "version": version,
            "metadata": f"https://builds.coreos.fedoraproject.org/prod/streams/stable/builds/{version}/release.json",
        })
        if i % per_major == 0 and i > 0:
            updates.append({"version": version, "metadata": {"barrier": {
                "reason": "https://github.com/coreos/fedora-coreos-tracker/issues/%d" % (480 + major)}}})
        if i == n // 3:
            updates.append({"version": version, "metadata": {"deadend": {
                "reason": "https://github.com/coreos/fedora-coreos-tracker/issues/1000"}}})
    if now:
        updates.append({"version": releases[-1]["version"], "metadata": {"rollout": {
            "start_epoch": now - 3600, "start_percentage": 0.0, "duration_minutes": 2880}}})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "releases.json"), "w") as f:
        json.dump({"note": "synthetic, Fedora CoreOS-shaped (bench/fcos-metadata.py)", "releases": releases,
                   "metadata": {"last-modified": "2026-12-01T00:00:00Z"}, "stream": "stable"}, f)
    with open(os.path.join(out, "updates.json"), "w") as f:
        json.dump({"stream": "stable", "metadata": {"last-modified": "2026-12-01T00:00:00Z"},
                   "releases": updates}, f)


if __name__ == "__main__":
    main()
