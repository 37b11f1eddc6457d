import type { Plan } from '../plan/types';

/** `cdk-docker ls`: each stack, then its resources as TYPE PATH NAME rows. */
export function renderStackList(plans: Plan[], long: boolean): string {
  const out: string[] = [];
  for (const plan of plans) {
    out.push(plan.stack);
    if (!long) continue;
    const rows = Object.values(plan.resources)
      .map((r) => [r.type, r.path, r.name])
      .sort((a, b) => a[1].localeCompare(b[1]));
    const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i].length), 0));
    for (const r of rows) out.push(`  ${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
