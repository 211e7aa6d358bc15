from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])

params, inputs = snakemake.params, snakemake.input
faults = design.inject_job(
    params.campaign,
    params.model,
    params.device,
    int(snakemake.wildcards.shard),
    inputs.model,
    inputs.test,
    inputs.images,
    inputs.faults,
)
log.info("%d injections", len(faults))
faults.to_parquet(snakemake.output[0])
