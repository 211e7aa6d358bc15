from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

import functools

from dnnfi import designs
from dnnfi.designs.base import ShardJob

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])
from dnnfi.engines.runner import campaign_injector_factory


@functools.cache
def factory():
    # loaded once: a protected campaign builds a plain and a protected injector; loaded only
    # when needed: a sequential round that has nothing left to do never loads a framework
    model = snakemake.params.model
    return campaign_injector_factory(
        model, snakemake.input.model, snakemake.params.campaign, snakemake.params.device
    )


def injector(shape, protection=None):
    return factory()(shape, protection)


w, inputs = snakemake.wildcards, snakemake.input
job = ShardJob(
    snakemake.params.campaign,
    snakemake.params.model,
    w.dataset,
    w.model,
    int(w.shard),
    inputs.test,
    inputs.images,
    inputs.baseline,
    tuple(inputs.get("earlier", ())),
    inputs.get("paired"),
    inputs.get("bounds"),
)
results = design.shard_job(job, injector)
outcomes = results["outcome"].value_counts().to_dict() if len(results) else {}
log.info("%d injections: %s", len(results), outcomes)
results.to_parquet(snakemake.output[0])
