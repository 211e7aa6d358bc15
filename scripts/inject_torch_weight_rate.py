import itertools

import pandas as pd
from tqdm import tqdm

from dnnfi import runlog
from dnnfi.datasets import Split
from dnnfi.faults import shard_slice
from dnnfi.outcomes import error_rates
from dnnfi.preprocess import preprocess
from dnnfi.seeds import rng_for
from dnnfi.torchfi import models, weights

log = runlog.start(snakemake.log[0])
spec, w = snakemake.params.campaign, snakemake.wildcards
test = Split.load(snakemake.input.test).head(spec["images"])
x = preprocess(test.x, snakemake.params.model["preprocess"])
model = models.load(snakemake.input.model)
tensors = weights.weight_tensors(model, spec["layer_types"])
units = list(itertools.product(spec["frates"], spec["perturbations"], range(spec["replicas"])))
rows = []
for frate, perturbation, replica in tqdm(units[shard_slice(len(units), int(w.shard), spec["shards"])], desc="replicas"):
    rng = rng_for(spec["seed"], spec["campaign"], w.dataset, w.model, frate, perturbation, replica)
    faults = weights.draw(tensors, frate, perturbation, rng)
    with weights.applied(tensors, faults):
        top1, top5 = error_rates(models.predict_logits(model, x, spec["batch_size"]), test.y)
    rows.append(dict(frate=frate, perturbation=perturbation, replica=replica, n_faults=len(faults), top1_error=top1,
                     top5_error=top5, fault_param=list(faults.param), fault_index=list(faults.index),
                     fault_value=list(faults.value)))
log.info("%d replicas evaluated on %d images", len(rows), len(test.y))
pd.DataFrame(rows).to_parquet(snakemake.output[0])
