from dnnfi import runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log

import pandas as pd

from dnnfi import figures

figures.bit_sweep(pd.read_csv(snakemake.input[0]), list(snakemake.output))
