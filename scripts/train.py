from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi.data.datasets import Split
from dnnfi.engines.health import check_trained
from dnnfi.engines.runner import framework_models

name, spec = snakemake.wildcards.model, snakemake.params.spec
models = framework_models(snakemake.params.framework)
train = Split.load(snakemake.input.train)
model = models.trained(spec, train, snakemake.params.seed, snakemake.params.device)
if not spec.get("allow_nonfinite", False):
    check_trained(models.named_tensors(model), f"models.{name}.train")
models.save(model, spec["architecture"], train.x.shape[1:], len(train.classes), snakemake.output[0])
