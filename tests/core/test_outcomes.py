import numpy as np
import pandas as pd

from dnnfi.faults.outcomes import baseline_table, classify, error_rates, summarize_logits


def test_outcome_classes_on_hand_built_logits():
    golden = np.array([[3.0, 1, 0, 0, 0, 0, 0]] * 5, dtype=np.float32)
    faulty = golden.copy()
    faulty[1, 1] = 2.0  # same top-1, changed logits: benign
    faulty[2, 1] = 9.0  # top-1 moves to class 1, golden class 0 still in top-5: sdc
    faulty[3, 0] = np.nan  # due
    faulty[4, 0] = -9.0  # class 0 drops to rank 7: sdc and sdc_top5
    out = classify(summarize_logits(golden, faulty))
    assert out["outcome"].tolist() == ["masked", "benign", "sdc", "due", "sdc"]
    assert out["sdc_top5"].tolist() == [False, False, False, False, True]
    assert out["faulty_top1"].tolist()[:3] == [0, 0, 1]


def test_negative_zero_is_not_masked_but_benign():
    golden = np.array([[0.0, 1.0]], dtype=np.float32)
    faulty = np.array([[-0.0, 1.0]], dtype=np.float32)
    assert classify(summarize_logits(golden, faulty))["outcome"].tolist() == ["benign"]


def test_baseline_and_error_rates():
    logits = np.array([[0.1, 0.9, 0, 0, 0, 0], [0.8, 0.1, 0, 0, 0, 0], [-1, 0, 0, 0, 0, 1]])
    labels = np.array([1, 1, 0])
    table = baseline_table(logits, labels)
    assert table["correct"].tolist() == [True, False, False]
    assert table["top5_correct"].tolist() == [True, True, False]
    top1, top5 = error_rates(np.stack(table["golden_top5"]), labels)
    assert top1 == 2 / 3 and top5 == 1 / 3
    assert isinstance(table, pd.DataFrame) and np.isclose(
        table["confidence"][0], np.exp(0.9) / (np.exp(0.9) + np.exp(0.1) + 4)
    )


def test_an_empty_fault_list_gives_an_empty_table():
    table = classify(summarize_logits(np.zeros((0, 10), np.float32), np.zeros((0, 10), np.float32)))
    assert len(table) == 0 and {"outcome", "sdc_top5", "identical"} <= set(table.columns)
