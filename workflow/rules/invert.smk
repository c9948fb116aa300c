rule invert:
    input:
        identities=rules.select_identities.output,
        dataset=get_invert_dataset,
        generator=network("generator"),
        encoder=network("encoder"),
        lpips_weights=get_lpips_weights,
    output:
        keep("results/invert/{scenario}/{identity}.pt"),
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
        threads=JOB_THREADS,
        lpips=LPIPS_FLAGS,
        device=DEVICE_FLAG,
        inversion=flags(config["inversion"], "method", "steps", "lr", "lpips_weight"),
        dataset=lambda wc, input: file_flags(input, ("dataset",)),
        seed=lambda wc: seed_for("invert", wc.scenario, wc.identity),
    shell:
        "run_step {log:q} invert --identities {input.identities:q} {params.dataset}"
        " --generator {input.generator:q} --encoder {input.encoder:q}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " {params.inversion} {params.lpips} --out {output:q}"
        " --seed {params.seed} {params.device} {params.threads}"
