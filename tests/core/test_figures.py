import numpy as np
import pandas as pd
import pytest

from dnnfi.analysis import aggregate, figures, stats


@pytest.fixture
def drawn(monkeypatch):
    """Keep the figures instead of only writing them, to inspect what was drawn."""
    kept = []
    save = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, paths: (kept.append(fig), save(fig, paths)))
    return kept


def summary():
    return pd.DataFrame(
        {
            "dataset": "d",
            "model": ["m1", "m2"],
            "confidence": 0.95,
            "injections": [100, 200],
            "sdc_rate": [0.05, 0.02],
            "sdc_rate_lo": [0.02, 0.01],
            "sdc_rate_hi": [0.11, 0.05],
        }
    )


def test_sdc_rate_bars_and_error_bars_are_the_table_in_percent(tmp_path, drawn):
    paths = [tmp_path / "sdc.png", tmp_path / "sdc.pdf"]
    figures.sdc_rate(summary(), paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    ax = drawn[0].axes[0]
    assert np.allclose([p.get_height() for p in ax.patches], [5.0, 2.0])
    segments = ax.collections[0].get_segments()  # error bar lines, one per model
    assert np.allclose([(s[0][1], s[1][1]) for s in segments], [(2.0, 11.0), (1.0, 5.0)])
    assert ax.get_ylabel() == "SDC rate (% of injections)"
    assert [t.get_text() for t in ax.texts] == ["5.00%\nn=100", "2.00%\nn=200"]


def test_scm_probability_labels_counts_and_marks_scenarios_without_mispredictions(tmp_path, drawn):
    scm = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "scenario": ["fault_free", "fi_correct", "fi_misclassified"],
            "trials": [50, 100, 10],
            "mispredictions": [4, 10, 0],
            "scm": [1, 5, 0],
        }
    )
    scm = aggregate.with_interval(scm, "scm_probability", "scm", "mispredictions")
    figures.scm_probability(scm, [tmp_path / "scm.png"])
    ax = drawn[0].axes[0]
    assert np.allclose(
        [p.get_height() for p in ax.patches if not np.isnan(p.get_height())], [25.0, 50.0]
    )
    assert [t.get_text() for t in ax.texts] == ["1/4", "5/10", "none"]
    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert legend == ["fault-free", "FI, initially correct", "FI, initially misclassified"]


def test_rate_by_draws_sdc_and_scm_panels(tmp_path, drawn):
    injections = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "bit": [30, 30, 30, 2],
            "outcome": ["sdc", "sdc", "masked", "benign"],
            "sdc_top5": False,
            "scm": [True, False, False, False],
        }
    )
    table = aggregate.outcome_table(injections, ["dataset", "model", "bit"])
    figures.rate_by(table, "bit", "bit", [tmp_path / "bit.png"], "by bit")
    top, bottom = drawn[0].axes
    assert np.allclose(top.lines[0].get_ydata(), [0.0, 200 / 3])
    assert np.allclose(bottom.lines[0].get_ydata(), [0.0, 100 / 3])
    assert bottom.get_ylabel() == "SCM rate\n(% of injections)"


def test_weight_figures_show_frates_replicas_and_std_intervals(tmp_path, drawn):
    rows = [
        dict(
            dataset="d",
            model=m,
            frate=f,
            perturbation=p,
            replica=r,
            n_faults=int(f * 1000),
            top1_error=0.1 + f + 0.01 * r * (m == "b"),
            top5_error=0.0,
        )
        for m in ("a", "b")
        for f in (0.01, 0.02)
        for p in ("zero", "random")
        for r in range(3)
    ]
    rows += [
        dict(
            dataset="d",
            model=m,
            frate=0.0,
            perturbation="none",
            replica=0,
            n_faults=0,
            top1_error=0.05,
            top5_error=0.0,
        )
        for m in ("a", "b")
    ]
    replicas = pd.DataFrame(rows)
    figures.error_vs_frate(aggregate.weight_summary(replicas), [tmp_path / "f1.png"])
    ax = drawn[0].axes[0]
    # model a, random: mean error 11% and 12% at frates 1% and 2%; fault-free level 5% dotted
    assert np.allclose(ax.lines[0].get_ydata(), [11.0, 12.0])
    assert any(
        np.allclose(line.get_ydata(), [5.0, 5.0]) and line.get_linestyle() == ":"
        for line in ax.lines
    )
    figures.replica_boxplots(replicas, [tmp_path / "f2.png"])
    assert [a.get_title() for a in drawn[1].axes] == ["perturbation: random", "perturbation: zero"]
    intervals = stats.std_intervals(replicas[replicas["frate"] > 0])
    figures.std_intervals(intervals, [tmp_path / "f3.png"])
    assert "95% simultaneous" in drawn[2].get_suptitle()
    labels = [t.get_text() for t in drawn[2].axes[0].get_yticklabels()]
    assert labels == ["b, 0.02", "b, 0.01", "a, 0.02", "a, 0.01"]


