import pandas as pd

from dnnfi import runlog, stats

log = runlog.start(snakemake.log[0])
replicas = pd.read_csv(snakemake.input.replicas)
faulty = replicas[replicas["frate"] > 0]  # the fault-free rows are one run per model, not replicas
for name in ("descriptive", "anova_models", "anova_factorial", "equal_variance", "std_intervals", "tukey"):
    table = getattr(stats, name)(faulty)
    table.to_csv(snakemake.output[name], index=False)
    log.info("%s:\n%s", name, table.to_string())
