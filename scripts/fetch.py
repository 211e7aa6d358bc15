from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi.data import inputs
from dnnfi.data.datasets import Split
from dnnfi.engines.runner import framework_models

name, spec = snakemake.wildcards.model, snakemake.params.spec
if "sha256" in spec:
    inputs.verify(spec["path"], spec["sha256"], f"config key models.{name}.sha256")
models = framework_models(snakemake.params.framework)
test = Split.load(snakemake.input.test)
shape, classes = test.x.shape[1:], len(test.classes)
key = f"models.{name}.{'path' if 'path' in spec else 'weights'}"
model, architecture, pretrained = models.fetched(spec, shape, classes, key)
models.save(model, architecture, shape, classes, snakemake.output[0], pretrained=pretrained)
