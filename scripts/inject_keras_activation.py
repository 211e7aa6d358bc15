from dnnfi import runlog
from dnnfi.campaign import activation_job

log = runlog.start(snakemake.log[0])


def injector(shape):
    # imported here: a sequential round that has nothing left to do never loads TensorFlow
    from dnnfi.kerasfi import models
    from dnnfi.kerasfi.engine import KerasInjector

    device = snakemake.params.device
    with models.on_device(**device):  # the model's variables live there too
        model = models.load(snakemake.input.model, precision=snakemake.params.model["precision"])
    return KerasInjector(model, batch_size=snakemake.params.campaign["batch_size"], device=device["device"])


results = activation_job(snakemake, injector)
log.info("%d injections: %s", len(results), results["outcome"].value_counts().to_dict())
results.to_parquet(snakemake.output[0])
