rule target:
    input:
        inversion=rules.invert.output,
        generator=network("generator"),
    output:
        keep("results/target/{scenario}/{identity}/{target}.pt"),
    log:
        "logs/target/{scenario}/{identity}/{target}.log",
    benchmark:
        "benchmarks/target/{scenario}/{identity}/{target}.tsv"
    conda:
        "../../envs/torch.yaml"
    shell:
        "run_step {log:q} target --inversion {input.inversion:q} --generator {input.generator:q}"
        " --key {wildcards.target} --out {output:q}"
