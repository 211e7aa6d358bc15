from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import pandas as pd

from dnnfi.analysis import figures

inp, out = snakemake.input, snakemake.output


def paths(name):
    return [out[name], out[f"{name}_pdf"]]


figures.error_vs_frate(pd.read_csv(inp.summary), paths("error_vs_frate"))
figures.replica_boxplots(pd.read_csv(inp.replicas), paths("replica_boxplots"))
figures.std_intervals(pd.read_csv(inp.std_intervals), paths("std_intervals"))
