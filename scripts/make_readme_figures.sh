#!/bin/sh
# Regenerate the README joint-exclusion figure and the validation table.
#   sh scripts/make_readme_figures.sh [OUTDIR]      (default: chains/readme)
# The first run builds the Borexino templates and fast grid (minutes; cached afterwards).
set -e
OUT="${1:-chains/readme}"
python -m globalfit.limits --config configs/limits.yaml --out "$OUT/limits" --force
python -m globalfit.validate > "$OUT/validation.txt" || status=$?
python -m globalfit.validate --json > "$OUT/validation.json" || true
cat "$OUT/validation.txt"
echo "figure: $OUT/limits/limits.png   table: $OUT/validation.txt"
exit "${status:-0}"
