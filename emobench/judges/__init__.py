"""The emotion-judge panel: several judges of different families score every image, so that "expresses the
emotion" can be told from "found what one judge likes". See docs/judges.md."""
from emobench.judges.base import PRIMARY, Judge, JudgePlugin, JudgeUnavailable, canonical_order, is_trained_against
from emobench.judges.registry import Panel, judge_plugins, load_panel

__all__ = ["Judge", "JudgePlugin", "JudgeUnavailable", "Panel", "PRIMARY", "canonical_order", "is_trained_against",
           "judge_plugins", "load_panel"]
