from dnnfi import runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log

import pandas as pd

from dnnfi.paired import protection_table

inp = snakemake.input


def read(paths, with_names=False):
    # .../<dataset>/<model>/<file>: the fault-free tables carry no model column
    return pd.concat([pd.read_parquet(p).assign(**({"dataset": p.split("/")[-3], "model": p.split("/")[-2]}
                                                    if with_names else {})) for p in paths], ignore_index=True)


table = protection_table(read(inp.protected), read(inp.unprotected), read(inp.fault_free, True),
                         snakemake.params.confidence)
table.insert(2, "protection", snakemake.params.protection)
table.to_csv(snakemake.output[0], index=False)
log.info("protection table:\n%s", table.to_string())
