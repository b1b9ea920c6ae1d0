"""Study definitions shared by the generator and the analysis."""

from __future__ import annotations

#: The three drug classes of the study.
CLASSES = ("anxiolytics", "hypnotics", "antidepressants")
#: ATC groups of the three classes (standard groups; the paper's exact list is not published).
CLASS_ATC = {"anxiolytics": "N05B", "hypnotics": "N05C", "antidepressants": "N06A"}
#: Mutually exclusive windows by the time of first qualifying use before the index date.
WINDOWS = ("0_1", "1_5", "gt5")
WINDOW_LABELS = {"never": "never", "0_1": "0-1 y", "1_5": "1-5 y", "gt5": ">5 y"}
#: Integer codes of the exposure category per class.
CATEGORY_CODES = {"never": 0, "0_1": 1, "1_5": 2, "gt5": 3}
