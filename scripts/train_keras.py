from dnnfi import interpreters, runlog

log = runlog.start(snakemake)  # first: the errors of the imports below reach the job's log
interpreters.switch(snakemake)  # config key python (pip path): the framework's own venv

from dnnfi.datasets import Split
from dnnfi.health import check_trained
from dnnfi.preprocess import preprocess
from dnnfi.resources import write_layer_outputs

from dnnfi.kerasfi import models  # noqa: E402  (after the log redirect: TensorFlow talks on import)

spec = snakemake.params.spec
train = Split.load(snakemake.input.train)
with models.on_device(**snakemake.params.device):
    model = models.build(spec["architecture"], train.x.shape[1:], len(train.classes), seed=snakemake.params.seed)
    fit = spec["train"]
    history = models.train(model, preprocess(train.x, spec["preprocess"]), train.y, fit["epochs"], fit["batch_size"],
                           fit["learning_rate"], snakemake.params.seed, augment=fit["augment"])
log.info("final training accuracy %.4f", history.history["accuracy"][-1])
if not spec.get("allow_nonfinite", False):
    check_trained(models.named_weights(model), f"models.{snakemake.wildcards.model}.train")
model.save(snakemake.output[0])
write_layer_outputs(snakemake.output[0], models.layer_output_elements(model))
