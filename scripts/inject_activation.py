from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

import functools

from dnnfi.campaign import activation_job, injector_factory



@functools.cache
def factory():
    # loaded once: a protected campaign builds a plain and a protected injector; loaded only
    # when needed: a sequential round that has nothing left to do never loads a framework
    model = snakemake.params.model
    return injector_factory(model["framework"], snakemake.input.model, snakemake.params.campaign["batch_size"],
                            model["precision"], snakemake.params.device, model["pass_rows"],
                            snakemake.params.campaign["cache_mb"])


def injector(shape, protection=None):
    return factory()(shape, protection)


results = activation_job(snakemake, injector)
log.info("%d injections: %s", len(results), results["outcome"].value_counts().to_dict())
results.to_parquet(snakemake.output[0])
