from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

import pandas as pd

from dnnfi.analysis import figures

inp, out = snakemake.input, snakemake.output


def paths(name):
    return [out[name], out[f"{name}_pdf"]]


figures.sdc_rate(pd.read_csv(inp.summary), paths("sdc_rate"))
figures.scm_probability(pd.read_csv(inp.scm), paths("scm_probability"))
figures.rate_by(
    pd.read_csv(inp.by_bit),
    "bit",
    "flipped bit position (IEEE-754, 0 = least significant mantissa bit)",
    paths("sdc_by_bit"),
    "SDC and SCM by flipped bit",
)
figures.rate_by(
    pd.read_csv(inp.by_layer),
    "layer_index",
    "faulty layer's index in model.layers (depth)",
    paths("sdc_by_layer"),
    "SDC and SCM by layer",
)
