import pandas as pd

from dnnfi import figures, runlog

log = runlog.start(snakemake.log[0])
figures.error_vs_frate(pd.read_csv(snakemake.input.summary), snakemake.output.error_vs_frate)
figures.replica_boxplots(pd.read_csv(snakemake.input.replicas), snakemake.output.replica_boxplots)
