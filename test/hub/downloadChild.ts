/** Child process of the resume test: downloads a repo (argv: endpoint, cacheDir, repo) and is killed mid-body. */
import { ensureRepoFiles } from '../../src/engine/hub/download';

const [endpoint, cacheDir, repo] = process.argv.slice(2);
ensureRepoFiles(repo, 'main', ['config.json', 'model.safetensors'], { env: {}, endpoint, cacheDir, allowDownload: true })
  .then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).message}\n`); process.exit(1); });
