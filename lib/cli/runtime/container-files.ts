import { Command } from 'commander';

/** cp, diff, export, commit, stats (being written). */
export function registerContainerFileCommands(_runtime: Command): void {}
