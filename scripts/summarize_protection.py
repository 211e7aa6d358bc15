from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import pandas as pd

from dnnfi.analysis.paired import protection_table

inp = snakemake.input


def read(paths, labels=None):
    # the fault-free tables carry no model column: their labels are added
    return pd.concat(
        [
            pd.read_parquet(p).assign(**label)
            for p, label in zip(paths, labels or [{}] * len(paths), strict=True)
        ],
        ignore_index=True,
    )


table = protection_table(
    read(inp.protected),
    read(inp.unprotected),
    read(inp.fault_free, snakemake.params.labels),
    snakemake.params.confidence,
)
table.insert(2, "protection", snakemake.params.protection)
table.to_csv(snakemake.output[0], index=False)
log.info("protection table:\n%s", table.to_string())
