// Bundles the entry points: extension host (CJS, vscode external), webview (browser IIFE), CLI (CJS, node), detect's preprocessing worker.
import * as esbuild from 'esbuild';
import { chmodSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'info', target: 'es2022' };

const builds = [
  {
    ...common,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    external: ['vscode', 'onnxruntime-node'],
  },
  // Minified, and without the zarr codecs NiiVue's OME-Zarr support pulls in (WebAssembly, 1.3 MB;
  // see src/webview/noZarrCodec.ts): parse time is part of opening a volume.
  {
    ...common,
    entryPoints: ['src/webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    minify: true,
    alias: Object.fromEntries(['numcodecs/blosc', 'numcodecs/lz4', 'numcodecs/zstd'].map((m) => [m, './src/webview/noZarrCodec.ts'])),
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    external: ['onnxruntime-node'],
    banner: { js: '#!/usr/bin/env node' },
  },
  // The whole-volume detect's preprocessing worker, started by dist/cli.js (engine/detect/prepPool.ts).
  { ...common, entryPoints: ['src/engine/detect/prepWorker.ts'], outfile: 'dist/prepWorker.js', platform: 'node', format: 'cjs' },
  // The viewer's annotation file reads and writes, off the extension host's thread (extension/model/labelFiles.ts).
  {
    ...common,
    entryPoints: ['src/extension/model/labelFileWorker.ts'],
    outfile: 'dist/labelFileWorker.js',
    platform: 'node',
    format: 'cjs',
  },
];

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync('dist/cli.js', 0o755);
}
