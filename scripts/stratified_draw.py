from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

import pandas as pd

from dnnfi.stratified_campaign import population_images, round_faults, target_met
from dnnfi.taxonomy import load

spec, w, inputs = snakemake.params.campaign, snakemake.wildcards, snakemake.input
r = int(w.get("round", 0))  # the pilot rule has no round wildcard
earlier = [t for t in map(pd.read_parquet, inputs.get("earlier", [])) if len(t)]
earlier = pd.concat(earlier, ignore_index=True) if earlier else None
scm = load(inputs.taxonomy).is_scm
if r > 0 and target_met(earlier, pd.read_parquet(inputs.strata), spec, scm):
    log.info("round %d: the earlier rounds meet the target margin; nothing to draw", r)
    pd.read_parquet(inputs.pilot_faults).iloc[:0].to_parquet(snakemake.output.faults)
else:  # imported here: a round after the target was met never loads a framework
    from dnnfi.campaign import injector_factory
    from dnnfi.datasets import Split
    from dnnfi.precision import check_format
    from dnnfi.preprocess import preprocess

    test = Split.load(inputs.test)
    keep = test.spread_indices(spec["images"])
    x = preprocess(test.x[keep], snakemake.params.model["preprocess"])
    correct = pd.read_parquet(inputs.baseline)["correct"].to_numpy()[keep]
    model = snakemake.params.model
    injector = injector_factory(model["framework"], inputs.model, spec["batch_size"], model["precision"],
                                snakemake.params.device, model["pass_rows"], spec["cache_mb"])(x.shape[1:])
    check_format(injector.sites(), model["precision"], f"models.{w.model}")
    pilot = None if earlier is None else earlier[earlier["round"] == 0]
    faults, strata = round_faults(injector, x, population_images(w.population, correct), spec,
                                  (w.dataset, w.model, w.population), r, snakemake.resources.mem_mb, pilot, scm)
    if r > 0 and not strata.equals(pd.read_parquet(inputs.strata)):
        raise ValueError(f"round {r}: the golden pass gave other strata or weights than the pilot's (round 0)")
    log.info("round %d: %d faults over %d strata", r, len(faults), len(strata))
    faults.to_parquet(snakemake.output.faults)
    if r == 0:
        strata.to_parquet(snakemake.output.strata)
