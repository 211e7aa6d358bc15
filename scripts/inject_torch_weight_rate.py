import pandas as pd
from tqdm import tqdm

from dnnfi import runlog
from dnnfi.campaign import weight_units
from dnnfi.datasets import Split
from dnnfi.preprocess import preprocess
from dnnfi.torchfi import models, weights

log = runlog.start(snakemake.log[0])
spec, w = snakemake.params.campaign, snakemake.wildcards
test = Split.load(snakemake.input.test).spread(spec["images"])
x = preprocess(test.x, snakemake.params.model["preprocess"])
model = models.load(snakemake.input.model)
tensors = weights.weight_tensors(model, spec["layer_types"], spec["biases"], spec["normalization"])
value_range = tuple(spec["value_range"]) if spec["value_range"] else None
rows = []
for frate, perturbation, replica, rng in tqdm(weight_units(spec, w.dataset, w.model, int(w.shard)), desc="replicas"):
    faults = weights.draw(tensors, frate, perturbation, rng, distribution=spec["distribution"],
                          value_range=value_range, bits=spec["bits"])
    result = weights.evaluate_replica(model, tensors, faults, x, test.y, spec["batch_size"])
    rows.append(dict(frate=frate, perturbation=perturbation, replica=replica, **result,
                     fault_param=list(faults.param), fault_index=list(faults.index), fault_value=list(faults.value),
                     fault_bit=list(faults.bit)))
log.info("%d replicas evaluated on %d images", len(rows), len(test.y))
pd.DataFrame(rows).to_parquet(snakemake.output[0])
