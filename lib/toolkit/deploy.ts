import pc from 'picocolors';
import type { Driver, ObservedStack } from '../drivers/types';
import type { Plan } from '../plan/types';
import type { ObservedImages } from '../reconcile/diff';
import type { SavedStack } from '../reconcile/saved';
import type { Change, StackDiff } from '../reconcile/types';
import { InvalidArgumentError } from '../core/errors';
import { Lazy, resolveLazy, StackEngine } from './engine';
import { observePlan } from './observe';
import { compareText } from '../core/canonical';

/**
 * `diff`, `apply` and `destroy`: synthesize the app, observe each stack through the engine's
 * driver, and compare or converge. State is the labels on what the engine runs; one apply or
 * destroy of a stack at a time holds the engine's stack lock.
 */

/** What diff, apply and destroy take: which app, which stacks, which engine, where to print. */
export interface DeployOptions {
  /** Stacks to work on (all when empty or absent). */
  readonly stacks?: string[];
  /** Project directory (where cdk-docker.json is). @default process.cwd() */
  readonly dir?: string;
  /** App command; overrides cdk-docker.json's `app`. */
  readonly app?: string;
  /** Plans directory. @default cdk-docker.json's `output`, else "cdk.out" */
  readonly output?: string;
  /** The engine, or how to make it (then made while the app runs). */
  readonly engine: Lazy<StackEngine>;
  /** Where the diff, progress and summaries go (live progress rows when it is a TTY). @default process.stdout */
  readonly out?: NodeJS.WritableStream & { readonly isTTY?: boolean };
  /** Colours in the diff. @default false */
  readonly color?: boolean;
  /** Asks the user a yes/no question; absent, a change that needs a confirmation is refused. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Where the app's own output goes. @default process.stderr */
  readonly appOutput?: NodeJS.WritableStream;
  /** Run a TypeScript app in a thread of this process when it can (SynthOptions.inProcess). @default false */
  readonly inProcess?: boolean;
}

export interface DiffOptions extends DeployOptions {
  /** Print the changes as JSON. */
  readonly json?: boolean;
  /** Save the plan to this file for `apply({ plan })` (Terraform's -out). */
  readonly save?: string;
  /** Only these resources (construct paths) and what they depend on. */
  readonly targets?: string[];
}

export interface ApplyOptions extends DeployOptions {
  /** Do not ask before applying. */
  readonly autoApprove?: boolean;
  /** Changes carried out at once. @default 4 */
  readonly parallelism?: number;
  /** Accept changes that recreate a volume. */
  readonly allowDataLoss?: boolean;
  /** Carry out the plan saved in this file by `diff({ save })` (the app is not run). */
  readonly plan?: string;
  /** Only these resources (construct paths) and what they depend on. */
  readonly targets?: string[];
}

export interface DestroyOptions extends DeployOptions {
  /** Do not ask before destroying. */
  readonly autoApprove?: boolean;
  /** Remove the stacks' volumes too. */
  readonly volumes?: boolean;
}

export type ChangeCounts = { create: number; update: number; replace: number; delete: number; adopt?: number };

/** What apply did to one stack. */
export interface ApplyResult {
  readonly stack: string;
  readonly diff: StackDiff;
  /** `applied` (also when there was nothing to do), or `cancelled` at the question. */
  readonly outcome: 'applied' | 'cancelled';
  readonly counts: ChangeCounts;
}

/** What destroy did to one stack. */
export interface DestroyResult {
  readonly stack: string;
  readonly outcome: 'destroyed' | 'cancelled';
  readonly removed: number;
  readonly keptVolumes: string[];
}

/**
 * The stacks' plans (synthesized by the app) and the engine, made at the same time: runs the app
 * and resolves the engine. While the app runs, the engine's modules load and, with
 * `observeEarly`, the stacks the last synth made are observed (`early`, by stack): a snapshot
 * taken during this command, as good as one taken after the app — what the engine runs does not
 * depend on the app. A stack the app no longer makes is observed for nothing; a failed early
 * observation is undefined, and the stack is observed again where it is needed (its error shown then).
 */
