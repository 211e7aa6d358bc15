from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])

from dnnfi.engines.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)
from dnnfi.engines.kerasfi.weights import WeightInjector  # noqa: E402

with models.on_device(**snakemake.params.device):
    model = models.load(snakemake.input.model, precision=snakemake.params.model["precision"])
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
