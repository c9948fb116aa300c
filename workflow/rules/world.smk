# The embedded synthetic world: dataset, generator, identity networks, encoder,
# feature network, and the world's own quality report.


rule dataset:
    output:
        f"{WORLD}/dataset.npz",
    log:
        "logs/dataset.log",
    benchmark:
        "benchmarks/dataset.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("dataset"),
        w={key: config["world"][key] for key in DATASET_KEYS},
        seed=seed_for("dataset"),
    shell:
        "python {params.script} --out {output} --num-identities {params.w[num_identities]}"
        " --images-per-identity {params.w[images_per_identity]}"
        " --num-heldout {params.w[num_heldout]} --heldout-images {params.w[heldout_images]}"
        " --yaw-range {params.w[yaw_range]} --seed {params.seed} > {log} 2>&1"


rule train_generator:
    input:
        rules.dataset.output,
    output:
        f"{WORLD}/generator.pt",
    log:
        "logs/train_generator.log",
    benchmark:
        "benchmarks/train_generator.tsv"
    priority: 2  # on the critical path of the world: start it first
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        script=script_path("train_generator"),
        s=config["world"]["generator"],
        w_norm=config["world"]["w_norm"],
        seed=seed_for("train_generator"),
    shell:
        "python {params.script} --dataset {input} --out {output}"
        " --w-norm {params.w_norm} --steps {params.s[steps]} --batch-size {params.s[batch_size]}"
        " --lr {params.s[lr]} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule train_identity:
    input:
        rules.dataset.output,
    output:
        f"{WORLD}/identity_{{role}}.pt",
    log:
        "logs/train_identity/{role}.log",
    benchmark:
        "benchmarks/train_identity/{role}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        script=script_path("train_identity"),
        s=config["world"]["identity"],
        seed=lambda wc: seed_for("train_identity", wc.role),
    shell:
        "python {params.script} --dataset {input} --role {wildcards.role}"
        " --out {output} --steps {params.s[steps]} --batch-size {params.s[batch_size]}"
        " --lr {params.s[lr]} --seed {params.seed} --threads {threads} > {log} 2>&1"


rule train_encoder:
    input:
        dataset=rules.dataset.output,
        generator=rules.train_generator.output,
    output:
        f"{WORLD}/encoder.pt",
    log:
        "logs/train_encoder.log",
    benchmark:
        "benchmarks/train_encoder.tsv"
    priority: 1  # on the critical path of the world: start it first
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        script=script_path("train_encoder"),
        s=config["world"]["encoder"],
        seed=seed_for("train_encoder"),
    shell:
        "python {params.script} --dataset {input.dataset}"
        " --generator {input.generator} --out {output} --steps {params.s[steps]}"
        " --batch-size {params.s[batch_size]} --lr {params.s[lr]} --seed {params.seed}"
        " --threads {threads} > {log} 2>&1"


rule train_features:
    input:
        rules.dataset.output,
    output:
        f"{WORLD}/features.pt",
    log:
        "logs/train_features.log",
    benchmark:
        "benchmarks/train_features.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        script=script_path("train_features"),
        s=config["world"]["features"],
        seed=seed_for("train_features"),
    shell:
        "python {params.script} --dataset {input} --out {output}"
        " --steps {params.s[steps]} --batch-size {params.s[batch_size]} --lr {params.s[lr]}"
        " --seed {params.seed} --threads {threads} > {log} 2>&1"


rule world_quality:
    input:
        dataset=rules.dataset.output,
        generator=rules.train_generator.output,
        loss_identity=f"{WORLD}/identity_loss.pt",
        eval_identity=f"{WORLD}/identity_eval.pt",
        encoder=rules.train_encoder.output,
        features=rules.train_features.output,
    output:
        json=f"{WORLD}/quality.json",
        png=report(
            f"{WORLD}/targets_grid.png",
            category="World",
            caption="../report/targets.rst",
        ),
    log:
        "logs/world_quality.log",
    benchmark:
        "benchmarks/world_quality.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    params:
        script=script_path("world_quality"),
        lpips=LPIPS_FLAGS,
        inv=config["inversion"],
        samples=config["world"]["quality_samples"],
        seed=seed_for("world_quality"),
    shell:
        "python {params.script} --dataset {input.dataset}"
        " --generator {input.generator} --loss-identity {input.loss_identity}"
        " --eval-identity {input.eval_identity} --encoder {input.encoder}"
        " --features {input.features} --inversion-steps {params.inv[steps]}"
        " --inversion-lr {params.inv[lr]} --inversion-lpips {params.inv[lpips_weight]}"
        " {params.lpips} --samples {params.samples} --out-json {output.json}"
        " --out-png {output.png} --seed {params.seed} --threads {threads} > {log} 2>&1"