async function synthAndEngine(options: DeployOptions, observeEarly = true): Promise<{ plans: Plan[]; engine: StackEngine; early: Map<string, Promise<ObservedStack | undefined>> }> {
  const stacks = options.stacks ?? [];
  const { synthesize } = await import('./synth');
  // The app starts first (in a thread, it runs beside what follows); the engine is made meanwhile.
  let engineReady: Promise<StackEngine> | undefined;
  const engine = () => (engineReady ??= resolveLazy(options.engine));
  const early = new Map<string, Promise<ObservedStack | undefined>>();
  const whileAppRuns = (previous: string[]) => {
    for (const stack of previous.filter((s) => !stacks.length || stacks.includes(s))) {
      early.set(
        stack,
        engine().then(
          (e) => e.driver.observe(stack).catch(() => undefined),
          () => undefined,
        ),
      );
    }
    return Promise.all(early.values());
  };
  const synthesis = synthesize({ dir: options.dir, app: options.app, outdir: options.output, stacks, appOutput: options.appOutput, inProcess: options.inProcess, whileAppRuns: observeEarly ? whileAppRuns : undefined });
  const [{ plans }, made] = await Promise.all([synthesis, engine()]);
  return { plans: stacks.length ? plans.filter((p) => stacks.includes(p.stack)) : plans, engine: made, early };
}

/**
 * `work` begun (the app run of synthAndEngine) while something else is awaited first (the
 * reconciler's modules): its failure is reported where `work` is awaited, not as unhandled meanwhile.
 */
function begun<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/** Observes `plan`'s stack (or takes `early`, an observation made earlier in this command) and its images, and diffs. */
async function diffOf(plan: Plan, driver: Driver, early?: Promise<ObservedStack | undefined>): Promise<{ diff: StackDiff; observed: ObservedStack; images: ObservedImages }> {
  const [{ diffStack }, { observed, images }] = await Promise.all([import('../reconcile/diff'), observePlan(plan, driver, early)]);
  return { diff: diffStack(plan, observed, images, driver.capabilities), observed, images };
}

/** Prints what apply would change; `changed` is true when any stack has changes (exit code 2 in CI). */
export async function diff(options: DiffOptions): Promise<{ diffs: StackDiff[]; changed: boolean }> {
  const out = options.out ?? process.stdout;
  const synthesis = begun(synthAndEngine(options));
  const [{ renderDiff, diffToJson, hasChanges }, saved] = await Promise.all([import('../reconcile/diff'), import('../reconcile/saved')]);
  const { plans, engine, early } = await synthesis;
  const targets = options.targets ?? [];
  const diffs: StackDiff[] = [];
  const toSave: SavedStack[] = [];
  for (const plan of plans) {
    const { diff: d, observed } = await diffOf(plan, engine.driver, early.get(plan.stack));
    const targeted = saved.targetChanges(plan, d, targets);
    diffs.push(targeted);
    toSave.push({ plan, diff: targeted, observed: saved.fingerprint(observed), targets });
  }
  if (options.save) saved.writeSavedPlan(options.save, toSave, engine.planKey());
  if (options.json) out.write(`${JSON.stringify(diffs.map(diffToJson), undefined, 2)}\n`);
  else for (const d of diffs) out.write(`${plans.length > 1 ? `${pc.bold(`Stack ${d.stack}`)}\n` : ''}${renderDiff(d, { color: options.color ?? false })}`);
  if (options.save && !options.json) out.write(`\nSaved the plan to ${options.save}: \`cdk-docker apply --plan ${options.save}\` carries out exactly these changes.\n`);
  return { diffs, changed: diffs.some(hasChanges) };
}

/** Refuses a `parallelism` that is given and not a whole number of at least 1 (unset: the engine's default). */
export function checkParallelism(parallelism: number | undefined): void {
  if (parallelism !== undefined && (!Number.isInteger(parallelism) || parallelism < 1)) throw new InvalidArgumentError(`parallelism ${parallelism}: give a whole number of at least 1`);
}

