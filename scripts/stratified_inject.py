from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

import pandas as pd

from dnnfi.stratified_campaign import shard_of_round

spec, w = snakemake.params.campaign, snakemake.wildcards
faults = shard_of_round(pd.read_parquet(snakemake.input.faults), int(w.shard), spec["shards"])
if len(faults):  # a round after the target margin was met is empty: no framework to load
    from dnnfi.campaign import injector_factory, run_faults
    from dnnfi.datasets import Split
    from dnnfi.preprocess import preprocess

    test = Split.load(snakemake.input.test)
    keep = test.spread_indices(spec["images"])
    x = preprocess(test.x[keep], snakemake.params.model["preprocess"])
    model = snakemake.params.model
    injector = injector_factory(model["framework"], snakemake.input.model, spec["batch_size"], model["precision"],
                                snakemake.params.device, model["pass_rows"], spec["cache_mb"])(x.shape[1:])
    faults = run_faults(injector, faults.reset_index(drop=True), injector.sites(), x)
    faults["image"] = keep[faults["image"].to_numpy()]  # index into the whole test split, as in the baseline
log.info("%d injections", len(faults))
faults.to_parquet(snakemake.output[0])
