from dnnfi import runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log

from pathlib import Path

import pandas as pd

from dnnfi.datasets import spread_indices
from dnnfi.stratified_campaign import published, stratified_table

spec = snakemake.params.campaign
injections = pd.concat([pd.read_parquet(p) for p in snakemake.input.injections], ignore_index=True)
strata = {tuple(p.split("/")[-5:-2]): pd.read_parquet(p) for p in snakemake.input.strata}
correct = {}  # per (data set, model): the fault-free correctness of the campaign's images
for path in snakemake.input.baselines:
    baseline = pd.read_parquet(path)["correct"].to_numpy()
    correct[path.split("/")[-2], path.split("/")[-1][: -len(".parquet")]] = baseline[
        spread_indices(len(baseline), spec["images"])]
table = stratified_table(injections, strata, spec, correct)
table.to_csv(snakemake.output.table, index=False)
caption = (f"Stratified campaign {spec['campaign']} ({spec['stratified']['strata']} strata, weighted estimates; "
           f"target: {spec['stratified']['target']} to ±{100 * spec['margin']:g} points). Each row estimates the rates "
           "over its population: the column Images, the initially correct or misclassified ones among the campaign's "
           "images; the intervals do not include the variation from choosing those images. Injections include the "
           "pilot, which enters no estimate. The unweighted tables are not produced for a stratified campaign.")
Path(snakemake.output.markdown).write_text(f"{caption}\n\n{published(table).to_markdown(index=False)}\n")
log.info("stratified:\n%s", table.to_string())
