from dnnfi import interpreters

interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

from dnnfi import runlog
from dnnfi.campaign import bounds_job, injector_factory

runlog.start(snakemake.log[0])
model = snakemake.params.model
bounds_job(snakemake, injector_factory(model["framework"], snakemake.input.model, precision=model["precision"],
                                       device=snakemake.params.device, pass_rows=model["pass_rows"]))
