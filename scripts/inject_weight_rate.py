from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi import designs
from dnnfi.designs.base import ShardJob
from dnnfi.engines.runner import weight_injector

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])
w, spec = snakemake.wildcards, snakemake.params.model
job = ShardJob(
    snakemake.params.campaign,
    spec,
    w.dataset,
    w.model,
    int(w.shard),
    snakemake.input.test,
    snakemake.input.images,
)
with weight_injector(
    spec["framework"],
    snakemake.input.model,
    spec["precision"],
    snakemake.params.device,
    spec["pass_rows"],
) as injector:
    table = design.shard_job(job, injector)
log.info("%d replicas: mean top-1 error %.4f", len(table), table["top1_error"].mean())
table.to_parquet(snakemake.output[0])
