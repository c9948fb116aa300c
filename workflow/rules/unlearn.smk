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
        lpips=LPIPS_FLAGS,
        u=config["unlearn"],
        device=DEVICE_FLAG,
        methods=f"'{METHODS_JSON}'",
        seed=lambda wc: seed_for("unlearn", wc.scenario, wc.identity, wc.method),
        extra=lambda wc, input: file_flags(input, ("dataset", "identities", "encoder")),
    shell:
        "python {params.script} --generator {input.generator}"
        " --inversion {input.inversion} --target {input.target}"
        " --loss-identity {input.loss_identity} --method {wildcards.method}"
        " --methods-json {params.methods} --steps {params.u[steps]} --lr {params.u[lr]}"
        " {params.lpips} {params.device} --out {output} --seed {params.seed}"
        " {params.extra} --threads {threads} > {log} 2>&1"
