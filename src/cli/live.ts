import { Command } from 'commander';
export function registerLiveVerbs(_program: Command): void {}
