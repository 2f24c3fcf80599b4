#!/usr/bin/env bash
# Rebuilds models/default, the small bundle the extension ships so Detect works on a fresh
# install: the project's own pipeline (anyad demo: phantom cohort → train tiny-cpu with a
# seeded random-init encoder → evaluate) and a model card with its measured metrics.
# Usage: scripts/make-default-model.sh [CASES] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-20}
steps=${2:-400}
work=.tmp/default-model
rm -rf "$work"
node esbuild.mjs >/dev/null
node dist/cli.js demo --out "$work" --cases "$cases" --seed 7 --steps "$steps" --provider cpu
bundle=$(ls -d "$work"/anyad-out/model-* | tail -n 1)
rm -rf models/default
mkdir -p models/default
cp "$bundle"/model.onnx "$bundle"/head.safetensors "$bundle"/anyad.json "$bundle"/report.md "$bundle"/report.json "$bundle"/*.svg models/default/
# The shipped copies name the cohort relative to the work folder, not this machine's paths.
sed -i "s#$(pwd)/$work/##g" models/default/report.md models/default/report.json
{
  echo "# Default AnyAD model (synthetic phantoms, random-init encoder)"
  echo
  echo "Shipped so that **AnyAD: Detect anomalies** works on a fresh install. It is a demonstration"
  echo "model, not a clinical one:"
  echo
  echo "- trained by this project's own pipeline (\`scripts/make-default-model.sh\`: \`anyad demo --cases $cases --seed 7 --steps $steps\`)"
  echo "  on synthetic BraTS-layout phantoms, never on patient data;"
  echo "- preset \`tiny-cpu\` (ViT, 64 wide, 10 blocks, 112 px input from a 128 px resize);"
  echo "- **the encoder is a seeded RANDOM-INIT ViT, not pretrained DINOv2**: its features carry no"
  echo "  learned meaning, so expect modest accuracy even on phantoms and none to speak of on real MRI;"
  echo "- step selection and thresholds (per modality subset, the 0.99 quantile of normal slices' scores)"
  echo "  on a validation split of the training cases; the test split was scored once, afterwards."
  echo
  echo "Train on your own cohort (**AnyAD: Train on workspace**) with DINOv2 weights for real use."
  echo
  echo "## Test metrics on held-out phantom cases (from report.md)"
  echo
  echo "Next to the model: a non-learned intensity baseline on the same slices, and 95 % bootstrap"
  echo "intervals over cases. Where the baseline row is as good, the model adds nothing."
  echo
  # The report's results section (model and baseline tables, intervals), up to its figures.
  sed -n '/^## Results/,/^## Curves/p' "$bundle"/report.md | sed '1d;$d' | sed 's/^###/####/'

} > models/default/MODEL_CARD.md
du -sh models/default
