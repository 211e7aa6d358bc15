from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import numpy as np
import pandas as pd

from dnnfi.analysis.aggregate import annotate_scm
from dnnfi.analysis.taxonomy import TaxonomyError, load

w = snakemake.wildcards
tables = [pd.read_parquet(p) for p in snakemake.input.shards]
# empty rounds (after a stratified campaign's target was met) hold no outcome columns
shards = pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True)
baseline = pd.read_parquet(snakemake.input.baseline)
table = shards.assign(dataset=w.dataset, model=w.model)
if snakemake.params.kind == "activation":
    with np.load(snakemake.input.data) as data:  # reads the class names only
        classes = [str(c) for c in data["classes"]]
    try:  # the taxonomy file is an input: editing it reruns this job
        taxonomy = load(snakemake.input.taxonomy, expected_classes=classes)
    except TaxonomyError as e:
        raise TaxonomyError(f"config key datasets.{w.dataset}.taxonomy: {e}") from None
    image_info = baseline[["image", "label", "golden_top1", "correct"]].rename(
        columns={"golden_top1": "baseline_top1", "correct": "initially_correct"}
    )
    table = annotate_scm(table.merge(image_info, on="image", how="left"), taxonomy)
    log.info("%d injections, outcomes: %s", len(table), table["outcome"].value_counts().to_dict())
else:
    table = table.drop(
        columns=[c for c in table if c.startswith("fault_")]
    )  # the fault lists stay in the shards
    log.info("%d replicas", len(table))
table.sort_values(table.columns[0], kind="stable").to_parquet(snakemake.output[0])
