"""Prompt and scoring profiles, registered by name in ``PROFILES``.

``strict`` (default) never guesses; ``medevalkit`` (and ``medevalkit-reasoning``) reproduce
MedEvalKit's prompts and scoring so published numbers can be compared. Wording lives in
``templates``.
"""

from lingshu.eval.prompts import medevalkit, strict  # noqa: F401  (importing registers)
from lingshu.eval.prompts.base import PROFILES, Profile, get_profile

__all__ = ["PROFILES", "Profile", "get_profile"]
