from dnnfi import runlog
from dnnfi.campaign import baseline_job
from dnnfi.torchfi import models

log = runlog.start(snakemake.log[0])
table = baseline_job(snakemake, models.load(snakemake.input.model), models.predict_logits)
log.info("top-1 accuracy %.4f on %d images", table["correct"].mean(), len(table))
table.to_parquet(snakemake.output[0])
