/**
 * What a CLI command needs from the outside world, passed in so that commands can be run in-process by tests.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import {
  configPath,
  loadInventory,
  selectCluster,
  type Inventory,
  type SelectedCluster,
} from '../config/index.js';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Colour and tables for a person at a terminal. */
  isTTY: boolean;
}

export interface GlobalOptions {
  config?: string;
  cluster?: string;
  json?: boolean;
}

export interface CliContext {
  io: CliIo;
  /** Set by a command's action; main() returns it. */
  exitCode: number;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function loadSelected(
  cmd: Command,
  io: CliIo,
): { inventory: Inventory; file: string; cluster: SelectedCluster } {
  const g = globalOptions(cmd);
  const file = configPath(g.config, io.env, io.cwd);
  const inventory = loadInventory(file);
  return { inventory, file, cluster: selectCluster(inventory, g.cluster) };
}

export function useColor(io: CliIo): boolean {
  return io.isTTY && io.env.NO_COLOR === undefined;
}

/** Who runs the CLI: $USER, else $LOGNAME, else the OS account (for roles and the audit log). */
export function cliUser(io: CliIo): string {
  const fromEnv = io.env.USER ?? io.env.LOGNAME;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
