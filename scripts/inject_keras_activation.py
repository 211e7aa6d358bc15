import numpy as np

from dnnfi import runlog
from dnnfi.datasets import Split
from dnnfi.faults import draw_activation_faults, shard_slice
from dnnfi.outcomes import classify
from dnnfi.preprocess import preprocess
from dnnfi.seeds import rng_for

log = runlog.start(snakemake.log[0])
from dnnfi.kerasfi import models  # noqa: E402
from dnnfi.kerasfi.engine import KerasInjector  # noqa: E402

spec, w = snakemake.params.campaign, snakemake.wildcards
test = Split.load(snakemake.input.test).head(spec["images"])
injector = KerasInjector(models.load(snakemake.input.model), batch_size=spec["batch_size"])
sites = injector.sites()
rng = rng_for(spec["seed"], spec["campaign"], w.dataset, w.model)
faults = draw_activation_faults(sites[sites["eligible"]], spec["injections"], rng, np.arange(len(test.y)),
                                spec["sampling"], spec["fault_model"], spec["bits"])
faults = faults.iloc[shard_slice(len(faults), int(w.shard), spec["shards"])]
log.info("shard %s: %d of %d injections", w.shard, len(faults), spec["injections"])
results = classify(injector.run(faults, preprocess(test.x, snakemake.params.model["preprocess"])))
results.merge(sites[["site", "layer", "layer_index"]], on="site").to_parquet(snakemake.output[0])
