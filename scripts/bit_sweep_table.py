from dnnfi.workflow import runlog

# first: the errors of the imports below reach the job's log
log = runlog.start(snakemake.log[0], snakemake.rule, snakemake.threads)

from pathlib import Path

from dnnfi import designs

# the campaign's design, named by the checked config (never inferred from the parameters)
design = designs.of(snakemake.config["campaigns"][snakemake.wildcards.campaign])

params = snakemake.params
table, markdown = design.table_job(
    snakemake.wildcards.campaign, snakemake.input.injections, params.confidence, params.bits
)
table.to_csv(snakemake.output.table, index=False)
Path(snakemake.output.markdown).write_text(markdown)
log.info("bit sweep:\n%s", table[table["bit"] == "all"].to_string())
