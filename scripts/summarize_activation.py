import pandas as pd

from dnnfi import aggregate, runlog
from dnnfi.taxonomy import load

log = runlog.start(snakemake.log[0])
out = snakemake.output
injections = pd.concat([pd.read_parquet(p) for p in snakemake.input.injections], ignore_index=True)
baselines = pd.concat(
    [pd.read_parquet(p).assign(dataset=p.split("/")[-2], model=p.split("/")[-1][: -len(".parquet")])
     for p in snakemake.input.baselines],
    ignore_index=True,
)
taxonomies = {d: load(t) for d, t in snakemake.params.taxonomies.items()}
scm = aggregate.scm_table(injections, baselines, taxonomies)
summary = aggregate.activation_summary(injections, baselines, scm)
summary.to_csv(out.summary, index=False)
summary.to_markdown(out.markdown, index=False, floatfmt=".4f")
aggregate.outcome_table(injections, ["dataset", "model", "layer_index", "site"]).to_csv(out.by_layer, index=False)
aggregate.outcome_table(injections, ["dataset", "model", "bit"]).to_csv(out.by_bit, index=False)
scm.to_csv(out.scm, index=False)
log.info("summary:\n%s", summary.to_string())
