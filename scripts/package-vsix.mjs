// npm run package [-- --target T[,T…]|all]: builds, then packs one .vsix per target with
// @vscode/vsce (default linux-x64; `all` = darwin-arm64, linux-x64, linux-arm64, win32-x64,
// win32-arm64 — every platform onnxruntime-node 1.30 ships a binding for).
//
// dist/extension.js and dist/cli.js keep onnxruntime-node external (a native addon cannot be
// bundled), so the package must carry it. `vsce --no-dependencies` never packs node_modules/,
// so the runtime goes into a staging folder at dist/node_modules/: Node resolves
// require('onnxruntime-node') from dist/*.js there first. Only the target's own binding is
// copied (the npm package carries ~290 MB for five platforms), and the development tree is
// left untouched (a dist/node_modules in the repo would shadow the full install).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The platforms onnxruntime-node 1.30 has a binding for, and the binding's files the package
 * must carry (`skip`: files the binding never loads — darwin's libonnxruntime.1.30.0.dylib is
 * a 44 MB copy of libonnxruntime.1.dylib, the only name the binding and the library refer to).
 */
export const TARGETS = {
  'darwin-arm64': {
    platform: 'darwin',
    arch: 'arm64',
    files: ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'],
    skip: ['libonnxruntime.1.30.0.dylib'],
  },
  'linux-x64': { platform: 'linux', arch: 'x64', files: ['onnxruntime_binding.node', 'libonnxruntime.so.1'], skip: [] },
  'linux-arm64': { platform: 'linux', arch: 'arm64', files: ['onnxruntime_binding.node', 'libonnxruntime.so.1'], skip: [] },
  'win32-x64': {
    platform: 'win32',
    arch: 'x64',
    files: ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll', 'dxcompiler.dll', 'dxil.dll'],
    skip: [],
  },
  'win32-arm64': {
    platform: 'win32',
    arch: 'arm64',
    files: ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll', 'dxcompiler.dll', 'dxil.dll'],
    skip: [],
  },
};
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
let TARGET;
let stage;
let vsixPath;

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** Copies src into dest keeping only files `keep(relativePath)` accepts. */
function copyFiltered(src, dest, keep) {
  cpSync(src, dest, {
    recursive: true,
    filter: (p) => statSync(p).isDirectory() || keep(relative(src, p).split('\\').join('/')),
  });
}

function stageExtension() {
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  // The extension's own files; .vscodeignore then trims them (source maps etc.).
  for (const f of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(stage, f));
  }
  for (const d of ['dist', 'schemas', 'models', 'media']) {
    if (existsSync(join(root, d))) cpSync(join(root, d), join(stage, d), { recursive: true });
  }
  const nm = join(stage, 'dist', 'node_modules');
  const binding = `bin/napi-v6/${TARGET.platform}/${TARGET.arch}/`;
  copyFiltered(
    join(root, 'node_modules', 'onnxruntime-node'),
    join(nm, 'onnxruntime-node'),
    (p) =>
      p === 'package.json' ||
      p === 'LICENSE' ||
      (p.startsWith('dist/') && (p.endsWith('.js') || p.endsWith('/package.json'))) ||
      (p.startsWith(binding) && !TARGET.skip.includes(p.slice(binding.length))),
  );
  copyFiltered(
    join(root, 'node_modules', 'onnxruntime-common'),
    join(nm, 'onnxruntime-common'),
    (p) => p === 'package.json' || p === 'LICENSE' || (p.startsWith('dist/cjs/') && (p.endsWith('.js') || p.endsWith('/package.json'))),
  );
}

/** Proves the trimmed runtime loads from where dist/*.js will look for it. */
function checkRuntimeResolves() {
  const req = createRequire(join(stage, 'dist', 'extension.js'));
  const resolved = req.resolve('onnxruntime-node');
  if (!resolved.startsWith(join(stage, 'dist', 'node_modules')))
    throw new Error(`onnxruntime-node resolved outside the package: ${resolved}`);
  if (process.platform === TARGET.platform && process.arch === TARGET.arch) {
    const ort = req('onnxruntime-node');
    if (typeof ort.InferenceSession?.create !== 'function') throw new Error('staged onnxruntime-node has no InferenceSession');
  }
}

