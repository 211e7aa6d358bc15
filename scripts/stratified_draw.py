from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])

params, w, inputs = snakemake.params, snakemake.wildcards, snakemake.input
r = int(w.get("round", 0))  # the pilot rule has no round wildcard
faults, strata = design.draw_job(
    params.campaign,
    params.model,
    params.device,
    w.dataset,
    w.model,
    w.population,
    r,
    inputs.model,
    inputs.test,
    inputs.images,
    inputs.baseline,
    inputs.taxonomy,
    snakemake.resources.mem_mb,
    inputs.get("earlier", []),
    inputs.get("strata"),
    inputs.get("pilot_faults"),
)
faults.to_parquet(snakemake.output.faults)
if strata is not None:
    strata.to_parquet(snakemake.output.strata)
