from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

from pathlib import Path

import pandas as pd

from dnnfi.analysis import aggregate
from dnnfi.analysis.taxonomy import load

out, params = snakemake.output, snakemake.params
injections = pd.concat([pd.read_parquet(p) for p in snakemake.input.injections], ignore_index=True)
baselines = pd.concat(
    [
        pd.read_parquet(p).assign(**label)
        for p, label in zip(snakemake.input.baselines, params.labels, strict=True)
    ],
    ignore_index=True,
)
taxonomies = {d: load(t) for d, t in zip(params.datasets, snakemake.input.taxonomies, strict=True)}
scm = aggregate.scm_table(injections, baselines, taxonomies, params.confidence)
summary = aggregate.activation_summary(injections, baselines, scm, params.confidence, params.margin)
summary.to_csv(out.summary, index=False)
Path(out.markdown).write_text(
    aggregate.published_activation(summary).to_markdown(index=False) + "\n"
)
scm.to_csv(out.scm, index=False)
keys = ["dataset", "model", "fault_model"]
tables = {
    "outcomes": keys + ["scenario"],
    "by_layer": keys + ["layer_index", "site"],
    "by_bit": keys + ["bit"],
}
for name, by in tables.items():
    aggregate.outcome_table(injections, by, params.confidence).to_csv(out[name], index=False)
log.info("summary:\n%s", summary.to_string())
