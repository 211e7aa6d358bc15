from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

from pathlib import Path

import pandas as pd

from dnnfi.analysis import aggregate

replicas = pd.concat([pd.read_parquet(p) for p in snakemake.input.injections], ignore_index=True)
fault_free = []
inputs = snakemake.input
for path, images, label in zip(
    inputs.baselines, inputs.evaluated, snakemake.params.labels, strict=True
):
    base = pd.read_parquet(path).iloc[pd.read_parquet(images)["image"]]  # the replicas' images
    fault_free.append(
        dict(
            **label,
            frate=0.0,
            perturbation="none",
            replica=0,
            n_faults=0,
            top1_error=1 - base["correct"].mean(),
            top5_error=1 - base["top5_correct"].mean(),
        )
    )
replicas = pd.concat([pd.DataFrame(fault_free), replicas], ignore_index=True)
replicas["pass_rows"] = replicas["pass_rows"].astype(
    "Int64"
)  # empty for the fault-free rows (the baselines')
replicas.to_csv(snakemake.output.replicas, index=False)
summary = aggregate.weight_summary(replicas)
summary.to_csv(snakemake.output.summary, index=False)
Path(snakemake.output.markdown).write_text(
    aggregate.published_weight(summary).to_markdown(index=False) + "\n"
)
log.info("summary:\n%s", summary.to_string())
