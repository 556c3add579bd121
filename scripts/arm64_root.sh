#!/usr/bin/env bash
# A Debian arm64 userland run by qemu-user: the stand-in "board" that `edgenet bench --target ssh://...` reaches when
# no real ARM board is at hand (issue 23, item 5). Built once, cached outside the repo; a second run only checks it.
#
#   sudo scripts/arm64_root.sh [CACHE]        # CACHE: $EDGENET_ARM64_CACHE or /var/cache/edgenet/arm64
#
# What it leaves in CACHE:
#   root/     Debian bookworm arm64 (minbase + python3) with a venv /opt/edgenet holding numpy and ai-edge-litert
#   python    host-side launcher: runs root/opt/edgenet/bin/python under qemu in a private mount namespace that
#             sees the host's /tmp (where bench copies the runner and the model), /proc and /dev. Use it as
#             `--remote-python CACHE/python` with an ssh target on 127.0.0.1 (see docs/benchmarks/arm64.md).
#   ready     versions of what was installed; present only when everything above was built and ran once
#
# Needs root (debootstrap, binfmt_misc), an x86-64 host, the Debian mirror and PyPI, a host python3 with pip, and
# the Debian packages qemu-user-static binfmt-support debootstrap (installed here when missing).
set -euo pipefail

LITERT_VERSION=2.3.0
SUITE=bookworm
MIRROR=${EDGENET_ARM64_MIRROR:-http://deb.debian.org/debian}
CACHE=${1:-${EDGENET_ARM64_CACHE:-/var/cache/edgenet/arm64}}
ROOT=$CACHE/root

die() {
    echo "arm64_root.sh: $*" >&2
    exit 1
}

# The launcher: a private mount namespace per run (nothing stays mounted on the host, nothing to clean up).
# /sys is a stand-in holding only the two CPU lists: without them XNNPACK's cpuinfo fails and TFLite silently runs
# its builtin kernels instead of XNNPACK, and the host's real /sys crashes qemu 7.2 (SIGSEGV) in cpuinfo.
# QEMU_CPU picks the emulated CPU, and so the kernels XNNPACK chooses (cortex-a72: plain NEON; cortex-a76:
# dot-product; max,sme=off: i8mm; max: SME); it is recorded with every result. The default is cortex-a76, not
# qemu's max: under qemu 7.2 XNNPACK's SME path gives wrong int8 answers (docs/benchmarks/arm64.md).
write_launcher() {
    cat >"$CACHE/python.partial" <<'EOF'
#!/bin/sh
# Runs the arm64 root's python under qemu-user (written by scripts/arm64_root.sh). Arguments go to python.
root="$(dirname "$(readlink -f "$0")")/root"
ns="--mount --propagation private"
[ "$(id -u)" -eq 0 ] || ns="--user --map-root-user $ns"
version=$(qemu-aarch64-static --version | sed -n 's/.*version \([^ ]*\).*/\1/p')
export QEMU_CPU="${QEMU_CPU:-cortex-a76}"
export EDGENET_EMULATOR="qemu-aarch64 $version, cpu $QEMU_CPU"
exec unshare $ns -- sh -c '
    r=$1; shift
    mount --bind /tmp "$r/tmp" && mount --rbind /proc "$r/proc" && mount --rbind /dev "$r/dev" &&
        mount -t tmpfs -o size=64k sys-stand-in "$r/sys" && mkdir -p "$r/sys/devices/system/cpu" &&
        cp /sys/devices/system/cpu/possible /sys/devices/system/cpu/present "$r/sys/devices/system/cpu/" || exit 126
    exec chroot "$r" /opt/edgenet/bin/python "$@"' sh "$root" "$@"
EOF
    chmod 755 "$CACHE/python.partial"
    mv "$CACHE/python.partial" "$CACHE/python"
}

# aarch64 binaries run through qemu: the kernel's binfmt_misc hands them to qemu-aarch64-static. The 'F' flag Debian
# registers it with makes the kernel open qemu at registration, so it also runs inside the chroot. Not persistent:
# after a reboot this script (as root) enables it again.
enable_binfmt() {
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
            || die "cannot mount binfmt_misc (a container without that privilege?): run on a VM or the host"
    fi
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
        || die "update-binfmts --enable qemu-aarch64 failed"
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
        || die "qemu-aarch64 is registered without the F flag; it would not run inside the chroot"
}

[ "$(uname -m)" = x86_64 ] \
    || die "this stand-in emulates arm64 on x86-64; on a $(uname -m) host use edgenet bench --target local"
is_root=$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)

