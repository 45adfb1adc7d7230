#!/bin/sh
# Regenerate the README figures, the data they are drawn from, and the validation table:
#   docs/figures/joint_exclusion.png       (globalfit limits --config configs/limits.yaml)
#   docs/figures/joint_exclusion_data.csv  (the curves of that figure; tests/test_limits_readme.py
#                                           recomputes some of its points)
#   docs/figures/exclusion_m_eps.png, exclusion_m_mu.png (the 2-D exclusions, docs/limits.md)
#   docs/figures/xenonnt_borexino_limits.png (python -m likelihoods.xenonnt.report)
#   docs/figures/borexino_spectrum_fit.png (python -m likelihoods.borexino.report)
#   sh scripts/make_readme_figures.sh [OUTDIR] [limits]   (default: chains/readme; "limits":
#                                                           only the limits part)
# The first run builds the Borexino and XENONnT templates and fast grids (cached afterwards).
set -e
OUT="${1:-chains/readme}"
python -m globalfit.limits --config configs/limits.yaml --out "$OUT/limits" --force
cp "$OUT/limits/limits.png" docs/figures/joint_exclusion.png
cp "$OUT/limits/limits_figure.csv" docs/figures/joint_exclusion_data.csv
cp "$OUT/limits/exclusion_m_eps.png" "$OUT/limits/exclusion_m_mu.png" docs/figures/
echo "figures: docs/figures/joint_exclusion.png (data: docs/figures/joint_exclusion_data.csv)" \
     "docs/figures/exclusion_m_eps.png docs/figures/exclusion_m_mu.png"
if [ "${2:-}" = "limits" ]; then
    exit 0
fi
python -m likelihoods.xenonnt.report --out "$OUT/xenonnt"
cp "$OUT/xenonnt/limits_vs_mass.png" docs/figures/xenonnt_borexino_limits.png
python -m likelihoods.borexino.report --out "$OUT/borexino"
cp "$OUT/borexino/spectrum_fit.png" docs/figures/borexino_spectrum_fit.png
python -m globalfit.validate > "$OUT/validation.txt" || status=$?
python -m globalfit.validate --json > "$OUT/validation.json" || true
cat "$OUT/validation.txt"
echo "figures: docs/figures/xenonnt_borexino_limits.png docs/figures/borexino_spectrum_fit.png"
echo "table: $OUT/validation.txt"
exit "${status:-0}"
