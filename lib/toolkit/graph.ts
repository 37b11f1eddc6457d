import type { Plan, Resource } from '../plan/types';

export type GraphFormat = 'dot' | 'mermaid';

/** The dependency graph of plans: an edge A → B means A needs B first. */
export function renderGraph(plans: Plan[], format: GraphFormat): string {
  return format === 'mermaid' ? mermaid(plans) : dot(plans);
}

function label(r: Resource): string {
  return `${r.path}\\n${r.type}: ${r.name}`;
}

const SHAPES: Record<Resource['type'], string> = { container: 'box', image: 'component', network: 'ellipse', volume: 'cylinder' };

function dot(plans: Plan[]): string {
  const lines = ['digraph cdk_docker {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  for (const plan of plans) {
    const cluster = plans.length > 1;
    const ind = cluster ? '    ' : '  ';
    if (cluster) lines.push(`  subgraph "cluster_${plan.stack}" {`, `    label=${JSON.stringify(plan.stack)};`);
    for (const [id, r] of Object.entries(plan.resources).sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`${ind}"${plan.stack}/${id}" [label="${label(r).replace(/"/g, '\\"')}", shape=${SHAPES[r.type]}];`);
    }
    if (cluster) lines.push('  }');
  }
  for (const plan of plans) {
    for (const [id, r] of Object.entries(plan.resources).sort(([a], [b]) => a.localeCompare(b))) {
      for (const d of r.dependsOn) lines.push(`  "${plan.stack}/${id}" -> "${plan.stack}/${d}";`);
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function mermaid(plans: Plan[]): string {
  const lines = ['graph LR'];
  const nodeId = (stack: string, id: string) => `${stack.replace(/[^A-Za-z0-9]/g, '_')}_${id}`;
  const open: Record<Resource['type'], [string, string]> = { container: ['[', ']'], image: ['[[', ']]'], network: ['([', '])'], volume: ['[(', ')]'] };
  for (const plan of plans) {
    lines.push(`  subgraph ${plan.stack.replace(/[^A-Za-z0-9]/g, '_')}["${plan.stack}"]`);
    for (const [id, r] of Object.entries(plan.resources).sort(([a], [b]) => a.localeCompare(b))) {
      const [o, c] = open[r.type];
      lines.push(`    ${nodeId(plan.stack, id)}${o}"${r.path}<br/>${r.type}: ${r.name}"${c}`);
    }
    lines.push('  end');
  }
  for (const plan of plans) {
    for (const [id, r] of Object.entries(plan.resources).sort(([a], [b]) => a.localeCompare(b))) {
      for (const d of r.dependsOn) lines.push(`  ${nodeId(plan.stack, id)} --> ${nodeId(plan.stack, d)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
