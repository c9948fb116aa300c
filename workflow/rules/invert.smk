rule invert:
    input:
        identities=rules.select_identities.output,
        dataset=get_invert_dataset,
        generator=network("generator"),
        encoder=network("encoder"),
        lpips_weights=get_lpips_weights,
    output:
        "results/invert/{scenario}/{identity}.pt",
    log:
        "logs/invert/{scenario}/{identity}.log",
    benchmark:
        "benchmarks/invert/{scenario}/{identity}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        script=script_path("invert"),
        lpips=LPIPS_FLAGS,
        device=DEVICE_FLAG,
        inv=config["inversion"],
        dataset=lambda wc, input: file_flags(input, ("dataset",)),
        seed=lambda wc: seed_for("invert", wc.scenario, wc.identity),
    shell:
        "python {params.script} --identities {input.identities} {params.dataset}"
        " --generator {input.generator} --encoder {input.encoder}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --method {params.inv[method]} --steps {params.inv[steps]} --lr {params.inv[lr]}"
        " --lpips-weight {params.inv[lpips_weight]} {params.lpips} --out {output}"
        " --seed {params.seed} {params.device} --threads {threads} > {log} 2>&1"
