# Bit-sweep campaigns (design bit_sweep, dnnfi.designs.bit_sweep): the shards run by the
# activation inject rule (the design expands the points into their bits); only the
# per-bit table and its figure are made here.


rule bit_sweep_table:
    input:
        injections=campaign_models,
    output:
        table=report(
            "results/tables/{campaign}/bit_sweep.csv",
            caption="../report/bit_sweep_table.rst",
            category="{campaign}",
            subcategory="Tables",
        ),
        markdown="results/tables/{campaign}/bit_sweep.md",
    log:
        "results/logs/summarize/{campaign}-bit_sweep.log",
    benchmark:
        "results/benchmarks/summarize/{campaign}-bit_sweep.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/tables/{campaign}/bit_sweep.csv"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    params:
        confidence=lambda w: CAMPAIGNS[w.campaign]["confidence"],
        bits=lambda w: CAMPAIGNS[w.campaign]["bits"],
    script:
        "../../scripts/bit_sweep_table.py"


rule figures_bit_sweep:
    input:
        "results/tables/{campaign}/bit_sweep.csv",
    output:
        report(
            "results/figures/{campaign}/bit_sweep.png",
            caption="../report/bit_sweep_figure.rst",
            category="{campaign}",
            subcategory="Figures",
        ),
        "results/figures/{campaign}/bit_sweep.pdf",
    log:
        "results/logs/figures/{campaign}-bit_sweep.log",
    benchmark:
        "results/benchmarks/figures/{campaign}-bit_sweep.tsv"
    wildcard_constraints:
        campaign=campaigns_making("results/figures/{campaign}/bit_sweep.png"),
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=analysis_mem,
    script:
        "../../scripts/figures_bit_sweep.py"
