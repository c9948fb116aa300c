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
        script=script_path("strength_sweep"),
        settings=method_settings,
        batch=config["evaluation"]["batch_size"],
        device=DEVICE_FLAG,
    shell:
        "python {params.script} --generator {input.generator}"
        " --unlearned {input.unlearned} --inversion {input.inversion}"
        " --eval-identity {input.eval_identity} --features {input.features}"
        " --reference {input.reference} --batch-size {params.batch}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --method {wildcards.method} --settings {params.settings} --out {output}"
        " {params.device} --threads {threads} > {log} 2>&1"


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
    params:
        script=script_path("sweep_figure"),
    shell:
        "python {params.script} {input} --out {output} > {log} 2>&1"
