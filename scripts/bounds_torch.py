from dnnfi import runlog
from dnnfi.campaign import bounds_job
from dnnfi.torchfi.activations import injector_factory

runlog.start(snakemake.log[0])
bounds_job(snakemake, injector_factory(snakemake.input.model, precision=snakemake.params.model["precision"],
                                       device=snakemake.params.device))
