from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])

from dnnfi.engines.torchfi import models
from dnnfi.engines.torchfi.weights import WeightInjector

model = models.load(snakemake.input.model, precision=snakemake.params.model["precision"]).to(
    models.use_device(**snakemake.params.device)
)
w, spec = snakemake.wildcards, snakemake.params.model
injector = WeightInjector(model, pass_rows=spec["pass_rows"])
table = design.shard_job(
    snakemake.params.campaign,
    spec,
    w.dataset,
    w.model,
    int(w.shard),
    injector,
    snakemake.input.test,
)
log.info("%d replicas: mean top-1 error %.4f", len(table), table["top1_error"].mean())
table.to_parquet(snakemake.output[0])
