rule fid_reference:
    input:
        dataset=get_fid_real,
        generator=network("generator"),
        features=network("features"),
    output:
        "results/fid/reference.npz",
    log:
        "logs/fid_reference.log",
    benchmark:
        "benchmarks/fid_reference.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        script=script_path("fid_reference"),
        e=config["evaluation"],
        seed=seed_for("fid"),
        device=DEVICE_FLAG,
    shell:
        "python {params.script} --generator {input.generator}"
        " --features {input.features} --dataset {input.dataset}"
        " --samples {params.e[fid_samples]} --batch-size {params.e[batch_size]}"
        " --out {output} --seed {params.seed}"
        " {params.device} --threads {threads} > {log} 2>&1"


rule evaluate:
    input:
        unpack(get_evaluate_extra),
        generator=network("generator"),
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
        target=get_target,
        eval_identity=network("identity_eval"),
        features=network("features"),
        reference="results/fid/reference.npz",
    output:
        json="results/evaluate/{scenario}/{identity}/{method}.json",
        png=report(
            "results/evaluate/{scenario}/{identity}/{method}.png",
            category="Identities",
            subcategory="{scenario} {identity}",
            labels={"figure": "strip {method}"},
            caption="../report/strip.rst",
        ),
    log:
        "logs/evaluate/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/evaluate/{scenario}/{identity}/{method}.tsv"
    conda:
        "../../envs/faces.yaml"  # MTCNN crops for the real setting's ID networks
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        script=script_path("evaluate"),
        batch=config["evaluation"]["batch_size"],
        extra=lambda wc, input: file_flags(input, ("encoder", "second_identity")),
        device=DEVICE_FLAG,
    shell:
        "python {params.script} --generator {input.generator}"
        " --unlearned {input.unlearned} --inversion {input.inversion}"
        " --target {input.target}"
        " --eval-identity {input.eval_identity} --features {input.features}"
        " --reference {input.reference} --batch-size {params.batch}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --method {wildcards.method} --out-json {output.json} --out-png {output.png}"
        " {params.extra} {params.device} --threads {threads} > {log} 2>&1"
