"""The benchmark's command line refuses an unknown method before it trains anything."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("flag", ["--method", "--methods"])
def test_an_unknown_method_is_refused_at_once_and_the_known_ones_named(flag, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "unlearning.py"), "sweep", flag, "evidenc",
                          "--data", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "invalid choice: 'evidenc'" in run.stderr and "'blank'" in run.stderr and "'neggrad'" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("flag, value, words", [("--retain-tolerance", "1.5", "not a fraction between 0 and 1"),
                                                ("--retain-tolerance", "-0.1", "not a fraction between 0 and 1"),
                                                ("--evidence-margin", "-0.1", "not a margin >= 0")])
def test_a_margin_or_tolerance_out_of_range_is_refused_at_once(flag, value, words, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "unlearning.py"), "sweep", flag,
                          value, "--data", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert words in run.stderr and "Traceback" not in run.stderr


def test_the_distinct_digits_check_imports_and_explains_itself():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "distinct_digits.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "3,600 distinct digits of *every* class" in run.stdout and "--mnist-dir" in run.stdout


@pytest.mark.parametrize("script", ["layouts.py", "distinct_digits.py"])
def test_a_missing_mnist_folder_is_named_with_the_flag_that_fixes_it(script, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--mnist-dir", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 1
    assert "pass --mnist-dir" in run.stderr and "Traceback" not in run.stderr
    assert not any(tmp_path.iterdir()), "nothing is written when the input is missing"


def sweep_file(path, sets, scale="layout-60k", worst=0.08):
    """A sweep result file as unlearning.py writes it, with one row per set (the last set the worst)."""
    import json

    keys = ("true", "any", "indep_true", "indep_any", "ratio", "d_retain", "max_check", "time_ratio", "steps")
    rows = [{"set": s, "reverts": 0, **{k: 0.01 * (i + 1) for k in keys}} for i, s in enumerate(sets)]
    rows[-1]["indep_true"] = worst
    path.write_text(json.dumps({"args": {"command": "sweep", "scale": scale, "seed": 0}, "result": {"rows": rows}}))
    return path


def test_sweeps_run_in_parts_combine_into_one_median_and_worst(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from combine_sweeps import combine

    rows, stats = combine([sweep_file(tmp_path / "a.json", ["0", "1", "2"]),
                           sweep_file(tmp_path / "b.json", ["03", "0369"], worst=0.2)])
    assert [r["set"] for r in rows] == ["0", "1", "2", "03", "0369"]
    assert stats["indep_true"][1:] == (0.2, "0369")
    assert stats["ratio"][0] == 0.02  # the median of 0.01 0.02 0.03 and 0.01 0.02 together
    with pytest.raises(SystemExit, match="differs .* in scale"):
        combine([tmp_path / "a.json", sweep_file(tmp_path / "c.json", ["4"], scale="t10k-8k")])
    with pytest.raises(SystemExit, match="forget set 1 is in more than one file"):
        combine([tmp_path / "a.json", sweep_file(tmp_path / "d.json", ["1"])])


def test_another_methods_sweep_is_compared_set_by_set_on_forgetting_and_retained_cost(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from combine_sweeps import versus

    mine = [{"set": "0", "true": 0.02, "indep_true": 0.05, "ratio": 1.08},
            {"set": "1", "true": 0.01, "indep_true": 0.01, "ratio": 1.05},
            {"set": "2", "true": 0.00, "indep_true": 0.00, "ratio": 1.02}]
    other = [{"set": "0", "true": 0.40, "indep_true": 0.055, "ratio": 1.01},  # ties by one judge only
             {"set": "1", "true": 0.015, "indep_true": 0.00, "ratio": 1.04},  # ties by both
             {"set": "2", "true": 0.00, "indep_true": 0.00, "ratio": 1.03},  # forgets as well, costs more
             {"set": "9", "true": 0.00, "indep_true": 0.00, "ratio": 0.90}]  # not in the first sweep
    ties = versus(mine, other)
    assert ties == {"shared": ["0", "1", "2"], "true": ["1"], "indep_true": ["0", "1"], "both judges": ["1"]}
    with pytest.raises(SystemExit, match="share no forget set"):
        versus(mine, other[3:])


def test_versus_refuses_a_sweep_of_another_scale(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "combine_sweeps.py"),
                          str(sweep_file(tmp_path / "a.json", ["0", "1"])), "--versus",
                          str(sweep_file(tmp_path / "b.json", ["0", "1"], scale="t10k-8k"))],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "differ from" in run.stderr and "in scale" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("bad", ["0123456789", "33", "nine"])
def test_the_step_timer_refuses_a_forget_set_it_cannot_time_before_any_training(bad, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "step_time.py"), "--set", bad,
                          "--data", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "--set takes distinct digits" in run.stderr and "Traceback" not in run.stderr
