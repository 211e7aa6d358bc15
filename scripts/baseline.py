from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

import functools

from dnnfi.engines.runner import baseline_job, loaded_model

name, spec = snakemake.wildcards.model, snakemake.params.spec
with loaded_model(
    snakemake.params.framework,
    snakemake.input.model,
    f"models.{name}",
    spec["precision"],
    snakemake.params.device,
) as (model, models):
    table = baseline_job(
        name,
        snakemake.input.model,
        model,
        snakemake.input.test,
        spec["preprocess"],
        functools.partial(models.predict_logits, pass_rows=spec["pass_rows"]),
        models.named_tensors,
        spec.get("allow_nonfinite", False),
    )
log.info("top-1 accuracy %.4f on %d images", table["correct"].mean(), len(table))
table.to_parquet(snakemake.output[0])
