localrules:
    aggregate,
    tables,
    figures,


rule aggregate:
    input:
        records=evaluation_records(),
        attacks=attack_records(),
    output:
        "results/metrics/all.csv",
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        script=script_path("aggregate"),
        aliases=" ".join(f"--alias {a}" for a in method_aliases()),
        attacks=lambda wc, input: " ".join(f"--attack {path}" for path in input.attacks),
    shell:
        "python {params.script} --out {output} {params.aliases} {params.attacks}"
        " {input.records} > {log} 2>&1"


rule tables:
    input:
        metrics=rules.aggregate.output,
        paper=PAPER_NUMBERS,
    output:
        # the report shows them as HTML pages (rule report_pages)
        [
            f"results/tables/{name}.{ext}"
            for name in table_names()
            for ext in ("csv", "md", "tex")
        ],
    log:
        "logs/tables.log",
    benchmark:
        "benchmarks/tables.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        script=script_path("tables"),
        methods=",".join(TABLE_METHODS),
        scenario=config.get("ablation_scenario", "ood"),
        reduction=config["loss"].get("reduction", "mean"),
    shell:
        "python {params.script} --metrics {input.metrics} --paper {input.paper}"
        " --methods {params.methods} --ablation-scenario {params.scenario}"
        " --reduction {params.reduction} --outdir results/tables > {log} 2>&1"


rule figures:
    input:
        metrics=rules.aggregate.output,
        strips=[path.replace(".json", ".png") for path in evaluation_records()],
    output:
        [
            report(
                f"results/figures/{name}.png",
                category="Figures",
                caption=f"../report/{name}.rst",
            )
            for name in figure_names()
        ],
    log:
        "logs/figures.log",
    benchmark:
        "benchmarks/figures.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        script=script_path("figures"),
        methods=",".join(TABLE_METHODS),
        scenario=config.get("ablation_scenario", "ood"),
    shell:
        "python {params.script} --metrics {input.metrics} --evaluate-dir results/evaluate"
        " --methods {params.methods} --ablation-scenario {params.scenario}"
        " --outdir results/figures > {log} 2>&1"
