"""Lingshu: build, evaluate and serve medical multimodal language models."""

__version__ = "0.1.0"
