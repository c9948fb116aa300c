rule unlearn:
    input:
        unpack(get_unlearn_extra),
        generator=network("generator"),
        inversion=rules.invert.output,
        target=get_target,
        loss_identity=network("identity_loss"),
        lpips_weights=get_lpips_weights,
    output:
        "results/unlearn/{scenario}/{identity}/{method}.pt",
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
        script=script_path("unlearn"),
        settings=method_settings,
        lpips=LPIPS_FLAGS,
        u=config["unlearn"],
        device=DEVICE_FLAG,
        seed=lambda wc: seed_for("unlearn", wc.scenario, wc.identity, wc.method),
        extra=lambda wc, input: file_flags(input, ("dataset", "identities", "encoder")),
    shell:
        "python {params.script} --generator {input.generator}"
        " --inversion {input.inversion} --target {input.target}"
        " --loss-identity {input.loss_identity} --method {wildcards.method}"
        " --settings {params.settings} --steps {params.u[steps]} --lr {params.u[lr]}"
        " {params.lpips} {params.device} --out {output} --seed {params.seed}"
        " {params.extra} --threads {threads} > {log} 2>&1"
