import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Gives a test's private state root addresses of its own (Docker's `bip` and
 * `default-address-pools` in `<root>/config.json`), so suites running at once never pick the
 * same subnets for their default or user networks: `10.<octet>.0.0/24` for the default network
 * and `10.<octet + 1>.x.0/24` for the others. Each suite takes a distinct `octet`.
 */
export function privateNetworkConfig(root: string, octet: number): { defaultSubnet: string; pool: string } {
  fs.mkdirSync(root, { recursive: true });
  const file = path.join(root, 'config.json');
  const existing = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as object) : {};
  const pool = `10.${octet + 1}.0.0/16`;
  fs.writeFileSync(file, JSON.stringify({ ...existing, bip: `10.${octet}.0.1/24`, 'default-address-pools': [{ base: pool, size: 24 }] }));
  return { defaultSubnet: `10.${octet}.0.0/24`, pool };
}

/** Live (not zombie) aardvark-dns processes whose command line names a path under `dir`. */
export function aardvarksUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const state = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes('aardvark-dns') && cmd.includes(dir) && state !== 'Z') out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}