def test_bit_sweep_panels_per_model_and_scenario_with_the_table_in_percent(tmp_path, drawn):
    from dnnfi.designs.bit_sweep import sweep_table

    points, bits = 20, 16
    outcome = np.where(np.tile(np.arange(bits), points) >= 14, "sdc", "masked")
    outcome[::7] = "due"
    injections = pd.DataFrame(
        {
            "dataset": "d",
            "model": "m",
            "point": np.repeat(np.arange(points), bits),
            "bit": np.tile(np.arange(bits), points),
            "outcome": outcome,
            "sdc_top5": False,
            "scm": False,
            "scenario": np.repeat(["fi_correct", "fi_misclassified_scm"] * 10, bits),
        }
    )
    sweep_table(injections).to_csv(tmp_path / "bit_sweep.csv", index=False)
    table = pd.read_csv(tmp_path / "bit_sweep.csv")  # as the figure job reads it
    paths = [tmp_path / "sweep.png", tmp_path / "sweep.pdf"]
    figures.bit_sweep(table, paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    axes = [ax for ax in drawn[0].axes if ax.get_visible() and ax.get_title()]
    assert len(axes) == 3 and "FI, all images (20 points)" in axes[0].get_title()
    sdc = axes[0].lines[0].get_ydata()  # the SDC markers of panel "all", in percent
    rows = table[(table["scenario"] == "all") & (table["bit"].astype(str) != "all")]
    assert np.allclose(sdc, rows["sdc_rate"] * 100)


def test_stratified_bars_are_the_weighted_estimates_labelled_with_injections_and_half_width(
    tmp_path, drawn
):
    from dnnfi.designs.stratified import stratified_table

    def rounds(
        sdc: int, scm: int
    ) -> pd.DataFrame:  # a pilot of 100 and one round of 400 over two strata
        outcome = ["sdc"] * sdc + ["masked"] * (400 - sdc)
        return pd.DataFrame(
            {
                "round": [0] * 100 + [1] * 400,
                "stratum": np.tile([0, 1], 250),
                "outcome": ["masked"] * 100 + outcome,
                "sdc_top5": False,
                "scm": [False] * 100 + [True] * scm + [False] * (400 - scm),
            }
        )

    injections = pd.concat(
        [rounds(40, 10).assign(model="m1"), rounds(0, 0).assign(model="m2")], ignore_index=True
    )
    injections = injections.assign(dataset="d", population="all")
    strata = {("d", m, "all"): pd.DataFrame({"weight": [0.5, 0.5]}) for m in ("m1", "m2")}
    spec = {
        "stratified": {"strata": "bit", "target": "sdc_rate"},
        "margin": 0.02,
        "confidence": 0.95,
    }
    correct = {("d", m): np.ones(20, bool) for m in ("m1", "m2")}
    stratified_table(injections, strata, spec, correct).to_csv(
        tmp_path / "stratified.csv", index=False
    )
    table = pd.read_csv(tmp_path / "stratified.csv")  # as the figure job reads it
    assert np.isnan(table.loc[1, "scm_probability"])  # m2: no SDC, no SCM share to take
    paths = [tmp_path / "stratified.png", tmp_path / "stratified.pdf"]
    figures.stratified(table, paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    fig = drawn[0]
    assert (
        "bit strata (2 of positive weight), target sdc_rate to ±2 pp, 95% intervals"
        in fig._suptitle.get_text()
    )
    sdc, scm = fig.axes[:2]
    assert sdc.get_title() == "SDC rate (target)" and scm.get_title() == "SCM probability"
    assert np.allclose([p.get_height() for p in sdc.patches], table["sdc_rate"] * 100)  # 10% and 0%
    assert np.allclose(
        [p.get_height() for p in scm.patches], [25.0, 0.0]
    )  # m2's NaN drawn as no bar
    assert [t.get_text() for t in sdc.texts] == [
        f"n=500, ±{100 * m:.2g}" for m in table["sdc_rate_margin"]
    ]
    assert scm.texts[1].get_text() == "n/a, n=500"
    assert any("n/a: no estimate" in t.get_text() for t in fig.texts)
    segments = scm.collections[0].get_segments()  # one error bar: m1's
    assert np.allclose(
        [(s[0][1], s[1][1]) for s in segments],
        [(100 * table.loc[0, "scm_probability_lo"], 100 * table.loc[0, "scm_probability_hi"])],
    )
