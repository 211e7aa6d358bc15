from dnnfi import runlog
from dnnfi.datasets import Split
from dnnfi.outcomes import baseline_table
from dnnfi.preprocess import preprocess

log = runlog.start(snakemake.log[0])
from dnnfi.kerasfi import models  # noqa: E402

test = Split.load(snakemake.input.test)
logits = models.predict_logits(models.load(snakemake.input.model), preprocess(test.x, snakemake.params.spec["preprocess"]))
table = baseline_table(logits, test.y)
log.info("top-1 accuracy %.4f on %d images", table["correct"].mean(), len(table))
table.to_parquet(snakemake.output[0])
