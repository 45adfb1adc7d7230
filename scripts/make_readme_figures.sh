#!/bin/sh
# Regenerate the README figures and the validation table:
#   docs/figures/joint_exclusion.png      (globalfit limits --config configs/limits.yaml)
#   docs/figures/xenonnt_borexino_limits.png (python -m likelihoods.xenonnt.report)
#   sh scripts/make_readme_figures.sh [OUTDIR]      (default: chains/readme)
# The first run builds the Borexino and XENONnT templates and fast grids (cached afterwards).
set -e
OUT="${1:-chains/readme}"
python -m globalfit.limits --config configs/limits.yaml --out "$OUT/limits" --force
cp "$OUT/limits/limits.png" docs/figures/joint_exclusion.png
python -m likelihoods.xenonnt.report --out "$OUT/xenonnt"
cp "$OUT/xenonnt/limits_vs_mass.png" docs/figures/xenonnt_borexino_limits.png
python -m globalfit.validate > "$OUT/validation.txt" || status=$?
python -m globalfit.validate --json > "$OUT/validation.json" || true
cat "$OUT/validation.txt"
echo "figures: docs/figures/joint_exclusion.png docs/figures/xenonnt_borexino_limits.png"
echo "table: $OUT/validation.txt"
exit "${status:-0}"
