import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireCommand } from './prereq';

/**
 * Makes a busybox root filesystem tarball offline, from the static busybox of the
 * `busybox-static` package, with an applet symlink for each of `applets`. Returns its path.
 */
export function busyboxRootfsTar(dir: string, applets = ['sh', 'ls', 'cat', 'echo', 'wget', 'httpd', 'sleep', 'true', 'false', 'env', 'id', 'nc']): string {
  const busybox = requireCommand('busybox', 'busybox-static', ['/bin']);
  const root = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var/www']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync(busybox, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const a of applets) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  const tar = path.join(dir, 'busybox-rootfs.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  return tar;
}
