from dnnfi.workflow import interpreters, runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)
# config key python (pip path): the framework's own venv
interpreters.switch(snakemake.config, snakemake.wildcards.model)

import torch

from dnnfi.data.datasets import Split
from dnnfi.data.preprocess import preprocess
from dnnfi.engines.health import check_trained
from dnnfi.engines.torchfi import models

spec = snakemake.params.spec
train = Split.load(snakemake.input.train)
shape = train.x.shape[1:]
device = models.use_device(
    **snakemake.params.device, strict=False
)  # training may use a nondeterministic kernel
torch.manual_seed(snakemake.params.seed)  # the initial weights too (drawn on the CPU, then moved)
model = models.build(spec["architecture"], shape, len(train.classes)).to(device)
fit = spec["train"]
losses = models.train(
    model,
    preprocess(train.x, spec["preprocess"]),
    train.y,
    fit["epochs"],
    fit["batch_size"],
    fit["learning_rate"],
    snakemake.params.seed,
)
log.info("training loss per epoch: %s", [round(v, 4) for v in losses])
if not spec.get("allow_nonfinite", False):
    check_trained(models.named_tensors(model), f"models.{snakemake.wildcards.model}.train")
models.save(model, spec["architecture"], shape, len(train.classes), snakemake.output[0])
