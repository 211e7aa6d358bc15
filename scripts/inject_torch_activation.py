from dnnfi import runlog
from dnnfi.campaign import activation_job

log = runlog.start(snakemake.log[0])


def injector(shape):
    # imported here: a sequential round that has nothing left to do never loads PyTorch
    from dnnfi.torchfi import models
    from dnnfi.torchfi.activations import TorchInjector

    height, width, channels = shape
    model = models.load(snakemake.input.model, precision=snakemake.params.model["precision"]).to(
        models.use_device(**snakemake.params.device))
    return TorchInjector(model, snakemake.params.campaign["batch_size"], input_shape=(channels, height, width))


results = activation_job(snakemake, injector)
log.info("%d injections: %s", len(results), results["outcome"].value_counts().to_dict())
results.to_parquet(snakemake.output[0])
