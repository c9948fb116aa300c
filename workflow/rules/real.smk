# The real setting (EG3D on FFHQ / CelebAHQ): dataset indices, each identity's
# photos, the network specs every step loads, and the real FID statistics.


wildcard_constraints:
    network="generator|encoder|identity_loss|identity_eval|identity_second|features",


localrules:
    index_ffhq,
    index_celebahq,
    index_sample,
    network_spec,


rule index_ffhq:
    output:
        keep("results/real/ffhq_index.tsv"),
    log:
        "logs/index_ffhq.log",
    benchmark:
        "benchmarks/index_ffhq.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        root=config["real"]["ffhq_dir"],
        how=config["real"]["ffhq_instructions"],
    shell:
        "run_step {log:q} index_ffhq --root {params.root:q} --instructions {params.how:q}"
        " --out {output:q}"


rule index_celebahq:
    input:
        identities=asset("celeba_identities"),
        mapping=asset("celebahq_mapping"),
    output:
        keep("results/real/celebahq_index.tsv"),
    log:
        "logs/index_celebahq.log",
    benchmark:
        "benchmarks/index_celebahq.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        root=config["real"]["celebahq_dir"],
        how=config["real"]["celebahq_instructions"],
    shell:
        "run_step {log:q} index_celebahq --root {params.root:q}"
        " --identities {input.identities:q} --mapping {input.mapping:q}"
        " --instructions {params.how:q} --out {output:q}"


rule index_sample:
    input:
        code=code_dir(config.get(SAMPLE, {}).get("code", "guide")),
    output:
        SAMPLE_INDEX,
    log:
        "logs/index_sample.log",
    benchmark:
        "benchmarks/index_sample.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        images=" ".join(
            f"--image {shlex.quote(name)}"
            for name in config.get(SAMPLE, {}).get("images", [])
        ),
    shell:
        "run_step {log:q} index_sample --root {input.code:q} {params.images}"
        " --out {output:q}"


rule faces:
    input:
        identities="results/identities.tsv",
        index=lambda wc: "results/real/{}_index.tsv".format(
            {"ind": "ffhq", SAMPLE: SAMPLE}.get(wc.scenario, "celebahq")
        ),
    output:
        keep("results/faces/{scenario}/{identity}.npz"),
    log:
        "logs/faces/{scenario}/{identity}.log",
    benchmark:
        "benchmarks/faces/{scenario}/{identity}.tsv"
    conda:
        "../../envs/faces.yaml"
    params:
        resolution=config["real"]["resolution"],
        align=lambda wc: "--align" if needs_alignment(wc.scenario) else "--no-align",
    shell:
        "run_step {log:q} faces --identities {input.identities:q}"
        " --scenario {wildcards.scenario} --identity {wildcards.identity}"
        " --index {input.index:q} --resolution {params.resolution} {params.align}"
        " --out {output:q}"


rule network_spec:
    input:
        unpack(get_network_spec_input),
    output:
        keep("results/networks/{network}.json"),
    log:
        "logs/network_spec/{network}.log",
    benchmark:
        "benchmarks/network_spec/{network}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        flags=network_spec_flags,
        files=lambda wc, input: file_flags(input, ("weights", "w_avg")),
    shell:
        "run_step {log:q} network_spec {params.flags} {params.files} --out {output:q}"


rule fid_real:
    input:
        index=rules.index_ffhq.output,
        features=network("features"),
    output:
        keep("results/fid/real.npz"),
    log:
        "logs/fid_real.log",
    benchmark:
        "benchmarks/fid_real.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["threads"]
    resources:
        gpu=config["resources"]["gpu"],
    params:
        threads=JOB_THREADS,
        images=config["real"]["fid_real_images"],
        resolution=config["real"]["resolution"],
        batch=config["evaluation"]["batch_size"],
        device=DEVICE_FLAG,
        seed=seed_for("fid_real"),
    shell:
        "run_step {log:q} fid_real --index {input.index:q} --features {input.features:q}"
        " --count {params.images} --resolution {params.resolution}"
        " --batch-size {params.batch} --out {output:q} --seed {params.seed}"
        " {params.device} {params.threads}"
