"""``mine``: prompt engineering. The plan's emotion word is expanded into emotion-typical content."""
from dataclasses import dataclass

from emobench.api import GenerationResult, Method
from emobench.sampling import sample

CONTENT = {"amusement": "balloons and gifts", "awe": "a mountain under a night sky", "contentment": "a quiet beach",
           "excitement": "a fire on a city street", "anger": "an angry face", "disgust": "trash bags in a room",
           "fear": "a spider in a graveyard", "sadness": "a tear drop in the desert"}


@dataclass(frozen=True)
class MineConfig:
    emotion_text: str = "{emotion}, {content}"  # replaces {emotion} in the plan's template


class EmotionPromptMethod(Method):
    name, Config = "mine", MineConfig
    reduces_to_baseline = {"emotion_text": "{emotion}"}  # then exactly `sd`: the kit checks it byte for byte

    def load(self, zoo, artifact_dir) -> None:
        self.zoo = zoo

    def generate(self, requests) -> GenerationResult:
        texts = [self.config.emotion_text.format(emotion=r.cell.emotion, content=CONTENT[r.cell.emotion])
                 for r in requests]
        prompts = [r.cell.prompt(t) for r, t in zip(requests, texts)]
        return GenerationResult(sample(self.zoo, requests, prompt=prompts), prompts)
