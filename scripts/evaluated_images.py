from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

from dnnfi.data.datasets import evaluated_table

table = evaluated_table(snakemake.input[0], snakemake.params.images)
log.info("%d evaluated images", len(table))
table.to_parquet(snakemake.output[0])
