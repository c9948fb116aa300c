rule attack:
    input:
        generator=rules.train_generator.output,
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
        encoder=rules.train_encoder.output,
        identities=rules.select_identities.output,
        dataset=rules.dataset.output,
        loss_identity=f"{WORLD}/identity_loss.pt",
        eval_identity=f"{WORLD}/identity_eval.pt",
    output:
        "results/attack/{scenario}/{identity}/{method}.json",
    log:
        "logs/attack/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/attack/{scenario}/{identity}/{method}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        script=script_path("attack"),
        lpips=LPIPS_FLAGS,
        attacks=get_attack_flags,
        seed=lambda wc: seed_for("attack", wc.scenario, wc.identity, wc.method),
    shell:
        "python {params.script} --generator {input.generator}"
        " --unlearned {input.unlearned} --inversion {input.inversion}"
        " --encoder {input.encoder} --identities {input.identities}"
        " --dataset {input.dataset} --loss-identity {input.loss_identity}"
        " --eval-identity {input.eval_identity} --scenario {wildcards.scenario}"
        " --identity {wildcards.identity} --method {wildcards.method}"
        " {params.attacks} {params.lpips} --out {output} --seed {params.seed}"
        " --threads {threads} > {log} 2>&1"
