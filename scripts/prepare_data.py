from dnnfi import datasets, runlog

log = runlog.start(snakemake.log[0])
split = datasets.load_split(snakemake.params.spec, snakemake.wildcards.split, snakemake.params.seed)
log.info("%d images of shape %s, %d classes", len(split.y), split.x.shape[1:], len(split.classes))
split.save(snakemake.output[0])
