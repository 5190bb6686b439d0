"""EvalConfig (issue 20 item 5): the one place the evaluation defaults are typed; the CLI options and the task
runners take theirs from it."""
from __future__ import annotations

import argparse
import dataclasses
import inspect

import pytest

from speechdis.config import load_config
from speechdis.errors import ConfigError
from speechdis.eval.config import EVAL_DEFAULTS, EvalConfig
from speechdis.eval.detection import KwsOptions
from speechdis.eval.runner import run_all, run_plots, run_probes, run_speaker
from speechdis.eval.tasks.std import StdOptions


def _evaluate_parsers() -> dict[str, argparse.ArgumentParser]:
    from speechdis.cli import evaluate

    p = argparse.ArgumentParser()
    evaluate.register(p.add_subparsers())
    sub = next(a for a in p._subparsers._group_actions[0].choices["evaluate"]._actions
               if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_cli_option_named_like_a_field_defaults_to_it():
    fields = {f.name for f in dataclasses.fields(EvalConfig)}
    checked = set()
    for name, sp in _evaluate_parsers().items():
        for a in sp._actions:
            if a.dest in fields:
                assert a.default == getattr(EVAL_DEFAULTS, a.dest), (name, a.dest)
                checked.add(a.dest)
    assert checked == fields - {"k"}  # every field but P@k is an option


def test_the_runners_take_their_defaults_from_it():
    d = EVAL_DEFAULTS
    assert StdOptions() == StdOptions(dtw_budget=d.dtw_budget, dtw_max_pairs=d.dtw_max_pairs,
                                      min_occurrences=d.min_occurrences, k=d.k, max_same_diff=d.max_same_diff)
    assert (KwsOptions().threshold, KwsOptions().dtw_budget) == (d.threshold, d.dtw_budget)
    sig = {f: inspect.signature(f).parameters for f in (run_all, run_speaker, run_probes, run_plots)}
    assert sig[run_speaker]["n_trials"].default == d.trials and sig[run_all]["config"].default is EVAL_DEFAULTS
    assert sig[run_probes]["test_size"].default == d.test_size
    assert sig[run_plots]["max_points"].default == d.tsne_points
    # run_all's STD settings are the config's (a DTW budget of 0 = unlimited)
    assert StdOptions.from_config(d) == StdOptions()
    assert StdOptions.from_config(dataclasses.replace(d, dtw_budget=0.0, k=5), dtw=True) == \
        StdOptions(dtw=True, dtw_budget=None, k=5)


def test_it_loads_from_yaml_strictly(tmp_path):
    f = tmp_path / "eval.yaml"
    f.write_text("trials: 200\ntest_size: 0.5\n")
    assert load_config(EvalConfig, f) == dataclasses.replace(EVAL_DEFAULTS, trials=200, test_size=0.5)
    f.write_text("trails: 200\n")
    with pytest.raises(ConfigError, match="unknown config key 'trails'"):
        load_config(EvalConfig, f)


@pytest.mark.parametrize("kwargs,key", [({"trials": 0}, "trials"), ({"test_size": 1.0}, "test_size"),
                                        ({"min_occurrences": 1}, "min_occurrences"), ({"hop": 0.0}, "hop"),
                                        ({"max_queries_per_word": 0}, "max_queries_per_word")])
def test_out_of_range_values_are_config_errors(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        EvalConfig(**kwargs)
