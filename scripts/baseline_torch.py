from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

import functools

from dnnfi.campaign import baseline_job
from dnnfi.torchfi import models

model = models.load(snakemake.input.model, f"models.{snakemake.wildcards.model}", snakemake.params.spec["precision"]).to(
    models.use_device(**snakemake.params.device))
predict = functools.partial(models.predict_logits, pass_rows=snakemake.params.spec["pass_rows"])
table = baseline_job(snakemake, model, predict, models.named_tensors,
                     snakemake.params.spec.get("allow_nonfinite", False))
log.info("top-1 accuracy %.4f on %d images", table["correct"].mean(), len(table))
table.to_parquet(snakemake.output[0])
