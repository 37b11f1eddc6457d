import { Command } from 'commander';
import pc from 'picocolors';
import type { Driver } from '../drivers/types';
import type { Plan } from '../plan/types';
import type { StackDiff } from '../reconcile/types';
import { InvalidArgumentError } from '../core/errors';
import { engine } from './engine';
import { withAppOptions } from './options';
import { confirm } from './runtime/format';

/**
 * `diff`, `apply` and `destroy`: synthesize the app, observe each stack through the driver (the
 * built-in runtime), and compare or converge. State is the labels on what the engine runs.
 */

interface AppFlags {
  app?: string;
  output?: string;
}

async function synthAndDriver(stacks: string[], flags: AppFlags): Promise<{ plans: Plan[] } & Awaited<ReturnType<typeof engine>>> {
  const { synthesize } = await import('../toolkit/synth');
  // The engine's modules load while the app runs (synthesize spawns it before its first await).
  const [{ plans }, target] = await Promise.all([synthesize({ app: flags.app, outdir: flags.output, stacks }), engine()]);
  return { plans: stacks.length ? plans.filter((p) => stacks.includes(p.stack)) : plans, ...target };
}

/** Observes `plan`'s stack and its images, and diffs. */
async function diffOf(plan: Plan, driver: Driver): Promise<{ diff: StackDiff; observed: Awaited<ReturnType<Driver['observe']>>; images: { [id: string]: Awaited<ReturnType<Driver['image']>> } }> {
  const { diffStack } = await import('../reconcile/diff');
  const observed = await driver.observe(plan.stack);
  const images: { [id: string]: Awaited<ReturnType<Driver['image']>> } = {};
  for (const [id, r] of Object.entries(plan.resources)) if (r.type === 'image') images[id] = await driver.image(r.name);
  return { diff: diffStack(plan, observed, images), observed, images };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
const color = () => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

export function registerDeploy(program: Command): void {
  withAppOptions(
    program
      .command('diff')
      .alias('plan')
      .description('show what apply would change: each resource as create, update in place, replace or delete, with the field and the reason')
      .argument('[stacks...]', 'stacks to compare (default: all)'),
  )
    .option('--json', 'print the changes as JSON')
    .option('--detailed-exitcode', 'exit 0 without changes, 2 with changes, 1 on error')
    .option('--out <file>', 'save the plan for `apply --plan FILE` (Terraform\'s -out)')
    .option('--target <path>', 'only this resource (a construct path) and what it depends on (repeatable)', collect)
    .action(async (stacks: string[], flags: AppFlags & { json?: boolean; detailedExitcode?: boolean; out?: string; target?: string[] }) => {
      const { renderDiff, diffToJson, hasChanges } = await import('../reconcile/diff');
      const saved = await import('../reconcile/saved');
      const { plans, driver, planKey } = await synthAndDriver(stacks, flags);
      const diffs: StackDiff[] = [];
      const toSave: Array<import('../reconcile/saved').SavedStack> = [];
      for (const plan of plans) {
        const { diff, observed } = await diffOf(plan, driver);
        const targeted = saved.targetChanges(plan, diff, flags.target ?? []);
        diffs.push(targeted);
        toSave.push({ plan, diff: targeted, observed: saved.fingerprint(observed), targets: flags.target ?? [] });
      }
      if (flags.out) saved.writeSavedPlan(flags.out, toSave, planKey());
      if (flags.json) process.stdout.write(`${JSON.stringify(diffs.map(diffToJson), undefined, 2)}\n`);
      else for (const d of diffs) process.stdout.write(`${plans.length > 1 ? `${pc.bold(`Stack ${d.stack}`)}\n` : ''}${renderDiff(d, { color: color() })}`);
      if (flags.out && !flags.json) process.stdout.write(`\nSaved the plan to ${flags.out}: \`cdk-docker apply --plan ${flags.out}\` carries out exactly these changes.\n`);
      if (flags.detailedExitcode && diffs.some(hasChanges)) process.exitCode = 2;
    });

  withAppOptions(
    program
      .command('apply')
      .description('converge the machine to the stacks: show the diff, ask, then create, update, replace and delete in dependency order')
      .argument('[stacks...]', 'stacks to apply (default: all)'),
  )
    .option('--auto-approve', 'do not ask before applying')
    .option('--parallelism <n>', 'changes carried out at once', '4')
    .option('--allow-data-loss', 'accept changes that recreate a volume')
    .option('--plan <file>', 'carry out a plan saved by `diff --out FILE` (refused when the stack changed since)')
    .option('--target <path>', 'only this resource (a construct path) and what it depends on (repeatable)', collect)
    .action(async (stacks: string[], flags: AppFlags & { autoApprove?: boolean; parallelism: string; allowDataLoss?: boolean; plan?: string; target?: string[] }) => {
      const parallelism = Number(flags.parallelism);
      if (!Number.isInteger(parallelism) || parallelism < 1) throw new InvalidArgumentError(`--parallelism ${flags.parallelism}: give a whole number of at least 1`);
      const { renderDiff, hasChanges } = await import('../reconcile/diff');
      const { applyDiff } = await import('../reconcile/apply');
      const saved = await import('../reconcile/saved');
      let work: Array<{ plan: Plan; saved?: import('../reconcile/saved').SavedStack }>;
      let target: Awaited<ReturnType<typeof engine>>;
      if (flags.plan) {
        // A saved plan is carried out as reviewed: no app run, no question.
        if (flags.target?.length) throw new InvalidArgumentError('--target cannot be given with --plan: the saved plan keeps the targets it was made with');
        target = await engine();
        const file = saved.readSavedPlan(flags.plan, target.planKey());
        work = file.stacks.filter((x) => !stacks.length || stacks.includes(x.plan.stack)).map((x) => ({ plan: x.plan, saved: x }));
      } else {
        const r = await synthAndDriver(stacks, flags);
        target = r;
        work = r.plans.map((plan) => ({ plan }));
      }
      const { driver } = target;
      const { Progress } = (await import('../../runtime')).images();
      for (const { plan, saved: fromFile } of work) {
        await target.stackLocked(plan.stack, async () => {
          const now = await diffOf(plan, driver);
          const observed = now.observed;
          const diff = fromFile ? saved.checkSaved(fromFile, observed, now.diff, flags.plan!) : saved.targetChanges(plan, now.diff, flags.target ?? []);
          process.stdout.write(renderDiff(diff, { color: color() }));
          if (!hasChanges(diff)) return;
          if (!flags.autoApprove && !fromFile) {
            if (!process.stdin.isTTY) throw new InvalidArgumentError('apply needs a confirmation: run it from a terminal, or pass --auto-approve');
            if (!(await confirm(`Apply these changes to stack ${plan.stack}?`))) {
              process.stdout.write('Apply cancelled.\n');
              return;
            }
          }
          const counts = { create: 0, update: 0, replace: 0, delete: 0 };
          // On a terminal one live row per resource, redrawn in place; plain lines otherwise (CI).
          const progress = Progress.to(process.stdout);
          await applyDiff(plan, diff, observed, driver, {
            images: now.images,
            parallelism,
            allowDataLoss: flags.allowDataLoss,
            onEvent: (e) => {
              const who = `${e.change.path}${e.change.type === 'container' ? ` (${e.change.name})` : ''}`;
              if (e.phase === 'start') progress.layer(who, `${verb(e.change.action)}…`);
              else if (e.phase === 'done') {
                if (e.change.action !== 'no-op') counts[e.change.action]++;
                progress.layer(who, `${e.message ?? 'done'} [${((e.ms ?? 0) / 1000).toFixed(1)}s]`);
              } else progress.layer(who, `${pc.red('failed')}: ${(e.message ?? '').split('\n')[0]}`);
            },
          }).finally(() => progress.line(''));
          process.stdout.write(`Apply complete! Resources: ${counts.create} added, ${counts.update} changed, ${counts.replace} replaced, ${counts.delete} destroyed.\n`);
          await printOutputs(plan, driver);
        });
      }
    });

  withAppOptions(
    program
      .command('destroy')
      .description('remove the stacks\' containers and networks (volumes only with removalPolicy destroy or --volumes)')
      .argument('[stacks...]', 'stacks to destroy (default: all)'),
  )
    .option('--auto-approve', 'do not ask before destroying')
    .option('--volumes', 'remove the stacks\' volumes too')
    .action(async (stacks: string[], flags: AppFlags & { autoApprove?: boolean; volumes?: boolean }) => {
      const { destroyStack } = await import('../reconcile/apply');
      const { plans, driver, stackLocked } = await synthAndDriver(stacks, flags);
      for (const plan of plans) {
        await stackLocked(plan.stack, async () => {
          if (!flags.autoApprove) {
            if (!process.stdin.isTTY) throw new InvalidArgumentError('destroy needs a confirmation: run it from a terminal, or pass --auto-approve');
            if (!(await confirm(`Destroy every container and network of stack ${plan.stack}${flags.volumes ? ' and its volumes' : ''}?`))) {
              process.stdout.write('Destroy cancelled.\n');
              return;
            }
          }
          const r = await destroyStack(plan.stack, plan, driver, { volumes: flags.volumes, onEvent: (e) => process.stdout.write(`${e.kind} ${e.name}: ${e.message}\n`) });
          process.stdout.write(`\nDestroy complete! ${r.removed} removed${r.keptVolumes.length ? `, volumes kept: ${r.keptVolumes.join(', ')}` : ''}.\n`);
        });
      }
    });
}

function verb(action: string): string {
  return { create: 'creating', update: 'updating', replace: 'replacing', delete: 'removing', 'no-op': 'checking' }[action] ?? action;
}

/** The stack's outputs: each container's addresses and published ports. */
async function printOutputs(plan: Plan, driver: Driver): Promise<void> {
  const observed = await driver.observe(plan.stack);
  if (!observed.containers.length) return;
  process.stdout.write('\nOutputs:\n');
  for (const c of observed.containers.sort((a, b) => a.name.localeCompare(b.name))) {
    const ips = Object.entries(c.networks).map(([n, a]) => `${n} ${a.ipv4Address}`);
    const ports = c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`);
    process.stdout.write(`  ${c.name}: ${c.status}${ips.length ? `, ${ips.join(', ')}` : ''}${ports.length ? `, ${ports.join(', ')}` : ''}\n`);
  }
}

