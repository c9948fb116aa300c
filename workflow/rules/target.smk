rule target:
    input:
        inversion=rules.invert.output,
        generator=rules.train_generator.output,
    output:
        "results/target/{scenario}/{identity}.pt",
    log:
        "logs/target/{scenario}/{identity}.log",
    benchmark:
        "benchmarks/target/{scenario}/{identity}.tsv"
    params:
        script=script_path("target"),
        target_keys=",".join(target_keys()),
    conda:
        "../../envs/torch.yaml"
    shell:
        "python {params.script} --inversion {input.inversion} --generator {input.generator}"
        " --keys {params.target_keys} --out {output} > {log} 2>&1"
