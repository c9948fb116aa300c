rule attack:
    input:
        generator=network("generator"),
        unlearned=rules.unlearn.output,
        inversion=rules.invert.output,
        encoder=network("encoder"),
        loss_identity=network("identity_loss"),
        eval_identity=network("identity_eval"),
    output:
        json=keep("results/attack/{scenario}/{identity}/{method}.json"),
        renders=keep("results/attack/{scenario}/{identity}/{method}.npz"),
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
        threads=JOB_THREADS,
        settings=method_settings,
        lpips=LPIPS_FLAGS,
        attacks=get_attack_flags,
        seed=lambda wc: seed_for("attack", wc.scenario, wc.identity, wc.method),
        device=DEVICE_FLAG,
        no_face=NO_FACE_FLAG,
    shell:
        "run_step {log:q} attack --generator {input.generator:q}"
        " --unlearned {input.unlearned:q} --inversion {input.inversion:q}"
        " --encoder {input.encoder:q} --loss-identity {input.loss_identity:q}"
        " --eval-identity {input.eval_identity:q} --scenario {wildcards.scenario}"
        " --identity {wildcards.identity} --method {wildcards.method}"
        " --settings {params.settings}"
        " {params.attacks} {params.lpips} {params.no_face} --out {output.json:q}"
        " --out-renders {output.renders:q} --seed {params.seed}"
        " {params.device} {params.threads}"
