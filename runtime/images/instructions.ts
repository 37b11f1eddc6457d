import * as path from 'node:path';
import { parseGoDuration } from '../../lib/core/duration';
import { InvalidArgumentError } from '../../lib/core/errors';
import { mergeEnv } from '../../lib/core/env';
import { signalName } from '../../lib/core/linux';
import type { ContainerConfig, HealthConfig } from './types';
import type { Instruction } from '../dockerfile/dockerfile';

/**
 * What the Dockerfile instructions that only change an image's config do to it: ENV, LABEL,
 * CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, SHELL, ONBUILD, HEALTHCHECK.
 * One place for the builder's steps and for `commit`/`import --change`, as Docker's dispatchers
 * serve both.
 */

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** The instructions `applyConfigInstruction` handles (what `commit`/`import --change` accept). */
export const CONFIG_INSTRUCTIONS: readonly string[] = ['CMD', 'ENTRYPOINT', 'ENV', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'STOPSIGNAL', 'SHELL', 'ONBUILD', 'HEALTHCHECK'];

export type MutableConfig = { -readonly [K in keyof ContainerConfig]: ContainerConfig[K] };

/** How an instruction's words are substituted, and how it fails (naming the file and line). */
export interface InstructionContext {
  word(text: string): string;
  words(text: string): string[];
  fail(message: string): never;
}

/**
 * Applies `ins` to `c` when it is a config instruction and returns its history text
 * (`ENV A=b`); undefined for any other instruction. `state.cmdSet` says whether CMD was set
 * earlier in the stage (ENTRYPOINT keeps Cmd then, and clears it otherwise), as Docker's.
 */
export function applyConfigInstruction(c: MutableConfig, ins: Instruction, x: InstructionContext, state: { cmdSet: boolean }): string | undefined {
  const shellOrExec = (): string[] => ins.json ?? [...(c.Shell ?? DEFAULT_SHELL), ins.args];
  const pairs = (what: string) => {
    const out: Array<[string, string]> = [];
    for (const p of ins.pairs ?? []) {
      const name = x.word(p.name);
      if (!name) x.fail(`${what} names can not be blank`);
      out.push([name, x.word(p.value ?? '')]);
    }
    return out;
  };
  switch (ins.keyword) {
    case 'ENV': {
      const set = pairs('ENV');
      c.Env = mergeEnv(c.Env ?? [], set.map(([k, v]) => `${k}=${v}`));
      return `ENV ${set.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    }
    case 'LABEL': {
      const set = pairs('LABEL');
      c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(set) };
      return `LABEL ${set.map(([k, v]) => `${k}=${v}`).join(' ')}`;
    }
    case 'CMD':
      c.Cmd = shellOrExec();
      state.cmdSet = true;
      return `CMD ${JSON.stringify(c.Cmd)}`;
    case 'ENTRYPOINT':
      c.Entrypoint = ins.json ?? (ins.args === '' ? undefined : shellOrExec());
      if (!state.cmdSet) c.Cmd = undefined;
      return `ENTRYPOINT ${JSON.stringify(c.Entrypoint ?? [])}`;
    case 'EXPOSE': {
      const ports = exposedPorts(x.words(ins.args));
      c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(ports.map((p) => [p, {}])) };
      return `EXPOSE ${ports.join(' ')}`;
    }
    case 'VOLUME': {
      const vols = (ins.json ? ins.json.map((v) => x.word(v)) : x.words(ins.args)).map((v) => v.trim());
      if (vols.length === 0 || vols.some((v) => v === '')) x.fail('VOLUME specified can not be an empty string');
      c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) };
      return `VOLUME ${JSON.stringify(vols)}`;
    }
    case 'USER':
      c.User = x.word(ins.args);
      return `USER ${c.User}`;
    case 'WORKDIR':
      c.WorkingDir = path.posix.resolve(c.WorkingDir || '/', x.word(ins.args));
      return `WORKDIR ${c.WorkingDir}`;
    case 'STOPSIGNAL': {
      const sig = x.word(ins.args);
      signalName(sig);
      c.StopSignal = sig;
      return `STOPSIGNAL ${sig}`;
    }
    case 'SHELL':
      if (!ins.json || ins.json.length === 0) x.fail('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/bash", "-c"]');
      c.Shell = ins.json;
      return `SHELL ${JSON.stringify(ins.json)}`;
    case 'ONBUILD': {
      const kw = ins.args.split(/\s+/)[0].toUpperCase();
      if (kw === 'ONBUILD') x.fail('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (kw === 'FROM' || kw === 'MAINTAINER') x.fail(`${kw} isn't allowed as an ONBUILD trigger`);
      c.OnBuild = [...(c.OnBuild ?? []), ins.args];
      return `ONBUILD ${ins.args}`;
    }
    case 'HEALTHCHECK': {
      const h = healthcheck(ins, x.fail);
      c.Healthcheck = h;
      return `HEALTHCHECK ${h.Test?.[0] === 'NONE' ? 'NONE' : JSON.stringify(h.Test)}`;
    }
    default:
      return undefined;
  }
}

/** HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD …|NONE. */
function healthcheck(ins: Instruction, fail: (message: string) => never): HealthConfig {
  const words = ins.args.split(/\s+/);
  const sub = words[0].toUpperCase();
  if (sub === 'NONE') {
    if (words.length > 1 || Object.keys(ins.flags).length) fail('HEALTHCHECK NONE takes no arguments or options');
    return { Test: ['NONE'] };
  }
  if (sub !== 'CMD') fail(`unknown type "${words[0]}" in HEALTHCHECK (try CMD or NONE)`);
  const rest = ins.args.slice(words[0].length).trim();
  if (!rest) fail('HEALTHCHECK CMD requires a command');
  let json: string[] | undefined;
  if (rest.startsWith('[')) {
    try {
      const v = JSON.parse(rest) as unknown;
      if (Array.isArray(v) && v.every((s) => typeof s === 'string')) json = v as string[];
    } catch {
      // the shell form
    }
  }
  const duration = (name: string) => {
    const v = ins.flags[name];
    if (v === undefined) return undefined;
    const ns = parseGoDuration(v);
    if (ns !== 0 && ns < 1e6) fail(`--${name} cannot be less than 1ms`);
    return ns;
  };
  const retries = ins.flags.retries !== undefined ? Number(ins.flags.retries) : undefined;
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0)) fail(`--retries must be a non-negative integer, got "${ins.flags.retries}"`);
  const interval = duration('interval');
  const timeout = duration('timeout');
  const startPeriod = duration('start-period');
  return {
    Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest],
    ...(interval !== undefined ? { Interval: interval } : {}),
    ...(timeout !== undefined ? { Timeout: timeout } : {}),
    ...(startPeriod !== undefined ? { StartPeriod: startPeriod } : {}),
    ...(retries !== undefined ? { Retries: retries } : {}),
  };
}

/** EXPOSE's ports as `port/proto` keys (ranges expanded). */
export function exposedPorts(words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw new InvalidArgumentError(`invalid port "${w}": expected PORT[/PROTO] or FIRST-LAST[/PROTO]`);
    const proto = (m[3] ?? 'tcp').toLowerCase();
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (to < from || to > 65535) throw new InvalidArgumentError(`invalid port range "${w}"`);
    for (let p = from; p <= to; p++) out.push(`${p}/${proto}`);
  }
  return out;
}
