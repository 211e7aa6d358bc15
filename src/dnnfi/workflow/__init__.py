"""The package side of the Snakemake workflow: config checks, job resources, job logs and status,
interpreters."""
