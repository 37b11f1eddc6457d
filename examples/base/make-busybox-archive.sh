#!/usr/bin/env bash
# Makes examples/base/busybox.tar offline: a one-layer image (docker-save format) holding the
# static busybox of the busybox-static package, tagged busybox:examples. The examples load it
# (Image { archive }) so they apply without a registry.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/busybox.tar"
[ -f "$out" ] && [ "${1:-}" != "--force" ] && exit 0
busybox="$(command -v busybox || true)"
[ -n "$busybox" ] || { echo "busybox is not installed: apt-get install busybox-static" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/www"
cp "$busybox" "$work/rootfs/bin/busybox"
for applet in $("$busybox" --list); do [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/rootfs/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/rootfs.tar" .
cli="$here/../../bin/cdk-docker"
export CDK_DOCKER_ROOT="$work/root" CDK_DOCKER_RUNROOT="$work/run"
"$cli" runtime import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' "$work/rootfs.tar" busybox:examples >/dev/null
"$cli" runtime save -o "$out.tmp" busybox:examples
mv "$out.tmp" "$out"
echo "wrote $out"
