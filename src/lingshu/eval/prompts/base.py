"""A profile = versioned prompt templates + the scoring semantics that go with them.

``strict`` (default) never guesses; ``medevalkit`` reproduces MedEvalKit's prompts and
scoring so that published numbers can be compared. A profile's ``version`` is part of the
cache key and of every run's config.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from lingshu.core.registry import Registry
from lingshu.eval.types import Message, Sample, Verdict


class Profile(ABC):
    name: str
    version: str
    description: str

    @abstractmethod
    def build_messages(self, sample: Sample) -> list[Message]:
        """The chat messages sent to the model for ``sample``."""

    def categories(self, sample: Sample) -> dict[str, str]:
        """The breakdown keys recorded for ``sample`` (default: the benchmark's own). A
        profile that reproduces another tool may group as that tool does."""
        return dict(sample.categories)

    @abstractmethod
    def score(self, sample: Sample, response: str) -> Verdict:
        """Judge ``response`` against the sample's gold answer. Pure; never raises on text."""


PROFILES: Registry[type[Profile]] = Registry("profile")


def get_profile(name: str) -> Profile:
    import lingshu.eval.prompts  # noqa: F401  (registers every profile)

    return PROFILES.get(name)()
