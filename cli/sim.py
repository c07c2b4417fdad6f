"""``xnas-sim``: the prediction-with-expert-advice simulator and the paper's figures.

Parsing only: every command calls :mod:`xnas.pea` or :mod:`xnas.analysis`.
Nothing here imports torch.
"""

from __future__ import annotations

import os
import sys

import click

from xnas.cli import sim_figure
from xnas.cli._common import (SIMULATION_ERRORS, InputError, OneLineGroup, add_commands, check_seed_option,
                              emit_json, result_console)
from xnas.pea.rule import check_reward_bound


# The table shows the compile time from this many seconds up (a warm cache loads in ~0.1 s).
COMPILE_SHOWN = 1.0


def _parse_eta(value: str) -> float | str:
    if value == "auto":
        return "auto"
    try:
        eta = float(value)
    except ValueError:
        raise InputError(f"--eta must be a positive number or 'auto', got {value!r}") from None
    if not (eta > 0 and eta < float("inf")):
        raise InputError(f"--eta must be positive and finite, got {value}")
    return eta


def _parse_weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(f"--init-weights takes comma-separated numbers, got {text!r}") from None


def _parse_params(pairs: tuple[str, ...], option: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{option} takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise InputError(f"{option} {key}: {value!r} is not a number") from None
    return out


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xnas")
def main() -> None:
    """Simulate XNAS and its rivals on expert environments; draw the paper's figures."""


@main.command(short_help="Run a forecaster against an environment; regret against Theorem 1.")
@click.option("--experts", "n_experts", type=int, default=8, show_default=True, help="Number of experts N.")
@click.option("--T", "T", type=int, default=100_000, show_default=True, help="Number of rounds.")
@click.option("--env", default="adversarial", show_default=True, help="Environment (see `xnas-sim list`).")
@click.option("--forecaster", default="xnas", show_default=True, help="Forecaster (see `xnas-sim list`).")
@click.option("--eta", default="auto", show_default=True, help="Learning rate, or 'auto' for eta* = sqrt(2 ln N / (T L^2)).")
@click.option("--L", "L", type=float, default=1.0, show_default=True, help="Reward bound L (clipping level).")
@click.option("--zeta", type=float, default=1.0, show_default=True, help="Wipeout relaxation in (0, 1].")
@click.option("--seeds", type=int, default=10, show_default=True, help="Number of seeds (runs in parallel).")
@click.option("--seed", type=int, default=0, show_default=True, help="First seed.")
@click.option("--rewards", "rewards_path", type=str, default=None, help="Replay a (T, N) .npy reward file.")
@click.option("--env-param", "env_params", multiple=True, metavar="KEY=VALUE", help="Override an environment parameter.")
@click.option("--forecaster-param", "fc_params", multiple=True, metavar="KEY=VALUE", help="Override a forecaster parameter.")
@click.option("--init-weights", "init_weights", type=str, default=None, metavar="W1,W2,...",
              help="Positive initial weights of the N experts (normalised); uniform by default.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object on stdout.")
@click.option("--plot", "plot_path", type=str, default=None, help="Draw regret, bound and alive experts against t (PNG).")
@click.option("--shifts", type=int, default=None, metavar="M",
              help="Also report the regret against the best sequence of experts with at most M switches.")
def regret(n_experts, T, env, forecaster, eta, L, zeta, seeds, seed, rewards_path, env_params, fc_params,
           init_weights, as_json, plot_path, shifts):
    """Run a forecaster against an environment and report regret against Theorem 1."""
    from xnas.pea import simulate
    from xnas.pea.rewards import clip_to_bound
    from xnas.pea.streams import load_rewards

    eta_v = _parse_eta(eta)
    rewards = None
    if rewards_path is not None:
        _check_replay_options(click.get_current_context())
        try:
            rewards = load_rewards(rewards_path)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        env = "replay"
    elif env == "replay":
        raise InputError("the replay environment needs --rewards PATH.npy")
    _check_common(n_experts, T, L, zeta, seeds, seed, rewards is not None)
    if rewards is not None:
        rewards, note = clip_to_bound(rewards, L)
        if note:
            click.echo(note, err=True)
    if plot_path is not None:
        _check_writable(plot_path)
    try:
        res = simulate(
            forecaster=forecaster,
            env=env,
            n_experts=n_experts,
            T=T,
            eta=eta_v,
            L=L,
            zeta=zeta,
            seeds=seeds,
            seed=seed,
            rewards=rewards,
            env_params=_parse_params(env_params, "--env-param"),
            forecaster_params=_parse_params(fc_params, "--forecaster-param"),
            init_weights=_parse_weights(init_weights),
            shifts=shifts,
        )
    except SIMULATION_ERRORS as exc:
        raise InputError(str(exc)) from None
    summary = res.summary()
    if plot_path is not None:
        from xnas.pea.plots import plot_regret

        try:
            plot_regret(res, plot_path)
        except OSError as exc:
            raise InputError(f"--plot: cannot write {plot_path}: {exc.strerror or exc}") from None
        summary["plot"] = plot_path
    if as_json:
        emit_json(summary)
    else:
        _print_regret_table(summary)


def _check_common(n_experts, T, L, zeta, seeds, seed, from_file):
    if not from_file:
        if n_experts < 2:
            raise InputError(f"--experts must be at least 2, got {n_experts}")
        if T < 1:
            raise InputError(f"--T must be at least 1, got {T}")
    try:
        check_reward_bound(L, "--L")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not (0 < zeta <= 1):
        raise InputError(f"--zeta must lie in (0, 1], got {zeta}")
    if seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}")
    check_seed_option(seed)


