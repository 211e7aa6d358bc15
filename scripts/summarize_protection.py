from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import pandas as pd

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
spec = snakemake.config["campaigns"][snakemake.wildcards.campaign]
design = designs.of(spec)
inp, params = snakemake.input, snakemake.params


def read(paths, labels=None):
    # the fault-free tables carry no model column: their labels are added
    return pd.concat(
        [
            pd.read_parquet(p).assign(**label)
            for p, label in zip(paths, labels or [{}] * len(paths), strict=True)
        ],
        ignore_index=True,
    )


strata = {
    (label["dataset"], label["model"], label["population"]): pd.read_parquet(path)
    for path, label in zip(inp.strata, params.strata_labels, strict=True)
}
table = design.protection_table(
    read(inp.protected),
    read(inp.unprotected),
    read(inp.fault_free, params.labels),
    strata,
    spec
    | {
        "seed": params.seed,
        "campaign": snakemake.wildcards.campaign,
        "confidence": params.confidence,
    },
)
table.insert(2, "protection", params.protection)
table.to_csv(snakemake.output[0], index=False)
log.info("protection table:\n%s", table.to_string())
