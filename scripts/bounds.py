from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])
from dnnfi.engines.runner import injector_factory

model, inputs, outputs = snakemake.params.model, snakemake.input, snakemake.output
make_injector = injector_factory(
    model["framework"],
    inputs.model,
    precision=model["precision"],
    device=snakemake.params.device,
    pass_rows=model["pass_rows"],
)
fault_free = design.bounds_job(
    snakemake.params.campaign,
    snakemake.wildcards.campaign,
    model["preprocess"],
    make_injector,
    inputs.profile,
    inputs.test,
    inputs.images,
    outputs.bounds,
)
fault_free.to_parquet(outputs.fault_free)
