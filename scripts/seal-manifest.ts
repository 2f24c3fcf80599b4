/**
 * Adds (or refreshes) the manifestSha256 of a bundle's anyad.json written before manifests
 * carried one, e.g. the shipped models/default. Only for manifests you trust: it makes the
 * current content the reference that later edits are checked against.
 * Usage: node --import tsx scripts/seal-manifest.ts models/default/anyad.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { manifestChecksum } from '../src/engine/model/bundle';

for (const path of process.argv.slice(2)) {
  const m = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete m.manifestSha256;
  m.manifestSha256 = manifestChecksum(m);
  writeFileSync(path, JSON.stringify(m, null, 2) + '\n');
  process.stdout.write(`${path}: manifestSha256 ${m.manifestSha256 as string}\n`);
}
