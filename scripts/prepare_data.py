from pathlib import Path

from dnnfi import datasets, runlog

log = runlog.start(snakemake.log[0])
spec = snakemake.params.spec
if spec["source"] == "digits":
    train, test = (s.per_class(spec["limit_per_class"]) for s in datasets.digits(spec["test_fraction"], snakemake.params.seed))
else:
    root = Path(spec["path"])
    train, test = (datasets.image_folder(root / s, spec.get("classes"), spec["limit_per_class"]) for s in ("train", "test"))
for split, path in ((train, snakemake.output.train), (test, snakemake.output.test)):
    log.info("%s: %d images of shape %s, %d classes", path, len(split.y), split.x.shape[1:], len(split.classes))
    split.save(path)
