localrules:
    aggregate,


rule aggregate:
    input:
        evaluation_records(),
    output:
        "results/metrics/all.csv",
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    params:
        aliases=" ".join(f"--alias {a}" for a in method_aliases()),
    conda:
        "../../envs/report.yaml"
    shell:
        "python {SCRIPTS}/aggregate.py --out {output} {params.aliases} {input} > {log} 2>&1"
