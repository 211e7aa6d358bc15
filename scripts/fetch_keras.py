from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi.data import inputs
from dnnfi.data.datasets import Split
from dnnfi.engines.kerasfi import models  # noqa: E402
from dnnfi.workflow.resources import write_layer_outputs

spec = snakemake.params.spec
if "sha256" in spec:
    inputs.verify(
        spec["path"], spec["sha256"], f"config key models.{snakemake.wildcards.model}.sha256"
    )
key = f"models.{snakemake.wildcards.model}.path"
test = Split.load(snakemake.input.test)
if spec["source"] == "file":
    model = models.load(spec["path"], key)
else:
    model = models.application(
        spec["architecture"],
        test.x.shape[1:],
        len(test.classes),
        spec.get("path", spec["weights"]),
        key=key,
    )
log.info(
    "%s: %d layers, input %s, output %s",
    model.name,
    len(model.layers),
    model.input_shape,
    model.output_shape,
)
model.save(snakemake.output[0])
write_layer_outputs(snakemake.output[0], models.layer_output_sizes(model))
