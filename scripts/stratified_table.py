from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

from pathlib import Path

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])

params, inputs = snakemake.params, snakemake.input
table, markdown = design.table_job(
    params.campaign,
    inputs.injections,
    inputs.strata,
    params.strata_labels,
    inputs.baselines,
    inputs.evaluated,
    params.labels,
)
table.to_csv(snakemake.output.table, index=False)
Path(snakemake.output.markdown).write_text(markdown)
log.info("stratified:\n%s", table.to_string())
