#!/usr/bin/env bash
# One lane of the quality grid for one dataset, in priority order (each row cached; re-run to resume).
# Usage: benchmarks/run_lane.sh mni|cells [extra quality.py args, e.g. --epochs 20]
set -u
cd "$(dirname "$0")/.."
D=$1; shift
Q=".venv/bin/python benchmarks/quality.py --datasets $D --threads 1 $*"
$Q --noise mixed:0.5 mixed:0.8 --methods jcas ce --seeds 0 1 2 --schedule 1       # (a) headline
$Q --noise mixed:0.5 mixed:0.8 --methods jcas ce --seeds 0 1 2 --schedule 3       # (b) 3x the schedule
$Q --noise ellipse:0.5 symmetric:0.3 --methods jcas ce --seeds 0 --schedule 1     # (c) other noise
$Q --noise mixed:0.5 mixed:0.8 --methods fc clean cleanlab --seeds 0 --schedule 1 # (d) baselines
if [ "$D" = mni ]; then
  $Q --noise mixed:0.5 --methods jcas_dar --seeds 0 1 2 --schedule 1 3            # (e) DAR at 1x and 3x
  $Q --noise mixed:0.5 --methods +dar +aff_local +aff_global --seeds 0 1          # (e) ablation
fi
$Q --noise ellipse:0.5 symmetric:0.3 --methods jcas ce --seeds 1 2 --schedule 1   # (c) more seeds
$Q --noise ellipse:0.5 symmetric:0.3 mixed:0.8 --methods fc cleanlab clean --seeds 0 # (d) baselines, other noise
$Q --noise mixed:0.5 mixed:0.8 --methods fc cleanlab clean --seeds 1 2             # (d) baselines, more seeds
if [ "$D" = mni ]; then                                                             # (f) extended grid
  $Q --noise dilate:0.5 erode:0.5 affine:0.5 polygon:0.5 --methods jcas ce --seeds 0 1 2
  $Q --noise dilate:0.5 erode:0.5 affine:0.5 polygon:0.5 --methods clean --seeds 0
fi
