import pandas as pd

from dnnfi import figures, runlog

log = runlog.start(snakemake.log[0])
figures.stratified(pd.read_csv(snakemake.input[0]), list(snakemake.output))
