/** Registry of CLI subcommands (one file each in this folder). */
import type { CommandSpec } from '../args';
import { infoCommand } from './info';

export const COMMANDS: CommandSpec[] = [
  infoCommand,
];
