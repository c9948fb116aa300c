"""Shared pieces of the step CLIs: error reporting and thread setup."""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from typing import Any

import click

from idunlearn.io import UserError

# What a user can cause (a missing or corrupt file, a bad name or value): one line. A
# KeyError or ValueError is a bug's as often as a user's: it keeps its traceback.
EXPECTED = (UserError,)


def step(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into a one-line `Error:` and a non-zero exit;
    anything else (a bug) prints its traceback first, so the rule's log keeps it, and
    still ends in one `Error:` line that the console shows (idunlearn.job)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        threads = kwargs.pop("threads", None)
        if threads:
            import torch  # only the torch steps take --threads; the report env has no torch

            torch.set_num_threads(threads)
        try:
            return func(*args, **kwargs)
        except EXPECTED as err:
            raise click.ClickException(str(err)) from err
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as err:
            traceback.print_exc()
            raise click.ClickException(f"unexpected {type(err).__name__}: {err}") from err

    return wrapper


threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads"
)
device_option = click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="auto",
    show_default=True,
    help="torch device of the networks (auto: CUDA where visible); results are saved on the CPU",
)
# the no-face gate of every scored step (evaluate, multi_evaluate, attack, multi_attack)
max_no_face_option = click.option(
    "--max-no-face-share",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="fail when the detector finds no face in more of one side's views",
)
seed_option = click.option("--seed", type=int, required=True, help="seed of every random draw")
deterministic_option = click.option(
    "--deterministic/--nondeterministic",
    default=False,
    show_default=True,
    help="GPU: deterministic algorithms only (config `deterministic`); CPU runs repeat anyway",
)


def seeded(
    func: Callable[..., Any] | None = None, *, default: int | None = None
) -> Callable[..., Any]:
    """--seed and --deterministic of a torch step: the global generators are seeded from the
    job's seed before the step builds anything (`seeding.seed_everything`). The step gets
    the seed too if it takes one. `default`: --seed may be left out (a user's CLI, e.g.
    render); without it --seed is required (the workflow's jobs)."""
    if func is None:
        return functools.partial(seeded, default=default)
    takes_seed = "seed" in inspect.signature(func).parameters

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from idunlearn.seeding import seed_everything

        seed = kwargs["seed"] if takes_seed else kwargs.pop("seed")
        seed_everything(seed, kwargs.pop("deterministic"))
        return func(*args, **kwargs)

    option = seed_option
    if default is not None:
        option = click.option(
            "--seed", type=int, default=default, show_default=True, help="seed of every random draw"
        )
    return option(deterministic_option(wrapper))


def schedule_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--steps, --batch-size and --lr, shared by the world's training CLIs."""
    func = click.option(
        "--lr",
        type=click.FloatRange(min=0, min_open=True),
        required=True,
        help="Adam learning rate",
    )(func)
    func = click.option(
        "--batch-size", type=click.IntRange(min=2), required=True, help="examples per step"
    )(func)
    return click.option(
        "--steps", type=click.IntRange(min=1), required=True, help="optimiser steps"
    )(func)


def lpips_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--lpips-net and --lpips-random/--lpips-pretrained, shared by the LPIPS steps."""
    func = click.option(
        "--lpips-random/--lpips-pretrained",
        default=True,
        show_default=True,
        help="LPIPS on a random backbone (no ImageNet weights) or the pretrained one",
    )(func)
    return click.option(
        "--lpips-net",
        type=click.Choice(["alex", "vgg", "squeeze"]),
        default="alex",
        show_default=True,
        help="LPIPS backbone (paper: vgg)",
    )(func)


def step_counts(ctx: Any, param: Any, value: str) -> tuple[int, ...]:
    """A click callback: "10,50,100" -> sorted distinct step counts >= 0."""
    try:
        ks = tuple(sorted({int(k) for k in value.split(",")}))
    except ValueError as err:
        raise click.BadParameter(f"expected comma-separated step counts, got {value!r}") from err
    if min(ks) < 0:
        raise click.BadParameter(f"step counts must be >= 0, got {value!r}")
    return ks
