from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

from dnnfi.analysis.taxonomy import TaxonomyError, load
from dnnfi.data import datasets, inputs

dataset = snakemake.wildcards.dataset
if "sha256" in snakemake.params.spec:
    inputs.verify(
        snakemake.params.spec["path"],
        snakemake.params.spec["sha256"],
        f"config key datasets.{dataset}.sha256",
    )
split = datasets.load_split(snakemake.params.spec, snakemake.wildcards.split, snakemake.params.seed)
log.info("%d images of shape %s, %d classes", len(split.y), split.x.shape[1:], len(split.classes))
# The taxonomy must fit the classes before any model trains on these data. It is read from the
# config, not from params: changing `taxonomy` must not rerun data preparation (and everything
# after it); the SCM jobs, which take the taxonomy file as input, check it again.
taxonomy = snakemake.config["datasets"][dataset]["taxonomy"]
try:
    load(taxonomy, expected_classes=split.classes)
except TaxonomyError as e:
    raise TaxonomyError(f"config key datasets.{dataset}.taxonomy: {e}") from None
log.info("taxonomy %s fits the %d classes", taxonomy, len(split.classes))
split.save(snakemake.output[0])