/** Entry names and sizes from a zip's central directory (enough to audit what was packed). */
function zipEntries(file) {
  const buf = readFileSync(file);
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    entries.push({ name: buf.toString('utf8', p + 46, p + 46 + nameLen), size, compressed });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function auditVsix(file) {
  const entries = zipEntries(file);
  const names = new Set(entries.map((e) => e.name));
  const required = [
    'extension/package.json',
    'extension/dist/extension.js',
    'extension/dist/webview.js',
    'extension/dist/cli.js',
    'extension/dist/prepWorker.js',
    'extension/dist/labelFileWorker.js',
    'extension/dist/node_modules/onnxruntime-node/dist/index.js',
    ...TARGET.files.map((f) => `extension/dist/node_modules/onnxruntime-node/bin/napi-v6/${TARGET.platform}/${TARGET.arch}/${f}`),
    'extension/dist/node_modules/onnxruntime-common/dist/cjs/index.js',
  ];
  const missing = required.filter((n) => !names.has(n));
  const forbidden = [...names].filter(
    (n) =>
      /^extension\/(src|test|bench|scripts|\.tmp|test-artifacts|\.e2e)\//.test(n) ||
      (n.includes('/bin/napi-v6/') && !n.includes(`/bin/napi-v6/${TARGET.platform}/${TARGET.arch}/`)),
  );
  if (missing.length || forbidden.length) {
    throw new Error(`${file}: missing [${missing.join(', ')}], must not contain [${forbidden.join(', ')}]`);
  }
  // Summary: bytes per top-level group inside the extension folder.
  const groups = new Map();
  for (const e of entries) {
    const parts = e.name.split('/');
    const key =
      parts[0] !== 'extension'
        ? parts[0]
        : parts[1] === 'dist' && parts[2] === 'node_modules'
          ? `dist/node_modules/${parts[3]}`
          : parts.length > 2
            ? `${parts[1]}/`
            : parts[1];
    const g = groups.get(key) ?? { files: 0, size: 0, compressed: 0 };
    g.files++;
    g.size += e.size;
    g.compressed += e.compressed;
    groups.set(key, g);
  }
  const mb = (n) => (n / 1048576).toFixed(2).padStart(7) + ' MB';
  console.log(`\n${relative(root, file)}: ${mb(statSync(file).size)}, ${entries.length} files`);
  for (const [k, g] of [...groups].sort((a, b) => b[1].compressed - a[1].compressed)) {
    console.log(`  ${k.padEnd(40)} ${String(g.files).padStart(4)} files ${mb(g.size)} unpacked ${mb(g.compressed)} packed`);
  }
}

/** `--target a,b` / `--target all` (default linux-x64). */
function targetsFromArgs(argv) {
  const i = argv.indexOf('--target');
  const raw = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--target='))?.slice('--target='.length);
  const names = !raw ? ['linux-x64'] : raw === 'all' ? Object.keys(TARGETS) : raw.split(',');
  const unknown = names.filter((n) => !(n in TARGETS));
  if (unknown.length) throw new Error(`unknown --target ${unknown.join(', ')} (known: ${Object.keys(TARGETS).join(', ')}, all)`);
  return names;
}

export { zipEntries };

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const targets = targetsFromArgs(argv);
  // --out-dir DIR: where the .vsix files go (default: the repo root).
  const outDir = argv.includes('--out-dir') ? resolve(argv[argv.indexOf('--out-dir') + 1]) : root;
  mkdirSync(outDir, { recursive: true });
  // --no-build: package the dist/ that is there (the package test, so that it does not rewrite
  // dist/ while another test loads it).
  if (!argv.includes('--no-build') || !existsSync(join(root, 'dist', 'extension.js'))) run(process.execPath, ['esbuild.mjs'], root);
  const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  for (const name of targets) {
    TARGET = { vsce: name, ...TARGETS[name] };
    // Per process: a test and `npm run package` may stage at the same time.
    stage = join(root, '.tmp', `vsix-stage-${name}-${process.pid}`);
    vsixPath = join(outDir, `${manifest.name}-${name}-${manifest.version}.vsix`);
    stageExtension();
    checkRuntimeResolves();
    run(
      process.execPath,
      [vsce, 'package', '--target', TARGET.vsce, '--allow-missing-repository', '--no-dependencies', '--skip-license', '--out', vsixPath],
      stage,
    );
    auditVsix(vsixPath);
    rmSync(stage, { recursive: true, force: true });
  }
}
