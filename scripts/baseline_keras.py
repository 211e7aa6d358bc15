from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

import functools

from dnnfi.engines.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)
from dnnfi.engines.runner import baseline_job

with models.on_device(**snakemake.params.device):
    model = models.load(
        snakemake.input.model,
        f"models.{snakemake.wildcards.model}",
        snakemake.params.spec["precision"],
    )
    predict = functools.partial(models.predict_logits, pass_rows=snakemake.params.spec["pass_rows"])
    table = baseline_job(
        snakemake.wildcards.model,
        snakemake.input.model,
        model,
        snakemake.input.test,
        snakemake.params.spec["preprocess"],
        predict,
        models.named_weights,
        snakemake.params.spec.get("allow_nonfinite", False),
    )
log.info("top-1 accuracy %.4f on %d images", table["correct"].mean(), len(table))
table.to_parquet(snakemake.output[0])
