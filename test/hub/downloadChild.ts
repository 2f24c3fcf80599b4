/** Child process of the resume and proxy tests: downloads a repo (argv: endpoint, cacheDir, repo) with the environment it was given. */
import { ensureRepoFiles } from '../../src/engine/hub/download';

const [endpoint, cacheDir, repo] = process.argv.slice(2);
ensureRepoFiles(repo, 'main', ['config.json', 'model.safetensors'], { env: process.env, endpoint, cacheDir, allowDownload: true }).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  },
);
