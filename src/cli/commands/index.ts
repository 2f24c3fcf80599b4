/** Registry of CLI subcommands (one file each in this folder). */
import type { CommandSpec } from '../args';
import { infoCommand } from './info';
import { phantomCommand } from './phantom';
import { datasetCommand } from './dataset';
import { demoCommand } from './demo';
import { detectCommand } from './detect';
import { trainCommand } from './train';
import { evalCommand } from './eval';
import { weightsCommand } from './weights';
import { scanCommand } from './scan';
import { exportCommand } from './export';
import { engineCommand } from './engine';
import { doctorCommand } from './doctor';

export const COMMANDS: CommandSpec[] = [
  infoCommand,
  phantomCommand,
  datasetCommand,
  demoCommand,
  detectCommand,
  trainCommand,
  evalCommand,
  weightsCommand,
  scanCommand,
  exportCommand,
  engineCommand,
  doctorCommand,
];
