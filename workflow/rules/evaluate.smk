rule evaluate:
    input:
        unpack(get_evaluate_extra),
        generator=rules.train_generator.output,
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
        target=get_target,
        eval_identity=f"{WORLD}/identity_eval.pt",
        features=rules.train_features.output,
        reference=rules.fid_reference.output,
    output:
        json="results/evaluate/{scenario}/{identity}/{method}.json",
        png="results/evaluate/{scenario}/{identity}/{method}.png",
    log:
        "logs/evaluate/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/evaluate/{scenario}/{identity}/{method}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        script=script_path("evaluate"),
        batch=config["evaluation"]["batch_size"],
        extra=lambda wc, input: extra_flags(input, ("encoder",)),
    shell:
        "python {params.script} --generator {input.generator}"
        " --unlearned {input.unlearned} --inversion {input.inversion}"
        " --target {input.target}"
        " --eval-identity {input.eval_identity} --features {input.features}"
        " --reference {input.reference} --batch-size {params.batch}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --method {wildcards.method} --out-json {output.json} --out-png {output.png}"
        " {params.extra} --threads {threads} > {log} 2>&1"
