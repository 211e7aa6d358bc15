from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

from dnnfi import inputs
from dnnfi.datasets import Split
from dnnfi.resources import write_layer_outputs

from dnnfi.kerasfi import models  # noqa: E402

spec = snakemake.params.spec
if "sha256" in spec:
    inputs.verify(spec["path"], spec["sha256"], f"config key models.{snakemake.wildcards.model}.sha256")
key = f"models.{snakemake.wildcards.model}.path"
test = Split.load(snakemake.input.test)
if spec["source"] == "file":
    model = models.load(spec["path"], key)
else:
    model = models.application(spec["architecture"], test.x.shape[1:], len(test.classes), spec.get("path", spec["weights"]),
                               key=key)
log.info("%s: %d layers, input %s, output %s", model.name, len(model.layers), model.input_shape, model.output_shape)
model.save(snakemake.output[0])
write_layer_outputs(snakemake.output[0], models.layer_output_elements(model))
