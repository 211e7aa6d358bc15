from pathlib import Path

import pandas as pd

from dnnfi import runlog
from dnnfi.stratified_campaign import published, stratified_table

log = runlog.start(snakemake.log[0])
spec = snakemake.params.campaign
injections = pd.concat([pd.read_parquet(p) for p in snakemake.input.injections], ignore_index=True)
strata = {tuple(p.split("/")[-5:-2]): pd.read_parquet(p) for p in snakemake.input.strata}
table = stratified_table(injections, strata, spec)
table.to_csv(snakemake.output.table, index=False)
caption = (f"Stratified campaign {spec['campaign']} ({spec['stratified']['strata']} strata, weighted estimates; "
           f"target: {spec['stratified']['target']} to ±{100 * spec['margin']:g} points). Injections include the "
           "pilot, which enters no estimate. The unweighted tables are not produced for a stratified campaign.")
Path(snakemake.output.markdown).write_text(f"{caption}\n\n{published(table).to_markdown(index=False)}\n")
log.info("stratified:\n%s", table.to_string())
