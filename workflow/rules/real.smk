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
        "results/real/ffhq_index.tsv",
    log:
        "logs/index_ffhq.log",
    benchmark:
        "benchmarks/index_ffhq.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("index_ffhq"),
        root=config["real"]["ffhq_dir"],
        how=config["real"]["ffhq_instructions"],
    shell:
        "python {params.script} --root {params.root} --instructions {params.how:q}"
        " --out {output} > {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"


rule index_celebahq:
    input:
        identities=asset("celeba_identities"),
        mapping=asset("celebahq_mapping"),
    output:
        "results/real/celebahq_index.tsv",
    log:
        "logs/index_celebahq.log",
    benchmark:
        "benchmarks/index_celebahq.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("index_celebahq"),
        root=config["real"]["celebahq_dir"],
        how=config["real"]["celebahq_instructions"],
    shell:
        "python {params.script} --root {params.root} --identities {input.identities}"
        " --mapping {input.mapping} --instructions {params.how:q} --out {output}"
        " > {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"


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
        script=script_path("index_sample"),
        images=" ".join(
            f"--image {shlex.quote(name)}"
            for name in config.get(SAMPLE, {}).get("images", [])
        ),
    shell:
        "python {params.script} --root {input.code} {params.images} --out {output}"
        " > {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"


rule faces:
    input:
        identities="results/identities.tsv",
        index=lambda wc: "results/real/{}_index.tsv".format(
            {"ind": "ffhq", SAMPLE: SAMPLE}.get(wc.scenario, "celebahq")
        ),
    output:
        "results/faces/{scenario}/{identity}.npz",
    log:
        "logs/faces/{scenario}/{identity}.log",
    benchmark:
        "benchmarks/faces/{scenario}/{identity}.tsv"
    conda:
        "../../envs/faces.yaml"
    params:
        script=script_path("faces"),
        resolution=config["real"]["resolution"],
        align=lambda wc: "--align" if needs_alignment(wc.scenario) else "--no-align",
    shell:
        "python {params.script} --identities {input.identities} --scenario {wildcards.scenario}"
        " --identity {wildcards.identity} --index {input.index}"
        " --resolution {params.resolution} {params.align} --out {output} > {log} 2>&1"


rule network_spec:
    input:
        unpack(get_network_spec_input),
    output:
        "results/networks/{network}.json",
    log:
        "logs/network_spec/{network}.log",
    benchmark:
        "benchmarks/network_spec/{network}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        script=script_path("network_spec"),
        flags=network_spec_flags,
        files=lambda wc, input: file_flags(input, ("weights", "w_avg")),
    shell:
        "python {params.script} {params.flags} {params.files} --out {output} > {log} 2>&1"


rule fid_real:
    input:
        index=rules.index_ffhq.output,
        features=network("features"),
    output:
        "results/fid/real.npz",
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
        script=script_path("fid_real"),
        real=config["real"],
        batch=config["evaluation"]["batch_size"],
        device=DEVICE_FLAG,
    shell:
        "python {params.script} --index {input.index} --features {input.features}"
        " --count {params.real[fid_real_images]} --resolution {params.real[resolution]}"
        " --batch-size {params.batch} --out {output}"
        " {params.device} --threads {threads} > {log} 2>&1"
