from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

from dnnfi.data.datasets import Split
from dnnfi.data.preprocess import preprocess
from dnnfi.engines.health import check_trained
from dnnfi.engines.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)
from dnnfi.workflow.resources import write_layer_outputs

spec = snakemake.params.spec
train = Split.load(snakemake.input.train)
with models.on_device(**snakemake.params.device):
    model = models.build(
        spec["architecture"], train.x.shape[1:], len(train.classes), seed=snakemake.params.seed
    )
    fit = spec["train"]
    history = models.train(
        model,
        preprocess(train.x, spec["preprocess"]),
        train.y,
        fit["epochs"],
        fit["batch_size"],
        fit["learning_rate"],
        snakemake.params.seed,
        augment=fit["augment"],
    )
log.info("final training accuracy %.4f", history.history["accuracy"][-1])
if not spec.get("allow_nonfinite", False):
    check_trained(models.named_tensors(model), f"models.{snakemake.wildcards.model}.train")
model.save(snakemake.output[0])
write_layer_outputs(snakemake.output[0], models.layer_output_sizes(model))
