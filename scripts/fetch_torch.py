from dnnfi import runlog
from dnnfi.datasets import Split
from dnnfi.torchfi import models

log = runlog.start(snakemake.log[0])
spec = snakemake.params.spec
test = Split.load(snakemake.input.test)
model = models.fetch(spec["source"], spec["architecture"], spec.get("path", spec["weights"]), len(test.classes))
log.info("%s: %d parameters", spec["architecture"], sum(p.numel() for p in model.parameters()))
models.save(model, spec["architecture"], test.x.shape[1:], len(test.classes), snakemake.output[0])
