import pandas as pd

from dnnfi import figures, runlog

log = runlog.start(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
figures.sdc_rate(pd.read_csv(inp.summary), out.sdc_rate)
figures.scm_probability(pd.read_csv(inp.scm), out.scm_probability)
figures.rate_by(pd.read_csv(inp.by_bit), "bit", "bit position (0 = least significant mantissa bit)", out.sdc_by_bit,
                "SDC rate by flipped bit")
by_layer = pd.read_csv(inp.by_layer)
figures.rate_by(by_layer, "layer_index", "layer index in model.layers (depth)", out.sdc_by_layer, "SDC rate by layer")
