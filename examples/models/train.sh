#!/bin/sh
# Retrains the model files of this directory and the built-in ones from
# ../shared/data (run from the repository root; a few minutes on 2 cores).
# All use 2^16 hash buckets (as good as 2^18 here, and a quarter of the
# memory) and drop weights below 0.005 (a smaller file, the same APGR).
# The choices are explained in README.md here and measured in
# internal/learn/QUALITY.md.
set -e
SEXTANT=${SEXTANT:-go run ./cmd/sextant}
D=${DATA:-../shared/data}
# GSM8K and MMLU are judged correct or not: one P(correct) head per model,
# predictions are win rates against the other model.
$SEXTANT train --kind winrate --data $D/gsm8k.jsonl --out examples/models/gsm8k.winrate.json \
  --label correct --output win_rate --numeric=false --bits 16 --l2 0.003 --prune 0.005
$SEXTANT train --kind winrate --data $D/mmlu.jsonl --out examples/models/mmlu.winrate.json \
  --label correct --output win_rate --numeric=false --category-mix 0.5 --bits 16 --l2 0.001 --prune 0.005
# MT Bench is scored: a model is good when it scored as well as the best.
$SEXTANT train --kind winrate --data $D/mt_bench.jsonl --out examples/models/mt_bench.winrate.json \
  --numeric=false --bits 16 --l2 0.003 --prune 0.005
# Classifiers: the class is the cheapest model as good as the best.
for d in gsm8k mmlu mt_bench; do
  $SEXTANT train --kind classifier --data $D/$d.jsonl --out examples/models/$d.classifier.json --numeric=false --bits 16 --l2 0.003 --prune 0.005
done
# Learned gates (cascade): P(Mixtral's answer is acceptable, i.e. as good as
# the best recorded one), from Mixtral's recorded answers. MT Bench's 56
# records are too few alone: GSM8K's answers join them, each target blended
# with its category's rate.
$SEXTANT train --kind gate --data $D/gsm8k.jsonl --out examples/models/gsm8k.gate.json
$SEXTANT train --kind gate --data $D/mt_bench.jsonl --data $D/gsm8k.jsonl --category-mix 0.5 \
  --out examples/models/mt_bench.gate.json
# Built in (builtin:winrate, builtin:classifier): all three data sets,
# smaller (no per-data-set settings).
$SEXTANT train --kind winrate --data $D/gsm8k.jsonl --data $D/mmlu.jsonl --data $D/mt_bench.jsonl \
  --out internal/learn/builtin/winrate.json --bits 16 --l2 0.001 --prune 0.005
$SEXTANT train --kind classifier --data $D/gsm8k.jsonl --data $D/mmlu.jsonl --data $D/mt_bench.jsonl \
  --out internal/learn/builtin/classifier.json --bits 16 --l2 0.001 --prune 0.005
$SEXTANT train --kind gate --data $D/gsm8k.jsonl --data $D/mt_bench.jsonl --category-mix 0.5 \
  --out internal/learn/builtin/gate.json --bits 16 --prune 0.005
