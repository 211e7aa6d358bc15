from dnnfi import runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log

from pathlib import Path

import pandas as pd

from dnnfi.sweep_campaign import published, sweep_table

injections = pd.concat([pd.read_parquet(p) for p in snakemake.input.injections], ignore_index=True)
confidence = snakemake.params.confidence
table = sweep_table(injections, confidence)
table.to_csv(snakemake.output.table, index=False)
bits = snakemake.params.bits
caption = (f"Bit-sweep campaign {snakemake.wildcards.campaign}: every sampled point (image, site, element) "
           f"evaluated at {'bits ' + str(sorted(set(bits))) if bits else 'every bit of its format'}. Per bit, the "
           f"points are independent (Wilson intervals at {100 * confidence:g}%, n = points); the `all` rows are the "
           "bit-uniform rates (mean over points of the share of the point's bits with the event) with clustered "
           "intervals (Wilson at the Kish effective sample size; docs/semantics.md, section 16).")
Path(snakemake.output.markdown).write_text(f"{caption}\n\n{published(table).to_markdown(index=False)}\n")
log.info("bit sweep:\n%s", table[table["bit"] == "all"].to_string())
