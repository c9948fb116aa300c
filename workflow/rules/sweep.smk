rule strength_sweep:
    input:
        generator=network("generator"),
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
        eval_identity=network("identity_eval"),
        features=network("features"),
        reference="results/fid/reference.npz",
    output:
        "results/sweep/{scenario}/{identity}/{method}.json",
    log:
        "logs/sweep/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/sweep/{scenario}/{identity}/{method}.tsv"
    conda:
        "../../envs/faces.yaml"  # MTCNN crops for the real setting's ID networks
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        settings=method_settings,
        batch=config["evaluation"]["batch_size"],
        device=DEVICE_FLAG,
        seed=lambda wc: seed_for("evaluate", wc.scenario, wc.identity),
    shell:
        "run_step {log:q} strength_sweep --generator {input.generator:q}"
        " --unlearned {input.unlearned:q} --inversion {input.inversion:q}"
        " --eval-identity {input.eval_identity:q} --features {input.features:q}"
        " --reference {input.reference:q} --batch-size {params.batch}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --method {wildcards.method} --settings {params.settings} --out {output:q}"
        " --seed {params.seed} {params.device} {params.threads}"


rule sweep_figure:
    input:
        sweep_records(),
    output:
        report(
            "results/figures/strength_sweep.png",
            category="Figures",
            caption="../report/strength_sweep.rst",
        ),
    log:
        "logs/sweep_figure.log",
    benchmark:
        "benchmarks/sweep_figure.tsv"
    conda:
        "../../envs/report.yaml"
    shell:
        "run_step {log:q} sweep_figure {input:q} --out {output:q}"
