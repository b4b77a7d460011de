"""Terminal tables: one aligned layout shared by the probes' tables and the summaries."""

from __future__ import annotations

import re

from hjepa.demo import print_summary
from hjepa.eval import plan_summary, pusht_probe, risk_probe
from hjepa.eval.protocol import Protocol
from hjepa.eval.report import format_table


def columns(text: str) -> list[list[str]]:
    """Cells of each line of a table, split where two or more spaces separate them."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


def test_columns_are_as_wide_as_their_widest_cell():
    text = format_table([("a", 1.5), ("long name", 10)], ["name", "value"])
    assert text.splitlines() == ["name       value", "a            1.5", "long name     10"]
    assert format_table({"k": 1, "longer": [1, 2]}.items(), left=2).splitlines() == ["k       1", "longer  [1, 2]"]
    assert format_table([]) == ""


def test_plan_table_has_the_interval_the_radii_and_the_timings(capsys):
    row = {
        "success": 0.75,
        "success_ci": (0.4, 0.93),
        "steps": 31.5,
        "ms_per_step": 12.34,
        "ms_per_episode": 388.1,
        "ever_r0.05": 0.75,
        "end_r0.05": 0.5,
        "ever_r0.1": 1.0,
        "end_r0.1": 0.875,
        "final_distance_median": 0.0412,
    }
    protocol = Protocol(radii=(0.05, 0.1))
    plan_summary.print_table({"hierarchical": row, "random": row | {"steps": None}}, protocol)
    assert columns(capsys.readouterr().out) == [
        ["actor", "success [95% CI]", "ever/end r0.05", "ever/end r0.1", "final d", "steps", "ms/step", "ms/episode"],
        ["hierarchical", "0.75 [0.40, 0.93]", "0.75/0.50", "1.00/0.88", "0.0412", "31.5", "12.34", "388.1"],
        ["random", "0.75 [0.40, 0.93]", "0.75/0.50", "1.00/0.88", "0.0412", "None", "12.34", "388.1"],
    ]
    timed = {k: row[k] for k in ("success", "success_ci", "steps", "ms_per_step", "ms_per_episode")}
    plan_summary.print_table({"agent": timed}, protocol)  # an environment without distances: no radius columns
    assert columns(capsys.readouterr().out) == [
        ["actor", "success [95% CI]", "final d", "steps", "ms/step", "ms/episode"],
        ["agent", "0.75 [0.40, 0.93]", "31.5", "12.34", "388.1"],  # final d left blank
    ]


def test_pusht_table_shows_each_measure_from_start_to_end(capsys):
    row = {
        "success": 0.25,
        "coverage_start": 0.1,
        "coverage_end": 0.4567,
        "block_distance_start": 0.3,
        "block_distance_end": 0.12,
        "agent_distance_start": 0.5,
        "agent_distance_end": 0.01,
        "ms_per_step": 25.3,
    }
    pusht_probe.print_table({"agent": row})
    assert columns(capsys.readouterr().out) == [
        [
            "actor",
            "success",
            "coverage start->end",
            "block_distance start->end",
            "agent_distance start->end",
            "ms/step",
        ],
        ["agent", "0.25", "0.100 -> 0.457", "0.300 -> 0.120", "0.500 -> 0.010", "25.3"],
    ]


def test_risk_table_has_one_row_per_risk(capsys):
    rows = [
        {"risk": r, "collision": 0.35, "success": 0.6, "offset": 0.012, "spread": 0.0031, "ms_per_step": 8.1}
        for r in (0.0, 2.0)
    ]
    risk_probe.print_table(rows)
    assert columns(capsys.readouterr().out) == [
        ["risk", "collision", "success", "offset", "spread", "ms/step"],
        ["0.0", "0.35", "0.6", "0.012", "0.0031", "8.1"],
        ["2.0", "0.35", "0.6", "0.012", "0.0031", "8.1"],
    ]


def test_summary_is_keys_and_values_between_rules(capsys):
    print_summary({"pretrain_loss": 0.123, "plan_success": 0.75})
    rule = "-" * 37
    assert capsys.readouterr().out == f"\n{rule}\npretrain_loss  0.123\nplan_success   0.75\n{rule}\n"
