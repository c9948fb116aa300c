localrules:
    aggregate,
    tables,
    figures,


rule aggregate:
    input:
        records=evaluation_records(),
        attacks=attack_records(),
    output:
        keep("results/metrics/all.csv"),
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        aliases=" ".join(f"--alias {a}" for a in method_aliases()),
        attacks=lambda wc, input: " ".join(
            f"--attack {shlex.quote(path)}" for path in input.attacks
        ),
    shell:
        "run_step {log:q} aggregate --out {output:q} {params.aliases} {params.attacks}"
        " {input.records:q}"


rule tables:
    input:
        metrics=rules.aggregate.output,
        paper=PAPER_NUMBERS,
    output:
        # the report shows them as HTML pages (rule report_pages)
        [
            keep(f"results/tables/{name}.{ext}")
            for name in table_names()
            for ext in ("csv", "md", "tex")
        ],
        claims_csv=keep("results/tables/claims.csv"),
        claims=keep("results/tables/claims.md"),
    log:
        "logs/tables.log",
    benchmark:
        "benchmarks/tables.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        methods=",".join(TABLE_METHODS),
        scenario=config.get("ablation_scenario", "ood"),
        setting=caption_setting(),
    shell:
        "run_step {log:q} tables --metrics {input.metrics:q} --paper {input.paper:q}"
        " --methods {params.methods} --ablation-scenario {params.scenario}"
        " --setting {params.setting:q} --outdir results/tables"


rule figures:
    input:
        metrics=rules.aggregate.output,
        strips=[path.replace(".json", ".png") for path in evaluation_records()],
    output:
        [
            report(
                keep(f"results/figures/{name}.png"),
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
        methods=",".join(TABLE_METHODS),
        scenario=config.get("ablation_scenario", "ood"),
    shell:
        "run_step {log:q} figures --metrics {input.metrics:q} --evaluate-dir results/evaluate"
        " --methods {params.methods} --ablation-scenario {params.scenario}"
        " --outdir results/figures"
