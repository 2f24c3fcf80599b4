/** Registry of CLI subcommands (one file each in this folder). */
import type { CommandSpec } from '../args';
import { infoCommand } from './info';
import { phantomCommand } from './phantom';

export const COMMANDS: CommandSpec[] = [
  infoCommand,
  phantomCommand,
];
