from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi.data import inputs
from dnnfi.data.datasets import Split
from dnnfi.engines.torchfi import models

spec = snakemake.params.spec
if "sha256" in spec:
    inputs.verify(
        spec["path"], spec["sha256"], f"config key models.{snakemake.wildcards.model}.sha256"
    )
test = Split.load(snakemake.input.test)
weights = spec.get("path", spec["weights"])
key = f"models.{snakemake.wildcards.model}.{'path' if 'path' in spec else 'weights'}"
model = models.fetch(spec["source"], spec["architecture"], weights, len(test.classes), key)
log.info(
    "%s from %s: %d parameters",
    spec["architecture"],
    weights,
    sum(p.numel() for p in model.parameters()),
)
torchvision = spec["source"] == "torchvision"
architecture = (
    models.TORCHVISION_PREFIX + spec["architecture"] if torchvision else spec["architecture"]
)
models.save(
    model,
    architecture,
    test.x.shape[1:],
    len(test.classes),
    snakemake.output[0],
    pretrained=torchvision and weights is not None,
)
