from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

from dnnfi.campaign import bounds_job, injector_factory

model = snakemake.params.model
bounds_job(snakemake, injector_factory(model["framework"], snakemake.input.model, precision=model["precision"],
                                       device=snakemake.params.device, pass_rows=model["pass_rows"]))
