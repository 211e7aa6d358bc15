from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

from dnnfi.campaign import weight_rate_job

from dnnfi.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)
from dnnfi.kerasfi.weights import WeightInjector  # noqa: E402

with models.on_device(**snakemake.params.device):
    model = models.load(snakemake.input.model, precision=snakemake.params.model["precision"])
    table = weight_rate_job(snakemake, WeightInjector(model, pass_rows=snakemake.params.model["pass_rows"]))
log.info("%d replicas: mean top-1 error %.4f", len(table), table["top1_error"].mean())
table.to_parquet(snakemake.output[0])
