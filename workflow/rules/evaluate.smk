rule fid_reference:
    input:
        dataset=get_fid_real,
        generator=network("generator"),
        features=network("features"),
    output:
        keep("results/fid/reference.npz"),
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
        threads=JOB_THREADS,
        samples=config["evaluation"]["fid_samples"],
        batch=config["evaluation"]["batch_size"],
        seed=seed_for("fid"),
        device=DEVICE_FLAG,
    shell:
        "run_step {log:q} fid_reference --generator {input.generator:q}"
        " --features {input.features:q} --dataset {input.dataset:q}"
        " --samples {params.samples} --batch-size {params.batch}"
        " --out {output:q} --seed {params.seed}"
        " {params.device} {params.threads}"


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
        json=keep("results/evaluate/{scenario}/{identity}/{method}.json"),
        png=report(
            keep("results/evaluate/{scenario}/{identity}/{method}.png"),
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
        threads=JOB_THREADS,
        settings=method_settings,
        batch=config["evaluation"]["batch_size"],
        extra=lambda wc, input: file_flags(input, ("encoder", "second_identity")),
        device=DEVICE_FLAG,
        no_face=NO_FACE_FLAG,
        seed=lambda wc: seed_for("evaluate", wc.scenario, wc.identity),
    shell:
        "run_step {log:q} evaluate --generator {input.generator:q}"
        " --unlearned {input.unlearned:q} --inversion {input.inversion:q}"
        " --target {input.target:q}"
        " --eval-identity {input.eval_identity:q} --features {input.features:q}"
        " --reference {input.reference:q} --batch-size {params.batch}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --method {wildcards.method} --settings {params.settings}"
        " --out-json {output.json:q} --out-png {output.png:q}"
        " {params.no_face} --seed {params.seed}"
        " {params.extra} {params.device} {params.threads}"
