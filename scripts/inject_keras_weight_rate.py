import numpy as np
import pandas as pd
from tqdm import tqdm

from dnnfi import runlog
from dnnfi.campaign import weight_units
from dnnfi.datasets import Split
from dnnfi.faults import draw_weight_faults
from dnnfi.outcomes import error_rates
from dnnfi.preprocess import preprocess

log = runlog.start(snakemake.log[0])
from dnnfi.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)
from dnnfi.kerasfi.weights import WeightInjector  # noqa: E402

spec, w = snakemake.params.campaign, snakemake.wildcards
if spec["distribution"] != "layer_uniform" or spec["value_range"]:
    raise ValueError("Keras weight faults draw random values uniformly in the tensor's own [min, max] only")
test = Split.load(snakemake.input.test).spread(spec["images"])
x = preprocess(test.x, snakemake.params.model["preprocess"])
injector = WeightInjector(models.load(snakemake.input.model), batch_size=spec["batch_size"])
# Keras names a convolution's or dense layer's weights "kernel"; layer_types cannot tell them apart
kinds = ("kernel",) + (("bias",) if spec["biases"] else ()) + (("gamma", "beta") if spec["normalization"] else ())
sites = injector.sites(kinds)
rows = []
for frate, perturbation, replica, rng in tqdm(weight_units(spec, w.dataset, w.model, int(w.shard)), desc="replicas"):
    faults = draw_weight_faults(sites, rng, rate=frate, fault_model=perturbation, bits=spec["bits"])
    result = injector.run(faults, x, progress=False)
    top1_error, top5_error = error_rates(np.stack(result["faulty_top5"]), test.y)
    rows.append(dict(frate=frate, perturbation=perturbation, replica=replica, n_faults=len(faults),
                     top1_error=top1_error, top5_error=top5_error,
                     fault_param=list(faults["site"]), fault_index=list(faults["element"]),
                     fault_random_u=list(faults["random_u"]), fault_bit=list(faults["bit"])))
log.info("%d replicas evaluated on %d images", len(rows), len(test.y))
pd.DataFrame(rows).to_parquet(snakemake.output[0])
