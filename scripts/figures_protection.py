from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import pandas as pd

from dnnfi.analysis import figures

figures.protection(pd.read_csv(snakemake.input[0]), list(snakemake.output))