def _check_replay_options(ctx: click.Context) -> None:
    """--rewards fixes the environment, T and N; an explicit --env, --T or --experts would be ignored."""
    given = [f"--{p}" for p in ("env", "T", "experts")
             if ctx.get_parameter_source({"env": "env", "T": "T", "experts": "n_experts"}[p])
             not in (click.core.ParameterSource.DEFAULT, None)]
    if ctx.params.get("env") == "replay" and "--env" in given:
        given.remove("--env")
    if given:
        raise InputError(f"--rewards sets the environment (replay), T and the experts from the file; "
                         f"drop {', '.join(given)}")


def _check_writable(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"--plot: cannot write {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise InputError(f"--plot: cannot write {path}: it is a folder")


def _print_regret_table(s: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{s['forecaster']} on {s['env']}: N={s['experts']}, T={s['T']}, {s['seeds']} seeds")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("eta", f"{s['eta']:.4g}"),
        ("regret (mean)", f"{s['regret']:.4g} +- {s['regret_std']:.3g}"),
        ("Theorem 1 bound", f"{s['bound']:.4g}"),
        ("max regret / bound", f"{s['regret_over_bound_max']:.3f}"),
        ("gamma_T (mean)", f"{s['gamma_T']:.4g}"),
        ("survivors (mean)", f"{s['survivors']:.3g}"),
        ("best expert survived", f"{100 * s['best_survived']:.0f}% of seeds"),
        ("seconds", f"{s['seconds']:.3f}"),
    ]
    if s.get("compile_seconds", 0.0) >= COMPILE_SHOWN:  # a first run's compilation, not simulation time
        rows.append(("seconds compiling (once)", f"{s['compile_seconds']:.1f}"))
    if "true_regret" in s:
        rows.insert(2, ("regret on true losses", f"{s['true_regret']:.4g}"))
    if "shifts" in s:  # only with --shifts: the table and the line are unchanged otherwise
        rows.insert(4, (f"shifting regret, {s['shifts']} switches (mean)", f"{s['shifting_regret']:.4g}"))
    for k, v in rows:
        table.add_row(k, v)
    result_console().print(table)
    shifting = f" shifts={s['shifts']} shifting_regret={s['shifting_regret']:.6g}" if "shifts" in s else ""
    click.echo(
        f"regret={s['regret']:.6g} regret_std={s['regret_std']:.6g} bound={s['bound']:.6g} "
        f"gamma_T={s['gamma_T']:.6g} survivors={s['survivors']:.6g} best_survived={s['best_survived']:.6g}"
        + shifting
    )


@main.command(short_help="Check Lemmas 1-2 and Theorem 1 on a battery of runs.")
@click.option("--quick", is_flag=True, help="A smaller battery (a few seconds).")
@click.option("--seed", type=int, default=0, show_default=True, help="First seed of the battery.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
def validate(quick, seed, as_json):
    """Check Lemma 1, Lemma 2 and Theorem 1 on a battery of runs; exit 1 on any violation."""
    from xnas.pea.validate import run_battery

    check_seed_option(seed)  # the battery plays seeds seed, seed + 1, ... as 64-bit integers
    report = run_battery(quick=quick, seed=seed, progress=not as_json)
    if as_json:
        emit_json(report)
    else:
        _print_validate(report)
    if report["violations"]:
        sys.exit(1)


def _print_validate(report: dict) -> None:
    console = result_console()
    console.print(_table(
        f"Battery: {report['runs']} runs",
        ("group", "runs", "Lemma 1", "Lemma 2", "gamma_T <= N/|I_T|", "Theorem 1", "worst regret/bound"),
        [(g["group"], str(g["runs"]), str(g["lemma1_violations"]), str(g["lemma2_violations"]),
          str(g["lemma2_alive_violations"]), str(g["theorem1_violations"]), f"{g['worst_ratio']:.3f}")
         for g in report["groups"]]))
    for note in report["notes"]:
        console.print(note)
    guarantees = report["guarantees"]
    console.print(_table(
        f"Guarantees of other forecasters: {guarantees['runs']} runs (s = 2L)",
        ("forecaster", "runs", "violations", "worst regret/bound", "bound"),
        [(g["forecaster"], str(g["runs"]), str(g["violations"]), f"{g['worst_ratio']:.3f}", g["bound"])
         for g in guarantees["forecasters"]]))
    console.print(_table(
        "Findings when a premise is broken (not failures)",
        ("premise broken", "runs", "best expert wiped", "rate", "regret > bound"),
        [(f["case"], str(f["runs"]), str(f["best_wiped"]), f"{100 * f['best_wiped_rate']:.1f}%",
          str(f["bound_exceeded"])) for f in report["findings"]]))
    verdict = "OK: no violation" if not report["violations"] else f"FAILED: {report['violations']} violations"
    click.echo(f"{verdict} in {report['runs']} runs and {guarantees['runs']} guarantee runs; "
               f"worst regret/bound {report['worst_ratio']:.4f}")


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]):
    """A rich table: the first column names the row, the counts and ratios are right-aligned."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    table.add_column(columns[0])
    for col in columns[1:]:
        table.add_column(col, justify="left" if col == "bound" else "right")  # the bound is a formula
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))  # a formula's [...] is text, not rich markup
    return table


@main.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the registries as JSON.")
def list_cmd(as_json):
    """List the environments and forecasters with their parameters."""
    from xnas.pea import ENVIRONMENTS, FORECASTERS

    data = {
        "environments": {e.name: {"description": e.description, "params": dict(e.defaults)} for e in ENVIRONMENTS.values()},
        "forecasters": {f.name: {"description": f.description, "params": dict(f.defaults)} for f in FORECASTERS.values()},
    }
    if as_json:
        emit_json(data)
        return
    for kind, items in data.items():
        click.echo(f"{kind}:")
        for name, info in items.items():
            params = ", ".join(f"{k}={v:g}" for k, v in info["params"].items())
            click.echo(f"  {name:14s} {info['description']}" + (f" [{params}]" if params else ""))


add_commands(main, sim_figure)


if __name__ == "__main__":
    main()