/**
 * Converges each stack: shows its diff, asks (unless auto-approved or carrying out a saved plan),
 * then creates, updates, replaces and deletes in dependency order, holding the stack's lock.
 */
export async function apply(options: ApplyOptions): Promise<ApplyResult[]> {
  checkParallelism(options.parallelism);
  const out = options.out ?? process.stdout;
  const stacks = options.stacks ?? [];
  const targets = options.targets ?? [];
  const synthesis = options.plan ? undefined : begun(synthAndEngine(options));
  const [{ renderDiff, hasChanges }, { applyDiff }, saved] = await Promise.all([import('../reconcile/diff'), import('../reconcile/apply'), import('../reconcile/saved')]);
  let work: Array<{ plan: Plan; saved?: SavedStack }>;
  let engine: StackEngine;
  let early = new Map<string, Promise<ObservedStack | undefined>>();
  if (options.plan) {
    // A saved plan is carried out as reviewed: no app run, no question.
    if (targets.length) throw new InvalidArgumentError('--target cannot be given with --plan: the saved plan keeps the targets it was made with');
    engine = await resolveLazy(options.engine);
    const file = saved.readSavedPlan(options.plan, engine.planKey());
    work = file.stacks.filter((x) => !stacks.length || stacks.includes(x.plan.stack)).map((x) => ({ plan: x.plan, saved: x }));
  } else {
    const r = await synthesis!;
    engine = r.engine;
    early = r.early;
    work = r.plans.map((plan) => ({ plan }));
  }
  const { driver } = engine;
  const results: ApplyResult[] = [];
  for (const { plan, saved: fromFile } of work) {
    // An apply that finds nothing to change is a diff, and a diff takes no lock: on Docker the
    // lock is a container made and removed (a third of a no-op's engine calls). When there is
    // something to change, the lock is taken and the stack observed again under it — what was
    // seen before may have changed meanwhile.
    if (!fromFile) {
      const earlier = early.get(plan.stack);
      early.delete(plan.stack); // not kept alive through the apply
      const first = await diffOf(plan, driver, earlier);
      const d = saved.targetChanges(plan, first.diff, targets);
      if (!hasChanges(d)) {
        out.write(renderDiff(d, { color: options.color ?? false }));
        results.push({ stack: plan.stack, diff: d, outcome: 'applied', counts: { create: 0, update: 0, replace: 0, delete: 0 } });
        continue;
      }
    }
    results.push(
      await engine.stackLocked(plan.stack, async (): Promise<ApplyResult> => {
        const now = await diffOf(plan, driver);
        const observed = now.observed;
        const d = fromFile ? saved.checkSaved(fromFile, observed, now.diff, options.plan!) : saved.targetChanges(plan, now.diff, targets);
        const counts: ChangeCounts = { create: 0, update: 0, replace: 0, delete: 0 };
        out.write(renderDiff(d, { color: options.color ?? false }));
        if (!hasChanges(d)) return { stack: plan.stack, diff: d, outcome: 'applied', counts };
        if (!options.autoApprove && !fromFile) {
          if (!options.confirm) throw new InvalidArgumentError('apply needs a confirmation: run it from a terminal, or pass --auto-approve');
          if (!(await options.confirm(`Apply these changes to stack ${plan.stack}?`))) {
            out.write('Apply cancelled.\n');
            return { stack: plan.stack, diff: d, outcome: 'cancelled', counts };
          }
        }
        // On a terminal one live row per resource, redrawn in place; plain lines otherwise (CI).
        // Progress reads only `isTTY` and `write` of its stream.
        const progress = (await import('../../runtime')).images().Progress.to(out as NodeJS.WriteStream);
        const rowOf = (change: Change): string => `${change.path}${change.type === 'container' ? ` (${change.name})` : ''}`;
        await applyDiff(plan, d, observed, driver, {
          images: now.images,
          parallelism: options.parallelism ?? driver.capabilities.parallelism ?? 4,
          allowDataLoss: options.allowDataLoss,
          // A pull's layers get rows of their own under the image's row, which shows its last line.
          imageProgress: (change) => {
            const who = rowOf(change);
            return {
              line: (message) => progress.layer(who, message),
              layer: (id, status) => progress.layer(`${who} ${id}`, status),
              bytes: (id, done, total) => progress.bytes(`${who} ${id}`, done, total),
            };
          },
          onEvent: (e) => {
            const who = rowOf(e.change);
            if (e.phase === 'start') progress.layer(who, `${verb(e.change.action)}…`);
            else if (e.phase === 'progress') progress.layer(who, e.message ?? '');
            else if (e.phase === 'done') {
              if (e.change.action === 'adopt') counts.adopt = (counts.adopt ?? 0) + 1;
              else if (e.change.action !== 'no-op') counts[e.change.action]++;
              progress.layer(who, `${e.message ?? 'done'} [${((e.ms ?? 0) / 1000).toFixed(1)}s]`);
            } else progress.layer(who, `${pc.red('failed')}: ${(e.message ?? '').split('\n')[0]}`);
          },
        }).finally(() => progress.line(''));
        out.write(`Apply complete! Resources: ${counts.adopt ? `${counts.adopt} adopted, ` : ''}${counts.create} added, ${counts.update} changed, ${counts.replace} replaced, ${counts.delete} destroyed.\n`);
        out.write(await renderOutputs(plan, driver));
        return { stack: plan.stack, diff: d, outcome: 'applied', counts };
      }),
    );
  }
  return results;
}

