# dnnfi: fault-injection studies of image classifiers (see README.md and config/README.md).
from snakemake.utils import min_version

min_version("9.0")


# The demo config applies only when no --configfile is given (Snakemake would merge them).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/inject.smk"
include: "workflow/rules/stratified.smk"
include: "workflow/rules/bit_sweep.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/figures.smk"


onstart:
    stop_if_files_missing()


# Jobs write their tracebacks to their own logs; print each failed job's cause on the terminal.
onerror:
    report_failed_jobs()


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    model=_alternatives(MODELS),
    campaign=_alternatives(CAMPAIGNS),
    shard=r"\d+",
    split="train|test",


rule all:
    default_target: True
    input:
        final_outputs(),
