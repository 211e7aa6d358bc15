import functools

from dnnfi import runlog
from dnnfi.campaign import activation_job

log = runlog.start(snakemake.log[0])


@functools.cache
def factory():
    # imported here: a sequential round that has nothing left to do never loads PyTorch
    from dnnfi.torchfi.activations import injector_factory

    # loaded once: a protected campaign builds a plain and a protected injector
    return injector_factory(snakemake.input.model, snakemake.params.campaign["batch_size"],
                            snakemake.params.model["precision"], snakemake.params.device)


def injector(shape, protection=None):
    return factory()(shape, protection)


results = activation_job(snakemake, injector)
log.info("%d injections: %s", len(results), results["outcome"].value_counts().to_dict())
results.to_parquet(snakemake.output[0])