/** Removes each stack's containers and networks (volumes only by removal policy or `volumes`), holding its lock. */
export async function destroy(options: DestroyOptions): Promise<DestroyResult[]> {
  const out = options.out ?? process.stdout;
  const synthesis = begun(synthAndEngine(options, false));
  const { destroyStack } = await import('../reconcile/apply');
  const { plans, engine } = await synthesis;
  const results: DestroyResult[] = [];
  for (const plan of plans) {
    results.push(
      await engine.stackLocked(plan.stack, async (): Promise<DestroyResult> => {
        if (!options.autoApprove) {
          if (!options.confirm) throw new InvalidArgumentError('destroy needs a confirmation: run it from a terminal, or pass --auto-approve');
          if (!(await options.confirm(`Destroy every container and network of stack ${plan.stack}${options.volumes ? ' and its volumes' : ''}?`))) {
            out.write('Destroy cancelled.\n');
            return { stack: plan.stack, outcome: 'cancelled', removed: 0, keptVolumes: [] };
          }
        }
        const r = await destroyStack(plan.stack, plan, engine.driver, { volumes: options.volumes, onEvent: (e) => out.write(`${e.kind} ${e.name}: ${e.message}\n`) });
        out.write(`\nDestroy complete! ${r.removed} removed${r.keptVolumes.length ? `, volumes kept: ${r.keptVolumes.join(', ')}` : ''}.\n`);
        return { stack: plan.stack, outcome: 'destroyed', ...r };
      }),
    );
  }
  return results;
}

function verb(action: string): string {
  return { create: 'creating', update: 'updating', replace: 'replacing', delete: 'removing', 'no-op': 'checking', adopt: 'adopting' }[action] ?? action;
}

/** The stack's outputs: each container's addresses and published ports. */
async function renderOutputs(plan: Plan, driver: Driver): Promise<string> {
  const observed = await driver.observe(plan.stack);
  if (!observed.containers.length) return '';
  const lines = ['', 'Outputs:'];
  for (const c of [...observed.containers].sort((a, b) => compareText(a.name, b.name))) {
    const ips = Object.entries(c.networks).map(([n, a]) => `${n} ${a.ipv4Address}`);
    const ports = c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`);
    lines.push(`  ${c.name}: ${c.status}${ips.length ? `, ${ips.join(', ')}` : ''}${ports.length ? `, ${ports.join(', ')}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
