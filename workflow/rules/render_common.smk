# Helpers of workflow/rules/render.smk: which identities, methods and files the render,
# gallery, attack figure and report page rules see.


def report_identities():
    """(scenario, identity) of every forgotten identity of Tables 1-2."""
    return [(s, i) for s in SCENARIOS for i in identities_of(s)]


def render_runs():
    """(scenario, identity, method) rendered by default: each scenario's first identity
    and the methods of `render.methods`."""
    names = config.get("render", {}).get("methods", ["guide"])
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise ValueError(f"render.methods: unknown method(s) {', '.join(unknown)}")
    return [
        (s, identities_of(s)[0], CANONICAL[m])
        for s in SCENARIOS
        if identities_of(s)
        for m in names
    ]


def other_inversions(wildcards):
    """Up to `gallery.identities` other identities' inversion files (their w_u are the
    gallery's retained identities), in scenario order."""
    limit = config.get("gallery", {}).get("identities", 8)
    others = [
        f"results/invert/{s}/{i}.pt"
        for s, i in report_identities()
        if (s, i) != (wildcards.scenario, wildcards.identity)
    ]
    return others[:limit]


def canonical_table_methods():
    return list(dict.fromkeys(CANONICAL[m] for m in TABLE_METHODS))


def gallery_runs(wildcards, input):
    runs = zip(canonical_table_methods(), input.unlearned, input.strips)
    return " ".join(f"--run {m} {shlex.quote(u)} {shlex.quote(s)}" for m, u, s in runs)


def attacked_in_order():
    """The attacked methods (canonical names), table methods first."""
    attacked = attacked_methods()
    names = canonical_table_methods() + [CANONICAL[m] for m in METHODS]
    return [m for m in dict.fromkeys(names) if m in attacked]


def run_files(pattern):
    """An input function: `pattern` for each table method of the wildcards' identity."""
    return lambda wc: [
        pattern.format(scenario=wc.scenario, identity=wc.identity, method=m)
        for m in canonical_table_methods()
    ]


def attack_files(ext):
    return lambda wc: [
        f"results/attack/{wc.scenario}/{wc.identity}/{m}.{ext}"
        for m in attacked_in_order()
    ]


def visual_outputs():
    """The default targets of this file."""
    files = [f"results/render/{s}/{i}/{m}.png" for s, i, m in render_runs()]
    files += [f"results/figures/gallery_{s}_{i}.png" for s, i in report_identities()]
    if attacked_methods():
        scenarios = attacked_scenarios()
        files += [
            f"results/figures/attacks_{s}_{i}.png"
            for s, i in report_identities()
            if s in scenarios
        ]
    return files + rules.report_pages.output


def identity_report(path, figure):
    """A file on the identity's report page (category Identities)."""
    return report(
        path,
        category="Identities",
        subcategory="{scenario} {identity}",
        labels={"figure": figure},
        caption=f"../report/{figure.split()[0]}.rst",
    )


def html_page(path, **flags):
    """An HTML page of the report (`report` flags: category, labels, caption)."""
    return report(path, **flags)


def report_tables():
    """The tables with a report page: the paper's, the attacks, the claims, the multi table."""
    return [*table_names(), "claims", *(["multi"] if multi_outputs() else [])]


def report_pages_outputs():
    """The report's HTML pages: each table, each identity's metrics, the world's quality."""
    pages = [
        html_page(
            f"results/report/tables/{name}.html",
            category="Tables",
            labels={"table": name},
            caption=f"../report/{name}.rst",
        )
        for name in report_tables()
    ]
    pages += [
        html_page(
            f"results/report/identities/{s}/{i}.html",
            category="Identities",
            subcategory=f"{s} {i}",
            labels={"figure": "metrics"},
            caption="../report/metrics.rst",
        )
        for s, i in report_identities()
    ]
    if SYNTHETIC:
        quality = "results/report/quality.html"
        pages.append(
            html_page(quality, category="World", caption="../report/quality.rst")
        )
    return pages
