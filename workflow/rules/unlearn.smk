rule unlearn:
    input:
        unpack(get_unlearn_extra),
        generator=network("generator"),
        inversion=rules.invert.output,
        target=get_target,
        loss_identity=network("identity_loss"),
        lpips_weights=get_lpips_weights,
    output:
        keep("results/unlearn/{scenario}/{identity}/{method}.pt"),
    log:
        "logs/unlearn/{scenario}/{identity}/{method}.log",
    benchmark:
        "benchmarks/unlearn/{scenario}/{identity}/{method}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        settings=method_settings,
        lpips=LPIPS_FLAGS,
        schedule=flags(config["unlearn"], "steps", "lr"),
        device=DEVICE_FLAG,
        seed=lambda wc: seed_for("unlearn", wc.scenario, wc.identity, wc.method),
        extra=lambda wc, input: file_flags(input, ("dataset", "identities", "encoder")),
    shell:
        "run_step {log:q} unlearn --generator {input.generator:q}"
        " --inversion {input.inversion:q} --target {input.target:q}"
        " --loss-identity {input.loss_identity:q} --method {wildcards.method}"
        " --settings {params.settings} {params.schedule}"
        " {params.lpips} {params.device} --out {output:q} --seed {params.seed}"
        " {params.extra} {params.threads}"
