rule attack:
    input:
        generator=network("generator"),
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
        encoder=network("encoder"),
        loss_identity=network("identity_loss"),
        eval_identity=network("identity_eval"),
    output:
        json="results/attack/{scenario}/{identity}/{method}.json",
        renders="results/attack/{scenario}/{identity}/{method}.npz",
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
        device=DEVICE_FLAG,
    shell:
        "python {params.script} --generator {input.generator}"
        " --unlearned {input.unlearned} --inversion {input.inversion}"
        " --encoder {input.encoder} --loss-identity {input.loss_identity}"
        " --eval-identity {input.eval_identity} --scenario {wildcards.scenario}"
        " --identity {wildcards.identity} --method {wildcards.method}"
        " {params.attacks} {params.lpips} --out {output.json}"
        " --out-renders {output.renders} --seed {params.seed}"
        " {params.device} --threads {threads} > {log} 2>&1"
