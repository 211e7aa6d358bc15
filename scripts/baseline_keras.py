from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

import functools

from dnnfi.campaign import baseline_job

from dnnfi.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)

with models.on_device(**snakemake.params.device):
    model = models.load(snakemake.input.model, f"models.{snakemake.wildcards.model}", snakemake.params.spec["precision"])
    predict = functools.partial(models.predict_logits, pass_rows=snakemake.params.spec["pass_rows"])
    table = baseline_job(snakemake, model, predict, models.named_weights,
                         snakemake.params.spec.get("allow_nonfinite", False))
log.info("top-1 accuracy %.4f on %d images", table["correct"].mean(), len(table))
table.to_parquet(snakemake.output[0])
