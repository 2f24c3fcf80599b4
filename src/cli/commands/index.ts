/** Registry of CLI subcommands (one file each in this folder). */
import type { CommandSpec } from '../args';

export const COMMANDS: CommandSpec[] = [];