if [ -f "$CACHE/ready" ] && [ -x "$CACHE/python" ]; then
    if [ "$is_root" = 1 ]; then
        enable_binfmt
        write_launcher # this script's launcher for an existing root
    fi
    "$CACHE/python" -c 'import ai_edge_litert, numpy' 2>/dev/null \
        || die "$CACHE/python does not run (after a reboot: sudo $0 enables qemu-aarch64 again; else delete $CACHE)"
    echo "arm64 root ready: $CACHE ($(tr '\n' ' ' <"$CACHE/ready"))"
    exit 0
fi

[ "$is_root" = 1 ] || die "no arm64 root in $CACHE yet, and building one needs root (debootstrap, binfmt_misc): sudo $0 $*"

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } \
        || die "could not install ${need[*]} with apt-get (no network to the Debian mirror?)"
fi
enable_binfmt
mkdir -p "$CACHE"
start=$(date +%s)

# -- the Debian root, built in root.partial and renamed when complete: an interrupted run never leaves a half-built
#    root that looks finished
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    rm -rf "$ROOT.partial"
    echo "debootstrap $SUITE arm64 into $ROOT (5-7 minutes: its second stage runs emulated)"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv "$SUITE" "$ROOT.partial" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1 \
        || die "debootstrap failed; the last lines of $CACHE/debootstrap.log: $(tail -n 3 "$CACHE/debootstrap.log")"
    rm -rf "$ROOT"
    mv "$ROOT.partial" "$ROOT"
fi
write_launcher

# -- python packages: the aarch64 wheels are downloaded by the host's pip (its index, proxy and CA settings apply,
#    at native speed), then installed offline by the root's own pip with none of the host's PIP_* settings
if ! "$CACHE/python" -c 'import ai_edge_litert, numpy' 2>/dev/null; then
    echo "ai-edge-litert==$LITERT_VERSION and numpy: aarch64 wheels from PyPI, installed by the root's pip (1-2 min)"
    host_python=${PYTHON:-python3}
    "$host_python" -m pip --version >/dev/null 2>&1 \
        || die "the host's $host_python has no pip (apt-get install python3-pip, or set PYTHON=/path/to/venv/python)"
    wheels=$ROOT/var/cache/edgenet-wheels
    rm -rf "$wheels"
    platforms=()
    for v in $(seq 17 36); do platforms+=(--platform "manylinux_2_${v}_aarch64"); done # bookworm: glibc 2.36
    "$host_python" -m pip download -q --only-binary=:all: "${platforms[@]}" --python-version 3.11 \
        --implementation cp -d "$wheels" "ai-edge-litert==$LITERT_VERSION" numpy >"$CACHE/pip.log" 2>&1 \
        || die "pip download of the aarch64 wheels failed (no network to PyPI?); see $CACHE/pip.log"
    clean=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)
    "${clean[@]}" chroot "$ROOT" python3 -m venv /opt/edgenet >>"$CACHE/pip.log" 2>&1 \
        || die "python3 -m venv failed inside the root; see $CACHE/pip.log"
    "${clean[@]}" chroot "$ROOT" /opt/edgenet/bin/pip install -q --no-index --find-links /var/cache/edgenet-wheels \
        "ai-edge-litert==$LITERT_VERSION" numpy >>"$CACHE/pip.log" 2>&1 \
        || die "pip install inside the root failed; see $CACHE/pip.log"
    rm -rf "$wheels"
fi

versions=$("$CACHE/python" -c '
import platform, numpy, importlib.metadata as m
print(platform.machine(), "python", platform.python_version(), "numpy", numpy.__version__,
      "ai-edge-litert", m.version("ai-edge-litert"))') || die "the arm64 python does not run under qemu"
case "$versions" in aarch64*) ;; *) die "the root's python reports '$versions', not aarch64" ;; esac
echo "$versions; $(qemu-aarch64-static --version | head -n 1)" >"$CACHE/ready.partial"
mv "$CACHE/ready.partial" "$CACHE/ready"
echo "arm64 root ready: $CACHE ($versions; built in $(($(date +%s) - start)) s)"
